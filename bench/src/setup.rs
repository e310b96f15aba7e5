//! The environment of one run: a fresh database, the system started on it (or an already running
//! system with `--target`), API keys, and the teardown that undoes all of it.

use std::net::IpAddr;
use std::time::Duration;

use anyhow::{Context, bail};
use reqwest::Url;
use sqlx::AssertSqlSafe;
use sqlx::postgres::{PgPool, PgPoolOptions};

use crate::cli::Common;
use crate::private_pg::OBSERVER;
use crate::profile::Profiler;
use crate::system::{self, Binaries, System};

/// The database the bench creates for the system when it starts one; dropped at the end.
pub const BENCH_DATABASE: &str = "boxoffice_bench";
/// How long the API gets to answer its first ping: it only migrates nothing and binds a port.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Everything a scenario needs to drive and inspect the system.
pub struct Environment {
    /// Base URL of the API, e.g. `http://127.0.0.1:41234`.
    pub api: Url,
    /// The system's database, for users and for the checks afterwards.
    pub pool: PgPool,
    /// Key for the catalog calls.
    pub admin_key: String,
    /// Key for the reservation calls, as a front end would hold.
    pub client_key: String,
    /// For the catalog calls and pings (the load phase builds its own, sized for its connections).
    pub http: reqwest::Client,
    /// With `--profile`: the window of the run the profile covers.
    pub profiler: Option<Profiler>,
    resources: Resources,
}

/// What teardown must undo: the processes, and the database when the bench created it.
struct Resources {
    system: System,
    /// (admin URL, database name) of a database to drop at the end.
    created_database: Option<(String, &'static str)>,
    keep: bool,
}

impl Environment {
    pub async fn prepare(common: &Common) -> anyhow::Result<Environment> {
        let mut resources = Resources { system: System::default(), created_database: None, keep: common.keep };
        match start(common, &mut resources).await {
            Ok((api, pool, admin_key, client_key, http)) => {
                Ok(Environment { api, pool, admin_key, client_key, http, profiler: None, resources })
            }
            Err(e) => {
                // a half-started system is stopped and its database dropped before reporting why
                resources.teardown().await;
                Err(e)
            }
        }
    }

    /// With `--profile`, starts the profile's window here (the scenario's load begins).
    pub async fn profile_begin(&mut self, window: &'static str) -> anyhow::Result<()> {
        match &mut self.profiler {
            Some(profiler) => profiler.begin(window).await,
            None => Ok(()),
        }
    }

    /// With `--profile`, ends the profile's window here (the scenario's load is decided).
    pub async fn profile_end(&mut self) -> anyhow::Result<()> {
        match &mut self.profiler {
            Some(profiler) => profiler.end(&self.pool).await,
            None => Ok(()),
        }
    }

    /// Fails if a process the bench started has died.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        self.resources.system.check_alive()
    }

    /// Stops the processes (reading their peak RSS first) and drops the bench database. Returns
    /// (name, peak RSS in KiB) per process. Cannot fail: a database left behind is said on stderr,
    /// and must not cost the figures already measured.
    pub async fn teardown(&mut self) -> Vec<(String, Option<u64>)> {
        self.pool.close().await;
        self.resources.teardown().await
    }
}

impl Resources {
    async fn teardown(&mut self) -> Vec<(String, Option<u64>)> {
        let peaks = self.system.stop().await;
        if let Some((admin_url, name)) = self.created_database.take() {
            if self.keep {
                note!("kept database {name}");
            } else {
                let dropped = async {
                    let admin = connect(&admin_url, 1).await?;
                    drop_database(&admin, name).await?;
                    admin.close().await;
                    anyhow::Ok(())
                };
                match dropped.await {
                    Ok(()) => note!("dropped database {name}"),
                    Err(e) => note!("could not drop database {name}: {e:#}"),
                }
            }
        }
        peaks
    }
}

type Started = (Url, PgPool, String, String, reqwest::Client);

async fn start(common: &Common, resources: &mut Resources) -> anyhow::Result<Started> {
    let bins = Binaries::locate(common.bin_dir.as_deref())?;
    let boxoffice = bins.path("boxoffice")?;
    let http = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(30)).build()?;
    let (api, database_url) = match &common.target {
        Some(target) => {
            let api = loopback_url(target).context("--target")?;
            loopback_url(&common.database_url).context("--database-url")?;
            (api, common.database_url.clone())
        }
        None => {
            let admin_url = loopback_url(&common.database_url).context("--database-url")?;
            if admin_url.path() == format!("/{BENCH_DATABASE}") {
                bail!("--database-url must name another database than {BENCH_DATABASE}, which the bench recreates");
            }
            let admin = connect(admin_url.as_str(), 1).await?;
            drop_database(&admin, BENCH_DATABASE).await?;
            create_database(&admin, BENCH_DATABASE).await?;
            admin.close().await;
            resources.created_database = Some((common.database_url.clone(), BENCH_DATABASE));
            let mut url = admin_url;
            url.set_path(BENCH_DATABASE);
            // loopback: no TLS, for the system as for pgbench (see pgbench.rs), so the ratio
            // compares the work and not the encryption
            if !url.query().unwrap_or("").contains("sslmode") {
                url.query_pairs_mut().append_pair("sslmode", "disable");
            }
            let url = url.to_string();
            note!("migrating {BENCH_DATABASE}");
            system::run_once(&boxoffice, &["migrate"], &url).await?;
            (start_system(common, &bins, &url, &mut resources.system)?, url)
        }
    };
    let admin_key = create_key(&boxoffice, "admin", &database_url).await?;
    let client_key = create_key(&boxoffice, "client", &database_url).await?;
    wait_for_ping(&http, &api, &mut resources.system).await?;
    // with --profile the bench's own queries go as another role, to be left out of the profile
    let pool = match common.profile {
        true => {
            let mut url = Url::parse(&database_url)?;
            url.set_username(OBSERVER).map_err(|()| anyhow::anyhow!("cannot set the user of the database URL"))?;
            connect(url.as_str(), 4).await?
        }
        false => connect(&database_url, 4).await?,
    };
    Ok((api, pool, admin_key, client_key, http))
}

