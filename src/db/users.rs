use sqlx::PgConnection;

use crate::domain::NewUser;
use crate::domain::records::User;

/// Registers a buyer; `organization`: that of the client key registering them, if it has one.
pub async fn insert(conn: &mut PgConnection, id: &str, u: &NewUser, organization: Option<&str>) -> sqlx::Result<User> {
    sqlx::query_as(
        "insert into users (id, first_name, last_name, email, phone, latitude, longitude, organization_id)
         values ($1, $2, $3, $4, $5, $6, $7, $8)
         returning id, first_name, last_name, email, phone, latitude, longitude, created_at",
    )
    .bind(id)
    .bind(&u.first_name)
    .bind(&u.last_name)
    .bind(&u.email)
    .bind(&u.phone)
    .bind(u.latitude)
    .bind(u.longitude)
    .bind(organization)
    .fetch_one(conn)
    .await
}

pub async fn find(conn: &mut PgConnection, id: &str) -> sqlx::Result<Option<User>> {
    sqlx::query_as(
        "select id, first_name, last_name, email, phone, latitude, longitude, created_at
         from users where id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// Whether an organization may see this buyer: it registered them, or they have a reservation or
/// a waiting-list entry for one of its events.
pub async fn known_to(conn: &mut PgConnection, user_id: &str, organization: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "select exists (select 1 from users where id = $1 and organization_id = $2)
             or exists (select 1 from reservations r join offers o on o.id = r.offer_id join events e on e.id = o.event_id
                        where r.user_id = $1 and e.organization_id = $2)
             or exists (select 1 from waitlist_entries w join offers o on o.id = w.offer_id join events e on e.id = o.event_id
                        where w.user_id = $1 and e.organization_id = $2)",
    )
    .bind(user_id)
    .bind(organization)
    .fetch_one(conn)
    .await
}

/// The ids among `ids` that are buyers.
pub async fn existing(conn: &mut PgConnection, ids: &[String]) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar("select id from users where id = any($1)").bind(ids).fetch_all(conn).await
}

/// Writes a buyer as a catalog import describes it (no phone, no location: the file has none).
pub async fn upsert(conn: &mut PgConnection, id: &str, u: &NewUser) -> sqlx::Result<super::Upserted> {
    let fresh = sqlx::query_scalar(
        "insert into users as u (id, email, first_name, last_name)
         values ($1, $2, $3, $4)
         on conflict (id) do update set
             (email, first_name, last_name)
           = (excluded.email, excluded.first_name, excluded.last_name)
         where (u.email, u.first_name, u.last_name)
               is distinct from (excluded.email, excluded.first_name, excluded.last_name)
         returning (xmax = 0)",
    )
    .bind(id)
    .bind(&u.email)
    .bind(&u.first_name)
    .bind(&u.last_name)
    .fetch_optional(conn)
    .await?;
    Ok(super::Upserted::from_xmax(fresh))
}
