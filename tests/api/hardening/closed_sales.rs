//! A closed sale, or a performance that has ended, grants nothing: not to the public, not to the
//! waiting list, and nobody joins a list meanwhile.

use poem::http::StatusCode;

use crate::support::TestApp;

#[tokio::test]
async fn requests_decided_after_sales_close_are_rejected_sales_closed() {
    let app = TestApp::new().await;
    let (event, rep, offer) = app.on_sale(5).await;
    let buyer = app.create_user().await;
    let id =
        app.reserve(&buyer, &offer, &rep, 2).await.expect(StatusCode::ACCEPTED)["id"].as_str().unwrap().to_string();
    app.set_sales_open(&event, false).await;
    app.allocate(&offer, &rep).await;
    let decided = app.reservation(&id).await;
    assert_eq!((decided["status"].as_str(), decided["reason"].as_str()), (Some("rejected"), Some("SALES_CLOSED")));
    assert_eq!(app.books(&offer, &rep).await, (5, 5, 0, 0));
}

#[tokio::test]
async fn requests_decided_after_the_performance_ended_are_rejected_representation_over() {
    let app = TestApp::new().await;
    let (_, rep, offer) = app.on_sale(5).await;
    let buyer = app.create_user().await;
    let id =
        app.reserve(&buyer, &offer, &rep, 2).await.expect(StatusCode::ACCEPTED)["id"].as_str().unwrap().to_string();
    sqlx::query("update representations set starts_at = now() - interval '3 hours', ends_at = now() - interval '1 hour' where id = $1")
        .bind(&rep)
        .execute(&app.db.pool)
        .await
        .unwrap();
    app.allocate(&offer, &rep).await;
    let decided = app.reservation(&id).await;
    assert_eq!(decided["reason"], "REPRESENTATION_OVER", "{decided:#}");
}

#[tokio::test]
async fn a_ticket_freed_while_sales_are_closed_goes_to_the_list_only_when_they_reopen() {
    let app = TestApp::new().await;
    let (event, rep, offer) = app.on_sale(1).await;
    let (holder, waiting) = (app.create_user().await, app.create_user().await);
    let hold = app.reserve_now(&holder, &offer, &rep, 1).await;
    app.join_waitlist(&offer, &rep, &waiting, 1).await.expect(StatusCode::OK);
    app.set_sales_open(&event, false).await;
    app.release(hold["id"].as_str().unwrap()).await.expect(StatusCode::OK);
    assert_eq!(app.waitlist_entries_of(&waiting).await[0]["status"], "waiting");
    assert_eq!(app.books(&offer, &rep).await, (1, 1, 0, 0));
    // nobody joins a closed sale's list
    let late = app.create_user().await;
    app.join_waitlist(&offer, &rep, &late, 1).await.expect_error(StatusCode::CONFLICT, "SALES_CLOSED");
    // reopened: the scheduler's sweep hands the ticket to the person waiting
    app.set_sales_open(&event, true).await;
    boxoffice::services::expiry::sweep(&app.db.pool).await.unwrap();
    assert_eq!(app.waitlist_entries_of(&waiting).await[0]["status"], "offered");
    assert_eq!(app.books(&offer, &rep).await, (1, 0, 1, 0));
}