/// Starts the API on a free loopback port, the reservation workers and the schedulers.
fn start_system(common: &Common, bins: &Binaries, database_url: &str, system: &mut System) -> anyhow::Result<Url> {
    // The port is free now; another process could take it before the API binds it, in which
    // case the API exits and the ping wait reports it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let bind = format!("127.0.0.1:{port}");
    note!("starting the API on {bind}, {} worker(s), {} scheduler(s)", common.workers, common.schedulers);
    let mut api_env: Vec<(&str, &str)> = vec![("BIND_ADDR", &bind)];
    api_env.extend(common.api_env.iter().copied());
    system.spawn("serve", &bins.path("boxoffice")?, &["serve"], database_url, &api_env)?;
    // located only when needed, so `--workers 0` runs without the worker binary
    let worker = if common.workers > 0 { Some(bins.path("reservation-worker")?) } else { None };
    for i in 1..=common.workers {
        let worker = worker.as_deref().expect("located above");
        system.spawn(&format!("reservation-worker-{i}"), worker, &[], database_url, &[])?;
    }
    let fulfillment = if common.fulfillment_workers > 0 { Some(bins.path("fulfillment-worker")?) } else { None };
    for i in 1..=common.fulfillment_workers {
        let name = format!("fulfillment-worker-{i}");
        system.spawn(&name, fulfillment.as_deref().expect("located above"), &[], database_url, &[])?;
    }
    let scheduler = if common.schedulers > 0 { Some(bins.path("scheduler")?) } else { None };
    for i in 1..=common.schedulers {
        let name = if common.schedulers == 1 { "scheduler".to_string() } else { format!("scheduler-{i}") };
        system.spawn(&name, scheduler.as_deref().expect("located above"), &[], database_url, &[])?;
    }
    Ok(Url::parse(&format!("http://{bind}"))?)
}

async fn create_key(boxoffice: &std::path::Path, role: &str, database_url: &str) -> anyhow::Result<String> {
    let out = system::run_once(boxoffice, &["keys", "create", "--role", role], database_url).await?;
    // the key is the last line; anything before it would be a log line
    let key = out.lines().map(str::trim).rfind(|l| !l.is_empty());
    key.map(str::to_string).with_context(|| format!("`boxoffice keys create --role {role}` printed no key"))
}

async fn wait_for_ping(http: &reqwest::Client, api: &Url, system: &mut System) -> anyhow::Result<()> {
    let ping = api.join("/api/ping")?;
    let attempts = START_TIMEOUT.as_millis() / 100;
    for _ in 0..attempts {
        system.check_alive()?;
        let answer = http.get(ping.clone()).timeout(Duration::from_secs(1)).send().await;
        if answer.is_ok_and(|r| r.status().is_success()) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("{ping} did not answer within {START_TIMEOUT:?}")
}

pub async fn connect(url: &str, connections: u32) -> anyhow::Result<PgPool> {
    PgPoolOptions::new()
        .max_connections(connections)
        .acquire_timeout(Duration::from_secs(10))
        .connect(url)
        .await
        .with_context(|| format!("connecting to {}", redact(url)))
}

/// `name` is one of the bench's constants, never input, so formatting it into the SQL is safe
/// (identifiers cannot be bound as parameters); `&'static str` keeps it that way.
pub async fn create_database(admin: &PgPool, name: &'static str) -> anyhow::Result<()> {
    sqlx::query(AssertSqlSafe(format!("create database {name}"))).execute(admin).await?;
    Ok(())
}

/// Drops a database created by [`create_database`]. `with (force)` ends the sessions a killed
/// process may have left behind.
pub async fn drop_database(admin: &PgPool, name: &'static str) -> anyhow::Result<()> {
    sqlx::query(AssertSqlSafe(format!("drop database if exists {name} with (force)"))).execute(admin).await?;
    Ok(())
}

/// Parses a URL and refuses anything but loopback: the bench floods what it points at.
pub fn loopback_url(s: &str) -> anyhow::Result<Url> {
    let url = Url::parse(s).with_context(|| format!("{} is not a URL", redact(s)))?;
    let host = url.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']');
    let loopback = host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if !loopback {
        bail!("{} is not on loopback (127.0.0.1, ::1 or localhost)", redact(s));
    }
    Ok(url)
}

/// The URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => "(unparseable URL)".to_string(),
    }
}
