//! An on-sale through what kills real deployments: three reservation workers on a private
//! PostgreSQL, one worker killed -9 mid-sale, the database crashed and restarted mid-sale, then
//! the fulfillment worker killed -9 mid-issuance. Afterwards nothing accepted is lost, nothing is
//! left pending, the books balance, nothing is oversold, and each paid reservation has exactly its
//! tickets.
//!
//! The database is a private server (the dev mode's cluster code) so that it can be crashed
//! without touching the machine's PostgreSQL.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use boxoffice::devdb::DevDatabase;
use futures::StreamExt;
use poem::http::{Method, StatusCode};
use serde_json::json;
use tokio::sync::Mutex;

mod outage;
mod server_binaries;

use outage::{scalar, spawn, wait_until};

const TICKETS: i64 = 1500;
const BUYERS: usize = 4000;
const CONNECTIONS: usize = 40;
const CONFIRMS: i64 = 400;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_on_sale_loses_and_oversells_nothing_through_killed_workers_and_a_database_crash() {
    let root = std::env::temp_dir().join(format!("boxoffice-chaos-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let mut pg = match DevDatabase::start(&root.join("pgdata"), free_port()).await {
        Ok(pg) => pg,
        Err(e) if e.to_string().starts_with("no PostgreSQL server binaries") => {
            server_binaries::missing(&e);
            return;
        }
        Err(e) => panic!("the private PostgreSQL did not start: {e:#}"),
    };
    let url = pg.url();
    let pool = boxoffice::db::connect(&url, 20).await.unwrap();
    let outage::OnSale { api, offer, rep, buyers } = outage::on_sale(&pool, "Chaos", TICKETS, BUYERS).await;

    let mut workers: Vec<outage::Process> =
        (0..3).map(|_| spawn(env!("CARGO_BIN_EXE_reservation-worker"), &url)).collect();
    let fulfillment = spawn(env!("CARGO_BIN_EXE_fulfillment-worker"), &url);
    let scheduler = spawn(env!("CARGO_BIN_EXE_scheduler"), &url);

    // the on-sale; one worker is killed a third of the way in, the database crashes half way
    let sent = Arc::new(AtomicUsize::new(0));
    let accepted = Arc::new(Mutex::new(Vec::<String>::new()));
    let refused = Arc::new(AtomicUsize::new(0));
    let chaos = {
        let sent = sent.clone();
        let killed = workers.remove(0);
        tokio::spawn(async move {
            while sent.load(Ordering::Relaxed) < BUYERS / 3 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            killed.kill();
            while sent.load(Ordering::Relaxed) < BUYERS / 2 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            pg.crash_and_restart().await.expect("PostgreSQL comes back after its crash");
            pg
        })
    };
    futures::stream::iter(buyers.iter().enumerate())
        .for_each_concurrent(CONNECTIONS, |(i, buyer)| {
            let (api, sent, accepted, refused) = (api.clone(), sent.clone(), accepted.clone(), refused.clone());
            let body = json!({"user_id": buyer, "offer_id": offer, "representation_id": rep, "quantity": 1 + i % 2});
            async move {
                sent.fetch_add(1, Ordering::Relaxed);
                let (status, reply) = api.call(Method::POST, "/api/reservations", &api.client, Some(body)).await;
                if status == StatusCode::ACCEPTED {
                    accepted.lock().await.push(reply["id"].as_str().unwrap().to_string());
                } else {
                    assert!(status.is_server_error(), "only the crash refuses a request: {status} {reply}");
                    refused.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
        .await;
    let mut pg = chaos.await.unwrap();
    let accepted = accepted.lock().await.clone();

    wait_until(
        &pool,
        "select count(*) from reservations where status = 'pending'",
        "reservations decided",
        Duration::from_secs(90),
    )
    .await;

    // buyers pay; the fulfillment worker is killed while it issues, and another takes over
    let outage::Paid { confirmed: to_confirm, fulfilled_at_kill: killed_at, fulfillment } =
        outage::pay_through_a_killed_fulfillment(&pool, &api, &url, CONFIRMS, fulfillment).await;

    // the verdict, from the database
    let missing: i64 = sqlx::query_scalar("select count(*) from unnest($1::uuid[]) as a(id) where not exists (select 1 from reservations r where r.id = a.id)")
        .bind(accepted.iter().map(|id| id.parse::<uuid::Uuid>().unwrap()).collect::<Vec<_>>())
        .fetch_one(&pool)
        .await
        .unwrap();
    let pending = scalar(&pool, "select count(*) from reservations where status = 'pending'").await;
    let outage::Books { total, available, held, sold, tickets, wrong_tickets } = outage::books(&pool).await;
    let (held_units, sold_units): (i64, i64) = sqlx::query_as(
        "select coalesce(sum(quantity) filter (where status = 'held'), 0), coalesce(sum(quantity) filter (where status in ('confirmed', 'fulfilled')), 0) from reservations",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let decided = scalar(&pool, "select count(*) from reservations").await;
    println!(
        "chaos: {} requests, {} accepted, {} refused during the crash, {} lost, {} pending, {decided} decided; \
         books total {total} = available {available} + held {held} + sold {sold}; oversold {}; \
         {} confirmed, {killed_at} fulfilled when the fulfillment worker was killed, {tickets} tickets, {wrong_tickets} \
         reservations with a wrong ticket count",
        BUYERS,
        accepted.len(),
        refused.load(Ordering::Relaxed),
        missing,
        pending,
        (held + sold - total).max(0),
        to_confirm.len(),
    );
    assert_eq!(missing, 0, "every accepted reservation exists");
    assert_eq!(pending, 0, "every reservation is decided");
    assert_eq!(total, available + held + sold, "the books balance");
    assert_eq!((i64::from(held), i64::from(sold)), (held_units, sold_units), "the books agree with the reservations");
    assert!(held + sold <= total, "nothing oversold");
    let confirmed_units: i64 =
        sqlx::query_scalar("select coalesce(sum(quantity), 0) from reservations where id::text = any($1)")
            .bind(&to_confirm)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(sold_units, confirmed_units, "what was paid for is what is sold");
    assert_eq!(wrong_tickets, 0, "each paid reservation has exactly its tickets");
    assert_eq!(tickets, sold_units, "one ticket per unit sold");
    assert!(refused.load(Ordering::Relaxed) + accepted.len() == BUYERS);

    drop((workers, fulfillment, scheduler));
    pool.close().await;
    pg.stop().await.unwrap();
    let _ = std::fs::remove_dir_all(&root);
}
