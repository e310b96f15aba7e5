//! A buyer's reservations and tickets, most recent first, in keyset pages: a page never repeats
//! or skips an item while new ones arrive.

use chrono::{DateTime, Utc};

use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};

use super::auth::require_buyer_agent;
use super::{Result, cursor};
use crate::db;
use crate::domain::records::{Reservation, Ticket};
use crate::domain::{Principal, ValidationErrors};

/// One page, and the cursor of the next when there is one.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// Where the previous page stopped: the last item's time and sequence number.
#[derive(Debug, Serialize, Deserialize)]
struct Cursor {
    at: DateTime<Utc>,
    seq: i64,
}

impl Cursor {
    fn encode(at: DateTime<Utc>, seq: i64) -> String {
        cursor::encode(&Cursor { at, seq })
    }

    fn decode(raw: Option<&str>) -> Result<Option<(DateTime<Utc>, i64)>, ValidationErrors> {
        let Some(raw) = raw else { return Ok(None) };
        cursor::decode(raw, "this listing", |_: &Cursor| true).map(|c| Some((c.at, c.seq)))
    }
}

/// Fetches one more than `limit` to learn whether a next page exists.
fn page<T>(mut items: Vec<T>, limit: i64, key: impl Fn(&T) -> (DateTime<Utc>, i64)) -> Page<T> {
    let next_cursor = if items.len() as i64 > limit {
        items.truncate(limit as usize);
        items.last().map(|last| {
            let (at, seq) = key(last);
            Cursor::encode(at, seq)
        })
    } else {
        None
    };
    Page { items, next_cursor }
}

async fn known_user(conn: &mut PgConnection, who: &Principal, user_id: &str) -> Result<()> {
    super::users::visible_user(conn, who, user_id).await.map(drop)
}

/// `limit` is 1..=100, checked at the edge.
pub async fn reservations_of(
    pool: &PgPool,
    who: &Principal,
    user_id: &str,
    limit: i64,
    cursor: Option<&str>,
) -> Result<Page<Reservation>> {
    require_buyer_agent(who)?;
    let after = Cursor::decode(cursor)?;
    let mut conn = pool.acquire().await?;
    known_user(&mut conn, who, user_id).await?;
    let rows = db::reservations::for_user(&mut conn, user_id, who.buyer_scope(), after, limit + 1).await?;
    Ok(page(rows, limit, |r| (r.created_at, r.seq)))
}

/// `limit` is 1..=100, checked at the edge.
pub async fn tickets_of(
    pool: &PgPool,
    who: &Principal,
    user_id: &str,
    limit: i64,
    cursor: Option<&str>,
) -> Result<Page<Ticket>> {
    require_buyer_agent(who)?;
    let after = Cursor::decode(cursor)?;
    let mut conn = pool.acquire().await?;
    known_user(&mut conn, who, user_id).await?;
    let rows = db::tickets::for_user(&mut conn, user_id, who.buyer_scope(), after, limit + 1).await?;
    Ok(page(rows, limit, |t| (t.issued_at, t.seq)))
}
