//! Items (an offer of a representation: what is sold and what a waiting list is for) as the
//! catalog describes them, read on the hot paths once a second per item, not once a request.

use sqlx::PgPool;

use super::Result;
use super::cache::{TtlCache, ttl_cache};
use super::virtual_queue::PassKey;
use crate::db;
use crate::domain::ItemRefs;

/// An item: an offer of a representation (what is sold, and what a waiting list is for).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Item {
    pub offer_id: String,
    pub representation_id: String,
}

impl Item {
    pub fn new(offer_id: &str, representation_id: &str) -> Item {
        Item { offer_id: offer_id.to_owned(), representation_id: representation_id.to_owned() }
    }
}

/// What items refer to, recently read. Only items whose offer and representation exist are kept,
/// so an item created a moment ago is never refused for that second; a sale closed (or stock set
/// for the first time) takes effect within that second on every API process.
pub type ItemCache = TtlCache<Item, ItemRefs>;

pub fn cache() -> ItemCache {
    ttl_cache(std::time::Duration::from_secs(1), 10_000)
}

/// What the catalog says of the item `(offer_id, representation_id)`, from `cache` when fresh.
pub async fn refs(pool: &PgPool, cache: &ItemCache, offer_id: &str, representation_id: &str) -> Result<ItemRefs> {
    let item = Item::new(offer_id, representation_id);
    if let Some(refs) = cache.get(&item) {
        return Ok(refs);
    }
    let refs = db::offers::item_refs(&mut *pool.acquire().await?, offer_id, representation_id).await?;
    if refs.event().is_ok() {
        cache.insert(item, refs.clone());
    }
    Ok(refs)
}

/// The offers whose seats are in a section of a representation, recently read: best-available
/// requests naming a section are checked against it on the hot path. Only sections that exist
/// are kept, so a section laid out a moment ago is found at once.
pub type SectionCache = TtlCache<(String, String), Vec<String>>;

/// What a reservation is checked against, per API process.
pub struct Facts {
    pub items: ItemCache,
    pub sections: SectionCache,
    /// The key queue passes are checked with.
    pub passes: PassKey,
}

pub fn facts() -> Facts {
    Facts { items: cache(), sections: ttl_cache(std::time::Duration::from_secs(1), 10_000), passes: PassKey::default() }
}

/// The offers selling seats in `section` of the representation (none: no such section).
pub async fn section_offers(
    pool: &PgPool,
    facts: &Facts,
    representation_id: &str,
    section: &str,
) -> Result<Vec<String>> {
    let key = (representation_id.to_owned(), section.to_owned());
    if let Some(offers) = facts.sections.get(&key) {
        return Ok(offers);
    }
    let offers = db::seats::offers_of_section(&mut *pool.acquire().await?, representation_id, section).await?;
    if !offers.is_empty() {
        facts.sections.insert(key, offers.clone());
    }
    Ok(offers)
}
