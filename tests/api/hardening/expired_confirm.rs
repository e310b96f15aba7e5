//! A hold is decided against the clock read after the item's lock is taken: a confirm that waited
//! for the lock past the hold's end is refused.

use poem::http::StatusCode;

use crate::support::{Reply, TestApp};

/// Ends the hold now, by the database's clock: after the transaction of any request already
/// waiting began, so only a check against the clock read under the lock sees it ended.
async fn ends_now(app: &TestApp, id: &str) {
    sqlx::query("update reservations set hold_expires_at = clock_timestamp() where id = $1::uuid")
        .bind(id)
        .execute(&app.db.pool)
        .await
        .unwrap();
}

/// A live hold of the one ticket of a fresh item: (offer, representation, reservation).
async fn a_hold_of_one(app: &TestApp) -> (String, String, String) {
    let (_, rep, offer) = app.on_sale(1).await;
    let buyer = app.create_user().await;
    let id = app.reserve_now(&buyer, &offer, &rep, 1).await["id"].as_str().unwrap().to_string();
    (offer, rep, id)
}

/// Sends `request` while another connection holds the item's lock; once the request waits for
/// the lock, the hold ends and the lock is freed. The request's reply.
async fn while_the_hold_ends_under_the_lock(
    app: &TestApp,
    offer: &str,
    rep: &str,
    id: &str,
    request: impl std::future::Future<Output = Reply>,
) -> Reply {
    let busy = app.lock_item(offer, rep).await;
    let meanwhile = async {
        app.someone_waits_for_a_lock().await;
        ends_now(app, id).await;
        busy.release().await;
    };
    let ((), reply) = tokio::join!(meanwhile, request);
    reply
}

#[tokio::test]
async fn a_confirm_that_waits_for_the_lock_past_the_holds_end_is_refused_hold_expired() {
    let app = TestApp::new().await;
    let (offer, rep, id) = a_hold_of_one(&app).await;
    // the confirm was sent while the hold was live, and waits for the lock
    let reply = while_the_hold_ends_under_the_lock(&app, &offer, &rep, &id, app.confirm(&id)).await;
    reply.expect_error(StatusCode::CONFLICT, "HOLD_EXPIRED");
    assert_eq!(app.reservation(&id).await["status"], "expired");
    assert_eq!(app.books(&offer, &rep).await, (1, 1, 0, 0));
}

#[tokio::test]
async fn a_release_that_waits_for_the_lock_past_the_holds_end_finds_it_expired() {
    let app = TestApp::new().await;
    let (offer, rep, id) = a_hold_of_one(&app).await;
    let reply = while_the_hold_ends_under_the_lock(&app, &offer, &rep, &id, app.release(&id)).await;
    assert_eq!(reply.expect(StatusCode::OK)["status"], "expired");
    assert_eq!(app.books(&offer, &rep).await, (1, 1, 0, 0));
}
