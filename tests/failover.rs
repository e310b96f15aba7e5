//! An on-sale through the loss of the database's machine: a three-node PostgreSQL cluster kept by
//! Patroni (strict synchronous replication) behind HAProxy (`deploy/ha`), the primary's Patroni
//! and postmaster killed -9 mid-sale. Buyers retry what is refused, with the same
//! `Idempotency-Key`, as a real client does after a 503. Afterwards: no answer was a 500, every
//! accepted reservation exists, each buyer has one reservation, nothing is pending, the books
//! balance, nothing is oversold, every paid reservation has exactly its tickets; the lost node
//! rejoins (pg_rewind) and every accepted reservation is on at least two nodes.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use poem::http::{Method, StatusCode};
use serde_json::json;
use tokio::sync::Mutex;

mod outage;
mod server_binaries;

use outage::{scalar, spawn, wait_until};

const TICKETS: i64 = 1500;
const BUYERS: usize = 3000;
const CONNECTIONS: usize = 40;
const CONFIRMS: i64 = 300;

/// The cluster of `deploy/ha`, on ports of its own, stopped and removed when dropped.
struct Cluster {
    dir: PathBuf,
    base: u16,
}

impl Cluster {
    fn script(&self, name: &str) -> Command {
        let mut command = Command::new("bash");
        command
            .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("deploy/ha").join(name))
            .env("HA_DIR", &self.dir)
            .env("HA_BASE_PORT", self.base.to_string());
        command
    }

    fn run(&self, name: &str, args: &[&str]) -> String {
        let out = self.script(name).args(args).output().expect("bash runs");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(out.status.success(), "deploy/ha/{name}: {text}{}", String::from_utf8_lossy(&out.stderr));
        text
    }

    fn url(&self, port: u16) -> String {
        format!("postgres://postgres@127.0.0.1:{port}/boxoffice")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.script("down").output();
    }
}

/// A base port whose 32 ports are free now.
fn free_base() -> u16 {
    (26_000..40_000)
        .step_by(100)
        .find(|&base| (base..base + 32).all(|p| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok()))
        .expect("a free range of ports")
}

fn have_the_packages() -> bool {
    ["patroni", "etcd", "haproxy"].iter().all(|tool| {
        Command::new("sh").arg("-c").arg(format!("command -v {tool}")).output().is_ok_and(|o| o.status.success())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_on_sale_through_the_loss_of_the_primary_answers_no_500_and_loses_nothing() {
    let _ = tracing_subscriber::fmt().with_env_filter("error").with_test_writer().try_init();
    let root_user = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0"));
    if !have_the_packages() && !root_user {
        server_binaries::missing(
            &"patroni, etcd-server and haproxy are not installed (deploy/ha/up installs them as root)",
        );
        return;
    }
    let dir = std::env::temp_dir().join(format!("boxoffice-failover-{}", std::process::id()));
    let cluster = Cluster { dir, base: free_base() };
    let started = Instant::now();
    cluster.run("up", &[]);
    println!("failover: the cluster came up in {:.1} s", started.elapsed().as_secs_f64());
    let url = cluster.url(cluster.base);
    let pool = boxoffice::db::connect(&url, 20).await.unwrap();
    let outage::OnSale { api, offer, rep, buyers } = outage::on_sale(&pool, "Failover", TICKETS, BUYERS).await;

    let workers: Vec<Child> = (0..2).map(|_| spawn(env!("CARGO_BIN_EXE_reservation-worker"), &url)).collect();
    let mut fulfillment = spawn(env!("CARGO_BIN_EXE_fulfillment-worker"), &url);
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
            let out = script.output().expect("bash runs");
            assert!(out.status.success(), "kill-primary: {}", String::from_utf8_lossy(&out.stderr));
            (String::from_utf8_lossy(&out.stdout).trim().to_string(), Instant::now())
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
    // the outage as a buyer sees it: from the kill to the first request accepted after it
    let outage = accepted.iter().find(|(at, _)| *at > killed_at).map(|(at, _)| *at - killed_at).unwrap_or_default();
    let last = accepted.last().map(|(at, _)| *at - killed_at).unwrap_or_default();
    let accepted: Vec<String> = accepted.into_iter().map(|(_, id)| id).collect();

    wait_until(
        &pool,
        "select count(*) from reservations where status = 'pending'",
        "reservations decided",
        Duration::from_secs(120),
    )
    .await;
    let to_confirm: Vec<String> =
        sqlx::query_scalar("select id::text from reservations where status = 'held' order by seq limit $1")
            .bind(CONFIRMS)
            .fetch_all(&pool)
            .await
            .unwrap();
    for id in &to_confirm {
        let (status, reply) =
            api.call(Method::POST, &format!("/api/reservations/{id}/confirm"), &api.client, None).await;
        assert_eq!(status, StatusCode::OK, "{reply}");
    }
    wait_until(
        &pool,
        "select count(*) from reservations where status = 'confirmed'",
        "tickets issued",
        Duration::from_secs(90),
    )
    .await;

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
    let (total, available, held, sold): (i32, i32, i32, i32) =
        sqlx::query_as("select total_stock, available, held, sold from pools").fetch_one(&pool).await.unwrap();
    let wrong_tickets = scalar(
        &pool,
        "select count(*) from reservations r where r.status = 'fulfilled'
           and (select count(*) from tickets t where t.reservation_id = r.id) <> r.quantity",
    )
    .await;
    let statuses = statuses.lock().await.clone();
    println!(
        "failover: {BUYERS} buyers, {} accepted, answers {statuses:?}, first accepted \
         {:.1} s after the kill, the last {:.1} s after it, {missing} lost, {pending} pending, {twice} buyers with two reservations; books total {total} = \
         available {available} + held {held} + sold {sold}; {} confirmed, {wrong_tickets} with a wrong ticket count",
        accepted.len(),
        outage.as_secs_f64(),
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

    // the lost node comes back as a standby and catches up: every accepted row on two nodes at least
    cluster.run("rejoin", &[&lost_node]);
    let nodes: Vec<u16> = (1..=3).map(|n| cluster.base + 9 + n).collect();
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
    for mut child in workers.into_iter().chain([scheduler]) {
        let _ = child.kill();
        let _ = child.wait();
    }
    let _ = fulfillment.kill();
    let _ = fulfillment.wait();
    pool.close().await;
}
