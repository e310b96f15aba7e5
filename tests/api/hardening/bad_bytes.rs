//! Text PostgreSQL cannot store is refused at the edge in the envelope, and one caller's bad row
//! never fails the batch it was stored with.

use boxoffice::services::{Error, intake::Intake};
use futures::future::join_all;
use poem::http::StatusCode;
use serde_json::json;

use crate::support::TestApp;
use crate::support::buyer::one_ticket;

#[tokio::test]
async fn a_nul_in_a_path_a_query_or_a_body_is_a_422_not_a_500() {
    let app = TestApp::new().await;
    let (_, rep, offer) = app.on_sale(5).await;
    for path in ["/api/events/a%00b", "/api/representations/%00/availability", "/api/events?cursor=%00"] {
        let reply = app.get(path, None).await;
        reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
        assert_eq!(reply.body["error"]["details"][0]["msg"], "must not contain a NUL character");
    }
    let reply = app.get("/api/events/%FF%FE", None).await;
    reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
    let reply = app.reserve("a\u{0}b", &offer, &rep, 1).await;
    reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
    assert_eq!(reply.body["error"]["details"][0]["loc"], json!(["body", "user_id"]));
}

#[tokio::test]
async fn five_bad_requests_among_250_at_once_fail_only_themselves() {
    let app = TestApp::new().await;
    let (_, rep, offer) = app.on_sale(1000).await;
    let users = app.create_users(250).await;
    let app = &app;
    let replies = join_all(users.iter().enumerate().map(|(i, user)| {
        let user = if i % 50 == 7 { format!("{user}\u{0}") } else { user.clone() };
        let (offer, rep) = (offer.clone(), rep.clone());
        async move { app.reserve(&user, &offer, &rep, 1).await }
    }))
    .await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.status.as_u16()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 202).count(), 245, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 422).count(), 5, "{statuses:?}");
}

#[tokio::test]
async fn the_intake_batch_isolates_a_row_the_database_refuses() {
    let app = TestApp::new().await;
    let (_, rep, offer) = app.on_sale(1000).await;
    let users = app.create_users(250).await;
    let intake = Intake::start(app.db.pool.clone(), &Default::default());
    let answers = join_all(users.iter().enumerate().map(|(i, user)| {
        let user_id = if i % 50 == 7 { format!("{user}\u{0}") } else { user.clone() };
        intake.submit(one_ticket(&user_id, &offer, &rep))
    }))
    .await;
    let stored = answers.iter().filter(|a| a.is_ok()).count();
    let refused: Vec<_> = answers.iter().filter_map(|a| a.as_ref().err()).collect();
    assert_eq!(stored, 245);
    assert_eq!(refused.len(), 5);
    assert!(refused.iter().all(|e| matches!(e, Error::BadRequest { .. })), "{refused:?}");
    let pending: i64 = sqlx::query_scalar("select count(*) from reservations where status = 'pending'")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(pending, 245);
}
