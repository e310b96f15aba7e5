//! A private PostgreSQL server for `boxoffice dev`.
//!
//! Bare `cargo run` should work on a fresh checkout without anyone creating roles or
//! databases by hand. When DATABASE_URL is not set we therefore run our own server from
//! the PostgreSQL binaries installed on the machine, keep its data inside the project (so
//! it survives restarts and is thrown away with the checkout), and stop it when we exit.
//! It listens only on 127.0.0.1 with trust authentication, which is fine for development
//! and never used otherwise.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

const DATABASE: &str = "boxoffice";
const SERVER_TOOLS: [&str; 3] = ["initdb", "pg_ctl", "postgres"];

pub struct DevDatabase {
    tools: Tools,
    dir: PathBuf,
    log: PathBuf,
    port: u16,
    /// Only a server we started ourselves is ours to stop; one found running is left alone.
    owns_server: bool,
}

impl DevDatabase {
    /// Starts (initialising on first use) the PostgreSQL server whose data lives in `dir`,
    /// listening on 127.0.0.1:`port`; if a server from an earlier run is still running there, reuses it.
    /// Creates the database `boxoffice` if missing. Errors name what to install when no server binaries are found.
    pub async fn start(dir: &Path, port: u16) -> Result<DevDatabase> {
        let tools = Tools::find(running_as_root().await)?;
        tokio::fs::create_dir_all(dir).await.with_context(|| format!("could not create {}", dir.display()))?;
        // Absolute, because the tools run from "/" (see Tools::command).
        let dir = tokio::fs::canonicalize(dir).await?;
        let log = dir.parent().unwrap_or(&dir).join("postgres.log");
        let mut db = DevDatabase { tools, dir, log, port, owns_server: false };
        if db.tools.as_postgres {
            db.hand_over_to_postgres_user().await?;
        }
        if !db.dir.join("PG_VERSION").exists() {
            db.initdb().await?;
        }
        if run(db.pg_ctl("status"), "pg_ctl status", "").await.is_ok() {
            db.check_running_port()?;
        } else {
            db.start_server().await?;
        }
        db.create_database().await?;
        Ok(db)
    }

    /// `postgres://postgres@127.0.0.1:PORT/boxoffice`
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{DATABASE}", self.port)
    }

    /// Stops the server if this process started it (pg_ctl stop -m fast). Idempotent.
    pub async fn stop(&mut self) -> Result<()> {
        if !self.owns_server {
            return Ok(());
        }
        // "Is server running?" means it is already gone, which is what we wanted.
        run(self.stop_command(), "pg_ctl stop", "Is server running?").await?;
        self.owns_server = false;
        Ok(())
    }

    /// Crashes the server (`pg_ctl stop -m immediate`: every process aborted, nothing flushed
    /// beyond what was committed) and starts it again, which replays the log: what a power cut
    /// and a restart do. For tests that prove nothing committed is lost.
    pub async fn crash_and_restart(&mut self) -> Result<()> {
        let mut crash = self.pg_ctl("stop");
        crash.args(["-m", "immediate", "-w"]);
        run(crash, "pg_ctl stop -m immediate", "").await?;
        self.owns_server = false;
        self.start_server().await
    }

    /// PostgreSQL refuses to run as root, so as root the data directory and log must
    /// belong to the `postgres` user, and it must be able to reach them through every
    /// parent directory, which a project under e.g. /root (mode 700) does not allow.
    async fn hand_over_to_postgres_user(&self) -> Result<()> {
        let mut log = std::fs::OpenOptions::new();
        log.create(true).append(true).open(&self.log)?;
        let mut chown = Command::new("chown");
        chown.arg("postgres:").arg(&self.dir).arg(&self.log);
        run(chown, "chown", "").await.context(
            "running as root, the dev database runs as the `postgres` system user \
             (created by the postgresql package)",
        )?;
        let mut reach = self.tools.command("test");
        reach.arg("-w").arg(&self.dir);
        run(reach, "runuser -u postgres test -w", "").await.with_context(|| {
            format!(
                "the `postgres` user cannot reach {} (PostgreSQL refuses to run as root): \
                 make its parent directories traversable (chmod o+x), move the project \
                 out of e.g. /root, or set DATABASE_URL",
                self.dir.display()
            )
        })
    }

    async fn initdb(&self) -> Result<()> {
        let mut cmd = self.tools.command(self.tools.bin.join("initdb"));
        cmd.arg("-D").arg(&self.dir);
        cmd.args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C"]);
        run(cmd, "initdb", "").await
    }

    async fn start_server(&mut self) -> Result<()> {
        // The unix socket goes in the data directory, not the system server's
        // /var/run/postgresql (often not writable); if the path is too long for a
        // socket name we go without one, since we only connect over TCP anyway.
        let socket_dir = self.dir.to_string_lossy();
        let socket_dir = if socket_dir.len() > 90 { "" } else { &socket_dir };
        let options = format!("-p {} -c listen_addresses=127.0.0.1 -k {}", self.port, shell_quote(socket_dir));
        let log = self.log.to_string_lossy().into_owned();
        let mut cmd = self.pg_ctl("start");
        cmd.args(["-w", "-l", &log, "-o", &options]);
        if let Err(error) = run(cmd, "pg_ctl start", "").await {
            // The reason (port taken, bad data directory...) is in the server's log.
            let log_text = std::fs::read_to_string(&self.log).unwrap_or_default();
            let tail = log_text.lines().skip(log_text.lines().count().saturating_sub(5));
            let tail = tail.collect::<Vec<_>>().join("\n");
            let (port, log) = (self.port, self.log.display());
            bail!("could not start the dev database on port {port}: {error:#}\n{log} ends with:\n{tail}");
        }
        self.owns_server = true;
        Ok(())
    }

    /// A server left running by an earlier run may listen on another port than asked for.
    fn check_running_port(&self) -> Result<()> {
        let pid_file = self.dir.join("postmaster.pid");
        let text =
            std::fs::read_to_string(&pid_file).with_context(|| format!("could not read {}", pid_file.display()))?;
        let running = text.lines().nth(3).unwrap_or("").trim(); // line 4 holds the port
        let (dir, port) = (self.dir.display(), self.port);
        if running != port.to_string() {
            bail!(
                "a PostgreSQL server is already running on {dir} with port {running}, not {port}: \
                 stop it with `pg_ctl stop -D {dir}`"
            );
        }
        Ok(())
    }

    async fn create_database(&self) -> Result<()> {
        let mut cmd = Command::new(&self.tools.createdb);
        let port = self.port.to_string();
        cmd.args(["-h", "127.0.0.1", "-p", &port, "-U", "postgres", DATABASE]);
        run(cmd, "createdb", "already exists").await
    }

    /// `pg_ctl ACTION -D DIR`, as the right user.
    fn pg_ctl(&self, action: &str) -> Command {
        let mut cmd = self.tools.command(self.tools.bin.join("pg_ctl"));
        cmd.arg(action).arg("-D").arg(&self.dir);
        cmd
    }

    fn stop_command(&self) -> Command {
        let mut cmd = self.pg_ctl("stop");
        cmd.args(["-m", "fast", "-w"]);
        cmd
    }
}

