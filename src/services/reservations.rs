//! Reservations from the buyer's side: ask, read, confirm, release.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tracing::instrument;
use uuid::Uuid;

use super::auth::{require_buyer_agent, require_buyer_agent_of};
use super::intake::Intake;
use super::items::{self, Facts};
use super::{Error, Result};
use crate::db::{self, reservations::NewLine, reservations::NewReservation};
use crate::domain::ReservationStatus;
use crate::domain::queue;
use crate::domain::records::Reservation;
use crate::domain::{DEFAULT_HOLD_MINUTES, ItemRefs, Principal, ValidOrder, ValidReservation, ValidationErrors};

/// What the catalog says of a request: the hold time, and the queue pass it came with.
struct Checked {
    hold_minutes: i32,
    queue_pass: Option<(Uuid, DateTime<Utc>)>,
    /// The pool each line's item draws from, as the catalog said a moment ago.
    pools: Vec<Option<String>>,
}

/// Checks the request against the catalog, line by line, in the order a client can act on.
/// The buyer is checked by the batch that stores it (see [`Intake`]).
async fn check_against_catalog(
    pool: &PgPool,
    facts: &Facts,
    who: &Principal,
    order: &ValidOrder,
    queue_pass: Option<&str>,
) -> Result<Checked> {
    let mut event: Option<(String, ItemRefs)> = None;
    let mut hold_minutes = DEFAULT_HOLD_MINUTES;
    let mut pools = Vec::with_capacity(order.lines.len());
    for (i, line) in order.lines.iter().enumerate() {
        let at_line = |e: Error| at_line(order, i, e);
        let (offer, rep) = (&line.offer_id, &line.representation_id);
        let f = items::refs(pool, &facts.items, offer, rep).await?;
        let event_id = f.event().map_err(|problem| at_line(Error::not_an_item(problem, offer, rep)))?;
        require_buyer_agent_of(who, f.organization_id.as_deref().unwrap_or_default())?;
        match &event {
            None => event = Some((event_id.to_string(), f.clone())),
            Some((first, _)) if first != event_id => {
                let message = format!("every line of an order is of one event: line 0 is of event '{first}'");
                return Err(ValidationErrors::single(&["body", "lines", &i.to_string(), "offer_id"], message).into());
            }
            Some(_) => {}
        }
        hold_minutes = check_item(pool, facts, &f, line).await.map_err(at_line)?;
        pools.push(f.pool_id.clone());
    }
    let (event_id, f) = event.ok_or_else(|| anyhow::anyhow!("an order without lines passed validation"))?;
    let max = f.max_tickets_per_order.unwrap_or(10);
    if order.tickets() > i64::from(max) {
        let (loc, message) = if order.as_lines {
            (vec!["body", "lines"], format!("at most {max} tickets per order for this event, over all lines"))
        } else {
            (vec!["body", "quantity"], format!("at most {max} tickets per order for this event"))
        };
        return Err(ValidationErrors::single(&loc, message).into());
    }
    let queue_pass = match (f.queue_enabled, queue_pass) {
        (Some(true), pass) => Some(check_pass(pool, facts, &event_id, &order.user_id, pass).await?),
        _ => None,
    };
    Ok(Checked { hold_minutes, queue_pass, pools })
}

/// A problem of line `i` of an order sent as lines, named as such: validation problems at
/// `body.lines.i...`, others with the line in their message. A single-item body's are unchanged.
fn at_line(order: &ValidOrder, i: usize, e: Error) -> Error {
    if !order.as_lines {
        return e;
    }
    match e {
        Error::Validation(mut errors) => {
            for problem in &mut errors.0 {
                let field: Vec<&str> = problem.loc.iter().skip(1).map(String::as_str).collect();
                problem.loc = order.loc(i, &field);
            }
            Error::Validation(errors)
        }
        Error::Conflict { status, message } => Error::Conflict { status, message: format!("line {i}: {message}") },
        Error::NotFound { status, message } => Error::NotFound { status, message: format!("line {i}: {message}") },
        other => other,
    }
}

/// A reservation of an event behind a queue needs the pass of its user's turn, checked with the
/// key in memory. Returns the pass's entry and expiry.
async fn check_pass(
    pool: &PgPool,
    facts: &Facts,
    event_id: &str,
    user_id: &str,
    pass: Option<&str>,
) -> Result<(Uuid, DateTime<Utc>)> {
    let Some(pass) = pass else {
        return Err(Error::forbidden(
            "QUEUE_PASS_REQUIRED",
            "this event sells through its virtual queue: join it, and reserve with the pass of your turn",
        ));
    };
    let key = facts.passes.get(pool).await?.verifying_key();
    let claims = queue::check_pass(&key, pass, event_id, user_id, Utc::now())
        .map_err(|problem| Error::forbidden("QUEUE_PASS_INVALID", problem.message()))?;
    let expires = claims.expires_at().expect("a checked pass has an expiry");
    Ok((claims.entry_id, expires))
}

