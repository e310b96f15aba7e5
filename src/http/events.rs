//! Events: create, read, update, search.

use chrono::{DateTime, Utc};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use sqlx::PgPool;

use super::Tag;
use super::catalog::{Offer, Representation};
use super::error::ApiError;
use super::security::ApiKey;
use super::text::{Near, NotBlank, Text};
use super::virtual_queue::{QueueSettingsPatch, QueueSettingsView};
use crate::domain::queue::QueuePatch;
use crate::domain::records::{self, FoundEvent};
use crate::domain::{EventPatch, GeoPoint, NewEvent, SearchRadius};
use crate::services::{self, catalog::EventDetails, reads::Reads, search::EventSearch};

pub struct EventsApi {
    pub pool: PgPool,
    /// The search may lag a little: a replica may serve it.
    pub reads: Reads,
}

/// A new event.
#[derive(Object)]
struct CreateEvent {
    /// Required for admin keys; an organizer key creates events of its own organization.
    #[oai(nullable, validator(max_length = 100, custom = "super::text::NotBlankCheck"))]
    organization_id: Option<NotBlank>,
    #[oai(validator(max_length = 300, custom = "super::text::NotBlankCheck"))]
    title: NotBlank,
    /// At most 10000 characters.
    #[oai(default, nullable, validator(max_length = 10000))]
    description: Text,
    /// At most 2000 characters.
    #[oai(nullable, validator(max_length = 2000))]
    thumbnail_url: Option<Text>,
    #[oai(validator(max_length = 300, custom = "super::text::NotBlankCheck"))]
    venue_name: NotBlank,
    /// At most 500 characters.
    #[oai(default, nullable, validator(max_length = 500))]
    venue_address: Text,
    /// Degrees, -90 to 90; with `venue_longitude`: both or neither (one alone is refused with 422).
    #[oai(nullable, validator(minimum(value = "-90"), maximum(value = "90")))]
    venue_latitude: Option<f64>,
    /// Degrees, -180 to 180; with `venue_latitude`: both or neither.
    #[oai(nullable, validator(minimum(value = "-180"), maximum(value = "180")))]
    venue_longitude: Option<f64>,
    /// IANA time zone of the venue (default `UTC`), one PostgreSQL knows (`pg_timezone_names`):
    /// any other name is refused with 422.
    #[oai(nullable, validator(max_length = 64, custom = "super::text::NotBlankCheck"))]
    timezone: Option<NotBlank>,
    /// Minutes a reservation is held for payment, 1 to 20 (default 10).
    #[oai(nullable, validator(minimum(value = "1"), maximum(value = "20")))]
    hold_minutes: Option<i32>,
    /// Minutes a waiting-list offer stays open, 1 to 1440 (default 30).
    #[oai(nullable, validator(minimum(value = "1"), maximum(value = "1440")))]
    waitlist_offer_minutes: Option<i32>,
    /// Whether tickets are on sale (default true).
    #[oai(nullable)]
    sales_open: Option<bool>,
    /// Tickets one reservation may hold over all its lines, 1 to 1000 (default 10).
    #[oai(nullable, validator(minimum(value = "1"), maximum(value = "1000")))]
    max_tickets_per_order: Option<i32>,
}

/// Fields to change; absent fields stay as they are.
#[derive(Object)]
struct UpdateEvent {
    #[oai(nullable, validator(max_length = 300, custom = "super::text::NotBlankCheck"))]
    title: Option<NotBlank>,
    /// At most 10000 characters.
    #[oai(nullable, validator(max_length = 10000))]
    description: Option<Text>,
    /// At most 2000 characters.
    #[oai(nullable, validator(max_length = 2000))]
    thumbnail_url: Option<Text>,
    #[oai(nullable, validator(max_length = 300, custom = "super::text::NotBlankCheck"))]
    venue_name: Option<NotBlank>,
    /// At most 500 characters.
    #[oai(nullable, validator(max_length = 500))]
    venue_address: Option<Text>,
    /// Give both coordinates to move the venue.
    #[oai(nullable, validator(minimum(value = "-90"), maximum(value = "90")))]
    venue_latitude: Option<f64>,
    /// With `venue_latitude`: both or neither (one alone is refused with 422).
    #[oai(nullable, validator(minimum(value = "-180"), maximum(value = "180")))]
    venue_longitude: Option<f64>,
    /// IANA time zone of the venue, one PostgreSQL knows (`pg_timezone_names`): any other name is
    /// refused with 422.
    #[oai(nullable, validator(max_length = 64, custom = "super::text::NotBlankCheck"))]
    timezone: Option<NotBlank>,
    #[oai(nullable, validator(minimum(value = "1"), maximum(value = "20")))]
    hold_minutes: Option<i32>,
    #[oai(nullable, validator(minimum(value = "1"), maximum(value = "1440")))]
    waitlist_offer_minutes: Option<i32>,
    /// Open or close sales.
    #[oai(nullable)]
    sales_open: Option<bool>,
    /// Tickets one reservation may hold over all its lines, 1 to 1000.
    #[oai(nullable, validator(minimum(value = "1"), maximum(value = "1000")))]
    max_tickets_per_order: Option<i32>,
    /// Put a virtual queue in front of the on-sale, or change it: every field the first time,
    /// then only those to change. Once the pre-queue is drawn its times cannot move.
    #[oai(nullable)]
    queue: Option<QueueSettingsPatch>,
}

