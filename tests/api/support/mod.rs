//! Drives the API in-process, each test on its own database.

pub mod catalog_dir;
pub mod db;

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
        let db = TestDb::new().await;
        let app = boxoffice::http::app(db.pool.clone(), boxoffice::http::DEFAULT_BODY_LIMIT);
        let admin = Self::key_for(&db, Role::Admin, None).await;
        let client = Self::key_for(&db, Role::Client, None).await;
        TestApp { app: app.map_to_response().boxed(), db, admin, client }
    }

    async fn key_for(db: &TestDb, role: Role, org: Option<&str>) -> String {
        boxoffice::services::auth::create_key(&db.pool, role, org).await.unwrap().key
    }

    pub async fn organizer_key(&self, organization: &str) -> String {
        Self::key_for(&self.db, Role::Organizer, Some(organization)).await
    }

    /// Another client key than `client`.
    pub async fn another_client_key(&self) -> String {
        Self::key_for(&self.db, Role::Client, None).await
    }

    pub async fn finish(self) {
        self.db.drop_database().await;
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
