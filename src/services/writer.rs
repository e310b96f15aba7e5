//! The writer of an on-sale's hot items: waiting-list joins and leaves, confirms and releases,
//! many per item per transaction.
//!
//! One transaction per request spends the item's lock, a settle and a commit per buyer; at an
//! on-sale those requests pile up on the same item. Instead each API process hands them to this
//! batcher: it takes every request waiting at that moment, checks what can be checked once for all
//! (the buyers, the lists, the reservations and who may act on them), then for each item runs one
//! transaction under the item's lock: lapsed holds end and freed stock goes to the list first
//! (`stock::settle`), releases, leaves, confirms, then joins in arrival order, each answered as if
//! it had run alone in that order. The database stays the judge: the same conditional updates and
//! constraints as one request at a time.
//!
//! A transaction that fails is retried one request at a time, so one caller's bad request never
//! fails another's.

use std::collections::{BTreeMap, HashMap, HashSet};

use futures::future::join_all;
use sqlx::{PgConnection, PgPool};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::auth::require_buyer_agent_of;
use super::{Error, Result, stock};
use crate::db::{self, waitlist::Joining};
use crate::domain::job::IssueTickets;
use crate::domain::records::{Reservation, WaitlistEntry};
use crate::domain::{EntryStatus, ItemRefs, NotAnItem, Principal, RejectionReason, ReservationStatus};

/// Requests taken per batch at most.
const MAX_BATCH: usize = 1000;

/// An item: (offer, representation).
pub use super::items::Item;

/// Handle to the batcher. Cheap to clone.
#[derive(Clone)]
pub struct Writer {
    ops: mpsc::Sender<Op>,
}

struct Op {
    who: Principal,
    kind: Kind,
    reply: Reply,
}

#[derive(Debug, Clone)]
enum Kind {
    Join { list: Item, user_id: String, quantity: i64 },
    Leave { list: Item, user_id: String },
    Confirm { id: Uuid, payment_reference: Option<String>, request_id: Option<String> },
    Release { id: Uuid },
}

/// A confirm in a batch: (request index, reservation, payment reference, HTTP request id).
type Confirming = (usize, Uuid, Option<String>, Option<String>);

enum Reply {
    Entry(oneshot::Sender<Result<WaitlistEntry>>),
    Done(oneshot::Sender<Result<()>>),
    Reservation(oneshot::Sender<Result<Reservation>>),
}

enum Answer {
    Entry(Result<WaitlistEntry>),
    Done(Result<()>),
    Reservation(Result<Reservation>),
}

impl Answer {
    /// The same failure, whatever the request's kind.
    fn failed(kind: &Kind, error: Error) -> Answer {
        match kind {
            Kind::Join { .. } => Answer::Entry(Err(error)),
            Kind::Leave { .. } => Answer::Done(Err(error)),
            Kind::Confirm { .. } | Kind::Release { .. } => Answer::Reservation(Err(error)),
        }
    }
}

impl Reply {
    fn send(self, answer: Answer) {
        let mismatch = || Error::Internal(anyhow::anyhow!("the writer answered a request with another kind of answer"));
        match (self, answer) {
            (Reply::Entry(tx), Answer::Entry(a)) => drop(tx.send(a)),
            (Reply::Done(tx), Answer::Done(a)) => drop(tx.send(a)),
            (Reply::Reservation(tx), Answer::Reservation(a)) => drop(tx.send(a)),
            (Reply::Entry(tx), _) => drop(tx.send(Err(mismatch()))),
            (Reply::Done(tx), _) => drop(tx.send(Err(mismatch()))),
            (Reply::Reservation(tx), _) => drop(tx.send(Err(mismatch()))),
        }
    }
}

impl Writer {
    /// Starts the batcher on the current runtime.
    pub fn start(pool: PgPool) -> Writer {
        let (ops, rx) = mpsc::channel(MAX_BATCH * 4);
        tokio::spawn(run(pool, rx));
        Writer { ops }
    }

