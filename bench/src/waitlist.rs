//! Waiting-list promotion: an item sold out to `--holds` buyers who never pay (one-minute holds),
//! `--waiting` people on its list, and offers of one minute. When the holds lapse, the first in
//! line get offers; when those lapse, the next ones do. Measures, for every offer, how long after
//! the hold that freed its stock was due it was made (`offered_at` minus the latest
//! `hold_expires_at` of the item's expired holds before it), and checks nobody got two offers and
//! no ticket was offered twice.

use std::time::{Duration, Instant};

use anyhow::bail;
use serde_json::json;
use sqlx::Row;

use crate::catalog::{self, Item};
use crate::checks;
use crate::cli::WaitlistArgs;
use crate::load::{self, Plan};
use crate::report::Report;
use crate::setup::Environment;

const POLL: Duration = Duration::from_millis(500);

pub async fn run(env: &mut Environment, args: &WaitlistArgs) -> anyhow::Result<Report> {
    let common = &args.common;
    let item = catalog::create_item(env, "Bench waitlist", i32::try_from(args.holds)?).await?;
    let url = env.api.join(&format!("/api/events/{}", item.event_id))?;
    let answer =
        env.http.patch(url).bearer_auth(&env.admin_key).json(&json!({"waitlist_offer_minutes": 1})).send().await?;
    if !answer.status().is_success() {
        bail!("setting the offer time answered {}", answer.status());
    }
    catalog::insert_users(&env.pool, args.holds + args.waiting).await?;
    let plan = Plan {
        item: &item,
        requests: args.holds,
        connections: common.connections,
        quantity: 1,
        hold_minutes: Some(1),
        wait: None,
    };
    let load = load::run(env, &plan).await?;
    checks::wait_until_decided(&env.pool, &item, Duration::from_secs(common.timeout)).await?;
    note!("sold out; {} people join the waiting list", args.waiting);
    join_all(env, &item, args).await?;

    // two waves: the holds lapse (about a minute), then the first offers (another minute)
    let expected = i64::from(args.waiting.min(2 * args.holds));
    let limit = Duration::from_secs(120 + args.offers_timeout);
    let offered = wait_for_offers(env, &item, expected, limit).await?;

    let mut report = Report::new("waitlist");
    report.int("holds", args.holds);
    report.int("waiting", args.waiting);
    load.report(&mut report);
    if let Err(e) = env.check_alive() {
        report.fail(format!("{e:#}"));
    }
    report.int("offers_made", offered);
    let lag = lag(env, &item).await?;
    report.int("offers_measured", lag.count);
    report.float("offer_lag_p50_ms", lag.p50_ms, 1);
    report.float("offer_lag_p99_ms", lag.p99_ms, 1);
    report.float("offer_lag_max_ms", lag.max_ms, 1);
    report.int("entries_offered_twice", lag.entries_twice);
    report.int("holds_shared_by_offers", lag.holds_shared);
    let books = checks::books(&env.pool, &item).await?;
    books.report(&mut report);
    if offered < expected {
        report.fail(format!("only {offered} of {expected} offers made in time"));
    }
    if lag.entries_twice > 0 || lag.holds_shared > 0 {
        report.fail("an entry or a hold was offered twice");
    }
    Ok(report)
}

/// Everyone joins through the API, in order, so the line's order is known.
async fn join_all(env: &Environment, item: &Item, args: &WaitlistArgs) -> anyhow::Result<()> {
    for i in args.holds..args.holds + args.waiting {
        let path = format!(
            "/api/offers/{}/representations/{}/waitlist?user_id={}",
            item.offer_id,
            item.representation_id,
            catalog::user_id(i)
        );
        let answer = env.http.post(env.api.join(&path)?).bearer_auth(&env.client_key).send().await?;
        if !answer.status().is_success() {
            bail!("joining the waiting list answered {}: {}", answer.status(), answer.text().await.unwrap_or_default());
        }
    }
    Ok(())
}

async fn wait_for_offers(env: &Environment, item: &Item, expected: i64, limit: Duration) -> anyhow::Result<i64> {
    let started = Instant::now();
    let mut last_note = Instant::now();
    let mut offered = 0;
    for _ in 0..(limit.as_millis() / POLL.as_millis() + 1) {
        offered = sqlx::query_scalar(
            "select count(*) from waitlist_entries where offer_id = $1 and representation_id = $2 and offered_at is not null",
        )
        .bind(&item.offer_id)
        .bind(&item.representation_id)
        .fetch_one(&env.pool)
        .await?;
        if offered >= expected || started.elapsed() >= limit {
            break;
        }
        if last_note.elapsed() >= Duration::from_secs(15) {
            note!("{offered} of {expected} offers made after {:.0} s", started.elapsed().as_secs_f64());
            last_note = Instant::now();
        }
        tokio::time::sleep(POLL).await;
    }
    Ok(offered)
}

struct Lag {
    count: i64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    entries_twice: i64,
    holds_shared: i64,
}

async fn lag(env: &Environment, item: &Item) -> anyhow::Result<Lag> {
    let row = sqlx::query(
        "with offers as (
             select e.offered_at,
                    (select max(r.hold_expires_at) from reservations r
                     where r.offer_id = $1 and r.representation_id = $2 and r.status = 'expired'
                       and r.hold_expires_at <= e.offered_at) as freed_due
             from waitlist_entries e
             where e.offer_id = $1 and e.representation_id = $2 and e.offered_at is not null
         ), lags as (
             select extract(epoch from offered_at - freed_due)::float8 * 1000 as ms from offers where freed_due is not null
         )
         select (select count(*) from lags),
                coalesce((select percentile_cont(0.5) within group (order by ms) from lags), 0),
                coalesce((select percentile_cont(0.99) within group (order by ms) from lags), 0),
                coalesce((select max(ms) from lags), 0),
                (select count(*) from (select user_id from reservations where from_waitlist and offer_id = $1
                    and representation_id = $2 group by user_id having count(*) > 1) t),
                (select count(*) - count(distinct reservation_id) from waitlist_entries
                    where offer_id = $1 and representation_id = $2 and reservation_id is not null)",
    )
    .bind(&item.offer_id)
    .bind(&item.representation_id)
    .fetch_one(&env.pool)
    .await?;
    Ok(Lag {
        count: row.try_get(0)?,
        p50_ms: row.try_get(1)?,
        p99_ms: row.try_get(2)?,
        max_ms: row.try_get(3)?,
        entries_twice: row.try_get(4)?,
        holds_shared: row.try_get(5)?,
    })
}
