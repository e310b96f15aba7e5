//! Seats as an organizer lays them out: by label, by rows of numbered seats in a section, or one
//! by one with a place. Everything is normalized here; the database checks it again (labels
//! unique per representation, one seat per place).

use std::collections::HashSet;

use super::{ValidationErrors, Validator, trim_blank};

/// The most seats one request may add.
pub const MAX_SEATS_PER_REQUEST: usize = 10_000;
const MAX_LABEL_CHARS: usize = 32;
const MAX_SECTION_CHARS: usize = 16;
const MAX_ROW_CHARS: usize = 8;
/// Seat numbers run from 1 to this.
pub const MAX_SEAT_NUMBER: i32 = 99_999;

/// Numbered seats `from..=to` of one row.
#[derive(Debug, Clone)]
pub struct RowRange {
    pub row: String,
    pub from: i32,
    pub to: i32,
}

/// One seat with its place; its label is derived when not given.
#[derive(Debug, Clone)]
pub struct PlacedSeat {
    pub section: Option<String>,
    pub row: String,
    pub number: i32,
    pub label: Option<String>,
    pub rank: Option<i32>,
}

/// How a request lays seats out.
#[derive(Debug, Clone)]
pub enum SeatLayout {
    /// Labels only. A label of letters then a number (`C5`) is read as row C, seat 5.
    Labels(Vec<String>),
    /// Rows of consecutive numbers in one section (or in a hall without sections).
    Rows { section: Option<String>, rows: Vec<RowRange> },
    /// Seats one by one; `section` is the default of those that name none.
    Seats { section: Option<String>, seats: Vec<PlacedSeat> },
}

/// A seat ready to insert: normalized label, and its place if it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSeat {
    pub label: String,
    pub section: Option<String>,
    pub row: Option<String>,
    pub number: Option<i32>,
    pub rank: Option<i32>,
}

/// Why a layout cannot be added.
#[derive(Debug, Clone, PartialEq)]
pub enum LayoutError {
    /// A value breaks a rule (422).
    Invalid(ValidationErrors),
    /// Labels given twice in the request (409).
    DuplicateLabels(Vec<String>),
    /// Places given twice in the request: overlapping seat numbers in a row (409).
    Overlapping(Vec<String>),
}

impl From<ValidationErrors> for LayoutError {
    fn from(e: ValidationErrors) -> Self {
        LayoutError::Invalid(e)
    }
}

/// A section or row name, normalized like a label; `None` (with the problem recorded) if unusable.
fn name(v: &mut Validator, field: &str, raw: &str, max: usize) -> Option<String> {
    let normalized = trim_blank(raw).to_uppercase();
    let ok = !normalized.is_empty() && raw.chars().count() <= max;
    v.check(ok, field, format!("must have 1 to {max} characters"));
    ok.then_some(normalized)
}

/// A section as asked for in a query: normalized like a section laid out (`" s01 "` is `S01`).
pub fn section_asked(raw: &str) -> String {
    trim_blank(raw).to_uppercase()
}

/// The label of a place: `SECTION-ROW-NUMBER`, or `ROW-NUMBER` in a hall without sections.
pub fn derived_label(section: Option<&str>, row: &str, number: i32) -> String {
    match section {
        Some(section) => format!("{section}-{row}-{number}"),
        None => format!("{row}-{number}"),
    }
}

/// Reads `C5` as row C, seat 5: letters, then a number without a leading zero.
fn place_in_label(label: &str) -> Option<(String, i32)> {
    let digits_at = label.find(|c: char| c.is_ascii_digit())?;
    let (row, number) = label.split_at(digits_at);
    let row_ok = (1..=MAX_ROW_CHARS).contains(&row.len()) && row.chars().all(|c| c.is_ascii_uppercase());
    let number_ok = !number.starts_with('0') && number.len() <= 5 && number.chars().all(|c| c.is_ascii_digit());
    (row_ok && number_ok).then(|| (row.to_string(), number.parse().expect("checked digits")))
}

