//! What the tests of outages share (the chaos test, the failover test): worker processes of this
//! build, the API called in-process, and patient reads of a database that may be coming back.

#![allow(dead_code, reason = "each test binary that includes this module uses a part of it")]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use std::sync::Arc;

use boxoffice::domain::Role;
use boxoffice::http::Limits;
use futures::StreamExt;
use poem::http::{Method, StatusCode};
use poem::{Endpoint, EndpointExt, Request};
use serde_json::{Value, json};
use sqlx::PgPool;

/// A worker binary of this build on `url`, with a one-second heartbeat so that the jobs of a
/// killed worker go to the others within seconds.
pub fn spawn(bin: &str, url: &str) -> Process {
    let child = Command::new(bin)
        .env("DATABASE_URL", url)
        .env("JOB_HEARTBEAT_SECS", "1")
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the worker binary runs");
    Process(child)
}

/// A worker process, killed -9 when dropped: a test that fails leaves no worker behind to take
/// the jobs of a later test whose database has the same address.
pub struct Process(Child);

impl Process {
    /// Kill -9, and wait for it to be gone.
    pub fn kill(self) {}
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub struct Api {
    pub app: poem::endpoint::BoxEndpoint<'static, poem::Response>,
    pub admin: String,
    pub client: String,
}

impl Api {
    pub async fn call(&self, method: Method, path: &str, key: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.call_with(method, path, key, body, &[]).await
    }

