//! Idempotency keys can never run a request twice: callers are authenticated before anything is
//! claimed, answers are replayed only to the key that made them, and every request's time is
//! bounded well under the claim's takeover window.

use std::time::Duration;

use boxoffice::http::Limits;
use poem::http::{Method, StatusCode};
use poem::{Endpoint, EndpointExt, Request};
use serde_json::{Value, json};

use crate::support::TestApp;

fn post(path: &str, key: &str, idempotency_key: &str, body: &Value) -> Request {
    Request::builder()
        .method(Method::POST)
        .uri(path.parse().unwrap())
        .content_type("application/json")
        .header("authorization", format!("Bearer {key}"))
        .header("idempotency-key", idempotency_key)
        .body(serde_json::to_vec(body).unwrap())
}

async fn claims(app: &TestApp) -> i64 {
    sqlx::query_scalar("select count(*) from idempotency_keys").fetch_one(&app.db.pool).await.unwrap()
}

#[tokio::test]
async fn a_caller_without_a_valid_key_claims_nothing() {
    let app = TestApp::new().await;
    let body = json!({"email": "ann@example.org"});
    app.call(post("/api/users", "bo_not-a-key", "k1", &body))
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED");
    let mut bare = post("/api/users", "x", "k2", &body);
    bare.headers_mut().remove("authorization");
    app.call(bare).await.expect_error(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED");
    assert_eq!(claims(&app).await, 0);
}

#[tokio::test]
async fn an_answer_is_replayed_only_to_the_key_that_made_the_request() {
    let app = TestApp::new().await;
    let other = app.another_client_key().await;
    let body = json!({"email": "ann@example.org"});
    let first = app.call(post("/api/users", &app.client, "same", &body)).await;
    let id = first.body["id"].clone();
    assert_eq!(first.status, StatusCode::CREATED);
    // another key with the same idempotency key and body: served as its own request
    let theirs = app.call(post("/api/users", &other, "same", &body)).await;
    theirs.expect_error(StatusCode::CONFLICT, "EMAIL_TAKEN");
    assert!(theirs.headers.get("idempotent-replayed").is_none());
    let again = app.call(post("/api/users", &app.client, "same", &body)).await;
    assert_eq!(again.headers.get("idempotent-replayed").unwrap(), "true");
    assert_eq!(again.body["id"], id);
}

#[tokio::test]
async fn a_revoked_key_is_not_replayed_its_answers() {
    let app = TestApp::new().await;
    let limits = Limits { key_cache: Duration::ZERO, ..Limits::default() };
    let uncached = boxoffice::http::app(app.db.pool.clone(), limits).map_to_response();
    let created =
        boxoffice::services::auth::create_key(&app.db.pool, boxoffice::domain::Role::Client, None, None).await.unwrap();
    let body = json!({"email": "ann@example.org"});
    let first = uncached.call(post("/api/users", &created.key, "k", &body)).await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    boxoffice::services::auth::revoke_key(&app.db.pool, &created.id.to_string()).await.unwrap();
    let replay = uncached.call(post("/api/users", &created.key, "k", &body)).await.unwrap();
    assert_eq!(replay.status(), StatusCode::UNAUTHORIZED);
    assert!(replay.headers().get("idempotent-replayed").is_none());
}

/// A confirm sent to an app whose deadline is 1 s, while the item's lock is held by another
/// connection (taken before the request starts, kept until it is answered): it is cut at 1 s.
async fn a_confirm_cut_at_its_deadline(
    app: &TestApp,
    id: &str,
    offer: &str,
    rep: &str,
) -> impl Endpoint<Output = poem::Response> {
    let limits = Limits { deadline: Duration::from_secs(1), ..Limits::default() };
    let hurried = boxoffice::http::app(app.db.pool.clone(), limits).map_to_response();
    let busy = app.lock_item(offer, rep).await;
    let cut = hurried.call(confirm(app, id)).await.unwrap();
    assert_eq!(cut.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(cut.headers().get("retry-after").unwrap(), "1");
    let body: Value = serde_json::from_slice(&cut.into_body().into_vec().await.unwrap()).unwrap();
    assert_eq!(body["error"]["status"], "DEADLINE_EXCEEDED");
    busy.release().await;
    hurried
}

fn confirm(app: &TestApp, id: &str) -> Request {
    post(&format!("/api/reservations/{id}/confirm"), &app.client, "pay-1", &json!({}))
}

#[tokio::test]
async fn a_request_past_its_deadline_is_cut_short_and_its_retry_runs() {
    let app = TestApp::new().await;
    let (_, rep, offer) = app.on_sale(1).await;
    let buyer = app.create_user().await;
    let id = app.reserve_now(&buyer, &offer, &rep, 1).await["id"].as_str().unwrap().to_string();
    let hurried = a_confirm_cut_at_its_deadline(&app, &id, &offer, &rep).await;
    // the claim was dropped with the 503: the retry runs (it is not 'in progress' for minutes)
    let retry = hurried.call(confirm(&app, &id)).await.unwrap();
    assert_eq!(retry.status(), StatusCode::OK);
    assert_eq!(app.reservation(&id).await["status"], "confirmed");
}

/// The confirm waited in the writer for the item's lock while its caller was answered 503
/// "stopped": once the writer has the lock it finds its caller gone and leaves it undone.
#[tokio::test]
async fn a_request_cut_at_its_deadline_changes_nothing() {
    let app = TestApp::new().await;
    let (_, rep, offer) = app.on_sale(1).await;
    let buyer = app.create_user().await;
    let id = app.reserve_now(&buyer, &offer, &rep, 1).await["id"].as_str().unwrap().to_string();
    a_confirm_cut_at_its_deadline(&app, &id, &offer, &rep).await;
    // whatever the cut request left waiting for the lock has committed or rolled back by now
    app.database_is_quiet().await;
    assert_eq!(app.reservation(&id).await["status"], "held", "the cut request changed nothing");
}

#[tokio::test]
async fn a_statement_that_waits_for_a_lock_past_lock_timeout_is_a_503_to_retry() {
    let app = TestApp::new().await;
    let (_, rep, offer) = app.on_sale(1).await;
    let buyer = app.create_user().await;
    let id = app.reserve_now(&buyer, &offer, &rep, 1).await["id"].as_str().unwrap().to_string();
    let timeouts = boxoffice::db::Timeouts { statement: Duration::from_secs(10), lock: Duration::from_millis(300) };
    let pool = boxoffice::db::connect_with(&app.db.url, 4, timeouts).await.unwrap();
    let impatient = boxoffice::http::app(pool, Limits::default()).map_to_response();
    let confirm = Request::builder()
        .method(Method::POST)
        .uri(format!("/api/reservations/{id}/confirm").parse().unwrap())
        .header("authorization", format!("Bearer {}", app.client))
        .finish();
    let busy = app.lock_item(&offer, &rep).await;
    let answer = impatient.call(confirm).await.unwrap();
    busy.release().await;
    assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(answer.headers().contains_key("retry-after"));
    let body: Value = serde_json::from_slice(&answer.into_body().into_vec().await.unwrap()).unwrap();
    assert_eq!(body["error"]["status"], "UNAVAILABLE");
}