impl Drop for DevDatabase {
    /// Best effort for paths that skip `stop` (errors, panics): a server we started must
    /// not outlive us. Blocking here is acceptable; it only happens on the way out.
    fn drop(&mut self) {
        if self.owns_server {
            let _ = self.stop_command().output();
        }
    }
}

/// Where the PostgreSQL programs are and whom to run them as.
struct Tools {
    bin: PathBuf,
    createdb: PathBuf,
    as_postgres: bool,
}

impl Tools {
    /// initdb/pg_ctl/postgres from PATH, else from the newest /usr/lib/postgresql/*/bin
    /// (Debian and Ubuntu keep the server binaries off PATH).
    fn find(as_postgres: bool) -> Result<Tools> {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut versioned: Vec<(Vec<u32>, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| {
                let name = entry.file_name().into_string().ok()?;
                let version = name.split('.').map(str::parse).collect::<Result<_, _>>().ok()?;
                Some((version, entry.path().join("bin")))
            })
            .collect();
        versioned.sort();
        let mut candidates = std::env::split_paths(&path).chain(versioned.into_iter().rev().map(|v| v.1));
        let has_tools = |dir: &Path| SERVER_TOOLS.iter().all(|tool| dir.join(tool).is_file());
        let Some(mut bin) = candidates.find(|dir| has_tools(dir)) else {
            bail!(
                "no PostgreSQL server binaries found: install the postgresql package \
                 (apt-get install postgresql) or set DATABASE_URL"
            );
        };
        // PATH often holds symlinks into the real bin directory, which also has createdb.
        if let Some(real) = bin.join("initdb").canonicalize()?.parent()
            && has_tools(real)
        {
            bin = real.to_path_buf();
        }
        let createdb = bin.join("createdb");
        let createdb = if createdb.is_file() { createdb } else { "createdb".into() };
        Ok(Tools { bin, createdb, as_postgres })
    }

    /// A command run as the `postgres` user when we are root, from "/" because that user
    /// may not be allowed into our working directory.
    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = if self.as_postgres {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(program);
            cmd
        } else {
            Command::new(program)
        };
        cmd.current_dir("/");
        cmd
    }
}

async fn running_as_root() -> bool {
    // the owner of /proc/self is this process's user; no external program, whatever PATH is
    use std::os::unix::fs::MetadataExt;
    tokio::fs::metadata("/proc/self").await.is_ok_and(|m| m.uid() == 0)
}

/// Runs `cmd`, failing with its output unless it succeeds or reports `harmless`.
async fn run(mut cmd: Command, what: &str, harmless: &str) -> Result<()> {
    // Untranslated messages, since we match on them.
    cmd.env("LC_ALL", "C");
    let out = tokio::process::Command::from(cmd).output().await;
    let out = out.with_context(|| format!("could not run {what}"))?;
    let text = String::from_utf8_lossy(&[out.stderr, out.stdout].concat()).into_owned();
    if out.status.success() || (!harmless.is_empty() && text.contains(harmless)) {
        return Ok(());
    }
    match text.trim() {
        "" => bail!("{what} failed ({})", out.status),
        detail => bail!("{what} failed: {detail}"),
    }
}

/// pg_ctl hands its -o options to /bin/sh.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}
