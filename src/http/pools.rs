//! Capacity pools of a representation: the stock several offers sell from.

use chrono::{DateTime, Utc};
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use sqlx::PgPool;

use super::Tag;
use super::error::ApiError;
use super::security::ApiKey;
use super::text::NotBlank;
use crate::domain::records;
use crate::services::{self, pools::NewPool};

pub struct PoolsApi {
    pub pool: PgPool,
}

/// A new pool: `total_stock` units that every offer attached to it sells.
#[derive(Object)]
struct CreatePool {
    /// Optional; a new id is drawn when left out.
    #[oai(nullable, validator(max_length = 100, custom = "super::text::NotBlankCheck"))]
    id: Option<NotBlank>,
    #[oai(validator(max_length = 200, custom = "super::text::NotBlankCheck"))]
    name: NotBlank,
    #[oai(validator(minimum(value = "1"), maximum(value = "1000000")))]
    total_stock: i64,
}

#[derive(Object)]
struct UpdatePool {
    /// Not below what is held and sold (409 `STOCK_BELOW_COMMITTED`).
    #[oai(validator(minimum(value = "1"), maximum(value = "1000000")))]
    total_stock: i64,
}

/// A capacity pool and its books: `total_stock = available + held + sold`.
#[derive(Object)]
struct Pool {
    id: String,
    representation_id: String,
    name: String,
    total_stock: i32,
    available: i32,
    held: i32,
    sold: i32,
    /// Seated stock is its seats: every offer attached sells them.
    seated: bool,
    /// The offers whose items draw from it.
    offers: Vec<String>,
    updated_at: DateTime<Utc>,
}

impl From<records::Pool> for Pool {
    fn from(p: records::Pool) -> Self {
        Pool {
            id: p.id,
            representation_id: p.representation_id,
            name: p.name,
            total_stock: p.total_stock,
            available: p.available,
            held: p.held,
            sold: p.sold,
            seated: p.seated,
            offers: p.offers,
            updated_at: p.updated_at,
        }
    }
}

#[derive(ApiResponse)]
enum CreatedPool {
    #[oai(status = 201)]
    Created(Json<Pool>),
}

#[OpenApi(tag = "Tag::Inventory")]
impl PoolsApi {
    /// Create a capacity pool
    ///
    /// Several offers may sell from one pool (Adult, Child and Concession out of the same stalls):
    /// attach each item with `PUT /api/offers/{offer_id}/representations/{representation_id}/inventory`
    /// `{"pool_id": ...}`. A pool id already taken is a 409 `ALREADY_EXISTS`.
    #[oai(path = "/representations/:id/pools", method = "post")]
    async fn create(&self, key: ApiKey, id: Path<String>, body: Json<CreatePool>) -> Result<CreatedPool, ApiError> {
        let b = body.0;
        let new = NewPool { id: b.id.map(String::from), name: b.name.into(), total_stock: b.total_stock };
        let created = services::pools::create(&self.pool, &key.0, &id, new).await?;
        Ok(CreatedPool::Created(Json(created.into())))
    }

    /// List the capacity pools of a representation
    #[oai(path = "/representations/:id/pools", method = "get")]
    async fn list(&self, key: ApiKey, id: Path<String>) -> Result<Json<Vec<Pool>>, ApiError> {
        let pools = services::pools::list(&self.pool, &key.0, &id).await?;
        Ok(Json(pools.into_iter().map(Pool::from).collect()))
    }

    /// Set a pool's total stock
    ///
    /// Held and sold units stay; `available` absorbs the change, so a total below held + sold is
    /// refused (409 `STOCK_BELOW_COMMITTED`). Units that come back go to the waiting lists of the
    /// pool's offers first. A seated pool's total is its seats (409 `SEATED_INVENTORY`).
    #[oai(path = "/representations/:id/pools/:pool_id", method = "patch")]
    async fn update(
        &self,
        key: ApiKey,
        id: Path<String>,
        pool_id: Path<String>,
        body: Json<UpdatePool>,
    ) -> Result<Json<Pool>, ApiError> {
        let updated = services::pools::set_total(&self.pool, &key.0, &id, &pool_id, body.0.total_stock).await?;
        Ok(Json(updated.into()))
    }
}
