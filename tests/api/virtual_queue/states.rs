//! Every state an entry goes through, and admission: in place order, at the rate, stopped at
//! sell-out and resumed when stock comes back, never doubled by two sweeps.

use poem::http::StatusCode;
use serde_json::Value;

use super::state;
use crate::support::TestApp;

#[tokio::test]
async fn an_entry_goes_from_the_pre_queue_to_waiting_to_admitted_to_expired() {
    let app = TestApp::new().await;
    let (event, _, _) = app.queued_sale(10, 60).await;
    let user = app.create_user().await;
    let entry = app.joined(&event, &user).await;
    assert_eq!(state(&entry), "pre-queue");
    assert!(entry["position"].is_null() && entry["pass"].is_null(), "{entry:#}");
    // one entry per user: joining again answers the same one
    let again = app.join_queue(&event, &user).await.expect(StatusCode::OK);
    assert_eq!(again["id"], entry["id"]);
    assert_eq!(app.sweep_queues().await.drawn, 0, "nothing is drawn before the sale opens");

    assert_eq!(app.open_sale(&event).await.drawn, 1);
    let waiting = app.queue_entry(&event, &entry).await;
    assert_eq!((state(&waiting), waiting["position"].as_i64()), ("waiting", Some(1)), "{waiting:#}");
    assert_eq!(waiting["estimated_wait_seconds"], 1);

    app.let_time_pass(&event, 1).await;
    assert_eq!(app.sweep_queues().await.admitted, 1);
    let admitted = app.queue_entry(&event, &entry).await;
    assert_eq!(state(&admitted), "admitted");
    assert!(admitted["pass"].as_str().is_some_and(|p| p.contains('.')), "{admitted:#}");
    assert!(admitted["position"].is_null());

    sqlx::query("update queue_entries set pass_expires_at = now() where id = $1::uuid")
        .bind(entry["id"].as_str().unwrap())
        .execute(&app.db.pool)
        .await
        .unwrap();
    let expired = app.queue_entry(&event, &entry).await;
    assert_eq!(state(&expired), "expired");
    assert!(expired["pass"].is_null(), "an expired entry carries no pass: {expired:#}");
}

#[tokio::test]
async fn later_arrivals_queue_behind_the_drawn_pre_queue_in_arrival_order() {
    let app = TestApp::new().await;
    let (event, _, _) = app.queued_sale(10, 60).await;
    let early: Vec<Value> = {
        let mut entries = vec![];
        for user in app.create_users(8).await {
            entries.push(app.joined(&event, &user).await);
        }
        entries
    };
    app.open_sale(&event).await;
    let mut late = vec![];
    for user in app.create_users(3).await {
        let entry = app.joined(&event, &user).await;
        assert_eq!(state(&entry), "waiting");
        late.push(entry);
    }
    let positions: Vec<i64> = late.iter().map(|e| e["position"].as_i64().unwrap()).collect();
    assert_eq!(positions, [9, 10, 11]);
    let mut drawn = vec![];
    for entry in &early {
        drawn.push(app.queue_entry(&event, entry).await["position"].as_i64().unwrap());
    }
    drawn.sort();
    assert_eq!(drawn, (1..=8).collect::<Vec<_>>(), "the pre-queue holds places 1 to 8, each once");

    // admission goes in place order, and positions count down exactly
    app.let_time_pass(&event, 3).await;
    assert_eq!(app.sweep_queues().await.admitted, 3);
    assert_eq!(app.queue_entry(&event, &late[0]).await["position"], 6);
    let states: Vec<String> = {
        let mut states = vec![];
        for entry in &early {
            let read = app.queue_entry(&event, entry).await;
            states.push(format!("{}:{}", read["state"].as_str().unwrap(), read["position"]));
        }
        states
    };
    assert_eq!(states.iter().filter(|s| s.starts_with("admitted")).count(), 3, "{states:?}");
}

#[tokio::test]
async fn admission_stops_at_sell_out_and_resumes_when_stock_comes_back() {
    let app = TestApp::new().await;
    let (event, rep, offer) = app.queued_sale(2, 60).await;
    let users = app.create_users(5).await;
    let mut entries = vec![];
    for user in &users {
        entries.push(app.joined(&event, user).await);
    }
    app.open_sale(&event).await;
    app.let_time_pass(&event, 2).await;
    assert_eq!(app.sweep_queues().await.admitted, 2);
    let mut holds = vec![];
    for entry in &entries {
        let read = app.queue_entry(&event, entry).await;
        if let Some(pass) = read["pass"].as_str() {
            let user = read["user_id"].as_str().unwrap();
            let reply = app.reserve_with_pass(user, &offer, &rep, Some(pass)).await;
            holds.push(reply.expect(StatusCode::ACCEPTED)["id"].as_str().unwrap().to_string());
        }
    }
    app.allocate(&offer, &rep).await;
    assert_eq!(app.books(&offer, &rep).await.1, 0, "both tickets are held");

    // sold out: however long the wait, nobody more is let through, and the waiting are told
    app.let_time_pass(&event, 60).await;
    assert_eq!(app.sweep_queues().await.admitted, 0);
    let waiting: Vec<Value> = {
        let mut read = vec![];
        for entry in &entries {
            let e = app.queue_entry(&event, entry).await;
            if e["pass"].is_null() {
                read.push(e);
            }
        }
        read
    };
    assert_eq!(waiting.len(), 3);
    for entry in &waiting {
        assert_eq!(state(entry), "sold_out", "{entry:#}");
        let path = entry["waitlists"][0]["path"].as_str().unwrap();
        assert_eq!(path, format!("/api/offers/{offer}/representations/{rep}/waitlist"));
        assert!(entry["message"].as_str().unwrap().contains("waiting list"), "{entry:#}");
    }
    let public = app.get(&format!("/api/events/{event}/queue"), None).await.expect(StatusCode::OK);
    assert_eq!(public["sold_out"], true);

    // a hold let go: the stock is back, the sold-out wait earned nothing, admission resumes
    app.release(&holds[0]).await.expect(StatusCode::OK);
    assert_eq!(state(&app.queue_entry(&event, &waiting[0]).await), "waiting");
    assert_eq!(app.sweep_queues().await.admitted, 0, "no credit was banked while sold out");
    app.let_time_pass(&event, 1).await;
    assert_eq!(app.sweep_queues().await.admitted, 1);
}

#[tokio::test]
async fn two_sweeps_at_once_admit_at_the_rate_not_twice_it() {
    let app = TestApp::new().await;
    let (event, _, _) = app.queued_sale(100, 10).await;
    for user in app.create_users(40).await {
        app.joined(&event, &user).await;
    }
    app.open_sale(&event).await;
    app.let_time_pass(&event, 60).await;
    let (a, b) = tokio::join!(app.sweep_queues(), app.sweep_queues());
    let (c, d) = tokio::join!(app.sweep_queues(), app.sweep_queues());
    assert_eq!(a.admitted + b.admitted + c.admitted + d.admitted, 10, "a minute at 10 a minute");
    let public = app.get(&format!("/api/events/{event}/queue"), None).await.expect(StatusCode::OK);
    assert_eq!((public["counts"]["admitted"].as_i64(), public["counts"]["waiting"].as_i64()), (Some(10), Some(30)));
    assert_eq!(public["admitted_through"], 10);
}