    /// [`Api::call`] with more headers (an `Idempotency-Key`).
    pub async fn call_with(
        &self,
        method: Method,
        path: &str,
        key: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let mut req = Request::builder()
            .method(method)
            .uri(path.parse().unwrap())
            .content_type("application/json")
            .header("authorization", format!("Bearer {key}"));
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let req = req.body(body.map(|b| serde_json::to_vec(&b).unwrap()).unwrap_or_default());
        let resp = self.app.call(req).await.unwrap();
        let status = resp.status();
        let bytes = resp.into_body().into_bytes().await.unwrap_or_default();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    pub async fn created(&self, path: &str, body: Value) -> String {
        let (status, reply) = self.call(Method::POST, path, &self.admin, Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{reply:#}");
        reply["id"].as_str().unwrap().to_string()
    }
}

pub async fn scalar(pool: &PgPool, sql: &'static str) -> i64 {
    // the pool reconnects after the crash; a statement may still meet a dead connection once
    for _ in 0..20 {
        match sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await {
            Ok(n) => return n,
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
    panic!("the database does not answer: {sql}");
}

pub async fn wait_until(pool: &PgPool, sql: &'static str, what: &str, timeout: Duration) {
    let started = Instant::now();
    while scalar(pool, sql).await != 0 {
        assert!(started.elapsed() < timeout, "still not done after {timeout:?}: {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// What an on-sale under test runs on: the API over `pool`, one item of `tickets` and `buyers`.
pub struct OnSale {
    pub api: Arc<Api>,
    pub offer: String,
    pub rep: String,
    pub buyers: Vec<String>,
}

/// Migrates `pool`'s database and sets up an on-sale through the API: an event named `title`, one
/// representation, one offer (up to 2 per order) with `tickets` in stock, and `buyers` users.
pub async fn on_sale(pool: &PgPool, title: &str, tickets: i64, buyers: usize) -> OnSale {
    boxoffice::db::migrate(pool).await.unwrap();
    let key = |role| boxoffice::services::auth::create_key(pool, role, None, None);
    let (admin, client) = (key(Role::Admin).await.unwrap().key, key(Role::Client).await.unwrap().key);
    let app = boxoffice::http::app(pool.clone(), Limits::default()).map_to_response().boxed();
    let api = Arc::new(Api { app, admin, client });
    let event =
        api.created("/api/events", json!({"organization_id": "BILLY", "title": title, "venue_name": "Olympia"})).await;
    let rep = api
        .created(
            &format!("/api/events/{event}/representations"),
            json!({"starts_at": "2030-06-01T20:00:00Z", "ends_at": "2030-06-01T23:00:00Z"}),
        )
        .await;
    let offer = api
        .created(
            &format!("/api/events/{event}/offers"),
            json!({"name": "Standing", "price_minor": 4500, "max_quantity_per_order": 2}),
        )
        .await;
    let path = format!("/api/offers/{offer}/representations/{rep}/inventory");
    let (status, _) = api.call(Method::PUT, &path, &api.admin, Some(json!({"total_stock": tickets}))).await;
    assert_eq!(status, StatusCode::OK);
    let buyers: Vec<String> = sqlx::query_scalar(
        "insert into users (id, email) select 'b' || g, 'b' || g || '@outage.test' from generate_series(1, $1) g returning id",
    )
    .bind(buyers as i32)
    .fetch_all(pool)
    .await
    .unwrap();
    OnSale { api, offer, rep, buyers }
}

/// What [`pay_through_a_killed_fulfillment`] did.
pub struct Paid {
    /// The reservations paid for.
    pub confirmed: Vec<String>,
    /// How many were fulfilled when the fulfillment worker was killed.
    pub fulfilled_at_kill: i64,
    /// The fulfillment worker that took over.
    pub fulfillment: Process,
}

/// The first `count` held reservations (in arrival order) are paid for; `fulfillment` is killed
/// -9 once a quarter of them are fulfilled, another takes over, and every one is fulfilled.
pub async fn pay_through_a_killed_fulfillment(
    pool: &PgPool,
    api: &Arc<Api>,
    url: &str,
    count: i64,
    fulfillment: Process,
) -> Paid {
    let confirmed: Vec<String> =
        sqlx::query_scalar("select id::text from reservations where status = 'held' order by seq limit $1")
            .bind(count)
            .fetch_all(pool)
            .await
            .unwrap();
    futures::stream::iter(confirmed.iter())
        .for_each_concurrent(40, |id| {
            let api = api.clone();
            async move {
                let (status, reply) =
                    api.call(Method::POST, &format!("/api/reservations/{id}/confirm"), &api.client, None).await;
                assert_eq!(status, StatusCode::OK, "{reply}");
            }
        })
        .await;
    let started = Instant::now();
    while scalar(pool, "select count(*) from reservations where status = 'fulfilled'").await < count / 4 {
        assert!(started.elapsed() < Duration::from_secs(60), "issuance did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    fulfillment.kill();
    let fulfilled_at_kill = scalar(pool, "select count(*) from reservations where status = 'fulfilled'").await;
    let fulfillment = spawn(env!("CARGO_BIN_EXE_fulfillment-worker"), url);
    wait_until(
        pool,
        "select count(*) from reservations where status = 'confirmed'",
        "tickets issued",
        Duration::from_secs(90),
    )
    .await;
    Paid { confirmed, fulfilled_at_kill, fulfillment }
}

/// The books after an outage: the pool's counts, the tickets issued, and the paid reservations
/// whose ticket count is not their quantity.
pub struct Books {
    pub total: i32,
    pub available: i32,
    pub held: i32,
    pub sold: i32,
    pub tickets: i64,
    pub wrong_tickets: i64,
}

/// The [`Books`] of the on-sale's one pool.
pub async fn books(pool: &PgPool) -> Books {
    let (total, available, held, sold): (i32, i32, i32, i32) =
        sqlx::query_as("select total_stock, available, held, sold from pools").fetch_one(pool).await.unwrap();
    let wrong_tickets = scalar(
        pool,
        "select count(*) from reservations r where r.status = 'fulfilled'
           and (select count(*) from tickets t where t.reservation_id = r.id) <> r.quantity",
    )
    .await;
    let tickets = scalar(pool, "select count(*) from tickets").await;
    Books { total, available, held, sold, tickets, wrong_tickets }
}
