//! The private PostgreSQL of `--profile`: initdb into a temporary directory, a free loopback port,
//! `pg_stat_statements` preloaded and tracking every statement (nested ones too), fsync on as in a
//! normal server, and the settings that shape throughput copied from the server at
//! `--database-url`, so the profile is of the same machine's usual server and not of initdb's
//! defaults. Stopped and removed at the end, also on failure (`Drop`).
//!
//! `boxoffice::devdb` starts a server the same way but keeps its data for the next run and takes
//! no server settings, and the bench does not link the system's library: this is its short cousin.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};

use crate::setup;

/// The role the bench itself connects as on the private server, so its own queries (the buyers'
/// insert, the polls, the checks) can be left out of the profile: the system connects as `postgres`.
pub const OBSERVER: &str = "bench_observer";

/// Settings copied from the usual server: memory, connections, checkpoints, commit, vacuum.
const MIRRORED: &[&str] = &[
    "shared_buffers",
    "max_connections",
    "max_wal_size",
    "min_wal_size",
    "checkpoint_timeout",
    "wal_buffers",
    "work_mem",
    "synchronous_commit",
    "full_page_writes",
    "wal_compression",
    "autovacuum",
];

pub struct PrivateServer {
    bin: PathBuf,
    /// The temporary directory: `data/` and `postgres.log`.
    root: PathBuf,
    port: u16,
    /// PostgreSQL refuses to run as root: as root, its commands run as the `postgres` user.
    as_postgres: bool,
    running: bool,
}

