//! Waiting lists, served with the existing service's error names and order of checks (see
//! ../shared/notes/WAITLIST_CONTRACT.md): user, then offer and representation, then "sold out",
//! then quantity, then "already on the list".

use sqlx::{PgConnection, PgPool};
use tracing::instrument;

use super::auth::{require_buyer_agent, require_buyer_agent_of};
use super::{Error, Result, stock};
use crate::db::{self, waitlist::EntryRow};
use crate::domain::{Principal, RejectionReason};

/// One list: an offer of a representation.
#[derive(Debug, Clone, Copy)]
pub struct List<'a> {
    pub offer_id: &'a str,
    pub representation_id: &'a str,
}

async fn check_user(conn: &mut PgConnection, user_id: &str) -> Result<()> {
    match db::users::find(conn, user_id).await? {
        Some(_) => Ok(()),
        None => Err(Error::NotFound { status: "USER_DOES_NOT_EXIST", message: "User does not exist".into() }),
    }
}

/// The offer and the representation exist and belong to one event whose buyers the caller may act
/// for; returns the offer's maximum per order.
async fn check_list(conn: &mut PgConnection, who: &Principal, list: List<'_>) -> Result<i32> {
    let invalid = Error::invalid_reference;
    let offer = db::offers::find(conn, list.offer_id)
        .await?
        .ok_or_else(|| invalid(format!("Offer {} does not exist", list.offer_id)))?;
    let rep = db::representations::find(conn, list.representation_id)
        .await?
        .ok_or_else(|| invalid(format!("Representation {} does not exist", list.representation_id)))?;
    if offer.event_id != rep.event_id {
        return Err(invalid(format!(
            "Offer {} and representation {} belong to different events",
            list.offer_id, list.representation_id
        )));
    }
    let organization = db::events::organization_of_offer(conn, list.offer_id).await?.unwrap_or_default();
    require_buyer_agent_of(who, &organization)?;
    Ok(offer.max_quantity_per_order)
}

/// Joins the list at its end. Possible only while nothing is available.
#[instrument(skip_all, fields(offer.id = list.offer_id, representation.id = list.representation_id))]
pub async fn join(pool: &PgPool, who: &Principal, list: List<'_>, user_id: &str, quantity: i64) -> Result<EntryRow> {
    require_buyer_agent(who)?;
    let mut tx = pool.begin().await?;
    check_user(&mut tx, user_id).await?;
    let max = check_list(&mut tx, who, list).await?;
    // under the item's lock, after lapsed holds are ended and the list promoted: "sold out" is exact
    if db::inventory::lock(&mut tx, list.offer_id, list.representation_id).await?.is_none() {
        return Err(not_available("no tickets have been put on sale for this offer and representation"));
    }
    let item = stock::settle(&mut tx, list.offer_id, list.representation_id).await?.item.ok_or_else(|| {
        anyhow::anyhow!("the item {}/{} vanished under its lock", list.offer_id, list.representation_id)
    })?;
    match item.closed() {
        Some(RejectionReason::RepresentationOver) => {
            return Err(Error::conflict("REPRESENTATION_OVER", "this representation is over"));
        }
        Some(_) => return Err(Error::conflict("SALES_CLOSED", "sales are closed for this event")),
        None => {}
    }
    if item.seated {
        return Err(not_available("seats are chosen one by one: pick among the seats still available"));
    }
    if item.available > 0 {
        return Err(not_available("tickets are still on sale"));
    }
    if quantity <= 0 {
        return Err(Error::bad_request("INVALID_QUANTITY", "Quantity must be greater than 0"));
    }
    if quantity > i64::from(max) {
        return Err(Error::bad_request("INVALID_QUANTITY", format!("Quantity exceeds maximum of {max}")));
    }
    let entry = db::waitlist::insert(&mut tx, user_id, list.offer_id, list.representation_id, quantity as i32).await?;
    tx.commit().await?;
    Ok(entry)
}

