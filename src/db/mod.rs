//! SQL. Functions take a connection (or a transaction) so the caller decides the transaction.
//! Queries are checked at run time (`sqlx::query_as`) so builds never need a database.

pub mod allocation;
pub mod api_keys;
pub mod availability;
pub mod events;
pub mod idempotency;
pub mod inventory;
pub mod jobs;
pub mod live;
pub mod notifications;
pub mod offers;
pub mod pools;
pub mod queue;
pub mod refunds;
pub mod replica;
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

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, Executor, PgPool, Postgres, Transaction};

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

/// A pooled connection idle this long is pinged before it is handed out.
const PING_IF_IDLE_FOR: Duration = Duration::from_secs(1);

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
        // sqlx pings every connection it hands out by default: a round trip per batch of an
        // on-sale. A connection idle for a while is still checked (PostgreSQL may have restarted
        // meanwhile); a failed ping closes it, and the pool hands out another.
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_IF_IDLE_FOR {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
        .connect_with(options)
        .await
}

/// Applies the job queue's migrations (schema `apalis`), then ours (`public`), which may adjust
/// the queue's tables. Migrations may take their time: the pool's timeouts are lifted on the
/// connection that runs ours.
pub async fn migrate(pool: &PgPool) -> Result<(), MigrateError> {
    apalis_postgres::PostgresStorage::<()>::setup(pool).await.map_err(MigrateError::JobQueue)?;
    let mut conn = pool.acquire().await?;
    conn.execute("set statement_timeout = 0; set lock_timeout = 0").await?;
    sqlx::migrate!("./migrations").run(&mut *conn).await?;
    Ok(())
}

/// Why the schema could not be brought up to date.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("the job queue's migrations failed")]
    JobQueue(#[source] apalis_postgres::Error),
    #[error("the database failed before migrating")]
    Database(#[from] sqlx::Error),
    #[error("our migrations failed")]
    Schema(#[from] sqlx::migrate::MigrateError),
}

/// A read-only transaction that sees one snapshot of the database throughout (repeatable read):
/// the figures read in it agree with each other.
pub async fn snapshot(pool: &PgPool) -> sqlx::Result<Transaction<'static, Postgres>> {
    let mut tx = pool.begin().await?;
    tx.execute("set transaction isolation level repeatable read, read only").await?;
    Ok(tx)
}

/// The database answers.
pub async fn ping(pool: &PgPool) -> sqlx::Result<()> {
    pool.execute("select 1").await.map(drop)
}

/// Seconds from the database's clock to `at` (negative once it has passed): the clock that holds
/// are written and ended by, whatever this process's clock says.
pub async fn seconds_until(pool: &PgPool, at: DateTime<Utc>) -> sqlx::Result<f64> {
    sqlx::query_scalar("select extract(epoch from ($1::timestamptz - now()))::float8").bind(at).fetch_one(pool).await
}

/// What an upsert did to its row; it leaves an identical row alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upserted {
    Inserted,
    Updated,
    Unchanged,
}

impl Upserted {
    /// From `returning (xmax = 0)` (true for an insert, false for an update) and no row when the
    /// upsert's `where` left the row as it was.
    fn from_xmax(fresh: Option<bool>) -> Self {
        match fresh {
            Some(true) => Upserted::Inserted,
            Some(false) => Upserted::Updated,
            None => Upserted::Unchanged,
        }
    }
}
