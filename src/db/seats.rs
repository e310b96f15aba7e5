//! Seats of a representation: labels, places in the hall, and the hall as a whole.

use sqlx::PgConnection;

use crate::domain::hall::HallSeat;
use crate::domain::records::MapSeat;
use crate::domain::seating::NewSeat;

/// Labels among `labels` that the representation already has.
pub async fn existing_labels(
    conn: &mut PgConnection,
    representation_id: &str,
    labels: &[String],
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar("select label from seats where representation_id = $1 and label = any($2) order by label")
        .bind(representation_id)
        .bind(labels)
        .fetch_all(conn)
        .await
}

/// (section, row, number) of the places among `seats` the representation already has a seat at.
pub async fn existing_places(
    conn: &mut PgConnection,
    representation_id: &str,
    seats: &[NewSeat],
) -> sqlx::Result<Vec<(Option<String>, String, i32)>> {
    let placed: Vec<&NewSeat> = seats.iter().filter(|s| s.row.is_some()).collect();
    let sections: Vec<&str> = placed.iter().map(|s| s.section.as_deref().unwrap_or("")).collect();
    let rows: Vec<&str> = placed.iter().map(|s| s.row.as_deref().unwrap_or("")).collect();
    let numbers: Vec<i32> = placed.iter().map(|s| s.number.unwrap_or(0)).collect();
    sqlx::query_as(
        "select s.section, s.row_label, s.number
         from seats s join unnest($2::text[], $3::text[], $4::int[]) as p(section, row_label, number)
           on coalesce(s.section, '') = p.section and s.row_label = p.row_label and s.number = p.number
         where s.representation_id = $1
         order by s.section, s.row_label, s.number",
    )
    .bind(representation_id)
    .bind(&sections)
    .bind(&rows)
    .bind(&numbers)
    .fetch_all(conn)
    .await
}

/// Inserts every seat in one statement, after the representation's seats in the order of
/// arrival; the unique constraints are the judge when two requests race.
pub async fn insert_many(
    conn: &mut PgConnection,
    representation_id: &str,
    offer_id: &str,
    seats: &[NewSeat],
) -> sqlx::Result<Vec<(uuid::Uuid, String)>> {
    let labels: Vec<&str> = seats.iter().map(|s| s.label.as_str()).collect();
    let sections: Vec<Option<&str>> = seats.iter().map(|s| s.section.as_deref()).collect();
    let rows: Vec<Option<&str>> = seats.iter().map(|s| s.row.as_deref()).collect();
    let numbers: Vec<Option<i32>> = seats.iter().map(|s| s.number).collect();
    let ranks: Vec<Option<i32>> = seats.iter().map(|s| s.rank).collect();
    sqlx::query_as(
        "insert into seats (representation_id, offer_id, pool_id, label, section, row_label, number, rank, position)
         select $1, $2, (select i.pool_id from inventory i where i.offer_id = $2 and i.representation_id = $1),
                t.label, t.section, t.row_label, t.number, t.rank, base.at + t.n
         from unnest($3::text[], $4::text[], $5::text[], $6::int[], $7::int[])
                  with ordinality as t(label, section, row_label, number, rank, n),
              (select coalesce(max(position), 0) as at from seats where representation_id = $1) as base
         returning id, label",
    )
    .bind(representation_id)
    .bind(offer_id)
    .bind(&labels)
    .bind(&sections)
    .bind(&rows)
    .bind(&numbers)
    .bind(&ranks)
    .fetch_all(conn)
    .await
}

/// Labels among `labels` that exist in the representation, in the pool this offer sells from.
pub async fn existing_labels_of_offer(
    conn: &mut PgConnection,
    representation_id: &str,
    offer_id: &str,
    labels: &[String],
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "select s.label from seats s join inventory i on i.pool_id = s.pool_id
         where s.representation_id = $1 and i.representation_id = $1 and i.offer_id = $2 and s.label = any($3)",
    )
    .bind(representation_id)
    .bind(offer_id)
    .bind(labels)
    .fetch_all(conn)
    .await
}

/// The offers that sell seats of `section` of the representation (none: no such section).
pub async fn offers_of_section(
    conn: &mut PgConnection,
    representation_id: &str,
    section: &str,
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "select distinct s.offer_id from seats s where s.representation_id = $1 and s.section = $2
         union
         select i.offer_id from inventory i
         where i.pool_id in (select s.pool_id from seats s where s.representation_id = $1 and s.section = $2)
         order by 1",
    )
    .bind(representation_id)
    .bind(section)
    .fetch_all(conn)
    .await
}

