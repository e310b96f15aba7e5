//! The hall of a representation: add seats (by label, by rows, or one by one with a place), list
//! them, and the seat map as data and as a picture.

use poem_openapi::param::{Path, Query};
use poem_openapi::payload::{Binary, Json};
use poem_openapi::{ApiResponse, Object, OpenApi};
use sqlx::PgPool;

use super::Tag;
use super::availability::{SeatStatus, status_of};
use super::catalog::Inventory;
use super::error::ApiError;
use super::security::ApiKey;
use super::text::{NotBlank, plain_all};
use crate::domain::ValidationErrors;
use crate::domain::records::MapSeat;
use crate::domain::seating::{PlacedSeat, RowRange, SeatLayout, section_asked};
use crate::services;
use crate::services::reads::Reads;

pub struct SeatsApi {
    pub pool: PgPool,
    /// Seat maps may lag a little: a replica may serve them.
    pub reads: Reads,
}

/// Seats to add under one offer: `labels`, or `rows` of a `section`, or `seats` one by one (one
/// of the three). Seats whose numbers are consecutive in a row are adjacent: an aisle or a gap is
/// a number left out (`{"row": "1", "from": 1, "to": 10}` and `{"row": "1", "from": 12, "to": 20}`
/// have an aisle after seat 10). Sections come in the order they are added, rows front to back
/// in the order given; within a row the seats nearest the middle are best, unless seats are given
/// a `rank`.
#[derive(Object)]
struct AddSeats {
    /// The offer the seats are sold under.
    #[oai(validator(max_length = 100, custom = "super::text::NotBlankCheck"))]
    offer_id: NotBlank,
    /// Seat labels, trimmed and upper-cased (`" c5 "` is `C5`). A label of letters then a
    /// number without a leading zero (`C5`) is seat 5 of row C.
    #[oai(
        nullable,
        validator(min_items = 1, max_items = 10000, max_length = 32, custom = "super::text::NotBlankCheck")
    )]
    labels: Option<Vec<NotBlank>>,
    /// The section of `rows`, and of `seats` that name none (1 to 16 characters, upper-cased).
    #[oai(nullable, validator(max_length = 16, custom = "super::text::NotBlankCheck"))]
    section: Option<NotBlank>,
    /// Rows of numbered seats; labels are derived: `SECTION-ROW-NUMBER` (`A-12-7`), or
    /// `ROW-NUMBER` without a section.
    #[oai(nullable, validator(min_items = 1, max_items = 1000))]
    rows: Option<Vec<SeatRow>>,
    /// Seats one by one, each with its place.
    #[oai(nullable, validator(min_items = 1, max_items = 10000))]
    seats: Option<Vec<NewPlacedSeat>>,
}

/// Seats `from` to `to` of one row.
#[derive(Object)]
struct SeatRow {
    /// 1 to 8 characters, upper-cased.
    #[oai(validator(max_length = 8, custom = "super::text::NotBlankCheck"))]
    row: NotBlank,
    #[oai(validator(minimum(value = "1"), maximum(value = "99999")))]
    from: i32,
    /// At least `from`.
    #[oai(validator(minimum(value = "1"), maximum(value = "99999")))]
    to: i32,
}

/// One seat and its place.
#[derive(Object)]
struct NewPlacedSeat {
    /// Default: the request's `section`.
    #[oai(nullable, validator(max_length = 16, custom = "super::text::NotBlankCheck"))]
    section: Option<NotBlank>,
    #[oai(validator(max_length = 8, custom = "super::text::NotBlankCheck"))]
    row: NotBlank,
    #[oai(validator(minimum(value = "1"), maximum(value = "99999")))]
    number: i32,
    /// Default: derived from the place.
    #[oai(nullable, validator(max_length = 32, custom = "super::text::NotBlankCheck"))]
    label: Option<NotBlank>,
    /// Order of preference set by the organizer: lower is better; seats without one come after.
    #[oai(nullable, validator(minimum(value = "0"), maximum(value = "1000000000")))]
    rank: Option<i32>,
}

