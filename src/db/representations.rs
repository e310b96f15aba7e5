use sqlx::PgConnection;

use crate::domain::NewRepresentation;
use crate::domain::records::Representation;

pub async fn insert(
    conn: &mut PgConnection,
    id: &str,
    event_id: &str,
    r: &NewRepresentation,
) -> sqlx::Result<Representation> {
    sqlx::query_as(
        "insert into representations (id, event_id, starts_at, ends_at) values ($1, $2, $3, $4)
         returning id, event_id, starts_at, ends_at",
    )
    .bind(id)
    .bind(event_id)
    .bind(r.starts_at)
    .bind(r.ends_at)
    .fetch_one(conn)
    .await
}

pub async fn find(conn: &mut PgConnection, id: &str) -> sqlx::Result<Option<Representation>> {
    sqlx::query_as("select id, event_id, starts_at, ends_at from representations where id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await
}

pub async fn list_for_event(conn: &mut PgConnection, event_id: &str) -> sqlx::Result<Vec<Representation>> {
    sqlx::query_as(
        "select id, event_id, starts_at, ends_at from representations where event_id = $1
         order by starts_at, id",
    )
    .bind(event_id)
    .fetch_all(conn)
    .await
}

/// (representation id, its event id) for the ids of `ids` that are representations.
pub async fn events_of(conn: &mut PgConnection, ids: &[&str]) -> sqlx::Result<Vec<(String, String)>> {
    sqlx::query_as("select id, event_id from representations where id = any($1)").bind(ids).fetch_all(conn).await
}

/// Writes a representation as a catalog import describes it. Its event is never changed (the
/// import refuses moves).
pub async fn upsert(
    conn: &mut PgConnection,
    id: &str,
    event_id: &str,
    r: &NewRepresentation,
) -> sqlx::Result<super::Upserted> {
    let fresh = sqlx::query_scalar(
        "insert into representations as r (id, event_id, starts_at, ends_at)
         values ($1, $2, $3, $4)
         on conflict (id) do update set (starts_at, ends_at) = (excluded.starts_at, excluded.ends_at)
         where (r.starts_at, r.ends_at) is distinct from (excluded.starts_at, excluded.ends_at)
         returning (xmax = 0)",
    )
    .bind(id)
    .bind(event_id)
    .bind(r.starts_at)
    .bind(r.ends_at)
    .fetch_optional(conn)
    .await?;
    Ok(super::Upserted::from_xmax(fresh))
}
