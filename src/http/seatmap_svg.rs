//! The seat map as a picture: one circle per seat, coloured by status, sections stacked front to
//! back, each row on a line with its seats placed by number (so aisles show as gaps).

use super::markup::escape;
use std::fmt::Write;

use crate::domain::SeatState;
use crate::domain::records::SectionStock;
use crate::services::seatmap::Section;

const PITCH: i64 = 18;
const RADIUS: i64 = 7;
const ROW_HEIGHT: i64 = 20;
const MARGIN: i64 = 20;
const ROW_LABELS: i64 = 48;
const TITLE: i64 = 26;

fn colour(state: SeatState) -> &'static str {
    match state {
        SeatState::Available => "#2e7d32",
        SeatState::Held => "#f9a825",
        SeatState::Sold => "#b71c1c",
    }
}

/// The legend's counter of a status.
fn counter(state: SeatState) -> usize {
    match state {
        SeatState::Available => 0,
        SeatState::Held => 1,
        SeatState::Sold => 2,
    }
}

fn name(state: SeatState) -> &'static str {
    match state {
        SeatState::Available => "AVAILABLE",
        SeatState::Held => "HELD",
        SeatState::Sold => "SOLD",
    }
}

/// Sections per line of the overview, and each one's box.
const OVERVIEW_COLUMNS: i64 = 10;
const BOX_WIDTH: i64 = 110;
const BOX_HEIGHT: i64 = 64;
const GAP: i64 = 8;

/// How full a section is, as the overview colours it: (up to this share taken, colour, legend).
const FULLNESS: &[(f64, &str, &str)] = &[
    (0.5, "#2e7d32", "under half taken"),
    (0.8, "#9e9d24", "half to 80%"),
    (0.95, "#f9a825", "80 to 95%"),
    (0.999_999, "#ef6c00", "nearly full"),
    (f64::INFINITY, "#b71c1c", "full"),
];

fn fullness(section: &SectionStock) -> (&'static str, &'static str) {
    let total = section.available + section.held + section.sold;
    let taken = if total == 0 { 1.0 } else { f64::from(section.held + section.sold) / f64::from(total) };
    let (_, colour, legend) = FULLNESS.iter().find(|(upto, _, _)| taken <= *upto).expect("the last bound is infinite");
    (colour, legend)
}

/// An SVG overview of a large hall: one box per section, in the order laid out, coloured by how
/// full it is, with its counts; each box links to the section's seat-by-seat picture.
pub fn overview(title: &str, sections: &[SectionStock]) -> String {
    let columns = OVERVIEW_COLUMNS.min(sections.len().max(1) as i64);
    let lines = (sections.len() as i64 + OVERVIEW_COLUMNS - 1) / OVERVIEW_COLUMNS;
    let width = (MARGIN * 2 + columns * (BOX_WIDTH + GAP))
        .max(MARGIN * 2 + 150 * FULLNESS.len() as i64)
        .max(MARGIN * 2 + 9 * title.chars().count() as i64);
    let height = MARGIN * 2 + TITLE * 2 + lines * (BOX_HEIGHT + GAP);
    let style = ".section{font-size:13px;font-weight:bold;fill:#fff}.counts{font-size:11px;fill:#fff}";
    let mut svg = opening(width, height, style, title);
    for (i, (_, colour, text)) in FULLNESS.iter().enumerate() {
        legend(&mut svg, MARGIN + 150 * i as i64, colour, text);
    }
    for (i, section) in sections.iter().enumerate() {
        let (column, line) = (i as i64 % OVERVIEW_COLUMNS, i as i64 / OVERVIEW_COLUMNS);
        let (bx, by) = (MARGIN + column * (BOX_WIDTH + GAP), MARGIN + TITLE * 2 + line * (BOX_HEIGHT + GAP));
        let name = section.section.as_deref().unwrap_or("Seats");
        let (colour, legend) = fullness(section);
        let total = section.available + section.held + section.sold;
        let (available, held, sold) = (section.available, section.held, section.sold);
        let link = section.section.as_deref().map(|s| {
            let query = percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC);
            format!("seatmap.svg?section={}", escape(&query.to_string()))
        });
        if let Some(link) = &link {
            let _ = write!(svg, r#"<a href="{link}">"#);
        }
        let _ = writeln!(
            svg,
            r#"<g data-section="{name}" data-available="{available}" data-held="{held}" data-sold="{sold}"><title>Section {name}: {available} available, {held} held, {sold} sold of {total} ({legend})</title><rect x="{bx}" y="{by}" width="{BOX_WIDTH}" height="{BOX_HEIGHT}" rx="6" fill="{colour}"/><text x="{}" y="{}" class="section">{name}</text><text x="{}" y="{}" class="counts">{available} / {total} free</text></g>"#,
            bx + 8,
            by + 22,
            bx + 8,
            by + 44,
            name = escape(name),
        );
        if link.is_some() {
            svg.push_str("</a>\n");
        }
    }
    svg.push_str("</svg>\n");
    svg
}

