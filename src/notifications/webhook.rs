//! The webhook channel: POST the notification as JSON, signed the Standard Webhooks way
//! (`Webhook-Id`, `Webhook-Timestamp`, `Webhook-Signature: v1,<base64 HMAC-SHA256>` over
//! `{id}.{timestamp}.{body}`), so receivers can use an off-the-shelf verifier, check freshness,
//! and drop duplicates by id.

use std::time::Duration;

use data_encoding::BASE64;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{ConfigError, SendError};

/// A receiver's answer body is only read to quote it in the error; this much is plenty.
const ERROR_BODY_CHARS: usize = 300;

/// Where and how webhooks are sent.
pub struct Webhook {
    client: reqwest::Client,
    url: reqwest::Url,
    key: Vec<u8>,
}

impl Webhook {
    pub fn new(url: reqwest::Url, secret: &str, timeout: Duration) -> Result<Self, ConfigError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ConfigError::new(format!("the webhook URL must be http or https, not {}", url.scheme())));
        }
        let key = signing_key(secret)?;
        // redirects are not followed: a signed POST replayed somewhere else is not what was configured
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("boxoffice-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ConfigError::new(format!("building the HTTP client failed: {e}")))?;
        Ok(Webhook { client, url, key })
    }

    /// One attempt. `Ok` only for a 2xx; anything else is worth retrying.
    pub async fn send(&self, id: &str, body: &[u8]) -> Result<(), SendError> {
        let timestamp = chrono::Utc::now().timestamp();
        let signature = sign(&self.key, id, timestamp, body);
        let response = self
            .client
            .post(self.url.clone())
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body.to_vec())
            .send()
            .await
            .map_err(|e| SendError::Transient(anyhow::anyhow!("webhook not delivered: {}", error_chain(&e))))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let text = response.text().await.unwrap_or_default();
        let quoted: String = text.chars().take(ERROR_BODY_CHARS).collect();
        Err(SendError::Transient(anyhow::anyhow!("webhook receiver answered {status}: {quoted}")))
    }
}

/// `whsec_<base64>` is a Standard Webhooks key; anything else is used as it is.
fn signing_key(secret: &str) -> Result<Vec<u8>, ConfigError> {
    if secret.is_empty() {
        return Err(ConfigError::new("the webhook secret is empty"));
    }
    match secret.strip_prefix("whsec_") {
        Some(encoded) => (BASE64.decode(encoded.as_bytes()))
            .map_err(|_| ConfigError::new("a whsec_ secret is base64 after the prefix")),
        None => Ok(secret.as_bytes().to_vec()),
    }
}

/// `v1,<base64 of HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`.
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!("v1,{}", BASE64.encode(&mac.finalize().into_bytes()))
}

/// reqwest's top-level message says little ("error sending request"); the causes say why.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_matches_the_standard_webhooks_example() {
        // the example of the Standard Webhooks specification
        let key = signing_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        let signature = sign(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn a_plain_secret_is_its_own_bytes() {
        assert_eq!(signing_key("s3cret").unwrap(), b"s3cret");
        assert!(signing_key("").is_err());
        assert!(signing_key("whsec_not base64!").is_err());
    }
}
