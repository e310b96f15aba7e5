//! What the database already holds of the catalog being imported.

use std::collections::{HashMap, HashSet};

use sqlx::PgConnection;

use super::read::Catalog;
use crate::db;
pub(crate) use crate::db::inventory::Books;
pub(crate) use crate::db::pools::PoolBooks;

/// What the database holds of what the catalog defines or refers to.
#[derive(Debug, Default)]
pub(crate) struct Existing {
    /// Ids of events.
    pub events: HashSet<String>,
    /// Representation id -> its event id.
    pub representations: HashMap<String, String>,
    /// Offer id -> its event id.
    pub offers: HashMap<String, String>,
    /// (offer id, representation id) -> its stock.
    pub inventory: HashMap<(String, String), Books>,
    /// Pool id -> its books, for the pools the catalog defines or refers to.
    pub pools: HashMap<String, PoolBooks>,
    /// The time zones of events.csv that PostgreSQL knows (the API asks it too).
    pub timezones: HashSet<String>,
}

/// What the database holds of what `catalog` defines or refers to. The inventory rows are
/// locked until the transaction ends, so that the holds checked are the holds overwritten.
pub(crate) async fn load_existing(conn: &mut PgConnection, catalog: &Catalog) -> Result<Existing, sqlx::Error> {
    let reps = catalog.representations.iter().map(|l| &l.row);
    let offers = catalog.offers.iter().map(|l| &l.row);
    let stock = catalog.inventory.iter().map(|l| &l.row);

    let event_ids: Vec<&str> =
        (reps.clone().map(|r| r.event_id.as_str())).chain(offers.clone().map(|o| o.event_id.as_str())).collect();
    let rep_ids: Vec<&str> = (reps.map(|r| r.id.as_str()))
        .chain(stock.clone().map(|s| s.representation_id.as_str()))
        .chain(catalog.pools.iter().map(|l| l.row.representation_id.as_str()))
        .collect();
    let offer_ids: Vec<&str> =
        (offers.map(|o| o.offer_id.as_str())).chain(stock.clone().map(|s| s.offer_id.as_str())).collect();
    let items: Vec<(&str, &str)> = stock.map(|s| (s.offer_id.as_str(), s.representation_id.as_str())).collect();
    let zones: Vec<&str> = catalog.events.iter().map(|l| l.row.timezone.as_str()).collect();
    let pool_ids: Vec<&str> = (catalog.pools.iter().map(|l| l.row.id.as_str()))
        .chain(catalog.inventory.iter().filter_map(|l| l.row.pool_id.as_deref()))
        .collect();

    // every pool read below is locked first, in one statement in ascending order, as every writer
    // of several pools locks them
    let mut all_pools: Vec<String> = pool_ids.iter().map(|p| p.to_string()).collect();
    all_pools.extend(db::inventory::pools_of_items(conn, &items).await?);
    db::pools::lock_many(conn, &all_pools).await?;

    Ok(Existing {
        events: db::events::existing(conn, &event_ids).await?.into_iter().collect(),
        representations: db::representations::events_of(conn, &rep_ids).await?.into_iter().collect(),
        offers: db::offers::events_of(conn, &offer_ids).await?.into_iter().collect(),
        pools: db::pools::books_for_update(conn, &pool_ids).await?.into_iter().map(|p| (p.id.clone(), p)).collect(),
        inventory: db::inventory::books_for_update(conn, &items).await?.into_iter().collect(),
        timezones: db::events::known_timezones(conn, &zones).await?.into_iter().collect(),
    })
}
