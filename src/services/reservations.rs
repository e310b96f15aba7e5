//! Reservations from the buyer's side: ask, read, confirm, release.

use sqlx::{PgConnection, PgPool};
use tracing::instrument;
use uuid::Uuid;

use super::auth::{require_buyer_agent, require_buyer_agent_of};
use super::cache::TtlCache;
use super::intake::Intake;
use super::{Error, Result};
use crate::db::{self, reservations::NewReservation, reservations::ReservationRow};
use crate::domain::{Principal, ReservationRequest, ValidReservation, ValidationErrors};

/// What the catalog says about a reservation's item, read in one round trip.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ItemFacts {
    offer_event: Option<String>,
    rep_event: Option<String>,
    max_quantity_per_order: Option<i32>,
    rep_over: Option<bool>,
    sales_open: Option<bool>,
    event_hold_minutes: Option<i32>,
    seated: Option<bool>,
    organization_id: Option<String>,
}

async fn item_facts(conn: &mut PgConnection, r: &ValidReservation) -> sqlx::Result<ItemFacts> {
    sqlx::query_as(
        "select o.event_id as offer_event, rp.event_id as rep_event, o.max_quantity_per_order,
                rp.ends_at <= now() as rep_over, e.sales_open, e.hold_minutes as event_hold_minutes, i.seated,
                e.organization_id
         from (select 1) as one
         left join offers o on o.id = $1
         left join representations rp on rp.id = $2
         left join events e on e.id = o.event_id
         left join inventory i on i.offer_id = $1 and i.representation_id = $2",
    )
    .bind(&r.offer_id)
    .bind(&r.representation_id)
    .fetch_one(conn)
    .await
}

/// Item facts recently read, per (offer, representation): the on-sale's hot path reads the
/// catalog once a second, not once a request. A sale closed (or stock set for the first time)
/// takes effect within that second on every API process.
pub type FactsCache = TtlCache<(String, String), ItemFacts>;

pub fn facts_cache() -> FactsCache {
    TtlCache::new(std::time::Duration::from_secs(1), 10_000)
}

/// Checks the request against the catalog, in the order a client can act on; returns the hold time.
/// The buyer is checked by the batch that stores it (see [`Intake`]).
async fn check_against_catalog(
    pool: &PgPool,
    facts: &FactsCache,
    who: &Principal,
    r: &ValidReservation,
) -> Result<i32> {
    let key = (r.offer_id.clone(), r.representation_id.clone());
    let f = match facts.get(&key) {
        Some(f) => f,
        None => {
            let f = item_facts(&mut *pool.acquire().await?, r).await?;
            facts.insert(key, f.clone());
            f
        }
    };
    let Some(offer_event) = f.offer_event else { return Err(Error::not_found("offer", &r.offer_id)) };
    let Some(rep_event) = f.rep_event else { return Err(Error::not_found("representation", &r.representation_id)) };
    if offer_event != rep_event {
        return Err(Error::invalid_reference("the offer and the representation belong to different events"));
    }
    require_buyer_agent_of(who, f.organization_id.as_deref().unwrap_or_default())?;
    let Some(seated) = f.seated else {
        return Err(Error::conflict("NOT_ON_SALE", "no stock is set for this offer and representation"));
    };
    if f.sales_open != Some(true) {
        return Err(Error::conflict("SALES_CLOSED", "sales are closed for this event"));
    }
    if f.rep_over == Some(true) {
        return Err(Error::conflict("REPRESENTATION_OVER", "this representation is over"));
    }
    let max = f.max_quantity_per_order.unwrap_or(1);
    if r.quantity > max {
        return Err(ValidationErrors::single(
            &["body", "quantity"],
            format!("at most {max} tickets per order for this offer"),
        )
        .into());
    }
    match (&r.seat_labels, seated) {
        (None, true) => Err(ValidationErrors::single(&["body", "seats"], "this offer is seated: choose seats").into()),
        (Some(_), false) => {
            Err(ValidationErrors::single(&["body", "seats"], "this offer is general admission: give a quantity").into())
        }
        (Some(labels), true) => {
            let mut conn = pool.acquire().await?;
            let known =
                db::seats::existing_labels_of_offer(&mut conn, &r.representation_id, &r.offer_id, labels).await?;
            let unknown: Vec<&str> = labels.iter().filter(|l| !known.contains(l)).map(String::as_str).collect();
            if unknown.is_empty() {
                Ok(f.event_hold_minutes.unwrap_or(10))
            } else {
                let msg = format!("no such seats for this offer in this representation: {}", unknown.join(", "));
                Err(ValidationErrors::single(&["body", "seats"], msg).into())
            }
        }
        (None, false) => Ok(f.event_hold_minutes.unwrap_or(10)),
    }
}

/// Validates a request and queues it as `pending`; its allocation job is enqueued in the same
/// transaction (by the intake's batch).
#[instrument(skip_all, fields(offer.id = %request.offer_id, representation.id = %request.representation_id))]
pub async fn create(
    pool: &PgPool,
    intake: &Intake,
    who: &Principal,
    facts: &FactsCache,
    request: ReservationRequest,
    request_id: Option<String>,
) -> Result<ReservationRow> {
    require_buyer_agent(who)?;
    let valid = request.validated()?;
    let event_hold = check_against_catalog(pool, facts, who, &valid).await?;
    let new = NewReservation {
        // time-ordered: a reservation's key lands where the last one did in the indexes, not on a
        // random page (74 random bits still make it unguessable)
        id: Uuid::now_v7(),
        hold_minutes: valid.hold_minutes.unwrap_or(event_hold),
        user_id: valid.user_id,
        offer_id: valid.offer_id,
        representation_id: valid.representation_id,
        quantity: valid.quantity,
        seat_labels: valid.seat_labels,
        api_key_id: who.key_id,
        request_id,
    };
    intake.submit(new).await
}

pub async fn get(pool: &PgPool, who: &Principal, id: Uuid) -> Result<ReservationRow> {
    require_buyer_agent(who)?;
    let mut conn = pool.acquire().await?;
    let r =
        db::reservations::find(&mut conn, id).await?.ok_or_else(|| Error::not_found("reservation", &id.to_string()))?;
    require_buyer_agent_of(who, &r.organization_id)?;
    Ok(r)
}
