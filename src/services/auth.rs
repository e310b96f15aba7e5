//! API keys: created from the command line, stored hashed, checked on every protected request.

use data_encoding::BASE64URL_NOPAD;
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use super::cache::TtlCache;
use super::{Error, Result};
use crate::db;
use crate::domain::{Principal, Role};

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

/// Creates a key with 256 random bits. An organizer key is limited to one organization.
pub async fn create_key(pool: &PgPool, role: Role, organization_id: Option<&str>) -> Result<CreatedKey> {
    let organization_id = organization_id.map(str::trim).filter(|o| !o.is_empty());
    match (role, organization_id) {
        (Role::Organizer, None) => {
            return Err(Error::bad_request("INVALID_ARGUMENT", "an organizer key needs --organization"));
        }
        (Role::Admin | Role::Client, Some(_)) => {
            return Err(Error::bad_request("INVALID_ARGUMENT", "only organizer keys belong to an organization"));
        }
        _ => {}
    }
    let secret: [u8; 32] = rand::random();
    let key = format!("{KEY_PREFIX}{}", BASE64URL_NOPAD.encode(&secret));
    let mut conn = pool.acquire().await?;
    let id = db::api_keys::insert(&mut conn, &hash(&key), role.as_str(), organization_id).await?;
    Ok(CreatedKey { id, key })
}

/// Valid keys recently seen: a revoked key keeps working on this process for at most this long.
pub type KeyCache = TtlCache<[u8; 32], Principal>;

pub fn key_cache(ttl: std::time::Duration) -> KeyCache {
    TtlCache::new(ttl, 100_000)
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
    let role =
        Role::parse(&row.role).ok_or_else(|| anyhow::anyhow!("api key {} has unknown role {}", row.id, row.role))?;
    Ok(Principal { key_id: row.id, role, organization_id: row.organization_id })
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
