//! Drives the API in-process, each test on its own database.

pub mod buyer;
pub mod catalog_dir;
pub mod db;
pub mod locks;
pub mod smtp_server;
pub mod webhook_receiver;

use boxoffice::domain::Role;
use poem::http::{HeaderMap, Method, StatusCode};
use poem::{Endpoint, EndpointExt, Request};
use serde_json::{Value, json};

pub use db::TestDb;

pub struct TestApp {
    pub db: TestDb,
    app: poem::endpoint::BoxEndpoint<'static, poem::Response>,
    /// Keys made for the test, by role.
    pub admin: String,
    pub client: String,
}

/// What a request got back.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    /// The envelope's `status` name, for error replies.
    pub fn error_status(&self) -> &str {
        self.body["error"]["status"].as_str().unwrap_or("")
    }

    #[track_caller]
    pub fn expect(self, status: StatusCode) -> Value {
        assert_eq!(self.status, status, "unexpected reply: {:#}", self.body);
        self.body
    }

    #[track_caller]
    pub fn expect_error(&self, status: StatusCode, name: &str) {
        assert_eq!(self.status, status, "unexpected reply: {:#}", self.body);
        assert_eq!(self.error_status(), name, "unexpected reply: {:#}", self.body);
    }
}

impl TestApp {
    pub async fn new() -> TestApp {
        Self::with_limits(boxoffice::http::Limits::default()).await
    }

    /// A test app whose HTTP application is built with `limits`.
    pub async fn with_limits(limits: boxoffice::http::Limits) -> TestApp {
        let db = TestDb::new().await;
        let app = boxoffice::http::app(db.pool.clone(), limits);
        let admin = Self::key_for(&db, Role::Admin, None).await;
        let client = Self::key_for(&db, Role::Client, None).await;
        TestApp { app: app.map_to_response().boxed(), db, admin, client }
    }

    /// The same test (database, keys) served by an application over `pool`, another pool on the
    /// test's database, whose batchers run on `tasks`.
    pub fn rewired(mut self, pool: sqlx::PgPool, tasks: &boxoffice::services::batch::Tasks) -> TestApp {
        let app = boxoffice::http::app_on(
            pool.clone(),
            boxoffice::services::reads::Reads::primary(pool),
            boxoffice::http::Limits::default(),
            tasks,
        );
        self.app = app.map_to_response().boxed();
        self
    }

    async fn key_for(db: &TestDb, role: Role, org: Option<&str>) -> String {
        boxoffice::services::auth::create_key(&db.pool, role, org, None).await.unwrap().key
    }

    pub async fn organizer_key(&self, organization: &str) -> String {
        Self::key_for(&self.db, Role::Organizer, Some(organization)).await
    }

    /// Another client key than `client`.
    pub async fn another_client_key(&self) -> String {
        Self::key_for(&self.db, Role::Client, None).await
    }

    /// Sends raw bytes with the given content type.
    pub async fn send_raw(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        content_type: &str,
        body: Vec<u8>,
    ) -> Reply {
        let mut req = Request::builder().method(method).uri(path.parse().unwrap()).content_type(content_type);
        if let Some(key) = key {
            req = req.header("authorization", format!("Bearer {key}"));
        }
        self.call(req.body(body)).await
    }

    /// The application itself, for a test that reads an answer's raw bytes.
    pub fn endpoint(&self) -> &poem::endpoint::BoxEndpoint<'static, poem::Response> {
        &self.app
    }

    pub async fn call(&self, req: Request) -> Reply {
        let resp = self.app.call(req).await.expect("the app turns every error into a response");
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().into_bytes().await.unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        Reply { status, headers, body }
    }

    pub async fn request(&self, method: Method, path: &str, key: Option<&str>, body: Option<Value>) -> Reply {
        let bytes = body.map(|b| serde_json::to_vec(&b).unwrap()).unwrap_or_default();
        self.send_raw(method, path, key, "application/json", bytes).await
    }

    pub async fn get(&self, path: &str, key: Option<&str>) -> Reply {
        self.request(Method::GET, path, key, None).await
    }

    pub async fn post(&self, path: &str, key: Option<&str>, body: Value) -> Reply {
        self.request(Method::POST, path, key, Some(body)).await
    }

    pub async fn put(&self, path: &str, key: Option<&str>, body: Value) -> Reply {
        self.request(Method::PUT, path, key, Some(body)).await
    }

    pub async fn patch(&self, path: &str, key: Option<&str>, body: Value) -> Reply {
        self.request(Method::PATCH, path, key, Some(body)).await
    }

    /// An event of `organization` in Paris, created by an admin. Returns its id.
    pub async fn create_event(&self, organization: &str, extra: Value) -> String {
        let mut body = json!({
            "organization_id": organization, "title": "Jazz night", "venue_name": "Olympia",
            "venue_latitude": 48.8702, "venue_longitude": 2.3286, "timezone": "Europe/Paris",
        });
        body.as_object_mut().unwrap().extend(extra.as_object().cloned().unwrap_or_default());
        let reply = self.post("/api/events", Some(&self.admin), body).await;
        reply.expect(StatusCode::CREATED)["id"].as_str().unwrap().to_string()
    }

    pub async fn create_representation(&self, event_id: &str, starts_at: &str, ends_at: &str) -> String {
        let body = json!({"starts_at": starts_at, "ends_at": ends_at});
        let reply = self.post(&format!("/api/events/{event_id}/representations"), Some(&self.admin), body).await;
        reply.expect(StatusCode::CREATED)["id"].as_str().unwrap().to_string()
    }

    pub async fn create_offer(&self, event_id: &str, price_minor: i64) -> String {
        let body = json!({"name": "General admission", "price_minor": price_minor, "max_quantity_per_order": 4});
        let reply = self.post(&format!("/api/events/{event_id}/offers"), Some(&self.admin), body).await;
        reply.expect(StatusCode::CREATED)["id"].as_str().unwrap().to_string()
    }

    /// An event with one representation (next year) and one offer. Returns (event, representation, offer).
    pub async fn create_catalog(&self, organization: &str) -> (String, String, String) {
        let event = self.create_event(organization, json!({})).await;
        let rep = self.create_representation(&event, "2027-06-01T20:00:00Z", "2027-06-01T23:00:00Z").await;
        let offer = self.create_offer(&event, 4500).await;
        (event, rep, offer)
    }
}

