//! One group of a writer's batch: the requests on one set of pools, in one transaction under
//! their locks. Lapsed holds end and freed stock goes to the lists first (`stock::settle`), then
//! releases, leaves, confirms, then joins in arrival order, each answered as if it had run alone
//! in that order. A confirm or a release of an order acts on every line at once.

use std::collections::{BTreeMap, HashMap, HashSet};

use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{Confirm, Join, Leave, Op, Release};
use crate::db::{self, waitlist::Joining};
use crate::domain::job::IssueTickets;
use crate::domain::records::{Reservation, WaitlistEntry};
use crate::domain::{EntryStatus, RejectionReason, ReservationStatus};
use crate::services::items::Item;
use crate::services::{Error, Result, stock};

/// The answers of a group's requests, by their place in the group, each kind apart: a request
/// reads only the answers of its own kind.
#[derive(Default)]
pub(super) struct Answers {
    pub entries: HashMap<usize, Result<WaitlistEntry>>,
    pub left: HashMap<usize, Result<()>>,
    pub reservations: HashMap<usize, Result<Reservation>>,
}

/// A confirm of the group: its place, the reservation, the payment reference, the HTTP request.
struct Confirming<'a> {
    at: usize,
    id: Uuid,
    payment_reference: Option<&'a str>,
    request_id: Option<&'a str>,
}

/// A join of the group: its place, the user, the quantity asked.
struct Joiner<'a> {
    at: usize,
    user_id: &'a str,
    quantity: i64,
}

/// One transaction for the group's requests, under its pools' locks; the answers once it
/// committed. `max_quantity` is each list's offer maximum per order (for joins).
pub(super) async fn apply(
    pool: &PgPool,
    pools: &[String],
    max_quantity: &HashMap<Item, i32>,
    ops: &[Op],
) -> Result<Answers> {
    let mut answers = Answers::default();
    let mut tx = pool.begin().await?;
    if db::pools::lock_many(&mut tx, pools).await?.is_empty() {
        // no stock was ever set: no reservation can be of it, nobody is on its list
        for (at, op) in ops.iter().enumerate() {
            match op {
                Op::Join(_) => answers.entries.insert(at, Err(not_available(NO_STOCK))).map(drop),
                Op::Leave(_) => answers.left.insert(at, Err(not_on_list())).map(drop),
                Op::Confirm(Confirm { id, .. }) | Op::Release(Release { id, .. }) => {
                    answers.reservations.insert(at, Err(Error::not_found("reservation", &id.to_string()))).map(drop)
                }
            };
        }
        return Ok(answers);
    }
    stock::settle(&mut tx, pools).await?;
    // a caller that gave up while this waited for the lock was told nothing was done: so be it
    let ops: Vec<(usize, &Op)> = ops.iter().enumerate().filter(|(_, op)| !op.caller_gone()).collect();

    let releases: Vec<(usize, Uuid)> =
        ops.iter().filter_map(|&(at, op)| if let Op::Release(r) = op { Some((at, r.id)) } else { None }).collect();
    let released = end_holds(&mut tx, &releases.iter().map(|r| r.1).collect::<Vec<_>>()).await?;

    let mut leaves: BTreeMap<&Item, Vec<(usize, &str)>> = BTreeMap::new();
    for &(at, op) in &ops {
        if let Op::Leave(Leave { list, user_id, .. }) = op {
            leaves.entry(list).or_default().push((at, user_id.as_str()));
        }
    }
    let mut anyone_left = false;
    for (list, leaving) in &leaves {
        let users: Vec<String> = leaving.iter().map(|l| l.1.to_string()).collect();
        let left = leave(&mut tx, list, &users).await?;
        anyone_left |= !left.is_empty();
        for (at, user) in leaving {
            answers.left.insert(*at, if left.contains(*user) { Ok(()) } else { Err(not_on_list()) });
        }
    }

    let confirms: Vec<Confirming> = ops
        .iter()
        .filter_map(|&(at, op)| match op {
            Op::Confirm(c) => Some(Confirming {
                at,
                id: c.id,
                payment_reference: c.payment_reference.as_deref(),
                request_id: c.request_id.as_deref(),
            }),
            _ => None,
        })
        .collect();
    let confirmed = confirm(&mut tx, &confirms).await?;

    if !released.is_empty() || anyone_left {
        // what came back goes to the people waiting first
        for pool_id in pools {
            stock::promote(&mut tx, pool_id).await?;
        }
    }

    let mut joins: BTreeMap<&Item, Vec<Joiner>> = BTreeMap::new();
    for &(at, op) in &ops {
        if let Op::Join(Join { list, user_id, quantity, .. }) = op {
            joins.entry(list).or_default().push(Joiner { at, user_id, quantity: *quantity });
        }
    }
    for (list, joining) in &joins {
        let max = max_quantity.get(*list).copied().unwrap_or(1);
        answers.entries.extend(join(&mut tx, list, max, joining).await?);
    }

    // the others' answers, as the reservations stand now
    let mut rows: HashMap<Uuid, Reservation> = released.into_iter().chain(confirmed).map(|r| (r.id, r)).collect();
    let done_now: HashSet<Uuid> = rows.keys().copied().collect();
    let others: Vec<Uuid> =
        releases.iter().map(|r| r.1).chain(confirms.iter().map(|c| c.id)).filter(|id| !done_now.contains(id)).collect();
    let mut lapsed = false;
    let others = if others.is_empty() { vec![] } else { db::reservations::find_many(&mut tx, &others).await? };
    for r in others {
        lapsed |= !done_now.contains(&r.id) && r.status == ReservationStatus::Expired;
        rows.entry(r.id).or_insert(r);
    }
    if lapsed {
        // a hold that ran out while this batch ran: its stock comes back now, not when its job runs
        stock::settle(&mut tx, pools).await?;
    }
    for (at, id) in &releases {
        answers.reservations.insert(*at, release_answer(rows.get(id), done_now.contains(id), *id));
    }
    for c in &confirms {
        answers.reservations.insert(c.at, confirm_answer(rows.get(&c.id), done_now.contains(&c.id), c.id));
    }
    tx.commit().await?;
    Ok(answers)
}

