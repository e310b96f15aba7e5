//! Live streams (Server-Sent Events): the first event is the current state, then one per change
//! (at most one per subject every 100 ms, always ending on the latest). Each event's `id` grows
//! with the state it shows, the same on every API process: a client resuming with `Last-Event-ID`
//! gets nothing until the next change if it had the latest state, else the current state at once.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use poem::Body;
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Binary;
use poem_openapi::types::ToJSON;
use poem_openapi::{ApiResponse, OpenApi};
use serde_json::json;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use super::Tag;
use super::availability::{availability_of, status_of};
use super::error::ApiError;
use super::reservations::{Reservation, reservation_id};
use super::seats::seatmap_of;
use super::security::{ApiKey, ApiKeyOrNone};
use super::virtual_queue::{QueueEntry, entry_id as entry_id_of};
use crate::domain::SeatState;
use crate::services::availability::SeatListing;
use crate::services::live::{Change, Follow, Live, ReadMany, Reader, State, Subject, Subscription};
use crate::services::virtual_queue::{self, EntryAccess, PassKey};
use crate::services::{self, Error};

/// A comment line this often keeps proxies from closing an idle stream.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

pub struct LiveApi {
    pub pool: PgPool,
    pub live: Live,
    /// Queue entries' passes and tokens.
    pub passes: Arc<PassKey>,
    /// Streams end when the server shuts down (their clients reconnect elsewhere).
    pub shutdown: CancellationToken,
}

#[derive(ApiResponse)]
pub(super) enum Events {
    /// `text/event-stream`: the events named in the operation's description, each with an `id`
    /// and its JSON as `data`.
    #[oai(status = 200, content_type = "text/event-stream")]
    Stream(
        Binary<Body>,
        /// `no-cache`: every client reads the stream itself.
        #[oai(header = "Cache-Control")]
        String,
        /// `no`: a proxy that buffers answers (nginx) passes each event on at once.
        #[oai(header = "X-Accel-Buffering")]
        String,
    ),
}

#[OpenApi(tag = "Tag::Inventory")]
impl LiveApi {
    /// Availability of a representation, live
    ///
    /// Public. Server-Sent Events named `availability`, each carrying the JSON of `GET
    /// /representations/{id}/availability` (without seats; `as_of` is the database time of the
    /// change it shows): the current state at once, then one event per change, at most one every
    /// 100 ms. `Last-Event-ID` resumes: nothing until the next change if that id is the latest
    /// state's, else the current state. A comment line every 15 s keeps the connection open. Beyond
    /// the server's subscriber limit (`STREAM_MAX_SUBSCRIBERS`), a 503 with `Retry-After`.
    #[oai(path = "/representations/:id/availability/stream", method = "get")]
    async fn availability_stream(
        &self,
        id: Path<String>,
        /// The `id` of the last event received, to resume after a reconnection.
        #[oai(name = "Last-Event-ID")]
        last_event_id: Header<Option<String>>,
    ) -> Result<Events, ApiError> {
        let read = availability_reader(id.0.clone());
        self.follow(of_representation("availability", id.0), read, ("availability", "availability"), &last_event_id)
            .await
    }

    /// Seat map of a representation, live
    ///
    /// Public. Server-Sent Events: first `seatmap`, the JSON of `GET
    /// /representations/{id}/seatmap` with `as_of`; then `seats`, `{"changes": [{"label",
    /// "status"}], "as_of"}`, the seats whose status changed since the previous event, at most one
    /// event every 100 ms. A client that missed a state (or resumes with `Last-Event-ID` behind the
    /// latest) gets a fresh `seatmap`; one that resumes at the latest gets nothing until the next
    /// change. Seats added to the hall also come as a fresh `seatmap`.
    #[oai(path = "/representations/:id/seatmap/stream", method = "get")]
    async fn seatmap_stream(
        &self,
        id: Path<String>,
        /// The `id` of the last event received, to resume after a reconnection.
        #[oai(name = "Last-Event-ID")]
        last_event_id: Header<Option<String>>,
    ) -> Result<Events, ApiError> {
        let read = seatmap_reader(id.0.clone());
        self.follow(of_representation("seatmap", id.0), read, ("seatmap", "seats"), &last_event_id).await
    }

