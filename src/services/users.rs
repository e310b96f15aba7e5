//! Buyers, registered and read by client front ends.

use sqlx::{PgConnection, PgPool};
use tracing::instrument;

use super::auth::require_buyer_agent;
use super::search::{self, EventSearch, SearchPage};
use super::{Error, Result};
use crate::db;
use crate::domain::records::User;
use crate::domain::{GeoPoint, NewUser, Principal, SearchRadius};

#[instrument(skip_all)]
pub async fn create_user(pool: &PgPool, who: &Principal, user: NewUser) -> Result<User> {
    require_buyer_agent(who)?;
    let user = user.validated()?;
    let mut conn = pool.acquire().await?;
    Ok(db::users::insert(&mut conn, &uuid::Uuid::new_v4().to_string(), &user, who.buyer_scope()).await?)
}

pub async fn get_user(pool: &PgPool, who: &Principal, user_id: &str) -> Result<User> {
    require_buyer_agent(who)?;
    let mut conn = pool.acquire().await?;
    visible_user(&mut conn, who, user_id).await
}

/// The buyer, if the caller may see them: a client key of an organization sees the buyers it
/// registered and those with a reservation or a waiting-list entry for its events (403 otherwise).
pub async fn visible_user(conn: &mut PgConnection, who: &Principal, user_id: &str) -> Result<User> {
    let user = db::users::find(conn, user_id).await?.ok_or_else(|| Error::not_found("user", user_id))?;
    if let Some(organization) = who.buyer_scope()
        && !db::users::known_to(conn, user_id, organization).await?
    {
        return Err(Error::PermissionDenied("this key sees only the buyers of its own organization's events".into()));
    }
    Ok(user)
}

/// Upcoming events near the user's stored location, nearest first.
pub async fn relevant_events(
    pool: &PgPool,
    who: &Principal,
    user_id: &str,
    radius: SearchRadius,
    limit: i64,
    cursor: Option<String>,
) -> Result<SearchPage> {
    let user = get_user(pool, who, user_id).await?;
    let (Some(latitude), Some(longitude)) = (user.latitude, user.longitude) else {
        return Err(Error::conflict("USER_LOCATION_UNKNOWN", format!("user '{user_id}' has no stored location")));
    };
    let query = EventSearch {
        near: Some(GeoPoint { latitude, longitude }),
        radius,
        from: Some(chrono::Utc::now()),
        to: None,
        available_only: false,
        limit,
        cursor,
    };
    search::search(pool, query).await
}
