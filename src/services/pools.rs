//! Capacity pools and the stock of items: an organizer creates a pool of a representation and
//! attaches items to it (Adult, Child and Concession selling the same stalls), or gives an item a
//! total of its own (a pool of its own, as before pools existed).
//!
//! Every change takes the pools' locks (in ascending id order, as every writer of several pools),
//! ends lapsed holds first so that the floor is what is really held and sold, and offers stock
//! that comes back to the waiting lists first.

use sqlx::{PgConnection, PgPool};
use tracing::instrument;

use super::auth::{require_catalog_editor, require_manager_of};
use super::{Error, Result, stock};
use crate::db;
use crate::domain::records::{Inventory, Pool};
use crate::domain::{Principal, StockTotal, ValidationErrors, Validator, trim_blank};

/// How an item gets its stock.
#[derive(Debug, Clone)]
pub enum ItemStock {
    /// A total of its own: the item's own pool, created or resized.
    Total(i64),
    /// Drawn from an existing pool of the same representation.
    Pool(String),
}

/// A new pool, as an organizer describes it.
#[derive(Debug, Clone)]
pub struct NewPool {
    pub id: Option<String>,
    pub name: String,
    pub total_stock: i64,
}

/// The representation's event, checked to be the caller's to manage.
async fn managed_representation(conn: &mut PgConnection, who: &Principal, representation_id: &str) -> Result<String> {
    require_catalog_editor(who)?;
    let rep = (db::representations::find(conn, representation_id).await?)
        .ok_or_else(|| Error::not_found("representation", representation_id))?;
    let event = db::events::find(conn, &rep.event_id).await?.ok_or_else(|| Error::not_found("event", &rep.event_id))?;
    require_manager_of(who, &event.organization_id)?;
    Ok(rep.event_id)
}

/// The pool's fields checked, all problems at once; its name trimmed and its total.
fn check_pool_fields(new: &NewPool) -> Result<(String, StockTotal)> {
    let mut v = Validator::new("body");
    if let Some(id) = &new.id {
        let shape = !trim_blank(id).is_empty() && id.chars().count() <= 100 && !id.chars().any(char::is_control);
        v.check(shape, "id", "must be 1 to 100 characters, not blank, no control characters");
    }
    let name = v.required_text("name", &new.name, 200);
    v.check(new.total_stock > 0, "total_stock", "ensure this value is greater than 0");
    let max = i64::from(StockTotal::MAX);
    v.check(new.total_stock <= max, "total_stock", format!("ensure this value is less than or equal to {max}"));
    v.finish()?;
    Ok((name, StockTotal::parse(new.total_stock)?))
}

/// Creates a pool of the representation (201); a pool id already taken is a 409.
#[instrument(skip_all, fields(representation.id = %representation_id))]
pub async fn create(pool: &PgPool, who: &Principal, representation_id: &str, new: NewPool) -> Result<Pool> {
    let (name, total) = check_pool_fields(&new)?;
    let mut tx = pool.begin().await?;
    let event_id = managed_representation(&mut tx, who, representation_id).await?;
    let id = new.id.clone().unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let created = db::pools::insert(&mut tx, &id, representation_id, &event_id, &name, total.get())
        .await?
        .ok_or_else(|| Error::conflict("ALREADY_EXISTS", format!("a pool with id '{id}' already exists")))?;
    tx.commit().await?;
    Ok(created)
}

/// The pools of a representation (the caller must manage its event).
pub async fn list(pool: &PgPool, who: &Principal, representation_id: &str) -> Result<Vec<Pool>> {
    let mut conn = pool.acquire().await?;
    managed_representation(&mut conn, who, representation_id).await?;
    Ok(db::pools::of_representation(&mut conn, representation_id).await?)
}

/// The pool `pool_id` of the representation, or a 404.
async fn pool_of(conn: &mut PgConnection, representation_id: &str, pool_id: &str) -> Result<Pool> {
    match db::pools::find(conn, pool_id).await? {
        Some(found) if found.representation_id == representation_id => Ok(found),
        _ => Err(Error::not_found("pool", pool_id)),
    }
}

/// Sets a general-admission pool's total; never below what is held and sold (409
/// `STOCK_BELOW_COMMITTED`), and a seated pool's total is its seats (409 `SEATED_INVENTORY`).
#[instrument(skip_all, fields(pool.id = %pool_id))]
pub async fn set_total(
    pool: &PgPool,
    who: &Principal,
    representation_id: &str,
    pool_id: &str,
    total_stock: i64,
) -> Result<Pool> {
    let total = StockTotal::parse(total_stock)?;
    let mut tx = pool.begin().await?;
    managed_representation(&mut tx, who, representation_id).await?;
    pool_of(&mut tx, representation_id, pool_id).await?;
    resize(&mut tx, pool_id, total).await?;
    let row = pool_of(&mut tx, representation_id, pool_id).await?;
    tx.commit().await?;
    Ok(row)
}

