//! The writer of an on-sale's hot pools: waiting-list joins and leaves, confirms and releases,
//! many per pool per transaction.
//!
//! One transaction per request spends the pool's lock, a settle and a commit per buyer; at an
//! on-sale those requests pile up on the same pool. Instead each API process hands them to a
//! [`Batcher`]: each batch checks what can be checked once for all (the buyers, the lists, the
//! reservations and who may act on them), then for each set of pools (one, or an order's several)
//! runs one transaction under their locks ([`group::apply`]), each request answered as if it had
//! run alone in that order. The database stays the judge: the same conditional updates and
//! constraints as one request at a time.
//!
//! A transaction that fails is retried one request at a time, so one caller's bad request never
//! fails another's.

mod group;

use std::collections::{BTreeMap, HashMap, HashSet};

use futures::future::join_all;
use sqlx::PgPool;
use uuid::Uuid;

use super::auth::require_buyer_agent_of;
use super::batch::{Batch, Batcher, Reply, Tasks, each_caller};
use super::items::Item;
use super::{Error, Result};
use crate::db;
use crate::domain::records::{Reservation, WaitlistEntry};
use crate::domain::{ItemRefs, NotAnItem, Principal};

/// Handle to the batcher. Cheap to clone.
#[derive(Clone)]
pub struct Writer {
    batcher: Batcher<Op>,
}

impl Writer {
    /// Starts the batcher on `tasks`.
    pub fn start(pool: PgPool, tasks: &Tasks) -> Writer {
        Writer { batcher: Batcher::start("writer", Write { pool }, tasks) }
    }

    /// Joins the item's waiting list; the entry with its position.
    pub async fn join(&self, who: &Principal, list: Item, user_id: String, quantity: i64) -> Result<WaitlistEntry> {
        let who = who.clone();
        self.batcher.call(|reply| Op::Join(Join { who, list, user_id, quantity, reply })).await
    }

    /// Leaves the item's waiting list, declining an open offer.
    pub async fn leave(&self, who: &Principal, list: Item, user_id: String) -> Result<()> {
        let who = who.clone();
        self.batcher.call(|reply| Op::Leave(Leave { who, list, user_id, reply })).await
    }

    /// Confirms a live hold; idempotent.
    pub async fn confirm(&self, who: &Principal, id: Uuid, payment_reference: Option<String>) -> Result<Reservation> {
        let (who, request_id) = (who.clone(), crate::observe::request_id());
        self.batcher.call(|reply| Op::Confirm(Confirm { who, id, payment_reference, request_id, reply })).await
    }

    /// Releases a live hold; idempotent.
    pub async fn release(&self, who: &Principal, id: Uuid) -> Result<Reservation> {
        let who = who.clone();
        self.batcher.call(|reply| Op::Release(Release { who, id, reply })).await
    }
}

/// A request to the writer, with the reply of its own kind.
enum Op {
    Join(Join),
    Leave(Leave),
    Confirm(Confirm),
    Release(Release),
}

struct Join {
    who: Principal,
    list: Item,
    user_id: String,
    quantity: i64,
    reply: Reply<WaitlistEntry>,
}

struct Leave {
    who: Principal,
    list: Item,
    user_id: String,
    reply: Reply<()>,
}

struct Confirm {
    who: Principal,
    id: Uuid,
    payment_reference: Option<String>,
    /// The HTTP request that confirmed, carried into the issuance job's logs.
    request_id: Option<String>,
    reply: Reply<Reservation>,
}

struct Release {
    who: Principal,
    id: Uuid,
    reply: Reply<Reservation>,
}

impl Op {
    fn who(&self) -> &Principal {
        match self {
            Op::Join(j) => &j.who,
            Op::Leave(l) => &l.who,
            Op::Confirm(c) => &c.who,
            Op::Release(r) => &r.who,
        }
    }

