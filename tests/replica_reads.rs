//! Public reads from a replica (`DATABASE_REPLICA_URL`), on the loopback cluster of `deploy/ha`
//! (a primary and one synchronous standby behind HAProxy). Three API instances share the primary,
//! each with its own replica setting: one that tolerates any lag, one that tolerates a second, one
//! whose replica is out of reach. The standby's replay is paused (Patroni in maintenance mode, so
//! that it does not resume it) and the stock changed on the primary: what each instance answers
//! shows where its reads went.

use std::time::{Duration, Instant};

use boxoffice::db;
use boxoffice::http::Limits;
use boxoffice::services::batch::Tasks;
use boxoffice::services::reads::{Reads, Replica};
use poem::http::{Method, StatusCode};
use poem::{EndpointExt, IntoEndpoint};
use serde_json::json;
use sqlx::PgPool;

mod ha;
mod outage;
mod server_binaries;

use outage::Api;

/// An API on `primary` whose public reads go to the replica at `replica_url` while it lags at
/// most `max_lag`.
fn api_reading_from(primary: &PgPool, keys: &Api, replica_url: &str, max_lag: Duration, tasks: &Tasks) -> Api {
    let replica = Replica { pool: db::replica::connect(replica_url, 5, db::Timeouts::default()).unwrap(), max_lag };
    let reads = Reads::with_replica(primary.clone(), replica, tasks);
    let app = boxoffice::http::app_on(primary.clone(), reads, Limits::default(), tasks);
    Api { app: app.into_endpoint().map_to_response().boxed(), admin: keys.admin.clone(), client: keys.client.clone() }
}

/// What the API says is available (always a 200: a replica's trouble is never the buyer's).
async fn available(api: &Api, rep: &str) -> i64 {
    let (status, reply) =
        api.call(Method::GET, &format!("/api/representations/{rep}/availability"), &api.client, None).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    reply["offers"][0]["available"].as_i64().unwrap()
}

/// Public reads answered by a replica so far, in this process.
fn served_by_replica() -> u64 {
    let metrics = boxoffice::observe::render();
    metrics
        .lines()
        .find_map(|line| line.strip_prefix("replica_reads_total{served_by=\"replica\"} "))
        .map_or(0, |n| n.trim().parse().unwrap())
}