    async fn submit<T>(
        &self,
        who: &Principal,
        kind: Kind,
        reply: Reply,
        answer: oneshot::Receiver<Result<T>>,
    ) -> Result<T> {
        self.ops.send(Op { who: who.clone(), kind, reply }).await.map_err(|_| anyhow::anyhow!("the writer stopped"))?;
        answer.await.map_err(|_| anyhow::anyhow!("the writer dropped a request"))?
    }

    /// Joins the item's waiting list; the entry with its position.
    pub async fn join(&self, who: &Principal, list: Item, user_id: String, quantity: i64) -> Result<WaitlistEntry> {
        let (tx, rx) = oneshot::channel();
        self.submit(who, Kind::Join { list, user_id, quantity }, Reply::Entry(tx), rx).await
    }

    /// Leaves the item's waiting list, declining an open offer.
    pub async fn leave(&self, who: &Principal, list: Item, user_id: String) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        self.submit(who, Kind::Leave { list, user_id }, Reply::Done(tx), rx).await
    }

    /// Confirms a live hold; idempotent.
    pub async fn confirm(&self, who: &Principal, id: Uuid, payment_reference: Option<String>) -> Result<Reservation> {
        let (tx, rx) = oneshot::channel();
        let request_id = crate::observe::request_id();
        self.submit(who, Kind::Confirm { id, payment_reference, request_id }, Reply::Reservation(tx), rx).await
    }

    /// Releases a live hold; idempotent.
    pub async fn release(&self, who: &Principal, id: Uuid) -> Result<Reservation> {
        let (tx, rx) = oneshot::channel();
        self.submit(who, Kind::Release { id }, Reply::Reservation(tx), rx).await
    }
}

async fn run(pool: PgPool, mut rx: mpsc::Receiver<Op>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let (requests, replies): (Vec<(Principal, Kind)>, Vec<Reply>) =
            batch.drain(..).map(|op| ((op.who, op.kind), op.reply)).unzip();
        let answers = decide(&pool, &requests).await;
        for (reply, answer) in replies.into_iter().zip(answers) {
            reply.send(answer);
        }
    }
}

/// Answers every request of the batch, in the order given.
async fn decide(pool: &PgPool, requests: &[(Principal, Kind)]) -> Vec<Answer> {
    let mut answers: Vec<Option<Answer>> = requests.iter().map(|_| None).collect();
    let groups = match route(pool, requests, &mut answers).await {
        Ok(groups) => groups,
        Err(e) => {
            tracing::error!(error = ?e, batch = requests.len(), "the writer could not read what a batch needs");
            return requests
                .iter()
                .map(|(_, kind)| Answer::failed(kind, Error::Internal(anyhow::anyhow!("{e}"))))
                .collect();
        }
    };
    let done = join_all(groups.into_iter().map(|(item, group)| async move {
        let kinds: Vec<(usize, &Kind)> = group.requests.iter().map(|&i| (i, &requests[i].1)).collect();
        match apply(pool, &item, group.max_quantity, &kinds).await {
            Ok(answers) => answers,
            Err(e) if kinds.len() > 1 => {
                tracing::warn!(error = %e, batch = kinds.len(), "a batch of an item failed; trying each request alone");
                let mut answers = Vec::new();
                for one in kinds.chunks(1) {
                    match apply(pool, &item, group.max_quantity, one).await {
                        Ok(mut answer) => answers.append(&mut answer),
                        Err(e) => answers.push((one[0].0, Answer::failed(one[0].1, e))),
                    }
                }
                answers
            }
            Err(e) => kinds.iter().map(|(i, kind)| (*i, Answer::failed(kind, e.duplicate()))).collect(),
        }
    }))
    .await;
    for (i, answer) in done.into_iter().flatten() {
        answers[i] = Some(answer);
    }
    answers
        .into_iter()
        .zip(requests)
        .map(|(answer, (_, kind))| {
            answer.unwrap_or_else(|| {
                Answer::failed(kind, Error::Internal(anyhow::anyhow!("a request was left unanswered")))
            })
        })
        .collect()
}

/// The requests of one item, and its offer's maximum per order (for joins).
#[derive(Default)]
struct Group {
    requests: Vec<usize>,
    max_quantity: i32,
}

