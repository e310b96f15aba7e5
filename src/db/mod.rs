//! SQL. Functions take a connection (or a transaction) so the caller decides the transaction.
//! Queries are checked at run time (`sqlx::query_as`) so builds never need a database.

pub mod allocation;
pub mod api_keys;
pub mod availability;
pub mod events;
pub mod idempotency;
pub mod inventory;
pub mod jobs;
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

use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

/// Opens a pool on `url`.
pub async fn connect(url: &str, max_connections: u32) -> Result<PgPool, sqlx::Error> {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(std::time::Duration::from_secs(10))
        .connect(url)
        .await
}

/// Applies our migrations (`public`) and the job queue's (schema `apalis`).
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    sqlx::migrate!("./migrations").run(pool).await?;
    apalis_postgres::PostgresStorage::<()>::setup(pool)
        .await
        .map_err(|e| anyhow::anyhow!("job queue migrations failed: {e}"))?;
    Ok(())
}
