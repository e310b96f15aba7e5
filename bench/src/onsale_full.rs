//! The whole on-sale on one hot item: `--buyers` reserve `--tickets` one-minute holds; the
//! refused join the waiting list at once; most holders pay while the others let their holds lapse,
//! so offers cascade down the list (one-minute offers, which the people offered then take); the
//! fulfillment worker issues the tickets. Each step's rate and latency is measured; position
//! lookups are timed on this list and on lists of 100 and 100,000 people. Afterwards the database
//! is checked: nothing oversold, FIFO, ranks exactly 1..n, every freed ticket offered to the first
//! person waiting in the transaction that freed it, one ticket per unit.

use std::time::{Duration, Instant};

use anyhow::Context;
use reqwest::Method;
use serde_json::json;
use sqlx::PgPool;

use crate::catalog::{self, Item};
use crate::checks;
use crate::cli::OnsaleFullArgs;
use crate::drive::{self, Request};
use crate::load::{self, Plan};
use crate::report::Report;
use crate::setup::Environment;

pub async fn run(env: &mut Environment, args: &OnsaleFullArgs) -> anyhow::Result<Report> {
    let common = &args.common;
    let mut report = Report::new("onsale-full");
    report.int("buyers", args.buyers);
    report.int("tickets", args.tickets);
    report.int("connections", common.connections);
    report.int("workers", common.workers);

    let item = catalog::create_item(env, "Bench full on-sale", args.tickets).await?;
    // offers from the list hold one minute, as the holds do
    patch_event(env, &item, json!({"waitlist_offer_minutes": 1})).await?;
    let line_sizes = [100u32, 100_000];
    catalog::insert_users(&env.pool, args.buyers + line_sizes.iter().sum::<u32>()).await?;

    // 1. the on-sale
    let plan = Plan {
        item: &item,
        requests: args.buyers,
        connections: common.connections,
        quantity: 1,
        hold_minutes: Some(1),
        wait: None,
    };
    let reserved = load::run(env, &plan).await?;
    let undecided = checks::wait_until_decided(&env.pool, &item, Duration::from_secs(common.timeout)).await?;
    reserved.report(&mut report);
    let decisions = checks::decisions(&env.pool, &item).await?;
    report.float("decided_per_sec", decisions.per_sec(), 1);
    report.float("decision_latency_p50_ms", decisions.p50_ms, 1);
    report.float("decision_latency_p99_ms", decisions.p99_ms, 1);
    if undecided > 0 {
        report.fail(format!("{undecided} reservations still pending"));
    }

    // 2. the refused join the waiting list, all at once
    let refused = item_texts(
        &env.pool,
        &item,
        "select user_id from reservations where offer_id = $1 and representation_id = $2 and status = 'rejected'
         order by seq",
    )
    .await?;
    let list = format!("/api/offers/{}/representations/{}/waitlist", item.offer_id, item.representation_id);
    let joins = refused
        .iter()
        .map(|u| Request { method: Method::POST, path: format!("{list}?user_id={u}&quantity=1"), body: None })
        .collect();
    let joined = drive::run("waitlist_joins", &env.api, &env.client_key, joins, common.connections).await?;
    joined.report(&mut report, 200);

    // 3. most holders pay; the others let their one-minute holds lapse
    let held = item_texts(
        &env.pool,
        &item,
        "select id::text from reservations where offer_id = $1 and representation_id = $2 and status = 'held'
         order by seq",
    )
    .await?;
    let paying = held.len() * usize::from(args.confirm_percent) / 100;
    let confirms = held[..paying]
        .iter()
        .map(|id| Request {
            method: Method::POST,
            path: format!("/api/reservations/{id}/confirm"),
            body: Some(b"{}".to_vec()),
        })
        .collect();
    let confirmed = drive::run("confirms", &env.api, &env.client_key, confirms, common.connections).await?;
    confirmed.report(&mut report, 200);
    let lapsing = (held.len() - paying) as i64;
    report.int("holds_lapsing", lapsing);

    // 4. position lookups: on this list, and on lists of 100 and 100,000 people
    let waiting = item_texts(
        &env.pool,
        &item,
        "select user_id from waitlist_entries where offer_id = $1 and representation_id = $2 and status = 'waiting'
         order by line_no",
    )
    .await?;
    let lookups = spread(&waiting, args.lookups).into_iter().map(|u| get(format!("{list}/{u}"))).collect();
    let looked = drive::run("lookups", &env.api, &env.client_key, lookups, common.connections).await?;
    looked.report(&mut report, 200);
    let mut first_user = args.buyers;
    let mut by_size = Vec::new();
    for size in line_sizes {
        let other = catalog::create_item(env, &format!("Bench line of {size}"), 1).await?;
        let people = line_of(&env.pool, &other, first_user, size).await?;
        first_user += size;
        let path = format!("/api/offers/{}/representations/{}/waitlist", other.offer_id, other.representation_id);
        let lookups = spread(&people, args.lookups).into_iter().map(|u| get(format!("{path}/{u}"))).collect();
        let name = if size == 100 { "lookups_line_100" } else { "lookups_line_100000" };
        let phase = drive::run(name, &env.api, &env.client_key, lookups, common.connections).await?;
        phase.report(&mut report, 200);
        by_size.push(phase.per_sec());
    }
    report.float("lookups_100000_over_100", by_size[1] / by_size[0], 3);

    // 5. the lapses free tickets, which go down the list as offers
    note!("waiting for the {lapsing} unpaid holds to lapse and their tickets to be offered");
    let offered = lapsing.min(waiting.len() as i64);
    for (what, sql, target, limit) in
        [("expired holds", expired_sql(), lapsing, 150), ("offers", offers_sql(), offered, 30)]
    {
        if let Err(e) = wait_for(&env.pool, &item, what, sql, target, Duration::from_secs(limit)).await {
            report.fail(format!("{e:#}"));
        }
    }
    let (expiry_p50, expiry_p99) = lag(&env.pool, &item, EXPIRY_LAG).await?;
    let (promotion_p50, promotion_p99) = lag(&env.pool, &item, PROMOTION_LAG).await?;
    report.float("hold_expiry_lag_p50_ms", expiry_p50, 1);
    report.float("hold_expiry_lag_p99_ms", expiry_p99, 1);
    report.float("promotion_lag_p50_ms", promotion_p50, 1);
    report.float("promotion_lag_p99_ms", promotion_p99, 1);
    let not_in_freeing_tx = count(&env.pool, &item, OFFERS_OUTSIDE_FREEING_TX).await?;
    let out_of_line_order = count(&env.pool, &item, OFFERS_OUT_OF_LINE_ORDER).await?;
    report.int("offers_not_made_by_the_freeing_transaction", not_in_freeing_tx);
    report.int("offers_out_of_line_order", out_of_line_order);

    // 6. those offered pay; the fulfillment worker issues every ticket
    let offers = item_texts(
        &env.pool,
        &item,
        "select id::text from reservations where offer_id = $1 and representation_id = $2 and from_waitlist and status = 'held'",
    )
    .await?;
    let offer_confirms = offers
        .iter()
        .map(|id| Request {
            method: Method::POST,
            path: format!("/api/reservations/{id}/confirm"),
            body: Some(b"{}".to_vec()),
        })
        .collect();
    let offers_taken =
        drive::run("offer_confirms", &env.api, &env.client_key, offer_confirms, common.connections).await?;
    offers_taken.report(&mut report, 200);
    note!("waiting for the fulfillment worker to issue every ticket");
    let limit = Duration::from_secs(120);
    if let Err(e) = wait_for(&env.pool, &item, "reservations still without tickets", confirmed_sql(), 0, limit).await {
        report.fail(format!("{e:#}"));
    }

    // 7. the verdict
    let books = checks::books(&env.pool, &item).await?;
    books.report(&mut report);
    let fifo = checks::fifo_violations(&env.pool, &item).await?;
    let rank_errors = count(&env.pool, &item, RANKS_NOT_1_TO_N).await?;
    let ticket_errors = count(&env.pool, &item, WRONG_TICKET_COUNTS).await?;
    let tickets =
        count(&env.pool, &item, "select count(*) from tickets where offer_id = $1 and representation_id = $2").await?;
    report.int("oversold", books.oversold());
    report.int("fifo_violations", fifo);
    report.int("rank_errors", rank_errors);
    report.int("reservations_with_wrong_ticket_count", ticket_errors);
    report.int("tickets_issued", tickets);
    report.int("sold", books.sold);
    for (failed, what) in [
        (books.oversold() > 0, "oversold"),
        (fifo > 0, "FIFO violated"),
        (rank_errors > 0, "ranks are not exactly 1..n"),
        (ticket_errors > 0 || tickets != books.sold, "not exactly one ticket per unit sold"),
        (not_in_freeing_tx > 0, "a freed ticket was offered outside the transaction that freed it"),
        (out_of_line_order > 0, "an offer skipped someone earlier in the line"),
    ] {
        if failed {
            report.fail(what);
        }
    }
    if let Err(e) = env.check_alive() {
        report.fail(format!("{e:#}"));
    }
    Ok(report)
}

