//! The queued on-sale: `--people` join an event's virtual queue (`--prequeue-percent` of them
//! before the sale opens), the sale opens, the scheduler admits `--admit-per-minute`, and every
//! admitted person fetches their pass and reserves a ticket with it until the stock is gone.
//!
//! Checks, from the public endpoints and from SQL with the server's clock: the draw recomputed
//! from the revealed seed (which hashes to the commitment published before the opening), every
//! pre-queue joiner in it; admission within 5% of the rate while people waited; nobody admitted
//! twice (places admitted are exactly 1..n, one per user); admission stopped within 1 s of the
//! sell-out; no oversell; and passes that are missing or forged are refused.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::catalog::{self, Item};
use crate::checks;
use crate::cli::QueueArgs;
use crate::drive::{self, Request};
use crate::report::Report;
use crate::setup::Environment;

pub async fn run(env: &mut Environment, args: &QueueArgs) -> anyhow::Result<Report> {
    let common = &args.common;
    let item = catalog::create_item(env, "Bench queued on-sale", args.tickets).await?;
    catalog::insert_users(&env.pool, args.people).await?;
    let event = &item.event_id;
    let now = Utc::now();
    let settings = json!({"queue": {
        "enabled": true,
        "prequeue_opens_at": stamp(now - chrono::Duration::minutes(1)),
        "sale_opens_at": stamp(now + chrono::Duration::hours(1)),
        "admit_per_minute": args.admit_per_minute,
        "pass_minutes": 10,
    }});
    patch_event(env, event, settings).await?;
    let commitment = get(env, &format!("/api/events/{event}/queue")).await?["seed_commitment"]
        .as_str()
        .context("no seed_commitment before the opening")?
        .to_string();

    let early = (u64::from(args.people) * u64::from(args.prequeue_percent) / 100) as u32;
    let joins = |range: std::ops::Range<u32>| -> Vec<Request> {
        range
            .map(|i| Request {
                method: Method::POST,
                path: format!("/api/events/{event}/queue"),
                body: Some(json!({"user_id": catalog::user_id(i)}).to_string().into_bytes()),
            })
            .collect()
    };
    let before = drive::run("join_prequeue", &env.api, &env.client_key, joins(0..early), common.connections).await?;
    let opened_at = Instant::now();
    patch_event(env, event, json!({"queue": {"sale_opens_at": stamp(Utc::now())}})).await?;
    note!("the sale is open: {} more join, admitted people reserve", args.people - early);
    let after_requests = joins(early..args.people);
    let reserving =
        tokio::spawn(reserve_admitted(env.api.clone(), env.client_key.clone(), env.pool.clone(), item_of(&item)));
    let after = drive::run("join_open", &env.api, &env.client_key, after_requests, common.connections).await?;
    let reserved = reserving.await??;
    note!("sold out {:.1} s after the opening", opened_at.elapsed().as_secs_f64());
    // a few more seconds of the queue running with nothing left to sell
    tokio::time::sleep(Duration::from_secs(3)).await;

    let mut report = Report::new("queue");
    report.int("people", args.people);
    report.int("prequeue", early);
    report.int("tickets", args.tickets);
    report.int("admit_per_minute", args.admit_per_minute);
    report.int("connections", common.connections);
    report.int("schedulers", common.schedulers);
    before.report(&mut report, 201);
    after.report(&mut report, 201);
    let joined = before.sent + after.sent;
    report.float("joins_per_sec", joined as f64 / (before.wall + after.wall).as_secs_f64(), 1);
    report.int("reservations_with_pass", reserved.reserved);
    report.int("pass_fetches", reserved.fetched);
    report.int("pass_answers_5xx", reserved.server_errors);
    if let Some(answer) = &reserved.first_server_error {
        report.text("pass_first_answer_5xx", answer.replace('\n', " "));
    }
    if reserved.server_errors > 0 {
        report.fail(format!("admitted people got {} answers 5xx", reserved.server_errors));
    }
    if let Err(e) = env.check_alive() {
        report.fail(format!("{e:#}"));
    }
    let undecided = checks::wait_until_decided(&env.pool, &item, Duration::from_secs(common.timeout)).await?;
    report.int("undecided", undecided);
    if undecided > 0 {
        report.fail(format!("{undecided} reservations still pending after {} s", common.timeout));
    }
    let books = checks::books(&env.pool, &item).await?;
    report.int("oversold", books.oversold());
    books.report(&mut report);
    if books.oversold() > 0 {
        report.fail(format!("oversold by {} tickets", books.oversold()));
    }
    check_draw(env, event, &commitment, early, &mut report).await?;
    check_admission(env, &item, args, &mut report).await?;
    check_forged_passes(env, &item, &mut report).await?;
    Ok(report)
}

