//! Waiting lists, served with the existing service's error names, messages and order of checks:
//! user, then offer and representation, then "sold out", then quantity, then "already on the
//! list". Joins and leaves go through the item's writer ([`super::writer`]), many per transaction;
//! reads answer from one query each, ranks without counting the line.

use sqlx::PgPool;

use super::auth::require_buyer_agent;
use super::items::{self, Item, ItemCache};
use super::standings::Standings;
use super::writer::{Writer, check_list};
use super::{Error, Result};
use crate::db;
use crate::domain::Principal;
use crate::domain::records::WaitlistEntry;

/// One list: an offer of a representation.
#[derive(Debug, Clone, Copy)]
pub struct List<'a> {
    pub offer_id: &'a str,
    pub representation_id: &'a str,
}

impl List<'_> {
    fn item(&self) -> Item {
        Item::new(self.offer_id, self.representation_id)
    }
}

/// Joins the list at its end. Possible only while nothing is available.
pub async fn join(
    writer: &Writer,
    who: &Principal,
    list: List<'_>,
    user_id: &str,
    quantity: i64,
) -> Result<WaitlistEntry> {
    require_buyer_agent(who)?;
    writer.join(who, list.item(), user_id.to_string(), quantity).await
}

/// Leaves the list. Leaving with an open offer declines it, and the stock moves on at once.
pub async fn leave(writer: &Writer, who: &Principal, list: List<'_>, user_id: &str) -> Result<()> {
    require_buyer_agent(who)?;
    writer.leave(who, list.item(), user_id.to_string()).await
}

/// Where a person stands on a waiting list: their rank and how many tickets they asked for.
#[derive(Debug, Clone)]
pub struct WaitlistPosition {
    pub position: i64,
    pub requested_quantity: i32,
}

/// The user's exact rank, read with the other lookups of the moment (see [`Standings`]).
pub async fn position(
    pool: &PgPool,
    cache: &ItemCache,
    standings: &Standings,
    who: &Principal,
    list: List<'_>,
    user_id: &str,
) -> Result<WaitlistPosition> {
    require_buyer_agent(who)?;
    let refs = items::refs(pool, cache, list.offer_id, list.representation_id).await?;
    let read = standings.of(list.item(), user_id.to_string()).await?;
    if !read.user_exists {
        return Err(Error::user_does_not_exist());
    }
    check_list(who, &list.item(), &refs)?;
    let not_on_list =
        || Error::NotFound { status: "USER_NOT_ON_WAITLIST", message: "User is not on this waitlist".into() };
    let position = read.position.ok_or_else(not_on_list)?;
    Ok(WaitlistPosition { position, requested_quantity: read.requested_quantity.unwrap_or(1) })
}

/// A page of the line, by position.
#[derive(Debug)]
pub struct LinePage {
    pub items: Vec<WaitlistEntry>,
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

pub async fn line(
    pool: &PgPool,
    cache: &ItemCache,
    who: &Principal,
    list: List<'_>,
    limit: i64,
    page: i64,
) -> Result<LinePage> {
    require_buyer_agent(who)?;
    check_list(who, &list.item(), &items::refs(pool, cache, list.offer_id, list.representation_id).await?)?;
    let mut conn = pool.acquire().await?;
    let offset = (page - 1).saturating_mul(limit);
    let items = db::waitlist::page(&mut conn, list.offer_id, list.representation_id, limit, offset).await?;
    let total_count = db::waitlist::length(&mut conn, list.offer_id, list.representation_id).await?;
    Ok(LinePage { items, total_count, page, page_size: limit })
}

/// Every entry of a user, with state, rank and open offer.
pub async fn of_user(pool: &PgPool, who: &Principal, user_id: &str) -> Result<Vec<WaitlistEntry>> {
    require_buyer_agent(who)?;
    let mut conn = pool.acquire().await?;
    super::users::visible_user(&mut conn, who, user_id).await?;
    Ok(db::waitlist::of_user(&mut conn, user_id, who.buyer_scope()).await?)
}
