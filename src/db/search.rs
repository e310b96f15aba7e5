//! Event search: by distance (GiST index on `ll_to_earth`), date window, availability, with keyset
//! pagination. Two statements rather than one with `$1 is null or ...`, so the planner can use
//! the index for the distance search.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::domain::records::FoundEvent;

/// Filters shared by both searches: `$1`/`$2` are the date window, `$3` "has availability".
macro_rules! filters {
    () => {
        " and ($1::timestamptz is null and $2::timestamptz is null or exists (
              select 1 from representations r where r.event_id = found.id
                and ($1::timestamptz is null or r.starts_at >= $1)
                and ($2::timestamptz is null or r.starts_at < $2)))
          and (not $3 or (found.sales_open and exists (
              select 1 from pools p join representations r on r.id = p.representation_id
              where p.event_id = found.id and p.available > 0
                and ($1::timestamptz is null or r.starts_at >= $1)
                and ($2::timestamptz is null or r.starts_at < $2))))"
    };
}

#[derive(Debug, Clone)]
pub struct Filters {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub available_only: bool,
    /// Rows to fetch (the caller asks one more than it shows, to know if there is a next page).
    pub limit: i64,
}

/// Events within `radius_km` of the point, nearest first, after the `(distance, id)` cursor.
pub async fn near(
    conn: &mut PgConnection,
    (lat, lon): (f64, f64),
    radius_km: f64,
    after: Option<(f64, String)>,
    f: &Filters,
) -> sqlx::Result<Vec<FoundEvent>> {
    let (after_distance, after_id) = after.unzip();
    sqlx::query_as(concat!(
        "select * from (
             select e.*, earth_distance(ll_to_earth($4, $5), ll_to_earth(e.venue_latitude, e.venue_longitude)) / 1000.0
                 as distance_km
             from events e
             where e.venue_latitude is not null
               and earth_box(ll_to_earth($4, $5), $6 * 1000.0) @> ll_to_earth(e.venue_latitude, e.venue_longitude)
         ) found
         where found.distance_km <= $6
           and ($7::float8 is null or (found.distance_km, found.id) > ($7, $8::text))",
        filters!(),
        " order by found.distance_km, found.id limit $9"
    ))
    .bind(f.from)
    .bind(f.to)
    .bind(f.available_only)
    .bind(lat)
    .bind(lon)
    .bind(radius_km)
    .bind(after_distance)
    .bind(after_id)
    .bind(f.limit)
    .fetch_all(conn)
    .await
}

/// Events in id order after the `id` cursor.
pub async fn all(conn: &mut PgConnection, after_id: Option<String>, f: &Filters) -> sqlx::Result<Vec<FoundEvent>> {
    sqlx::query_as(concat!(
        "select * from (select e.*, null::float8 as distance_km from events e) found
         where ($4::text is null or found.id > $4::text)",
        filters!(),
        " order by found.id limit $5"
    ))
    .bind(f.from)
    .bind(f.to)
    .bind(f.available_only)
    .bind(after_id)
    .bind(f.limit)
    .fetch_all(conn)
    .await
}
