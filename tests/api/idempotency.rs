//! `Idempotency-Key` on POSTs, shown with `POST /api/users`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use poem::http::{Method, StatusCode};
use poem::{EndpointExt, IntoResponse, Request, Response};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::support::{Reply, TestApp, TestDb};

fn post_with_key(path: &str, api_key: &str, idempotency_key: &str, body: &Value) -> Request {
    Request::builder()
        .method(Method::POST)
        .uri(path.parse().unwrap())
        .content_type("application/json")
        .header("authorization", format!("Bearer {api_key}"))
        .header("idempotency-key", idempotency_key)
        .body(serde_json::to_vec(body).unwrap())
}

async fn create_user(app: &TestApp, api_key: &str, idempotency_key: &str, body: Value) -> Reply {
    app.call(post_with_key("/api/users", api_key, idempotency_key, &body)).await
}

async fn users(pool: &PgPool) -> i64 {
    sqlx::query_scalar("select count(*) from users").fetch_one(pool).await.unwrap()
}

async fn age_keys(pool: &PgPool, state: &str, age: &str) {
    sqlx::query("update idempotency_keys set state = $1, created_at = now() - $2::interval")
        .bind(state)
        .bind(age)
        .execute(pool)
        .await
        .unwrap();
}

fn replayed(reply: &Reply) -> bool {
    reply.headers.get("idempotent-replayed").is_some_and(|v| v == "true")
}

#[tokio::test]
async fn the_same_key_and_body_get_the_first_answer_without_a_second_user() {
    let app = TestApp::new().await;
    let ada = json!({"email": "ada@example.org"});
    let first = create_user(&app, &app.client, "k1", ada.clone()).await;
    let second = create_user(&app, &app.client, "k1", ada).await;
    assert!(!replayed(&first));
    assert!(replayed(&second));
    assert_eq!(second.headers.get("content-type"), first.headers.get("content-type"));
    assert_ne!(second.headers.get("x-request-id"), first.headers.get("x-request-id"));
    assert_eq!(second.expect(StatusCode::CREATED), first.expect(StatusCode::CREATED));
    assert_eq!(users(&app.db.pool).await, 1);
}

#[tokio::test]
async fn the_same_key_with_another_body_is_refused() {
    let app = TestApp::new().await;
    create_user(&app, &app.client, "k1", json!({"email": "ada@example.org"})).await.expect(StatusCode::CREATED);
    let reply = create_user(&app, &app.client, "k1", json!({"email": "grace@example.org"})).await;
    reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "IDEMPOTENCY_KEY_REUSED");
    assert_eq!(users(&app.db.pool).await, 1);
}

#[tokio::test]
async fn a_retry_while_the_first_is_in_progress_is_a_409_with_retry_after() {
    let app = TestApp::new().await;
    let ada = json!({"email": "ada@example.org"});
    create_user(&app, &app.client, "k1", ada.clone()).await.expect(StatusCode::CREATED);
    age_keys(&app.db.pool, "in_progress", "1 second").await;
    let reply = create_user(&app, &app.client, "k1", ada).await;
    reply.expect_error(StatusCode::CONFLICT, "IDEMPOTENCY_KEY_IN_PROGRESS");
    assert_eq!(reply.headers.get("retry-after").unwrap(), "1");
}

#[tokio::test]
async fn a_claim_in_progress_for_over_a_minute_is_abandoned_and_the_retry_runs_again() {
    let app = TestApp::new().await;
    let ada = json!({"email": "ada@example.org"});
    create_user(&app, &app.client, "k1", ada.clone()).await.expect(StatusCode::CREATED);
    age_keys(&app.db.pool, "in_progress", "2 minutes").await;
    // run again: this time the email is taken
    let reply = create_user(&app, &app.client, "k1", ada).await;
    reply.expect_error(StatusCode::CONFLICT, "EMAIL_TAKEN");
    assert!(!replayed(&reply));
}

#[tokio::test]
async fn the_same_key_under_another_api_key_is_another_request() {
    let app = TestApp::new().await;
    create_user(&app, &app.client, "k1", json!({"email": "ada@example.org"})).await.expect(StatusCode::CREATED);
    let other = app.another_client_key().await;
    let reply = create_user(&app, &other, "k1", json!({"email": "grace@example.org"})).await;
    assert!(!replayed(&reply));
    reply.expect(StatusCode::CREATED);
    assert_eq!(users(&app.db.pool).await, 2);
}

