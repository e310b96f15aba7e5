//! What every writer of a pool does once it holds the pool's lock: end the holds whose time has
//! passed, then hand the free stock to the waiting lists. Doing both in the writer's transaction
//! is what makes an expired hold expired "for every write at once", and what gives freed stock to
//! waiting people before anyone else.
//!
//! The rule: freed stock of a pool is offered to the people waiting on any item of the pool, in
//! the order they joined across those lists, each whose quantity fits; whatever is left after that
//! is on public sale. Nobody on a list can block a sale, and nothing is handed out while the sale
//! is closed.

use std::collections::BTreeMap;

use sqlx::PgConnection;
use uuid::Uuid;

use super::notify;
use crate::db;
use crate::db::pools::PoolState;
use crate::db::reservations::OfferHold;
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
    /// The pools once settled: what is available now is on public sale.
    pub pools: BTreeMap<String, PoolState>,
}

/// Ends the due holds of `pools` (and the list offers among them), then promotes their lists. The
/// caller holds the pools' locks, so the clock read here is after them. An order that also draws
/// from a pool not in `pools` is left for [`expire_orders`].
pub async fn settle(conn: &mut PgConnection, pools: &[String]) -> sqlx::Result<Settled> {
    let ended = db::reservations::expire_due_holds(conn, pools).await?;
    let expired: Vec<Uuid> = ended.iter().map(|e| e.id).collect();
    // how late each hold ended, and so how late its stock went to the list (the oldest freed unit)
    let worst_lag = ended.iter().map(|e| e.lag).fold(0.0, f64::max);
    for e in &ended {
        metrics::histogram!("hold_expiry_lag_seconds").record(e.lag.max(0.0));
    }
    db::waitlist::end_offers(conn, &expired, EntryStatus::Expired).await?;
    let mut settled = Settled { expired, ..Settled::default() };
    for id in pools {
        let Some(mut pool) = db::pools::state(conn, id).await? else { continue };
        // the offers first: the people waiting are told as soon as the transaction ends either way
        let offered = promote_into(conn, &mut pool).await?;
        if !ended.is_empty() {
            for _ in &offered {
                metrics::histogram!("waitlist_promotion_lag_seconds").record(worst_lag.max(0.0));
            }
        }
        settled.offered.extend(offered);
        settled.pools.insert(id.clone(), pool);
    }
    notify::holds_expired(conn, &settled.expired).await?;
    Ok(settled)
}

/// Offers the pool's available stock to the waiting people (see [`settle`]); the caller holds the
/// pool's lock.
pub async fn promote(conn: &mut PgConnection, pool_id: &str) -> sqlx::Result<Vec<(Uuid, Uuid)>> {
    match db::pools::state(conn, pool_id).await? {
        Some(mut pool) => {
            let offered = promote_into(conn, &mut pool).await?;
            // offered in the transaction that freed the stock: no lag
            for _ in &offered {
                metrics::histogram!("waitlist_promotion_lag_seconds").record(0.0);
            }
            Ok(offered)
        }
        None => Ok(vec![]),
    }
}

/// Ends the due orders of `pool` that also draw from other pools: each in a transaction of its
/// own that locks all its pools in ascending order. Returns the orders ended.
pub async fn expire_orders(db: &sqlx::PgPool, pool: &str) -> sqlx::Result<Vec<Uuid>> {
    let due = db::reservations::orders_due(&mut *db.acquire().await?, pool).await?;
    let mut ended = Vec::new();
    for (_, pools) in due {
        let mut tx = db.begin().await?;
        let locked = db::pools::lock_many(&mut tx, &pools).await?;
        ended.extend(settle(&mut tx, &locked).await?.expired);
        tx.commit().await?;
    }
    Ok(ended)
}

/// In join order across the pool's lists, each waiting person whose quantity fits what is left
/// gets a hold for the event's offer time. Seated pools have no lists (joining one is refused).
/// `pool.available` is what is left afterwards.
async fn promote_into(conn: &mut PgConnection, pool: &mut PoolState) -> sqlx::Result<Vec<(Uuid, Uuid)>> {
    if pool.available == 0 || pool.line_length == 0 || pool.seated || pool.closed().is_some() {
        return Ok(vec![]);
    }
    let before = pool.available;
    let mut entries = Vec::new();
    let mut holds = Vec::new();
    let mut after = 0;
    while pool.available > 0 {
        let page = db::waitlist::waiting_who_fit(conn, &pool.id, pool.available, after, PROMOTE_PAGE).await?;
        let last_page = (page.len() as i64) < PROMOTE_PAGE;
        for w in page {
            after = w.seq;
            if w.requested_quantity <= pool.available {
                pool.available -= w.requested_quantity;
                entries.push(w.id);
                holds.push(OfferHold {
                    id: Uuid::now_v7(),
                    user_id: w.user_id,
                    offer_id: w.offer_id,
                    representation_id: w.representation_id,
                    quantity: w.requested_quantity,
                });
            }
        }
        if last_page {
            break;
        }
    }
    if holds.is_empty() {
        return Ok(vec![]);
    }
    let minutes = pool.waitlist_offer_minutes;
    let due = db::reservations::insert_offer_holds(conn, &pool.id, &holds, minutes).await?;
    db::pools::hold_units(conn, &pool.id, before - pool.available).await?;
    let reservations: Vec<Uuid> = holds.iter().map(|h| h.id).collect();
    db::waitlist::mark_offered(conn, &entries, &reservations).await?;
    if let Some(due_at) = due {
        let mut items: Vec<(&str, &str)> =
            holds.iter().map(|h| (h.offer_id.as_str(), h.representation_id.as_str())).collect();
        items.sort();
        items.dedup();
        for (offer_id, representation_id) in items {
            let job = ExpireHolds { offer_id: offer_id.into(), representation_id: representation_id.into(), due_at };
            db::jobs::enqueue(conn, &job, Some(due_at)).await?;
        }
    }
    notify::waitlist_offers(conn, &reservations).await?;
    tracing::info!(
        pool.id = %pool.id,
        offers = entries.len(),
        units = before - pool.available,
        "offered freed stock to the waiting lists"
    );
    Ok(entries.into_iter().zip(reservations).collect())
}
