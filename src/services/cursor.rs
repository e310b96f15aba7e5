//! Keyset cursors: where the previous page stopped (the last item's sort key), as JSON in
//! base64url. Opaque to clients, exact for floats, and checked when they come back.

use data_encoding::BASE64URL_NOPAD;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::domain::ValidationErrors;

/// The cursor that resumes after `key`.
pub fn encode<K: Serialize>(key: &K) -> String {
    BASE64URL_NOPAD.encode(&serde_json::to_vec(key).expect("a cursor key serializes"))
}

/// The key a cursor of `listing` (e.g. "this search") resumes after, if `fits` accepts it.
pub fn decode<K: DeserializeOwned>(raw: &str, listing: &str, fits: impl Fn(&K) -> bool) -> Result<K, ValidationErrors> {
    BASE64URL_NOPAD
        .decode(raw.as_bytes())
        .ok()
        .and_then(|bytes| serde_json::from_slice::<K>(&bytes).ok())
        .filter(fits)
        .ok_or_else(|| ValidationErrors::single(&["query", "cursor"], format!("not a cursor from {listing}")))
}