fn get(path: String) -> Request {
    Request { method: Method::GET, path, body: None }
}

/// `n` items taken evenly (and repeatedly) across `all`.
fn spread(all: &[String], n: u32) -> Vec<String> {
    if all.is_empty() {
        return vec![];
    }
    (0..n as usize).map(|i| all[(i * 7919) % all.len()].clone()).collect()
}

async fn patch_event(env: &Environment, item: &Item, body: serde_json::Value) -> anyhow::Result<()> {
    let url = env.api.join(&format!("/api/events/{}", item.event_id))?;
    let answer = env.http.patch(url).bearer_auth(&env.admin_key).json(&body).send().await?;
    anyhow::ensure!(answer.status().is_success(), "PATCH event answered {}", answer.status());
    Ok(())
}

/// A line of `size` people (buyers from `first`), a tenth of whom have left, written as the
/// writer would: line numbers, the item's counters, the departures tree. Returns those waiting.
async fn line_of(pool: &PgPool, item: &Item, first: u32, size: u32) -> anyhow::Result<Vec<String>> {
    note!("a waiting list of {size} people");
    let mut tx = pool.begin().await?;
    sqlx::query(
        "insert into waitlist_entries (id, user_id, offer_id, representation_id, requested_quantity, line_no, status)
         select gen_random_uuid(), 'u' || ($3 + g), $1, $2, 1, g, case when g % 10 = 0 then 'left' else 'waiting' end
         from generate_series(1, $4) g",
    )
    .bind(&item.offer_id)
    .bind(&item.representation_id)
    .bind(i32::try_from(first)?)
    .bind(i32::try_from(size)?)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "update inventory set line_joined = $3, line_length = $3 where offer_id = $1 and representation_id = $2",
    )
    .bind(&item.offer_id)
    .bind(&item.representation_id)
    .bind(i32::try_from(size)?)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "select waitlist_depart($1, $2, array(select line_no from waitlist_entries
                                              where offer_id = $1 and representation_id = $2 and status = 'left'))",
    )
    .bind(&item.offer_id)
    .bind(&item.representation_id)
    .execute(&mut *tx)
    .await?;
    let waiting = sqlx::query_scalar(
        "select user_id from waitlist_entries where offer_id = $1 and representation_id = $2 and status = 'waiting'
         order by line_no",
    )
    .bind(&item.offer_id)
    .bind(&item.representation_id)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(waiting)
}

