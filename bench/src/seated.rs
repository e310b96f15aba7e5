//! The seated on-sale: a hall of 5,000 seats in sections of rows of 20 to 40 seats (one section
//! with an aisle), or a stadium of 60,000 (`--stadium`), `--buyers` buyers asking best-available
//! for 1 to 4 seats (mostly 2, one in ten naming a section). Measures decided/s and decision latency, then replays every decision in
//! arrival order on the bench's own model of the hall (`hall.rs`) and checks: no seat held twice,
//! every block adjacent, each request given the best block the rules allowed at its turn (so no
//! later request got a better block than an earlier one could have had), rejections only when
//! nothing fitted; and counts the lonely seats left, against a plain "first free block" baseline
//! on the same requests in the same order.

use std::time::Duration;

use anyhow::Context;
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::Row;

use crate::catalog::{self, Item};
use crate::checks;
use crate::cli::SeatedArgs;
use crate::drive::{self, Request};
use crate::hall::{Model, Seat};
use crate::report::Report;
use crate::setup::Environment;

/// A section: (name, rows, seats per row, a number left out as an aisle).
type Section = (String, i32, i32, Option<i32>);

/// 1,600 + 1,200 + 1,000 + 600 + 600 = 5,000 seats.
fn hall() -> Vec<Section> {
    [("ORCHESTRA", 40, 40, Some(21)), ("MEZZANINE", 40, 30, None), ("BALCONY", 40, 25, None), ("BOX", 30, 20, None)]
        .into_iter()
        .chain([("GALLERY", 20, 30, None)])
        .map(|(name, rows, seats, aisle)| (name.to_string(), rows, seats, aisle))
        .collect()
}

/// 60 sections of 25 rows of 40 seats: 60,000 seats.
fn stadium() -> Vec<Section> {
    (1..=60).map(|n| (format!("S{n:02}"), 25, 40, None)).collect()
}

/// The public reads of a stadium must stay small (issue 24): availability without `?section`, one
/// section's seat map, the whole seat map gzipped.
const MAX_AVAILABILITY_BYTES: usize = 100_000;
const MAX_SECTION_MAP_BYTES: usize = 100_000;
const MAX_GZIPPED_MAP_BYTES: usize = 1_000_000;

pub async fn run(env: &mut Environment, args: &SeatedArgs) -> anyhow::Result<Report> {
    let common = &args.common;
    let sections = if args.stadium { stadium() } else { hall() };
    let buyers = args.buyers.unwrap_or(if args.stadium { 100_000 } else { 20_000 });
    let started = std::time::Instant::now();
    let item = catalog::create_hall(env, "Bench seated on-sale", &layout(&sections)).await?;
    let laid_out = started.elapsed();
    catalog::insert_users(&env.pool, buyers).await?;
    let asks = asks(buyers, &sections);
    let requests = asks.iter().enumerate().map(|(i, ask)| request(&item, i as u32, ask)).collect();
    let phase = drive::run("reserve", &env.api, &env.client_key, requests, common.connections).await?;
    note!("waiting for every reservation to be decided (at most {} s)", common.timeout);
    let undecided = checks::wait_until_decided(&env.pool, &item, Duration::from_secs(common.timeout)).await?;

    let mut report = Report::new(if args.stadium { "seated --stadium" } else { "seated" });
    report.float("layout_seconds", laid_out.as_secs_f64(), 2);
    report.int("buyers", buyers);
    report.int("connections", common.connections);
    report.int("workers", common.workers);
    phase.report(&mut report, 202);
    report.float(
        "accepted_per_sec",
        phase.statuses.get(&202).copied().unwrap_or(0) as f64 / phase.wall.as_secs_f64(),
        1,
    );
    if let Err(e) = env.check_alive() {
        report.fail(format!("{e:#}"));
    }
    let books = checks::books(&env.pool, &item).await?;
    let decisions = checks::decisions(&env.pool, &item).await?;
    report.int("seats", books.total_stock);
    report.int("held", books.count("held"));
    report.int("rejected", books.count("rejected"));
    report.int("undecided", undecided);
    report.int("decided", decisions.decided);
    report.int("oversold", books.oversold());
    books.report(&mut report);
    report.float("decided_per_sec", decisions.per_sec(), 1);
    report.float("decision_latency_p50_ms", decisions.p50_ms, 1);
    report.float("decision_latency_p99_ms", decisions.p99_ms, 1);
    if undecided > 0 {
        report.fail(format!("{undecided} reservations still pending after {} s", common.timeout));
    }
    if books.oversold() > 0 {
        report.fail(format!("oversold by {} seats", books.oversold()));
    }
    let doubles = seats_held_twice(env, &item).await?;
    report.int("seats_held_twice", doubles);
    if doubles > 0 {
        report.fail(format!("{doubles} seats have two active holds"));
    }
    note!("replaying the decisions on the bench's model of the hall");
    replay(env, &item, &mut report).await?;
    // three holders in four pay, so the seat map shows the hall as an organizer sees it
    let held: Vec<String> = sqlx::query_scalar(
        "select id::text from reservations where offer_id = $1 and representation_id = $2 and status = 'held'
         order by seq",
    )
    .bind(&item.offer_id)
    .bind(&item.representation_id)
    .fetch_all(&env.pool)
    .await?;
    let confirms = held
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 4 != 3)
        .map(|(_, id)| Request {
            method: Method::POST,
            path: format!("/api/reservations/{id}/confirm"),
            body: Some(b"{}".to_vec()),
        })
        .collect();
    drive::run("confirms", &env.api, &env.client_key, confirms, common.connections).await?.report(&mut report, 200);
    sizes(env, &item, &sections[0].0, args.stadium, &mut report).await?;
    if let Some(path) = &args.seatmap_svg {
        let url = env.api.join(&format!("/api/representations/{}/seatmap.svg", item.representation_id))?;
        let svg = env.http.get(url).send().await?.error_for_status()?.bytes().await?;
        std::fs::write(path, &svg).with_context(|| format!("writing {}", path.display()))?;
        report.text("seatmap_svg", path.display().to_string());
    }
    Ok(report)
}

