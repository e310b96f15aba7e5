//! `bench`: the load generator for boxoffice.
//!
//! One command starts the system (API, reservation workers, scheduler) on a fresh database, drives
//! it over real HTTP on loopback, checks the invariants from SQL afterwards and prints its figures:
//!
//! - `bench onsale`: buyers rush one inventory item; accept and decision rates and latencies, zero
//!   oversell, no under-selling, FIFO order, and pgbench's TPS on the same machine as the
//!   yardstick. `--wait 5`: the buyer who waits for the decision before the next one comes.
//! - `bench expiry`: one-minute holds; how late they expire.
//! - `bench waitlist`: lapsing holds and offers on a sold-out item; how late the next offer comes.
//! - `bench seated`: best-available in a hall of 5,000 seats; FIFO and lonely seats replayed.
//! - `bench queue`: 100,000 people through a virtual queue; the draw, the rate, the stop at sell-out.
//! - `bench baskets`: orders of 1-3 lines over two shared pools; partial orders, oversell per pool,
//!   arrival order replayed, tickets per line.
//! - `bench stream`: the on-sale with 10,000 availability and 1,000 seat map subscribers on the
//!   API; delivery delay, events per subscriber, their last states against SQL, the cost.
//!
//! Build the system first (`cargo build --release --bins`): the bench runs the binaries next to its
//! own executable unless `--bin-dir` says otherwise. `--profile` runs on a private PostgreSQL with
//! `pg_stat_statements` and prints the top statements and the WAL per decided reservation.
//! Exit status: 0 when the run was right (`result: ok`: every invariant held, no 5xx, no request
//! unanswered, pgbench ran), 1 when something was not, 2 when the run itself failed.

/// A progress line on stderr, stamped with the seconds since the bench started, so a slow phase
/// shows where the time went. stdout is kept for the report.
macro_rules! note {
    ($($arg:tt)*) => {
        eprintln!("bench [{:6.1}s]: {}", $crate::started().elapsed().as_secs_f64(), format_args!($($arg)*))
    };
}

mod baskets;
mod catalog;
mod checks;
mod cli;
mod drive;
mod expiry;
mod ha;
mod hall;
mod load;
mod onsale;
mod onsale_full;
mod pgbench;
mod private_pg;
mod profile;
mod queue;
mod received;
mod report;
mod seated;
mod setup;
mod stream;
mod system;
mod undersell;
mod waitlist;

use std::process::ExitCode;
use std::sync::OnceLock;
use std::time::Instant;

use clap::Parser;

use crate::cli::{Cli, Scenario};
use crate::report::Report;

/// When the bench started, for [`note!`].
fn started() -> Instant {
    static STARTED: OnceLock<Instant> = OnceLock::new();
    *STARTED.get_or_init(Instant::now)
}