fn stamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn item_of(item: &Item) -> Item {
    Item {
        event_id: item.event_id.clone(),
        offer_id: item.offer_id.clone(),
        representation_id: item.representation_id.clone(),
    }
}

async fn patch_event(env: &Environment, event: &str, body: Value) -> anyhow::Result<()> {
    let url = env.api.join(&format!("/api/events/{event}"))?;
    let answer = env.http.patch(url).bearer_auth(&env.admin_key).json(&body).send().await?;
    let status = answer.status();
    if !status.is_success() {
        bail!("PATCH /api/events/{event} answered {status}: {}", answer.text().await.unwrap_or_default());
    }
    Ok(())
}

async fn get(env: &Environment, path: &str) -> anyhow::Result<Value> {
    let answer = env.http.get(env.api.join(path)?).send().await?;
    let status = answer.status();
    let body = answer.text().await?;
    if !status.is_success() {
        bail!("GET {path} answered {status}: {body}");
    }
    Ok(serde_json::from_str(&body)?)
}

/// What the admitted people did.
struct Reserved {
    fetched: i64,
    reserved: i64,
    /// Answers 5xx to the pass reads and the reservations: each fails the run.
    server_errors: i64,
    /// The first of them (status and body), to say why.
    first_server_error: Option<String>,
}