/// One public read as a browser makes it: its status, the bytes on the wire, its `ETag`.
async fn fetch(
    env: &Environment,
    path: &str,
    encoding: Option<&str>,
    if_none_match: Option<&str>,
) -> anyhow::Result<(u16, usize, Option<String>)> {
    let mut request = env.http.get(env.api.join(path)?);
    if let Some(encoding) = encoding {
        request = request.header("accept-encoding", encoding);
    }
    if let Some(tag) = if_none_match {
        request = request.header("if-none-match", tag);
    }
    // the client decompresses nothing (no such feature): these are the bytes sent
    let answer = request.send().await?;
    let status = answer.status().as_u16();
    let etag = answer.headers().get("etag").and_then(|v| v.to_str().ok()).map(str::to_string);
    let bytes = answer.bytes().await?.len();
    Ok((status, bytes, etag))
}

/// The sizes of the public reads of the sold hall, checked against the limits above in a stadium
/// (the hall's 1,600-seat orchestra is a larger section than any of the stadium's).
async fn sizes(
    env: &Environment,
    item: &Item,
    section: &str,
    stadium: bool,
    report: &mut Report,
) -> anyhow::Result<()> {
    let rep = &item.representation_id;
    let mut limits = Vec::new();
    let (_, availability, _) = fetch(env, &format!("/api/representations/{rep}/availability"), None, None).await?;
    report.int("availability_bytes", availability as i64);
    limits.push(("availability without ?section", availability, MAX_AVAILABILITY_BYTES));
    let all_seats =
        fetch(env, &format!("/api/representations/{rep}/availability?seats=all"), Some("gzip"), None).await?;
    report.int("availability_all_seats_gzip_bytes", all_seats.1 as i64);
    let (_, one, _) = fetch(env, &format!("/api/representations/{rep}/seatmap?section={section}"), None, None).await?;
    report.int("seatmap_one_section_bytes", one as i64);
    limits.push(("one section's seat map", one, MAX_SECTION_MAP_BYTES));
    let map = format!("/api/representations/{rep}/seatmap");
    let (_, whole, _) = fetch(env, &map, None, None).await?;
    report.int("seatmap_bytes", whole as i64);
    let (_, gzipped, etag) = fetch(env, &map, Some("gzip"), None).await?;
    report.int("seatmap_gzip_bytes", gzipped as i64);
    limits.push(("the whole seat map gzipped", gzipped, MAX_GZIPPED_MAP_BYTES));
    let (_, brotli, _) = fetch(env, &map, Some("br"), None).await?;
    report.int("seatmap_br_bytes", brotli as i64);
    let (_, svg, _) = fetch(env, &format!("/api/representations/{rep}/seatmap.svg"), Some("gzip"), None).await?;
    report.int("seatmap_svg_gzip_bytes", svg as i64);
    let (status, unchanged, _) = fetch(env, &map, Some("gzip"), etag.as_deref()).await?;
    report.text("seatmap_unchanged", format!("{status}, {unchanged} bytes"));
    if status != 304 || unchanged != 0 {
        report.fail(format!("an unchanged seat map with its ETag answered {status} with {unchanged} bytes, not a 304"));
    }
    for (what, bytes, limit) in limits.into_iter().filter(|_| stadium) {
        if bytes >= limit {
            report.fail(format!("{what} is {bytes} bytes (at most {limit})"));
        }
    }
    Ok(())
}

