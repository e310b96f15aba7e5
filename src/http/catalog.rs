//! Representations, offers, stock and seats: what organizers set up before an on-sale.

use chrono::{DateTime, Utc};
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use sqlx::PgPool;

use super::Tag;
use super::error::ApiError;
use super::security::ApiKey;
use super::set_inventory::SetInventory;
use super::text::{NotBlank, Text};
use crate::domain::records;
use crate::domain::{DEFAULT_CURRENCY, DEFAULT_MAX_PER_ORDER, NewOffer, NewRepresentation};
use crate::services;

pub struct CatalogApi {
    pub pool: PgPool,
}

/// A dated performance.
#[derive(Object)]
pub struct Representation {
    id: String,
    event_id: String,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
}

impl From<records::Representation> for Representation {
    fn from(r: records::Representation) -> Self {
        Representation { id: r.id, event_id: r.event_id, starts_at: r.starts_at, ends_at: r.ends_at }
    }
}

/// A ticket type.
#[derive(Object)]
pub struct Offer {
    id: String,
    event_id: String,
    name: String,
    description: String,
    kind: String,
    /// Minor units (cents); null for offers imported without a price.
    #[oai(nullable)]
    price_minor: Option<i64>,
    currency: String,
    max_quantity_per_order: i32,
}

impl From<records::Offer> for Offer {
    fn from(o: records::Offer) -> Self {
        Offer {
            id: o.id,
            event_id: o.event_id,
            name: o.name,
            description: o.description,
            kind: o.kind,
            price_minor: o.price_minor,
            currency: o.currency,
            max_quantity_per_order: o.max_quantity_per_order,
        }
    }
}

/// Stock of one offer for one representation: `total_stock = available + held + sold`.
#[derive(Object)]
pub(super) struct Inventory {
    offer_id: String,
    representation_id: String,
    /// The pool the item draws from; the counts below are the pool's, shared with every item
    /// attached to it.
    pool_id: String,
    total_stock: i32,
    available: i32,
    held: i32,
    sold: i32,
    /// Seated stock is its seats.
    seated: bool,
}

impl From<records::Inventory> for Inventory {
    fn from(i: records::Inventory) -> Self {
        Inventory {
            offer_id: i.offer_id,
            representation_id: i.representation_id,
            pool_id: i.pool_id,
            total_stock: i.total_stock,
            available: i.available,
            held: i.held,
            sold: i.sold,
            seated: i.seated,
        }
    }
}

#[derive(Object)]
struct CreateRepresentation {
    starts_at: DateTime<Utc>,
    /// Must be after `starts_at`.
    ends_at: DateTime<Utc>,
}

#[derive(Object)]
struct CreateOffer {
    #[oai(validator(max_length = 200, custom = "super::text::NotBlankCheck"))]
    name: NotBlank,
    /// At most 10000 characters.
    #[oai(default, nullable, validator(max_length = 10000))]
    description: Text,
    /// Minor units (cents), more than 0.
    #[oai(validator(minimum(value = "1"), maximum(value = "1000000000000")))]
    price_minor: i64,
    /// ISO 4217 (default EUR).
    #[oai(nullable, validator(pattern = "^[A-Z]{3}$"))]
    currency: Option<Text>,
    /// 1 to 100 (default 10).
    #[oai(nullable, validator(minimum(value = "1"), maximum(value = "100")))]
    max_quantity_per_order: Option<i32>,
}

#[derive(ApiResponse)]
enum CreatedRepresentation {
    #[oai(status = 201)]
    Created(Json<Representation>),
}

#[derive(ApiResponse)]
enum CreatedOffer {
    #[oai(status = 201)]
    Created(Json<Offer>),
}

#[OpenApi(tag = "Tag::Inventory")]
impl CatalogApi {
    /// Add a representation to an event
    #[oai(path = "/events/:id/representations", method = "post", tag = "Tag::Events")]
    async fn add_representation(
        &self,
        key: ApiKey,
        id: Path<String>,
        body: Json<CreateRepresentation>,
    ) -> Result<CreatedRepresentation, ApiError> {
        let rep = NewRepresentation { starts_at: body.0.starts_at, ends_at: body.0.ends_at };
        let row = services::catalog::add_representation(&self.pool, &key.0, &id, rep).await?;
        Ok(CreatedRepresentation::Created(Json(row.into())))
    }

    /// Add an offer (ticket type) to an event
    #[oai(path = "/events/:id/offers", method = "post", tag = "Tag::Events")]
    async fn add_offer(
        &self,
        key: ApiKey,
        id: Path<String>,
        body: Json<CreateOffer>,
    ) -> Result<CreatedOffer, ApiError> {
        let b = body.0;
        let offer = NewOffer {
            name: b.name.into(),
            description: b.description.into(),
            price_minor: Some(b.price_minor),
            currency: b.currency.map_or_else(|| DEFAULT_CURRENCY.into(), String::from),
            max_quantity_per_order: b.max_quantity_per_order.unwrap_or(DEFAULT_MAX_PER_ORDER),
        };
        let row = services::catalog::add_offer(&self.pool, &key.0, &id, offer).await?;
        Ok(CreatedOffer::Created(Json(row.into())))
    }

    /// Set the stock of an offer for a representation
    ///
    /// `{"total_stock": N}`: a total of the item's own (general admission; a pool of its own).
    /// Held and sold tickets stay; `available` absorbs the change, so a total below held + sold is
    /// refused (409 `STOCK_BELOW_COMMITTED`). `{"pool_id": "..."}`: draw from an existing pool of
    /// the same representation, shared with its other items (422 for another representation's
    /// pool, 404 for none). An item with units held, sold or waiting for a decision stays in
    /// its pool (409 `ITEM_COMMITTED`). The counts answered are the pool's.
    #[oai(path = "/offers/:offer_id/representations/:representation_id/inventory", method = "put")]
    async fn set_inventory(
        &self,
        key: ApiKey,
        offer_id: Path<String>,
        representation_id: Path<String>,
        body: Json<SetInventory>,
    ) -> Result<Json<Inventory>, ApiError> {
        let row = services::pools::set_item_stock(&self.pool, &key.0, &offer_id, &representation_id, body.0.0).await?;
        Ok(Json(row.into()))
    }
}