/// Reads `api` until it says `expected` (within `timeout`).
async fn until_available(api: &Api, rep: &str, expected: i64, timeout: Duration, what: &str) {
    let started = Instant::now();
    loop {
        let now = available(api, rep).await;
        if now == expected {
            return;
        }
        assert!(started.elapsed() < timeout, "{what}: still {now} available after {timeout:?}, not {expected}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Reads `api` (each read says `expected`) until one is served by a replica (within 10 s).
async fn until_served_by_replica(api: &Api, rep: &str, expected: i64, what: &str) {
    let started = Instant::now();
    loop {
        let before = served_by_replica();
        assert_eq!(available(api, rep).await, expected, "{what}");
        if served_by_replica() > before {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{what}: no read served by the replica in 10 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn set_stock(api: &Api, offer: &str, rep: &str, total: i64) {
    let path = format!("/api/offers/{offer}/representations/{rep}/inventory");
    let (status, reply) = api.call(Method::PUT, &path, &api.admin, Some(json!({"total_stock": total}))).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_reads_go_to_a_replica_that_keeps_up_and_to_the_primary_when_it_lags_or_is_out_of_reach() {
    let _ = tracing_subscriber::fmt().with_env_filter("error").with_test_writer().try_init();
    let Some(cluster) = ha::Cluster::up("replica-reads", 2) else { return };
    let primary = db::connect(&cluster.primary_url(), 10).await.unwrap();
    let outage::OnSale { api, offer, rep, buyers } = outage::on_sale(&primary, "Replica reads", 10, 1).await;
    let mut standby = None;
    for port in cluster.node_ports() {
        let node = PgPool::connect(&cluster.url(port)).await.unwrap();
        if sqlx::query_scalar::<_, bool>("select pg_is_in_recovery()").fetch_one(&node).await.unwrap() {
            standby = Some(node);
        }
    }
    let standby = standby.expect("a standby");

    let worker = outage::spawn(env!("CARGO_BIN_EXE_reservation-worker"), &cluster.primary_url());
    let tasks = Tasks::default();
    let patient = api_reading_from(&primary, &api, &cluster.replica_url(), Duration::from_secs(3600), &tasks);
    let strict = api_reading_from(&primary, &api, &cluster.replica_url(), Duration::from_secs(1), &tasks);
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let lost = api_reading_from(
        &primary,
        &api,
        &format!("postgres://postgres@127.0.0.1:{closed_port}/boxoffice"),
        Duration::from_secs(1),
        &tasks,
    );

    // the replica keeps up: reads go there once its lag was first read (the replica's sessions
    // are on the standby)
    until_served_by_replica(&patient, &rep, 10, "a replica that keeps up serves the public reads").await;
    until_served_by_replica(&strict, &rep, 10, "a replica that keeps up serves the public reads").await;
    let sessions: i64 = sqlx::query_scalar("select count(*) from pg_stat_activity where application_name = $1")
        .bind(db::replica::APPLICATION_NAME)
        .fetch_one(&standby)
        .await
        .unwrap();
    assert!(sessions > 0, "the replica's sessions are on the standby");

    // the standby stops replaying (Patroni, in maintenance mode, leaves it paused); the stock
    // changes on the primary
    cluster.run("maintenance", &["on"]);
    sqlx::query("select pg_wal_replay_pause()").execute(&standby).await.unwrap();
    let started = Instant::now();
    while sqlx::query_scalar::<_, String>("select pg_get_wal_replay_pause_state()").fetch_one(&standby).await.unwrap()
        != "paused"
    {
        assert!(started.elapsed() < Duration::from_secs(10), "the standby's replay did not pause");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    set_stock(&api, &offer, &rep, 20).await;
    // the instance that tolerates any lag still reads the replica: the stock it saw before
    for _ in 0..10 {
        assert_eq!(available(&patient, &rep).await, 10, "reads that may lag are served by the replica");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // the one that tolerates a second goes to the primary once the replica is a second behind
    until_available(&strict, &rep, 20, Duration::from_secs(10), "a lagging replica is left for the primary").await;
    for _ in 0..10 {
        assert_eq!(available(&strict, &rep).await, 20, "and stays there while the replica lags");
    }
    // writes and the reads that decide go to the primary, whatever the replica does
    let body = json!({"user_id": buyers[0], "offer_id": offer, "representation_id": rep, "quantity": 2});
    let (status, reply) = patient.call(Method::POST, "/api/reservations?wait=10", &api.client, Some(body)).await;
    assert_eq!((status, reply["status"].as_str()), (StatusCode::OK, Some("held")), "{reply}");
    assert_eq!(available(&strict, &rep).await, 18, "the hold is seen at once on the primary");

    // replay resumes: the replica catches up and serves again
    sqlx::query("select pg_wal_replay_resume()").execute(&standby).await.unwrap();
    cluster.run("maintenance", &["off"]);
    until_available(&patient, &rep, 18, Duration::from_secs(10), "the replica caught up again").await;
    until_served_by_replica(&strict, &rep, 18, "a replica that caught up serves again").await;

    // a replica out of reach: every read is answered by the primary, none refused
    for _ in 0..20 {
        assert_eq!(available(&lost, &rep).await, 18, "a replica out of reach is left for the primary");
    }
    let (status, reply) = lost.call(Method::GET, "/api/events?limit=5", &api.client, None).await;
    assert_eq!((status, reply["items"].as_array().map(Vec::len)), (StatusCode::OK, Some(1)), "{reply}");

    drop(worker);
    tasks.shutdown.cancel();
    tasks.drained().await;
    primary.close().await;
}
