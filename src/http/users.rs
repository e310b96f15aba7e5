//! Buyers, for client front ends.

use chrono::{DateTime, Utc};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use sqlx::PgPool;

use super::Tag;
use super::error::ApiError;
use super::events::{EventPage, page_limit};
use super::security::ApiKey;
use super::text::{Email, Text};
use crate::domain::records;
use crate::domain::{NewUser, SearchRadius};
use crate::services;

pub struct UsersApi {
    pub pool: PgPool,
}

#[derive(Object)]
struct CreateUser {
    #[oai(default, nullable, validator(max_length = 100))]
    first_name: Text,
    #[oai(default, nullable, validator(max_length = 100))]
    last_name: Text,
    /// Unique, case-insensitively.
    #[oai(validator(max_length = 254, custom = "super::text::EmailCheck"))]
    email: Email,
    #[oai(nullable, validator(max_length = 32, pattern = r"^[0-9 +\-().]*$"))]
    phone: Option<Text>,
    /// Where the buyer is, for nearby events; both or neither.
    #[oai(nullable, validator(minimum(value = "-90"), maximum(value = "90")))]
    latitude: Option<f64>,
    /// With `latitude`: both or neither (one alone is refused with 422).
    #[oai(nullable, validator(minimum(value = "-180"), maximum(value = "180")))]
    longitude: Option<f64>,
}

#[derive(Object)]
struct User {
    id: String,
    first_name: String,
    last_name: String,
    email: String,
    #[oai(nullable)]
    phone: Option<String>,
    #[oai(nullable)]
    latitude: Option<f64>,
    #[oai(nullable)]
    longitude: Option<f64>,
    created_at: DateTime<Utc>,
}

impl From<records::User> for User {
    fn from(u: records::User) -> Self {
        User {
            id: u.id,
            first_name: u.first_name,
            last_name: u.last_name,
            email: u.email,
            phone: u.phone,
            latitude: u.latitude,
            longitude: u.longitude,
            created_at: u.created_at,
        }
    }
}

#[derive(ApiResponse)]
enum CreatedUser {
    #[oai(status = 201)]
    Created(Json<User>),
}

#[OpenApi(tag = "Tag::Users")]
impl UsersApi {
    /// Register a buyer
    ///
    /// A second user with the same email is a 409 `EMAIL_TAKEN`.
    #[oai(path = "/users", method = "post")]
    async fn create(&self, key: ApiKey, body: Json<CreateUser>) -> Result<CreatedUser, ApiError> {
        let b = body.0;
        let user = NewUser {
            first_name: b.first_name.into(),
            last_name: b.last_name.into(),
            email: b.email.into(),
            phone: b.phone.map(String::from),
            latitude: b.latitude,
            longitude: b.longitude,
        };
        Ok(CreatedUser::Created(Json(services::users::create_user(&self.pool, &key.0, user).await?.into())))
    }

    /// Read a buyer
    #[oai(path = "/users/:id", method = "get")]
    async fn get(&self, key: ApiKey, id: Path<String>) -> Result<Json<User>, ApiError> {
        Ok(Json(services::users::get_user(&self.pool, &key.0, &id).await?.into()))
    }

    /// Upcoming events near a buyer
    ///
    /// From the buyer's stored location, nearest first (409 `USER_LOCATION_UNKNOWN` without one).
    #[oai(path = "/users/:id/relevant-events", method = "get")]
    async fn relevant_events(
        &self,
        key: ApiKey,
        id: Path<String>,
        /// Search radius in km, 0.001 (a metre) to 20000 (default 50).(default 50).
        #[oai(validator(minimum(value = "0.001"), maximum(value = "20000")))]
        radius_km: Query<Option<f64>>,
        /// Events per page, 1 to 100 (default 20).
        #[oai(validator(minimum(value = "0", exclusive), maximum(value = "100")))]
        limit: Query<Option<u32>>,
        /// `next_cursor` of the previous page (opaque: any other value is refused with 422).
        cursor: Query<Option<String>>,
    ) -> Result<Json<EventPage>, ApiError> {
        let radius = SearchRadius::parse("radius_km", radius_km.0.unwrap_or(50.0))?;
        let page =
            services::users::relevant_events(&self.pool, &key.0, &id, radius, page_limit(limit.0), cursor.0).await?;
        Ok(Json(page.into()))
    }
}
