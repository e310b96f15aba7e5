//! An on-sale through the loss of the database's machine: a three-node PostgreSQL cluster kept by
//! Patroni (strict synchronous replication) behind HAProxy (`deploy/ha`), the primary's Patroni
//! and postmaster killed -9 mid-sale. Buyers retry what is refused, with the same
//! `Idempotency-Key`, as a real client does after a 503. Afterwards: no answer was a 500, every
//! accepted reservation exists, each buyer has one reservation, nothing is pending, the books
//! balance, nothing is oversold, every paid reservation has exactly its tickets; the lost node
//! rejoins (pg_rewind) and every accepted reservation is on at least two nodes.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use poem::http::{Method, StatusCode};
use serde_json::json;
use tokio::sync::Mutex;

mod ha;
mod outage;
mod server_binaries;

use ha::Cluster;
use outage::{scalar, spawn, wait_until};

const TICKETS: i64 = 1500;
const BUYERS: usize = 3000;
const CONNECTIONS: usize = 40;
const CONFIRMS: i64 = 300;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_on_sale_through_the_loss_of_the_primary_answers_no_500_and_loses_nothing() {
    let _ = tracing_subscriber::fmt().with_env_filter("error").with_test_writer().try_init();
    let Some(cluster) = Cluster::up("failover", 3) else { return };
    let url = cluster.primary_url();
    let pool = boxoffice::db::connect(&url, 20).await.unwrap();
    let outage::OnSale { api, offer, rep, buyers } = outage::on_sale(&pool, "Failover", TICKETS, BUYERS).await;

    let workers: Vec<outage::Process> = (0..2).map(|_| spawn(env!("CARGO_BIN_EXE_reservation-worker"), &url)).collect();
    let fulfillment = spawn(env!("CARGO_BIN_EXE_fulfillment-worker"), &url);
    let scheduler = spawn(env!("CARGO_BIN_EXE_scheduler"), &url);

    // the on-sale; the primary's machine is lost a third of the way in
    let sent = Arc::new(AtomicUsize::new(0));
    let accepted = Arc::new(Mutex::new(Vec::<(Instant, String)>::new()));
    let statuses = Arc::new(Mutex::new(BTreeMap::<u16, usize>::new()));
    let killer = {
        let (sent, script) = (sent.clone(), cluster.script("kill-primary"));
        tokio::spawn(async move {
            let mut script = script;
            while sent.load(Ordering::Relaxed) < BUYERS / 3 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let killing = Instant::now();
            let out = script.output().expect("bash runs");
            assert!(out.status.success(), "kill-primary: {}", String::from_utf8_lossy(&out.stderr));
            (String::from_utf8_lossy(&out.stdout).trim().to_string(), killing)
        })
    };
    futures::stream::iter(buyers.iter().enumerate())
        .for_each_concurrent(CONNECTIONS, |(i, buyer)| {
            let (api, sent, accepted, statuses) = (api.clone(), sent.clone(), accepted.clone(), statuses.clone());
            let body = json!({"user_id": buyer, "offer_id": offer, "representation_id": rep, "quantity": 1 + i % 2});
            let idempotency = format!("buy-{buyer}");
            async move {
                sent.fetch_add(1, Ordering::Relaxed);
                // a request cut off by the switch leaves its key claimed until the API can write
                // the claim's answer or release again, or, when the claim itself was being written
                // as the primary died, until it counts as abandoned (120 s): 409s in progress
                let deadline = Instant::now() + Duration::from_secs(180);
                loop {
                    let headers = [("idempotency-key", idempotency.as_str())];
                    let (status, reply) = api
                        .call_with(Method::POST, "/api/reservations", &api.client, Some(body.clone()), &headers)
                        .await;
                    *statuses.lock().await.entry(status.as_u16()).or_default() += 1;
                    if status == StatusCode::ACCEPTED {
                        accepted.lock().await.push((Instant::now(), reply["id"].as_str().unwrap().to_string()));
                        return;
                    }
                    let in_progress =
                        status == StatusCode::CONFLICT && reply["error"]["status"] == "IDEMPOTENCY_KEY_IN_PROGRESS";
                    assert!(
                        status == StatusCode::SERVICE_UNAVAILABLE || in_progress,
                        "only a 503 (or the key of a cut-off request in progress) during the switch: {status} {reply}"
                    );
                    assert!(Instant::now() < deadline, "still refused after 180 s: {reply}");
                    // as a client honouring Retry-After (1 s), a little sooner
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            }
        })
        .await;
    let (lost_node, killed_at) = killer.await.unwrap();
    let mut accepted = accepted.lock().await.clone();
    accepted.sort();
    // the outage as a buyer sees it: the longest time without a request accepted
    let (gap_from, outage) = accepted
        .windows(2)
        .map(|pair| (pair[0].0, pair[1].0 - pair[0].0))
        .max_by_key(|(_, gap)| *gap)
        .unwrap_or((killed_at, Duration::ZERO));
    let gap_from = gap_from.saturating_duration_since(killed_at);
    let last = accepted.last().map(|(at, _)| *at - killed_at).unwrap_or_default();
    let accepted: Vec<String> = accepted.into_iter().map(|(_, id)| id).collect();

    wait_until(
        &pool,
        "select count(*) from reservations where status = 'pending'",
        "reservations decided",
        Duration::from_secs(120),
    )
    .await;
    // buyers pay; the fulfillment worker is killed while it issues, and another takes over
    let outage::Paid { confirmed: to_confirm, fulfilled_at_kill, fulfillment } =
        outage::pay_through_a_killed_fulfillment(&pool, &api, &url, CONFIRMS, fulfillment).await;

    // the verdict, from the new primary
    let ids: Vec<uuid::Uuid> = accepted.iter().map(|id| id.parse().unwrap()).collect();
    let missing: i64 = sqlx::query_scalar(
        "select count(*) from unnest($1::uuid[]) as a(id) where not exists (select 1 from reservations r where r.id = a.id)",
    )
    .bind(&ids)
    .fetch_one(&pool)
    .await
    .unwrap();
    let pending = scalar(&pool, "select count(*) from reservations where status = 'pending'").await;
    let twice =
        scalar(&pool, "select count(*) from (select user_id from reservations group by 1 having count(*) > 1) x").await;
    let outage::Books { total, available, held, sold, tickets, wrong_tickets } = outage::books(&pool).await;
    let sold_units: i64 =
        sqlx::query_scalar("select coalesce(sum(quantity), 0) from reservations where id::text = any($1)")
            .bind(&to_confirm)
            .fetch_one(&pool)
            .await
            .unwrap();
    let statuses = statuses.lock().await.clone();
    println!(
        "failover: {BUYERS} buyers, {} accepted, answers {statuses:?}, longest time \
         without an accepted request {:.1} s (from {:.1} s after the kill began), the last accepted {:.1} s after it, {missing} lost, {pending} pending, {twice} buyers with two reservations; books total {total} = \
         available {available} + held {held} + sold {sold}; {} confirmed, {fulfilled_at_kill} fulfilled when the fulfillment worker \
         was killed, {tickets} tickets, {wrong_tickets} with a wrong ticket count",
        accepted.len(),
        outage.as_secs_f64(),
        gap_from.as_secs_f64(),
        last.as_secs_f64(),
        to_confirm.len(),
    );
    assert!(!statuses.contains_key(&500), "no 500 among the answers: {statuses:?}");
    assert_eq!(accepted.len(), BUYERS, "every buyer was accepted in the end");
    assert_eq!(missing, 0, "every accepted reservation exists");
    assert_eq!(twice, 0, "a retried request is the same reservation");
    assert_eq!(pending, 0, "every reservation is decided");
    assert_eq!(total, available + held + sold, "the books balance");
    assert!(held + sold <= total, "nothing oversold");
    assert_eq!(wrong_tickets, 0, "each paid reservation has exactly its tickets");
    assert_eq!((i64::from(sold), tickets), (sold_units, sold_units), "what was paid for is sold, one ticket per unit");

    // the lost node comes back as a standby and catches up: every accepted row on two nodes at least
    cluster.run("rejoin", &[&lost_node]);
    let nodes = cluster.node_ports();
    let started = Instant::now();
    loop {
        let mut complete = 0;
        for port in &nodes {
            let Ok(node) = sqlx::PgPool::connect(&cluster.url(*port)).await else { continue };
            let found: i64 = sqlx::query_scalar("select count(*) from reservations where id = any($1)")
                .bind(&ids)
                .fetch_one(&node)
                .await
                .unwrap_or(0);
            complete += usize::from(found == ids.len() as i64);
            node.close().await;
        }
        if complete >= 2 {
            println!("failover: every accepted reservation is on {complete} of 3 nodes");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "accepted rows on fewer than two nodes");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    drop((workers, fulfillment, scheduler));
    pool.close().await;
}