/// Locks the pool, ends its lapsed holds, sets its total and offers what came back to the
/// waiting lists first.
async fn resize(conn: &mut PgConnection, pool_id: &str, total: StockTotal) -> Result<()> {
    db::pools::lock(conn, pool_id).await?;
    stock::settle(conn, &[pool_id.to_string()]).await?;
    db::pools::set_total(conn, pool_id, total.get()).await?.ok_or_else(seated)?;
    stock::promote(conn, pool_id).await?;
    Ok(())
}

fn seated() -> Error {
    Error::conflict("SEATED_INVENTORY", "this stock is seated: its total is its seats; add seats instead")
}

/// Sets how an item gets its stock: a total of its own, or an existing pool of the same
/// representation. An item that has units held, sold or waiting for a decision stays in its pool
/// (409 `ITEM_COMMITTED`): the pool's books count them.
#[instrument(skip_all, fields(offer.id = %offer_id, representation.id = %representation_id))]
pub async fn set_item_stock(
    pool: &PgPool,
    who: &Principal,
    offer_id: &str,
    representation_id: &str,
    stock: ItemStock,
) -> Result<Inventory> {
    let mut tx = pool.begin().await?;
    let event_id = super::catalog::managed_item(&mut tx, who, offer_id, representation_id).await?;
    match stock {
        ItemStock::Total(total) => set_own_total(&mut tx, offer_id, representation_id, &event_id, total).await?,
        ItemStock::Pool(pool_id) => attach(&mut tx, offer_id, representation_id, &pool_id).await?,
    }
    let row = db::inventory::find(&mut tx, offer_id, representation_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("inventory of {offer_id}/{representation_id} vanished"))?;
    tx.commit().await?;
    Ok(row)
}

async fn set_own_total(
    conn: &mut PgConnection,
    offer_id: &str,
    representation_id: &str,
    event_id: &str,
    total: i64,
) -> Result<()> {
    let total = StockTotal::parse(total)?;
    let Some(current) = db::pools::of_item(conn, offer_id, representation_id).await? else {
        let own =
            db::inventory::insert_own_pool(conn, offer_id, representation_id, event_id, total.get(), false).await?;
        if db::inventory::insert(conn, offer_id, representation_id, event_id, &own).await? {
            return Ok(());
        }
        // another request created the item meanwhile: this one resizes it as below
        db::pools::retire_if_unused(conn, &own).await?;
        return Box::pin(set_own_total(conn, offer_id, representation_id, event_id, total.get().into())).await;
    };
    db::pools::lock(conn, &current).await?;
    if !db::pools::shared_beyond(conn, &current, offer_id, representation_id).await? {
        return resize(conn, &current, total).await;
    }
    // the item leaves a shared pool for a pool of its own
    stock::settle(conn, std::slice::from_ref(&current)).await?;
    refuse_if_committed(conn, offer_id, representation_id).await?;
    let own = db::inventory::insert_own_pool(conn, offer_id, representation_id, event_id, total.get(), false).await?;
    db::inventory::move_to(conn, offer_id, representation_id, &own).await?;
    Ok(())
}

async fn attach(conn: &mut PgConnection, offer_id: &str, representation_id: &str, pool_id: &str) -> Result<()> {
    let target = db::pools::find(conn, pool_id).await?;
    let target = match target {
        Some(target) if target.representation_id == representation_id => target,
        Some(target) => {
            let message = format!(
                "pool '{pool_id}' belongs to representation '{}', not '{representation_id}'",
                target.representation_id
            );
            return Err(ValidationErrors::single(&["body", "pool_id"], message).into());
        }
        None => return Err(Error::not_found("pool", pool_id)),
    };
    let Some(current) = db::pools::of_item(conn, offer_id, representation_id).await? else {
        db::pools::lock(conn, &target.id).await?;
        if !db::inventory::insert(conn, offer_id, representation_id, &target.event_id, &target.id).await? {
            return Box::pin(attach(conn, offer_id, representation_id, pool_id)).await;
        }
        return Ok(());
    };
    if current == target.id {
        return Ok(());
    }
    let both = [current.clone(), target.id.clone()];
    db::pools::lock_many(conn, &both).await?;
    stock::settle(conn, std::slice::from_ref(&current)).await?;
    refuse_if_committed(conn, offer_id, representation_id).await?;
    if db::pools::find(conn, &current).await?.is_some_and(|p| p.seated) {
        return Err(Error::conflict(
            "SEATED_INVENTORY",
            "this item sells seats: its seats belong to its pool, so it stays in it",
        ));
    }
    db::inventory::move_to(conn, offer_id, representation_id, &target.id).await?;
    db::pools::retire_if_unused(conn, &current).await?;
    Ok(())
}

async fn refuse_if_committed(conn: &mut PgConnection, offer_id: &str, representation_id: &str) -> Result<()> {
    db::inventory::lock_for_move(conn, offer_id, representation_id).await?;
    if db::reservations::item_committed(conn, offer_id, representation_id).await? {
        return Err(Error::conflict(
            "ITEM_COMMITTED",
            "this item has tickets held, sold or being decided in its pool: it stays in that pool",
        ));
    }
    Ok(())
}
