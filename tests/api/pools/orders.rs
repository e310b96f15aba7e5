//! Orders of several lines: all or nothing at their turn, one hold, one confirm, one release, one
//! expiry, tickets per line.

use futures::future::join_all;
use poem::http::StatusCode;
use serde_json::json;
use uuid::Uuid;

use crate::support::TestApp;

/// Decides every pending request of the representation's pools, as the workers would.
async fn decide(app: &TestApp, items: &[(&str, &str)]) {
    for (offer, rep) in items {
        app.allocate(offer, rep).await;
    }
}

#[tokio::test]
async fn an_order_of_two_offers_of_one_pool_is_held_whole_and_answers_every_line() {
    let app = TestApp::new().await;
    let s = app.stalls(10, 5).await;
    let user = app.create_user().await;
    let queued = app.order(&user, &[(&s.adult, &s.rep, 2), (&s.child, &s.rep, 2)]).await.expect(StatusCode::ACCEPTED);
    assert_eq!(queued["status"], "pending");
    assert_eq!(queued["quantity"], 4, "the top-level quantity counts every line");
    assert_eq!(queued["offer_id"], json!(s.adult), "the top level names the first line");
    assert_eq!(
        queued["lines"],
        json!([
            {"offer_id": s.adult, "representation_id": s.rep, "quantity": 2, "seats": null},
            {"offer_id": s.child, "representation_id": s.rep, "quantity": 2, "seats": null},
        ])
    );
    decide(&app, &[(&s.adult, &s.rep)]).await;
    let held = app.reservation(queued["id"].as_str().unwrap()).await;
    assert_eq!(held["status"], "held");
    assert!(held["line"].is_null());
    assert_eq!(app.pool_books(&s.stalls).await, (10, 6, 4, 0));
    assert_eq!(app.partial_orders().await, 0);
}

#[tokio::test]
async fn an_order_with_one_line_short_is_rejected_whole_naming_that_line_and_holds_nothing() {
    let app = TestApp::new().await;
    let s = app.stalls(3, 5).await;
    let user = app.create_user().await;
    let lines = [(s.adult.as_str(), s.rep.as_str(), 2), (s.child.as_str(), s.rep.as_str(), 2)];
    let id = app.order(&user, &lines).await.expect(StatusCode::ACCEPTED)["id"].as_str().unwrap().to_string();
    decide(&app, &[(&s.adult, &s.rep)]).await;
    let rejected = app.reservation(&id).await;
    assert_eq!(rejected["status"], "rejected");
    assert_eq!(rejected["reason"], "SOLD_OUT");
    assert_eq!(rejected["line"], 1, "the first line that did not fit");
    assert_eq!(app.pool_books(&s.stalls).await, (3, 3, 0, 0), "no unit held, not even the first line's");
    assert_eq!(app.partial_orders().await, 0);
    // the next buyer, who fits, gets the units the rejected order did not keep
    let next = app.create_user().await;
    let id = app.order(&next, &[(&s.child, &s.rep, 3)]).await.expect(StatusCode::ACCEPTED)["id"].clone();
    decide(&app, &[(&s.child, &s.rep)]).await;
    assert_eq!(app.reservation(id.as_str().unwrap()).await["status"], "held");
}

#[tokio::test]
async fn an_order_across_two_pools_is_held_in_both_or_in_neither() {
    let app = TestApp::new().await;
    let s = app.stalls(10, 1).await;
    let (first, second) = (app.create_user().await, app.create_user().await);
    let one = app.order(&first, &[(&s.adult, &s.rep, 2), (&s.parking, &s.rep, 1)]).await.expect(StatusCode::ACCEPTED);
    let two = app.order(&second, &[(&s.child, &s.rep, 1), (&s.parking, &s.rep, 1)]).await.expect(StatusCode::ACCEPTED);
    // whichever pool's worker runs, each order is decided in its turn in both
    decide(&app, &[(&s.parking, &s.rep), (&s.adult, &s.rep)]).await;
    assert_eq!(app.reservation(one["id"].as_str().unwrap()).await["status"], "held");
    let refused = app.reservation(two["id"].as_str().unwrap()).await;
    assert_eq!((refused["status"].as_str(), refused["line"].as_i64()), (Some("rejected"), Some(1)));
    assert_eq!(app.pool_books(&s.stalls).await, (10, 8, 2, 0), "the refused order's stalls line holds nothing");
    assert_eq!(app.pool_books(&s.parking_pool).await, (1, 0, 1, 0));
}

