//! Whether this process can serve: the database answers.

use std::time::Duration;

use sqlx::PgPool;

/// What the health check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Ok,
    DatabaseError,
    DatabaseTimeout,
}

/// Asks the database, for at most `within`.
pub async fn check(pool: &PgPool, within: Duration) -> Health {
    match tokio::time::timeout(within, crate::db::ping(pool)).await {
        Ok(Ok(())) => Health::Ok,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "health check failed");
            Health::DatabaseError
        }
        Err(_) => Health::DatabaseTimeout,
    }
}
