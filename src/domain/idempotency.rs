//! Idempotency keys: how long a claim may stay in progress, and the answer kept for retries
//! (stored by `db::idempotency`, claimed by `services::idempotency`, replayed by `http`).

use std::time::Duration;

/// A claim still in progress after this long is taken to be abandoned (the process serving it
/// died between the claim and storing the answer) and may be claimed again. It stays well above
/// the longest a request can run (its deadline, see `http::Limits::check`), so a slow request is
/// never run twice.
pub const ABANDONED_AFTER: Duration = Duration::from_secs(120);

/// The answer given to the request that claimed a key.
#[derive(Debug, Clone)]
pub struct StoredAnswer {
    pub status_code: i32,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    pub location: Option<String>,
}