/// The seated pools of representations on sale now (sales open, not over) that have seats:
/// (pool, instance, layout version, seats), the largest first.
pub async fn pools_on_sale(conn: &mut PgConnection) -> sqlx::Result<Vec<(String, uuid::Uuid, i64, i32)>> {
    sqlx::query_as(
        "select p.id, p.instance, p.layout_version, p.total_stock
         from pools p
         join events e on e.id = p.event_id
         join representations rp on rp.id = p.representation_id
         where p.seated and p.total_stock > 0 and e.sales_open and rp.ends_at > now()
         order by p.total_stock desc, p.id
         limit 100",
    )
    .fetch_all(conn)
    .await
}

/// The pool's (instance, layout version, seat version): see migration 0015. Read under the pool's
/// lock.
pub async fn versions(conn: &mut PgConnection, pool_id: &str) -> sqlx::Result<(uuid::Uuid, i64, i64)> {
    sqlx::query_as("select instance, layout_version, seats_version from pools where id = $1")
        .bind(pool_id)
        .fetch_one(conn)
        .await
}

/// The seats of the pool taken or freed since its seat version was `since`: (seat, taken now).
/// A seat freed and taken again since then is taken (one active hold per seat at any time).
pub async fn changes(conn: &mut PgConnection, pool_id: &str, since: i64) -> sqlx::Result<Vec<(uuid::Uuid, bool)>> {
    sqlx::query_as(
        "select seat_id, bool_or(active) from reservation_seats
         where pool_id = $1 and changed_version > $2
         group by seat_id",
    )
    .bind(pool_id)
    .bind(since)
    .fetch_all(conn)
    .await
}

/// Every seat of the pool and whether it is taken, for the worker that holds the pool's lock
/// (lapsed holds were ended first, so an active seat hold is a live one or a sale).
pub async fn hall(conn: &mut PgConnection, pool_id: &str) -> sqlx::Result<Vec<HallSeat>> {
    sqlx::query_as::<_, HallRow>(
        "select s.id, s.label, s.section, s.row_label, s.number, s.rank, s.position,
                exists (select 1 from reservation_seats rs where rs.seat_id = s.id and rs.active) as taken
         from seats s
         where s.pool_id = $1",
    )
    .bind(pool_id)
    .fetch_all(conn)
    .await
    .map(|rows| rows.into_iter().map(HallSeat::from).collect())
}

#[derive(sqlx::FromRow)]
struct HallRow {
    id: uuid::Uuid,
    label: String,
    section: Option<String>,
    row_label: Option<String>,
    number: Option<i32>,
    rank: Option<i32>,
    position: i32,
    taken: bool,
}

impl From<HallRow> for HallSeat {
    fn from(r: HallRow) -> Self {
        HallSeat {
            id: r.id,
            label: r.label,
            section: r.section,
            row: r.row_label,
            number: r.number,
            rank: r.rank,
            position: r.position,
            taken: r.taken,
        }
    }
}

/// Every seat of the representation (of one section, if `section` is given) with its status now:
/// a hold past its time is `AVAILABLE` at once. In hall order: sections and rows as laid out,
/// seats by number, then label.
pub async fn map(
    conn: &mut PgConnection,
    representation_id: &str,
    section: Option<&str>,
) -> sqlx::Result<Vec<MapSeat>> {
    sqlx::query_as(
        "select s.id, s.label, s.offer_id, s.section, s.row_label, s.number, s.rank,
                case when r.status in ('confirmed', 'fulfilled') then 'SOLD'
                     when r.status = 'held' and r.hold_expires_at > now() then 'HELD'
                     else 'AVAILABLE' end as status,
                case when r.status = 'held' and r.hold_expires_at > now() then r.hold_expires_at end as hold_expires_at,
                min(s.position) over (partition by s.section) as section_order,
                case when s.row_label is null then s.position
                     else min(s.position) over (partition by s.section, s.row_label) end as row_order
         from seats s
         left join reservation_seats rs on rs.seat_id = s.id and rs.active
         left join reservations r on r.id = rs.reservation_id
         where s.representation_id = $1 and ($2::text is null or s.section = $2)
         order by section_order, row_order, s.number, s.label",
    )
    .bind(representation_id)
    .bind(section)
    .fetch_all(conn)
    .await
}
