//! Live streams' fan-out. One listener per API process hears what the database says changed
//! (`db::live::CHANNEL`), and one query per round reads the statuses of the reservations followed
//! (which notify nothing); each changed subject that has subscribers is read once, at most every
//! [`COALESCE`], and its new state shared by all of them. Subjects of which each has a subscriber
//! or two (queue entries) are read together, one query for all those of a round. A subscriber
//! holds a receiver of the subject's latest state: however slow it reads, it never falls behind
//! more than one state.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use futures::future::BoxFuture;
use sqlx::PgPool;
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

use super::batch::Tasks;
use super::{Error, Result};
use crate::db;

/// At most one event per subject in this time; the last state is always sent.
pub const COALESCE: Duration = Duration::from_millis(100);

/// A subject's state as its events carry it: its id (increasing with each change, the same on
/// every process and across restarts) and the event's JSON.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct State {
    pub id: i64,
    pub data: String,
    /// What changed since each of the few states before it, for a subscriber who has one of them
    /// (a seat map's seats that changed, rather than the whole map again): a subscriber a few
    /// rounds behind still gets a change.
    pub changes: Vec<Change>,
    /// Nothing follows: the stream ends after this state.
    pub last: bool,
    /// What the state shows, but its time, when its id may move on while it shows the same (a
    /// queue entry's id follows its event's stock): a state showing the same as the current one
    /// is not sent again.
    pub shows: Option<u64>,
    /// The state as sent whole, encoded by the first stream that sends it and shared by all the
    /// others: a state sent to 10,000 subscribers is encoded once.
    pub encoded: OnceLock<bytes::Bytes>,
}

/// The difference from an earlier state to this one, as an event's JSON.
#[derive(Debug, PartialEq, Eq)]
pub struct Change {
    pub after: i64,
    pub data: String,
    /// As sent, encoded once (see [`State::encoded`]).
    pub encoded: OnceLock<bytes::Bytes>,
}

/// Reads a subject's state: `None` when it no longer exists.
pub type Reader = Arc<dyn Fn(PgPool) -> BoxFuture<'static, Result<Option<State>>> + Send + Sync>;

/// Reads the states of many subjects of one topic in one go, by their ids (those that exist).
pub type ReadMany = Arc<dyn Fn(PgPool, Vec<String>) -> BoxFuture<'static, Result<Vec<(String, State)>>> + Send + Sync>;

/// A stream's subject: what it shows (`availability`), of what (a representation's id), and
/// which notifications change it (`representation:ID`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Subject {
    pub topic: &'static str,
    pub id: String,
    pub changed_by: String,
    pub follow: Follow,
}

/// How the changes of a subject are learnt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Follow {
    /// From the notifications named `changed_by`.
    Notified,
    /// A reservation (`changed_by` is `reservation:ID`): nothing notifies its changes (an
    /// on-sale changes reservations by the thousand); the statuses of all followed reservations are
    /// read in one query each round instead.
    Statuses,
    /// From the notifications named `changed_by`, and read again every second: what it shows
    /// also moves with the clock (a pass expires) or with what notifies other names (its event
    /// selling out).
    NotifiedEverySecond,
}

/// How often [`Follow::NotifiedEverySecond`] subjects are read without a notification.
const EVERY_SECOND: Duration = Duration::from_secs(1);

struct Watched {
    state: watch::Sender<Option<Arc<State>>>,
    read: Reader,
    /// Reads it together with the other subjects of its topic due in the same round.
    many: Option<ReadMany>,
}

/// The fan-out of one API process.
#[derive(Clone)]
pub struct Live {
    inner: Arc<Inner>,
}

struct Inner {
    pool: PgPool,
    max_subscribers: usize,
    subscribers: AtomicUsize,
    subjects: Mutex<HashMap<Subject, Arc<Watched>>>,
    /// Notifications heard since the last round (`kind:id`), or every subject after a reconnect.
    changed: Mutex<Changed>,
    wake: Notify,
}

#[derive(Default)]
struct Changed {
    names: HashSet<String>,
    everything: bool,
}

/// One subscriber: the subject's states as they change. Counted until dropped.
pub struct Subscription {
    pub states: watch::Receiver<Option<Arc<State>>>,
    _counted: Counted,
}

struct Counted(Arc<Inner>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.subscribers.fetch_sub(1, Ordering::Relaxed);
        metrics::gauge!("live_subscribers").decrement(1.0);
    }
}

