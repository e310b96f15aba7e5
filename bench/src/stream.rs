//! Live streams under an on-sale: `--availability` subscribers (10,000) to the on-sale item's
//! availability stream and `--seatmap` subscribers (1,000) to a seated hall's seat map stream, all
//! on the one API process, while `--buyers` buyers rush the item (and a few hundred take the
//! hall's seats, so the seat maps move too). The same on-sale, with its hall, runs first without
//! any subscriber, on another item and hall of the same size, for the ratio.
//!
//! Checks that every subscriber's last state is what SQL says at the end (nothing left), and
//! prints the delivery delay (the kernel's receive time minus the event's `as_of`, leaving out the
//! first event of each stream, which shows a state from before it connected), the events per
//! subscriber, and decided/s with subscribers over decided/s without, with the p99 of the
//! requests' answers in each phase. The goals are printed, not enforced.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::catalog::{self, Item};
use crate::checks;
use crate::cli::StreamArgs;
use crate::load::{self, Plan};
use crate::received;
use crate::report::Report;
use crate::setup::Environment;

/// Issue 26's goals.
const DELAY_P99_GOAL_MS: f64 = 500.0;
const RATIO_GOAL: f64 = 0.85;
/// Seats of the hall whose seat map is followed: 2 sections of 10 rows of 30.
const HALL_SECTIONS: [&str; 2] = ["Left", "Right"];
const HALL_ROWS: u32 = 10;
const HALL_ROW_SEATS: u32 = 30;
/// Streams being opened at once.
const CONNECTING: usize = 200;

/// What one subscriber saw.
#[derive(Default)]
struct Seen {
    events: u64,
    /// Delivery delays of its events but the first, in microseconds (kept apart per subscriber, so
    /// that 11,000 readers share no lock).
    delays_us: Vec<u64>,
    /// Availability: the last event's JSON, read at the end.
    availability: Option<String>,
    /// Seat map: each seat's last status.
    seats: HashMap<String, String>,
}

