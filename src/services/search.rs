//! Finding events: near a place, in a date window, with tickets left. Pages are keyset cursors so
//! a page never repeats or skips an event while others are added.

use chrono::{DateTime, Utc};

use serde::{Deserialize, Serialize};
use sqlx::PgPool;

use super::{Result, cursor};
use crate::db;
use crate::domain::records::FoundEvent;
use crate::domain::{GeoPoint, SearchRadius, ValidationErrors};

#[derive(Debug, Clone)]
pub struct EventSearch {
    pub near: Option<GeoPoint>,
    pub radius: SearchRadius,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub available_only: bool,
    /// Events per page (1..=100, checked at the edge).
    pub limit: i64,
    /// Opaque, from a previous page's `next_cursor`.
    pub cursor: Option<String>,
}

#[derive(Debug, Clone)]
pub struct SearchPage {
    pub items: Vec<FoundEvent>,
    pub next_cursor: Option<String>,
}

/// Where the previous page stopped. Distance searches resume after `(distance, id)`, others
/// after `id`. See [`cursor`].
#[derive(Debug, Serialize, Deserialize)]
struct Cursor {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    d: Option<f64>,
    id: String,
}

impl Cursor {
    fn encode(&self) -> String {
        cursor::encode(self)
    }

    fn decode(raw: &str, distance_search: bool) -> Result<Cursor, ValidationErrors> {
        cursor::decode(raw, "this search", |c: &Cursor| c.d.is_some() == distance_search)
    }
}

pub async fn search(pool: &PgPool, q: EventSearch) -> Result<SearchPage> {
    if let (Some(from), Some(to)) = (q.from, q.to)
        && to <= from
    {
        return Err(ValidationErrors::single(&["query", "to"], "must be after from").into());
    }
    let cursor = q.cursor.as_deref().map(|raw| Cursor::decode(raw, q.near.is_some())).transpose()?;
    let filters = db::search::Filters { from: q.from, to: q.to, available_only: q.available_only, limit: q.limit + 1 };
    let mut conn = pool.acquire().await?;
    let mut items = match q.near {
        Some(p) => {
            let after = cursor.map(|c| (c.d.unwrap_or_default(), c.id));
            db::search::near(&mut conn, (p.latitude, p.longitude), q.radius.km(), after, &filters).await?
        }
        None => db::search::all(&mut conn, cursor.map(|c| c.id), &filters).await?,
    };
    let next_cursor = if items.len() as i64 > q.limit {
        items.truncate(q.limit as usize);
        items.last().map(|last| Cursor { d: last.distance_km, id: last.event.id.clone() }.encode())
    } else {
        None
    };
    Ok(SearchPage { items, next_cursor })
}