    /// A reservation, live
    ///
    /// As `GET /reservations/{id}` (the same keys may read it). Server-Sent Events named
    /// `reservation`, each carrying the reservation's JSON with `as_of` (the database time of its
    /// last change of status): the current state at once, then one event per change of status.
    /// The stream ends after a settled state (`rejected`, `expired`, `released`, `fulfilled`,
    /// `cancelled`). `Last-Event-ID` resumes as for availability; resuming at a settled state ends
    /// the stream at once.
    #[oai(path = "/reservations/:id/stream", method = "get", tag = "Tag::Reservations")]
    async fn reservation_stream(
        &self,
        key: ApiKey,
        id: Path<String>,
        /// The `id` of the last event received, to resume after a reconnection.
        #[oai(name = "Last-Event-ID")]
        last_event_id: Header<Option<String>>,
    ) -> Result<Events, ApiError> {
        let id = reservation_id(&id)?;
        // who may read it, checked once: the stream shows this reservation only
        services::reservations::get(&self.pool, &key.0, id).await?;
        let read = reservation_reader(id);
        let changed_by = format!("reservation:{id}");
        let subject = Subject { topic: "reservation", changed_by, id: id.to_string(), follow: Follow::Statuses };
        self.follow(subject, read, ("reservation", "reservation"), &last_event_id).await
    }

    /// A queue entry, live
    ///
    /// With a client key acting for the entry's user (as `GET /events/{id}/queue/{entry_id}`), or
    /// with no key and the entry's `token` (from joining) in the query: a shop may hand the token
    /// to the buyer's browser; it opens this entry only (another entry is a 404). Server-Sent
    /// Events named `entry`, each carrying the entry's JSON as `GET` reads it (`state`, `position`,
    /// `estimated_wait_seconds`, `pass` and `pass_expires_at` once admitted, `message`, ...) with
    /// `as_of`: the current state at once, then one event per change (the draw, each admission
    /// that moves it up, its own admission, its pass expiring, the event selling out), at most one
    /// every 100 ms. `Last-Event-ID` resumes as for availability.
    #[oai(path = "/events/:id/queue/:entry_id/stream", method = "get", tag = "Tag::Queues")]
    async fn entry_stream(
        &self,
        key: ApiKeyOrNone,
        id: Path<String>,
        entry_id: Path<String>,
        /// The entry's `token`, instead of an API key.
        token: Query<Option<String>>,
        /// The `id` of the last event received, to resume after a reconnection.
        #[oai(name = "Last-Event-ID")]
        last_event_id: Header<Option<String>>,
    ) -> Result<Events, ApiError> {
        let entry_id = entry_id_of(&entry_id)?;
        let access = match (token.0.as_deref(), &key) {
            (Some(token), _) => EntryAccess::Token(token),
            (None, ApiKeyOrNone::Key(key)) => EntryAccess::Client(&key.0),
            (None, ApiKeyOrNone::None) => {
                let msg = "a client API key (Authorization: Bearer), or the entry's token (?token=)";
                return Err(ApiError(Error::Unauthenticated(msg.into())));
            }
        };
        // who may read it, checked once: the stream shows this entry only
        let entry = virtual_queue::entry_for(&self.pool, &self.passes, access, &id, entry_id).await?;
        let subject = Subject {
            topic: "entry",
            id: entry_id.to_string(),
            changed_by: format!("queue:{}", entry.event_id),
            follow: Follow::NotifiedEverySecond,
        };
        let (read, many) = entry_readers(self.passes.clone(), entry_id);
        let subscription = self.live.subscribe_read_with(subject, read, Some(many)).await?;
        Ok(self.stream(("entry", "entry"), subscription, &last_event_id))
    }
}

/// An entry's state: its id and `as_of` the last change to what it shows; `shows` the rest, as
/// its id also moves with changes of its event's stock that do not change it.
fn entry_state(entry: virtual_queue::Entry) -> State {
    let as_of = entry.as_of;
    let json = QueueEntry::from(entry).to_json();
    let mut hasher = std::hash::DefaultHasher::new();
    std::hash::Hash::hash(&json.as_ref().map(ToString::to_string), &mut hasher);
    let shows = Some(std::hash::Hasher::finish(&hasher));
    State { id: as_of.timestamp_micros(), data: with_as_of(json, as_of), shows, ..State::default() }
}

/// Reads an entry alone (when subscribing), and the followed entries of a round together.
fn entry_readers(passes: Arc<PassKey>, id: uuid::Uuid) -> (Reader, ReadMany) {
    let one_key = passes.clone();
    let one: Reader = Arc::new(move |pool| {
        let passes = one_key.clone();
        Box::pin(async move {
            let entries = virtual_queue::streamed(&pool, &passes, &[id]).await?;
            Ok(entries.into_iter().next().map(entry_state))
        })
    });
    let many: ReadMany = Arc::new(move |pool, ids| {
        let passes = passes.clone();
        Box::pin(async move {
            let ids: Vec<uuid::Uuid> = ids.iter().filter_map(|id| id.parse().ok()).collect();
            let entries = virtual_queue::streamed(&pool, &passes, &ids).await?;
            Ok(entries.into_iter().map(|e| (e.id.to_string(), entry_state(e))).collect())
        })
    });
    (one, many)
}

