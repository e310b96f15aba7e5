//! Joining a queue, built for the minutes before an on-sale when everyone arrives at once.
//!
//! Whether a join is in the pre-queue, and which place a later one gets, is decided under the
//! queue's row lock by the database's clock, so the draw (which takes the same lock) sees every
//! pre-queue entry and no later one. One transaction per join would queue every joiner on that
//! lock; instead a batcher stores every join waiting at that moment in one transaction, as the
//! reservation intake does (see `services::intake`).

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::{Entry, PassKey, entry_of, queue_of};
use crate::db;
use crate::db::queue::{EntryRow, NewEntry, QueueRow};
use crate::domain::Principal;
use crate::services::auth::{require_buyer_agent, require_buyer_agent_of};
use crate::services::cache::{TtlCache, ttl_cache};
use crate::services::{Error, Result};

/// Joins stored per transaction at most.
const MAX_BATCH: usize = 1000;

type Reply = oneshot::Sender<Result<(EntryRow, bool)>>;

/// Handle to this process's join batcher, and what it knows of queues (read once a second).
#[derive(Clone)]
pub struct Joins {
    submissions: mpsc::Sender<((String, String), Reply)>,
    queues: TtlCache<String, QueueRow>,
}

impl Joins {
    pub fn start(pool: PgPool) -> Joins {
        let (submissions, rx) = mpsc::channel(MAX_BATCH * 4);
        tokio::spawn(run_batcher(pool, rx));
        Joins { submissions, queues: ttl_cache(Duration::from_secs(1), 10_000) }
    }
}

/// Joins `user_id` to the event's queue, or finds the entry they have; `true` when it is new.
pub async fn join(
    pool: &PgPool,
    joins: &Joins,
    key: &PassKey,
    who: &Principal,
    event_id: &str,
    user_id: &str,
) -> Result<(Entry, bool)> {
    require_buyer_agent(who)?;
    let queue = match joins.queues.get(&event_id.to_owned()) {
        // a refusal is never from a stale copy: the settings may have changed within the second
        Some(q) if check_open(&q, chrono::Utc::now()).is_ok() => q,
        _ => {
            let q = queue_of(&mut *pool.acquire().await?, event_id).await?;
            joins.queues.insert(event_id.to_owned(), q.clone());
            q
        }
    };
    require_buyer_agent_of(who, &queue.organization_id)?;
    // what the settings tell at once; the batch checks again under the lock, by the database's clock
    check_open(&queue, chrono::Utc::now())?;
    let (reply, answer) = oneshot::channel();
    joins
        .submissions
        .send(((event_id.to_owned(), user_id.to_owned()), reply))
        .await
        .map_err(|_| anyhow::anyhow!("the queue join batcher stopped"))?;
    let (row, created) = answer.await.map_err(|_| anyhow::anyhow!("the queue join batcher dropped a join"))??;
    let mut conn = pool.acquire().await?;
    Ok((entry_of(&mut conn, pool, key, row).await?, created))
}

fn check_open(q: &QueueRow, now: chrono::DateTime<chrono::Utc>) -> Result<()> {
    if !q.enabled {
        return Err(Error::conflict(
            "QUEUE_NOT_ENABLED",
            format!("the virtual queue of event '{}' is switched off: reserve directly", q.event_id),
        ));
    }
    if now < q.prequeue_opens_at {
        return Err(Error::conflict("QUEUE_NOT_OPEN", format!("the queue opens at {}", q.prequeue_opens_at)));
    }
    Ok(())
}

async fn run_batcher(pool: PgPool, mut rx: mpsc::Receiver<((String, String), Reply)>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let (joins, replies): (Vec<_>, Vec<_>) = batch.drain(..).unzip();
        match store(&pool, &joins).await {
            Ok(answers) => {
                for (answer, reply) in answers.into_iter().zip(replies) {
                    let _ = reply.send(answer);
                }
            }
            Err(e) => {
                tracing::error!(error = ?e, batch = joins.len(), "storing a batch of queue joins failed");
                for reply in replies {
                    let _ = reply.send(Err(Error::from(e.duplicate_sqlx())));
                }
            }
        }
    }
}

/// A database error for each caller of a failed batch: sqlx errors cannot be cloned.
trait DuplicateSqlx {
    fn duplicate_sqlx(&self) -> sqlx::Error;
}

impl DuplicateSqlx for sqlx::Error {
    fn duplicate_sqlx(&self) -> sqlx::Error {
        match self {
            sqlx::Error::PoolTimedOut => sqlx::Error::PoolTimedOut,
            other => sqlx::Error::Protocol(format!("{other}")),
        }
    }
}

/// One transaction: the queues locked, the new entries stored and placed (after the draw), every
/// joiner's entry read back.
async fn store(pool: &PgPool, joins: &[(String, String)]) -> sqlx::Result<Vec<Result<(EntryRow, bool)>>> {
    let mut tx = pool.begin().await?;
    let events: BTreeSet<&str> = joins.iter().map(|(e, _)| e.as_str()).collect();
    let queues: HashMap<String, QueueRow> = db::queue::lock_many(&mut tx, &events.into_iter().collect::<Vec<_>>())
        .await?
        .into_iter()
        .map(|q| (q.event_id.clone(), q))
        .collect();
    let mut refused: HashMap<usize, Error> = HashMap::new();
    let mut new = Vec::with_capacity(joins.len());
    for (i, (event_id, user_id)) in joins.iter().enumerate() {
        let Some(q) = queues.get(event_id) else {
            refused.insert(i, Error::not_found("event", event_id));
            continue;
        };
        if let Err(e) = check_open(q, q.now) {
            refused.insert(i, e);
            continue;
        }
        let prequeue = q.drawn_at.is_none() && q.now < q.sale_opens_at;
        new.push(NewEntry { id: Uuid::new_v4(), event_id: event_id.clone(), user_id: user_id.clone(), prequeue });
    }
    db::queue::insert_entries(&mut tx, &new).await?;
    for q in queues.values().filter(|q| q.drawn_at.is_some()) {
        db::queue::place_unplaced(&mut tx, &q.event_id).await?;
    }
    let pairs: Vec<(&str, &str)> = joins.iter().map(|(e, u)| (e.as_str(), u.as_str())).collect();
    let rows: HashMap<(String, String), EntryRow> = db::queue::entries_of_users(&mut tx, &pairs)
        .await?
        .into_iter()
        .map(|r| ((r.event_id.clone(), r.user_id.clone()), r))
        .collect();
    tx.commit().await?;
    let fresh: BTreeSet<Uuid> = new.iter().map(|n| n.id).collect();
    let mut announced = BTreeSet::new();
    let answers = joins
        .iter()
        .enumerate()
        .map(|(i, pair)| {
            if let Some(e) = refused.remove(&i) {
                return Err(e);
            }
            // the same user twice in one batch: both get the entry, the first as new
            match rows.get(pair) {
                Some(row) => {
                    let created = fresh.contains(&row.id) && announced.insert(row.id);
                    Ok((row.clone(), created))
                }
                None => Err(Error::not_found("user", &pair.1)),
            }
        })
        .collect();
    Ok(answers)
}