    /// Its caller gave up waiting (see [`Reply::caller_gone`]).
    fn caller_gone(&self) -> bool {
        match self {
            Op::Join(j) => j.reply.caller_gone(),
            Op::Leave(l) => l.reply.caller_gone(),
            Op::Confirm(c) => c.reply.caller_gone(),
            Op::Release(r) => r.reply.caller_gone(),
        }
    }

    /// Answers the request with `error`, whatever its kind.
    fn fail(self, error: Error) {
        match self {
            Op::Join(j) => j.reply.send(Err(error)),
            Op::Leave(l) => l.reply.send(Err(error)),
            Op::Confirm(c) => c.reply.send(Err(error)),
            Op::Release(r) => r.reply.send(Err(error)),
        }
    }

    /// Answers the request with what `answers` holds for it (the `at`-th of its group): each kind
    /// reads only the answers of its kind.
    fn answer(self, at: usize, answers: &mut group::Answers) {
        fn missing<T>() -> Result<T> {
            Err(Error::Internal(anyhow::anyhow!("the writer left a request unanswered")))
        }
        match self {
            Op::Join(j) => j.reply.send(answers.entries.remove(&at).unwrap_or_else(missing)),
            Op::Leave(l) => l.reply.send(answers.left.remove(&at).unwrap_or_else(missing)),
            Op::Confirm(c) => c.reply.send(answers.reservations.remove(&at).unwrap_or_else(missing)),
            Op::Release(r) => r.reply.send(answers.reservations.remove(&at).unwrap_or_else(missing)),
        }
    }
}

/// A batch of the writer.
struct Write {
    pool: PgPool,
}

impl Batch for Write {
    type Request = Op;

    async fn run(&self, ops: Vec<Op>) {
        let groups = match route(&self.pool, ops).await {
            Ok(groups) => groups,
            Err((e, ops)) => {
                let errors = each_caller("writer", e, ops.len());
                for (op, error) in ops.into_iter().zip(errors) {
                    op.fail(error);
                }
                return;
            }
        };
        join_all(groups.into_iter().map(|(pools, group)| run_group(&self.pool, pools, group))).await;
    }
}

/// The requests on one set of pools (in ascending order; empty for lists with no stock), and the
/// maximum per order of each list's offer (for joins).
#[derive(Default)]
struct Group {
    ops: Vec<Op>,
    max_quantity: HashMap<Item, i32>,
}

/// One transaction for the group; if it fails, each request alone, so that only the request at
/// fault fails (with the error it would get alone).
async fn run_group(pool: &PgPool, pools: Vec<String>, group: Group) {
    let Group { ops, max_quantity } = group;
    match group::apply(pool, &pools, &max_quantity, &ops).await {
        Ok(mut answers) => {
            for (at, op) in ops.into_iter().enumerate() {
                op.answer(at, &mut answers);
            }
        }
        Err(e) if ops.len() > 1 => {
            tracing::warn!(error = %e, batch = ops.len(), "a batch of a pool failed; trying each request alone");
            for op in ops {
                match group::apply(pool, &pools, &max_quantity, std::slice::from_ref(&op)).await {
                    Ok(mut answers) => op.answer(0, &mut answers),
                    Err(e) => op.fail(each_caller("writer", e, 1).remove(0)),
                }
            }
        }
        Err(e) => {
            for op in ops {
                op.fail(each_caller("writer", e.duplicate(), 1).remove(0));
            }
        }
    }
}

/// Checks what needs no pool lock, once for the batch, in the order the waiting-list contract
/// checks it (the buyer, then the offer and the representation), and who may act on what;
/// answers what fails and groups the rest by the pools they act on. When the reads themselves
/// fail, gives the requests back with the error.
async fn route(pool: &PgPool, ops: Vec<Op>) -> std::result::Result<BTreeMap<Vec<String>, Group>, (Error, Vec<Op>)> {
    let facts = match Facts::read(pool, &ops).await {
        Ok(facts) => facts,
        Err(e) => return Err((e, ops)),
    };
    let mut groups: BTreeMap<Vec<String>, Group> = BTreeMap::new();
    for op in ops {
        match facts.route(&op) {
            Ok((pools, list)) => {
                let group = groups.entry(pools).or_default();
                if let Some((item, max)) = list {
                    group.max_quantity.insert(item, max);
                }
                group.ops.push(op);
            }
            Err(e) => op.fail(e),
        }
    }
    Ok(groups)
}