fn layout(sections: &[Section]) -> Vec<(&str, Vec<Value>)> {
    sections
        .iter()
        .map(|&(ref section, rows, seats, aisle)| {
            let rows = (1..=rows)
                .flat_map(|row| match aisle {
                    // the aisle takes a number: the row still has `seats` seats
                    Some(a) => vec![
                        json!({"row": row.to_string(), "from": 1, "to": a - 1}),
                        json!({"row": row.to_string(), "from": a + 1, "to": seats + 1}),
                    ],
                    None => vec![json!({"row": row.to_string(), "from": 1, "to": seats})],
                })
                .collect();
            (section.as_str(), rows)
        })
        .collect()
}

/// What buyer `i` asks for: (quantity, section).
struct Ask<'a> {
    quantity: usize,
    section: Option<&'a str>,
}

/// A fixed sequence (xorshift from a constant seed), so every run sends the same requests.
fn asks(buyers: u32, sections: &[Section]) -> Vec<Ask<'_>> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..buyers)
        .map(|_| {
            let quantity = match next() % 100 {
                0..15 => 1,
                15..70 => 2,
                70..85 => 3,
                _ => 4,
            };
            let section = (next() % 10 == 0).then(|| sections[(next() % sections.len() as u64) as usize].0.as_str());
            Ask { quantity, section }
        })
        .collect()
}

fn request(item: &Item, i: u32, ask: &Ask<'_>) -> Request {
    let mut best = json!({"quantity": ask.quantity});
    if let Some(section) = ask.section {
        best["section"] = json!(section);
    }
    let body = json!({"user_id": catalog::user_id(i), "offer_id": item.offer_id,
                      "representation_id": item.representation_id, "best_available": best});
    Request { method: Method::POST, path: "/api/reservations".into(), body: Some(body.to_string().into_bytes()) }
}

async fn seats_held_twice(env: &Environment, item: &Item) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar(
        "select count(*) from (select rs.seat_id from reservation_seats rs join seats s on s.id = rs.seat_id
         where s.offer_id = $1 and s.representation_id = $2 and rs.active group by rs.seat_id having count(*) > 1) x",
    )
    .bind(&item.offer_id)
    .bind(&item.representation_id)
    .fetch_one(&env.pool)
    .await?)
}

/// A decided reservation, in arrival order.
struct Decided {
    quantity: usize,
    section: Option<String>,
    status: String,
    reason: Option<String>,
    seats: Vec<String>,
}

/// What the replay found, for ours or for the baseline.
#[derive(Default)]
struct Tally {
    /// Decisions that left a seat alone.
    leaving_lonely: i64,
    /// Lonely seats when the hall first refused a request naming no section: sold out for it.
    isolated_at_sell_out: Option<usize>,
}

impl Tally {
    fn refused(&mut self, model: &Model, section: Option<&str>) {
        if section.is_none() {
            self.isolated_at_sell_out.get_or_insert(model.isolated());
        }
    }
}