/// An event with its representations and offers.
#[derive(Object)]
struct Event {
    id: String,
    organization_id: String,
    title: String,
    description: String,
    #[oai(nullable)]
    thumbnail_url: Option<String>,
    venue_name: String,
    venue_address: String,
    #[oai(nullable)]
    venue_latitude: Option<f64>,
    #[oai(nullable)]
    venue_longitude: Option<f64>,
    timezone: String,
    hold_minutes: i32,
    waitlist_offer_minutes: i32,
    sales_open: bool,
    /// Tickets one reservation may hold over all its lines.
    max_tickets_per_order: i32,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    representations: Vec<Representation>,
    offers: Vec<Offer>,
    /// Its virtual queue; null without one.
    #[oai(nullable)]
    queue: Option<QueueSettingsView>,
}

/// An event found by a search.
#[derive(Object)]
pub struct EventSummary {
    id: String,
    organization_id: String,
    title: String,
    description: String,
    #[oai(nullable)]
    thumbnail_url: Option<String>,
    venue_name: String,
    venue_address: String,
    #[oai(nullable)]
    venue_latitude: Option<f64>,
    #[oai(nullable)]
    venue_longitude: Option<f64>,
    timezone: String,
    sales_open: bool,
    /// Kilometres from the search point; null without `near`.
    #[oai(nullable)]
    distance_km: Option<f64>,
}

/// One page of events.
#[derive(Object)]
pub struct EventPage {
    items: Vec<EventSummary>,
    /// Pass as `cursor` to get the next page; null on the last page.
    #[oai(nullable)]
    next_cursor: Option<String>,
}

impl From<services::search::SearchPage> for EventPage {
    fn from(page: services::search::SearchPage) -> Self {
        EventPage { items: page.items.into_iter().map(EventSummary::from).collect(), next_cursor: page.next_cursor }
    }
}

impl From<FoundEvent> for EventSummary {
    fn from(f: FoundEvent) -> Self {
        let e: records::Event = f.event;
        EventSummary {
            id: e.id,
            organization_id: e.organization_id,
            title: e.title,
            description: e.description,
            thumbnail_url: e.thumbnail_url,
            venue_name: e.venue_name,
            venue_address: e.venue_address,
            venue_latitude: e.venue_latitude,
            venue_longitude: e.venue_longitude,
            timezone: e.timezone,
            sales_open: e.sales_open,
            distance_km: f.distance_km,
        }
    }
}

impl From<EventDetails> for Event {
    fn from(d: EventDetails) -> Self {
        let e = d.event;
        Event {
            id: e.id,
            organization_id: e.organization_id,
            title: e.title,
            description: e.description,
            thumbnail_url: e.thumbnail_url,
            venue_name: e.venue_name,
            venue_address: e.venue_address,
            venue_latitude: e.venue_latitude,
            venue_longitude: e.venue_longitude,
            timezone: e.timezone,
            hold_minutes: e.hold_minutes,
            waitlist_offer_minutes: e.waitlist_offer_minutes,
            sales_open: e.sales_open,
            max_tickets_per_order: e.max_tickets_per_order,
            created_at: e.created_at,
            updated_at: e.updated_at,
            representations: d.representations.into_iter().map(Into::into).collect(),
            offers: d.offers.into_iter().map(Into::into).collect(),
            queue: d.queue.map(Into::into),
        }
    }
}

#[derive(ApiResponse)]
enum CreatedEvent {
    /// The event was created.
    #[oai(status = 201)]
    Created(Json<Event>),
}

/// Search parameters shared with a user's relevant events.
pub fn page_limit(limit: Option<u32>) -> i64 {
    i64::from(limit.unwrap_or(20))
}