/// Checks what needs no item lock, once for the batch, in the order the waiting-list contract
/// checks it (the buyer, then the offer and the representation), and who may act on what;
/// answers what fails and groups the rest by item.
async fn route(
    pool: &PgPool,
    requests: &[(Principal, Kind)],
    answers: &mut [Option<Answer>],
) -> Result<BTreeMap<Item, Group>> {
    let mut conn = pool.acquire().await?;
    let ids: Vec<Uuid> = requests
        .iter()
        .filter_map(|(_, k)| match k {
            Kind::Confirm { id, .. } | Kind::Release { id } => Some(*id),
            _ => None,
        })
        .collect();
    let reservations: HashMap<Uuid, Reservation> = if ids.is_empty() {
        HashMap::new()
    } else {
        db::reservations::find_many(&mut conn, &ids).await?.into_iter().map(|r| (r.id, r)).collect()
    };
    let users: Vec<String> = requests
        .iter()
        .filter_map(|(_, k)| match k {
            Kind::Join { user_id, .. } | Kind::Leave { user_id, .. } => Some(user_id.clone()),
            _ => None,
        })
        .collect();
    let known_users: HashSet<String> = if users.is_empty() {
        HashSet::new()
    } else {
        db::users::existing(&mut conn, &users).await?.into_iter().collect()
    };
    let mut lists: HashMap<Item, ItemRefs> = HashMap::new();
    for (_, kind) in requests {
        if let Kind::Join { list, .. } | Kind::Leave { list, .. } = kind
            && !lists.contains_key(list)
        {
            let refs = db::offers::item_refs(&mut conn, &list.0, &list.1).await?;
            lists.insert(list.clone(), refs);
        }
    }

    let mut groups: BTreeMap<Item, Group> = BTreeMap::new();
    for (i, (who, kind)) in requests.iter().enumerate() {
        let routed = match kind {
            Kind::Confirm { id, .. } | Kind::Release { id } => match reservations.get(id) {
                None => Err(Error::not_found("reservation", &id.to_string())),
                Some(r) => require_buyer_agent_of(who, &r.organization_id)
                    .map(|()| ((r.offer_id.clone(), r.representation_id.clone()), 0)),
            },
            Kind::Join { list, user_id, .. } | Kind::Leave { list, user_id } => {
                if known_users.contains(user_id) {
                    check_list(who, list, &lists[list]).map(|max| (list.clone(), max))
                } else {
                    Err(Error::user_does_not_exist())
                }
            }
        };
        match routed {
            Ok((item, max)) => {
                let group = groups.entry(item).or_default();
                group.requests.push(i);
                group.max_quantity = group.max_quantity.max(max);
            }
            Err(e) => answers[i] = Some(Answer::failed(kind, e)),
        }
    }
    Ok(groups)
}

/// The offer and the representation exist and belong to one event whose buyers the caller may
/// act for; returns the offer's maximum per order.
pub fn check_list(who: &Principal, list: &Item, refs: &ItemRefs) -> Result<i32> {
    let invalid = Error::invalid_reference;
    // the waiting-list contract's own messages
    refs.event().map_err(|problem| match problem {
        NotAnItem::NoOffer => invalid(format!("Offer {} does not exist", list.0)),
        NotAnItem::NoRepresentation => invalid(format!("Representation {} does not exist", list.1)),
        NotAnItem::DifferentEvents => {
            invalid(format!("Offer {} and representation {} belong to different events", list.0, list.1))
        }
    })?;
    require_buyer_agent_of(who, refs.organization_id.as_deref().unwrap_or_default())?;
    Ok(refs.max_quantity_per_order.unwrap_or(1))
}