const NO_STOCK: &str = "no tickets have been put on sale for this offer and representation";

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
async fn end_holds(conn: &mut PgConnection, ids: &[Uuid]) -> Result<Vec<Reservation>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let released = db::reservations::release_held(conn, ids).await?;
    let moves: Vec<_> =
        released.iter().flat_map(|r| r.units_by_pool()).map(|(pool, units)| (pool, units, -units, 0)).collect();
    if !moves.is_empty() {
        db::pools::adjust(conn, &moves).await?;
        let ids: Vec<Uuid> = released.iter().map(|r| r.id).collect();
        db::waitlist::end_offers(conn, &ids, EntryStatus::Declined).await?;
    }
    Ok(released)
}

/// Takes these users off the list: a waiting one leaves, an offered one declines the offer (its
/// hold is released). Returns who was on the list.
async fn leave(conn: &mut PgConnection, list: &Item, users: &[String]) -> Result<HashSet<String>> {
    let (offer, rep) = (list.offer_id.as_str(), list.representation_id.as_str());
    let entries = db::waitlist::active_of_users(conn, offer, rep, users).await?;
    let offers: Vec<Uuid> =
        entries.iter().filter(|e| e.status == EntryStatus::Offered).filter_map(|e| e.reservation_id).collect();
    end_holds(conn, &offers).await?;
    // an offer whose hold could not be released any more (it ended a moment ago) is declined too
    db::waitlist::end_offers(conn, &offers, EntryStatus::Declined).await?;
    db::waitlist::leave_waiting(conn, offer, rep, users).await?;
    Ok(entries.into_iter().map(|e| e.user_id).collect())
}

/// Confirms the live holds among the requests: their units are sold, their tickets' issuance is
/// queued, and an offer from the list among them is converted. Returns the holds confirmed.
async fn confirm(conn: &mut PgConnection, confirms: &[Confirming<'_>]) -> Result<Vec<Reservation>> {
    if confirms.is_empty() {
        return Ok(vec![]);
    }
    let ids: Vec<Uuid> = confirms.iter().map(|c| c.id).collect();
    let references: Vec<Option<String>> = confirms.iter().map(|c| c.payment_reference.map(str::to_string)).collect();
    let confirmed = db::reservations::confirm_held(conn, &ids, &references).await?;
    let moves: Vec<_> =
        confirmed.iter().flat_map(|r| r.units_by_pool()).map(|(pool, units)| (pool, 0, -units, units)).collect();
    if !moves.is_empty() {
        db::pools::adjust(conn, &moves).await?;
        let ids: Vec<Uuid> = confirmed.iter().map(|r| r.id).collect();
        db::waitlist::end_offers(conn, &ids, EntryStatus::Converted).await?;
        let requests: HashMap<Uuid, Option<&str>> = confirms.iter().map(|c| (c.id, c.request_id)).collect();
        let issuances: Vec<IssueTickets> = ids
            .iter()
            .map(|&reservation_id| IssueTickets {
                reservation_id,
                request_id: requests.get(&reservation_id).copied().flatten().map(str::to_string),
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
    list: &Item,
    max_quantity: i32,
    joins: &[Joiner<'_>],
) -> Result<Vec<(usize, Result<WaitlistEntry>)>> {
    let (offer, rep) = (list.offer_id.as_str(), list.representation_id.as_str());
    let state = db::inventory::list_state(conn, offer, rep)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the item {offer}/{rep} vanished under its lock"))?;
    let users: Vec<String> = joins.iter().map(|j| j.user_id.to_string()).collect();
    let mut on_list: HashSet<String> =
        db::waitlist::active_of_users(conn, offer, rep, &users).await?.into_iter().map(|e| e.user_id).collect();
    let mut answers: Vec<(usize, Result<WaitlistEntry>)> = Vec::with_capacity(joins.len());
    let mut accepted: Vec<(usize, Joining)> = Vec::new();
    let room = db::waitlist::CAPACITY - state.line_joined;
    for &Joiner { at: i, user_id: user, quantity } in joins {
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
fn refusal(state: &db::inventory::ListState) -> Option<Error> {
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
