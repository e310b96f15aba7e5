//! The virtual queue in front of an on-sale: its settings, the draw, where an entry stands, and
//! the pass an admitted entry carries. No I/O.
//!
//! - **The draw.** A queue's seed is 32 random bytes drawn when it is first enabled; its SHA-256
//!   (the commitment) is public from then on, the seed once the sale opens. The pre-queue is then
//!   ordered by SHA-256(seed || entry id as UTF-8), ascending: anyone can recompute the order from
//!   the public endpoints, and nobody could aim for a good place without knowing the seed.
//! - **Places.** The draw gives the pre-queue places 1..n; later arrivals take the next places in
//!   arrival order. Admission goes in place order, so an entry's position is its place minus the
//!   last place admitted: an exact rank that only ever goes down.
//! - **Passes.** An admitted entry's pass is a signed token (see [`super::signed`]) of its user,
//!   event, entry and expiry: the API checks it with the public key alone.

use chrono::{DateTime, SecondsFormat, Utc};
use data_encoding::{BASE64URL_NOPAD, HEXLOWER};
use ed25519_dalek::{SigningKey, VerifyingKey};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::signed::{self, Unsealed};
use super::{ValidationErrors, Validator};

/// Admissions per minute, at most.
pub const MAX_ADMIT_PER_MINUTE: i32 = 1_000_000;
/// A pass lasts at most a day.
pub const MAX_PASS_MINUTES: i32 = 1440;

/// A queue's settings as the organizer gives them.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueSettings {
    pub enabled: bool,
    pub prequeue_opens_at: DateTime<Utc>,
    pub sale_opens_at: DateTime<Utc>,
    pub admit_per_minute: i32,
    pub pass_minutes: i32,
    /// The shop's page the waiting room sends an admitted buyer to, with the pass.
    pub return_url: Option<String>,
}

/// Settings to change; absent ones stay as they are (all are needed the first time).
#[derive(Debug, Clone, Default)]
pub struct QueuePatch {
    pub enabled: Option<bool>,
    pub prequeue_opens_at: Option<DateTime<Utc>>,
    pub sale_opens_at: Option<DateTime<Utc>>,
    pub admit_per_minute: Option<i32>,
    pub pass_minutes: Option<i32>,
    /// `Some(None)` removes it.
    pub return_url: Option<Option<String>>,
}

/// The longest `return_url`.
pub const MAX_RETURN_URL: usize = 2000;

impl QueuePatch {
    /// The settings once this patch is applied to `current` (`None`: the event has no queue yet).
    pub fn merged(self, current: Option<&QueueSettings>) -> Result<QueueSettings, ValidationErrors> {
        let mut v = Validator::new("body");
        let missing = |v: &mut Validator, field: &str| {
            v.push(&format!("queue.{field}"), "required when the event has no queue yet");
        };
        let enabled = self.enabled.or(current.map(|c| c.enabled));
        let prequeue = self.prequeue_opens_at.or(current.map(|c| c.prequeue_opens_at));
        let sale = self.sale_opens_at.or(current.map(|c| c.sale_opens_at));
        let rate = self.admit_per_minute.or(current.map(|c| c.admit_per_minute));
        let pass = self.pass_minutes.or(current.map(|c| c.pass_minutes));
        for (absent, field) in [
            (enabled.is_none(), "enabled"),
            (prequeue.is_none(), "prequeue_opens_at"),
            (sale.is_none(), "sale_opens_at"),
            (rate.is_none(), "admit_per_minute"),
            (pass.is_none(), "pass_minutes"),
        ] {
            if absent {
                missing(&mut v, field);
            }
        }
        if let Some(rate) = rate {
            v.check(
                (1..=MAX_ADMIT_PER_MINUTE).contains(&rate),
                "queue.admit_per_minute",
                format!("must be 1 to {MAX_ADMIT_PER_MINUTE}"),
            );
        }
        if let Some(pass) = pass {
            v.check((1..=MAX_PASS_MINUTES).contains(&pass), "queue.pass_minutes", "must be 1 to 1440");
        }
        let return_url = match self.return_url {
            Some(url) => url,
            None => current.and_then(|c| c.return_url.clone()),
        };
        if let Some(url) = &return_url {
            v.check(web_address(url), "queue.return_url", "must be an http or https URL of at most 2000 characters");
        }
        if let (Some(p), Some(s)) = (prequeue, sale) {
            v.check(p <= s, "queue.prequeue_opens_at", "the pre-queue must open no later than the sale");
        }
        match (enabled, prequeue, sale, rate, pass) {
            (
                Some(enabled),
                Some(prequeue_opens_at),
                Some(sale_opens_at),
                Some(admit_per_minute),
                Some(pass_minutes),
            ) if !v.has_errors() => Ok(QueueSettings {
                enabled,
                prequeue_opens_at,
                sale_opens_at,
                admit_per_minute,
                pass_minutes,
                return_url,
            }),
            _ => Err(v.finish().expect_err("a missing or bad setting was recorded")),
        }
    }
}