/// Until the item is sold out: every admitted entry (seen from SQL every 100 ms, as a front end
/// would hear of it by polling its entry) fetches its pass over HTTP and reserves one ticket.
async fn reserve_admitted(api: reqwest::Url, key: String, pool: sqlx::PgPool, item: Item) -> anyhow::Result<Reserved> {
    let client = reqwest::Client::builder().no_proxy().tcp_nodelay(true).timeout(Duration::from_secs(30)).build()?;
    let mut seen: HashSet<String> = HashSet::new();
    let mut done = Reserved { fetched: 0, reserved: 0, server_errors: 0, first_server_error: None };
    let started = Instant::now();
    loop {
        let available: i32 = sqlx::query_scalar(
            "select p.available from inventory i join pools p on p.id = i.pool_id
                 where i.offer_id = $1 and i.representation_id = $2",
        )
        .bind(&item.offer_id)
        .bind(&item.representation_id)
        .fetch_one(&pool)
        .await?;
        if available == 0 {
            return Ok(done);
        }
        if started.elapsed() > Duration::from_secs(600) {
            bail!("the item did not sell out in 10 minutes");
        }
        let admitted: Vec<String> = sqlx::query_scalar(
            "select id::text from queue_entries where event_id = $1 and admitted_at is not null order by place",
        )
        .bind(&item.event_id)
        .fetch_all(&pool)
        .await?;
        let fresh: Vec<String> = admitted.into_iter().filter(|id| seen.insert(id.clone())).collect();
        let tasks = fresh.into_iter().map(|entry| {
            let (client, api, key, item) = (client.clone(), api.clone(), key.clone(), item_of(&item));
            async move {
                let path = format!("/api/events/{}/queue/{entry}", item.event_id);
                let read = client.get(api.join(&path)?).bearer_auth(&key).send().await?;
                let status = read.status();
                if status.is_server_error() {
                    return anyhow::Ok((1, 0, Some(format!("GET {status}: {}", read.text().await?))));
                }
                let read: Value = read.json().await?;
                let Some(pass) = read["pass"].as_str() else { return anyhow::Ok((1, 0, None)) };
                let body = json!({"user_id": read["user_id"], "offer_id": item.offer_id,
                                  "representation_id": item.representation_id, "quantity": 1, "queue_pass": pass});
                let answer = client.post(api.join("/api/reservations")?).bearer_auth(&key).json(&body).send().await?;
                let status = answer.status();
                let server_error = match status.is_server_error() {
                    true => Some(format!("POST {status}: {}", answer.text().await?)),
                    false => None,
                };
                anyhow::Ok((1, i64::from(status.as_u16() == 202), server_error))
            }
        });
        for (fetched, reserved, server_error) in futures_join(tasks).await? {
            done.fetched += fetched;
            done.reserved += reserved;
            if let Some(answer) = server_error {
                done.server_errors += 1;
                done.first_server_error.get_or_insert(answer);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Runs the futures at once, up to 64 at a time.
async fn futures_join<F, T>(tasks: impl Iterator<Item = F>) -> anyhow::Result<Vec<T>>
where
    F: std::future::Future<Output = anyhow::Result<T>> + Send + 'static,
    T: Send + 'static,
{
    let mut out = Vec::new();
    let tasks: Vec<F> = tasks.collect();
    let mut it = tasks.into_iter().peekable();
    while it.peek().is_some() {
        let handles: Vec<_> = it.by_ref().take(64).map(tokio::spawn).collect();
        for h in handles {
            out.push(h.await??);
        }
    }
    Ok(out)
}

/// The draw from the public endpoints: the seed hashes to the commitment published before the
/// opening, the order is SHA-256(seed || id) ascending, and it holds every pre-queue joiner.
async fn check_draw(
    env: &Environment,
    event: &str,
    commitment: &str,
    early: u32,
    report: &mut Report,
) -> anyhow::Result<()> {
    let draw = get(env, &format!("/api/events/{event}/queue/draw")).await?;
    let seed_hex = draw["seed"].as_str().context("no seed in the draw")?;
    let seed: Vec<u8> = (0..seed_hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&seed_hex[i..i + 2], 16))
        .collect::<Result<_, _>>()
        .context("the seed is not hex")?;
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let commitment_ok = seed.len() == 32 && hex(&Sha256::digest(&seed)) == commitment;
    let entries: Vec<String> =
        draw["entries"].as_array().context("no entries")?.iter().filter_map(|e| e.as_str().map(String::from)).collect();
    let mut recomputed = entries.clone();
    recomputed.sort_by_cached_key(|id| {
        let mut h = Sha256::new();
        h.update(&seed);
        h.update(id.as_bytes());
        h.finalize().to_vec()
    });
    report.int("draw_entries", entries.len() as i64);
    report.text("draw_commitment_matches", commitment_ok.to_string());
    report.text("draw_order_recomputed", (recomputed == entries).to_string());
    if !commitment_ok {
        report.fail("the revealed seed does not hash to the commitment published before the opening".to_string());
    }
    if recomputed != entries {
        report.fail("the draw's order is not SHA-256(seed || id) ascending".to_string());
    }
    if entries.len() != early as usize {
        report.fail(format!("{} entries in the draw, {early} joined before the opening", entries.len()));
    }
    Ok(())
}

/// From the server's clock: the admission rate while people waited and stock lasted, places
/// admitted once each, and the last admission against the sell-out.
async fn check_admission(env: &Environment, item: &Item, args: &QueueArgs, report: &mut Report) -> anyhow::Result<()> {
    let row = sqlx::query(
        "select count(*) as admitted, count(distinct user_id) as users, coalesce(max(place), 0) as last_place,
                min(admitted_at) as first_at, max(admitted_at) as last_at,
                count(*) filter (where admitted_at = (select min(admitted_at) from queue_entries
                                                      where event_id = $1)) as first_batch,
                (select admitted_through from event_queues where event_id = $1) as admitted_through
         from queue_entries where event_id = $1 and admitted_at is not null",
    )
    .bind(&item.event_id)
    .fetch_one(&env.pool)
    .await?;
    let admitted: i64 = row.get("admitted");
    let users: i64 = row.get("users");
    let last_place: i64 = row.get("last_place");
    let through: i64 = row.get("admitted_through");
    let first_batch: i64 = row.get("first_batch");
    let (first_at, last_at): (Option<DateTime<Utc>>, Option<DateTime<Utc>>) = (row.get("first_at"), row.get("last_at"));
    report.int("admitted", admitted);
    if admitted != users || admitted != last_place || admitted != through {
        report.fail(format!(
            "admission is not once per place: {admitted} admitted, {users} users, places up to {last_place}, cursor {through}"
        ));
    }
    let sold_out_at: Option<DateTime<Utc>> = sqlx::query_scalar(
        "select max(decided_at) from reservations
         where offer_id = $1 and representation_id = $2 and status in ('held', 'confirmed', 'fulfilled')",
    )
    .bind(&item.offer_id)
    .bind(&item.representation_id)
    .fetch_one(&env.pool)
    .await?;
    let (Some(first_at), Some(last_at), Some(sold_out_at)) = (first_at, last_at, sold_out_at) else {
        report.fail("nobody was admitted, or nothing was sold".to_string());
        return Ok(());
    };
    // the first sweep's batch is paid for by the time before it: the rate is what came after
    let span = (last_at - first_at).num_milliseconds() as f64 / 1000.0;
    let rate = if span > 0.0 { (admitted - first_batch) as f64 * 60.0 / span } else { 0.0 };
    let off = (rate / f64::from(args.admit_per_minute) - 1.0) * 100.0;
    report.float("admission_seconds", span, 2);
    report.float("admitted_per_minute", rate, 1);
    report.float("admission_rate_off_percent", off, 2);
    if off.abs() > 5.0 {
        report.fail(format!("admission ran at {rate:.1}/min, {off:+.2}% off the {} set", args.admit_per_minute));
    }
    let after_sell_out = (last_at - sold_out_at).num_milliseconds() as f64 / 1000.0;
    report.float("last_admission_after_sell_out_seconds", after_sell_out, 3);
    if after_sell_out > 1.0 {
        report.fail(format!("people were still admitted {after_sell_out:.3} s after the sell-out"));
    }
    Ok(())
}

/// Reservations without a pass, or with a forged one, are all refused (403).
async fn check_forged_passes(env: &Environment, item: &Item, report: &mut Report) -> anyhow::Result<()> {
    let forged = ["", "not-a-pass", "eyJlbnRyeV9pZCI6IngifQ.AAAA"];
    let requests: Vec<Request> = (0..1000u32)
        .map(|i| {
            let pass = forged[i as usize % forged.len()];
            let mut body = json!({"user_id": catalog::user_id(i), "offer_id": item.offer_id,
                                  "representation_id": item.representation_id, "quantity": 1});
            if !pass.is_empty() {
                body["queue_pass"] = json!(pass);
            }
            Request {
                method: Method::POST,
                path: "/api/reservations".into(),
                body: Some(body.to_string().into_bytes()),
            }
        })
        .collect();
    let phase = drive::run("forged_pass", &env.api, &env.client_key, requests, 50).await?;
    let refused = phase.statuses.get(&403).copied().unwrap_or(0);
    report.int("forged_pass_refused", refused as i64);
    if refused != phase.sent {
        report.fail(format!(
            "{} of {} reservations without a valid pass were not refused",
            phase.sent - refused,
            phase.sent
        ));
    }
    Ok(())
}