impl SeatLayout {
    /// The seats to add, in the order given (the order of preference by default).
    pub fn seats(self) -> Result<Vec<NewSeat>, LayoutError> {
        let mut v = Validator::new("body");
        let seats = match self {
            SeatLayout::Labels(labels) => from_labels(&mut v, &labels),
            SeatLayout::Rows { section, rows } => from_rows(&mut v, section.as_deref(), &rows),
            SeatLayout::Seats { section, seats } => from_places(&mut v, section.as_deref(), &seats),
        };
        if seats.is_empty() && !v.has_errors() {
            v.push("seats", "must lay out at least one seat");
        }
        v.check(
            seats.len() <= MAX_SEATS_PER_REQUEST,
            "seats",
            format!("at most {MAX_SEATS_PER_REQUEST} seats per request"),
        );
        v.finish()?;
        check_unique(&seats)?;
        Ok(seats)
    }
}

fn label(v: &mut Validator, field: &str, raw: &str) -> Option<String> {
    let label = trim_blank(raw).to_uppercase();
    let ok = !label.is_empty() && raw.chars().count() <= MAX_LABEL_CHARS;
    v.check(ok, field, format!("a seat label has 1 to {MAX_LABEL_CHARS} characters"));
    ok.then_some(label)
}

fn from_labels(v: &mut Validator, labels: &[String]) -> Vec<NewSeat> {
    labels
        .iter()
        .enumerate()
        .filter_map(|(i, raw)| label(v, &format!("labels.{i}"), raw))
        .map(|label| {
            let place = place_in_label(&label);
            NewSeat {
                section: None,
                row: place.as_ref().map(|p| p.0.clone()),
                number: place.map(|p| p.1),
                rank: None,
                label,
            }
        })
        .collect()
}

fn check_number(v: &mut Validator, field: &str, n: i32) -> bool {
    let ok = (1..=MAX_SEAT_NUMBER).contains(&n);
    v.check(ok, field, format!("seat numbers run from 1 to {MAX_SEAT_NUMBER}"));
    ok
}

fn from_rows(v: &mut Validator, section: Option<&str>, rows: &[RowRange]) -> Vec<NewSeat> {
    let section = section.and_then(|s| name(v, "section", s, MAX_SECTION_CHARS));
    v.check(!rows.is_empty(), "rows", "must list at least one row");
    let total: i64 = rows.iter().map(|r| (i64::from(r.to) - i64::from(r.from) + 1).max(0)).sum();
    if total > MAX_SEATS_PER_REQUEST as i64 {
        v.push("rows", format!("at most {MAX_SEATS_PER_REQUEST} seats per request"));
        return vec![];
    }
    let mut seats = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        let row = name(v, &format!("rows.{i}.row"), &r.row, MAX_ROW_CHARS);
        let from_ok = check_number(v, &format!("rows.{i}.from"), r.from);
        let to_ok = check_number(v, &format!("rows.{i}.to"), r.to);
        v.check(r.from <= r.to, &format!("rows.{i}.to"), "must not be below `from`");
        let Some(row) = row.filter(|_| from_ok && to_ok) else { continue };
        seats.extend((r.from..=r.to).map(|number| NewSeat {
            label: derived_label(section.as_deref(), &row, number),
            section: section.clone(),
            row: Some(row.clone()),
            number: Some(number),
            rank: None,
        }));
    }
    seats
}

fn from_places(v: &mut Validator, default_section: Option<&str>, places: &[PlacedSeat]) -> Vec<NewSeat> {
    let default_section = default_section.and_then(|s| name(v, "section", s, MAX_SECTION_CHARS));
    let mut seats = Vec::with_capacity(places.len());
    for (i, p) in places.iter().enumerate() {
        let section = match &p.section {
            Some(s) => name(v, &format!("seats.{i}.section"), s, MAX_SECTION_CHARS),
            None => default_section.clone(),
        };
        let row = name(v, &format!("seats.{i}.row"), &p.row, MAX_ROW_CHARS);
        let number_ok = check_number(v, &format!("seats.{i}.number"), p.number);
        let given_label = p.label.as_deref().map(|l| label(v, &format!("seats.{i}.label"), l));
        if let Some(rank) = p.rank {
            v.check(rank >= 0, &format!("seats.{i}.rank"), "ensure this value is greater than or equal to 0");
        }
        let (Some(row), true) = (row, number_ok) else { continue };
        let label = match given_label {
            Some(Some(label)) => label,
            Some(None) => continue,
            None => derived_label(section.as_deref(), &row, p.number),
        };
        seats.push(NewSeat { label, section, row: Some(row), number: Some(p.number), rank: p.rank });
    }
    seats
}