/// The user's entry with its exact rank.
pub async fn position(pool: &PgPool, who: &Principal, list: List<'_>, user_id: &str) -> Result<EntryRow> {
    require_buyer_agent(who)?;
    let mut conn = pool.acquire().await?;
    check_user(&mut conn, user_id).await?;
    check_list(&mut conn, who, list).await?;
    db::waitlist::active_of_user(&mut conn, list.offer_id, list.representation_id, user_id)
        .await?
        .ok_or_else(not_on_list)
}

fn not_on_list() -> Error {
    Error::NotFound { status: "USER_NOT_ON_WAITLIST", message: "User is not on this waitlist".into() }
}

/// The list cannot be joined: `Waitlist is not available - {why}` (the contract's wording when
/// tickets are still on sale, ours for the other reasons).
fn not_available(why: &str) -> Error {
    Error::bad_request("WAITLIST_NOT_AVAILABLE", format!("Waitlist is not available - {why}"))
}

/// Leaves the list. Leaving with an open offer declines it, and the stock moves on at once.
#[instrument(skip_all, fields(offer.id = list.offer_id, representation.id = list.representation_id))]
pub async fn leave(pool: &PgPool, who: &Principal, list: List<'_>, user_id: &str) -> Result<()> {
    require_buyer_agent(who)?;
    let mut tx = pool.begin().await?;
    check_user(&mut tx, user_id).await?;
    check_list(&mut tx, who, list).await?;
    db::inventory::lock(&mut tx, list.offer_id, list.representation_id).await?;
    let entry = db::waitlist::active_of_user(&mut tx, list.offer_id, list.representation_id, user_id)
        .await?
        .ok_or_else(not_on_list)?;
    if entry.status == "offered"
        && let Some(reservation_id) = entry.reservation_id
        && let Some(held) = db::reservations::release_held(&mut tx, reservation_id).await?
    {
        db::inventory::end_hold(&mut tx, list.offer_id, list.representation_id, held.quantity, false).await?;
        db::waitlist::end_offers(&mut tx, &[reservation_id], "declined").await?;
    } else if !db::waitlist::leave_waiting(&mut tx, entry.id).await? {
        // an offer that lapsed a moment ago: settle below ends it
        db::waitlist::end_offers(&mut tx, &entry.reservation_id.into_iter().collect::<Vec<_>>(), "declined").await?;
    }
    stock::settle(&mut tx, list.offer_id, list.representation_id).await?;
    tx.commit().await?;
    Ok(())
}

/// A page of the line, by position.
#[derive(Debug)]
pub struct LinePage {
    pub items: Vec<EntryRow>,
    pub total_count: i64,
    pub page: i64,
    pub page_size: i64,
}

impl LinePage {
    /// At least one page, even when the line is empty.
    pub fn total_pages(&self) -> i64 {
        ((self.total_count + self.page_size - 1) / self.page_size).max(1)
    }
}

pub async fn line(pool: &PgPool, who: &Principal, list: List<'_>, limit: i64, page: i64) -> Result<LinePage> {
    require_buyer_agent(who)?;
    let mut conn = pool.acquire().await?;
    check_list(&mut conn, who, list).await?;
    let offset = (page - 1).saturating_mul(limit);
    let (items, total_count) =
        db::waitlist::page(&mut conn, list.offer_id, list.representation_id, limit, offset).await?;
    // row_number() is computed before the offset: positions are ranks in the whole line
    Ok(LinePage { items, total_count, page, page_size: limit })
}

/// Every entry of a user, with state, rank and open offer.
pub async fn of_user(pool: &PgPool, who: &Principal, user_id: &str) -> Result<Vec<EntryRow>> {
    require_buyer_agent(who)?;
    let mut conn = pool.acquire().await?;
    super::users::visible_user(&mut conn, who, user_id).await?;
    Ok(db::waitlist::of_user(&mut conn, user_id, who.buyer_scope()).await?)
}