/// Where a request goes: the pools it acts on (ascending), and for a list its item and its offer's
/// maximum per order.
type Route = (Vec<String>, Option<(Item, i32)>);

/// What the batch's requests name, read once for the batch.
struct Facts {
    reservations: HashMap<Uuid, Reservation>,
    known_users: HashSet<String>,
    lists: HashMap<Item, ItemRefs>,
}

impl Facts {
    async fn read(pool: &PgPool, ops: &[Op]) -> Result<Facts> {
        let mut conn = pool.acquire().await?;
        let ids: Vec<Uuid> = ops
            .iter()
            .filter_map(|op| match op {
                Op::Confirm(Confirm { id, .. }) | Op::Release(Release { id, .. }) => Some(*id),
                _ => None,
            })
            .collect();
        let reservations = if ids.is_empty() {
            HashMap::new()
        } else {
            db::reservations::find_many(&mut conn, &ids).await?.into_iter().map(|r| (r.id, r)).collect()
        };
        let users: Vec<String> = ops
            .iter()
            .filter_map(|op| match op {
                Op::Join(Join { user_id, .. }) | Op::Leave(Leave { user_id, .. }) => Some(user_id.clone()),
                _ => None,
            })
            .collect();
        let known_users = if users.is_empty() {
            HashSet::new()
        } else {
            db::users::existing(&mut conn, &users).await?.into_iter().collect()
        };
        let mut lists: HashMap<Item, ItemRefs> = HashMap::new();
        for op in ops {
            if let Op::Join(Join { list, .. }) | Op::Leave(Leave { list, .. }) = op
                && !lists.contains_key(list)
            {
                let refs = db::offers::item_refs(&mut conn, &list.offer_id, &list.representation_id).await?;
                lists.insert(list.clone(), refs);
            }
        }
        Ok(Facts { reservations, known_users, lists })
    }

    /// The pools the request acts on (ascending), and for a list its offer's maximum per order,
    /// or why it cannot.
    fn route(&self, op: &Op) -> Result<Route> {
        match op {
            Op::Confirm(Confirm { id, .. }) | Op::Release(Release { id, .. }) => match self.reservations.get(id) {
                None => Err(Error::not_found("reservation", &id.to_string())),
                Some(r) => require_buyer_agent_of(op.who(), &r.organization_id).map(|()| (r.pools(), None)),
            },
            Op::Join(Join { list, user_id, .. }) | Op::Leave(Leave { list, user_id, .. }) => {
                if self.known_users.contains(user_id) {
                    let refs = &self.lists[list];
                    let pools = refs.pool_id.iter().cloned().collect();
                    check_list(op.who(), list, refs).map(|max| (pools, Some((list.clone(), max))))
                } else {
                    Err(Error::user_does_not_exist())
                }
            }
        }
    }
}

/// The offer and the representation exist and belong to one event whose buyers the caller may
/// act for; returns the offer's maximum per order.
pub fn check_list(who: &Principal, list: &Item, refs: &ItemRefs) -> Result<i32> {
    let invalid = Error::invalid_reference;
    let (offer, rep) = (&list.offer_id, &list.representation_id);
    // the waiting-list contract's own messages
    refs.event().map_err(|problem| match problem {
        NotAnItem::NoOffer => invalid(format!("Offer {offer} does not exist")),
        NotAnItem::NoRepresentation => invalid(format!("Representation {rep} does not exist")),
        NotAnItem::DifferentEvents => {
            invalid(format!("Offer {offer} and representation {rep} belong to different events"))
        }
    })?;
    require_buyer_agent_of(who, refs.organization_id.as_deref().unwrap_or_default())?;
    Ok(refs.max_quantity_per_order.unwrap_or(1))
}
