//! The virtual queue in front of an event's on-sale (see [`crate::domain::queue`]): its settings,
//! joining it, where an entry stands, the public view of the draw, and admission.

pub mod admission;
pub mod joins;
pub mod passes;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use data_encoding::HEXLOWER;
use ed25519_dalek::SigningKey;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::auth::require_buyer_agent_of;
use super::{Error, Result};
use crate::db;
use crate::db::queue::{Counts, EntryRow, QueueRow};
use crate::domain::Principal;
use crate::domain::queue::{
    self as rules, EntryFacts, EntryStanding, EntryState, PassClaims, QueuePatch, QueueSettings,
};

pub use joins::Joins;
pub use passes::PassKey;

/// A queue as its event shows it.
#[derive(Debug, Clone)]
pub struct QueueInfo {
    pub settings: QueueSettings,
    pub seed_commitment: String,
    /// The seed in lowercase hex, once the pre-queue is drawn.
    pub seed: Option<String>,
    pub drawn_at: Option<DateTime<Utc>>,
}

impl From<&QueueRow> for QueueInfo {
    fn from(q: &QueueRow) -> Self {
        QueueInfo {
            settings: q.settings(),
            seed_commitment: rules::commitment(&q.seed),
            seed: q.drawn_at.map(|_| HEXLOWER.encode(&q.seed)),
            drawn_at: q.drawn_at,
        }
    }
}

/// The queue of an event, if it has one.
pub async fn info(conn: &mut PgConnection, event_id: &str) -> Result<Option<QueueInfo>> {
    Ok(db::queue::find(conn, event_id).await?.as_ref().map(QueueInfo::from))
}

/// Applies the organizer's queue settings to a locked, managed event. The first time, the seed is
/// drawn; later, it is kept. Once the pre-queue is drawn, the sale's opening can no longer move.
pub async fn configure(conn: &mut PgConnection, event_id: &str, patch: QueuePatch) -> Result<()> {
    let current = db::queue::lock(conn, event_id).await?;
    let settings = patch.merged(current.as_ref().map(QueueRow::settings).as_ref())?;
    if let Some(q) = &current
        && let Some(drawn_at) = q.drawn_at
        && (settings.sale_opens_at != q.sale_opens_at || settings.prequeue_opens_at != q.prequeue_opens_at)
    {
        return Err(Error::conflict(
            "QUEUE_ALREADY_DRAWN",
            format!("the pre-queue was drawn at {drawn_at}: its opening times can no longer change"),
        ));
    }
    db::queue::save(conn, event_id, &settings, &rules::new_seed()).await?;
    Ok(())
}

/// An entry as its user is told.
#[derive(Debug, Clone)]
pub struct Entry {
    pub id: Uuid,
    pub event_id: String,
    pub user_id: String,
    pub standing: EntryStanding,
    pub joined_at: DateTime<Utc>,
    pub admitted_at: Option<DateTime<Utc>>,
    pub pass: Option<String>,
    pub pass_expires_at: Option<DateTime<Utc>>,
    /// What the state means for the user, and what to do.
    pub message: String,
    /// Sold out: the waiting lists to join, as (offer id, representation id).
    pub waitlists: Vec<(String, String)>,
    /// Opens this entry's stream and waiting-room page without an API key.
    pub token: String,
    /// The database time of the last change to what this shows: the entry's own (joined,
    /// admitted, its pass expired), its queue's or its event's stock (the stock only as
    /// [`streamed`] reads it). Only ever moves on, as the streams read it.
    pub as_of: DateTime<Utc>,
}

fn facts_of(row: &EntryRow) -> EntryFacts {
    EntryFacts {
        place: row.place,
        pass_expires_at: row.pass_expires_at,
        admitted_through: row.admitted_through,
        admit_per_minute: row.admit_per_minute,
        sold_out: row.sold_out,
        now: row.now,
    }
}