pub async fn run(env: &mut Environment, args: &StreamArgs) -> anyhow::Result<Report> {
    let common = &args.common;
    let hall_seats = HALL_SECTIONS.len() as u32 * HALL_ROWS * HALL_ROW_SEATS;
    catalog::insert_users(&env.pool, args.buyers + hall_seats).await?;

    let rows: Vec<Value> =
        (1..=HALL_ROWS).map(|r| json!({"row": r.to_string(), "from": 1, "to": HALL_ROW_SEATS})).collect();
    let sections: Vec<(&str, Vec<Value>)> = HALL_SECTIONS.iter().map(|s| (*s, rows.clone())).collect();

    // the same work twice, a hall sold alongside the item each time: only the subscribers differ
    note!("the on-sale without subscribers");
    let alone = catalog::create_item(env, "Bench on-sale without subscribers", args.tickets).await?;
    let alone_hall = catalog::create_hall(env, "Bench hall without subscribers", &sections).await?;
    let seats_taken =
        tokio::spawn(take_seats(env.api.clone(), env.client_key.clone(), alone_hall.clone(), args.buyers, hall_seats));
    let (without, accept_p99_without) = onsale(env, args, &alone).await?;
    seats_taken.await??;
    checks::wait_until_decided(&env.pool, &alone_hall, Duration::from_secs(common.timeout)).await?;

    let item = catalog::create_item(env, "Bench on-sale followed live", args.tickets).await?;
    let hall = catalog::create_hall(env, "Bench hall followed live", &sections).await?;

    let availability_url =
        env.api.join(&format!("/api/representations/{}/availability/stream", item.representation_id))?;
    let seatmap_url = env.api.join(&format!("/api/representations/{}/seatmap/stream", hall.representation_id))?;
    note!("opening {} availability and {} seat map streams", args.availability, args.seatmap);
    let mut subscribers = JoinSet::new();
    let mut seen = Vec::new();
    let (ready_tx, mut ready) = tokio::sync::mpsc::unbounded_channel();
    let connecting = Arc::new(Semaphore::new(CONNECTING));
    for i in 0..args.availability + args.seatmap {
        let url = if i < args.availability { availability_url.clone() } else { seatmap_url.clone() };
        let state = Arc::new(Mutex::new(Seen::default()));
        seen.push((i < args.availability, state.clone()));
        let (ready, connecting) = (ready_tx.clone(), connecting.clone());
        subscribers.spawn(async move {
            let permit = connecting.acquire_owned().await;
            let outcome = follow(url, &state, move || {
                drop(permit);
                let _ = ready.send(());
            })
            .await;
            if let Err(e) = &outcome {
                note!("a subscriber stopped: {e:#}");
            }
            outcome
        });
    }
    drop(ready_tx);
    let total = args.availability + args.seatmap;
    let opened = tokio::time::timeout(Duration::from_secs(120), async {
        let mut n = 0;
        while n < total && ready.recv().await.is_some() {
            n += 1;
        }
        n
    })
    .await
    .unwrap_or(0);
    if opened < total {
        bail!("only {opened} of {total} streams had their first event within two minutes");
    }
    note!("{total} streams open; the on-sale with them");

    let seats_taken =
        tokio::spawn(take_seats(env.api.clone(), env.client_key.clone(), hall.clone(), args.buyers, hall_seats));
    let (with, accept_p99_with) = onsale(env, args, &item).await?;
    let hall_answers = seats_taken.await??;
    checks::wait_until_decided(&env.pool, &hall, Duration::from_secs(common.timeout)).await?;
    // the last changes reach everyone within a coalescing round or two
    tokio::time::sleep(Duration::from_secs(2)).await;
    subscribers.abort_all();

    let mut report = Report::new("stream");
    report.int("buyers", args.buyers);
    report.int("tickets", args.tickets);
    report.int("subscribers_availability", args.availability);
    report.int("subscribers_seatmap", args.seatmap);
    report.int("hall_seats", hall_seats);
    report.int("hall_requests_accepted", hall_answers);
    report.float("decided_per_sec_without_subscribers", without, 1);
    report.float("decided_per_sec_with_subscribers", with, 1);
    let ratio = with / without;
    report.float("accept_p99_ms_without_subscribers", accept_p99_without, 1);
    report.float("accept_p99_ms_with_subscribers", accept_p99_with, 1);
    report.float("decided_ratio_with_over_without", ratio, 3);

    let available_now = checks::books(&env.pool, &item).await?.available;
    let seats_free: i64 = sqlx::query_scalar(
        "select count(*) from seats s where s.offer_id = $1 and s.representation_id = $2
         and not exists (select 1 from reservation_seats rs where rs.seat_id = s.id and rs.active)",
    )
    .bind(&hall.offer_id)
    .bind(&hall.representation_id)
    .fetch_one(&env.pool)
    .await?;
    report.int("available_at_end_sql", available_now);
    report.int("hall_seats_free_at_end_sql", seats_free);
    let (mut stale, mut events_availability, mut events_seatmap) = (0, 0, 0);
    let mut delays = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)?;
    for (availability, state) in &seen {
        let state = state.lock().expect("seen");
        for delay in &state.delays_us {
            delays.record((*delay).clamp(1, 600_000_000))?;
        }
        if *availability {
            events_availability += state.events;
            stale += u64::from(available_of(state.availability.as_deref()) != Some(available_now));
        } else {
            events_seatmap += state.events;
            let free = state.seats.values().filter(|s| s.as_str() == "AVAILABLE").count() as i64;
            stale += u64::from(free != seats_free || state.seats.len() != hall_seats as usize);
        }
    }
    report.int("subscribers_not_at_the_end_state", stale as i64);
    report.float(
        "events_per_availability_subscriber",
        events_availability as f64 / f64::from(args.availability.max(1)),
        1,
    );
    report.float("events_per_seatmap_subscriber", events_seatmap as f64 / f64::from(args.seatmap.max(1)), 1);
    report.int("events_measured", delays.len() as i64);
    report.float("delivery_delay_p50_ms", delays.value_at_quantile(0.5) as f64 / 1000.0, 1);
    report.float("delivery_delay_p99_ms", delays.value_at_quantile(0.99) as f64 / 1000.0, 1);
    report.float("delivery_delay_max_ms", delays.max() as f64 / 1000.0, 1);
    let p99 = delays.value_at_quantile(0.99) as f64 / 1000.0;
    for (goal, met) in [
        (format!("delivery_delay_p99 < {DELAY_P99_GOAL_MS} ms"), p99 < DELAY_P99_GOAL_MS),
        (format!("decided_ratio >= {RATIO_GOAL}"), ratio >= RATIO_GOAL),
    ] {
        report.text(&format!("goal {goal}"), if met { "met" } else { "missed" });
    }
    if stale > 0 {
        report.fail(format!("{stale} subscribers did not end on the state SQL shows"));
    }
    if available_now != 0 || seats_free != 0 {
        report.fail(format!("the run should sell out: {available_now} tickets and {seats_free} seats left"));
    }
    if let Err(e) = env.check_alive() {
        report.fail(format!("{e:#}"));
    }
    Ok(report)
}