/// One transaction for the item's requests, under its lock; the answers once it committed.
async fn apply(
    pool: &PgPool,
    item: &Item,
    max_quantity: i32,
    requests: &[(usize, &Kind)],
) -> Result<Vec<(usize, Answer)>> {
    let (offer, rep) = (item.0.as_str(), item.1.as_str());
    let mut tx = pool.begin().await?;
    if db::inventory::lock(&mut tx, offer, rep).await?.is_none() {
        // no stock was ever set: no reservation can be of it, nobody is on its list
        return Ok(requests.iter().map(|(i, kind)| (*i, Answer::failed(kind, without_stock(kind)))).collect());
    }
    stock::settle(&mut tx, offer, rep).await?;
    let mut out = Vec::with_capacity(requests.len());

    let releases: Vec<(usize, Uuid)> = requests
        .iter()
        .filter_map(|(i, k)| if let Kind::Release { id } = k { Some((*i, *id)) } else { None })
        .collect();
    let released = end_holds(&mut tx, offer, rep, &releases.iter().map(|r| r.1).collect::<Vec<_>>()).await?;

    let leaves: Vec<(usize, &str)> = requests
        .iter()
        .filter_map(|(i, k)| if let Kind::Leave { user_id, .. } = k { Some((*i, user_id.as_str())) } else { None })
        .collect();
    let left = leave(&mut tx, offer, rep, &leaves.iter().map(|l| l.1.to_string()).collect::<Vec<_>>()).await?;
    for (i, user) in &leaves {
        let answer = if left.contains(*user) { Ok(()) } else { Err(not_on_list()) };
        out.push((*i, Answer::Done(answer)));
    }

    // (request index, reservation, payment reference, request id)
    let confirms: Vec<Confirming> = requests
        .iter()
        .filter_map(|(i, k)| match k {
            Kind::Confirm { id, payment_reference, request_id } => {
                Some((*i, *id, payment_reference.clone(), request_id.clone()))
            }
            _ => None,
        })
        .collect();
    let confirmed = confirm(&mut tx, offer, rep, &confirms).await?;

    if !released.is_empty() || !left.is_empty() {
        // what came back goes to the people waiting first
        stock::promote(&mut tx, offer, rep).await?;
    }

    let joins: Vec<(usize, &str, i64)> = requests
        .iter()
        .filter_map(|(i, k)| match k {
            Kind::Join { user_id, quantity, .. } => Some((*i, user_id.as_str(), *quantity)),
            _ => None,
        })
        .collect();
    out.extend(join(&mut tx, offer, rep, max_quantity, &joins).await?.into_iter().map(|(i, a)| (i, Answer::Entry(a))));

    // the others' answers, as the reservations stand now
    let mut rows: HashMap<Uuid, Reservation> = released.into_iter().chain(confirmed).map(|r| (r.id, r)).collect();
    let done_now: HashSet<Uuid> = rows.keys().copied().collect();
    let others: Vec<Uuid> =
        releases.iter().map(|r| r.1).chain(confirms.iter().map(|c| c.1)).filter(|id| !done_now.contains(id)).collect();
    let mut lapsed = false;
    let others = if others.is_empty() { vec![] } else { db::reservations::find_many(&mut tx, &others).await? };
    for r in others {
        lapsed |= !done_now.contains(&r.id) && r.status == ReservationStatus::Expired;
        rows.entry(r.id).or_insert(r);
    }
    if lapsed {
        // a hold that ran out while this batch ran: its stock comes back now, not when its job runs
        stock::settle(&mut tx, offer, rep).await?;
    }
    for (i, id) in &releases {
        out.push((*i, Answer::Reservation(release_answer(rows.get(id), done_now.contains(id), *id))));
    }
    for (i, id, _, _) in &confirms {
        out.push((*i, Answer::Reservation(confirm_answer(rows.get(id), done_now.contains(id), *id))));
    }
    tx.commit().await?;
    Ok(out)
}

fn without_stock(kind: &Kind) -> Error {
    match kind {
        Kind::Join { .. } => not_available("no tickets have been put on sale for this offer and representation"),
        Kind::Leave { .. } => not_on_list(),
        Kind::Confirm { id, .. } | Kind::Release { id } => Error::not_found("reservation", &id.to_string()),
    }
}

fn not_on_list() -> Error {
    Error::NotFound { status: "USER_NOT_ON_WAITLIST", message: "User is not on this waitlist".into() }
}

/// The list cannot be joined: `Waitlist is not available - {why}` (the contract's wording when
/// tickets are still on sale, ours for the other reasons).
fn not_available(why: &str) -> Error {
    Error::bad_request("WAITLIST_NOT_AVAILABLE", format!("Waitlist is not available - {why}"))
}