/// Reservation workers running in this process until dropped.
pub struct Workers {
    stop: tokio_util::sync::CancellationToken,
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Worker processes (the real binary) until dropped.
pub struct WorkerProcesses(Vec<std::process::Child>);

impl Drop for WorkerProcesses {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl TestApp {
    /// Reservation and fulfillment workers and the scheduler's sweeps, in-process.
    pub fn start_workers(&self) -> Workers {
        use boxoffice::jobs::{runtime, sweeps};
        let stop = tokio_util::sync::CancellationToken::new();
        let roles = runtime::Roles { reservations: true, fulfillment: true, ..Default::default() };
        tokio::spawn(runtime::run(self.db.pool.clone(), roles, stop.clone()));
        tokio::spawn(sweeps::run(self.db.pool.clone(), stop.clone()));
        Workers { stop }
    }

    /// Notification delivery workers with `config`, in-process.
    pub fn start_notification_workers(&self, config: boxoffice::notifications::NotificationConfig) -> Workers {
        use boxoffice::jobs::runtime;
        let stop = tokio_util::sync::CancellationToken::new();
        let notifier = config.notifier().expect("valid notification settings");
        let roles = runtime::Roles { fulfillment: true, notifier, ..Default::default() };
        tokio::spawn(runtime::run(self.db.pool.clone(), roles, stop.clone()));
        Workers { stop }
    }

    /// `n` `reservation-worker` processes on this test's database.
    pub fn start_worker_processes(&self, n: usize) -> WorkerProcesses {
        let children = (0..n)
            .map(|_| {
                std::process::Command::new(env!("CARGO_BIN_EXE_reservation-worker"))
                    .env("DATABASE_URL", &self.db.url)
                    .env("RUST_LOG", "warn")
                    .stdout(std::process::Stdio::null())
                    .spawn()
                    .expect("the worker binary runs")
            })
            .collect();
        WorkerProcesses(children)
    }

    /// A buyer; returns the id.
    pub async fn create_user(&self) -> String {
        let email = format!("{}@buyers.test", uuid::Uuid::new_v4().simple());
        let reply = self.post("/api/users", Some(&self.client), json!({"email": email})).await;
        reply.expect(StatusCode::CREATED)["id"].as_str().unwrap().to_string()
    }

    /// Many buyers at once, straight into the table; returns their ids.
    pub async fn create_users(&self, n: usize) -> Vec<String> {
        sqlx::query_scalar(
            "insert into users (id, email) select 'u' || g || '_' || $2, 'u' || g || '_' || $2 || '@buyers.test'
             from generate_series(1, $1) g returning id",
        )
        .bind(n as i32)
        .bind(uuid::Uuid::new_v4().simple().to_string())
        .fetch_all(&self.db.pool)
        .await
        .unwrap()
    }

    /// An on-sale item: event, representation, offer with `stock` general-admission tickets.
    pub async fn on_sale(&self, stock: i64) -> (String, String, String) {
        let (event, rep, offer) = self.create_catalog("BILLY").await;
        let path = format!("/api/offers/{offer}/representations/{rep}/inventory");
        self.put(&path, Some(&self.admin), json!({"total_stock": stock})).await.expect(StatusCode::OK);
        (event, rep, offer)
    }

    /// Polls a reservation until a worker has decided it (20 s at most).
    pub async fn decided(&self, id: &str) -> Value {
        for _ in 0..400 {
            let body = self.get(&format!("/api/reservations/{id}"), Some(&self.client)).await.expect(StatusCode::OK);
            if body["status"] != "pending" {
                return body;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("reservation {id} was not decided in 20 s");
    }

    /// The books of the item's pool: (total, available, held, sold), checking they balance.
    pub async fn books(&self, offer: &str, rep: &str) -> (i32, i32, i32, i32) {
        let row: (i32, i32, i32, i32) = sqlx::query_as(
            "select p.total_stock, p.available, p.held, p.sold from inventory i join pools p on p.id = i.pool_id
             where i.offer_id = $1 and i.representation_id = $2",
        )
        .bind(offer)
        .bind(rep)
        .fetch_one(&self.db.pool)
        .await
        .unwrap();
        assert_eq!(row.0, row.1 + row.2 + row.3, "the books balance");
        row
    }
}