#[tokio::test]
async fn forty_concurrent_two_line_orders_on_a_pool_of_20_give_10_held_30_rejected_none_partial() {
    let app = TestApp::new().await;
    let s = app.stalls(20, 1).await;
    let users = app.create_users(40).await;
    let _workers = app.start_workers();
    let lines = [(s.adult.as_str(), s.rep.as_str(), 1), (s.child.as_str(), s.rep.as_str(), 1)];
    let orders = join_all(users.iter().map(|u| app.order(u, &lines))).await;
    let ids: Vec<String> =
        orders.into_iter().map(|r| r.expect(StatusCode::ACCEPTED)["id"].as_str().unwrap().to_string()).collect();
    let decided = join_all(ids.iter().map(|id| app.decided(id))).await;
    let held = decided.iter().filter(|r| r["status"] == "held").count();
    let rejected = decided.iter().filter(|r| r["status"] == "rejected").count();
    assert_eq!((held, rejected), (10, 30));
    assert!(decided.iter().filter(|r| r["status"] == "rejected").all(|r| r["reason"] == "SOLD_OUT"));
    assert_eq!(app.pool_books(&s.stalls).await, (20, 0, 20, 0));
    assert_eq!(app.partial_orders().await, 0);
    // held in arrival order: every held order came before every rejected one
    let seq_of = |status: &str| {
        let ids: Vec<Uuid> = (decided.iter())
            .filter(|r| r["status"] == status)
            .map(|r| r["id"].as_str().unwrap().parse().unwrap())
            .collect();
        ids
    };
    let last_held: i64 = sqlx::query_scalar("select max(seq) from reservations where id = any($1)")
        .bind(seq_of("held"))
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    let first_rejected: i64 = sqlx::query_scalar("select min(seq) from reservations where id = any($1)")
        .bind(seq_of("rejected"))
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert!(last_held < first_rejected, "orders are decided in arrival order");
}

