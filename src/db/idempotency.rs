//! Idempotency keys: claims and the answers kept for retries (see `http::idempotency`).

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::domain::idempotency::{ABANDONED_AFTER, StoredAnswer};

/// How long an answer is kept for retries; an older key is treated as absent.
pub const KEPT_FOR: Duration = Duration::from_secs(24 * 60 * 60);

/// Rows deleted per statement by [`prune`].
const PRUNE_BATCH: i64 = 1000;

/// Where the request that claimed a key stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum ClaimState {
    InProgress,
    /// Answered: the answer is stored.
    Done,
    /// Its answer was not worth keeping: the next request with the key runs (see [`claim`]).
    Released,
}

/// A key someone else holds.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct KeyRow {
    pub request_hash: Vec<u8>,
    pub state: ClaimState,
    pub status_code: Option<i32>,
    pub content_type: Option<String>,
    pub body: Option<Vec<u8>>,
    pub location: Option<String>,
}

impl KeyRow {
    /// The stored answer, once the request that claimed the key is done.
    pub fn answer(self) -> Option<StoredAnswer> {
        match (self.state, self.status_code, self.body) {
            (ClaimState::Done, Some(status_code), Some(body)) => {
                Some(StoredAnswer { status_code, content_type: self.content_type, body, location: self.location })
            }
            _ => None,
        }
    }
}

/// A claim on a key: `created_at` identifies it to [`store`] and [`release`]; `creates` is the id
/// of what the request creates.
#[derive(Debug, Clone, Copy, sqlx::FromRow)]
pub struct ClaimRow {
    pub created_at: DateTime<Utc>,
    pub creates: Uuid,
}

/// Claims `key` for a request, unless a live claim holds it. Expired, released and abandoned
/// claims are taken over; when two requests race, the primary key lets exactly one of them in.
/// The same request taking over a claim that was not answered keeps its `creates` (the first
/// attempt may have created it before its answer was lost); otherwise `creates` is `new_id`.
pub async fn claim(
    conn: &mut PgConnection,
    scope: &[u8],
    key: &str,
    request_hash: &[u8],
    new_id: Uuid,
) -> sqlx::Result<Option<ClaimRow>> {
    sqlx::query_as(
        "insert into idempotency_keys as k (scope, key, request_hash, creates) values ($1, $2, $3, $6)
         on conflict (scope, key) do update
             set request_hash = excluded.request_hash, state = 'in_progress', status_code = null,
                 content_type = null, body = null, location = null, created_at = now(),
                 creates = case when k.state <> 'done' and k.request_hash = excluded.request_hash
                                then coalesce(k.creates, excluded.creates) else excluded.creates end
             where k.created_at < now() - make_interval(secs => $4)
                or k.state = 'released'
                or (k.state = 'in_progress' and k.created_at < now() - make_interval(secs => $5))
         returning created_at, creates",
    )
    .bind(scope)
    .bind(key)
    .bind(request_hash)
    .bind(KEPT_FOR.as_secs_f64())
    .bind(ABANDONED_AFTER.as_secs_f64())
    .bind(new_id)
    .fetch_optional(conn)
    .await
}

pub async fn find(conn: &mut PgConnection, scope: &[u8], key: &str) -> sqlx::Result<Option<KeyRow>> {
    sqlx::query_as(
        "select request_hash, state, status_code, content_type, body, location
         from idempotency_keys where scope = $1 and key = $2",
    )
    .bind(scope)
    .bind(key)
    .fetch_optional(conn)
    .await
}

/// Keeps the answer of the claim made at `claimed_at`; false if the claim is no longer ours
/// (it was abandoned and taken over).
pub async fn store(
    conn: &mut PgConnection,
    scope: &[u8],
    key: &str,
    claimed_at: DateTime<Utc>,
    answer: &StoredAnswer,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "update idempotency_keys
         set state = 'done', status_code = $4, content_type = $5, body = $6, location = $7
         where scope = $1 and key = $2 and created_at = $3 and state = 'in_progress'",
    )
    .bind(scope)
    .bind(key)
    .bind(claimed_at)
    .bind(answer.status_code)
    .bind(&answer.content_type)
    .bind(&answer.body)
    .bind(&answer.location)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Releases the claim made at `claimed_at`, so that a retry runs the request again.
pub async fn release(conn: &mut PgConnection, scope: &[u8], key: &str, claimed_at: DateTime<Utc>) -> sqlx::Result<()> {
    sqlx::query(
        "update idempotency_keys set state = 'released'
         where scope = $1 and key = $2 and created_at = $3 and state = 'in_progress'",
    )
    .bind(scope)
    .bind(key)
    .bind(claimed_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes the keys older than [`KEPT_FOR`], in batches, each its own transaction; skips rows
/// being claimed, so replicas may run it at once. Returns how many were deleted.
pub async fn prune(pool: &PgPool) -> sqlx::Result<u64> {
    let mut deleted = 0;
    loop {
        let batch = sqlx::query(
            "with expired as (
                 select scope, key from idempotency_keys
                 where created_at < now() - make_interval(secs => $1)
                 limit $2
                 for update skip locked
             )
             delete from idempotency_keys k using expired e where k.scope = e.scope and k.key = e.key",
        )
        .bind(KEPT_FOR.as_secs_f64())
        .bind(PRUNE_BATCH)
        .execute(pool)
        .await?
        .rows_affected();
        deleted += batch;
        if batch < PRUNE_BATCH as u64 {
            return Ok(deleted);
        }
    }
}
