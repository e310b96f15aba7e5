//! Waiting lists, on the routes and with the shapes of the existing service (see
//! ../shared/notes/WAITLIST_CONTRACT.md) so its clients switch without a change.

use chrono::{DateTime, Utc};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use sqlx::PgPool;

use super::Tag;
use super::error::ApiError;
use super::optional_json::OptionalJson;
use super::security::ApiKey;
use super::text::Text;
use crate::domain::ValidationErrors;
use crate::domain::records::WaitlistEntry;
use crate::services::standings::Standings;
use crate::services::writer::Writer;
use crate::services::{self, items::ItemCache, waitlist::List};

pub struct WaitlistApi {
    pub pool: PgPool,
    pub writer: Writer,
    pub standings: Standings,
    pub refs: ItemCache,
}

/// An entry of the line.
#[derive(Object)]
struct Entry {
    id: String,
    user_id: String,
    offer_id: String,
    representation_id: String,
    /// Exact rank among the people on the list: 1 is next.
    position: i64,
    requested_quantity: i32,
    created: DateTime<Utc>,
}

impl From<WaitlistEntry> for Entry {
    fn from(e: WaitlistEntry) -> Self {
        Entry {
            id: e.id.to_string(),
            user_id: e.user_id,
            offer_id: e.offer_id,
            representation_id: e.representation_id,
            position: e.position.unwrap_or_default(),
            requested_quantity: e.requested_quantity,
            created: e.created_at,
        }
    }
}

#[derive(Object)]
struct PageInfo {
    has_next_page: bool,
    has_previous_page: bool,
    total_count: i64,
    /// The page returned.
    page: i64,
    page_size: i64,
    /// At least 1.
    total_pages: i64,
}

#[derive(Object)]
struct EntryPage {
    items: Vec<Entry>,
    page_info: PageInfo,
}

#[derive(Object)]
struct Joined {
    id: String,
    user_id: String,
    offer_id: String,
    representation_id: String,
    position: i64,
    requested_quantity: i32,
    /// `Successfully joined waitlist at position N`
    message: String,
}

#[derive(Object)]
struct Position {
    user_id: String,
    offer_id: String,
    representation_id: String,
    position: i64,
    requested_quantity: i32,
}

#[derive(Object)]
struct Left {
    message: String,
    success: bool,
}

/// The join's parameters as a body, for clients that send one.
#[derive(Object)]
struct JoinBody {
    #[oai(nullable)]
    user_id: Option<Text>,
    #[oai(nullable)]
    quantity: Option<i64>,
}

/// A user's entry on any list, with its state.
#[derive(Object)]
struct UserEntry {
    id: String,
    offer_id: String,
    representation_id: String,
    /// `waiting`, `offered`, `converted`, `expired`, `declined` or `left`.
    status: String,
    /// Rank while waiting or offered.
    #[oai(nullable)]
    position: Option<i64>,
    requested_quantity: i32,
    created: DateTime<Utc>,
    /// The hold offered (a reservation to confirm or release).
    #[oai(nullable)]
    reservation_id: Option<String>,
    /// When the open offer lapses.
    #[oai(nullable)]
    offer_expires_at: Option<DateTime<Utc>>,
    #[oai(nullable)]
    offered_at: Option<DateTime<Utc>>,
    #[oai(nullable)]
    ended_at: Option<DateTime<Utc>>,
}

#[OpenApi(tag = "Tag::Waitlists")]
impl WaitlistApi {
    /// List a waiting list
    ///
    /// Entries by position, a page at a time.
    #[oai(path = "/offers/:offer_id/representations/:representation_id/waitlist", method = "get")]
    async fn list(
        &self,
        key: ApiKey,
        offer_id: Path<String>,
        representation_id: Path<String>,
        /// Entries per page, 1 to 100.
        #[oai(default = "default_limit", validator(minimum(value = "0", exclusive), maximum(value = "100")))]
        limit: Query<i64>,
        /// Page number, from 1.
        #[oai(default = "default_page", validator(minimum(value = "0", exclusive)))]
        page: Query<i64>,
    ) -> Result<Json<EntryPage>, ApiError> {
        let list = List { offer_id: &offer_id, representation_id: &representation_id };
        let p = services::waitlist::line(&self.pool, &self.refs, &key.0, list, limit.0, page.0).await?;
        let total_pages = p.total_pages();
        let page_info = PageInfo {
            has_next_page: p.page < total_pages,
            has_previous_page: p.page > 1,
            total_count: p.total_count,
            page: p.page,
            page_size: p.page_size,
            total_pages,
        };
        Ok(Json(EntryPage { items: p.items.into_iter().map(Entry::from).collect(), page_info }))
    }

