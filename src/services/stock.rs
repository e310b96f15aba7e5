//! What every writer of an item does once it holds the item's lock: end the holds whose time has
//! passed, then hand the free stock to the waiting list. Doing both in the writer's transaction is
//! what makes an expired hold expired "for every write at once", and what gives freed stock to
//! waiting people before anyone else.

use sqlx::PgConnection;
use uuid::Uuid;

use super::notify;
use crate::{db, jobs};

/// Waiting people offered per settle at most (the rest on the next writer or sweep).
const PROMOTE_BATCH: i64 = 500;

#[derive(Debug, Default)]
pub struct Settled {
    /// Holds that ended because their time had passed.
    pub expired: Vec<Uuid>,
    /// Offers made to waiting people: (entry, reservation).
    pub offered: Vec<(Uuid, Uuid)>,
}

/// Ends the item's due holds (and the list offers among them), then promotes the list. The caller
/// holds the item's lock ([`db::inventory::lock`]).
pub async fn settle(conn: &mut PgConnection, offer_id: &str, representation_id: &str) -> sqlx::Result<Settled> {
    let expired = db::reservations::expire_due_holds(conn, offer_id, representation_id).await?;
    db::waitlist::end_offers(conn, &expired, "expired").await?;
    notify::holds_expired(conn, &expired).await?;
    let offered = promote(conn, offer_id, representation_id).await?;
    Ok(Settled { expired, offered })
}

/// Offers the item's available stock to the waiting people, in line order: each whose quantity
/// fits gets a hold for the event's offer time.
pub async fn promote(
    conn: &mut PgConnection,
    offer_id: &str,
    representation_id: &str,
) -> sqlx::Result<Vec<(Uuid, Uuid)>> {
    let Some(item) = db::inventory::find(conn, offer_id, representation_id).await? else { return Ok(vec![]) };
    if item.available == 0 || item.seated {
        return Ok(vec![]);
    }
    let line = db::waitlist::waiting_line(conn, offer_id, representation_id, PROMOTE_BATCH).await?;
    let mut available = item.available;
    let mut entries = Vec::new();
    let mut holds = Vec::new();
    for w in line {
        if available == 0 {
            break;
        }
        if w.requested_quantity <= available {
            available -= w.requested_quantity;
            entries.push(w.id);
            holds.push((Uuid::new_v4(), w.user_id, w.requested_quantity));
        }
    }
    if holds.is_empty() {
        return Ok(vec![]);
    }
    let minutes = db::events::waitlist_offer_minutes_of_offer(conn, offer_id).await?;
    let due = db::reservations::insert_offer_holds(conn, offer_id, representation_id, &holds, minutes).await?;
    let granted = item.available - available;
    db::inventory::hold_units(conn, offer_id, representation_id, granted).await?;
    let reservations: Vec<Uuid> = holds.iter().map(|h| h.0).collect();
    db::waitlist::mark_offered(conn, &entries, &reservations).await?;
    if let Some(due) = due {
        jobs::enqueue_expiry(conn, offer_id, representation_id, due).await?;
    }
    notify::waitlist_offers(conn, &reservations).await?;
    tracing::info!(
        offer.id = offer_id,
        representation.id = representation_id,
        offers = entries.len(),
        units = granted,
        "offered freed stock to the waiting list"
    );
    Ok(entries.into_iter().zip(reservations).collect())
}