/// Labels and places given twice in one request.
fn check_unique(seats: &[NewSeat]) -> Result<(), LayoutError> {
    let mut labels = HashSet::new();
    let mut places = HashSet::new();
    let (mut twice, mut overlapping) = (Vec::new(), Vec::new());
    for s in seats {
        if !labels.insert(s.label.as_str()) {
            twice.push(s.label.clone());
        }
        if let (Some(row), Some(number)) = (&s.row, s.number)
            && !places.insert((s.section.as_deref(), row.as_str(), number))
        {
            let section = s.section.as_deref().map(|s| format!(" of section {s}")).unwrap_or_default();
            overlapping.push(format!("row {row}{section}, seat {number}"));
        }
    }
    if !twice.is_empty() {
        return Err(LayoutError::DuplicateLabels(twice));
    }
    if !overlapping.is_empty() {
        return Err(LayoutError::Overlapping(overlapping));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(section: Option<&str>, rows: &[(&str, i32, i32)]) -> SeatLayout {
        SeatLayout::Rows {
            section: section.map(String::from),
            rows: rows.iter().map(|&(row, from, to)| RowRange { row: row.into(), from, to }).collect(),
        }
    }

    #[test]
    fn rows_expand_to_numbered_seats_with_derived_labels() {
        let seats = rows(Some(" a "), &[("12", 7, 8)]).seats().unwrap();
        assert_eq!(seats.iter().map(|s| s.label.as_str()).collect::<Vec<_>>(), ["A-12-7", "A-12-8"]);
        assert_eq!(seats[0].section.as_deref(), Some("A"));
        assert_eq!(seats[1].number, Some(8));
        let no_section = rows(None, &[("c", 1, 1)]).seats().unwrap();
        assert_eq!(no_section[0].label, "C-1");
    }

    #[test]
    fn a_row_given_twice_with_overlapping_numbers_is_refused() {
        let err = rows(Some("A"), &[("1", 1, 10), ("1", 12, 20), ("1", 10, 11)]).seats().unwrap_err();
        assert!(matches!(err, LayoutError::DuplicateLabels(_) | LayoutError::Overlapping(_)), "{err:?}");
        // the same place under two labels is an overlap too
        let places = SeatLayout::Seats {
            section: None,
            seats: vec![
                PlacedSeat { section: None, row: "B".into(), number: 3, label: Some("x".into()), rank: None },
                PlacedSeat { section: None, row: "b".into(), number: 3, label: Some("y".into()), rank: None },
            ],
        };
        assert!(matches!(places.seats(), Err(LayoutError::Overlapping(o)) if o == ["row B, seat 3"]));
    }

    #[test]
    fn a_row_with_a_gap_is_two_ranges_and_bad_ranges_are_422s() {
        assert_eq!(rows(None, &[("1", 1, 10), ("1", 12, 20)]).seats().unwrap().len(), 19);
        for bad in [rows(None, &[("1", 5, 4)]), rows(None, &[("1", 0, 4)]), rows(None, &[(" ", 1, 4)])] {
            assert!(matches!(bad.seats(), Err(LayoutError::Invalid(_))));
        }
        assert!(matches!(rows(None, &[("1", 1, 99_999)]).seats(), Err(LayoutError::Invalid(_))));
    }

    #[test]
    fn a_label_of_letters_and_a_number_has_a_place() {
        let seats = SeatLayout::Labels(vec!["c5".into(), "C05".into(), "BOX 1".into()]).seats().unwrap();
        assert_eq!((seats[0].row.as_deref(), seats[0].number), (Some("C"), Some(5)));
        assert_eq!(seats[1].row, None, "a leading zero would make C05 and C5 one place");
        assert_eq!(seats[2].row, None);
    }
}
