//! A client key of an organization acts only for the buyers of its events; keys can be listed and
//! revoked from the command line.

use std::process::Command;

use poem::http::StatusCode;
use serde_json::json;

use crate::support::TestApp;

fn boxoffice(database_url: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_boxoffice")).args(args).env("DATABASE_URL", database_url).output().unwrap()
}

fn created_key(out: std::process::Output) -> String {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[tokio::test]
async fn a_client_key_of_an_organization_cannot_touch_another_organizations_sales() {
    let app = TestApp::new().await;
    let shop = created_key(boxoffice(&app.db.url, &["keys", "create", "--role", "client", "--organization", "BILLY"]));
    // another organization's on-sale, with a buyer's hold, a confirmed sale and a waiting list
    let (_, rep, offer) = app.on_sale(3).await;
    sqlx::query("update events set organization_id = 'OTHER'").execute(&app.db.pool).await.unwrap();
    let buyer = app.create_user().await;
    let hold = app.reserve_now(&buyer, &offer, &rep, 1).await["id"].as_str().unwrap().to_string();
    let sold = app.reserve_now(&buyer, &offer, &rep, 2).await["id"].as_str().unwrap().to_string();
    app.confirm(&sold).await.expect(StatusCode::OK);
    boxoffice::services::issuance::issue(&app.db.pool, sold.parse().unwrap()).await.unwrap();
    let waiting = app.create_user().await;
    app.join_waitlist(&offer, &rep, &waiting, 1).await.expect(StatusCode::OK);
    let ticket = app.get(&format!("/api/reservations/{sold}/tickets"), Some(&app.client)).await.expect(StatusCode::OK)
        [0]["code"]
        .as_str()
        .unwrap()
        .to_string();

    let denied = |reply: crate::support::Reply| reply.expect_error(StatusCode::FORBIDDEN, "PERMISSION_DENIED");
    denied(app.post(&format!("/api/reservations/{hold}/release"), Some(&shop), json!({})).await);
    denied(app.post(&format!("/api/reservations/{hold}/confirm"), Some(&shop), json!({})).await);
    denied(app.get(&format!("/api/reservations/{hold}"), Some(&shop)).await);
    denied(app.get(&format!("/api/reservations/{sold}/tickets"), Some(&shop)).await);
    denied(app.get(&format!("/api/tickets/{ticket}"), Some(&shop)).await);
    denied(app.post(&format!("/api/tickets/{ticket}/check-in"), Some(&shop), json!({})).await);
    let list = crate::support::buyer::waitlist_path(&offer, &rep);
    denied(app.request(poem::http::Method::DELETE, &format!("{list}/{waiting}"), Some(&shop), None).await);
    denied(app.get(&format!("{list}/{waiting}"), Some(&shop)).await);
    denied(app.get(&list, Some(&shop)).await);
    let stranger = app.create_user().await;
    let body = json!({"user_id": stranger, "offer_id": offer, "representation_id": rep, "quantity": 1});
    denied(app.post("/api/reservations", Some(&shop), body).await);
    denied(app.get(&format!("/api/users/{buyer}"), Some(&shop)).await);
    denied(app.get(&format!("/api/users/{buyer}/reservations"), Some(&shop)).await);

    // nothing moved
    assert_eq!(app.reservation(&hold).await["status"], "held");
    assert_eq!(app.waitlist_entries_of(&waiting).await[0]["status"], "waiting");
    let ticket_now = app.get(&format!("/api/tickets/{ticket}"), Some(&app.client)).await.expect(StatusCode::OK);
    assert!(ticket_now["checked_in_at"].is_null());
}

#[tokio::test]
async fn a_client_key_of_an_organization_serves_its_buyers_and_sees_only_its_part_of_their_history() {
    let app = TestApp::new().await;
    let shop = created_key(boxoffice(&app.db.url, &["keys", "create", "--role", "client", "--organization", "BILLY"]));
    let (_, own_rep, own_offer) = app.on_sale(5).await;
    let (other_event, other_rep, other_offer) = app.on_sale(5).await;
    sqlx::query("update events set organization_id = 'OTHER' where id = $1")
        .bind(&other_event)
        .execute(&app.db.pool)
        .await
        .unwrap();
    // a buyer the shop registers, who also buys elsewhere
    let email = format!("{}@buyers.test", uuid::Uuid::new_v4().simple());
    let buyer = app.post("/api/users", Some(&shop), json!({"email": email})).await.expect(StatusCode::CREATED)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let body = json!({"user_id": buyer, "offer_id": own_offer, "representation_id": own_rep, "quantity": 1});
    let own = app.post("/api/reservations", Some(&shop), body).await.expect(StatusCode::ACCEPTED)["id"].clone();
    app.allocate(&own_offer, &own_rep).await;
    app.reserve_now(&buyer, &other_offer, &other_rep, 1).await;
    app.post(&format!("/api/reservations/{}/confirm", own.as_str().unwrap()), Some(&shop), json!({}))
        .await
        .expect(StatusCode::OK);
    app.get(&format!("/api/users/{buyer}"), Some(&shop)).await.expect(StatusCode::OK);
    let theirs = app.get(&format!("/api/users/{buyer}/reservations"), Some(&shop)).await.expect(StatusCode::OK);
    let items = theirs["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{theirs:#}");
    assert_eq!(items[0]["id"], own);
    // an unscoped client key sees it all
    let all = app.get(&format!("/api/users/{buyer}/reservations"), Some(&app.client)).await.expect(StatusCode::OK);
    assert_eq!(all["items"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn keys_are_listed_without_secrets_and_a_revoked_key_stops_working() {
    let app = TestApp::new().await;
    let key = created_key(boxoffice(&app.db.url, &["keys", "create", "--role", "client", "--organization", "BILLY"]));
    let out = boxoffice(&app.db.url, &["keys", "list"]);
    assert!(out.status.success());
    let listed = String::from_utf8(out.stdout).unwrap();
    assert!(!listed.contains(&key), "a listing never shows a key");
    let line = listed.lines().find(|l| l.contains("BILLY")).expect("the new key is listed").to_string();
    assert!(line.contains("client") && line.trim_end().ends_with('-'), "{line}");
    let id = line.split_whitespace().next().unwrap().to_string();
    let out = boxoffice(&app.db.url, &["keys", "revoke", &id]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let listed = String::from_utf8(boxoffice(&app.db.url, &["keys", "list"]).stdout).unwrap();
    assert!(!listed.lines().find(|l| l.starts_with(&id)).unwrap().trim_end().ends_with('-'), "{listed}");
    // a process that never saw the key refuses it at once (running ones within their cache time)
    let fresh = poem::EndpointExt::map_to_response(boxoffice::http::app(
        app.db.pool.clone(),
        boxoffice::http::Limits::default(),
    ));
    let req = poem::Request::builder()
        .uri("/api/users/whoever".parse().unwrap())
        .header("authorization", format!("Bearer {key}"))
        .finish();
    let resp = poem::Endpoint::call(&fresh, req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(!boxoffice(&app.db.url, &["keys", "revoke", "not-a-key"]).status.success());
}