/// Tells the entry of `row`: its pass signed with `key` while admitted. The key is had before the
/// connection: loading it takes one of its own, and a burst of readers each holding a connection
/// while waiting for the key would leave none to load it.
async fn entry_of(conn: &mut PgConnection, key: &SigningKey, row: EntryRow) -> Result<Entry> {
    let waitlists = match facts_of(&row).standing().state {
        EntryState::SoldOut => db::queue::items_of_event(conn, &row.event_id).await?,
        _ => vec![],
    };
    Ok(entry_with(key, row, waitlists))
}

/// [`entry_of`], given the event's waiting lists (used only when sold out).
fn entry_with(key: &SigningKey, row: EntryRow, waitlists: Vec<(String, String)>) -> Entry {
    let standing = facts_of(&row).standing();
    let waitlists = if standing.state == EntryState::SoldOut { waitlists } else { vec![] };
    let pass = match (standing.state, row.pass_expires_at) {
        (EntryState::Admitted, Some(expires)) => {
            let claims = PassClaims::new(row.id, &row.event_id, &row.user_id, expires);
            Some(claims.sign(key))
        }
        _ => None,
    };
    let message = match standing.state {
        EntryState::PreQueue => {
            "you are in the pre-queue: when the sale opens, its order is drawn at random".to_string()
        }
        EntryState::Waiting => match standing.position {
            Some(1) => "you are next in line".to_string(),
            Some(n) => format!("{} people are ahead of you", n - 1),
            None => "you are in line; your place is given in a moment".to_string(),
        },
        EntryState::Admitted => "it is your turn: reserve with this pass before it expires".to_string(),
        EntryState::SoldOut => "everything is sold out for now: join a waiting list to be offered freed tickets; \
                                you keep your place in case tickets come back"
            .to_string(),
        EntryState::Expired => "your pass has expired".to_string(),
    };
    let mut as_of = [Some(row.joined_at), Some(row.queue_changed_at), row.stock_changed_at, row.admitted_at]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(row.joined_at);
    if standing.state == EntryState::Expired {
        as_of = as_of.max(row.pass_expires_at.unwrap_or(as_of));
    }
    Entry {
        token: rules::entry_token(key, row.id),
        as_of,
        id: row.id,
        event_id: row.event_id,
        user_id: row.user_id,
        standing,
        joined_at: row.joined_at,
        admitted_at: row.admitted_at,
        pass,
        pass_expires_at: row.pass_expires_at,
        message,
        waitlists,
    }
}

/// Reads an entry for the client acting for its user.
pub async fn entry(pool: &PgPool, key: &PassKey, who: &Principal, event_id: &str, entry_id: Uuid) -> Result<Entry> {
    let key = key.get(pool).await?;
    let mut conn = pool.acquire().await?;
    let row = db::queue::entry(&mut conn, event_id, entry_id)
        .await?
        .ok_or_else(|| Error::not_found("queue entry", &entry_id.to_string()))?;
    require_buyer_agent_of(who, &row.organization_id)?;
    entry_of(&mut conn, key, row).await
}