#[tokio::test]
async fn an_error_answer_is_replayed_too() {
    let app = TestApp::new().await;
    let bad = json!({"email": "not-an-email"});
    let first = create_user(&app, &app.client, "k1", bad.clone()).await;
    first.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
    let second = create_user(&app, &app.client, "k1", bad).await;
    assert!(replayed(&second));
    // the body is the first answer's, request id included
    assert_eq!(second.body, first.body);
}

#[tokio::test]
async fn a_key_older_than_24_hours_is_forgotten() {
    let app = TestApp::new().await;
    create_user(&app, &app.client, "k1", json!({"email": "ada@example.org"})).await.expect(StatusCode::CREATED);
    age_keys(&app.db.pool, "done", "25 hours").await;
    let reply = create_user(&app, &app.client, "k1", json!({"email": "grace@example.org"})).await;
    reply.expect(StatusCode::CREATED);
    assert_eq!(users(&app.db.pool).await, 2);
}

#[tokio::test]
async fn prune_deletes_the_keys_older_than_24_hours() {
    let app = TestApp::new().await;
    create_user(&app, &app.client, "k1", json!({"email": "ada@example.org"})).await.expect(StatusCode::CREATED);
    age_keys(&app.db.pool, "done", "25 hours").await;
    create_user(&app, &app.client, "k2", json!({"email": "grace@example.org"})).await.expect(StatusCode::CREATED);
    assert_eq!(boxoffice::db::idempotency::prune(&app.db.pool).await.unwrap(), 1);
    let left: Vec<String> =
        sqlx::query_scalar("select key from idempotency_keys").fetch_all(&app.db.pool).await.unwrap();
    assert_eq!(left, ["k2"]);
}

#[tokio::test]
async fn two_identical_requests_at_once_make_one_user() {
    let app = TestApp::new().await;
    let ada = json!({"email": "ada@example.org"});
    let (a, b) = tokio::join!(
        create_user(&app, &app.client, "k1", ada.clone()),
        create_user(&app, &app.client, "k1", ada.clone())
    );
    assert_eq!(users(&app.db.pool).await, 1);
    for reply in [&a, &b] {
        assert!(
            reply.status == StatusCode::CREATED || reply.error_status() == "IDEMPOTENCY_KEY_IN_PROGRESS",
            "unexpected reply: {reply:?}"
        );
    }
    if a.status == b.status {
        assert_eq!(a.body, b.body);
    }
}

#[tokio::test]
async fn an_idempotency_key_over_255_characters_is_a_validation_error() {
    let app = TestApp::new().await;
    let reply = create_user(&app, &app.client, &"k".repeat(256), json!({"email": "ada@example.org"})).await;
    reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
    assert_eq!(reply.body["error"]["details"][0]["loc"], json!(["header", "Idempotency-Key"]));
    let longest = "k".repeat(255);
    create_user(&app, &app.client, &longest, json!({"email": "ada@example.org"})).await.expect(StatusCode::CREATED);
}

