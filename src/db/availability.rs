use sqlx::PgConnection;

use crate::domain::SeatState;
use crate::domain::records::SectionStock;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OfferStock {
    pub offer_id: String,
    /// The pool the offer draws from here: the counts are the pool's.
    pub pool_id: String,
    pub offer_name: String,
    pub total_stock: i32,
    pub available: i32,
    pub held: i32,
    pub sold: i32,
    pub seated: bool,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SeatRow {
    pub id: uuid::Uuid,
    pub label: String,
    pub offer_id: String,
    pub status: SeatState,
    pub hold_expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

pub async fn offers(conn: &mut PgConnection, representation_id: &str) -> sqlx::Result<Vec<OfferStock>> {
    // holds past their time count as available at once, before a job has moved the books
    sqlx::query_as(
        "select i.offer_id, p.id as pool_id, o.name as offer_name, p.total_stock,
                p.available + x.lapsed as available, p.held - x.lapsed as held, p.sold, p.seated
         from inventory i
         join pools p on p.id = i.pool_id
         join offers o on o.id = i.offer_id
         cross join lateral (
             select coalesce(sum(r.quantity), 0)::int as lapsed from reservations r
             where r.pool_id = p.id and r.status = 'held' and r.hold_expires_at <= now()
         ) x
         where i.representation_id = $1
         order by i.offer_id",
    )
    .bind(representation_id)
    .fetch_all(conn)
    .await
}

/// The representation's seats (of one section, if `section` is given) with their status now.
pub async fn seats(
    conn: &mut PgConnection,
    representation_id: &str,
    section: Option<&str>,
) -> sqlx::Result<Vec<SeatRow>> {
    sqlx::query_as(
        "select s.id, s.label, s.offer_id,
                case when r.status in ('confirmed', 'fulfilled') then 'SOLD'
                     when r.status = 'held' and r.hold_expires_at > now() then 'HELD'
                     else 'AVAILABLE' end as status,
                case when r.status = 'held' and r.hold_expires_at > now() then r.hold_expires_at end as hold_expires_at
         from seats s
         left join reservation_seats rs on rs.seat_id = s.id and rs.active
         left join reservations r on r.id = rs.reservation_id
         where s.representation_id = $1 and ($2::text is null or s.section = $2)
         order by s.label",
    )
    .bind(representation_id)
    .bind(section)
    .fetch_all(conn)
    .await
}

/// The counts of each section of the representation now, in the order laid out.
pub async fn sections(conn: &mut PgConnection, representation_id: &str) -> sqlx::Result<Vec<SectionStock>> {
    sqlx::query_as(
        "select x.section,
                count(*) filter (where x.state = 'AVAILABLE')::int as available,
                count(*) filter (where x.state = 'HELD')::int as held,
                count(*) filter (where x.state = 'SOLD')::int as sold
         from (
             select s.section, s.position,
                    case when r.status in ('confirmed', 'fulfilled') then 'SOLD'
                         when r.status = 'held' and r.hold_expires_at > now() then 'HELD'
                         else 'AVAILABLE' end as state
             from seats s
             left join reservation_seats rs on rs.seat_id = s.id and rs.active
             left join reservations r on r.id = rs.reservation_id
             where s.representation_id = $1
         ) x
         group by x.section
         order by min(x.position)",
    )
    .bind(representation_id)
    .fetch_all(conn)
    .await
}
