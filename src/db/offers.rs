use sqlx::PgConnection;

use crate::domain::records::Offer;
use crate::domain::{ItemRefs, NewOffer};

pub async fn insert(conn: &mut PgConnection, id: &str, event_id: &str, o: &NewOffer) -> sqlx::Result<Offer> {
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

pub async fn find(conn: &mut PgConnection, id: &str) -> sqlx::Result<Option<Offer>> {
    sqlx::query_as(
        "select id, event_id, name, description, kind, price_minor, currency, max_quantity_per_order
         from offers where id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await
}

pub async fn list_for_event(conn: &mut PgConnection, event_id: &str) -> sqlx::Result<Vec<Offer>> {
    sqlx::query_as(
        "select id, event_id, name, description, kind, price_minor, currency, max_quantity_per_order
         from offers where event_id = $1 order by id",
    )
    .bind(event_id)
    .fetch_all(conn)
    .await
}

/// What the catalog says of an offer and a representation named together, in one round trip.
pub async fn item_refs(conn: &mut PgConnection, offer_id: &str, representation_id: &str) -> sqlx::Result<ItemRefs> {
    sqlx::query_as(
        "select o.event_id as offer_event, rp.event_id as representation_event, e.organization_id,
                o.max_quantity_per_order, e.sales_open, e.hold_minutes,
                rp.ends_at <= now() as representation_over, p.seated, i.pool_id, e.max_tickets_per_order,
                q.enabled as queue_enabled
         from (select 1) as one
         left join offers o on o.id = $1
         left join events e on e.id = o.event_id
         left join representations rp on rp.id = $2
         left join inventory i on i.offer_id = $1 and i.representation_id = $2
         left join pools p on p.id = i.pool_id
         left join event_queues q on q.event_id = o.event_id",
    )
    .bind(offer_id)
    .bind(representation_id)
    .fetch_one(conn)
    .await
}

/// (offer id, its event id) for the ids of `ids` that are offers.
pub async fn events_of(conn: &mut PgConnection, ids: &[&str]) -> sqlx::Result<Vec<(String, String)>> {
    sqlx::query_as("select id, event_id from offers where id = any($1)").bind(ids).fetch_all(conn).await
}

/// Writes an offer as a catalog import describes it, with its kind (`ticket` unless the file
/// says otherwise).
pub async fn upsert(
    conn: &mut PgConnection,
    id: &str,
    event_id: &str,
    kind: &str,
    o: &NewOffer,
) -> sqlx::Result<super::Upserted> {
    let fresh = sqlx::query_scalar(
        "insert into offers as o (id, event_id, name, description, kind, price_minor,
             currency, max_quantity_per_order)
         values ($1, $2, $3, $4, $5, $6, $7, $8)
         on conflict (id) do update set
             (name, description, kind, price_minor, currency, max_quantity_per_order)
           = (excluded.name, excluded.description, excluded.kind, excluded.price_minor,
              excluded.currency, excluded.max_quantity_per_order)
         where (o.name, o.description, o.kind, o.price_minor, o.currency,
                o.max_quantity_per_order)
               is distinct from
               (excluded.name, excluded.description, excluded.kind, excluded.price_minor,
                excluded.currency, excluded.max_quantity_per_order)
         returning (xmax = 0)",
    )
    .bind(id)
    .bind(event_id)
    .bind(&o.name)
    .bind(&o.description)
    .bind(kind)
    .bind(o.price_minor)
    .bind(&o.currency)
    .bind(o.max_quantity_per_order)
    .fetch_optional(conn)
    .await?;
    Ok(super::Upserted::from_xmax(fresh))
}
