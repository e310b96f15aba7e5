//! `boxoffice dev`: the API, the workers and the scheduler in one process, on the database
//! at `DATABASE_URL` or on a private PostgreSQL whose data stays in the project between runs.

use std::path::{Path, PathBuf};

use anyhow::Context;
use sqlx::PgPool;

use crate::config::{DatabaseConfig, HttpConfig, ReplicaConfig};
use crate::devdb::DevDatabase;
use crate::domain::Role;
use crate::jobs::runtime::{self, Roles};
use crate::jobs::sweeps;
use crate::notifications::NotificationConfig;
use crate::{db, server, services};

#[derive(Debug, Clone, clap::Args)]
pub struct DevConfig {
    #[command(flatten)]
    pub database: DatabaseConfig,
    #[command(flatten)]
    pub replica: ReplicaConfig,
    #[command(flatten)]
    pub http: HttpConfig,
    /// Boxed: it is large, and `boxoffice`'s command enum holds this struct by value.
    #[command(flatten)]
    pub notifications: Box<NotificationConfig>,
    /// Where dev mode keeps its PostgreSQL data and its admin key (default: `.boxoffice` in the project).
    #[arg(long, env = "DEV_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Port of the private PostgreSQL.
    #[arg(long, env = "DEV_PG_PORT", default_value_t = 54329)]
    pub pg_port: u16,
}

pub async fn run(config: DevConfig) -> anyhow::Result<()> {
    let shutdown = server::shutdown_on_signal();
    let base = config.data_dir.clone().unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".boxoffice"));
    let mut private = None;
    let url = match &config.database.database_url {
        Some(url) => url.clone(),
        None => {
            let started = DevDatabase::start(&base.join("pgdata"), config.pg_port).await?;
            let url = started.url();
            private = Some(started);
            url
        }
    };
    let outcome = serve_everything(&url, &config, &base, shutdown).await;
    if let Some(mut database) = private {
        database.stop().await.context("stopping the private PostgreSQL")?;
        println!("PostgreSQL stopped");
    }
    outcome
}

async fn serve_everything(
    url: &str,
    config: &DevConfig,
    base: &Path,
    shutdown: tokio_util::sync::CancellationToken,
) -> anyhow::Result<()> {
    services::signing::check_env()?;
    let pool = config
        .database
        .connect_to(url, config.database.database_max_connections)
        .await
        .context("connecting to PostgreSQL")?;
    db::migrate(&pool).await?;
    let admin_key = dev_admin_key(&pool, base).await?;
    let addr = config.http.bind_addr;
    println!("boxoffice is running (Ctrl-C stops it)");
    println!("  API:       http://{addr}/api");
    println!("  docs:      http://{addr}/docs");
    println!("  database:  {url}");
    println!("  admin key: {admin_key}");
    let roles =
        Roles { reservations: true, fulfillment: true, notifier: config.notifications.notifier()?, ..Roles::default() };
    let workers = tokio::spawn(runtime::run(pool.clone(), roles, shutdown.clone()));
    let scheduler = tokio::spawn(sweeps::run(pool.clone(), shutdown.clone()));
    let replica = config.replica.replica(&config.database)?;
    let served = server::serve(pool, replica, &config.http, shutdown.clone()).await;
    shutdown.cancel();
    workers.await??;
    scheduler.await?;
    served?;
    Ok(())
}

/// The admin key of this dev setup: kept in a file beside the data so it stays the same between
/// runs, and created again when the database no longer knows it.
async fn dev_admin_key(pool: &PgPool, base: &Path) -> anyhow::Result<String> {
    let file = base.join("dev-admin-key");
    if let Ok(saved) = tokio::fs::read_to_string(&file).await
        && services::auth::authenticate(pool, saved.trim()).await.is_ok()
    {
        return Ok(saved.trim().to_string());
    }
    let created = services::auth::create_key(pool, Role::Admin, None, None).await?;
    tokio::fs::create_dir_all(base).await?;
    tokio::fs::write(&file, &created.key).await.with_context(|| format!("writing {}", file.display()))?;
    Ok(created.key)
}