/// Releases the live holds among `ids`: their units are available again, and an offer from the
/// list among them is declined. Returns the holds released.
async fn end_holds(conn: &mut PgConnection, offer: &str, rep: &str, ids: &[Uuid]) -> Result<Vec<Reservation>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let released = db::reservations::release_held(conn, ids).await?;
    let units: i32 = released.iter().map(|r| r.quantity).sum();
    if units > 0 {
        db::inventory::end_hold(conn, offer, rep, units, false).await?;
        let ids: Vec<Uuid> = released.iter().map(|r| r.id).collect();
        db::waitlist::end_offers(conn, &ids, EntryStatus::Declined).await?;
    }
    Ok(released)
}

/// Takes these users off the list: a waiting one leaves, an offered one declines the offer (its
/// hold is released). Returns who was on the list.
async fn leave(conn: &mut PgConnection, offer: &str, rep: &str, users: &[String]) -> Result<HashSet<String>> {
    if users.is_empty() {
        return Ok(HashSet::new());
    }
    let entries = db::waitlist::active_of_users(conn, offer, rep, users).await?;
    let offers: Vec<Uuid> =
        entries.iter().filter(|e| e.status == EntryStatus::Offered).filter_map(|e| e.reservation_id).collect();
    end_holds(conn, offer, rep, &offers).await?;
    // an offer whose hold could not be released any more (it ended a moment ago) is declined too
    db::waitlist::end_offers(conn, &offers, EntryStatus::Declined).await?;
    db::waitlist::leave_waiting(conn, offer, rep, users).await?;
    Ok(entries.into_iter().map(|e| e.user_id).collect())
}

/// Confirms the live holds among the requests: their units are sold, their tickets' issuance is
/// queued, and an offer from the list among them is converted. Returns the holds confirmed.
async fn confirm(conn: &mut PgConnection, offer: &str, rep: &str, confirms: &[Confirming]) -> Result<Vec<Reservation>> {
    if confirms.is_empty() {
        return Ok(vec![]);
    }
    let ids: Vec<Uuid> = confirms.iter().map(|c| c.1).collect();
    let references: Vec<Option<String>> = confirms.iter().map(|c| c.2.clone()).collect();
    let confirmed = db::reservations::confirm_held(conn, &ids, &references).await?;
    let units: i32 = confirmed.iter().map(|r| r.quantity).sum();
    if units > 0 {
        db::inventory::end_hold(conn, offer, rep, units, true).await?;
        let ids: Vec<Uuid> = confirmed.iter().map(|r| r.id).collect();
        db::waitlist::end_offers(conn, &ids, EntryStatus::Converted).await?;
        let requests: HashMap<Uuid, Option<String>> = confirms.iter().map(|c| (c.1, c.3.clone())).collect();
        let issuances: Vec<IssueTickets> = ids
            .iter()
            .map(|&reservation_id| IssueTickets {
                reservation_id,
                request_id: requests.get(&reservation_id).cloned().flatten(),
            })
            .collect();
        db::jobs::enqueue_many(conn, &issuances).await?;
    }
    Ok(confirmed)
}