fn expired_sql() -> &'static str {
    "select count(*) from reservations where offer_id = $1 and representation_id = $2 and status = 'expired'
       and not from_waitlist"
}

fn offers_sql() -> &'static str {
    "select count(*) from reservations where offer_id = $1 and representation_id = $2 and from_waitlist"
}

fn confirmed_sql() -> &'static str {
    "select count(*) from reservations where offer_id = $1 and representation_id = $2 and status = 'confirmed'"
}

async fn count(pool: &PgPool, item: &Item, sql: &'static str) -> anyhow::Result<i64> {
    sqlx::query_scalar(sql)
        .bind(&item.offer_id)
        .bind(&item.representation_id)
        .fetch_one(pool)
        .await
        .with_context(|| format!("running {sql}"))
}

/// Polls `sql` until it reads `target`.
async fn wait_for(
    pool: &PgPool,
    item: &Item,
    what: &str,
    sql: &'static str,
    target: i64,
    limit: Duration,
) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        let now = count(pool, item, sql).await?;
        if now == target {
            return Ok(());
        }
        anyhow::ensure!(started.elapsed() < limit, "{what}: {now}, not {target}, after {limit:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// From a hold's end to its stock being back.
const EXPIRY_LAG: &str = "select extract(epoch from ended_at - hold_expires_at)::float8 * 1000 from reservations
     where offer_id = $1 and representation_id = $2 and status = 'expired' and not from_waitlist";

/// From a hold's end to the offer its ticket became. A transaction that ends lapsed holds offers
/// their tickets in the same transaction (the same `xmin`; the offers are read before anyone takes
/// them): its k-th freed ticket, by due time, is its k-th offer, by line order (one ticket each).
const PROMOTION_LAG: &str = "with freed as (
         select xmin::text as tx, hold_expires_at as due,
                row_number() over (partition by xmin::text order by hold_expires_at, seq) as k
         from reservations
         where offer_id = $1 and representation_id = $2 and status = 'expired' and not from_waitlist
     ), offered as (
         select o.xmin::text as tx, o.decided_at,
                row_number() over (partition by o.xmin::text order by w.line_no) as k
         from reservations o join waitlist_entries w on w.reservation_id = o.id
         where o.offer_id = $1 and o.representation_id = $2 and o.from_waitlist
     )
     select extract(epoch from offered.decided_at - freed.due)::float8 * 1000
     from offered left join freed on freed.tx = offered.tx and freed.k = offered.k";

