use sqlx::PgConnection;

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
pub struct SeatState {
    pub label: String,
    pub offer_id: String,
    /// `AVAILABLE`, `HELD` or `SOLD`.
    pub status: String,
    pub hold_expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

pub async fn offers(conn: &mut PgConnection, representation_id: &str) -> sqlx::Result<Vec<OfferStock>> {
    sqlx::query_as(
        "select i.offer_id, o.name as offer_name, i.total_stock, i.available, i.held, i.sold, i.seated
         from inventory i join offers o on o.id = i.offer_id
         where i.representation_id = $1
         order by i.offer_id",
    )
    .bind(representation_id)
    .fetch_all(conn)
    .await
}

pub async fn seats(conn: &mut PgConnection, representation_id: &str) -> sqlx::Result<Vec<SeatState>> {
    // Until reservations exist every seat is available; reservations will join their seats here.
    sqlx::query_as(
        "select label, offer_id, 'AVAILABLE' as status, null::timestamptz as hold_expires_at
         from seats where representation_id = $1 order by label",
    )
    .bind(representation_id)
    .fetch_all(conn)
    .await
}
