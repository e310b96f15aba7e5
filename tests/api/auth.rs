//! API keys and roles.

use poem::http::StatusCode;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::support::TestApp;

#[tokio::test]
async fn a_protected_route_without_a_key_is_a_401() {
    let app = TestApp::new().await;
    let reply = app.post("/api/events", None, json!({"title": "x", "venue_name": "y"})).await;
    reply.expect_error(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED");
}

#[tokio::test]
async fn a_wrong_key_is_a_401() {
    let app = TestApp::new().await;
    let reply = app.get("/api/users/whoever", Some("bo_not-a-real-key")).await;
    reply.expect_error(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED");
    let reply = app.get("/api/users/whoever", Some("garbage")).await;
    reply.expect_error(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED");
}

#[tokio::test]
async fn a_client_key_on_an_organizer_route_is_a_403() {
    let app = TestApp::new().await;
    let body = json!({"organization_id": "BILLY", "title": "x", "venue_name": "y"});
    app.post("/api/events", Some(&app.client), body).await.expect_error(StatusCode::FORBIDDEN, "PERMISSION_DENIED");
    let (event, rep, offer) = app.create_catalog("BILLY").await;
    app.patch(&format!("/api/events/{event}"), Some(&app.client), json!({"sales_open": false}))
        .await
        .expect_error(StatusCode::FORBIDDEN, "PERMISSION_DENIED");
    app.put(
        &format!("/api/offers/{offer}/representations/{rep}/inventory"),
        Some(&app.client),
        json!({"total_stock": 5}),
    )
    .await
    .expect_error(StatusCode::FORBIDDEN, "PERMISSION_DENIED");
}

#[tokio::test]
async fn an_organizer_key_on_another_organizations_event_is_a_403() {
    let app = TestApp::new().await;
    let (event, rep, offer) = app.create_catalog("BILLY").await;
    let other = app.organizer_key("OTHER").await;
    app.patch(&format!("/api/events/{event}"), Some(&other), json!({"title": "Mine now"}))
        .await
        .expect_error(StatusCode::FORBIDDEN, "PERMISSION_DENIED");
    app.post(&format!("/api/events/{event}/offers"), Some(&other), json!({"name": "x", "price_minor": 100}))
        .await
        .expect_error(StatusCode::FORBIDDEN, "PERMISSION_DENIED");
    app.put(&format!("/api/offers/{offer}/representations/{rep}/inventory"), Some(&other), json!({"total_stock": 5}))
        .await
        .expect_error(StatusCode::FORBIDDEN, "PERMISSION_DENIED");
    let body = json!({"organization_id": "BILLY", "title": "x", "venue_name": "y"});
    app.post("/api/events", Some(&other), body).await.expect_error(StatusCode::FORBIDDEN, "PERMISSION_DENIED");
}

#[tokio::test]
async fn an_organizer_manages_its_own_events_and_creates_them_in_its_organization() {
    let app = TestApp::new().await;
    let billy = app.organizer_key("BILLY").await;
    let body = json!({"title": "Own show", "venue_name": "Zenith", "timezone": "Europe/Paris"});
    let event = app.post("/api/events", Some(&billy), body).await.expect(StatusCode::CREATED);
    assert_eq!(event["organization_id"], "BILLY");
    let id = event["id"].as_str().unwrap();
    let patched = app
        .patch(&format!("/api/events/{id}"), Some(&billy), json!({"sales_open": false}))
        .await
        .expect(StatusCode::OK);
    assert_eq!(patched["sales_open"], false);
}

#[tokio::test]
async fn an_organizer_key_cannot_act_for_buyers() {
    let app = TestApp::new().await;
    let billy = app.organizer_key("BILLY").await;
    app.post("/api/users", Some(&billy), json!({"email": "a@b.org"}))
        .await
        .expect_error(StatusCode::FORBIDDEN, "PERMISSION_DENIED");
}

#[tokio::test]
async fn the_public_catalog_needs_no_key() {
    let app = TestApp::new().await;
    let (event, rep, _) = app.create_catalog("BILLY").await;
    app.get(&format!("/api/events/{event}"), None).await.expect(StatusCode::OK);
    app.get(&format!("/api/representations/{rep}/availability"), None).await.expect(StatusCode::OK);
    app.get("/api/events", None).await.expect(StatusCode::OK);
}

#[tokio::test]
async fn a_key_is_stored_as_its_sha256_and_its_text_is_nowhere_in_the_table() {
    let app = TestApp::new().await;
    let keys = [app.admin.as_str(), app.client.as_str()];
    let stored: Vec<Vec<u8>> =
        sqlx::query_scalar("select key_hash from api_keys").fetch_all(&app.db.pool).await.unwrap();
    for key in keys {
        let digest = Sha256::digest(key.as_bytes()).to_vec();
        assert!(stored.contains(&digest), "no row holds the SHA-256 of {key}: {stored:02x?}");
    }
    // every row as text (a bytea shows as its hex): neither the key nor its bytes are in any column
    let table: String = sqlx::query_scalar("select coalesce(string_agg(k::text, ' '), '') from api_keys k")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert!(table.contains("admin"), "the table was read: {table}");
    for key in keys {
        let bytes = data_encoding::HEXLOWER.encode(key.as_bytes());
        assert!(!table.contains(key) && !table.contains(&bytes), "the key {key} is stored as it is: {table}");
    }
}