async fn lag(pool: &PgPool, item: &Item, sql: &'static str) -> anyhow::Result<(f64, f64)> {
    let mut lags: Vec<f64> = sqlx::query_scalar::<_, Option<f64>>(sql)
        .bind(&item.offer_id)
        .bind(&item.representation_id)
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(|l| l.unwrap_or(f64::INFINITY))
        .collect();
    lags.sort_by(f64::total_cmp);
    let at = |q: f64| lags.get(((lags.len() as f64 * q).ceil() as usize).saturating_sub(1)).copied().unwrap_or(0.0);
    Ok((at(0.5), at(0.99)))
}

/// Offers whose hold was not inserted by a transaction that ended a lapsed hold of the item.
const OFFERS_OUTSIDE_FREEING_TX: &str = "with freeing as materialized (
         select distinct xmin::text as tx from reservations
         where offer_id = $1 and representation_id = $2 and status = 'expired' and not from_waitlist
     )
     select count(*) from reservations o
     where o.offer_id = $1 and o.representation_id = $2 and o.from_waitlist
       and o.xmin::text not in (select tx from freeing)";

/// Everyone wants one ticket, so everyone fits: nobody still waiting may be ahead of someone offered.
const OFFERS_OUT_OF_LINE_ORDER: &str = "with last_offered as materialized (
         select coalesce(max(line_no), 0) as line_no from waitlist_entries
         where offer_id = $1 and representation_id = $2 and offered_at is not null
     )
     select count(*) from waitlist_entries w, last_offered
     where w.offer_id = $1 and w.representation_id = $2 and w.status = 'waiting' and w.line_no < last_offered.line_no";

/// Active entries whose rank (from the departures tree) is not their place in the line.
const RANKS_NOT_1_TO_N: &str = "select count(*) from (
         select line_no - waitlist_departed_before(offer_id, representation_id, line_no) as rank,
                row_number() over (order by line_no) as place
         from waitlist_entries where offer_id = $1 and representation_id = $2 and status in ('waiting', 'offered')) r
     where rank <> place";

/// Paid reservations without exactly one ticket per unit.
const WRONG_TICKET_COUNTS: &str = "select count(*) from reservations r
     where r.offer_id = $1 and r.representation_id = $2 and r.status in ('confirmed', 'fulfilled')
       and (select count(*) from tickets t where t.reservation_id = r.id) <> r.quantity";

/// One text column of the bench item's rows, in the order `sql` gives (`$1` offer, `$2` representation).
async fn item_texts(pool: &PgPool, item: &Item, sql: &'static str) -> anyhow::Result<Vec<String>> {
    Ok(sqlx::query_scalar(sql).bind(&item.offer_id).bind(&item.representation_id).fetch_all(pool).await?)
}