async fn replay(env: &Environment, item: &Item, report: &mut Report) -> anyhow::Result<()> {
    let seats: Vec<Seat> = sqlx::query_as::<_, (String, Option<String>, Option<String>, Option<i32>, i32)>(
        "select label, section, row_label, number, position from seats where offer_id = $1 and representation_id = $2",
    )
    .bind(&item.offer_id)
    .bind(&item.representation_id)
    .fetch_all(&env.pool)
    .await?
    .into_iter()
    .map(|(label, section, row_label, number, position)| Seat { label, section, row_label, number, position })
    .collect();
    let decided: Vec<Decided> = sqlx::query(
        "select quantity, best_section, status, reason, coalesce(seat_labels, '{}') from reservations
         where offer_id = $1 and representation_id = $2 order by seq",
    )
    .bind(&item.offer_id)
    .bind(&item.representation_id)
    .fetch_all(&env.pool)
    .await?
    .into_iter()
    .map(|r| {
        Ok(Decided {
            quantity: usize::try_from(r.try_get::<i32, _>(0)?)?,
            section: r.try_get(1)?,
            status: r.try_get(2)?,
            reason: r.try_get(3)?,
            seats: r.try_get(4)?,
        })
    })
    .collect::<anyhow::Result<_>>()?;

    let mut ours = Model::new(seats.clone());
    let mut tally = Tally::default();
    let (mut not_adjacent, mut not_best, mut wrong_refusals, mut avoidable_lonely) = (0i64, 0i64, 0i64, 0i64);
    for d in &decided {
        let section = d.section.as_deref();
        let best = ours.best(d.quantity, section, true);
        match d.status.as_str() {
            "held" => {
                let picked: Option<Vec<usize>> = d.seats.iter().map(|l| ours.index_of(l)).collect();
                let picked = picked.unwrap_or_default();
                if picked.len() != d.quantity || picked.iter().any(|&s| ours.is_taken(s)) {
                    not_adjacent += 1;
                    continue;
                }
                match (ours.block_of(&picked), &best) {
                    (Some(block), Some(best)) => {
                        if (block.lonely, block.score) != (best.lonely, best.score) {
                            not_best += 1;
                        }
                        if block.lonely && !best.lonely {
                            avoidable_lonely += 1;
                        }
                        tally.leaving_lonely += i64::from(block.lonely);
                    }
                    _ => not_adjacent += 1,
                }
                ours.take(&picked);
            }
            "rejected" => {
                tally.refused(&ours, section);
                let fitted = match d.reason.as_deref() {
                    Some("SOLD_OUT") => ours.free_in(section) >= d.quantity,
                    Some("SEATS_NOT_TOGETHER") => best.is_some() || ours.free_in(section) < d.quantity,
                    _ => true,
                };
                wrong_refusals += i64::from(fitted);
            }
            _ => {}
        }
    }
    let baseline = first_free_block(seats, &decided);
    report.int("blocks_not_adjacent", not_adjacent);
    report.int("blocks_not_the_best_at_their_turn", not_best);
    report.int("refusals_that_would_have_fitted", wrong_refusals);
    report.int("lonely_seats_left_when_avoidable", avoidable_lonely);
    report.int("blocks_leaving_a_lonely_seat", tally.leaving_lonely);
    report.int("blocks_leaving_a_lonely_seat_baseline", baseline.0.leaving_lonely);
    let at_sell_out = |t: &Tally| t.isolated_at_sell_out.map_or(-1, |n| n as i64);
    report.int("isolated_seats_at_sell_out", at_sell_out(&tally));
    report.int("isolated_seats_at_sell_out_baseline", at_sell_out(&baseline.0));
    report.int("isolated_seats_at_end", ours.isolated() as i64);
    report.int("isolated_seats_at_end_baseline", baseline.1 as i64);
    report.int("free_seats_at_end", ours.free_in(None) as i64);
    for (what, n) in [
        ("blocks not adjacent (or seats not free at their turn)", not_adjacent),
        ("blocks worse than the best the rules allowed at their turn (FIFO)", not_best),
        ("requests refused although a block fitted at their turn", wrong_refusals),
    ] {
        if n > 0 {
            report.fail(format!("{n} {what}"));
        }
    }
    Ok(())
}

/// The baseline on the same requests in the same order: each takes the best free block, lonely
/// seats or not. Returns its tally and the isolated seats it leaves at the end.
fn first_free_block(seats: Vec<Seat>, decided: &[Decided]) -> (Tally, usize) {
    let mut model = Model::new(seats);
    let mut tally = Tally::default();
    for d in decided {
        match model.best(d.quantity, d.section.as_deref(), false) {
            Some(block) => {
                tally.leaving_lonely += i64::from(block.lonely);
                model.take(&block.seats);
            }
            None => tally.refused(&model, d.section.as_deref()),
        }
    }
    let end = model.isolated();
    (tally, end)
}
