use sqlx::PgConnection;
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApiKeyRow {
    pub id: Uuid,
    pub role: String,
    pub organization_id: Option<String>,
}

pub async fn insert(
    conn: &mut PgConnection,
    key_hash: &[u8],
    role: &str,
    organization_id: Option<&str>,
) -> sqlx::Result<Uuid> {
    sqlx::query_scalar("insert into api_keys (key_hash, role, organization_id) values ($1, $2, $3) returning id")
        .bind(key_hash)
        .bind(role)
        .bind(organization_id)
        .fetch_one(conn)
        .await
}

/// The live key with this hash, if any.
pub async fn find_active(conn: &mut PgConnection, key_hash: &[u8]) -> sqlx::Result<Option<ApiKeyRow>> {
    sqlx::query_as("select id, role, organization_id from api_keys where key_hash = $1 and revoked_at is null")
        .bind(key_hash)
        .fetch_optional(conn)
        .await
}
