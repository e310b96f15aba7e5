//! Hold expiry: `--holds` one-minute holds on an item with stock for all of them, left unpaid.
//! Measures how late each hold ended after it was due (`ended_at - hold_expires_at`, both on the
//! server's clock) and checks that all the stock came back.

use std::time::{Duration, Instant};

use sqlx::Row;

use crate::catalog::{self, Item};
use crate::checks;
use crate::cli::ExpiryArgs;
use crate::load::{self, Plan};
use crate::report::Report;
use crate::setup::Environment;

/// Polling interval while waiting for expiries: the lag is measured from SQL timestamps, so
/// polling more often would not make it more precise.
const POLL: Duration = Duration::from_millis(500);

pub async fn run(env: &mut Environment, args: &ExpiryArgs) -> anyhow::Result<Report> {
    let common = &args.common;
    let stock = i32::try_from(args.holds)?.checked_mul(common.quantity).unwrap_or(i32::MAX);
    let item = catalog::create_item(env, "Bench expiry", stock).await?;
    catalog::insert_users(&env.pool, args.holds).await?;
    let plan = Plan {
        item: &item,
        requests: args.holds,
        connections: common.connections,
        quantity: common.quantity,
        hold_minutes: Some(1),
        wait: None,
    };
    let load = load::run(env, &plan).await?;
    let undecided = checks::wait_until_decided(&env.pool, &item, Duration::from_secs(common.timeout)).await?;
    let decided = checks::books(&env.pool, &item).await?;

    let due_in = seconds_until_last_due(env, &item).await?;
    let limit = Duration::from_secs_f64(due_in.max(0.0)) + Duration::from_secs(args.expiry_timeout);
    note!("waiting for the holds to expire (last one due in {due_in:.0} s, at most {} s)", limit.as_secs());
    wait_until_ended(env, &item, limit).await?;

    let mut report = Report::new("expiry");
    report.int("holds", args.holds);
    report.int("quantity", common.quantity);
    match &common.target {
        Some(target) => report.text("system", target.clone()),
        None => {
            report.int("workers", common.workers);
            report.int("schedulers", common.schedulers);
        }
    }
    load.report(&mut report);
    if let Err(e) = env.check_alive() {
        report.fail(format!("{e:#}"));
    }
    report.int("undecided", undecided);
    report.int("held_after_decision", decided.count("held"));
    report.int("rejected", decided.count("rejected"));
    let lag = lag(env, &item).await?;
    report.int("expired", lag.expired);
    report.int("never_expired", lag.never);
    report.int("expired_early", lag.early);
    report.float("expiry_lag_p50_ms", lag.p50_ms, 1);
    report.float("expiry_lag_p99_ms", lag.p99_ms, 1);
    report.float("expiry_lag_max_ms", lag.max_ms, 1);
    let books = checks::books(&env.pool, &item).await?;
    books.report(&mut report);

    if load.accepted() == 0 {
        report.fail("no request was accepted: nothing was measured");
    }
    if undecided > 0 {
        report.fail(format!("{undecided} reservations still pending after {} s", common.timeout));
    }
    if decided.count("rejected") > 0 {
        report.fail(format!("{} reservations rejected although the stock was enough", decided.count("rejected")));
    }
    if lag.never > 0 {
        report.fail(format!("{} holds not expired {} s after they were due", lag.never, args.expiry_timeout));
    }
    if lag.early > 0 {
        report.fail(format!("{} holds ended before they were due", lag.early));
    }
    if books.available != books.total_stock {
        report.fail(format!("only {} of {} tickets available again", books.available, books.total_stock));
    }
    Ok(report)
}

async fn seconds_until_last_due(env: &Environment, item: &Item) -> anyhow::Result<f64> {
    let secs: Option<f64> = sqlx::query_scalar(
        "select extract(epoch from max(hold_expires_at) - now())::float8 from reservations \
         where offer_id = $1 and representation_id = $2",
    )
    .bind(&item.offer_id)
    .bind(&item.representation_id)
    .fetch_one(&env.pool)
    .await?;
    Ok(secs.unwrap_or(0.0))
}

/// Polls until no granted hold is still open (`ended_at` unset), or `limit`.
async fn wait_until_ended(env: &Environment, item: &Item, limit: Duration) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut last_progress = Instant::now();
    let polls = limit.as_millis() / POLL.as_millis() + 1;
    for _ in 0..polls {
        let open: i64 = sqlx::query_scalar(
            "select count(*) from reservations where offer_id = $1 and representation_id = $2 \
             and status not in ('pending', 'rejected') and ended_at is null",
        )
        .bind(&item.offer_id)
        .bind(&item.representation_id)
        .fetch_one(&env.pool)
        .await?;
        if open == 0 || started.elapsed() >= limit {
            return Ok(());
        }
        if last_progress.elapsed() >= Duration::from_secs(10) {
            note!("{open} holds still open after {:.0} s", started.elapsed().as_secs_f64());
            last_progress = Instant::now();
        }
        tokio::time::sleep(POLL).await;
    }
    Ok(())
}

struct Lag {
    /// Holds that ended as `expired`.
    expired: i64,
    /// Granted holds that never did.
    never: i64,
    /// Holds that ended before they were due: the buyer lost time they were promised.
    early: i64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

async fn lag(env: &Environment, item: &Item) -> anyhow::Result<Lag> {
    let row = sqlx::query(
        "select count(*) filter (where expired), count(*) filter (where not expired), \
            count(*) filter (where expired and lag < 0), \
            coalesce(percentile_cont(0.5) within group (order by lag) filter (where expired), 0), \
            coalesce(percentile_cont(0.99) within group (order by lag) filter (where expired), 0), \
            coalesce(max(lag) filter (where expired), 0) \
         from (select status = 'expired' and ended_at is not null as expired, \
                      extract(epoch from ended_at - hold_expires_at)::float8 * 1000 as lag \
               from reservations where offer_id = $1 and representation_id = $2 \
               and status not in ('pending', 'rejected')) h",
    )
    .bind(&item.offer_id)
    .bind(&item.representation_id)
    .fetch_one(&env.pool)
    .await?;
    Ok(Lag {
        expired: row.try_get(0)?,
        never: row.try_get(1)?,
        early: row.try_get(2)?,
        p50_ms: row.try_get(3)?,
        p99_ms: row.try_get(4)?,
        max_ms: row.try_get(5)?,
    })
}
