//! Virtual queues: joining, an entry's standing and pass, the public view of the draw.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::types::MaybeUndefined;
use poem_openapi::{ApiResponse, Object, OpenApi};
use sqlx::PgPool;
use uuid::Uuid;

use super::Tag;
use super::error::ApiError;
use super::security::ApiKey;
use super::text::NotBlank;
use super::tickets::TicketPublicKey;
use crate::domain::queue::QueuePatch;
use crate::services::Error;
use crate::services::reads::Reads;
use crate::services::virtual_queue::{self, Joins, PassKey, QueueInfo};

pub struct QueueApi {
    pub pool: PgPool,
    /// The queue's public view may lag a little: a replica may serve it.
    pub reads: Reads,
    pub joins: Joins,
    pub passes: Arc<PassKey>,
}

/// A virtual queue's settings; absent fields stay as they are (all are needed the first time).
#[derive(Object)]
pub(super) struct QueueSettingsPatch {
    /// With the queue on, reservations of the event need a queue pass.
    #[oai(nullable)]
    enabled: Option<bool>,
    /// From then on people may join; until the sale opens they are in the pre-queue.
    #[oai(nullable)]
    prequeue_opens_at: Option<DateTime<Utc>>,
    /// The pre-queue is drawn at random then, and admission starts.
    #[oai(nullable)]
    sale_opens_at: Option<DateTime<Utc>>,
    /// People let through per minute, 1 to 1000000.
    #[oai(nullable, validator(minimum(value = "1"), maximum(value = "1000000")))]
    admit_per_minute: Option<i32>,
    /// Minutes a pass lasts once admitted, 1 to 1440.
    #[oai(nullable, validator(minimum(value = "1"), maximum(value = "1440")))]
    pass_minutes: Option<i32>,
    /// The shop's page (http or https, at most 2000 characters) where the waiting-room page
    /// sends an admitted buyer, with `queue_pass` and `entry` added to its query; `null` removes it.
    return_url: MaybeUndefined<String>,
}

impl From<QueueSettingsPatch> for QueuePatch {
    fn from(p: QueueSettingsPatch) -> Self {
        QueuePatch {
            enabled: p.enabled,
            prequeue_opens_at: p.prequeue_opens_at,
            sale_opens_at: p.sale_opens_at,
            admit_per_minute: p.admit_per_minute,
            pass_minutes: p.pass_minutes,
            return_url: match p.return_url {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(url) => Some(Some(url)),
            },
        }
    }
}

/// A virtual queue's settings and its commitment to the draw.
#[derive(Object)]
pub(super) struct QueueSettingsView {
    enabled: bool,
    prequeue_opens_at: DateTime<Utc>,
    sale_opens_at: DateTime<Utc>,
    admit_per_minute: i32,
    pass_minutes: i32,
    /// Where the waiting-room page sends an admitted buyer.
    #[oai(nullable)]
    return_url: Option<String>,
    /// Lowercase hex SHA-256 of the draw's 32-byte seed, fixed when the queue was first enabled.
    seed_commitment: String,
    /// The seed in lowercase hex, once the pre-queue is drawn (when the sale opens).
    #[oai(nullable)]
    seed: Option<String>,
    #[oai(nullable)]
    drawn_at: Option<DateTime<Utc>>,
}

impl From<QueueInfo> for QueueSettingsView {
    fn from(q: QueueInfo) -> Self {
        let s = q.settings;
        QueueSettingsView {
            enabled: s.enabled,
            prequeue_opens_at: s.prequeue_opens_at,
            sale_opens_at: s.sale_opens_at,
            admit_per_minute: s.admit_per_minute,
            pass_minutes: s.pass_minutes,
            return_url: s.return_url,
            seed_commitment: q.seed_commitment,
            seed: q.seed,
            drawn_at: q.drawn_at,
        }
    }
}

#[derive(Object)]
struct JoinQueue {
    #[oai(validator(max_length = 100, custom = "super::text::NotBlankCheck"))]
    user_id: NotBlank,
}

/// A waiting list to join when the event is sold out.
#[derive(Object)]
struct WaitlistRef {
    offer_id: String,
    representation_id: String,
    /// Where to `POST {"user_id"}` to join it.
    path: String,
}

/// A user's place in an event's queue.
#[derive(Object)]
pub(super) struct QueueEntry {
    id: Uuid,
    event_id: String,
    user_id: String,
    /// `pre-queue` (placed by the draw when the sale opens), `waiting`, `admitted` (with a
    /// `pass`), `sold_out` (waiting, but nothing is left: see `waitlists`; admission resumes if
    /// tickets come back) or `expired` (the pass ran out).
    state: String,
    /// Exact rank while waiting or sold out, 1 next; null in the pre-queue (the draw decides).
    #[oai(nullable)]
    position: Option<i64>,
    /// Seconds until admission at the queue's rate, while waiting.
    #[oai(nullable)]
    estimated_wait_seconds: Option<i64>,
    /// While admitted: give it as `queue_pass` with reservations of this event.
    #[oai(nullable)]
    pass: Option<String>,
    #[oai(nullable)]
    pass_expires_at: Option<DateTime<Utc>>,
    joined_at: DateTime<Utc>,
    #[oai(nullable)]
    admitted_at: Option<DateTime<Utc>>,
    /// What the state means, in words for the buyer.
    message: String,
    /// When sold out: the waiting lists of the event.
    waitlists: Vec<WaitlistRef>,
    /// Opens this entry's live stream (`GET .../queue/{entry_id}/stream?token=`) and its
    /// waiting-room page (`/queue/{event_id}?entry={entry_id}&token=`) without an API key, and
    /// nothing else: a shop may hand it to the buyer's browser.
    token: String,
}

