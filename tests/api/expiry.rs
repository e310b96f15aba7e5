//! Holds end on the database's clock: expired for every read and write at once, stock back by a
//! job scheduled for the time, or by the sweep.

use poem::http::StatusCode;
use serde_json::json;

use crate::support::TestApp;

/// A held reservation of `quantity` on a fresh item of `stock`; returns (offer, rep, reservation).
async fn held(app: &TestApp, stock: i64, quantity: i32) -> (String, String, String) {
    let (_, rep, offer) = app.on_sale(stock).await;
    let user = app.create_user().await;
    let body =
        json!({"user_id": user, "offer_id": offer, "representation_id": rep, "quantity": quantity, "hold_minutes": 1});
    let reply = app.post("/api/reservations", Some(&app.client), body).await.expect(StatusCode::ACCEPTED);
    let id = reply["id"].as_str().unwrap().to_string();
    services_allocate(app, &offer, &rep).await;
    (offer, rep, id)
}

async fn services_allocate(app: &TestApp, offer: &str, rep: &str) {
    boxoffice::services::allocation::allocate_item(&app.db.pool, offer, rep).await.unwrap();
}

/// Moves a hold's end to `seconds` from now (negative: in the past), as time passing would.
async fn hold_ends_in(app: &TestApp, id: &str, seconds: f64) {
    sqlx::query("update reservations set hold_expires_at = now() + make_interval(secs => $2) where id = $1::uuid")
        .bind(id)
        .bind(seconds)
        .execute(&app.db.pool)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_lapsed_hold_reads_expired_and_is_not_counted_held_before_any_job_runs() {
    let app = TestApp::new().await;
    let (offer, rep, id) = held(&app, 10, 3).await;
    assert_eq!(app.books(&offer, &rep).await, (10, 7, 3, 0));
    hold_ends_in(&app, &id, -1.0).await;
    let read = app.reservation(&id).await;
    assert_eq!(read["status"], "expired");
    let availability = app.get(&format!("/api/representations/{rep}/availability"), None).await.expect(StatusCode::OK);
    let line = &availability["offers"][0];
    assert_eq!(
        (line["available"].as_i64(), line["held"].as_i64(), line["total"].as_i64()),
        (Some(10), Some(0), Some(10))
    );
    // the stored books still hold it until a writer comes by: never counted twice
    assert_eq!(app.books(&offer, &rep).await, (10, 7, 3, 0));
}

#[tokio::test]
async fn confirming_an_expired_hold_is_refused_and_gives_the_stock_back() {
    let app = TestApp::new().await;
    let (offer, rep, id) = held(&app, 10, 3).await;
    hold_ends_in(&app, &id, -1.0).await;
    let reply = app.confirm(&id).await;
    reply.expect_error(StatusCode::CONFLICT, "HOLD_EXPIRED");
    let read = app.reservation(&id).await;
    assert_eq!(read["status"], "expired");
    assert!(read["ended_at"].is_string());
    assert_eq!(app.books(&offer, &rep).await, (10, 10, 0, 0));
    // and again: still refused, nothing moves twice
    app.confirm(&id).await.expect_error(StatusCode::CONFLICT, "HOLD_EXPIRED");
    assert_eq!(app.books(&offer, &rep).await, (10, 10, 0, 0));
}

#[tokio::test]
async fn the_expiry_job_ends_a_hold_at_its_time() {
    let app = TestApp::new().await;
    let (offer, rep, id) = held(&app, 10, 2).await;
    hold_ends_in(&app, &id, 1.0).await;
    let due: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("select hold_expires_at from reservations where id = $1::uuid")
            .bind(&id)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    let mut tx = app.db.pool.begin().await.unwrap();
    let job =
        boxoffice::domain::job::ExpireHolds { offer_id: offer.clone(), representation_id: rep.clone(), due_at: due };
    boxoffice::db::jobs::enqueue(&mut tx, &job, Some(due)).await.unwrap();
    tx.commit().await.unwrap();
    // only the expiry job can end it: no sweep runs in this test
    let stop = tokio_util::sync::CancellationToken::new();
    let roles = boxoffice::jobs::runtime::Roles { reservations: true, ..Default::default() };
    tokio::spawn(boxoffice::jobs::runtime::run(app.db.pool.clone(), roles, stop.clone()));
    let mut ended = None;
    for _ in 0..200 {
        ended = sqlx::query_scalar::<_, Option<chrono::DateTime<chrono::Utc>>>(
            "select ended_at from reservations where id = $1::uuid",
        )
        .bind(&id)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
        if ended.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    stop.cancel();
    let ended = ended.expect("the expiry job ended the hold");
    assert!(ended >= due, "never before its time");
    assert_eq!(app.books(&offer, &rep).await, (10, 10, 0, 0));
}

#[tokio::test]
async fn the_sweep_ends_holds_the_jobs_missed_and_is_harmless_twice_at_once() {
    let app = TestApp::new().await;
    let (offer, rep, id) = held(&app, 10, 4).await;
    hold_ends_in(&app, &id, -5.0).await;
    let pool = &app.db.pool;
    let (a, b) = tokio::join!(boxoffice::services::expiry::sweep(pool), boxoffice::services::expiry::sweep(pool));
    assert_eq!(a.unwrap() + b.unwrap(), 1);
    assert_eq!(app.books(&offer, &rep).await, (10, 10, 0, 0));
}

#[tokio::test]
async fn a_confirm_racing_an_expiry_has_exactly_one_winner() {
    let app = TestApp::new().await;
    for _ in 0..5 {
        let (offer, rep, id) = held(&app, 10, 1).await;
        hold_ends_in(&app, &id, 0.05).await;
        tokio::time::sleep(std::time::Duration::from_millis(40)).await;
        let path = format!("/api/reservations/{id}/confirm");
        let confirm = app.post(&path, Some(&app.client), json!({}));
        let (reply, swept) =
            tokio::join!(confirm, boxoffice::services::expiry::expire_item(&app.db.pool, &offer, &rep));
        swept.unwrap();
        let books = app.books(&offer, &rep).await;
        let read = app.reservation(&id).await;
        match reply.status {
            StatusCode::OK => {
                assert_eq!(read["status"], "confirmed");
                assert_eq!(books, (10, 9, 0, 1));
            }
            _ => {
                reply.expect_error(StatusCode::CONFLICT, "HOLD_EXPIRED");
                assert_eq!(read["status"], "expired");
                assert_eq!(books, (10, 10, 0, 0));
            }
        }
    }
}
