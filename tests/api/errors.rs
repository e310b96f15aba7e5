//! One envelope for every error, whatever produced it.

use poem::http::{Method, StatusCode};
use poem::{EndpointExt, Request, handler};
use serde_json::json;

use crate::support::TestApp;

#[tokio::test]
async fn an_unknown_route_is_a_404_in_the_envelope_with_the_request_id() {
    let app = TestApp::new().await;
    let reply = app.get("/api/nope", None).await;
    reply.expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    let error = &reply.body["error"];
    let header = reply.headers.get("x-request-id").unwrap().to_str().unwrap();
    assert_eq!(error["request_id"], header);
    assert_eq!(error["code"], 404);
    assert_eq!(error["method"], "GET");
    assert_eq!(error["path"], "/api/nope");
    assert!(error["details"].is_null());
    assert!(error["timestamp"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn the_callers_request_id_is_kept() {
    let app = TestApp::new().await;
    let req = Request::builder().uri("/api/ping".parse().unwrap()).header("x-request-id", "abc-123").finish();
    let reply = app.call(req).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.headers.get("x-request-id").unwrap(), "abc-123");
    let req = Request::builder().uri("/api/nope".parse().unwrap()).header("x-request-id", "abc-123").finish();
    assert_eq!(app.call(req).await.body["error"]["request_id"], "abc-123");
}

#[tokio::test]
async fn a_wrong_method_is_a_405_in_the_envelope() {
    let app = TestApp::new().await;
    let reply = app.request(Method::DELETE, "/api/ping", None, None).await;
    reply.expect_error(StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED");
}

#[tokio::test]
async fn a_body_that_is_not_json_is_a_validation_error() {
    let app = TestApp::new().await;
    let reply =
        app.send_raw(Method::POST, "/api/users", Some(&app.client), "application/json", b"{not json".to_vec()).await;
    reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
    assert_eq!(reply.body["error"]["details"][0]["loc"], json!(["body"]));
}

#[tokio::test]
async fn a_body_that_is_not_utf8_is_a_validation_error() {
    let app = TestApp::new().await;
    let body = b"{\"email\": \"\xff\xfe@x.org\"}".to_vec();
    let reply = app.send_raw(Method::POST, "/api/users", Some(&app.client), "application/json", body).await;
    reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
}

#[tokio::test]
async fn a_body_missing_a_required_field_is_a_validation_error() {
    let app = TestApp::new().await;
    let reply = app.post("/api/users", Some(&app.client), json!({"first_name": "Ada"})).await;
    reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
    assert!(reply.body["error"]["message"].is_string());
}

#[tokio::test]
async fn a_wrong_content_type_is_a_415() {
    let app = TestApp::new().await;
    let reply = app.send_raw(Method::POST, "/api/users", Some(&app.client), "text/plain", b"hello".to_vec()).await;
    reply.expect_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "UNSUPPORTED_MEDIA_TYPE");
}

#[tokio::test]
async fn a_body_over_the_limit_is_a_413() {
    let app = TestApp::new().await;
    let huge = vec![b' '; boxoffice::http::DEFAULT_BODY_LIMIT + 1];
    let reply = app.send_raw(Method::POST, "/api/users", Some(&app.client), "application/json", huge).await;
    reply.expect_error(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE");
}

#[tokio::test]
async fn a_body_over_the_limit_without_a_content_length_is_a_413_too() {
    let app = TestApp::new().await;
    let huge = vec![b' '; boxoffice::http::DEFAULT_BODY_LIMIT + 1];
    let req = Request::builder()
        .method(Method::POST)
        .uri("/api/users".parse().unwrap())
        .header("authorization", format!("Bearer {}", app.client))
        .content_type("application/json")
        .body(poem::Body::from_async_read(std::io::Cursor::new(huge)));
    assert!(req.headers().get("content-length").is_none(), "sent as a stream of unknown length");
    app.call(req).await.expect_error(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE");
}

#[tokio::test]
async fn a_request_id_that_is_not_a_sane_token_is_replaced() {
    let app = TestApp::new().await;
    for sent in ["has spaces", &"x".repeat(129)] {
        let req = Request::builder().uri("/api/ping".parse().unwrap()).header("x-request-id", sent).finish();
        let reply = app.call(req).await;
        let id = reply.headers.get("x-request-id").unwrap().to_str().unwrap();
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{sent:?} was replaced by one of ours, not {id:?}");
    }
}

#[tokio::test]
async fn a_query_parameter_that_does_not_parse_lists_its_location() {
    let app = TestApp::new().await;
    let reply = app.get("/api/events?limit=abc", None).await;
    reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
    assert_eq!(reply.body["error"]["details"][0]["loc"], json!(["query", "limit"]));
    assert_eq!(reply.body["error"]["details"][0]["type"], "value_error");
}

#[handler]
fn explode() -> &'static str {
    panic!("secret internal detail")
}

#[tokio::test]
async fn a_panic_is_a_500_in_the_envelope_without_internals() {
    let limits = boxoffice::http::Limits { body_bytes: 1024, ..Default::default() };
    let app =
        boxoffice::http::with_middleware(poem::Route::new().at("/boom", explode), limits, None, Default::default())
            .map_to_response();
    let resp = poem::Endpoint::call(&app, Request::builder().uri("/boom".parse().unwrap()).finish()).await.unwrap();
    assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(resp.headers().contains_key("x-request-id"));
    let body = resp.into_body().into_string().await.unwrap();
    assert!(!body.contains("secret"), "{body}");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"]["status"], "INTERNAL");
    assert_eq!(body["error"]["code"], 500);
}

#[tokio::test]
async fn ping_and_health_answer() {
    let app = TestApp::new().await;
    assert_eq!(app.get("/api/ping", None).await.expect(StatusCode::OK)["status"], "ok");
    assert_eq!(app.get("/api/health", None).await.expect(StatusCode::OK)["status"], "ok");
}

#[tokio::test]
async fn the_spec_and_the_docs_are_served() {
    let app = TestApp::new().await;
    let spec = app.get("/openapi.json", None).await.expect(StatusCode::OK);
    // paths are written under the one server, `/api`
    assert_eq!(spec["servers"][0]["url"], "/api", "{spec:#}");
    assert!(spec["paths"]["/events"]["get"].is_object(), "{spec:#}");
    let docs = app.get("/docs", None).await;
    assert_eq!(docs.status, StatusCode::OK);
}
