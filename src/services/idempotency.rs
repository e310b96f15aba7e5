//! Idempotency keys: a request's claim on its key, and the answer kept for its retries (the HTTP
//! side is `http::idempotency`).

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::db;
use crate::domain::idempotency::StoredAnswer;

/// What claiming a key found.
#[derive(Debug)]
pub enum Claimed {
    /// The key is this request's now; `at` identifies the claim to [`keep`] and [`release`];
    /// `creates` is the id to give what the request creates (see `db::idempotency::claim`).
    Claimed { at: DateTime<Utc>, creates: Uuid },
    /// Another request holds the key: the same request (`answer` once it was answered) or not.
    Held { same_request: bool, answer: Option<StoredAnswer> },
    /// The row that held it went away just now (pruned as too old): a retry will claim it.
    Dropped,
}

/// Claims `key` in `scope` for the request whose hash is `request_hash`, or says who holds it.
pub async fn claim(pool: &PgPool, scope: &[u8], key: &str, request_hash: &[u8]) -> sqlx::Result<Claimed> {
    let mut conn = pool.acquire().await?;
    // time-ordered, as the ids made without a key (see `reservations::create`)
    if let Some(row) = db::idempotency::claim(&mut conn, scope, key, request_hash, Uuid::now_v7()).await? {
        return Ok(Claimed::Claimed { at: row.created_at, creates: row.creates });
    }
    Ok(match db::idempotency::find(&mut conn, scope, key).await? {
        Some(row) => Claimed::Held { same_request: row.request_hash == request_hash, answer: row.answer() },
        None => Claimed::Dropped,
    })
}

/// Keeps the answer of the claim made `at`; false if the claim was taken over meanwhile.
pub async fn keep(
    pool: &PgPool,
    scope: &[u8],
    key: &str,
    at: DateTime<Utc>,
    answer: &StoredAnswer,
) -> sqlx::Result<bool> {
    let mut conn = pool.acquire().await?;
    db::idempotency::store(&mut conn, scope, key, at, answer).await
}

/// Releases the claim made `at`, so that a retry runs the request again.
pub async fn release(pool: &PgPool, scope: &[u8], key: &str, at: DateTime<Utc>) -> sqlx::Result<()> {
    let mut conn = pool.acquire().await?;
    db::idempotency::release(&mut conn, scope, key, at).await
}