impl PrivateServer {
    /// Starts the server and creates `pg_stat_statements` and the observer role in it.
    pub async fn start(usual_server: &str) -> anyhow::Result<PrivateServer> {
        let bin = server_binaries()?;
        check_pg_stat_statements(&bin)?;
        let settings = usual_settings(usual_server).await;
        let root = std::env::temp_dir().join(format!("boxoffice-bench-pg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let as_postgres = std::fs::metadata("/proc/self").is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0);
        // from here on, dropping the guard removes the directory (and stops the server once started)
        let mut server = PrivateServer { bin, root, port, as_postgres, running: false };
        if as_postgres {
            let mut chown = Command::new("chown");
            chown.arg("postgres:").arg(&server.root);
            run(chown, "chown postgres")?;
        }
        note!("profile: a private PostgreSQL in {} on port {port}", server.root.display());
        let mut initdb = server.command("initdb");
        initdb.arg("-D").arg(server.data()).args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C"]);
        run(initdb, "initdb")?;
        let mut conf = format!(
            "\n# boxoffice bench --profile\nport = {port}\nlisten_addresses = '127.0.0.1'\n\
             unix_socket_directories = ''\nfsync = on\n\
             shared_preload_libraries = 'pg_stat_statements'\npg_stat_statements.track = all\n"
        );
        for (name, value) in &settings {
            conf.push_str(&format!("{name} = '{}'\n", value.replace('\'', "''")));
        }
        let conf_path = server.data().join("postgresql.conf");
        let mut text =
            std::fs::read_to_string(&conf_path).with_context(|| format!("reading {}", conf_path.display()))?;
        text.push_str(&conf);
        std::fs::write(&conf_path, text).with_context(|| format!("writing {}", conf_path.display()))?;
        let mut start = server.command("pg_ctl");
        start.arg("start").arg("-w").arg("-D").arg(server.data()).arg("-l").arg(server.root.join("postgres.log"));
        if let Err(e) = run(start, "pg_ctl start") {
            let log = std::fs::read_to_string(server.root.join("postgres.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(5).collect::<Vec<_>>().into_iter().rev().collect();
            bail!("the private PostgreSQL did not start: {e:#}\nits log ends with:\n{}", tail.join("\n"));
        }
        server.running = true;
        let admin = setup::connect(&server.admin_url(), 1).await?;
        sqlx::query("create extension pg_stat_statements")
            .execute(&admin)
            .await
            .context("creating the pg_stat_statements extension (postgresql-contrib)")?;
        sqlx::query(sqlx::AssertSqlSafe(format!("create role {OBSERVER} login superuser"))).execute(&admin).await?;
        admin.close().await;
        Ok(server)
    }

    /// The admin URL on which the bench creates its databases.
    pub fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the server (fast shutdown) and removes its directory.
    pub fn stop(mut self) {
        self.shut_down();
    }

    fn shut_down(&mut self) {
        if self.running {
            let mut stop = self.command("pg_ctl");
            stop.arg("stop").arg("-m").arg("fast").arg("-w").arg("-D").arg(self.data());
            match run(stop, "pg_ctl stop") {
                Ok(()) => note!("profile: stopped the private PostgreSQL"),
                Err(e) => note!("profile: could not stop the private PostgreSQL: {e:#}"),
            }
            self.running = false;
        }
        if self.root.exists() {
            match std::fs::remove_dir_all(&self.root) {
                Ok(()) => note!("profile: removed {}", self.root.display()),
                Err(e) => note!("profile: could not remove {}: {e}", self.root.display()),
            }
        }
    }

    fn data(&self) -> PathBuf {
        self.root.join("data")
    }

    /// A server program, as `postgres` when we are root, from `/` (which that user may enter).
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        let mut cmd = if self.as_postgres {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(path);
            cmd
        } else {
            Command::new(path)
        };
        cmd.current_dir("/");
        cmd
    }
}

impl Drop for PrivateServer {
    /// A failure or a panic on the way must not leave a server running or its files behind.
    fn drop(&mut self) {
        self.shut_down();
    }
}

/// The newest `/usr/lib/postgresql/*/bin` with the server programs (Debian's layout).
fn server_binaries() -> anyhow::Result<PathBuf> {
    crate::pgbench::newest_bin(&["initdb", "pg_ctl", "postgres"]).context(
        "--profile starts its own PostgreSQL, and no server binaries (initdb, pg_ctl, postgres) are under \
         /usr/lib/postgresql/*/bin: install the postgresql package",
    )
}

/// `pg_stat_statements.so` in the server's library directory (`pg_config --pkglibdir`, else
/// `bin/../lib`), or a clear message: without it the server would not even start.
fn check_pg_stat_statements(bin: &Path) -> anyhow::Result<()> {
    let pkglibdir = Command::new(bin.join("pg_config"))
        .arg("--pkglibdir")
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
        .unwrap_or_else(|| bin.join("../lib"));
    let library = pkglibdir.join("pg_stat_statements.so");
    if !library.is_file() {
        bail!(
            "--profile needs the pg_stat_statements extension, and {} does not exist: install \
             postgresql-contrib (Debian: apt-get install postgresql-contrib) for the server in {}",
            library.display(),
            bin.display()
        );
    }
    Ok(())
}

/// The [`MIRRORED`] settings of the usual server, as it reports them (`128MB`, `on`...); none if
/// it cannot be reached (said on stderr: the profile then runs on initdb's defaults).
async fn usual_settings(url: &str) -> Vec<(String, String)> {
    let read = async {
        let pool = setup::connect(setup::loopback_url(url)?.as_str(), 1).await?;
        let names: Vec<String> = MIRRORED.iter().map(|s| s.to_string()).collect();
        let rows: Vec<(String, String)> =
            sqlx::query_as("select name, current_setting(name) from pg_settings where name = any($1) order by name")
                .bind(names)
                .fetch_all(&pool)
                .await?;
        pool.close().await;
        anyhow::Ok(rows)
    };
    match read.await {
        Ok(rows) => {
            let shown: Vec<String> = rows.iter().map(|(n, v)| format!("{n}={v}")).collect();
            note!("profile: settings of {}: {}", setup::redact(url), shown.join(" "));
            rows
        }
        Err(e) => {
            note!("profile: cannot read the settings of {} ({e:#}); initdb's defaults", setup::redact(url));
            Vec::new()
        }
    }
}

/// Runs a short command, failing with its output.
fn run(mut cmd: Command, what: &str) -> anyhow::Result<()> {
    let out = cmd.env("LC_ALL", "C").stdin(Stdio::null()).output().with_context(|| format!("could not run {what}"))?;
    if !out.status.success() {
        let text = String::from_utf8_lossy(&[out.stderr, out.stdout].concat()).trim().to_string();
        bail!("{what} failed ({}): {text}", out.status);
    }
    Ok(())
}
