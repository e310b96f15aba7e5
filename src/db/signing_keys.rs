//! Signing keys shared by every process through the database.

use sqlx::PgConnection;

/// The secret stored for `purpose`, storing `candidate` first if there is none yet: of processes
/// racing to create it, the first insert wins and every one of them reads that one back.
pub async fn get_or_insert(
    conn: &mut PgConnection,
    purpose: &str,
    algorithm: &str,
    candidate: &[u8],
) -> sqlx::Result<Vec<u8>> {
    if let Some(secret) = get(conn, purpose).await? {
        return Ok(secret);
    }
    sqlx::query(
        "insert into signing_keys (purpose, algorithm, secret) values ($1, $2, $3) on conflict (purpose) do nothing",
    )
    .bind(purpose)
    .bind(algorithm)
    .bind(candidate)
    .execute(&mut *conn)
    .await?;
    get(conn, purpose).await?.ok_or(sqlx::Error::RowNotFound)
}

async fn get(conn: &mut PgConnection, purpose: &str) -> sqlx::Result<Option<Vec<u8>>> {
    sqlx::query_scalar("select secret from signing_keys where purpose = $1").bind(purpose).fetch_optional(conn).await
}
