//! What every writer of an item does once it holds the item's lock: end the holds whose time has
//! passed, then hand the free stock to the waiting list. Doing both in the writer's transaction is
//! what makes an expired hold expired "for every write at once", and what gives freed stock to
//! waiting people before anyone else.
//!
//! The rule: freed stock is offered in line order to each waiting person whose quantity fits;
//! whatever is left after that is on public sale. Nobody on a list can block a sale, and nothing is
//! handed out while the item's sale is closed.

use sqlx::PgConnection;
use uuid::Uuid;

use super::notify;
use crate::db;
use crate::db::inventory::ItemState;
use crate::domain::EntryStatus;
use crate::domain::job::ExpireHolds;

/// Waiting people read per query while promoting (the loop goes on until nobody else fits).
const PROMOTE_PAGE: i64 = 500;

#[derive(Debug, Default)]
pub struct Settled {
    /// Holds that ended because their time had passed.
    pub expired: Vec<Uuid>,
    /// Offers made to waiting people: (entry, reservation).
    pub offered: Vec<(Uuid, Uuid)>,
    /// The item once settled: what is available now is on public sale. `None` if it has no stock.
    pub item: Option<ItemState>,
}

/// Ends the item's due holds (and the list offers among them), then promotes the list. The caller
/// holds the item's lock ([`db::inventory::lock`]), so the clock read here is after it.
pub async fn settle(conn: &mut PgConnection, offer_id: &str, representation_id: &str) -> sqlx::Result<Settled> {
    let ended = db::reservations::expire_due_holds(conn, offer_id, representation_id).await?;
    let expired: Vec<Uuid> = ended.iter().map(|(id, _)| *id).collect();
    // how late each hold ended, and so how late its stock went to the list (the oldest freed unit)
    let worst_lag = ended.iter().map(|(_, lag)| *lag).fold(0.0, f64::max);
    for (_, lag) in &ended {
        metrics::histogram!("hold_expiry_lag_seconds").record(lag.max(0.0));
    }
    db::waitlist::end_offers(conn, &expired, EntryStatus::Expired).await?;
    let Some(mut item) = db::inventory::state(conn, offer_id, representation_id).await? else {
        notify::holds_expired(conn, &expired).await?;
        return Ok(Settled { expired, ..Settled::default() });
    };
    // the offers first: the people waiting are told as soon as the transaction ends either way
    let offered = promote_into(conn, offer_id, representation_id, &mut item).await?;
    if !ended.is_empty() {
        for _ in &offered {
            metrics::histogram!("waitlist_promotion_lag_seconds").record(worst_lag.max(0.0));
        }
    }
    notify::holds_expired(conn, &expired).await?;
    Ok(Settled { expired, offered, item: Some(item) })
}

/// Offers the item's available stock to the waiting people (see [`settle`]); the caller holds the
/// item's lock.
pub async fn promote(
    conn: &mut PgConnection,
    offer_id: &str,
    representation_id: &str,
) -> sqlx::Result<Vec<(Uuid, Uuid)>> {
    match db::inventory::state(conn, offer_id, representation_id).await? {
        Some(mut item) => {
            let offered = promote_into(conn, offer_id, representation_id, &mut item).await?;
            // offered in the transaction that freed the stock: no lag
            for _ in &offered {
                metrics::histogram!("waitlist_promotion_lag_seconds").record(0.0);
            }
            Ok(offered)
        }
        None => Ok(vec![]),
    }
}

/// In line order, each waiting person whose quantity fits what is left gets a hold for the event's
/// offer time. Seated items have no lists (joining one is refused). `item.available` is what is
/// left afterwards.
async fn promote_into(
    conn: &mut PgConnection,
    offer_id: &str,
    representation_id: &str,
    item: &mut ItemState,
) -> sqlx::Result<Vec<(Uuid, Uuid)>> {
    if item.available == 0 || item.line_length == 0 || item.seated || item.closed().is_some() {
        return Ok(vec![]);
    }
    let before = item.available;
    let mut entries = Vec::new();
    let mut holds = Vec::new();
    let mut after = 0;
    while item.available > 0 {
        let page =
            db::waitlist::waiting_who_fit(conn, offer_id, representation_id, item.available, after, PROMOTE_PAGE)
                .await?;
        let last_page = (page.len() as i64) < PROMOTE_PAGE;
        for w in page {
            after = w.line_no;
            if w.requested_quantity <= item.available {
                item.available -= w.requested_quantity;
                entries.push(w.id);
                holds.push((Uuid::now_v7(), w.user_id, w.requested_quantity));
            }
        }
        if last_page {
            break;
        }
    }
    if holds.is_empty() {
        return Ok(vec![]);
    }
    let minutes = item.waitlist_offer_minutes;
    let due = db::reservations::insert_offer_holds(conn, offer_id, representation_id, &holds, minutes).await?;
    db::inventory::hold_units(conn, offer_id, representation_id, before - item.available).await?;
    let reservations: Vec<Uuid> = holds.iter().map(|h| h.0).collect();
    db::waitlist::mark_offered(conn, &entries, &reservations).await?;
    if let Some(due_at) = due {
        let job = ExpireHolds { offer_id: offer_id.into(), representation_id: representation_id.into(), due_at };
        db::jobs::enqueue(conn, &job, Some(due_at)).await?;
    }
    notify::waitlist_offers(conn, &reservations).await?;
    tracing::info!(
        offer.id = offer_id,
        representation.id = representation_id,
        offers = entries.len(),
        units = before - item.available,
        "offered freed stock to the waiting list"
    );
    Ok(entries.into_iter().zip(reservations).collect())
}
