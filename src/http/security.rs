//! `Authorization: Bearer KEY` on every protected operation.

use poem::Request;
use poem_openapi::SecurityScheme;
use poem_openapi::auth::Bearer;
use std::sync::Arc;

use sqlx::PgPool;

use super::error::ApiError;
use super::idempotency::Authenticated;
use crate::domain::Principal;
use crate::services;
use crate::services::auth::KeyCache;

/// An API key created with `boxoffice keys create`.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", checker = "check_key")]
pub struct ApiKey(pub Principal);

async fn check_key(req: &Request, bearer: Bearer) -> poem::Result<Principal> {
    if let Some(Authenticated(principal)) = req.extensions().get::<Authenticated>() {
        return Ok(principal.clone());
    }
    let pool = req.data::<PgPool>().expect("the pool is attached to every request");
    let cache = req.data::<Arc<KeyCache>>().expect("the key cache is attached to every request");
    services::auth::authenticate_cached(pool, cache, &bearer.token).await.map_err(|e| ApiError(e).into())
}

/// An API key, or none: the operation takes another credential instead (a queue entry's token).
/// A key that is not valid counts as none.
#[derive(SecurityScheme)]
pub enum ApiKeyOrNone {
    Key(ApiKey),
    #[oai(fallback)]
    None,
}