fn main() -> ExitCode {
    started();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("bench: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let json = cli.common().json;
    match runtime.block_on(run(cli)) {
        Ok(report) => {
            if json {
                println!("{}", report.to_json());
            } else {
                print!("{report}");
            }
            let failures = report.failures();
            for failure in failures {
                eprintln!("FAILED: {failure}");
            }
            if failures.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) }
        }
        Err(e) => {
            eprintln!("bench: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Runs one scenario from setup to teardown, on a private PostgreSQL with `--profile`. Whatever
/// happens in between, the spawned processes are stopped, the bench database is dropped (unless
/// `--keep`) and the private server is stopped and removed before this returns.
async fn run(cli: Cli) -> anyhow::Result<Report> {
    let mut common = cli.common().clone();
    if let Scenario::Stream(_) = cli.scenario {
        // 11,000 subscribers from one address stand for as many buyers' browsers
        common.api_env = vec![("RATE_LIMIT_PER_IP", "off")];
    }
    let server = match common.profile {
        true => Some(interruptible(private_pg::PrivateServer::start(&common.database_url)).await??),
        false => None,
    };
    if let Some(server) = &server {
        common.database_url = server.admin_url();
    }
    let cluster = match common.ha {
        true => Some(ha::Cluster::up()?),
        false => None,
    };
    if let Some(cluster) = &cluster {
        common.database_url = cluster.admin_url();
    }
    let outcome = run_on(&cli, &common).await;
    drop(cluster);
    if let Some(server) = server {
        server.stop();
    }
    outcome
}

async fn run_on(cli: &Cli, common: &cli::Common) -> anyhow::Result<Report> {
    let pgbench_seconds = match &cli.scenario {
        Scenario::Onsale(args) if !args.skip_pgbench => Some(args.pgbench_seconds),
        Scenario::OnsaleFull(args) if !args.skip_pgbench => Some(args.pgbench_seconds),
        Scenario::Seated(args) if !args.skip_pgbench => Some(args.pgbench_seconds),
        Scenario::Queue(args) if !args.skip_pgbench => Some(args.pgbench_seconds),
        Scenario::Baskets(args) if !args.skip_pgbench => Some(args.pgbench_seconds),
        _ => None,
    };
    // before the system starts, so nothing but pgbench runs on the server
    let before = match pgbench_seconds {
        Some(seconds) => Some(interruptible(pgbench::tps(common, seconds, "before")).await?),
        None => None,
    };
    let mut env = setup::Environment::prepare(common).await?;
    // Ctrl-C must not leave servers and a database behind: it ends the scenario like an error.
    let outcome = interruptible(profiled_scenario(cli, common, &mut env)).await.and_then(|outcome| outcome);
    note!("stopping the system");
    let teardown = env.teardown().await;
    let (mut report, profile) = outcome?;
    for (name, kib) in teardown {
        report.mib(&format!("peak_rss_{}_mib", name.replace('-', "_")), kib);
    }
    report.mib("peak_rss_bench_mib", system::peak_rss_kib(None));
    if let (Some(seconds), Some(before)) = (pgbench_seconds, before) {
        // after the system is stopped, so idle workers polling the queue do not slow pgbench down
        let after = interruptible(pgbench::tps(common, seconds, "after")).await?;
        pgbench::compare(&mut report, before, after);
    }
    if let Some(profile) = profile {
        profile.report(&mut report);
    }
    Ok(report)
}

/// The scenario, and with `--profile` its profile: the scenario's own window if it marked one,
/// else the whole scenario.
async fn profiled_scenario(
    cli: &Cli,
    common: &cli::Common,
    env: &mut setup::Environment,
) -> anyhow::Result<(Report, Option<profile::Profile>)> {
    if common.profile {
        let mut profiler = profile::Profiler::connect(&common.database_url).await?;
        profiler.begin("scenario").await?;
        env.profiler = Some(profiler);
    }
    let report = run_scenario(cli, env).await?;
    let profile = match env.profiler.take() {
        Some(profiler) => Some(profiler.finish(&env.pool).await?),
        None => None,
    };
    Ok((report, profile))
}

/// `work`, unless Ctrl-C comes first: then an error, so the caller cleans up on its way out.
async fn interruptible<T>(work: impl std::future::Future<Output = T>) -> anyhow::Result<T> {
    tokio::select! {
        done = work => Ok(done),
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
    }
}

async fn run_scenario(cli: &Cli, env: &mut setup::Environment) -> anyhow::Result<Report> {
    match &cli.scenario {
        Scenario::Onsale(args) => onsale::run(env, args).await,
        Scenario::Expiry(args) => expiry::run(env, args).await,
        Scenario::Waitlist(args) => waitlist::run(env, args).await,
        Scenario::OnsaleFull(args) => onsale_full::run(env, args).await,
        Scenario::Seated(args) => seated::run(env, args).await,
        Scenario::Queue(args) => queue::run(env, args).await,
        Scenario::Baskets(args) => baskets::run(env, args).await,
        Scenario::Stream(args) => stream::run(env, args).await,
    }
}
