//! Ending holds whose time has passed, giving their stock back.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::stock;
use crate::db;

/// Ends the item's due holds. Safe to run any number of times, concurrently.
pub async fn expire_item(pool: &PgPool, offer_id: &str, representation_id: &str) -> sqlx::Result<Vec<Uuid>> {
    let mut tx = pool.begin().await?;
    if db::inventory::lock(&mut tx, offer_id, representation_id).await?.is_none() {
        return Ok(vec![]);
    }
    let settled = stock::settle(&mut tx, offer_id, representation_id).await?;
    tx.commit().await?;
    Ok(settled.expired)
}

/// The expiry job: apalis truncates `run_at` to whole seconds, so it may come up to a second early;
/// wait for the database's clock to reach `due_at`, then end the holds.
pub async fn expire_when_due(
    pool: &PgPool,
    offer_id: &str,
    representation_id: &str,
    due_at: DateTime<Utc>,
) -> sqlx::Result<Vec<Uuid>> {
    let early = db::seconds_until(pool, due_at).await?;
    if early > 0.0 {
        tokio::time::sleep(std::time::Duration::from_secs_f64(early.min(5.0))).await;
    }
    expire_item(pool, offer_id, representation_id).await
}

/// Ends due holds of every item (and promotes the waiting lists that missed freed stock), skipping items another transaction is working on (it will end
/// them itself). What expiry jobs missed is caught here.
pub async fn sweep(pool: &PgPool) -> sqlx::Result<usize> {
    let mut conn = pool.acquire().await?;
    let mut items = db::reservations::items_with_due_holds(&mut conn, 500).await?;
    items.extend(db::waitlist::items_to_promote(&mut conn, 500).await?);
    items.sort();
    items.dedup();
    drop(conn);
    let mut ended = 0;
    for (offer_id, representation_id) in items {
        let mut tx = pool.begin().await?;
        if db::inventory::try_lock(&mut tx, &offer_id, &representation_id).await?.is_some() {
            ended += stock::settle(&mut tx, &offer_id, &representation_id).await?.expired.len();
        }
        tx.commit().await?;
    }
    Ok(ended)
}
