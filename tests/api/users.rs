//! Buyers.

use poem::http::StatusCode;
use serde_json::json;

use crate::support::TestApp;

#[tokio::test]
async fn a_user_is_registered_and_read_back_with_a_normalized_email() {
    let app = TestApp::new().await;
    let body = json!({"first_name": " Ada ", "last_name": "Lovelace", "email": " Ada@Example.ORG ", "latitude": 48.85, "longitude": 2.35});
    let user = app.post("/api/users", Some(&app.client), body).await.expect(StatusCode::CREATED);
    assert_eq!(user["email"], "ada@example.org");
    assert_eq!(user["first_name"], "Ada");
    let id = user["id"].as_str().unwrap();
    let read = app.get(&format!("/api/users/{id}"), Some(&app.client)).await.expect(StatusCode::OK);
    assert_eq!(read["latitude"], 48.85);
}

#[tokio::test]
async fn a_duplicate_email_is_a_409_whatever_its_case() {
    let app = TestApp::new().await;
    app.post("/api/users", Some(&app.client), json!({"email": "ada@example.org"})).await.expect(StatusCode::CREATED);
    let reply = app.post("/api/users", Some(&app.client), json!({"email": "ADA@example.org"})).await;
    reply.expect_error(StatusCode::CONFLICT, "EMAIL_TAKEN");
}

#[tokio::test]
async fn an_invalid_email_or_location_is_rejected() {
    let app = TestApp::new().await;
    app.post("/api/users", Some(&app.client), json!({"email": "not-an-email"}))
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
    let reply = app
        .post("/api/users", Some(&app.client), json!({"email": "a@b.org", "latitude": 100.0, "longitude": 0.0}))
        .await;
    reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
    assert_eq!(reply.body["error"]["details"][0]["loc"], json!(["body", "latitude"]));
}

#[tokio::test]
async fn an_unknown_user_is_a_404() {
    let app = TestApp::new().await;
    app.get("/api/users/usr_nope", Some(&app.client)).await.expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    app.get("/api/users/usr_nope/relevant-events", Some(&app.client))
        .await
        .expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
}

#[tokio::test]
async fn relevant_events_are_upcoming_events_near_the_user() {
    let app = TestApp::new().await;
    let near = app.create_event("BILLY", json!({"title": "Near"})).await;
    app.create_representation(&near, "2099-01-01T20:00:00Z", "2099-01-01T22:00:00Z").await;
    let past = app.create_event("BILLY", json!({"title": "Past"})).await;
    app.create_representation(&past, "2020-01-01T20:00:00Z", "2020-01-01T22:00:00Z").await;
    let far =
        app.create_event("BILLY", json!({"title": "Far", "venue_latitude": 45.76, "venue_longitude": 4.83})).await;
    app.create_representation(&far, "2099-01-01T20:00:00Z", "2099-01-01T22:00:00Z").await;
    let user = app
        .post("/api/users", Some(&app.client), json!({"email": "a@b.org", "latitude": 48.8566, "longitude": 2.3522}))
        .await
        .expect(StatusCode::CREATED);
    let id = user["id"].as_str().unwrap();
    let page = app
        .get(&format!("/api/users/{id}/relevant-events?radius_km=10"), Some(&app.client))
        .await
        .expect(StatusCode::OK);
    let titles: Vec<&str> = page["items"].as_array().unwrap().iter().map(|e| e["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["Near"]);
    let no_location =
        app.post("/api/users", Some(&app.client), json!({"email": "c@d.org"})).await.expect(StatusCode::CREATED);
    let id = no_location["id"].as_str().unwrap();
    app.get(&format!("/api/users/{id}/relevant-events"), Some(&app.client))
        .await
        .expect_error(StatusCode::CONFLICT, "USER_LOCATION_UNKNOWN");
}
