use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::{RatePolicy, Role};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApiKeyRow {
    pub id: Uuid,
    pub role: Role,
    pub organization_id: Option<String>,
    pub rate_requests: Option<i32>,
    pub rate_window_secs: Option<i32>,
}

pub async fn insert(
    conn: &mut PgConnection,
    key_hash: &[u8],
    role: Role,
    organization_id: Option<&str>,
    rate: Option<RatePolicy>,
) -> sqlx::Result<Uuid> {
    sqlx::query_scalar(
        "insert into api_keys (key_hash, role, organization_id, rate_requests, rate_window_secs)
         values ($1, $2, $3, $4, $5) returning id",
    )
    .bind(key_hash)
    .bind(role)
    .bind(organization_id)
    .bind(rate.map(|r| r.requests as i32))
    .bind(rate.map(|r| r.window_secs as i32))
    .fetch_one(conn)
    .await
}

/// A key as operators list it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ListedKey {
    pub id: Uuid,
    pub role: Role,
    pub organization_id: Option<String>,
    pub rate_requests: Option<i32>,
    pub rate_window_secs: Option<i32>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Every key, oldest first.
pub async fn list(conn: &mut PgConnection) -> sqlx::Result<Vec<ListedKey>> {
    sqlx::query_as(
        "select id, role, organization_id, rate_requests, rate_window_secs, created_at, revoked_at
         from api_keys order by created_at, id",
    )
    .fetch_all(conn)
    .await
}

/// Revokes a key; revoking it again keeps the first time. `None` when there is no such key.
pub async fn revoke(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<ListedKey>> {
    sqlx::query_as(
        "update api_keys set revoked_at = coalesce(revoked_at, now()) where id = $1
         returning id, role, organization_id, rate_requests, rate_window_secs, created_at, revoked_at",
    )
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// The live key with this hash, if any.
pub async fn find_active(conn: &mut PgConnection, key_hash: &[u8]) -> sqlx::Result<Option<ApiKeyRow>> {
    sqlx::query_as(
        "select id, role, organization_id, rate_requests, rate_window_secs from api_keys
         where key_hash = $1 and revoked_at is null",
    )
    .bind(key_hash)
    .fetch_optional(conn)
    .await
}