#[tokio::test]
async fn an_unknown_api_key_leaves_no_key_behind() {
    let app = TestApp::new().await;
    let reply = create_user(&app, "not-a-key", "k1", json!({"email": "ada@example.org"})).await;
    reply.expect_error(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED");
    let kept: i64 = sqlx::query_scalar("select count(*) from idempotency_keys").fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(kept, 0);
}

#[tokio::test]
async fn a_5xx_is_not_kept_so_the_retry_runs_again_and_its_answer_is_replayed_with_location() {
    let db = TestDb::new().await;
    let calls = Arc::new(AtomicU32::new(0));
    let counted = calls.clone();
    let flaky = poem::endpoint::make(move |_req| {
        let first = counted.fetch_add(1, Ordering::SeqCst) == 0;
        async move {
            if first {
                return StatusCode::SERVICE_UNAVAILABLE.into_response();
            }
            Response::builder().status(StatusCode::CREATED).header("location", "/things/1").body("made")
        }
    });
    let routes = poem::Route::new().at("/things", poem::post(flaky));
    // replays are for authenticated callers: a real key
    let key =
        boxoffice::services::auth::create_key(&db.pool, boxoffice::domain::Role::Client, None, None).await.unwrap().key;
    let keys = Arc::new(boxoffice::services::auth::key_cache(std::time::Duration::from_secs(30)));
    let limits = boxoffice::http::Limits { body_bytes: 1024, ..Default::default() };
    let app = boxoffice::http::with_middleware(routes, limits, Some((db.pool.clone(), keys)), Default::default())
        .map_to_response();
    let send = || poem::Endpoint::call(&app, post_with_key("/things", &key, "k1", &json!({})));

    assert_eq!(send().await.unwrap().status(), StatusCode::SERVICE_UNAVAILABLE);
    let ran_again = send().await.unwrap();
    assert_eq!(ran_again.status(), StatusCode::CREATED);
    let replay = send().await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(replay.status(), StatusCode::CREATED);
    assert_eq!(replay.headers().get("idempotent-replayed").unwrap(), "true");
    assert_eq!(replay.headers().get("location").unwrap(), "/things/1");
    assert_eq!(replay.into_body().into_string().await.unwrap(), "made");
}

/// What a request creates keeps the id its claim fixed: a retry after the first answer was lost
/// finds what the first attempt stored instead of storing it again.
mod lost_answers {
    use super::*;

    /// As after an answer lost past its commit: the connection to the database cut between the
    /// commit and its acknowledgement (a failover), the caller told 503, the claim released.
    async fn lose_the_answers(pool: &PgPool) {
        sqlx::query(
            "update idempotency_keys set state = 'released', status_code = null, content_type = null,
                 body = null, location = null",
        )
        .execute(pool)
        .await
        .unwrap();
    }

    async fn reservation_rows(pool: &PgPool) -> i64 {
        sqlx::query_scalar("select count(*) from reservations").fetch_one(pool).await.unwrap()
    }

    async fn reserve(app: &TestApp, key: &str, body: &Value) -> Reply {
        app.call(post_with_key("/api/reservations", &app.client, key, body)).await
    }

    #[tokio::test]
    async fn a_reservation_retried_after_its_answer_was_lost_is_found_not_made_twice() {
        let app = TestApp::new().await;
        let (_, rep, offer) = app.on_sale(10).await;
        let user = app.create_user().await;
        let body = json!({"user_id": user, "offer_id": offer, "representation_id": rep, "quantity": 2});
        let first = reserve(&app, "r1", &body).await.expect(StatusCode::ACCEPTED);
        lose_the_answers(&app.db.pool).await;
        let retry = reserve(&app, "r1", &body).await;
        assert!(!replayed(&retry), "served again, not replayed");
        assert_eq!(retry.expect(StatusCode::ACCEPTED)["id"], first["id"]);
        assert_eq!(reservation_rows(&app.db.pool).await, 1);

        // a claim abandoned in progress (its process died after the commit) is taken over the same way
        age_keys(&app.db.pool, "in_progress", "3 minutes").await;
        let again = reserve(&app, "r1", &body).await.expect(StatusCode::ACCEPTED);
        assert_eq!(again["id"], first["id"]);
        assert_eq!(reservation_rows(&app.db.pool).await, 1);

        // decided once, and the next retry gets the answer now kept
        app.allocate(&offer, &rep).await;
        assert_eq!(app.books(&offer, &rep).await, (10, 8, 2, 0));
        let replay = reserve(&app, "r1", &body).await;
        assert!(replayed(&replay));
        assert_eq!(replay.expect(StatusCode::ACCEPTED)["id"], first["id"]);
    }

    #[tokio::test]
    async fn an_order_retried_after_its_answer_was_lost_is_found_whole() {
        let app = TestApp::new().await;
        let stalls = app.stalls(10, 5).await;
        let user = app.create_user().await;
        let line = |offer: &str, quantity: i64| json!({"offer_id": offer, "representation_id": stalls.rep, "quantity": quantity});
        let body = json!({"user_id": user, "lines": [line(&stalls.adult, 2), line(&stalls.child, 1), line(&stalls.parking, 1)]});
        let first = reserve(&app, "o1", &body).await.expect(StatusCode::ACCEPTED);
        lose_the_answers(&app.db.pool).await;
        let retry = reserve(&app, "o1", &body).await.expect(StatusCode::ACCEPTED);
        assert_eq!(retry["id"], first["id"]);
        assert_eq!(retry["lines"], first["lines"]);
        assert_eq!(reservation_rows(&app.db.pool).await, 3, "one row per line, once");
    }

    #[tokio::test]
    async fn another_request_under_a_released_key_is_a_new_reservation() {
        let app = TestApp::new().await;
        let (_, rep, offer) = app.on_sale(10).await;
        let user = app.create_user().await;
        let one = json!({"user_id": user, "offer_id": offer, "representation_id": rep, "quantity": 1});
        let first = reserve(&app, "r1", &one).await.expect(StatusCode::ACCEPTED);
        lose_the_answers(&app.db.pool).await;
        let two = json!({"user_id": user, "offer_id": offer, "representation_id": rep, "quantity": 2});
        let other = reserve(&app, "r1", &two).await.expect(StatusCode::ACCEPTED);
        assert_ne!(other["id"], first["id"]);
        assert_eq!(reservation_rows(&app.db.pool).await, 2);
    }
}
