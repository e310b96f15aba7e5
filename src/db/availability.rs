use sqlx::PgConnection;

use crate::domain::SeatState;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OfferStock {
    pub offer_id: String,
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
        "select i.offer_id, o.name as offer_name, i.total_stock,
                i.available + x.lapsed as available, i.held - x.lapsed as held, i.sold, i.seated
         from inventory i
         join offers o on o.id = i.offer_id
         cross join lateral (
             select coalesce(sum(r.quantity), 0)::int as lapsed from reservations r
             where r.offer_id = i.offer_id and r.representation_id = i.representation_id
               and r.status = 'held' and r.hold_expires_at <= now()
         ) x
         where i.representation_id = $1
         order by i.offer_id",
    )
    .bind(representation_id)
    .fetch_all(conn)
    .await
}

pub async fn seats(conn: &mut PgConnection, representation_id: &str) -> sqlx::Result<Vec<SeatRow>> {
    sqlx::query_as(
        "select s.id, s.label, s.offer_id,
                case when r.status in ('confirmed', 'fulfilled') then 'SOLD'
                     when r.status = 'held' and r.hold_expires_at > now() then 'HELD'
                     else 'AVAILABLE' end as status,
                case when r.status = 'held' and r.hold_expires_at > now() then r.hold_expires_at end as hold_expires_at
         from seats s
         left join reservation_seats rs on rs.seat_id = s.id and rs.active
         left join reservations r on r.id = rs.reservation_id
         where s.representation_id = $1
         order by s.label",
    )
    .bind(representation_id)
    .fetch_all(conn)
    .await
}