/// An absolute http(s) URL with a host, as a browser is sent to: nothing else (no `javascript:`).
fn web_address(url: &str) -> bool {
    url.len() <= MAX_RETURN_URL
        && reqwest::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
}

/// A queue's seed: drawn once, published as its commitment, revealed when the sale opens.
pub fn new_seed() -> [u8; 32] {
    rand::random()
}

/// The lowercase hex SHA-256 of the seed: what the queue shows before the sale opens.
pub fn commitment(seed: &[u8]) -> String {
    HEXLOWER.encode(&Sha256::digest(seed))
}

/// An entry's key in the draw: SHA-256(seed || entry id in its hyphenated lowercase form, UTF-8).
/// The database orders by the same expression (see `db::queue::draw`); the test below keeps the
/// two alike.
pub fn draw_key(seed: &[u8], entry_id: Uuid) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(seed);
    hasher.update(entry_id.hyphenated().to_string().as_bytes());
    hasher.finalize().into()
}

/// What an entry token is made of: the MAC of the entry's id under a key of its own, derived from
/// the pass key (one stored secret; the passes' signatures never see this key).
fn entry_token_mac(key: &SigningKey, entry_id: Uuid) -> Hmac<Sha256> {
    let token_key =
        Sha256::new().chain_update(b"boxoffice queue entry tokens\n").chain_update(key.to_bytes()).finalize();
    let mut mac = Hmac::<Sha256>::new_from_slice(&token_key).expect("HMAC takes a key of any length");
    mac.update(entry_id.hyphenated().to_string().as_bytes());
    mac
}

/// An entry's token: opens that entry's stream and waiting-room page, and nothing else, without an
/// API key (a shop hands it to the buyer's browser). It does not expire: the entry's own state
/// does (a pass is only shown while it is valid).
pub fn entry_token(key: &SigningKey, entry_id: Uuid) -> String {
    BASE64URL_NOPAD.encode(&entry_token_mac(key, entry_id).finalize().into_bytes())
}

/// Whether `token` is the token of `entry_id` (compared in constant time).
pub fn entry_token_opens(key: &SigningKey, entry_id: Uuid, token: &str) -> bool {
    let Ok(tag) = BASE64URL_NOPAD.decode(token.as_bytes()) else { return false };
    entry_token_mac(key, entry_id).verify_slice(&tag).is_ok()
}

/// Where an entry stands, as a buyer is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryState {
    /// Joined before the sale opened; placed by the draw when it opens.
    PreQueue,
    Waiting,
    /// Let through, with a pass until it expires.
    Admitted,
    /// Waiting, but the event has nothing left to sell: admission resumes if stock comes back.
    SoldOut,
    /// Admitted, but the pass has run out.
    Expired,
}

impl EntryState {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryState::PreQueue => "pre-queue",
            EntryState::Waiting => "waiting",
            EntryState::Admitted => "admitted",
            EntryState::SoldOut => "sold_out",
            EntryState::Expired => "expired",
        }
    }
}

/// What is known of an entry and its queue at one instant of the database's clock.
#[derive(Debug, Clone)]
pub struct EntryFacts {
    pub place: Option<i64>,
    pub pass_expires_at: Option<DateTime<Utc>>,
    pub admitted_through: i64,
    pub admit_per_minute: i32,
    /// The event has nothing left to sell right now.
    pub sold_out: bool,
    pub now: DateTime<Utc>,
}

