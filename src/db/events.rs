use sqlx::PgConnection;

use crate::domain::records::Event;
use crate::domain::{EventPatch, NewEvent};

/// Binds an event's id and its 13 columns as `$1..$14`, in the order of `insert` and `upsert`.
macro_rules! bind_event {
    ($query:expr, $id:expr, $e:expr) => {
        $query
            .bind($id)
            .bind(&$e.organization_id)
            .bind(&$e.title)
            .bind(&$e.description)
            .bind(&$e.thumbnail_url)
            .bind(&$e.venue_name)
            .bind(&$e.venue_address)
            .bind($e.venue_latitude)
            .bind($e.venue_longitude)
            .bind(&$e.timezone)
            .bind($e.hold_minutes)
            .bind($e.waitlist_offer_minutes)
            .bind($e.sales_open)
            .bind($e.max_tickets_per_order)
    };
}

pub async fn insert(conn: &mut PgConnection, id: &str, e: &NewEvent) -> sqlx::Result<Event> {
    let query = sqlx::query_as(
        "insert into events (id, organization_id, title, description, thumbnail_url, venue_name,
             venue_address, venue_latitude, venue_longitude, timezone, hold_minutes,
             waitlist_offer_minutes, sales_open, max_tickets_per_order)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
         returning *",
    );
    bind_event!(query, id, e).fetch_one(conn).await
}

pub async fn find(conn: &mut PgConnection, id: &str) -> sqlx::Result<Option<Event>> {
    sqlx::query_as("select * from events where id = $1").bind(id).fetch_optional(conn).await
}

/// Applies the fields present in `p`; `for update` is not needed: one statement.
pub async fn update(conn: &mut PgConnection, id: &str, p: &EventPatch) -> sqlx::Result<Option<Event>> {
    sqlx::query_as(
        "update events set
             title = coalesce($2, title),
             description = coalesce($3, description),
             thumbnail_url = coalesce($4, thumbnail_url),
             venue_name = coalesce($5, venue_name),
             venue_address = coalesce($6, venue_address),
             venue_latitude = coalesce($7, venue_latitude),
             venue_longitude = coalesce($8, venue_longitude),
             timezone = coalesce($9, timezone),
             hold_minutes = coalesce($10, hold_minutes),
             waitlist_offer_minutes = coalesce($11, waitlist_offer_minutes),
             sales_open = coalesce($12, sales_open),
             max_tickets_per_order = coalesce($13, max_tickets_per_order),
             updated_at = now()
         where id = $1
         returning *",
    )
    .bind(id)
    .bind(&p.title)
    .bind(&p.description)
    .bind(&p.thumbnail_url)
    .bind(&p.venue_name)
    .bind(&p.venue_address)
    .bind(p.venue_latitude)
    .bind(p.venue_longitude)
    .bind(&p.timezone)
    .bind(p.hold_minutes)
    .bind(p.waitlist_offer_minutes)
    .bind(p.sales_open)
    .bind(p.max_tickets_per_order)
    .fetch_optional(conn)
    .await
}

/// `at` on the wall clocks of the time zone `tz` (an IANA name PostgreSQL knows), from
/// PostgreSQL's copy of the time zone database, as [`timezone_known`] checks the name.
pub async fn wall_clock(
    conn: &mut PgConnection,
    at: chrono::DateTime<chrono::Utc>,
    tz: &str,
) -> sqlx::Result<chrono::NaiveDateTime> {
    sqlx::query_scalar("select $1 at time zone $2").bind(at).bind(tz).fetch_one(conn).await
}

/// PostgreSQL knows the IANA time zones; asking it avoids shipping a second copy of the database.
pub async fn timezone_known(conn: &mut PgConnection, tz: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar("select exists (select 1 from pg_timezone_names where name = $1)").bind(tz).fetch_one(conn).await
}

/// The offer time of the waiting lists of an offer's event.
pub async fn waitlist_offer_minutes_of_offer(conn: &mut PgConnection, offer_id: &str) -> sqlx::Result<i32> {
    sqlx::query_scalar(
        "select e.waitlist_offer_minutes from offers o join events e on e.id = o.event_id where o.id = $1",
    )
    .bind(offer_id)
    .fetch_one(conn)
    .await
}

/// The organization of an offer's event.
pub async fn organization_of_offer(conn: &mut PgConnection, offer_id: &str) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("select e.organization_id from offers o join events e on e.id = o.event_id where o.id = $1")
        .bind(offer_id)
        .fetch_optional(conn)
        .await
}

/// The time zones of `names` that PostgreSQL knows.
pub async fn known_timezones(conn: &mut PgConnection, names: &[&str]) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar("select name from pg_timezone_names where name = any($1)").bind(names).fetch_all(conn).await
}

/// The ids of `ids` that are events.
pub async fn existing(conn: &mut PgConnection, ids: &[&str]) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar("select id from events where id = any($1)").bind(ids).fetch_all(conn).await
}

/// Writes an event as a catalog import describes it: its sale settings (hold time, offer time,
/// sales open) are the organizer's, set on insert and never overwritten.
pub async fn upsert(conn: &mut PgConnection, id: &str, e: &NewEvent) -> sqlx::Result<super::Upserted> {
    let query = sqlx::query_scalar(
        "insert into events as e (id, organization_id, title, description, thumbnail_url,
             venue_name, venue_address, venue_latitude, venue_longitude, timezone, hold_minutes,
             waitlist_offer_minutes, sales_open, max_tickets_per_order)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
         on conflict (id) do update set
             (organization_id, title, description, thumbnail_url, venue_name, venue_address,
              venue_latitude, venue_longitude, timezone, updated_at)
           = (excluded.organization_id, excluded.title, excluded.description,
              excluded.thumbnail_url, excluded.venue_name, excluded.venue_address,
              excluded.venue_latitude, excluded.venue_longitude, excluded.timezone, now())
         where (e.organization_id, e.title, e.description, e.thumbnail_url, e.venue_name,
                e.venue_address, e.venue_latitude, e.venue_longitude, e.timezone)
               is distinct from
               (excluded.organization_id, excluded.title, excluded.description,
                excluded.thumbnail_url, excluded.venue_name, excluded.venue_address,
                excluded.venue_latitude, excluded.venue_longitude, excluded.timezone)
         returning (xmax = 0)",
    );
    let fresh = bind_event!(query, id, e).fetch_optional(conn).await?;
    Ok(super::Upserted::from_xmax(fresh))
}