/// The on-sale of `item`: its decided/s and the p99 of its requests' answers (ms), the invariants
/// checked.
async fn onsale(env: &mut Environment, args: &StreamArgs, item: &Item) -> anyhow::Result<(f64, f64)> {
    let common = &args.common;
    let plan = Plan {
        item,
        requests: args.buyers,
        connections: common.connections,
        quantity: common.quantity,
        hold_minutes: None,
        wait: None,
    };
    let load = load::run(env, &plan).await?;
    if load.accepted() < u64::from(args.buyers) {
        bail!("{} of {} requests were accepted", load.accepted(), args.buyers);
    }
    let undecided = checks::wait_until_decided(&env.pool, item, Duration::from_secs(common.timeout)).await?;
    let books = checks::books(&env.pool, item).await?;
    if undecided > 0 || books.oversold() > 0 {
        bail!("{undecided} undecided, {} oversold", books.oversold());
    }
    Ok((checks::decisions(&env.pool, item).await?.per_sec(), load.latency_ms(0.99)))
}

/// Sells the hall seat by seat (best available, one seat each) over four connections, paced to
/// last a few seconds of the on-sale. Returns the requests accepted.
async fn take_seats(api: reqwest::Url, key: String, hall: Item, first_user: u32, seats: u32) -> anyhow::Result<i64> {
    let client = reqwest::Client::builder().no_proxy().build()?;
    let url = api.join("/api/reservations")?;
    let mut senders = JoinSet::new();
    for lane in 0..4 {
        let (client, url, key, hall) = (client.clone(), url.clone(), key.clone(), hall.clone());
        senders.spawn(async move {
            let mut accepted = 0;
            for i in (lane..seats).step_by(4) {
                let body = json!({"user_id": catalog::user_id(first_user + i), "offer_id": hall.offer_id,
                                  "representation_id": hall.representation_id, "best_available": {"quantity": 1}});
                let answer = client.post(url.clone()).bearer_auth(&key).json(&body).send().await?;
                accepted += i64::from(answer.status().is_success());
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            anyhow::Ok(accepted)
        });
    }
    let mut accepted = 0;
    while let Some(lane) = senders.join_next().await {
        accepted += lane??;
    }
    Ok(accepted)
}

/// Reads one stream until it is aborted: counts its events, keeps its last state, and measures
/// each event's delay but the first's. `opened` is called once the first event is in.
///
/// The subscribers share the machine's two cores with the API and the database, so each reads
/// its stream over a plain TCP connection with as little work per event as it can (the response
/// head parsed by `httparse`, the chunks and events split here; an availability event is kept as
/// text and read once at the end): what is measured is the API's fan-out, not an HTTP client's.
async fn follow(url: reqwest::Url, seen: &Mutex<Seen>, opened: impl FnOnce()) -> anyhow::Result<()> {
    let host = url.host_str().context("the API's host")?;
    let port = url.port_or_known_default().context("the API's port")?;
    let mut socket = TcpStream::connect((host, port)).await?;
    socket.set_nodelay(true)?;
    received::stamp_receipts(&socket)?;
    let request = format!("GET {} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n\r\n", url.path());
    socket.write_all(request.as_bytes()).await?;
    let mut raw: Vec<u8> = Vec::with_capacity(16 * 1024);
    loop {
        if received::read(&socket, &mut raw).await?.0 == 0 {
            bail!("the stream closed before its answer's head");
        }
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut head = httparse::Response::new(&mut headers);
        if let httparse::Status::Complete(length) = head.parse(&raw)? {
            if head.code != Some(200) {
                bail!("the stream answered {:?}", head.code);
            }
            let chunked = head
                .headers
                .iter()
                .any(|h| h.name.eq_ignore_ascii_case("transfer-encoding") && h.value.eq_ignore_ascii_case(b"chunked"));
            if !chunked {
                bail!("the stream is not chunked");
            }
            raw.drain(..length);
            break;
        }
    }
    let mut opened = Some(opened);
    let mut body: Vec<u8> = Vec::with_capacity(16 * 1024);
    let mut received = Utc::now();
    loop {
        let ended = dechunk(&mut raw, &mut body)?;
        let mut start = 0;
        while let Some(end) = memchr::memmem::find(&body[start..], b"\n\n") {
            let frame = std::str::from_utf8(&body[start..start + end]).context("the stream is UTF-8")?;
            start += end + 2;
            let Some((event, data)) = parse(frame) else { continue };
            let mut seen = seen.lock().expect("seen");
            apply(&mut seen, event, data)?;
            match opened.take() {
                Some(opened) => opened(),
                None => {
                    if let Some(as_of) = as_of_of(data) {
                        seen.delays_us.push((received - as_of).num_microseconds().unwrap_or(0).max(1) as u64);
                    }
                }
            }
        }
        body.drain(..start);
        if ended {
            return Ok(());
        }
        let (read, stamp) = received::read(&socket, &mut raw).await?;
        if read == 0 {
            bail!("the stream closed");
        }
        received = stamp.unwrap_or_else(Utc::now);
    }
}

/// Moves the complete chunks of `raw` (HTTP/1.1 chunked encoding) to `body`; true at the last.
fn dechunk(raw: &mut Vec<u8>, body: &mut Vec<u8>) -> anyhow::Result<bool> {
    let mut at = 0;
    let ended = loop {
        let Some(line) = memchr::memmem::find(&raw[at..], b"\r\n") else { break false };
        let size = std::str::from_utf8(&raw[at..at + line])?.split(';').next().unwrap_or_default();
        let size = usize::from_str_radix(size.trim(), 16).context("a chunk's size")?;
        let data = at + line + 2;
        if raw.len() < data + size + 2 {
            break false;
        }
        if size == 0 {
            break true;
        }
        body.extend_from_slice(&raw[data..data + size]);
        at = data + size + 2;
    };
    raw.drain(..at);
    Ok(ended)
}

/// The `as_of` of an event's JSON, found without parsing the rest (a seat map is large).
fn as_of_of(data: &str) -> Option<DateTime<Utc>> {
    let at = data.rfind("\"as_of\":\"")? + "\"as_of\":\"".len();
    let end = data[at..].find('"')?;
    data[at..at + end].parse().ok()
}

/// An SSE frame's event name and data (on one line, as the API writes them); `None` for a comment.
fn parse(frame: &str) -> Option<(&str, &str)> {
    let (mut event, mut data) = (None, "");
    for line in frame.lines() {
        if let Some(v) = line.strip_prefix("event:") {
            event = Some(v.trim());
        } else if let Some(v) = line.strip_prefix("data:") {
            data = v.trim_start();
        }
    }
    Some((event?, data))
}

/// What an availability event says is left of the item.
#[derive(serde::Deserialize)]
struct Availability {
    offers: Vec<Offer>,
}

#[derive(serde::Deserialize)]
struct Offer {
    available: i64,
}

/// A `seats` event: the seats that changed.
#[derive(serde::Deserialize)]
struct SeatChanges {
    changes: Vec<SeatChange>,
}

#[derive(serde::Deserialize)]
struct SeatChange {
    label: String,
    status: String,
}

/// What an availability event's JSON says is left of the item.
fn available_of(data: Option<&str>) -> Option<i64> {
    let availability: Availability = serde_json::from_str(data?).ok()?;
    availability.offers.first().map(|o| o.available)
}

fn apply(seen: &mut Seen, event: &str, data: &str) -> anyhow::Result<()> {
    seen.events += 1;
    match event {
        "availability" => seen.availability = Some(data.to_string()),
        "seatmap" => {
            seen.seats.clear();
            collect_seats(&serde_json::from_str(data)?, &mut seen.seats);
        }
        "seats" => {
            let changes: SeatChanges = serde_json::from_str(data)?;
            for change in changes.changes {
                seen.seats.insert(change.label, change.status);
            }
        }
        _ => {}
    }
    Ok(())
}

/// Every `{label, status}` object in a seat map.
fn collect_seats(value: &Value, seats: &mut HashMap<String, String>) {
    match value {
        Value::Object(fields) => {
            if let (Some(Value::String(label)), Some(Value::String(status))) =
                (fields.get("label"), fields.get("status"))
            {
                seats.insert(label.clone(), status.clone());
            }
            fields.values().for_each(|v| collect_seats(v, seats));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_seats(v, seats)),
        _ => {}
    }
}