/// `json` (an object) with `as_of` added, as text.
fn with_as_of(json: Option<serde_json::Value>, as_of: chrono::DateTime<chrono::Utc>) -> String {
    let mut json = json.unwrap_or_default();
    if let Some(fields) = json.as_object_mut() {
        // written as every other time of the API writes it
        fields.insert("as_of".into(), as_of.to_json().unwrap_or_default());
    }
    json.to_string()
}

/// A stream's subject that changes with a representation's pools.
fn of_representation(topic: &'static str, rep: String) -> Subject {
    Subject { topic, changed_by: format!("representation:{rep}"), id: rep, follow: Follow::Notified }
}

impl LiveApi {
    /// Subscribes to `subject`, read by `read`, and streams its events.
    async fn follow(
        &self,
        subject: Subject,
        read: Reader,
        names: Names,
        last_event_id: &Option<String>,
    ) -> Result<Events, ApiError> {
        let subscription = self.live.subscribe(subject, read).await?;
        Ok(self.stream(names, subscription, last_event_id))
    }

    /// The stream of `subscription`: events named `names.0` carry whole states, `names.1` changes.
    fn stream(&self, names: Names, subscription: Subscription, last_event_id: &Option<String>) -> Events {
        let resumed_at = last_event_id.as_deref().and_then(|id| id.trim().parse::<i64>().ok());
        let events = events(names, subscription, resumed_at).take_until(self.shutdown.clone().cancelled_owned());
        let body = Body::from_bytes_stream(events.map(Ok::<_, std::io::Error>));
        Events::Stream(Binary(body), "no-cache".into(), "no".into())
    }
}

/// The names of a stream's events: a whole state's, a change's.
type Names = (&'static str, &'static str);

/// One event as sent: `id`, `event` and `data` lines (the JSON is on one line).
fn encode(id: i64, name: &str, data: &str) -> Bytes {
    Bytes::from(format!("id: {id}\nevent: {name}\ndata: {data}\n\n"))
}

/// A state's event for a subscriber that last had the state `sent`: the change from that one
/// (`names.1`) if the state knows it, else the whole state (`names.0`); each encoded once for all
/// the subscribers that send it.
fn frame(state: &State, names: Names, sent: Option<i64>) -> Bytes {
    match state.changes.iter().find(|c| Some(c.after) == sent) {
        Some(change) => change.encoded.get_or_init(|| encode(state.id, names.1, &change.data)).clone(),
        None => state.encoded.get_or_init(|| encode(state.id, names.0, &state.data)).clone(),
    }
}

/// The comment line that keeps an idle stream open.
const KEEP_ALIVE_LINE: &[u8] = b":\n\n";

/// A subscriber's events: each state it has not seen (only what changed, when it had the state
/// before), until a last state; a comment line after [`KEEP_ALIVE`] without any.
/// A client resuming at `resumed_at` gets a whole state first unless it has the latest (a change
/// only follows a state the client is known to have).
fn events(names: Names, subscription: Subscription, resumed_at: Option<i64>) -> impl Stream<Item = Bytes> + Send {
    let idle = tokio::time::interval_at(tokio::time::Instant::now() + KEEP_ALIVE, KEEP_ALIVE);
    let start = Followed { subscription, seen: resumed_at, sent: None, idle };
    futures::stream::unfold(Some(start), move |followed| async move {
        let mut followed = followed?;
        loop {
            let state = followed.subscription.states.borrow_and_update().clone();
            match state {
                Some(state) if Some(state.id) != followed.seen => {
                    let event = frame(&state, names, followed.sent);
                    (followed.seen, followed.sent) = (Some(state.id), Some(state.id));
                    followed.idle.reset();
                    return Some((event, (!state.last).then_some(followed)));
                }
                // resumed at a last state: nothing follows
                Some(state) if state.last => return None,
                // resumed at the latest state: the client has it, the next change follows it
                Some(_) => followed.sent = followed.seen,
                None => {}
            }
            tokio::select! {
                // the sender is gone only if the subject was pruned, which it is not while subscribed
                changed = followed.subscription.states.changed() => changed.ok()?,
                _ = followed.idle.tick() => return Some((Bytes::from_static(KEEP_ALIVE_LINE), Some(followed))),
            }
        }
    })
}