impl Live {
    /// The fan-out on `pool`, its listener and its rounds started on `tasks`.
    pub fn start(pool: PgPool, max_subscribers: usize, tasks: &Tasks) -> Live {
        let inner = Arc::new(Inner {
            pool,
            max_subscribers,
            subscribers: AtomicUsize::new(0),
            subjects: Mutex::default(),
            changed: Mutex::default(),
            wake: Notify::new(),
        });
        tasks.tracker.spawn(listen(inner.clone(), tasks.shutdown.clone()));
        tasks.tracker.spawn(rounds(inner.clone(), tasks.shutdown.clone()));
        tasks.tracker.spawn(poll(inner.clone(), tasks.shutdown.clone()));
        Live { inner }
    }

    /// Subscribes to `subject`, read by `read`: its current state comes first. Beyond the
    /// process's subscriber limit, a 503.
    pub async fn subscribe(&self, subject: Subject, read: Reader) -> Result<Subscription> {
        self.subscribe_read_with(subject, read, None).await
    }

    /// [`Live::subscribe`], the subject read with the others of its topic by `many` when it
    /// changes (`read` alone when subscribing).
    pub async fn subscribe_read_with(
        &self,
        subject: Subject,
        read: Reader,
        many: Option<ReadMany>,
    ) -> Result<Subscription> {
        let inner = &self.inner;
        if inner.subscribers.fetch_add(1, Ordering::Relaxed) >= inner.max_subscribers {
            inner.subscribers.fetch_sub(1, Ordering::Relaxed);
            return Err(Error::Unavailable(format!(
                "this server has {} live subscribers, its limit: retry in a moment",
                inner.max_subscribers
            )));
        }
        metrics::gauge!("live_subscribers").increment(1.0);
        let counted = Counted(inner.clone());
        // a subject changed since it was last read is read again now, so that the first event is
        // not a state already gone
        let stale = {
            let changed = inner.changed.lock().expect("changed");
            changed.everything || changed.names.contains(&subject.changed_by)
        };
        // receivers are taken under the lock: a round prunes subjects without any
        let existing = inner
            .subjects
            .lock()
            .expect("subjects")
            .get(&subject)
            .filter(|watched| !stale && watched.state.borrow().is_some())
            .map(|watched| watched.state.subscribe());
        let states = match existing {
            Some(states) => states,
            None => {
                // new (or not read yet): read now, so that the first event is the current state
                let Some(state) = (read)(inner.pool.clone()).await? else {
                    return Err(Error::not_found(subject.topic, &subject.id));
                };
                let mut subjects = inner.subjects.lock().expect("subjects");
                let watched = subjects
                    .entry(subject)
                    .or_insert_with(|| Arc::new(Watched { state: watch::Sender::new(None), read, many }));
                // the subject's other subscribers get it too (publish keeps only a newer state)
                publish(watched, state);
                watched.state.subscribe()
            }
        };
        Ok(Subscription { states, _counted: counted })
    }
}

/// Sends `state` to the subject's subscribers unless they have it already.
fn publish(watched: &Watched, state: State) {
    watched.state.send_if_modified(|current| {
        if current.as_ref().is_some_and(|c| c.id >= state.id || (state.shows.is_some() && c.shows == state.shows)) {
            return false;
        }
        *current = Some(Arc::new(state));
        true
    });
}

/// Hears the change feed; after a reconnect every subject is read again (what changed meanwhile
/// was not heard).
async fn listen(inner: Arc<Inner>, shutdown: CancellationToken) {
    let mut first = true;
    while !shutdown.is_cancelled() {
        let mut listener = match db::live::listen(&inner.pool).await {
            Ok(listener) => listener,
            Err(e) => {
                tracing::warn!(error = %e, "live streams: cannot listen to the change feed; retrying in a second");
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                }
            }
        };
        if !first {
            tracing::info!("live streams: listening again; every subject is read again");
            changed_everything(&inner);
        }
        first = false;
        loop {
            let heard = tokio::select! {
                _ = shutdown.cancelled() => return,
                heard = listener.try_recv() => heard,
            };
            match heard {
                Ok(Some(notification)) => {
                    inner.changed.lock().expect("changed").names.insert(notification.payload().to_string());
                    inner.wake.notify_one();
                }
                // the connection was lost and sqlx reconnected: notifications may have been missed
                Ok(None) => changed_everything(&inner),
                Err(e) => {
                    tracing::warn!(error = %e, "live streams: the change feed was lost; listening again");
                    break;
                }
            }
        }
    }
}

fn changed_everything(inner: &Inner) {
    inner.changed.lock().expect("changed").everything = true;
    inner.wake.notify_one();
}

