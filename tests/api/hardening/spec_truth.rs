//! What schemathesis found, kept fixed: answers agree with the OpenAPI document.

use poem::http::{Method, StatusCode};
use serde_json::json;

use crate::support::TestApp;

#[tokio::test]
async fn a_method_a_path_does_not_take_is_a_405_that_says_which_it_does() {
    let app = TestApp::new().await;
    let reply = app.request(Method::DELETE, "/api/events/ev_1", Some(&app.admin), None).await;
    reply.expect_error(StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED");
    assert_eq!(reply.headers.get("allow").unwrap(), "GET, PATCH");
    let reply = app.request(Method::PUT, "/api/tickets/public-key", None, None).await;
    assert_eq!(reply.headers.get("allow").unwrap(), "GET");
}

#[tokio::test]
async fn a_401_names_the_scheme_to_use() {
    let app = TestApp::new().await;
    let reply = app.get("/api/users/u1", None).await;
    reply.expect_error(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED");
    assert_eq!(reply.headers.get("www-authenticate").unwrap(), "Bearer");
}

#[tokio::test]
async fn coordinates_too_small_for_earthdistance_are_zero_not_a_500() {
    let app = TestApp::new().await;
    app.get("/api/events?near=0,5e-324&radius_km=5", None).await.expect(StatusCode::OK);
    let reply = app.get("/api/events?near=0,0&radius_km=5e-324", None).await;
    reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
    let body = json!({"email": "tiny@example.org", "latitude": 5e-324, "longitude": 0});
    let user = app.post("/api/users", Some(&app.client), body).await.expect(StatusCode::CREATED);
    assert_eq!(user["latitude"], 0.0);
    let id = user["id"].as_str().unwrap();
    app.get(&format!("/api/users/{id}/relevant-events"), Some(&app.client)).await.expect(StatusCode::OK);
}

#[tokio::test]
async fn text_fields_take_strings_only_and_null_means_left_out() {
    let app = TestApp::new().await;
    let reply = app.post("/api/users", Some(&app.client), json!({"email": "a@example.org", "first_name": 12})).await;
    reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
    let body = json!({"email": "b@example.org", "first_name": null, "phone": null});
    let user = app.post("/api/users", Some(&app.client), body).await.expect(StatusCode::CREATED);
    assert_eq!((user["first_name"].as_str(), user["phone"].is_null()), (Some(""), true));
    let reply = app
        .post("/api/events", Some(&app.admin), json!({"organization_id": "O", "title": " \t", "venue_name": "V"}))
        .await;
    reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
    assert_eq!(reply.body["error"]["details"][0]["loc"], json!(["body", "title"]));
    assert_eq!(reply.body["error"]["details"][0]["msg"], "must not be blank");
}
