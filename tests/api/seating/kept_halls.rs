//! A worker keeps each seated pool's hall between batches (a stadium's 60,000 seats are not read
//! for every batch); the pool's versions keep that copy honest. Two `Halls` play two workers.

use boxoffice::services::allocation::allocate_item_with;
use boxoffice::services::halls::Halls;
use poem::http::StatusCode;
use serde_json::{Value, json};

use super::{hall_item, seats_of};
use crate::support::TestApp;

/// Asks for `quantity` best seats and has `worker` decide; returns the decided reservation.
async fn best_by(app: &TestApp, worker: &Halls, offer: &str, rep: &str, quantity: i32) -> Value {
    let user = app.create_user().await;
    let reply = app.reserve_best(&user, offer, rep, json!({"quantity": quantity})).await;
    let id = reply.expect(StatusCode::ACCEPTED)["id"].as_str().unwrap().to_string();
    allocate_item_with(&app.db.pool, worker, offer, rep).await.expect("the decision is written");
    app.reservation(&id).await
}

#[tokio::test]
async fn a_decision_sees_the_holds_another_worker_made_a_moment_before() {
    let app = TestApp::new().await;
    let (_, rep, offer) = hall_item(&app).await;
    app.add_rows(&offer, &rep, None, &[("1", 1, 10)]).await;
    let (a, b) = (Halls::default(), Halls::default());
    let first = best_by(&app, &a, &offer, &rep, 2).await;
    assert_eq!(seats_of(&first), ["1-5", "1-6"]);
    // worker b decides the next request: its hold is in the database, not in a's copy
    let second = best_by(&app, &b, &offer, &rep, 2).await;
    assert_eq!(seats_of(&second), ["1-3", "1-4"]);
    // a's copy is older than the pool: a reads what changed before deciding, and goes on
    let third = best_by(&app, &a, &offer, &rep, 2).await;
    assert_eq!(seats_of(&third), ["1-7", "1-8"], "{third}");
    let fourth = best_by(&app, &b, &offer, &rep, 2).await;
    assert_eq!(seats_of(&fourth), ["1-1", "1-2"], "{fourth}");
    assert_eq!(app.books(&offer, &rep).await, (10, 2, 8, 0));
}

#[tokio::test]
async fn a_release_or_an_expiry_is_seen_by_the_next_decision() {
    let app = TestApp::new().await;
    let (_, rep, offer) = hall_item(&app).await;
    app.add_rows(&offer, &rep, None, &[("1", 1, 4)]).await;
    let worker = Halls::default();
    let all = best_by(&app, &worker, &offer, &rep, 4).await;
    assert_eq!(seats_of(&all), ["1-1", "1-2", "1-3", "1-4"]);
    assert_eq!(best_by(&app, &worker, &offer, &rep, 1).await["reason"], "SOLD_OUT");

    // released through the API: the worker's copy had them taken
    app.release(all["id"].as_str().unwrap()).await.expect(StatusCode::OK);
    let again = best_by(&app, &worker, &offer, &rep, 4).await;
    assert_eq!((again["status"].as_str(), seats_of(&again).len()), (Some("held"), 4), "{again}");

    // the hold lapses: the next decision ends it and sees its seats free
    sqlx::query("update reservations set hold_expires_at = now() - interval '1 second' where id = $1::uuid")
        .bind(again["id"].as_str().unwrap())
        .execute(&app.db.pool)
        .await
        .unwrap();
    let after_expiry = best_by(&app, &worker, &offer, &rep, 3).await;
    assert_eq!(seats_of(&after_expiry), ["1-1", "1-2", "1-3"], "{after_expiry}");
    assert_eq!(app.reservation(again["id"].as_str().unwrap()).await["status"], "expired");

    // cancelled after payment: the seats come back too
    app.confirm(after_expiry["id"].as_str().unwrap()).await.expect(StatusCode::OK);
    let cancel = json!({"reason": "the buyer cannot come"});
    let path = format!("/api/reservations/{}/cancel", after_expiry["id"].as_str().unwrap());
    app.post(&path, Some(&app.admin), cancel).await.expect(StatusCode::OK);
    let after_cancel = best_by(&app, &worker, &offer, &rep, 4).await;
    assert_eq!(seats_of(&after_cancel), ["1-1", "1-2", "1-3", "1-4"], "{after_cancel}");
}

#[tokio::test]
async fn a_hall_read_ahead_of_its_first_request_is_brought_up_to_date_before_deciding() {
    let app = TestApp::new().await;
    let (_, rep, offer) = hall_item(&app).await;
    app.add_rows(&offer, &rep, None, &[("1", 1, 6)]).await;
    let pool_id: String =
        sqlx::query_scalar("select pool_id from inventory where offer_id = $1 and representation_id = $2")
            .bind(&offer)
            .bind(&rep)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    let (a, b) = (Halls::default(), Halls::default());
    boxoffice::services::halls::warm(&a, &app.db.pool, &pool_id).await.unwrap();
    assert!(!a.is_cold(&pool_id), "a keeps a copy read ahead");
    assert_eq!(seats_of(&best_by(&app, &b, &offer, &rep, 2).await), ["1-3", "1-4"]);
    // a's copy was read before b's hold: a's batch applies it, and takes the next best pair
    let next = best_by(&app, &a, &offer, &rep, 2).await;
    assert_eq!(next["status"], "held", "{next}");
    assert_eq!(seats_of(&next), ["1-1", "1-2"]);
}
