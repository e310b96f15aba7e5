//! The processes of the system under test: finding the binaries, running one-shot commands,
//! starting the long-running ones and stopping them cleanly (SIGTERM, then SIGKILL), whatever
//! path the bench takes out.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::process::{Child, Command};

/// How long a process gets to exit after SIGTERM before it is killed: the API drains in-flight
/// requests for up to 10 s by default, so a little more than that.
const GRACE: Duration = Duration::from_secs(12);
/// One-shot commands (migrate, keys create) finish in seconds; a minute means something is stuck.
const ONE_SHOT_TIMEOUT: Duration = Duration::from_secs(60);

/// Where the system's executables are.
pub struct Binaries {
    dir: PathBuf,
}

impl Binaries {
    /// `--bin-dir`, or the directory of this executable: `cargo run --release -p bench` runs from
    /// `target/release`, where `cargo build --release --bins` put the system's binaries.
    pub fn locate(bin_dir: Option<&Path>) -> anyhow::Result<Self> {
        let dir = match bin_dir {
            Some(dir) => dir.to_path_buf(),
            None => {
                let exe = std::env::current_exe().context("finding the bench's own executable")?;
                exe.parent().context("the bench's executable has no directory")?.to_path_buf()
            }
        };
        Ok(Binaries { dir })
    }

    pub fn path(&self, name: &str) -> anyhow::Result<PathBuf> {
        let path = self.dir.join(name);
        if !path.is_file() {
            bail!("{} does not exist: run `cargo build --release --bins` first, or pass --bin-dir", path.display());
        }
        Ok(path)
    }
}

/// Runs `bin args...` against `database_url` and returns its standard output.
pub async fn run_once(bin: &Path, args: &[&str], database_url: &str) -> anyhow::Result<String> {
    let what = format!("{} {}", bin.display(), args.join(" "));
    let child = Command::new(bin)
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {what}"))?;
    let output = tokio::time::timeout(ONE_SHOT_TIMEOUT, child.wait_with_output())
        .await
        .with_context(|| format!("{what} did not finish in {ONE_SHOT_TIMEOUT:?}"))?
        .with_context(|| format!("running {what}"))?;
    if !output.status.success() {
        bail!("{what} failed ({}): {}", output.status, String::from_utf8_lossy(&output.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// A started process, named for the report (`serve`, `reservation-worker-1`...).
struct Process {
    name: String,
    child: Child,
}

/// The long-running processes. A guard: dropping it without [`System::stop`] (a panic) still
/// sends SIGTERM and then kills, so nothing outlives the bench.
#[derive(Default)]
pub struct System {
    processes: Vec<Process>,
}

impl System {
    /// Starts `bin args...` with the bench database and quiet logs. Logs go to the bench's stderr,
    /// never its stdout, so `--json` output stays parseable.
    pub fn spawn(
        &mut self,
        name: &str,
        bin: &Path,
        args: &[&str],
        database_url: &str,
        env: &[(&str, &str)],
    ) -> anyhow::Result<()> {
        let child = Command::new(bin)
            .args(args)
            .env("DATABASE_URL", database_url)
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::from(std::io::stderr()))
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {name} ({})", bin.display()))?;
        self.processes.push(Process { name: name.to_string(), child });
        Ok(())
    }

    /// Fails if any process has exited: a crashed worker would make every later figure wrong.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        for p in &mut self.processes {
            if let Some(status) = p.child.try_wait().with_context(|| format!("checking on {}", p.name))? {
                bail!("{} exited early ({status}); its log is above", p.name);
            }
        }
        Ok(())
    }

    /// Reads each process's peak RSS, then stops them all: SIGTERM at once, SIGKILL for any still
    /// running after the grace period. Returns (name, peak RSS in KiB) in start order.
    pub async fn stop(&mut self) -> Vec<(String, Option<u64>)> {
        let peaks = self.processes.iter().map(|p| (p.name.clone(), p.child.id().and_then(|id| peak_rss_kib(Some(id)))));
        let peaks: Vec<_> = peaks.collect();
        for p in &self.processes {
            terminate(&p.child);
        }
        let deadline = tokio::time::Instant::now() + GRACE;
        for p in &mut self.processes {
            match tokio::time::timeout_at(deadline, p.child.wait()).await {
                // death by the SIGTERM just sent (before its handler was installed) is no news
                Ok(Ok(status)) if status.code().is_some_and(|c| c != 0) => {
                    note!("{} exited with {status}", p.name)
                }
                Ok(_) => {}
                Err(_) => {
                    note!("{} ignored SIGTERM for {GRACE:?}; killing it", p.name);
                    let _ = p.child.kill().await;
                }
            }
        }
        self.processes.clear();
        peaks
    }
}

impl Drop for System {
    fn drop(&mut self) {
        if self.processes.is_empty() {
            return;
        }
        for p in &self.processes {
            terminate(&p.child);
        }
        // Blocking is acceptable here: this only runs when the bench is already failing hard.
        let deadline = Instant::now() + Duration::from_secs(3);
        for p in &mut self.processes {
            while Instant::now() < deadline && matches!(p.child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = p.child.start_kill();
        }
    }
}

/// SIGTERM through kill(1): std and tokio only send SIGKILL, and a signal crate for one call is
/// not worth a dependency. `Child::id` is `None` once the child is reaped, so a recycled PID is
/// never signalled.
fn terminate(child: &Child) {
    if let Some(pid) = child.id() {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Peak resident set size (`VmHWM`) of a process, or of the bench itself with `None`, in KiB.
pub fn peak_rss_kib(pid: Option<u32>) -> Option<u64> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/status"),
        None => "/proc/self/status".to_string(),
    };
    let status = std::fs::read_to_string(path).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