#[tokio::test]
async fn releasing_or_expiring_an_order_gives_every_line_back_to_its_pool_at_once() {
    let app = TestApp::new().await;
    let s = app.stalls(10, 2).await;
    let (a, b) = (app.create_user().await, app.create_user().await);
    let lines = [(s.adult.as_str(), s.rep.as_str(), 2), (s.parking.as_str(), s.rep.as_str(), 1)];
    let released = app.order(&a, &lines).await.expect(StatusCode::ACCEPTED)["id"].as_str().unwrap().to_string();
    let expiring = app.order(&b, &lines).await.expect(StatusCode::ACCEPTED)["id"].as_str().unwrap().to_string();
    decide(&app, &[(&s.adult, &s.rep)]).await;
    assert_eq!(app.pool_books(&s.stalls).await, (10, 6, 4, 0));
    assert_eq!(app.pool_books(&s.parking_pool).await, (2, 0, 2, 0));

    let body = app.release(&released).await.expect(StatusCode::OK);
    assert_eq!(body["status"], "released");
    assert_eq!(body["lines"].as_array().unwrap().len(), 2);
    assert_eq!(app.pool_books(&s.stalls).await, (10, 8, 2, 0));
    assert_eq!(app.pool_books(&s.parking_pool).await, (2, 1, 1, 0));

    sqlx::query("update reservations set hold_expires_at = now() - interval '1 second' where order_id = $1::uuid")
        .bind(&expiring)
        .execute(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(app.reservation(&expiring).await["status"], "expired", "a lapsed order reads expired at once");
    // the expiry job of either line's item ends the whole order
    boxoffice::services::expiry::expire_item(&app.db.pool, &s.parking, &s.rep).await.unwrap();
    assert_eq!(app.pool_books(&s.stalls).await, (10, 10, 0, 0));
    assert_eq!(app.pool_books(&s.parking_pool).await, (2, 2, 0, 0));
    assert_eq!(app.partial_orders().await, 0);
    app.confirm(&expiring).await.expect_error(StatusCode::CONFLICT, "HOLD_EXPIRED");
}

#[tokio::test]
async fn a_confirmed_order_gets_one_ticket_per_unit_per_line_and_a_cancel_gives_every_line_back() {
    let app = TestApp::new().await;
    let s = app.stalls(10, 2).await;
    let user = app.create_user().await;
    let lines = [(s.adult.as_str(), s.rep.as_str(), 2), (s.child.as_str(), s.rep.as_str(), 1)];
    let id = app.order(&user, &lines).await.expect(StatusCode::ACCEPTED)["id"].as_str().unwrap().to_string();
    decide(&app, &[(&s.child, &s.rep)]).await;
    let confirmed = app.confirm(&id).await.expect(StatusCode::OK);
    assert_eq!(confirmed["status"], "confirmed");
    assert_eq!(app.pool_books(&s.stalls).await, (10, 7, 0, 3));
    boxoffice::services::issuance::issue(&app.db.pool, id.parse().unwrap()).await.unwrap();
    assert_eq!(app.reservation(&id).await["status"], "fulfilled");
    let tickets = app.get(&format!("/api/reservations/{id}/tickets"), Some(&app.client)).await.expect(StatusCode::OK);
    let offers: Vec<&str> = tickets.as_array().unwrap().iter().map(|t| t["offer_id"].as_str().unwrap()).collect();
    assert_eq!(offers, [s.adult.as_str(), s.adult.as_str(), s.child.as_str()], "one ticket per unit, naming its offer");
    assert!(tickets.as_array().unwrap().iter().all(|t| t["reservation_id"] == json!(id)));
    // issuing again issues nothing more
    boxoffice::services::issuance::issue(&app.db.pool, id.parse().unwrap()).await.unwrap();
    let again = app.get(&format!("/api/reservations/{id}/tickets"), Some(&app.client)).await.expect(StatusCode::OK);
    assert_eq!(again.as_array().unwrap().len(), 3);

    // voiding one ticket gives its unit back; cancelling gives back the rest
    let code = tickets[2]["code"].as_str().unwrap();
    let void = json!({"reason": "the child could not come"});
    app.post(&format!("/api/tickets/{code}/void"), Some(&app.admin), void).await.expect(StatusCode::OK);
    assert_eq!(app.pool_books(&s.stalls).await, (10, 8, 0, 2));
    let cancel = json!({"reason": "the family could not come"});
    let cancelled = app.post(&format!("/api/reservations/{id}/cancel"), Some(&app.admin), cancel).await;
    assert_eq!(cancelled.expect(StatusCode::OK)["status"], "cancelled");
    assert_eq!(app.pool_books(&s.stalls).await, (10, 10, 0, 0));
    let report = app.get(&format!("/api/events/{}/report", s.event), Some(&app.admin)).await.expect(StatusCode::OK);
    let refunded: i64 = report["lines"].as_array().unwrap().iter().map(|l| l["refunded"].as_i64().unwrap()).sum();
    assert_eq!(refunded, 3, "every unit refunded once");
}

#[tokio::test]
async fn order_limits_and_shapes_are_422s_that_name_the_line() {
    let app = TestApp::new().await;
    let s = app.stalls(100, 5).await;
    let user = app.create_user().await;
    let loc_of = |reply: crate::support::Reply| {
        reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
        reply.body["error"]["details"][0]["loc"].clone()
    };
    // each offer's maximum per line (Adult: 6)
    let reply = app.order(&user, &[(&s.child, &s.rep, 1), (&s.adult, &s.rep, 7)]).await;
    assert_eq!(loc_of(reply), json!(["body", "lines", "1", "quantity"]));
    // the event's maximum over all lines (default 10)
    let reply = app.order(&user, &[(&s.adult, &s.rep, 6), (&s.child, &s.rep, 5)]).await;
    assert_eq!(loc_of(reply), json!(["body", "lines"]));
    let event_path = format!("/api/events/{}", s.event);
    let event = app.patch(&event_path, Some(&app.admin), json!({"max_tickets_per_order": 12})).await;
    assert_eq!(event.expect(StatusCode::OK)["max_tickets_per_order"], 12);
    let reply = app.patch(&event_path, Some(&app.admin), json!({"max_tickets_per_order": 0})).await;
    reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
    app.order(&user, &[(&s.adult, &s.rep, 6), (&s.child, &s.rep, 4)]).await.expect(StatusCode::ACCEPTED);
    // one event per order
    let (_, other_rep, other_offer) = app.on_sale(5).await;
    let reply = app.order(&user, &[(&s.adult, &s.rep, 1), (&other_offer, &other_rep, 1)]).await;
    assert_eq!(loc_of(reply), json!(["body", "lines", "1", "offer_id"]));
    // 1 to 10 lines, items in the lines only
    let eleven: Vec<(&str, &str, i64)> = (0..11).map(|_| (s.adult.as_str(), s.rep.as_str(), 1)).collect();
    assert_eq!(app.order(&user, &eleven).await.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.order(&user, &[]).await.status, StatusCode::UNPROCESSABLE_ENTITY);
    let both = json!({"user_id": user, "offer_id": s.adult, "representation_id": s.rep,
                      "lines": [{"offer_id": s.adult, "representation_id": s.rep, "quantity": 1}]});
    let reply = app.post("/api/reservations", Some(&app.client), both).await;
    assert_eq!(loc_of(reply), json!(["body", "offer_id"]));
    // a line of an item with no stock says which line
    let unsold = app.named_offer(&s.event, "Box", 9000, 4).await;
    let reply = app.order(&user, &[(&s.adult, &s.rep, 1), (&unsold, &s.rep, 1)]).await;
    reply.expect_error(StatusCode::CONFLICT, "NOT_ON_SALE");
    // nothing above was stored but the one order that fitted the limits
    let stored: i64 = sqlx::query_scalar("select count(distinct coalesce(order_id, id)) from reservations")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(stored, 1);
}

#[tokio::test]
async fn an_order_whose_other_pool_is_busy_waits_for_it_and_is_decided_whole() {
    let app = TestApp::new().await;
    // pools are locked in ascending id order: "parking" comes before "stalls"
    let s = app.stalls(10, 1).await;
    let user = app.create_user().await;
    let lines = [(s.adult.as_str(), s.rep.as_str(), 2), (s.parking.as_str(), s.rep.as_str(), 1)];
    let id = app.order(&user, &lines).await.expect(StatusCode::ACCEPTED)["id"].as_str().unwrap().to_string();
    // another transaction holds the parking while the stalls' worker runs
    let parking = app.lock_item(&s.parking, &s.rep).await;
    let run = tokio::spawn({
        let pool = app.db.pool.clone();
        let (offer, rep) = (s.adult.clone(), s.rep.clone());
        async move { boxoffice::services::allocation::allocate_item(&pool, &offer, &rep).await.unwrap() }
    });
    app.someone_waits_for_a_lock().await;
    assert_eq!(app.reservation(&id).await["status"], "pending", "nothing of the order is decided yet");
    assert_eq!(app.pool_books(&s.stalls).await, (10, 10, 0, 0));
    parking.release().await;
    let outcome = run.await.unwrap();
    assert_eq!(outcome.held, 1);
    assert_eq!(app.reservation(&id).await["status"], "held");
    assert_eq!(app.pool_books(&s.stalls).await, (10, 8, 2, 0));
    assert_eq!(app.pool_books(&s.parking_pool).await, (1, 0, 1, 0));
}
