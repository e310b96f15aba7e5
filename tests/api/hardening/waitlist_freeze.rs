//! No waiting list can freeze an item's sales: freed stock goes to each waiting person who fits,
//! in line order, and whatever is left is on public sale.

use poem::http::StatusCode;

use crate::support::TestApp;

#[tokio::test]
async fn tickets_too_few_for_the_party_waiting_go_back_on_public_sale() {
    let app = TestApp::new().await;
    let (_, rep, offer) = app.on_sale(2).await;
    let (holder, party, buyer) = (app.create_user().await, app.create_user().await, app.create_user().await);
    let hold = app.reserve_now(&holder, &offer, &rep, 2).await;
    assert_eq!(hold["status"], "held");
    app.join_waitlist(&offer, &rep, &party, 3).await.expect(StatusCode::OK);
    app.release(hold["id"].as_str().unwrap()).await.expect(StatusCode::OK);
    // the party of 3 does not fit in 2: nobody is offered anything, and the 2 are on sale
    assert_eq!(app.waitlist_entries_of(&party).await[0]["status"], "waiting");
    let bought = app.reserve_now(&buyer, &offer, &rep, 2).await;
    assert_eq!(bought["status"], "held", "{bought:#}");
    assert_eq!(app.books(&offer, &rep).await, (2, 0, 2, 0));
}

#[tokio::test]
async fn an_item_without_stock_has_no_list_to_join_and_its_seats_sell_once_added() {
    let app = TestApp::new().await;
    let (_, rep, offer) = app.create_catalog("BILLY").await;
    let early = app.create_user().await;
    let reply = app.join_waitlist(&offer, &rep, &early, 1).await;
    reply.expect_error(StatusCode::BAD_REQUEST, "WAITLIST_NOT_AVAILABLE");
    assert!(reply.body["error"]["message"].as_str().unwrap().starts_with("Waitlist is not available - "));
    app.add_seats(&offer, &rep, &["A1", "A2"]).await;
    let held = app.reserve_seats_now(&early, &offer, &rep, &["a1"]).await;
    assert_eq!(held["status"], "held", "{held:#}");
    // a seated item has no list either, even sold out
    let other = app.create_user().await;
    assert_eq!(app.reserve_seats_now(&other, &offer, &rep, &["A2"]).await["status"], "held");
    app.join_waitlist(&offer, &rep, &other, 1).await.expect_error(StatusCode::BAD_REQUEST, "WAITLIST_NOT_AVAILABLE");
}

#[tokio::test]
async fn an_entry_left_on_a_seated_item_by_older_data_blocks_no_seat() {
    let app = TestApp::new().await;
    let (_, rep, offer) = app.create_catalog("BILLY").await;
    app.add_seats(&offer, &rep, &["A1"]).await;
    let (waiting, buyer) = (app.create_user().await, app.create_user().await);
    sqlx::query(
        "insert into waitlist_entries (id, user_id, offer_id, representation_id, requested_quantity, line_no)
         values (gen_random_uuid(), $1, $2, $3, 1, 1)",
    )
    .bind(&waiting)
    .bind(&offer)
    .bind(&rep)
    .execute(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(app.reserve_seats_now(&buyer, &offer, &rep, &["A1"]).await["status"], "held");
}

#[tokio::test]
async fn promotion_reaches_the_first_person_who_fits_however_far_back() {
    let app = TestApp::new().await;
    let (_, rep, offer) = app.on_sale(3).await;
    let holder = app.create_user().await;
    let one = app.reserve_now(&holder, &offer, &rep, 1).await;
    app.reserve_now(&holder, &offer, &rep, 2).await;
    // 700 people who want 2 each, then one who wants 1
    let users = app.create_users(701).await;
    for (i, user) in users.iter().enumerate() {
        let quantity = if i < 700 { 2 } else { 1 };
        app.join_waitlist(&offer, &rep, user, quantity).await.expect(StatusCode::OK);
    }
    app.release(one["id"].as_str().unwrap()).await.expect(StatusCode::OK);
    let last = app.waitlist_entries_of(&users[700]).await;
    assert_eq!(last[0]["status"], "offered", "{last:#?}");
    assert_eq!(app.waitlist_entries_of(&users[0]).await[0]["status"], "waiting");
    assert_eq!(app.books(&offer, &rep).await, (3, 0, 3, 0));
}
