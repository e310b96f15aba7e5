//! API keys: created from the command line, stored hashed, checked on every protected request.

use data_encoding::BASE64URL_NOPAD;
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use super::cache::{TtlCache, ttl_cache};
use super::{Error, Result};
use crate::db::{self, api_keys::ListedKey};
use crate::domain::{Principal, RatePolicy, Role};

/// Every key starts with this, so a leaked one is easy to recognise in logs and scanners.
const KEY_PREFIX: &str = "bo_";

/// A key just created: the only moment its plain text exists.
#[derive(Debug)]
pub struct CreatedKey {
    pub id: uuid::Uuid,
    pub key: String,
}

fn hash(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// Creates a key with 256 random bits. An organizer key is limited to one organization; a client
/// key may be (it then acts only for the buyers of that organization's events).
pub async fn create_key(
    pool: &PgPool,
    role: Role,
    organization_id: Option<&str>,
    rate: Option<RatePolicy>,
) -> Result<CreatedKey> {
    let organization_id = organization_id.map(str::trim).filter(|o| !o.is_empty());
    match (role, organization_id) {
        (Role::Organizer, None) => {
            return Err(Error::bad_request("INVALID_ARGUMENT", "an organizer key needs --organization"));
        }
        (Role::Admin, Some(_)) => {
            return Err(Error::bad_request("INVALID_ARGUMENT", "an admin key belongs to no organization"));
        }
        _ => {}
    }
    let secret: [u8; 32] = rand::random();
    let key = format!("{KEY_PREFIX}{}", BASE64URL_NOPAD.encode(&secret));
    let mut conn = pool.acquire().await?;
    let id = db::api_keys::insert(&mut conn, &hash(&key), role, organization_id, rate).await?;
    Ok(CreatedKey { id, key })
}

/// Every key (never the key itself: only its hash is kept), oldest first.
pub async fn list_keys(pool: &PgPool) -> Result<Vec<ListedKey>> {
    let mut conn = pool.acquire().await?;
    Ok(db::api_keys::list(&mut conn).await?)
}

/// Revokes a key: it stops working at once on new processes, and within the key cache's time
/// (`KEY_CACHE_SECS`) on running ones. Revoking twice is harmless.
pub async fn revoke_key(pool: &PgPool, id: &str) -> Result<ListedKey> {
    let parsed = uuid::Uuid::parse_str(id).map_err(|_| Error::not_found("API key", id))?;
    let mut conn = pool.acquire().await?;
    db::api_keys::revoke(&mut conn, parsed).await?.ok_or_else(|| Error::not_found("API key", id))
}

/// Valid keys recently seen: a revoked key keeps working on this process for at most this long.
pub type KeyCache = TtlCache<[u8; 32], Principal>;

pub fn key_cache(ttl: std::time::Duration) -> KeyCache {
    ttl_cache(ttl, 100_000)
}

/// The caller behind `key` if this process saw the key valid lately; never asks the database.
pub fn cached(cache: &KeyCache, key: &str) -> Option<Principal> {
    cache.get(&hash(key))
}

/// [`authenticate`], answered from `cache` when the key was seen valid in the last 30 seconds.
pub async fn authenticate_cached(pool: &PgPool, cache: &KeyCache, key: &str) -> Result<Principal> {
    let digest = hash(key);
    if let Some(p) = cache.get(&digest) {
        return Ok(p);
    }
    let principal = authenticate(pool, key).await?;
    cache.insert(digest, principal.clone());
    Ok(principal)
}

/// The caller behind `key`, or `Unauthenticated`.
pub async fn authenticate(pool: &PgPool, key: &str) -> Result<Principal> {
    let unknown = || Error::Unauthenticated("the API key is not valid".into());
    if !key.starts_with(KEY_PREFIX) {
        return Err(unknown());
    }
    let mut conn = pool.acquire().await?;
    let row = db::api_keys::find_active(&mut conn, &hash(key)).await?.ok_or_else(unknown)?;
    let rate = row.rate_requests.zip(row.rate_window_secs).map(|(requests, window_secs)| RatePolicy {
        requests: requests.unsigned_abs(),
        window_secs: window_secs.unsigned_abs(),
    });
    Ok(Principal { key_id: row.id, role: row.role, organization_id: row.organization_id, rate })
}

/// Refuses anyone but admins and organizers.
pub fn require_catalog_editor(p: &Principal) -> Result<()> {
    if p.may_edit_catalog() {
        Ok(())
    } else {
        Err(Error::PermissionDenied("this key may not change the catalog".into()))
    }
}

/// Refuses anyone who may not manage this organization's events.
pub fn require_manager_of(p: &Principal, organization_id: &str) -> Result<()> {
    if p.may_manage(organization_id) {
        Ok(())
    } else {
        Err(Error::PermissionDenied("this key may not manage this organization's events".into()))
    }
}

/// Refuses anyone but admins and client front ends.
pub fn require_buyer_agent(p: &Principal) -> Result<()> {
    if p.may_act_for_buyers() { Ok(()) } else { Err(Error::PermissionDenied("this key may not act for buyers".into())) }
}

/// Refuses anyone who may not act for the buyers of this organization's events.
pub fn require_buyer_agent_of(p: &Principal, organization_id: &str) -> Result<()> {
    require_buyer_agent(p)?;
    if p.may_act_for_buyers_of(organization_id) {
        Ok(())
    } else {
        Err(Error::PermissionDenied("this key acts only for the buyers of its own organization's events".into()))
    }
}
