//! The hall of a representation as the public sees it: sections, rows and seats with their status
//! now, in the order laid out. No buyer data.

use sqlx::PgPool;

use super::{Error, Result};
use crate::db;
use crate::domain::records::{MapSeat, SectionStock};

/// One section of the hall (`None`: a hall without sections).
#[derive(Debug, Clone)]
pub struct Section {
    pub name: Option<String>,
    pub rows: Vec<Row>,
}

/// One row, front to back; `None` holds the seats that have no place (labels only).
#[derive(Debug, Clone)]
pub struct Row {
    pub name: Option<String>,
    /// By number.
    pub seats: Vec<MapSeat>,
}

/// Every seat of the representation (or of one section, normalized), in hall order; 404 if the
/// representation does not exist, or has no seat in the section.
pub async fn seats(pool: &PgPool, representation_id: &str, section: Option<&str>) -> Result<Vec<MapSeat>> {
    let mut tx = db::snapshot(pool).await?;
    db::representations::find(&mut tx, representation_id)
        .await?
        .ok_or_else(|| Error::not_found("representation", representation_id))?;
    let seats = db::seats::map(&mut tx, representation_id, section).await?;
    tx.commit().await?;
    match section {
        Some(section) if seats.is_empty() => Err(Error::not_found("section", section)),
        _ => Ok(seats),
    }
}

/// The hall (or one section), grouped: sections in the order laid out, their rows front to back.
pub async fn map(pool: &PgPool, representation_id: &str, section: Option<&str>) -> Result<Vec<Section>> {
    Ok(group(seats(pool, representation_id, section).await?))
}

/// The whole hall with the database time of its last change, read in one snapshot (a live
/// stream's state); `None` if the representation does not exist.
pub async fn as_streamed(
    pool: &PgPool,
    representation_id: &str,
) -> Result<Option<(Vec<Section>, chrono::DateTime<chrono::Utc>)>> {
    let mut tx = db::snapshot(pool).await?;
    if db::representations::find(&mut tx, representation_id).await?.is_none() {
        return Ok(None);
    }
    let seats = db::seats::map(&mut tx, representation_id, None).await?;
    let as_of = db::live::representation_changed_at(&mut tx, representation_id).await?;
    tx.commit().await?;
    Ok(Some((group(seats), as_of)))
}

/// Above this many seats the picture of the hall is an overview, one shape per section: a
/// stadium's seat by seat would be megabytes nobody can read on a screen.
pub const OVERVIEW_ABOVE_SEATS: i64 = 5_000;

/// The counts of each section, in the order laid out; 404 if the representation does not exist.
pub async fn sections(pool: &PgPool, representation_id: &str) -> Result<Vec<SectionStock>> {
    let mut tx = db::snapshot(pool).await?;
    db::representations::find(&mut tx, representation_id)
        .await?
        .ok_or_else(|| Error::not_found("representation", representation_id))?;
    let sections = db::availability::sections(&mut tx, representation_id).await?;
    tx.commit().await?;
    Ok(sections)
}

/// What a picture of the hall is titled: the event and when the performance starts, on the clocks
/// of the event's time zone (where the audience reads the time), which the title names.
pub async fn title(pool: &PgPool, representation_id: &str) -> Result<String> {
    let mut conn = pool.acquire().await?;
    let rep = db::representations::find(&mut conn, representation_id)
        .await?
        .ok_or_else(|| Error::not_found("representation", representation_id))?;
    let Some(event) = db::events::find(&mut conn, &rep.event_id).await? else {
        return Ok(format!("{} (UTC)", rep.starts_at.format("%Y-%m-%d %H:%M")));
    };
    let starts = db::events::wall_clock(&mut conn, rep.starts_at, &event.timezone).await?;
    Ok(format!("{}, {} ({})", event.title, starts.format("%Y-%m-%d %H:%M"), event.timezone))
}

/// Groups seats already in hall order.
fn group(seats: Vec<MapSeat>) -> Vec<Section> {
    let mut sections: Vec<Section> = Vec::new();
    for seat in seats {
        if sections.last().is_none_or(|s| s.name != seat.section) {
            sections.push(Section { name: seat.section.clone(), rows: vec![] });
        }
        let rows = &mut sections.last_mut().expect("just pushed").rows;
        // seats without a place come one by one (each its own row order): keep them in one row
        if rows.last().is_none_or(|r| r.name != seat.row_label) {
            rows.push(Row { name: seat.row_label.clone(), seats: vec![] });
        }
        rows.last_mut().expect("just pushed").seats.push(seat);
    }
    sections
}