impl AddSeats {
    fn layout(self) -> Result<SeatLayout, ValidationErrors> {
        let section = self.section.map(String::from);
        match (self.labels, self.rows, self.seats) {
            (Some(labels), None, None) if section.is_none() => Ok(SeatLayout::Labels(plain_all(labels))),
            (Some(_), None, None) => {
                Err(ValidationErrors::single(&["body", "section"], "a section goes with rows or seats, not labels"))
            }
            (None, Some(rows), None) => Ok(SeatLayout::Rows {
                section,
                rows: rows.into_iter().map(|r| RowRange { row: r.row.into(), from: r.from, to: r.to }).collect(),
            }),
            (None, None, Some(seats)) => Ok(SeatLayout::Seats {
                section,
                seats: seats
                    .into_iter()
                    .map(|s| PlacedSeat {
                        section: s.section.map(String::from),
                        row: s.row.into(),
                        number: s.number,
                        label: s.label.map(String::from),
                        rank: s.rank,
                    })
                    .collect(),
            }),
            _ => Err(ValidationErrors::single(&["body"], "give one of `labels`, `rows` or `seats`")),
        }
    }
}

/// The item's books after the seats were added, and the seats themselves.
#[derive(Object)]
struct SeatsAdded {
    #[oai(flatten)]
    inventory: Inventory,
    /// The new seats, in label order, with their normalized labels.
    seats: Vec<NewSeat>,
}

#[derive(Object)]
struct NewSeat {
    id: uuid::Uuid,
    /// Trimmed and upper-cased, or derived from the place.
    label: String,
}

#[derive(ApiResponse)]
enum AddedSeats {
    /// The seats were added; the item's stock grew by as many.
    #[oai(status = 201)]
    Created(Json<SeatsAdded>),
}

/// A seat of a representation and where it stands now.
#[derive(Object)]
struct Seat {
    id: uuid::Uuid,
    label: String,
    offer_id: String,
    #[oai(nullable)]
    section: Option<String>,
    #[oai(nullable)]
    row: Option<String>,
    #[oai(nullable)]
    number: Option<i32>,
    /// The organizer's order of preference, if set.
    #[oai(nullable)]
    rank: Option<i32>,
    status: SeatStatus,
    /// When the hold on a `HELD` seat ends.
    #[oai(nullable)]
    hold_expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Object)]
struct Seats {
    representation_id: String,
    /// Every seat, in hall order: sections and rows as laid out, seats by number.
    seats: Vec<Seat>,
}

/// The hall, as a seat map draws it.
#[derive(Object)]
pub(super) struct SeatMap {
    representation_id: String,
    /// In the order laid out.
    sections: Vec<MapSection>,
}

#[derive(Object)]
struct MapSection {
    /// Null in a hall without sections.
    #[oai(nullable)]
    section: Option<String>,
    /// Front to back.
    rows: Vec<MapRow>,
}

#[derive(Object)]
struct MapRow {
    /// Null for seats that have a label but no place.
    #[oai(nullable)]
    row: Option<String>,
    /// By number.
    seats: Vec<MapRowSeat>,
}

#[derive(Object)]
struct MapRowSeat {
    label: String,
    #[oai(nullable)]
    number: Option<i32>,
    offer_id: String,
    status: SeatStatus,
}

#[derive(ApiResponse)]
enum SeatMapImage {
    /// The hall: free seats green, held amber, sold red; one circle per seat.
    #[oai(status = 200, content_type = "image/svg+xml")]
    Svg(Binary<Vec<u8>>),
}

impl From<MapSeat> for Seat {
    fn from(s: MapSeat) -> Self {
        Seat {
            id: s.id,
            label: s.label,
            offer_id: s.offer_id,
            section: s.section,
            row: s.row_label,
            number: s.number,
            rank: s.rank,
            status: status_of(s.status),
            hold_expires_at: s.hold_expires_at,
        }
    }
}

#[OpenApi(tag = "Tag::Inventory")]
impl SeatsApi {
    /// Seats of a representation
    ///
    /// Public: each seat's id, label, offer, place and status (no buyer data).
    #[oai(path = "/representations/:id/seats", method = "get")]
    async fn seats(&self, id: Path<String>) -> Result<Json<Seats>, ApiError> {
        let seats = services::seatmap::seats(&self.pool, &id, None).await?;
        Ok(Json(Seats { representation_id: id.0, seats: seats.into_iter().map(Seat::from).collect() }))
    }

