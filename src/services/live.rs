//! Live streams' fan-out. One listener per API process hears what the database says changed
//! (`db::live::CHANNEL`), and one query per round reads the statuses of the reservations followed
//! (which notify nothing); each changed subject that has subscribers is read once, at most every
//! [`COALESCE`], and its new state shared by all of them. A subscriber holds a receiver of the
//! subject's latest state: however slow it reads, it never falls behind more than one state.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
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
#[derive(Debug, PartialEq, Eq)]
pub struct State {
    pub id: i64,
    pub data: String,
    /// What changed since the state of id `after`, for a subscriber who has that one (a seat
    /// map's seats that changed, rather than the whole map again).
    pub change: Option<Change>,
    /// Nothing follows: the stream ends after this state.
    pub last: bool,
}

/// The difference from one state to the next, as an event's JSON.
#[derive(Debug, PartialEq, Eq)]
pub struct Change {
    pub after: i64,
    pub data: String,
}

/// Reads a subject's state: `None` when it no longer exists.
pub type Reader = Arc<dyn Fn(PgPool) -> BoxFuture<'static, Result<Option<State>>> + Send + Sync>;

/// A stream's subject: what it shows (`availability`), of what (a representation's id), and
/// which notifications change it (`representation:ID`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Subject {
    pub topic: &'static str,
    pub id: String,
    pub changed_by: String,
    /// A reservation (`changed_by` is `reservation:ID`): nothing notifies its changes (an
    /// on-sale changes reservations by the thousand); the statuses of all followed reservations are
    /// read in one query each round instead.
    pub polled: bool,
}

struct Watched {
    state: watch::Sender<Option<Arc<State>>>,
    read: Reader,
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
                    .or_insert_with(|| Arc::new(Watched { state: watch::Sender::new(None), read }));
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
        if current.as_ref().is_some_and(|c| c.id >= state.id) {
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
        let due: Vec<Arc<Watched>> = {
            let mut subjects = inner.subjects.lock().expect("subjects");
            subjects.retain(|_, watched| watched.state.receiver_count() > 0);
            subjects
                .iter()
                .filter(|(subject, _)| changed.everything || changed.names.contains(&subject.changed_by))
                .map(|(_, watched)| watched.clone())
                .collect()
        };
        for watched in due {
            match (watched.read)(inner.pool.clone()).await {
                Ok(Some(state)) => publish(&watched, state),
                // gone (deleted): its subscribers keep the last state
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "live streams: a subject could not be read; trying again next round");
                    changed_everything(&inner);
                }
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(COALESCE) => {}
        }
    }
}

/// Every [`COALESCE`], reads the statuses of the followed reservations in one query and marks
/// those whose status moved on as changed.
async fn poll(inner: Arc<Inner>, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(COALESCE) => {}
        }
        // each followed reservation and the stage its subscribers have
        let followed: HashMap<uuid::Uuid, (String, Option<i64>)> = {
            let subjects = inner.subjects.lock().expect("subjects");
            subjects
                .iter()
                .filter(|(subject, _)| subject.polled)
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