/// An entry's state, rank and expected wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryStanding {
    pub state: EntryState,
    /// 1 is next; only while waiting (or sold out) with a place.
    pub position: Option<i64>,
    /// Seconds until admission at the queue's rate; only while waiting with a place.
    pub estimated_wait_seconds: Option<i64>,
}

impl EntryFacts {
    pub fn standing(&self) -> EntryStanding {
        let waiting = |state, position, wait| EntryStanding { state, position, estimated_wait_seconds: wait };
        match (self.place, self.pass_expires_at) {
            (_, Some(expires)) if expires > self.now => waiting(EntryState::Admitted, None, None),
            (_, Some(_)) => waiting(EntryState::Expired, None, None),
            (None, None) => waiting(EntryState::PreQueue, None, None),
            (Some(place), None) => {
                let position = (place - self.admitted_through).max(1);
                if self.sold_out {
                    waiting(EntryState::SoldOut, Some(position), None)
                } else {
                    let rate = i64::from(self.admit_per_minute.max(1));
                    // the sweep admits each second: the last of `position` goes within that second
                    let wait = (position * 60 + rate - 1) / rate;
                    waiting(EntryState::Waiting, Some(position), Some(wait))
                }
            }
        }
    }
}

/// What a pass vouches for. Serialized as canonical JSON: keys in lexicographic order (the field
/// order below), no whitespace, the expiry in RFC 3339 UTC with microseconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PassClaims {
    pub entry_id: Uuid,
    pub event_id: String,
    pub expires_at: String,
    pub user_id: String,
}

impl PassClaims {
    pub fn new(entry_id: Uuid, event_id: &str, user_id: &str, expires_at: DateTime<Utc>) -> PassClaims {
        PassClaims {
            entry_id,
            event_id: event_id.to_owned(),
            expires_at: expires_at.to_rfc3339_opts(SecondsFormat::Micros, true),
            user_id: user_id.to_owned(),
        }
    }

    pub fn sign(&self, key: &SigningKey) -> String {
        signed::seal(key, &serde_json::to_string(self).expect("pass claims serialize"))
    }

    pub fn expires_at(&self) -> Option<DateTime<Utc>> {
        DateTime::parse_from_rfc3339(&self.expires_at).ok().map(|t| t.with_timezone(&Utc))
    }
}

/// Why a pass is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PassProblem {
    /// Not a pass: cut short, altered, or signed by another key.
    Forged,
    /// A real pass, but for another event.
    OtherEvent,
    /// A real pass, but another user's.
    OtherUser,
    Expired,
}

impl PassProblem {
    pub fn message(self) -> &'static str {
        match self {
            PassProblem::Forged => "this queue pass is not one this service signed (cut short or altered?)",
            PassProblem::OtherEvent => "this queue pass is for another event",
            PassProblem::OtherUser => "this queue pass belongs to another user",
            PassProblem::Expired => "this queue pass has expired: a new one needs a new turn in the queue",
        }
    }
}

/// Checks a pass for a reservation of `user_id` at `event_id`, at `now` by this process's clock
/// (the database checks the expiry again by its own when the reservation is stored).
pub fn check_pass(
    key: &VerifyingKey,
    token: &str,
    event_id: &str,
    user_id: &str,
    now: DateTime<Utc>,
) -> Result<PassClaims, PassProblem> {
    let payload = signed::open(key, token.trim()).map_err(|e| match e {
        Unsealed::Malformed | Unsealed::BadSignature => PassProblem::Forged,
    })?;
    let claims: PassClaims = serde_json::from_slice(&payload).map_err(|_| PassProblem::Forged)?;
    let expires = claims.expires_at().ok_or(PassProblem::Forged)?;
    if claims.event_id != event_id {
        return Err(PassProblem::OtherEvent);
    }
    if claims.user_id != user_id {
        return Err(PassProblem::OtherUser);
    }
    if expires <= now {
        return Err(PassProblem::Expired);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests;