/// Joins in arrival order, each checked as the contract orders it: the list is available (sold
/// out, on sale, general admission), the quantity, not already on the list. Those that pass are
/// appended; each learns its rank (they are last).
async fn join(
    conn: &mut PgConnection,
    offer: &str,
    rep: &str,
    max_quantity: i32,
    joins: &[(usize, &str, i64)],
) -> Result<Vec<(usize, Result<WaitlistEntry>)>> {
    if joins.is_empty() {
        return Ok(vec![]);
    }
    let state = db::inventory::state(conn, offer, rep)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the item {offer}/{rep} vanished under its lock"))?;
    let users: Vec<String> = joins.iter().map(|j| j.1.to_string()).collect();
    let mut on_list: HashSet<String> =
        db::waitlist::active_of_users(conn, offer, rep, &users).await?.into_iter().map(|e| e.user_id).collect();
    let mut answers: Vec<(usize, Result<WaitlistEntry>)> = Vec::with_capacity(joins.len());
    let mut accepted: Vec<(usize, Joining)> = Vec::new();
    let room = db::waitlist::CAPACITY - state.line_joined;
    for &(i, user, quantity) in joins {
        let verdict = if let Some(error) = refusal(&state) {
            Err(error)
        } else if quantity <= 0 {
            Err(Error::bad_request("INVALID_QUANTITY", "Quantity must be greater than 0"))
        } else if quantity > i64::from(max_quantity) {
            Err(Error::bad_request("INVALID_QUANTITY", format!("Quantity exceeds maximum of {max_quantity}")))
        } else if !on_list.insert(user.to_string()) {
            Err(Error::conflict("USER_ALREADY_ON_WAITLIST", "User is already on this waitlist"))
        } else if accepted.len() as i32 >= room {
            Err(Error::conflict("WAITLIST_FULL", "this waiting list has taken all the people it can"))
        } else {
            accepted.push((i, Joining { id: Uuid::now_v7(), user_id: user.to_string(), quantity: quantity as i32 }));
            continue;
        };
        answers.push((i, verdict));
    }
    if accepted.is_empty() {
        return Ok(answers);
    }
    let people: Vec<Joining> = accepted.iter().map(|a| a.1.clone()).collect();
    let entries = db::waitlist::append(conn, offer, rep, state.line_joined, &people).await?;
    for (k, ((i, _), mut entry)) in accepted.into_iter().zip(entries).enumerate() {
        entry.position = Some(i64::from(state.line_length) + k as i64 + 1);
        answers.push((i, Ok(entry)));
    }
    Ok(answers)
}

/// Why nobody may join the list now, if so.
fn refusal(state: &db::inventory::ItemState) -> Option<Error> {
    match state.closed() {
        Some(RejectionReason::RepresentationOver) => {
            Some(Error::conflict("REPRESENTATION_OVER", "this representation is over"))
        }
        Some(_) => Some(Error::conflict("SALES_CLOSED", "sales are closed for this event")),
        None if state.seated => {
            Some(not_available("seats are chosen one by one: pick among the seats still available"))
        }
        None if state.available > 0 => Some(not_available("tickets are still on sale")),
        None => None,
    }
}

/// A confirm's answer: the reservation confirmed now or before, or why it cannot be.
fn confirm_answer(row: Option<&Reservation>, now: bool, id: Uuid) -> Result<Reservation> {
    let row = row.ok_or_else(|| Error::not_found("reservation", &id.to_string()))?;
    if now {
        return Ok(row.clone());
    }
    match row.status {
        ReservationStatus::Confirmed | ReservationStatus::Fulfilled => Ok(row.clone()),
        ReservationStatus::Expired => {
            Err(Error::conflict("HOLD_EXPIRED", "the hold has expired; the tickets went back on sale"))
        }
        ReservationStatus::Pending => {
            Err(Error::conflict("NOT_DECIDED", "the reservation is still pending: wait for its decision"))
        }
        ReservationStatus::Rejected => Err(Error::conflict("RESERVATION_REJECTED", "the reservation was rejected")),
        ReservationStatus::Released => Err(Error::conflict("RESERVATION_RELEASED", "the reservation was released")),
        ReservationStatus::Cancelled => Err(Error::conflict("RESERVATION_CANCELLED", "the reservation was cancelled")),
        ReservationStatus::Held => Err(anyhow::anyhow!("reservation {id} is held but could not be confirmed").into()),
    }
}

/// A release's answer: the reservation released now, or as it ended before, or why it cannot be.
fn release_answer(row: Option<&Reservation>, now: bool, id: Uuid) -> Result<Reservation> {
    let row = row.ok_or_else(|| Error::not_found("reservation", &id.to_string()))?;
    if now {
        return Ok(row.clone());
    }
    match row.status {
        ReservationStatus::Released | ReservationStatus::Rejected | ReservationStatus::Expired => Ok(row.clone()),
        ReservationStatus::Confirmed | ReservationStatus::Fulfilled | ReservationStatus::Cancelled => {
            Err(Error::conflict("ALREADY_CONFIRMED", "a confirmed reservation cannot be released"))
        }
        ReservationStatus::Pending => {
            Err(Error::conflict("NOT_DECIDED", "the reservation is still pending: wait for its decision"))
        }
        ReservationStatus::Held => Err(anyhow::anyhow!("reservation {id} is held but could not be released").into()),
    }
}