    /// Add seats to a representation
    ///
    /// By `labels`, by `rows` of a `section`, or by `seats` with their places. Labels, sections
    /// and rows are normalized (trimmed, upper-cased). A label that exists already, or twice in
    /// the request, is a 409 `DUPLICATE_SEAT`; a place (section, row, number) that has a seat
    /// already, or twice in the request, is a 409 `OVERLAPPING_SEATS`; nothing is added then.
    #[oai(path = "/representations/:id/seats", method = "post")]
    async fn add_seats(&self, key: ApiKey, id: Path<String>, body: Json<AddSeats>) -> Result<AddedSeats, ApiError> {
        let offer_id = String::from(body.0.offer_id.clone());
        let layout = body.0.layout()?;
        let added = services::catalog::add_seats(&self.pool, &key.0, &offer_id, &id, layout).await?;
        Ok(AddedSeats::Created(Json(SeatsAdded {
            inventory: added.inventory.into(),
            seats: added.seats.into_iter().map(|(id, label)| NewSeat { id, label }).collect(),
        })))
    }

    /// Seat map of a representation
    ///
    /// Public, no buyer data: sections in the order laid out, rows front to back, seats by
    /// number, each `AVAILABLE`, `HELD` or `SOLD` now. `?section=S` for one section (404 for a
    /// section the hall does not have).
    #[oai(path = "/representations/:id/seatmap", method = "get")]
    async fn seatmap(&self, id: Path<String>, section: Query<Option<String>>) -> Result<Json<SeatMap>, ApiError> {
        let section = section.0.as_deref().map(section_asked);
        let (rep, section) = (id.0.as_str(), section.as_deref());
        let sections = self.reads.run(|pool| async move { services::seatmap::map(&pool, rep, section).await }).await?;
        Ok(Json(seatmap_of(id.0, sections)))
    }

    /// Seat map of a representation, as a picture
    ///
    /// Public: an SVG of the hall, one circle per seat, free, held and sold in different colours.
    /// A hall of more than 5,000 seats is drawn as an overview, one shape per section coloured
    /// by how full it is, with its counts; `?section=S` draws one section seat by seat.
    #[oai(path = "/representations/:id/seatmap.svg", method = "get")]
    async fn seatmap_svg(&self, id: Path<String>, section: Query<Option<String>>) -> Result<SeatMapImage, ApiError> {
        let (rep, section) = (id.0.as_str(), section.0.as_deref().map(section_asked));
        let section = section.as_deref();
        let svg = self.reads.run(|pool| async move { seatmap_picture(&pool, rep, section).await }).await?;
        Ok(SeatMapImage::Svg(Binary(svg.into_bytes())))
    }
}

/// The picture of a representation's seats: one section's seat by seat, or the whole hall's (an
/// overview of its sections above [`services::seatmap::OVERVIEW_ABOVE_SEATS`] seats).
async fn seatmap_picture(pool: &PgPool, rep: &str, section: Option<&str>) -> services::Result<String> {
    let title = services::seatmap::title(pool, rep).await?;
    Ok(match section {
        Some(section) => {
            let sections = services::seatmap::map(pool, rep, Some(section)).await?;
            super::seatmap_svg::render(&format!("{title}, section {section}"), &sections)
        }
        None => {
            let counts = services::seatmap::sections(pool, rep).await?;
            let seats: i64 = counts.iter().map(|s| i64::from(s.available + s.held + s.sold)).sum();
            if seats > services::seatmap::OVERVIEW_ABOVE_SEATS {
                super::seatmap_svg::overview(&title, &counts)
            } else {
                super::seatmap_svg::render(&title, &services::seatmap::map(pool, rep, None).await?)
            }
        }
    })
}

/// The JSON of a seat map (the answer of `GET .../seatmap`, and the first event of its stream).
pub(super) fn seatmap_of(representation_id: String, sections: Vec<services::seatmap::Section>) -> SeatMap {
    let sections = sections
        .into_iter()
        .map(|s| MapSection {
            section: s.name,
            rows: s
                .rows
                .into_iter()
                .map(|r| MapRow {
                    row: r.name,
                    seats: r
                        .seats
                        .into_iter()
                        .map(|seat| MapRowSeat {
                            label: seat.label,
                            number: seat.number,
                            offer_id: seat.offer_id,
                            status: status_of(seat.status),
                        })
                        .collect(),
                })
                .collect(),
        })
        .collect();
    SeatMap { representation_id, sections }
}