impl From<virtual_queue::Entry> for QueueEntry {
    fn from(e: virtual_queue::Entry) -> Self {
        QueueEntry {
            id: e.id,
            event_id: e.event_id,
            user_id: e.user_id,
            state: e.standing.state.as_str().into(),
            position: e.standing.position,
            estimated_wait_seconds: e.standing.estimated_wait_seconds,
            pass: e.pass,
            pass_expires_at: e.pass_expires_at,
            joined_at: e.joined_at,
            admitted_at: e.admitted_at,
            token: e.token,
            message: e.message,
            waitlists: e
                .waitlists
                .into_iter()
                .map(|(offer_id, representation_id)| WaitlistRef {
                    path: format!("/api/offers/{offer_id}/representations/{representation_id}/waitlist"),
                    offer_id,
                    representation_id,
                })
                .collect(),
        }
    }
}

#[derive(ApiResponse)]
enum Joined {
    /// Joined now.
    #[oai(status = 201)]
    Created(Json<QueueEntry>),
    /// The user was already in this queue: their entry.
    #[oai(status = 200)]
    Existing(Json<QueueEntry>),
}

/// How many stand where.
#[derive(Object)]
struct QueueCounts {
    pre_queue: i64,
    waiting: i64,
    admitted: i64,
    expired: i64,
}

/// A queue as anyone may see it.
#[derive(Object)]
struct PublicQueue {
    event_id: String,
    #[oai(flatten)]
    settings: QueueSettingsView,
    counts: QueueCounts,
    /// Every place up to this one has been admitted.
    admitted_through: i64,
    /// Nothing is left to sell right now: admission is stopped.
    sold_out: bool,
}

/// The draw, for anyone to check: sort the `entries` by SHA-256(seed bytes || entry id as UTF-8)
/// ascending and get the same order; SHA-256 of the seed bytes is the `seed_commitment`.
#[derive(Object)]
struct Draw {
    /// Lowercase hex of the 32 seed bytes.
    seed: String,
    /// The pre-queue's entry ids in drawn order (place 1 first).
    entries: Vec<Uuid>,
}

pub(super) fn entry_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError(Error::not_found("queue entry", raw)))
}

#[OpenApi(tag = "Tag::Queues")]
impl QueueApi {
    /// Join an event's queue
    ///
    /// Client keys, for a user. Before the sale opens the entry is in the pre-queue, whose order
    /// is drawn at random when it opens; later arrivals queue behind it in arrival order. A user
    /// has one entry per event: joining again answers it (200). An event without a queue, or
    /// with it switched off, is a 409 `QUEUE_NOT_ENABLED`; before `prequeue_opens_at`, a 409
    /// `QUEUE_NOT_OPEN`.
    #[oai(path = "/events/:id/queue", method = "post")]
    async fn join(&self, key: ApiKey, id: Path<String>, body: Json<JoinQueue>) -> Result<Joined, ApiError> {
        let (entry, created) = virtual_queue::joins::join(
            &self.pool,
            &self.joins,
            &self.passes,
            &key.0,
            &id,
            body.0.user_id.as_ref().trim(),
        )
        .await?;
        Ok(if created { Joined::Created(Json(entry.into())) } else { Joined::Existing(Json(entry.into())) })
    }

    /// A queue's state and its draw's commitment
    ///
    /// Public. `seed_commitment` from the moment the queue is enabled; `seed` once the pre-queue
    /// is drawn. An event without a queue is a 409 `QUEUE_NOT_ENABLED`.
    #[oai(path = "/events/:id/queue", method = "get")]
    async fn public(&self, id: Path<String>) -> Result<Json<PublicQueue>, ApiError> {
        let id = id.0.as_str();
        let q = self.reads.run(|pool| async move { virtual_queue::public(&pool, id).await }).await?;
        Ok(Json(PublicQueue {
            event_id: q.event_id,
            settings: q.info.into(),
            counts: QueueCounts {
                pre_queue: q.counts.prequeue,
                waiting: q.counts.waiting,
                admitted: q.counts.admitted,
                expired: q.counts.expired,
            },
            admitted_through: q.admitted_through,
            sold_out: q.sold_out,
        }))
    }

    /// The draw of a queue's pre-queue
    ///
    /// Public, once drawn (409 `QUEUE_NOT_DRAWN` before, `QUEUE_NOT_ENABLED` without a queue): the seed and the entries in drawn
    /// order, so anyone can recompute the order and check the seed against the commitment.
    #[oai(path = "/events/:id/queue/draw", method = "get")]
    async fn draw(&self, id: Path<String>) -> Result<Json<Draw>, ApiError> {
        let d = virtual_queue::draw(&self.pool, &id).await?;
        Ok(Json(Draw { seed: d.seed, entries: d.entries }))
    }

    /// Read a queue entry
    ///
    /// Its state, exact position and expected wait; its pass once admitted.
    #[oai(path = "/events/:id/queue/:entry_id", method = "get")]
    async fn entry(&self, key: ApiKey, id: Path<String>, entry_id: Path<String>) -> Result<Json<QueueEntry>, ApiError> {
        let entry_id = self::entry_id(&entry_id)?;
        let entry = virtual_queue::entry(&self.pool, &self.passes, &key.0, &id, entry_id).await?;
        Ok(Json(entry.into()))
    }

    /// The key that verifies queue passes
    ///
    /// Public. A pass is `base64url(payload) "." base64url(signature)` (no padding); the payload
    /// is canonical JSON `{"entry_id","event_id","expires_at","user_id"}`.
    #[oai(path = "/queue/public-key", method = "get")]
    async fn public_key(&self) -> Result<Json<TicketPublicKey>, ApiError> {
        Ok(Json(self.passes.public(&self.pool).await?.into()))
    }
}
