//! The key that signs queue passes: stored in the database (the first process to need one stores
//! it for all), then kept in memory, so checking a pass costs no database round trip.

use data_encoding::{BASE64URL_NOPAD, HEXLOWER};
use ed25519_dalek::SigningKey;
use sqlx::PgPool;
use tokio::sync::OnceCell;

use crate::db;
use crate::services::Result;
use crate::services::signing::{ALGORITHM, PublicKey};

/// What the key signs, as stored in `signing_keys`.
const PURPOSE: &str = "queue passes";

/// The pass key of this process, loaded on first use.
#[derive(Default)]
pub struct PassKey(OnceCell<SigningKey>);

impl PassKey {
    pub async fn get(&self, pool: &PgPool) -> Result<&SigningKey> {
        self.0
            .get_or_try_init(|| async {
                let mut conn = pool.acquire().await?;
                let candidate: [u8; 32] = rand::random();
                let stored = db::signing_keys::get_or_insert(&mut conn, PURPOSE, ALGORITHM, &candidate).await?;
                let seed = <[u8; 32]>::try_from(stored)
                    .map_err(|_| anyhow::anyhow!("the stored queue pass key is not 32 bytes"))?;
                Ok(SigningKey::from_bytes(&seed))
            })
            .await
    }

    /// The public half, for whoever wants to check passes themselves.
    pub async fn public(&self, pool: &PgPool) -> Result<PublicKey> {
        let bytes = self.get(pool).await?.verifying_key().to_bytes();
        Ok(PublicKey { algorithm: ALGORITHM, base64url: BASE64URL_NOPAD.encode(&bytes), hex: HEXLOWER.encode(&bytes) })
    }
}
