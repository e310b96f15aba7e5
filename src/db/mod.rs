//! SQL. Functions take a connection (or a transaction) so the caller decides the transaction.
//! Queries are checked at run time (`sqlx::query_as`) so builds never need a database.

pub mod allocation;
pub mod api_keys;
pub mod availability;
pub mod events;
pub mod idempotency;
pub mod inventory;
pub mod jobs;
pub mod notifications;
pub mod offers;
pub mod report;
pub mod representations;
pub mod reservations;
pub mod search;
pub mod seats;
pub mod signing_keys;
pub mod tickets;
pub mod users;
pub mod waitlist;

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Executor, PgPool};

/// How long one statement may run, and wait for a lock, on our connections: no request or job can
/// hang on the database (a request's whole time is bounded above this, see `http`).
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub statement: Duration,
    pub lock: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts { statement: Duration::from_secs(10), lock: Duration::from_secs(5) }
    }
}

/// Opens a pool on `url` with the default [`Timeouts`].
pub async fn connect(url: &str, max_connections: u32) -> Result<PgPool, sqlx::Error> {
    connect_with(url, max_connections, Timeouts::default()).await
}

/// Opens a pool on `url` whose connections have these timeouts.
pub async fn connect_with(url: &str, max_connections: u32, timeouts: Timeouts) -> Result<PgPool, sqlx::Error> {
    let millis = |d: Duration| format!("{}ms", d.as_millis());
    let options = url
        .parse::<PgConnectOptions>()?
        .options([("statement_timeout", millis(timeouts.statement)), ("lock_timeout", millis(timeouts.lock))]);
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await
}

/// Applies the job queue's migrations (schema `apalis`), then ours (`public`), which may adjust
/// the queue's tables. Migrations may take their time: the pool's timeouts are lifted on the
/// connection that runs ours.
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    apalis_postgres::PostgresStorage::<()>::setup(pool)
        .await
        .map_err(|e| anyhow::anyhow!("job queue migrations failed: {e}"))?;
    let mut conn = pool.acquire().await?;
    conn.execute("set statement_timeout = 0; set lock_timeout = 0").await?;
    sqlx::migrate!("./migrations").run(&mut *conn).await?;
    Ok(())
}