/// How a request for an entry is let in: the client acting for its user, or the entry's token.
pub enum EntryAccess<'a> {
    Client(&'a Principal),
    Token(&'a str),
}

/// Reads an entry for whoever holds its token or acts for its user; an entry the token does not
/// open is not found (a token tells nothing about other entries).
pub async fn entry_for(
    pool: &PgPool,
    key: &PassKey,
    access: EntryAccess<'_>,
    event_id: &str,
    entry_id: Uuid,
) -> Result<Entry> {
    match access {
        EntryAccess::Client(who) => entry(pool, key, who, event_id, entry_id).await,
        EntryAccess::Token(token) => {
            let key = key.get(pool).await?;
            let not_found = || Error::not_found("queue entry", &entry_id.to_string());
            if !rules::entry_token_opens(key, entry_id, token) {
                return Err(not_found());
            }
            let mut conn = pool.acquire().await?;
            let row = db::queue::entry(&mut conn, event_id, entry_id).await?.ok_or_else(not_found)?;
            entry_of(&mut conn, key, row).await
        }
    }
}

/// The entries among `ids` that exist, as their streams show them: one query for all of them.
pub async fn streamed(pool: &PgPool, key: &PassKey, ids: &[Uuid]) -> Result<Vec<Entry>> {
    let key = key.get(pool).await?;
    let mut conn = pool.acquire().await?;
    let rows = db::queue::entries(&mut conn, ids).await?;
    // the waiting lists of a sold-out event, read once for all its entries
    let mut waitlists: HashMap<String, Vec<(String, String)>> = HashMap::new();
    let mut entries = Vec::with_capacity(rows.len());
    for row in rows {
        let lists = match (facts_of(&row).standing().state, waitlists.get(&row.event_id)) {
            (EntryState::SoldOut, Some(lists)) => lists.clone(),
            (EntryState::SoldOut, None) => {
                let lists = db::queue::items_of_event(&mut conn, &row.event_id).await?;
                waitlists.insert(row.event_id.clone(), lists.clone());
                lists
            }
            _ => vec![],
        };
        entries.push(entry_with(key, row, lists));
    }
    Ok(entries)
}

/// What the waiting-room page shows besides the entry.
#[derive(Debug, Clone)]
pub struct WaitingRoom {
    pub entry: Entry,
    pub event_title: String,
    pub sale_opens_at: DateTime<Utc>,
    pub return_url: Option<String>,
}

/// The waiting room of the entry its token opens.
pub async fn waiting_room(
    pool: &PgPool,
    key: &PassKey,
    event_id: &str,
    entry_id: Uuid,
    token: &str,
) -> Result<WaitingRoom> {
    let entry = entry_for(pool, key, EntryAccess::Token(token), event_id, entry_id).await?;
    let mut conn = pool.acquire().await?;
    let queue = queue_of(&mut conn, event_id).await?;
    let event = db::events::find(&mut conn, event_id).await?.ok_or_else(|| Error::not_found("event", event_id))?;
    Ok(WaitingRoom {
        entry,
        event_title: event.title,
        sale_opens_at: queue.sale_opens_at,
        return_url: queue.return_url,
    })
}

/// What anyone may see of a queue.
#[derive(Debug, Clone)]
pub struct PublicQueue {
    pub event_id: String,
    pub info: QueueInfo,
    pub counts: Counts,
    /// Places admitted so far.
    pub admitted_through: i64,
    pub sold_out: bool,
}

/// The queue of an event: 404 for an unknown event; 409 `QUEUE_NOT_ENABLED` for an event that
/// exists but has no queue (the event is there, so its queue is not "not found": it is off).
async fn queue_of(conn: &mut PgConnection, event_id: &str) -> Result<QueueRow> {
    match db::queue::find(conn, event_id).await? {
        Some(q) => Ok(q),
        None if db::events::find(conn, event_id).await?.is_some() => Err(Error::conflict(
            "QUEUE_NOT_ENABLED",
            format!("event '{event_id}' has no virtual queue: its tickets are reserved directly"),
        )),
        None => Err(Error::not_found("event", event_id)),
    }
}

pub async fn public(pool: &PgPool, event_id: &str) -> Result<PublicQueue> {
    let mut conn = pool.acquire().await?;
    let q = queue_of(&mut conn, event_id).await?;
    let counts = db::queue::counts(&mut conn, event_id).await?;
    let sold_out = db::queue::stock_of_event(&mut conn, event_id).await? == 0;
    Ok(PublicQueue {
        event_id: q.event_id.clone(),
        info: QueueInfo::from(&q),
        counts,
        admitted_through: q.admitted_through,
        sold_out,
    })
}

/// The draw, once made: the seed and the pre-queue in drawn order.
pub struct Draw {
    pub seed: String,
    pub entries: Vec<Uuid>,
}

pub async fn draw(pool: &PgPool, event_id: &str) -> Result<Draw> {
    let mut conn = pool.acquire().await?;
    let q = queue_of(&mut conn, event_id).await?;
    if q.drawn_at.is_none() {
        return Err(Error::conflict(
            "QUEUE_NOT_DRAWN",
            format!("the pre-queue is drawn when the sale opens, at {}", q.sale_opens_at),
        ));
    }
    let entries = db::queue::drawn_order(&mut conn, event_id).await?;
    Ok(Draw { seed: HEXLOWER.encode(&q.seed), entries })
}