    /// Join a waiting list
    ///
    /// Only when the item is sold out. `user_id` and `quantity` (default 1) come in the query or in
    /// a JSON body. Answers 200 with the position.
    #[oai(path = "/offers/:offer_id/representations/:representation_id/waitlist", method = "post")]
    async fn join(
        &self,
        key: ApiKey,
        offer_id: Path<String>,
        representation_id: Path<String>,
        user_id: Query<Option<String>>,
        quantity: Query<Option<i64>>,
        body: OptionalJson<JoinBody>,
    ) -> Result<Json<Joined>, ApiError> {
        let (body_user, body_quantity) = body.0.map(|b| (b.user_id.map(String::from), b.quantity)).unwrap_or_default();
        let user_id =
            user_id.0.or(body_user).ok_or_else(|| ValidationErrors::single(&["query", "user_id"], "field required"))?;
        let quantity = quantity.0.or(body_quantity).unwrap_or(1);
        let list = List { offer_id: &offer_id, representation_id: &representation_id };
        let e = services::waitlist::join(&self.writer, &key.0, list, &user_id, quantity).await?;
        let position = e.position.unwrap_or_default();
        Ok(Json(Joined {
            id: e.id.to_string(),
            user_id: e.user_id,
            offer_id: e.offer_id,
            representation_id: e.representation_id,
            position,
            requested_quantity: e.requested_quantity,
            message: format!("Successfully joined waitlist at position {position}"),
        }))
    }

    /// A user's position on a waiting list
    #[oai(path = "/offers/:offer_id/representations/:representation_id/waitlist/:user_id", method = "get")]
    async fn position(
        &self,
        key: ApiKey,
        offer_id: Path<String>,
        representation_id: Path<String>,
        user_id: Path<String>,
    ) -> Result<Json<Position>, ApiError> {
        let list = List { offer_id: &offer_id, representation_id: &representation_id };
        let s = services::waitlist::position(&self.pool, &self.refs, &self.standings, &key.0, list, &user_id).await?;
        Ok(Json(Position {
            position: s.position,
            user_id: user_id.0,
            offer_id: offer_id.0,
            representation_id: representation_id.0,
            requested_quantity: s.requested_quantity,
        }))
    }

    /// Leave a waiting list
    ///
    /// Leaving with an open offer declines it. Joining again puts you last.
    #[oai(path = "/offers/:offer_id/representations/:representation_id/waitlist/:user_id", method = "delete")]
    async fn leave(
        &self,
        key: ApiKey,
        offer_id: Path<String>,
        representation_id: Path<String>,
        user_id: Path<String>,
    ) -> Result<Json<Left>, ApiError> {
        let list = List { offer_id: &offer_id, representation_id: &representation_id };
        services::waitlist::leave(&self.writer, &key.0, list, &user_id).await?;
        Ok(Json(Left { message: "Successfully left the waitlist".into(), success: true }))
    }

    /// A user's waiting-list entries
    ///
    /// Every list the user joined, newest first, with state, rank and any open offer.
    #[oai(path = "/users/:id/waitlists", method = "get", tag = "Tag::Users")]
    async fn of_user(&self, key: ApiKey, id: Path<String>) -> Result<Json<Vec<UserEntry>>, ApiError> {
        let entries = services::waitlist::of_user(&self.pool, &key.0, &id).await?;
        Ok(Json(
            entries
                .into_iter()
                .map(|e| UserEntry {
                    id: e.id.to_string(),
                    offer_id: e.offer_id,
                    representation_id: e.representation_id,
                    status: e.status.as_str().to_owned(),
                    position: e.position,
                    requested_quantity: e.requested_quantity,
                    created: e.created_at,
                    reservation_id: e.reservation_id.map(|r| r.to_string()),
                    offer_expires_at: e.offer_expires_at,
                    offered_at: e.offered_at,
                    ended_at: e.ended_at,
                })
                .collect(),
        ))
    }
}

fn default_limit() -> i64 {
    10
}

fn default_page() -> i64 {
    1
}