#[OpenApi(tag = "Tag::Events")]
impl EventsApi {
    /// Create an event
    #[oai(path = "/events", method = "post")]
    async fn create(&self, key: ApiKey, body: Json<CreateEvent>) -> Result<CreatedEvent, ApiError> {
        let b = body.0;
        let defaults = NewEvent::default();
        let event = NewEvent {
            organization_id: b
                .organization_id
                .map(String::from)
                .or_else(|| key.0.organization_id.clone())
                .unwrap_or_default(),
            title: b.title.into(),
            description: b.description.into(),
            thumbnail_url: b.thumbnail_url.map(String::from),
            venue_name: b.venue_name.into(),
            venue_address: b.venue_address.into(),
            venue_latitude: b.venue_latitude,
            venue_longitude: b.venue_longitude,
            timezone: b.timezone.map_or(defaults.timezone, String::from),
            hold_minutes: b.hold_minutes.unwrap_or(defaults.hold_minutes),
            waitlist_offer_minutes: b.waitlist_offer_minutes.unwrap_or(defaults.waitlist_offer_minutes),
            sales_open: b.sales_open.unwrap_or(defaults.sales_open),
            max_tickets_per_order: b.max_tickets_per_order.unwrap_or(defaults.max_tickets_per_order),
        };
        let created = services::catalog::create_event(&self.pool, &key.0, event).await?;
        Ok(CreatedEvent::Created(Json(created.into())))
    }

    /// Read an event
    ///
    /// Public: with its representations and offers.
    #[oai(path = "/events/:id", method = "get")]
    async fn get(&self, id: Path<String>) -> Result<Json<Event>, ApiError> {
        Ok(Json(services::catalog::get_event(&self.pool, &id).await?.into()))
    }

    /// Update an event
    ///
    /// Only the fields given change; this is also how sales are opened and closed.
    #[oai(path = "/events/:id", method = "patch")]
    async fn update(&self, key: ApiKey, id: Path<String>, body: Json<UpdateEvent>) -> Result<Json<Event>, ApiError> {
        let b = body.0;
        let patch = EventPatch {
            title: b.title.map(String::from),
            description: b.description.map(String::from),
            thumbnail_url: b.thumbnail_url.map(String::from),
            venue_name: b.venue_name.map(String::from),
            venue_address: b.venue_address.map(String::from),
            venue_latitude: b.venue_latitude,
            venue_longitude: b.venue_longitude,
            timezone: b.timezone.map(String::from),
            hold_minutes: b.hold_minutes,
            waitlist_offer_minutes: b.waitlist_offer_minutes,
            sales_open: b.sales_open,
            max_tickets_per_order: b.max_tickets_per_order,
        };
        let queue = b.queue.map(QueuePatch::from);
        Ok(Json(services::catalog::update_event(&self.pool, &key.0, &id, patch, queue).await?.into()))
    }

    /// Search events
    ///
    /// Public. With `near`, only events within `radius_km` (default 50), nearest first, each with
    /// its distance. `from`/`to` keep events with a representation starting in that window;
    /// `available=true` keeps events on sale with tickets left (in that window).
    #[oai(path = "/events", method = "get")]
    #[expect(clippy::too_many_arguments, reason = "one argument per query parameter of the search")]
    async fn search(
        &self,
        /// `LATITUDE,LONGITUDE` in degrees: latitude -90 to 90, longitude -180 to 180, as
        /// decimals (`48.87,2.33`); a coordinate below 10 may also be written with a negative
        /// exponent (`5e-3`).
        near: Query<Option<Near>>,
        /// Search radius in km, 0.001 (a metre) to 20000 (default 50).
        #[oai(validator(minimum(value = "0.001"), maximum(value = "20000")))]
        radius_km: Query<Option<f64>>,
        from: Query<Option<DateTime<Utc>>>,
        to: Query<Option<DateTime<Utc>>>,
        #[oai(default)] available: Query<bool>,
        /// Events per page, 1 to 100 (default 20).
        #[oai(validator(minimum(value = "0", exclusive), maximum(value = "100")))]
        limit: Query<Option<u32>>,
        /// `next_cursor` of the previous page (opaque: any other value is refused with 422).
        cursor: Query<Option<String>>,
    ) -> Result<Json<EventPage>, ApiError> {
        let near = near.0.map(|raw| GeoPoint::parse_query("near", &raw.0)).transpose()?;
        let radius = SearchRadius::parse("radius_km", radius_km.0.unwrap_or(50.0))?;
        let query = EventSearch {
            near,
            radius,
            from: from.0,
            to: to.0,
            available_only: available.0,
            limit: page_limit(limit.0),
            cursor: cursor.0,
        };
        let page = self.reads.run(|pool| {
            let query = query.clone();
            async move { services::search::search(&pool, query).await }
        });
        Ok(Json(page.await?.into()))
    }
}
