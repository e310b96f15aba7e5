//! Organizers' catalog management: events, representations, offers, stock and seats.

use sqlx::{PgConnection, PgPool};
use tracing::instrument;

use super::auth::{require_catalog_editor, require_manager_of};
use super::virtual_queue::{self, QueueInfo};
use super::{Error, Result};
use crate::db;
use crate::domain::queue::QueuePatch;
use crate::domain::records::{Event, Inventory, Offer, Representation};
use crate::domain::seating::{LayoutError, SeatLayout};
use crate::domain::{EventPatch, NewEvent, NewOffer, NewRepresentation, Principal, ValidationErrors};

/// An event with its performances and ticket types.
#[derive(Debug, Clone)]
pub struct EventDetails {
    pub event: Event,
    pub representations: Vec<Representation>,
    pub offers: Vec<Offer>,
    /// Its virtual queue, if it has one.
    pub queue: Option<QueueInfo>,
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

async fn check_timezone(conn: &mut PgConnection, tz: &str) -> Result<()> {
    if db::events::timezone_known(conn, tz).await? {
        Ok(())
    } else {
        Err(ValidationErrors::single(
            &["body", "timezone"],
            format!("unknown time zone '{tz}' (use an IANA name such as Europe/Paris)"),
        )
        .into())
    }
}

/// Loads an event the caller may manage: 404 if it does not exist, 403 if it is not theirs.
async fn managed_event(conn: &mut PgConnection, who: &Principal, event_id: &str) -> Result<Event> {
    require_catalog_editor(who)?;
    let event = db::events::find(conn, event_id).await?.ok_or_else(|| Error::not_found("event", event_id))?;
    require_manager_of(who, &event.organization_id)?;
    Ok(event)
}

#[instrument(skip_all, fields(organization.id = %event.organization_id))]
pub async fn create_event(pool: &PgPool, who: &Principal, event: NewEvent) -> Result<EventDetails> {
    require_catalog_editor(who)?;
    let event = event.validated()?;
    require_manager_of(who, &event.organization_id)?;
    let mut tx = pool.begin().await?;
    check_timezone(&mut tx, &event.timezone).await?;
    let event = db::events::insert(&mut tx, &new_id(), &event).await?;
    tx.commit().await?;
    Ok(EventDetails { event, representations: vec![], offers: vec![], queue: None })
}

pub async fn get_event(pool: &PgPool, event_id: &str) -> Result<EventDetails> {
    let mut conn = pool.acquire().await?;
    let event = db::events::find(&mut conn, event_id).await?.ok_or_else(|| Error::not_found("event", event_id))?;
    let representations = db::representations::list_for_event(&mut conn, event_id).await?;
    let offers = db::offers::list_for_event(&mut conn, event_id).await?;
    let queue = virtual_queue::info(&mut conn, event_id).await?;
    Ok(EventDetails { event, representations, offers, queue })
}

#[instrument(skip_all, fields(event.id = %event_id))]
pub async fn update_event(
    pool: &PgPool,
    who: &Principal,
    event_id: &str,
    patch: EventPatch,
    queue: Option<QueuePatch>,
) -> Result<EventDetails> {
    let mut tx = pool.begin().await?;
    managed_event(&mut tx, who, event_id).await?;
    let patch = patch.validated()?;
    if let Some(tz) = &patch.timezone {
        check_timezone(&mut tx, tz).await?;
    }
    db::events::update(&mut tx, event_id, &patch).await?.ok_or_else(|| Error::not_found("event", event_id))?;
    if let Some(queue) = queue {
        virtual_queue::configure(&mut tx, event_id, queue).await?;
    }
    tx.commit().await?;
    get_event(pool, event_id).await
}

#[instrument(skip_all, fields(event.id = %event_id))]
pub async fn add_representation(
    pool: &PgPool,
    who: &Principal,
    event_id: &str,
    rep: NewRepresentation,
) -> Result<Representation> {
    let mut tx = pool.begin().await?;
    managed_event(&mut tx, who, event_id).await?;
    let rep = rep.validated()?;
    let row = db::representations::insert(&mut tx, &new_id(), event_id, &rep).await?;
    tx.commit().await?;
    Ok(row)
}

#[instrument(skip_all, fields(event.id = %event_id))]
pub async fn add_offer(pool: &PgPool, who: &Principal, event_id: &str, offer: NewOffer) -> Result<Offer> {
    let mut tx = pool.begin().await?;
    managed_event(&mut tx, who, event_id).await?;
    let offer = offer.validated()?;
    let row = db::offers::insert(&mut tx, &new_id(), event_id, &offer).await?;
    tx.commit().await?;
    Ok(row)
}

/// Loads the offer and the representation, checks they are one event's and that the caller
/// manages it. Returns the event id.
pub(crate) async fn managed_item(
    conn: &mut PgConnection,
    who: &Principal,
    offer_id: &str,
    representation_id: &str,
) -> Result<String> {
    require_catalog_editor(who)?;
    let refs = db::offers::item_refs(conn, offer_id, representation_id).await?;
    let event_id = refs.event().map_err(|problem| Error::not_an_item(problem, offer_id, representation_id))?;
    managed_event(conn, who, event_id).await?;
    Ok(event_id.to_owned())
}

/// Seats just added, with the item's books after them.
#[derive(Debug, Clone)]
pub struct SeatsAdded {
    pub inventory: Inventory,
    /// (id, normalized label) of each new seat, in label order.
    pub seats: Vec<(uuid::Uuid, String)>,
}

/// Adds seats to a representation under one offer, labels and places normalized; each new seat is
/// new available stock. A label or a place that exists already, or twice in the request, is a 409.
#[instrument(skip_all, fields(offer.id = %offer_id, representation.id = %representation_id))]
pub async fn add_seats(
    pool: &PgPool,
    who: &Principal,
    offer_id: &str,
    representation_id: &str,
    layout: SeatLayout,
) -> Result<SeatsAdded> {
    let mut tx = pool.begin().await?;
    let event_id = managed_item(&mut tx, who, offer_id, representation_id).await?;
    let new_seats = layout.seats().map_err(|e| match e {
        LayoutError::Invalid(v) => Error::Validation(v),
        LayoutError::DuplicateLabels(labels) => {
            Error::conflict("DUPLICATE_SEAT", format!("seat labels repeated in the request: {}", labels.join(", ")))
        }
        LayoutError::Overlapping(places) => Error::conflict(
            "OVERLAPPING_SEATS",
            format!("seat numbers given twice in the request: {}", places.join("; ")),
        ),
    })?;
    let pool_id = seated_pool(&mut tx, offer_id, representation_id, &event_id).await?;
    let labels: Vec<String> = new_seats.iter().map(|s| s.label.clone()).collect();
    let taken = db::seats::existing_labels(&mut tx, representation_id, &labels).await?;
    if !taken.is_empty() {
        return Err(Error::conflict(
            "DUPLICATE_SEAT",
            format!("seats already exist in this representation: {}", taken.join(", ")),
        ));
    }
    let occupied = db::seats::existing_places(&mut tx, representation_id, &new_seats).await?;
    if !occupied.is_empty() {
        let places: Vec<String> = occupied
            .iter()
            .map(|(section, row, number)| {
                let section = section.as_deref().map(|s| format!(" of section {s}")).unwrap_or_default();
                format!("row {row}{section}, seat {number}")
            })
            .collect();
        return Err(Error::conflict(
            "OVERLAPPING_SEATS",
            format!("these places have a seat already: {}", places.join("; ")),
        ));
    }
    let mut seats = db::seats::insert_many(&mut tx, representation_id, offer_id, &new_seats).await?;
    seats.sort_by(|a, b| a.1.cmp(&b.1));
    db::pools::add_seated(&mut tx, &pool_id, seats.len() as i32).await?;
    let inventory = db::inventory::find(&mut tx, offer_id, representation_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("inventory of {offer_id}/{representation_id} vanished"))?;
    tx.commit().await?;
    Ok(SeatsAdded { inventory, seats })
}

/// The item's pool, made seated (a pool of its own, created empty, for an item without stock) and
/// locked for the seats being added; a 409 when it holds general-admission stock.
async fn seated_pool(
    conn: &mut PgConnection,
    offer_id: &str,
    representation_id: &str,
    event_id: &str,
) -> Result<String> {
    let pool_id = match db::pools::lock_of_item(conn, offer_id, representation_id).await? {
        Some(pool_id) => pool_id,
        None => {
            let own = db::inventory::insert_own_pool(conn, offer_id, representation_id, event_id, 0, true).await?;
            if !db::inventory::insert(conn, offer_id, representation_id, event_id, &own).await? {
                // another request created the item meanwhile: use its pool
                db::pools::retire_if_unused(conn, &own).await?;
                return Box::pin(seated_pool(conn, offer_id, representation_id, event_id)).await;
            }
            db::pools::lock(conn, &own).await?;
            own
        }
    };
    if !db::pools::make_seated(conn, &pool_id).await? {
        return Err(Error::conflict(
            "GENERAL_ADMISSION_INVENTORY",
            "this item already has general-admission stock; seats cannot be added to it",
        ));
    }
    Ok(pool_id)
}
