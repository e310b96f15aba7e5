use sqlx::PgConnection;

use crate::domain::NewOffer;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OfferRow {
    pub id: String,
    pub event_id: String,
    pub name: String,
    pub description: String,
    pub kind: String,
    pub price_minor: Option<i64>,
    pub currency: String,
    pub max_quantity_per_order: i32,
}

pub async fn insert(conn: &mut PgConnection, id: &str, event_id: &str, o: &NewOffer) -> sqlx::Result<OfferRow> {
    sqlx::query_as(
        "insert into offers (id, event_id, name, description, price_minor, currency, max_quantity_per_order)
         values ($1, $2, $3, $4, $5, $6, $7)
         returning id, event_id, name, description, kind, price_minor, currency, max_quantity_per_order",
    )
    .bind(id)
    .bind(event_id)
    .bind(&o.name)
    .bind(&o.description)
    .bind(o.price_minor)
    .bind(&o.currency)
    .bind(o.max_quantity_per_order)
    .fetch_one(conn)
    .await
}

pub async fn find(conn: &mut PgConnection, id: &str) -> sqlx::Result<Option<OfferRow>> {
    sqlx::query_as(
        "select id, event_id, name, description, kind, price_minor, currency, max_quantity_per_order
         from offers where id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await
}

pub async fn list_for_event(conn: &mut PgConnection, event_id: &str) -> sqlx::Result<Vec<OfferRow>> {
    sqlx::query_as(
        "select id, event_id, name, description, kind, price_minor, currency, max_quantity_per_order
         from offers where event_id = $1 order by id",
    )
    .bind(event_id)
    .fetch_all(conn)
    .await
}