/// Reads every changed subject that has subscribers, then waits [`COALESCE`] before the next
/// round: a subject changing a thousand times a second is read ten times.
async fn rounds(inner: Arc<Inner>, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = inner.wake.notified() => {}
        }
        let changed = std::mem::take(&mut *inner.changed.lock().expect("changed"));
        let due: Vec<(Subject, Arc<Watched>)> = {
            let mut subjects = inner.subjects.lock().expect("subjects");
            subjects.retain(|_, watched| watched.state.receiver_count() > 0);
            subjects
                .iter()
                .filter(|(subject, _)| changed.everything || changed.names.contains(&subject.changed_by))
                .map(|(subject, watched)| (subject.clone(), watched.clone()))
                .collect()
        };
        // subjects read together, by topic; the others one by one
        let mut together: HashMap<&'static str, ReadTogether> = HashMap::new();
        for (subject, watched) in due {
            match &watched.many {
                Some(many) => {
                    let group = together.entry(subject.topic).or_insert_with(|| (many.clone(), Vec::new()));
                    group.1.push((subject.id, watched.clone()));
                }
                None => match (watched.read)(inner.pool.clone()).await {
                    Ok(Some(state)) => publish(&watched, state),
                    // gone (deleted): its subscribers keep the last state
                    Ok(None) => {}
                    Err(e) => read_failed(&inner, &e),
                },
            }
        }
        for (many, subjects) in together.into_values() {
            let ids = subjects.iter().map(|(id, _)| id.clone()).collect();
            match many(inner.pool.clone(), ids).await {
                Ok(states) => {
                    let mut states: HashMap<String, State> = states.into_iter().collect();
                    for (id, watched) in subjects {
                        if let Some(state) = states.remove(&id) {
                            publish(&watched, state);
                        }
                    }
                }
                Err(e) => read_failed(&inner, &e),
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(COALESCE) => {}
        }
    }
}

/// Subjects of one topic due in a round, and how to read them in one go: by subject id.
type ReadTogether = (ReadMany, Vec<(String, Arc<Watched>)>);

fn read_failed(inner: &Inner, e: &Error) {
    tracing::warn!(error = %e, "live streams: a subject could not be read; trying again next round");
    changed_everything(inner);
}

/// Every [`COALESCE`], reads the statuses of the followed reservations in one query and marks
/// those whose status moved on as changed.
async fn poll(inner: Arc<Inner>, shutdown: CancellationToken) {
    let mut last_second = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(COALESCE) => {}
        }
        if last_second.elapsed() >= EVERY_SECOND {
            last_second = tokio::time::Instant::now();
            every_second(&inner);
        }
        // each followed reservation and the stage its subscribers have
        let followed: HashMap<uuid::Uuid, (String, Option<i64>)> = {
            let subjects = inner.subjects.lock().expect("subjects");
            subjects
                .iter()
                .filter(|(subject, _)| subject.follow == Follow::Statuses)
                .filter_map(|(subject, watched)| {
                    let id = subject.id.parse().ok()?;
                    let shown = watched.state.borrow().as_ref().map(|s| s.id);
                    Some((id, (subject.changed_by.clone(), shown)))
                })
                .collect()
        };
        if followed.is_empty() {
            continue;
        }
        let ids: Vec<uuid::Uuid> = followed.keys().copied().collect();
        let statuses = match inner.pool.acquire().await {
            Ok(mut conn) => db::live::reservation_statuses(&mut conn, &ids).await,
            Err(e) => Err(e),
        };
        let statuses = match statuses {
            Ok(statuses) => statuses,
            Err(e) => {
                tracing::warn!(error = %e, "live streams: the followed reservations could not be read");
                continue;
            }
        };
        let moved: Vec<String> = statuses
            .into_iter()
            .filter_map(|(id, status)| {
                let (name, shown) = followed.get(&id)?;
                (*shown != Some(status.stage())).then(|| name.clone())
            })
            .collect();
        if !moved.is_empty() {
            inner.changed.lock().expect("changed").names.extend(moved);
            inner.wake.notify_one();
        }
    }
}

/// Marks the subjects followed [`Follow::NotifiedEverySecond`] as changed.
fn every_second(inner: &Inner) {
    let names: HashSet<String> = {
        let subjects = inner.subjects.lock().expect("subjects");
        (subjects.keys())
            .filter(|subject| subject.follow == Follow::NotifiedEverySecond)
            .map(|subject| subject.changed_by.clone())
            .collect()
    };
    if !names.is_empty() {
        inner.changed.lock().expect("changed").names.extend(names);
        inner.wake.notify_one();
    }
}
