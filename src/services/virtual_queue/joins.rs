//! Joining a queue, built for the minutes before an on-sale when everyone arrives at once.
//!
//! Whether a join is in the pre-queue, and which place a later one gets, is decided under the
//! queue's row lock by the database's clock, so the draw (which takes the same lock) sees every
//! pre-queue entry and no later one. One transaction per join would queue every joiner on that
//! lock; instead a [`Batcher`] stores every join waiting at that moment in one transaction, as
//! the reservation intake does (see `services::intake`).

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use sqlx::PgPool;
use uuid::Uuid;

use super::{Entry, PassKey, entry_of, queue_of};
use crate::db;
use crate::db::queue::{EntryRow, NewEntry, QueueRow};
use crate::domain::Principal;
use crate::services::auth::{require_buyer_agent, require_buyer_agent_of};
use crate::services::batch::{Batch, Batcher, Call, Tasks, each_caller};
use crate::services::cache::{TtlCache, ttl_cache};
use crate::services::{Error, Result};

/// One join: a user to an event's queue.
pub struct Joining {
    pub event_id: String,
    pub user_id: String,
}

/// Handle to this process's join batcher, and what it knows of queues (read once a second).
#[derive(Clone)]
pub struct Joins {
    /// Answers the stored entry, and whether it is new.
    batcher: Batcher<Call<Joining, (EntryRow, bool)>>,
    queues: TtlCache<String, QueueRow>,
}

impl Joins {
    pub fn start(pool: PgPool, tasks: &Tasks) -> Joins {
        Joins {
            batcher: Batcher::start("queue joins", Store { pool }, tasks),
            queues: ttl_cache(Duration::from_secs(1), 10_000),
        }
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
    let joining = Joining { event_id: event_id.to_owned(), user_id: user_id.to_owned() };
    let (row, created) = joins.batcher.ask(joining).await?;
    let key = key.get(pool).await?;
    let mut conn = pool.acquire().await?;
    Ok((entry_of(&mut conn, key, row).await?, created))
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

/// A batch of joins: stored in one transaction.
struct Store {
    pool: PgPool,
}

impl Batch for Store {
    type Request = Call<Joining, (EntryRow, bool)>;

    async fn run(&self, mut calls: Vec<Self::Request>) {
        // a caller that gave up before its turn was told nothing was done
        calls.retain(|c| !c.reply.caller_gone());
        if calls.is_empty() {
            return;
        }
        let (joins, replies): (Vec<_>, Vec<_>) = calls.into_iter().map(|c| (c.input, c.reply)).unzip();
        let answers = match store(&self.pool, &joins).await {
            Ok(answers) => answers,
            Err(e) => each_caller("queue joins", e.into(), joins.len()).into_iter().map(Err).collect(),
        };
        for (answer, reply) in answers.into_iter().zip(replies) {
            reply.send(answer);
        }
    }
}

/// One transaction: the queues locked, the new entries stored and placed (after the draw), every
/// joiner's entry read back.
async fn store(pool: &PgPool, joins: &[Joining]) -> sqlx::Result<Vec<Result<(EntryRow, bool)>>> {
    let mut tx = pool.begin().await?;
    let events: BTreeSet<&str> = joins.iter().map(|j| j.event_id.as_str()).collect();
    let queues: HashMap<String, QueueRow> = db::queue::lock_many(&mut tx, &events.into_iter().collect::<Vec<_>>())
        .await?
        .into_iter()
        .map(|q| (q.event_id.clone(), q))
        .collect();
    let mut refused: HashMap<usize, Error> = HashMap::new();
    let mut new = Vec::with_capacity(joins.len());
    for (i, Joining { event_id, user_id }) in joins.iter().enumerate() {
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
    let pairs: Vec<(&str, &str)> = joins.iter().map(|j| (j.event_id.as_str(), j.user_id.as_str())).collect();
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
        .map(|(i, j)| {
            if let Some(e) = refused.remove(&i) {
                return Err(e);
            }
            // the same user twice in one batch: both get the entry, the first as new
            match rows.get(&(j.event_id.clone(), j.user_id.clone())) {
                Some(row) => {
                    let created = fresh.contains(&row.id) && announced.insert(row.id);
                    Ok((row.clone(), created))
                }
                None => Err(Error::not_found("user", &j.user_id)),
            }
        })
        .collect();
    Ok(answers)
}
