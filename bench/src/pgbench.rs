//! The yardstick: pgbench's TPC-B on the same server, in the same run, so decided-per-second
//! can be read as a fraction of what this machine's PostgreSQL does with simple transactions.
//! It runs twice with the same settings, before the load (on an idle server) and after it (the
//! system stopped): one run after a heavy load is a noisy denominator (1,215 to 5,304 tps have
//! been seen on the same machine), so the rates are divided by the mean of the two.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::process::Command;

use crate::cli::Common;
use crate::report::Report;
use crate::setup;

/// A scratch database for pgbench's tables, dropped afterwards.
const SCRATCH_DATABASE: &str = "boxoffice_pgbench";
/// Scale 10 is 1,000,000 accounts: about 150 MB, loaded in seconds.
const SCALE: &str = "10";
const CLIENTS: &str = "16";
const THREADS: &str = "2";

/// The rates a scenario may report.
const RATES: &[&str] = &[
    "accepted_per_sec",
    "decided_per_sec",
    "waitlist_joins_per_sec",
    "confirms_per_sec",
    "lookups_per_sec",
    "lookups_line_100_per_sec",
    "lookups_line_100000_per_sec",
    "offer_confirms_per_sec",
    "joins_per_sec",
    "answers_per_sec",
];

/// Adds both pgbench runs, their mean and every rate of the run as a ratio of that mean to the
/// report. A pgbench run that failed fails the bench (`--skip-pgbench` leaves pgbench out); the
/// figures already measured are still printed, with the ratio to the run that worked if one did.
pub fn compare(report: &mut Report, before: anyhow::Result<f64>, after: anyhow::Result<f64>) {
    let mut runs = Vec::new();
    for (when, result) in [("before", before), ("after", after)] {
        match result {
            Ok(tps) => {
                report.float(&format!("pgbench_tps_{when}"), tps, 1);
                runs.push(tps);
            }
            Err(e) => {
                report.text(&format!("pgbench_tps_{when}"), "failed");
                report.fail(format!("pgbench {when} the load failed: {e:#} (--skip-pgbench to leave it out)"));
            }
        }
    }
    if runs.is_empty() {
        return;
    }
    let tps = runs.iter().sum::<f64>() / runs.len() as f64;
    report.float("pgbench_tps", tps, 1);
    // every rate of the run, as a ratio: a figure that means something on any machine
    for rate in RATES {
        if let Some(value) = report.number(rate) {
            report.float(&format!("{rate}_over_pgbench_tps"), value / tps, 3);
        }
    }
}

/// One pgbench run (initialized afresh, so both runs start alike): its tps.
pub async fn tps(common: &Common, seconds: u32, when: &str) -> anyhow::Result<f64> {
    note!("pgbench {when} the load");
    let tps = run_once(common, seconds).await;
    match &tps {
        Ok(tps) => note!("pgbench {when} the load: {tps:.1} tps"),
        Err(e) => note!("pgbench {when} the load failed: {e:#}"),
    }
    tps
}

async fn run_once(common: &Common, seconds: u32) -> anyhow::Result<f64> {
    let pgbench = locate().context("pgbench is not installed (looked in /usr/lib/postgresql/*/bin and PATH)")?;
    let server = setup::loopback_url(&common.database_url)?;
    let mut scratch = server.clone();
    scratch.set_path(SCRATCH_DATABASE);
    // loopback: no TLS, as for the system under test (see setup.rs)
    if !scratch.query().unwrap_or("").contains("sslmode") {
        scratch.query_pairs_mut().append_pair("sslmode", "disable");
    }
    let admin = setup::connect(server.as_str(), 1).await?;
    setup::drop_database(&admin, SCRATCH_DATABASE).await?;
    setup::create_database(&admin, SCRATCH_DATABASE).await?;
    // libpq tools take a connection URI where they take a database name
    let result = async {
        note!("pgbench -i -s {SCALE}");
        run(&pgbench, &["-i", "-s", SCALE, "-q", scratch.as_str()], Duration::from_secs(300)).await?;
        note!("pgbench -c {CLIENTS} -j {THREADS} -T {seconds}");
        let t = seconds.to_string();
        let limit = Duration::from_secs(u64::from(seconds) + 120);
        let out = run(&pgbench, &["-c", CLIENTS, "-j", THREADS, "-T", &t, scratch.as_str()], limit).await?;
        parse_tps(&out).with_context(|| format!("no `tps = ` line in pgbench's output:\n{out}"))
    }
    .await;
    let dropped = setup::drop_database(&admin, SCRATCH_DATABASE).await;
    admin.close().await;
    let tps = result?;
    dropped?;
    Ok(tps)
}

/// The newest PostgreSQL's pgbench under /usr/lib/postgresql (Debian's layout), else PATH.
fn locate() -> Option<PathBuf> {
    if let Some(bin) = newest_bin(&["pgbench"]) {
        return Some(bin.join("pgbench"));
    }
    std::env::split_paths(&std::env::var_os("PATH")?).map(|dir| dir.join("pgbench")).find(|p| p.is_file())
}

/// The `bin` directory of the newest PostgreSQL under /usr/lib/postgresql (Debian's layout) that
/// has all of `programs`.
pub fn newest_bin(programs: &[&str]) -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            programs.iter().all(|p| bin.join(p).is_file()).then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

async fn run(pgbench: &PathBuf, args: &[&str], limit: Duration) -> anyhow::Result<String> {
    let child = Command::new(pgbench)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", pgbench.display()))?;
    let output = tokio::time::timeout(limit, child.wait_with_output())
        .await
        .with_context(|| format!("pgbench took more than {limit:?}"))??;
    if !output.status.success() {
        bail!("pgbench failed ({}): {}", output.status, String::from_utf8_lossy(&output.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// `tps = 1234.567890 (without initial connection time)`; older versions print two such lines,
/// the last one excluding connection time, which is the one wanted.
fn parse_tps(output: &str) -> Option<f64> {
    output
        .lines()
        .filter_map(|l| l.trim().strip_prefix("tps = "))
        .filter_map(|rest| rest.split(' ').next()?.parse().ok())
        .next_back()
}

#[cfg(test)]
mod tests {
    use super::parse_tps;

    #[test]
    fn the_tps_without_connection_time_is_read() {
        let v15 = "number of failed transactions: 0 (0.000%)\nlatency average = 12.9 ms\n\
                   initial connection time = 8.1 ms\ntps = 1234.567890 (without initial connection time)\n";
        assert_eq!(parse_tps(v15), Some(1234.56789));
        let v13 =
            "tps = 900.1 (including connections establishing)\ntps = 950.5 (excluding connections establishing)\n";
        assert_eq!(parse_tps(v13), Some(950.5));
        assert_eq!(parse_tps("no figures here"), None);
    }
}
