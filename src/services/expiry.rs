//! Ending holds whose time has passed, giving their stock back.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::stock;
use crate::db;

/// Ends the due holds of the item's pool (and the due orders that draw from it). Safe to run any
/// number of times, concurrently.
pub async fn expire_item(pool: &PgPool, offer_id: &str, representation_id: &str) -> sqlx::Result<Vec<Uuid>> {
    let mut tx = pool.begin().await?;
    let Some(pool_id) = db::pools::lock_of_item(&mut tx, offer_id, representation_id).await? else {
        return Ok(vec![]);
    };
    let mut ended = stock::settle(&mut tx, std::slice::from_ref(&pool_id)).await?.expired;
    tx.commit().await?;
    ended.extend(stock::expire_orders(pool, &pool_id).await?);
    Ok(ended)
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

/// Ends due holds of every pool (and promotes the waiting lists that missed freed stock),
/// skipping pools another transaction is working on (it will end them itself). What expiry jobs
/// missed is caught here.
pub async fn sweep(pool: &PgPool) -> sqlx::Result<usize> {
    let mut conn = pool.acquire().await?;
    let mut pools = db::reservations::pools_with_due_holds(&mut conn, 500).await?;
    pools.extend(db::waitlist::pools_to_promote(&mut conn, 500).await?);
    pools.sort();
    pools.dedup();
    drop(conn);
    let mut ended = 0;
    for pool_id in pools {
        let mut tx = pool.begin().await?;
        if db::pools::try_lock(&mut tx, &pool_id).await? {
            ended += stock::settle(&mut tx, std::slice::from_ref(&pool_id)).await?.expired.len();
        }
        tx.commit().await?;
        ended += stock::expire_orders(pool, &pool_id).await?.len();
    }
    Ok(ended)
}