/// Where a subscriber is: the last state it has (`seen`), the last this connection sent, and
/// the time since it last sent anything.
struct Followed {
    subscription: Subscription,
    seen: Option<i64>,
    sent: Option<i64>,
    idle: tokio::time::Interval,
}

/// Reads a representation's availability (without seats), its id the time of its last change.
fn availability_reader(rep: String) -> Reader {
    Arc::new(move |pool| {
        let rep = rep.clone();
        Box::pin(async move {
            match services::availability::for_representation(&pool, &rep, SeatListing::None).await {
                Ok(a) => Ok(Some(State {
                    id: a.as_of.timestamp_micros(),
                    data: availability_of(a).to_json_string(),
                    ..State::default()
                })),
                Err(Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        })
    })
}

/// How many states back a seat map's change reaches: a subscriber up to this many rounds behind
/// gets the seats that changed, not the whole map again.
const SEATMAP_CHANGES_KEPT: usize = 8;

/// The seat statuses of the last seat map read, by label, that state's id, and the changes that
/// led to it, newest first: (the state before, the seats that changed from it).
#[derive(Default)]
struct LastMap {
    id: i64,
    statuses: HashMap<String, SeatState>,
    steps: VecDeque<(i64, Vec<(String, SeatState)>)>,
}

/// Reads a representation's seat map, its id the time of its last change, with the seats that
/// changed since each of the last few states read before it (unless seats were added: then only
/// the whole map).
fn seatmap_reader(rep: String) -> Reader {
    let before: Arc<Mutex<Option<LastMap>>> = Arc::default();
    Arc::new(move |pool| {
        let (rep, before) = (rep.clone(), before.clone());
        Box::pin(async move {
            let Some((sections, as_of)) = services::seatmap::as_streamed(&pool, &rep).await? else {
                return Ok(None);
            };
            let id = as_of.timestamp_micros();
            let statuses: Vec<(String, SeatState)> = sections
                .iter()
                .flat_map(|s| s.rows.iter().flat_map(|r| r.seats.iter()))
                .map(|seat| (seat.label.clone(), seat.status))
                .collect();
            let data = with_as_of(seatmap_of(rep, sections).to_json(), as_of);
            let mut before = before.lock().expect("the seat map's last state");
            // two reads may finish out of order: only a newer state moves the memory on
            let last = match before.take() {
                Some(last) if last.id >= id => {
                    *before = Some(last);
                    return Ok(Some(State { id, data, ..State::default() }));
                }
                last => last,
            };
            let mut next = LastMap { id, statuses: statuses.iter().cloned().collect(), steps: VecDeque::new() };
            if let Some(last) = last.filter(|last| last.statuses.len() == statuses.len()) {
                let step: Vec<(String, SeatState)> =
                    statuses.into_iter().filter(|(label, status)| last.statuses.get(label) != Some(status)).collect();
                next.steps = last.steps;
                next.steps.push_front((last.id, step));
                next.steps.truncate(SEATMAP_CHANGES_KEPT);
            }
            let changes = changes_since(&next.steps, as_of);
            *before = Some(next);
            Ok(Some(State { id, data, changes, ..State::default() }))
        })
    })
}

/// The change from each state of `steps` (newest first) to now: the seats that changed since,
/// with their status now (a later step's status wins).
fn changes_since(
    steps: &VecDeque<(i64, Vec<(String, SeatState)>)>,
    as_of: chrono::DateTime<chrono::Utc>,
) -> Vec<Change> {
    let mut since: Vec<(&str, SeatState)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    steps
        .iter()
        .map(|(after, step)| {
            for (label, status) in step {
                if seen.insert(label.as_str()) {
                    since.push((label, *status));
                }
            }
            let changes: Vec<serde_json::Value> = since
                .iter()
                .map(|(label, status)| json!({"label": label, "status": status_of(*status).to_json()}))
                .collect();
            let data = json!({"changes": changes, "as_of": as_of.to_json()}).to_string();
            Change { after: *after, data, encoded: Default::default() }
        })
        .collect()
}

/// Reads a reservation, its id the stage of its status; a settled one is the stream's last.
fn reservation_reader(id: uuid::Uuid) -> Reader {
    Arc::new(move |pool| {
        Box::pin(async move {
            let Some((reservation, as_of)) = services::reservations::as_streamed(&pool, id).await? else {
                return Ok(None);
            };
            let (id, last) = (reservation.status.stage(), reservation.status.is_settled());
            let data = with_as_of(Reservation::from(reservation).to_json(), as_of);
            Ok(Some(State { id, data, last, ..State::default() }))
        })
    })
}