/// The document's opening: its size, the title's and legend's style and `style`, a white ground,
/// the title.
fn opening(width: i64, height: i64, style: &str, title: &str) -> String {
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif">"#
    );
    let _ = writeln!(svg, "<style>.title{{font-size:16px;font-weight:bold}}.legend{{font-size:11px}}{style}</style>");
    let _ = writeln!(svg, r##"<rect width="100%" height="100%" fill="#ffffff"/>"##);
    let _ = writeln!(svg, r#"<text x="{MARGIN}" y="{}" class="title">{}</text>"#, MARGIN + 6, escape(title));
    svg
}

/// One entry of the legend under the title, at `x`: a swatch of `colour` and `text` (escaped).
fn legend(svg: &mut String, x: i64, colour: &str, text: &str) {
    let y = MARGIN + TITLE;
    let _ = writeln!(
        svg,
        r#"<rect x="{x}" y="{}" width="12" height="12" rx="2" fill="{colour}"/><text x="{}" y="{y}" class="legend">{}</text>"#,
        y - 10,
        x + 16,
        escape(text),
    );
}

/// The columns a section's rows need: seat numbers from its lowest to its highest (seats without
/// a number take the next columns of their row).
fn columns(section: &Section) -> (i64, i64) {
    let numbers = section.rows.iter().flat_map(|r| r.seats.iter().filter_map(|s| s.number));
    let (low, high) = numbers.fold((i64::MAX, i64::MIN), |(lo, hi), n| (lo.min(n.into()), hi.max(n.into())));
    let unplaced = section.rows.iter().map(|r| r.seats.iter().filter(|s| s.number.is_none()).count()).max();
    let unplaced = unplaced.unwrap_or(0) as i64;
    if low == i64::MAX { (0, unplaced) } else { (low, high - low + 1 + unplaced) }
}

/// An SVG document of the hall; `title` heads it.
pub fn render(title: &str, sections: &[Section]) -> String {
    let widest = sections.iter().map(|s| columns(s).1).max().unwrap_or(0);
    // wide enough for the seats, the legend (three entries of 120) and the title (~9 per character)
    let width = (MARGIN * 2 + ROW_LABELS + widest * PITCH)
        .max(MARGIN * 2 + 360)
        .max(MARGIN * 2 + 9 * title.chars().count() as i64);
    let rows: i64 = sections.iter().map(|s| s.rows.len() as i64).sum();
    let height = MARGIN * 2 + TITLE * 2 + sections.len() as i64 * TITLE + rows * ROW_HEIGHT;
    let mut counts = [0usize; 3];
    let mut body = String::new();
    let mut y = MARGIN + TITLE * 2;
    for section in sections {
        let (low, _) = columns(section);
        let heading = section.name.as_deref().map_or("Seats".to_string(), |s| format!("Section {s}"));
        let _ = writeln!(body, r#"<text x="{MARGIN}" y="{}" class="section">{}</text>"#, y + 14, escape(&heading));
        y += TITLE;
        for row in &section.rows {
            let cy = y + ROW_HEIGHT / 2;
            if let Some(name) = &row.name {
                let _ = writeln!(body, r#"<text x="{MARGIN}" y="{}" class="row">{}</text>"#, cy + 4, escape(name));
            }
            let mut unplaced = 0;
            for seat in &row.seats {
                let column = match seat.number {
                    Some(n) => i64::from(n) - low,
                    None => {
                        unplaced += 1;
                        columns(section).1 - unplaced
                    }
                };
                let cx = MARGIN + ROW_LABELS + column * PITCH + PITCH / 2;
                counts[counter(seat.status)] += 1;
                let _ = writeln!(
                    body,
                    r#"<circle cx="{cx}" cy="{cy}" r="{RADIUS}" fill="{}" data-label="{}" data-status="{}"><title>{} {}</title></circle>"#,
                    colour(seat.status),
                    escape(&seat.label),
                    name(seat.status),
                    escape(&seat.label),
                    name(seat.status),
                );
            }
            y += ROW_HEIGHT;
        }
    }
    let mut svg = opening(width, height, ".section{font-size:13px;font-weight:bold}.row{font-size:11px}", title);
    for (i, state) in [SeatState::Available, SeatState::Held, SeatState::Sold].into_iter().enumerate() {
        let text = format!("{} {}", name(state), counts[counter(state)]);
        legend(&mut svg, MARGIN + 120 * i as i64, colour(state), &text);
    }
    svg.push_str(&body);
    svg.push_str("</svg>\n");
    svg
}
