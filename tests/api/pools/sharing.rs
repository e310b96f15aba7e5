//! Offers that sell one pool: they sell out together, their waiting lists share what comes back
//! in join order, and a seated pool's seats are sold under any of them.

use poem::http::StatusCode;
use serde_json::Value;

use crate::support::TestApp;

/// The representation's availability entry of `offer`.
async fn availability_of(app: &TestApp, rep: &str, offer: &str) -> Value {
    let body = app.get(&format!("/api/representations/{rep}/availability"), None).await.expect(StatusCode::OK);
    body["offers"].as_array().unwrap().iter().find(|o| o["offer_id"] == offer).unwrap().clone()
}

#[tokio::test]
async fn a_shared_pool_sells_out_across_its_offers() {
    let app = TestApp::new().await;
    let s = app.stalls(5, 1).await;
    let users = app.create_users(3).await;
    let adult = app.reserve_now(&users[0], &s.adult, &s.rep, 3).await;
    assert_eq!(adult["status"], "held");
    for offer in [&s.adult, &s.child] {
        let entry = availability_of(&app, &s.rep, offer).await;
        assert_eq!((entry["pool_id"].as_str(), entry["available"].as_i64()), (Some("stalls"), Some(2)));
    }
    let child = app.reserve_now(&users[1], &s.child, &s.rep, 2).await;
    assert_eq!(child["status"], "held");
    let late = app.reserve_now(&users[2], &s.adult, &s.rep, 1).await;
    assert_eq!((late["status"].as_str(), late["reason"].as_str()), (Some("rejected"), Some("SOLD_OUT")));
    assert_eq!(availability_of(&app, &s.rep, &s.child).await["available"], 0);
    assert_eq!(app.pool_books("stalls").await, (5, 0, 5, 0));
}

#[tokio::test]
async fn units_coming_back_to_a_pool_go_to_its_lists_in_join_order() {
    let app = TestApp::new().await;
    let s = app.stalls(2, 1).await;
    let users = app.create_users(4).await;
    let (x, y, child_fan, adult_fan) = (&users[0], &users[1], &users[2], &users[3]);
    let first = app.reserve_now(x, &s.adult, &s.rep, 1).await;
    let second = app.reserve_now(y, &s.adult, &s.rep, 1).await;
    // sold out: a child waits first, an adult after, each on its offer's list
    app.join_waitlist(&s.child, &s.rep, child_fan, 1).await.expect(StatusCode::OK);
    app.join_waitlist(&s.adult, &s.rep, adult_fan, 1).await.expect(StatusCode::OK);

    app.release(first["id"].as_str().unwrap()).await.expect(StatusCode::OK);
    let status = |entries: Vec<Value>| entries[0]["status"].as_str().unwrap().to_string();
    assert_eq!(status(app.waitlist_entries_of(child_fan).await), "offered", "the first to join, on either list");
    assert_eq!(status(app.waitlist_entries_of(adult_fan).await), "waiting");

    app.release(second["id"].as_str().unwrap()).await.expect(StatusCode::OK);
    assert_eq!(status(app.waitlist_entries_of(adult_fan).await), "offered");
    assert_eq!(app.pool_books("stalls").await, (2, 0, 2, 0), "both units held for the people offered");
    // ranks stay per list: each was first on its own
    let entries = app.waitlist_entries_of(adult_fan).await;
    assert_eq!(entries[0]["offer_id"], Value::String(s.adult.clone()));
}

#[tokio::test]
async fn the_seats_of_one_pool_are_sold_under_two_offers() {
    let app = TestApp::new().await;
    let (event, rep, adult) = app.create_catalog("BILLY").await;
    let child = app.named_offer(&event, "Child", 2500, 4).await;
    let added = app.add_seats(&adult, &rep, &["A1", "A2", "A3", "A4"]).await;
    let pool = added["pool_id"].as_str().unwrap().to_string();
    let attached = app.attach(&child, &rep, &pool).await;
    assert_eq!((attached["seated"].as_bool(), attached["total_stock"].as_i64()), (Some(true), Some(4)));
    let users = app.create_users(3).await;

    let by_child = app.reserve_seats_now(&users[0], &child, &rep, &["A2"]).await;
    assert_eq!(by_child["status"], "held");
    let same_seat = app.reserve_seats_now(&users[1], &adult, &rep, &["A2"]).await;
    assert_eq!(same_seat["reason"], "SEAT_UNAVAILABLE", "a seat sold under one offer is gone for the other");
    let by_adult = app.reserve_seats_now(&users[1], &adult, &rep, &["A1"]).await;
    assert_eq!(by_adult["status"], "held");
    for offer in [&adult, &child] {
        assert_eq!(availability_of(&app, &rep, offer).await["available"], 2);
    }
    let body = serde_json::json!({"user_id": users[2], "offer_id": child, "representation_id": rep,
                                  "best_available": {"quantity": 2}});
    let id = app.post("/api/reservations", Some(&app.client), body).await.expect(StatusCode::ACCEPTED)["id"].clone();
    app.allocate(&child, &rep).await;
    let best = app.reservation(id.as_str().unwrap()).await;
    assert_eq!(best["seats"], serde_json::json!(["A3", "A4"]), "best available over the pool's seats");
    assert_eq!(app.pool_books(&pool).await, (4, 0, 4, 0));
}
