//! The key that signs ticket payloads. Every process must use the same one, or a scanner holding
//! the published public key would refuse tickets signed elsewhere: it comes from
//! `TICKET_SIGNING_KEY` (base64 of the 32-byte Ed25519 seed) when set, else from the database,
//! where the first process to need one stores it for all.

use std::sync::LazyLock;

use data_encoding::{BASE64, BASE64_NOPAD, BASE64URL, BASE64URL_NOPAD, HEXLOWER};
use ed25519_dalek::SigningKey;
use sqlx::PgPool;

use super::Result;
use crate::db;

/// What the key signs, as stored in `signing_keys`.
const PURPOSE: &str = "tickets";
pub const ALGORITHM: &str = "Ed25519";
const ENV: &str = "TICKET_SIGNING_KEY";

/// Read once: the environment does not change under a running process.
static FROM_ENV: LazyLock<Result<Option<[u8; 32]>, String>> = LazyLock::new(|| match std::env::var(ENV) {
    Ok(raw) if !raw.trim().is_empty() => parse_seed(raw.trim()).map(Some),
    _ => Ok(None),
});

/// Base64 of 32 bytes, in the standard or the URL-safe alphabet, padded or not.
fn parse_seed(raw: &str) -> Result<[u8; 32], String> {
    [&BASE64, &BASE64_NOPAD, &BASE64URL, &BASE64URL_NOPAD]
        .iter()
        .find_map(|e| e.decode(raw.as_bytes()).ok())
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .ok_or_else(|| format!("{ENV} must be the base64 of 32 bytes (an Ed25519 seed)"))
}

/// Fails when `TICKET_SIGNING_KEY` is set but unusable: binaries call it at start, so a typo
/// stops the process instead of failing every issuance.
pub fn check_env() -> std::result::Result<(), BadKey> {
    FROM_ENV.as_ref().map(|_| ()).map_err(|e| BadKey(e.clone()))
}

/// `TICKET_SIGNING_KEY` is set but unusable.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadKey(String);

/// The signing key of this deployment.
pub async fn ticket_key(pool: &PgPool) -> Result<SigningKey> {
    let seed = match FROM_ENV.as_ref().map_err(|e| anyhow::anyhow!("{e}"))? {
        Some(seed) => *seed,
        None => {
            let mut conn = pool.acquire().await?;
            let candidate: [u8; 32] = rand::random();
            let stored = db::signing_keys::get_or_insert(&mut conn, PURPOSE, ALGORITHM, &candidate).await?;
            <[u8; 32]>::try_from(stored).map_err(|_| anyhow::anyhow!("the stored ticket key is not 32 bytes"))?
        }
    };
    Ok(SigningKey::from_bytes(&seed))
}

/// The public half, as scanners need it.
#[derive(Debug, Clone)]
pub struct PublicKey {
    pub algorithm: &'static str,
    /// The 32 raw bytes in base64url, without padding.
    pub base64url: String,
    pub hex: String,
}

pub async fn ticket_public_key(pool: &PgPool) -> Result<PublicKey> {
    let bytes = ticket_key(pool).await?.verifying_key().to_bytes();
    Ok(PublicKey { algorithm: ALGORITHM, base64url: BASE64URL_NOPAD.encode(&bytes), hex: HEXLOWER.encode(&bytes) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_is_read_in_any_base64_flavour_and_must_be_32_bytes() {
        let seed = [0xfb; 32];
        assert_eq!(parse_seed(&BASE64.encode(&seed)), Ok(seed));
        assert_eq!(parse_seed(&BASE64URL_NOPAD.encode(&seed)), Ok(seed));
        assert!(parse_seed(&BASE64.encode(&[1; 31])).is_err());
        assert!(parse_seed("not base64!").is_err());
    }
}
