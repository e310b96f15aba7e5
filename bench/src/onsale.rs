//! The on-sale: `--buyers` buyers rush one item of `--tickets` tickets. Measures how fast
//! requests are accepted and decided, and checks that nothing was oversold and that the
//! decisions followed arrival order.

use std::time::Duration;

use crate::catalog;
use crate::checks;
use crate::cli::OnsaleArgs;
use crate::load::{self, Plan};
use crate::report::Report;
use crate::setup::Environment;

pub async fn run(env: &mut Environment, args: &OnsaleArgs) -> anyhow::Result<Report> {
    let common = &args.common;
    let item = catalog::create_item(env, "Bench on-sale", args.tickets).await?;
    catalog::insert_users(&env.pool, args.buyers).await?;
    let plan = Plan {
        item: &item,
        requests: args.buyers,
        connections: common.connections,
        quantity: common.quantity,
        hold_minutes: None,
    };
    let load = load::run(env, &plan).await?;
    note!("waiting for every reservation to be decided (at most {} s)", common.timeout);
    let undecided = checks::wait_until_decided(&env.pool, &item, Duration::from_secs(common.timeout)).await?;

    note!("reading the figures");
    let mut report = Report::new("onsale");
    report.int("buyers", args.buyers);
    report.int("tickets", args.tickets);
    report.int("quantity", common.quantity);
    report.int("connections", common.connections);
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

    let books = checks::books(&env.pool, &item).await?;
    let decisions = checks::decisions(&env.pool, &item).await?;
    let fifo = checks::fifo_violations(&env.pool, &item).await?;
    report.int("held", books.count("held"));
    report.int("rejected", books.count("rejected"));
    report.int("undecided", undecided);
    report.int("decided", decisions.decided);
    report.int("tickets_granted", books.tickets(&["held", "confirmed", "fulfilled"]));
    report.int("oversold", books.oversold());
    report.int("fifo_violations", fifo);
    books.report(&mut report);
    report.float("decided_per_sec", decisions.per_sec(), 1);
    report.float("decision_span_seconds", decisions.span_secs, 2);
    report.float("decision_latency_p50_ms", decisions.p50_ms, 1);
    report.float("decision_latency_p99_ms", decisions.p99_ms, 1);
    report.float("decision_latency_max_ms", decisions.max_ms, 1);

    if load.accepted() == 0 {
        report.fail("no request was accepted: nothing was measured");
    }
    if books.oversold() > 0 {
        report.fail(format!("oversold by {} tickets", books.oversold()));
    }
    if undecided > 0 {
        report.fail(format!("{undecided} reservations still pending after {} s", common.timeout));
    }
    if fifo > 0 {
        report.fail(format!("{fifo} reservations granted after an earlier one that fitted was rejected"));
    }
    // a 202 promises the reservation is stored
    let stored: i64 = books.by_status.values().map(|c| c.0).sum();
    if stored < i64::try_from(load.accepted())? {
        report.fail(format!("{} requests answered 202 but only {stored} reservations exist", load.accepted()));
    }
    Ok(report)
}