/// Checks the request against its item; returns the hold time.
async fn check_item(pool: &PgPool, facts: &Facts, f: &ItemRefs, r: &ValidReservation) -> Result<i32> {
    let Some(seated) = f.seated else {
        return Err(Error::conflict("NOT_ON_SALE", "no stock is set for this offer and representation"));
    };
    if f.sales_open != Some(true) {
        return Err(Error::conflict("SALES_CLOSED", "sales are closed for this event"));
    }
    if f.representation_over == Some(true) {
        return Err(Error::conflict("REPRESENTATION_OVER", "this representation is over"));
    }
    let max = f.max_quantity_per_order.unwrap_or(1);
    if r.quantity > max {
        return Err(ValidationErrors::single(
            &["body", "quantity"],
            format!("at most {max} tickets per order for this offer"),
        )
        .into());
    }
    if let Some(best) = &r.best_available {
        if !seated {
            let msg = "this offer is general admission: give a quantity";
            return Err(ValidationErrors::single(&["body", "best_available"], msg).into());
        }
        if let Some(section) = &best.section {
            check_section(pool, facts, r, section).await?;
        }
        return Ok(f.hold_minutes.unwrap_or(DEFAULT_HOLD_MINUTES));
    }
    match (&r.seat_labels, seated) {
        (None, true) => Err(ValidationErrors::single(
            &["body", "seats"],
            "this offer is seated: choose seats, or ask for best_available",
        )
        .into()),
        (Some(_), false) => {
            Err(ValidationErrors::single(&["body", "seats"], "this offer is general admission: give a quantity").into())
        }
        (Some(labels), true) => {
            let mut conn = pool.acquire().await?;
            let known =
                db::seats::existing_labels_of_offer(&mut conn, &r.representation_id, &r.offer_id, labels).await?;
            let unknown: Vec<&str> = labels.iter().filter(|l| !known.contains(l)).map(String::as_str).collect();
            if unknown.is_empty() {
                Ok(f.hold_minutes.unwrap_or(DEFAULT_HOLD_MINUTES))
            } else {
                let msg = format!("no such seats for this offer in this representation: {}", unknown.join(", "));
                Err(ValidationErrors::single(&["body", "seats"], msg).into())
            }
        }
        (None, false) => Ok(f.hold_minutes.unwrap_or(DEFAULT_HOLD_MINUTES)),
    }
}

/// A section asked for must be one of the representation's, with seats of this offer.
async fn check_section(pool: &PgPool, facts: &Facts, r: &ValidReservation, section: &str) -> Result<()> {
    let offers = items::section_offers(pool, facts, &r.representation_id, section).await?;
    if offers.contains(&r.offer_id) {
        return Ok(());
    }
    let msg = if offers.is_empty() {
        format!("no section '{section}' in this representation")
    } else {
        format!("section '{section}' is sold under another offer")
    };
    Err(ValidationErrors::single(&["body", "best_available", "section"], msg).into())
}

/// The ids a new reservation is known by.
pub struct NewIds {
    /// Its own: time-ordered, so a reservation's key lands where the last one did in the indexes,
    /// not on a random page (74 random bits still make it unguessable). Fixed by the request's
    /// idempotency claim when it has one: a retry of it finds this reservation if it was stored.
    pub reservation: Uuid,
    /// The HTTP request's, for the logs of the jobs it starts.
    pub request: Option<String>,
}

/// Validates a request (one line, or an order of several) and queues it as `pending`; its
/// allocation jobs are enqueued in the same statement (by the intake's batch). A reservation with
/// the same id already stored (an earlier attempt of the same request) is answered as it is.
#[instrument(skip_all, fields(lines = order.lines.len()))]
pub async fn create(
    pool: &PgPool,
    intake: &Intake,
    who: &Principal,
    facts: &Facts,
    order: ValidOrder,
    queue_pass: Option<&str>,
    ids: NewIds,
) -> Result<Reservation> {
    require_buyer_agent(who)?;
    let checked = check_against_catalog(pool, facts, who, &order, queue_pass).await?;
    let lines = (order.lines.into_iter().zip(checked.pools))
        .map(|(line, pool_id)| NewLine {
            pool_id,
            offer_id: line.offer_id,
            representation_id: line.representation_id,
            quantity: line.quantity,
            seat_labels: line.seat_labels,
            best_available: line.best_available,
        })
        .collect();
    let new = NewReservation {
        id: ids.reservation,
        hold_minutes: order.hold_minutes.unwrap_or(checked.hold_minutes),
        user_id: order.user_id,
        lines,
        api_key_id: who.key_id,
        request_id: ids.request,
        queue_pass: checked.queue_pass,
    };
    intake.submit(new).await
}

/// A reservation as its live stream shows it, with the database time of its last change of status;
/// `None` if it does not exist. No check of who asks: [`get`] did it when the stream was opened.
pub async fn as_streamed(pool: &PgPool, id: Uuid) -> Result<Option<(Reservation, DateTime<Utc>)>> {
    let mut conn = pool.acquire().await?;
    let Some(r) = db::reservations::find(&mut conn, id).await? else { return Ok(None) };
    let (fulfilled_at, cancelled_at) = db::live::reservation_times(&mut conn, id).await?.unwrap_or_default();
    let as_of = match r.status {
        ReservationStatus::Pending => Some(r.created_at),
        ReservationStatus::Held | ReservationStatus::Rejected => r.decided_at,
        ReservationStatus::Confirmed => r.confirmed_at,
        // a hold past its time reads expired before the sweep writes when it ended
        ReservationStatus::Expired => r.ended_at.or(r.hold_expires_at),
        ReservationStatus::Released => r.ended_at,
        ReservationStatus::Fulfilled => fulfilled_at.or(r.confirmed_at),
        ReservationStatus::Cancelled => cancelled_at,
    };
    let as_of = as_of.unwrap_or(r.created_at);
    Ok(Some((r, as_of)))
}

pub async fn get(pool: &PgPool, who: &Principal, id: Uuid) -> Result<Reservation> {
    require_buyer_agent(who)?;
    let mut conn = pool.acquire().await?;
    let r =
        db::reservations::find(&mut conn, id).await?.ok_or_else(|| Error::not_found("reservation", &id.to_string()))?;
    require_buyer_agent_of(who, &r.organization_id)?;
    Ok(r)
}
