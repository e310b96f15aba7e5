//! Passes: required, bound to their user and event, signed, expiring, one reservation in flight.

use boxoffice::db::reservations::NewReservation;
use boxoffice::domain::queue::PassClaims;
use boxoffice::services::intake::Intake;
use chrono::{Duration, Utc};
use data_encoding::BASE64URL_NOPAD;
use ed25519_dalek::{Signature, SigningKey, Verifier, VerifyingKey};
use poem::http::StatusCode;
use uuid::Uuid;

use super::queue_settings;
use crate::support::TestApp;
use crate::support::buyer::one_ticket;

/// An admitted user of a fresh queued sale: (event, representation, offer, user, entry, pass).
async fn admitted(app: &TestApp) -> (String, String, String, String, Uuid, String) {
    let (event, rep, offer) = app.queued_sale(10, 60).await;
    let user = app.create_user().await;
    let entry = app.joined(&event, &user).await;
    app.open_sale(&event).await;
    app.let_time_pass(&event, 1).await;
    app.sweep_queues().await;
    let entry = app.queue_entry(&event, &entry).await;
    let id = Uuid::parse_str(entry["id"].as_str().unwrap()).unwrap();
    (event, rep, offer, user, id, entry["pass"].as_str().expect("admitted with a pass").to_string())
}

/// The key the service signs passes with, read where it keeps it: to make an expired pass as the
/// service itself would have.
async fn pass_key(app: &TestApp) -> SigningKey {
    let secret: Vec<u8> = sqlx::query_scalar("select secret from signing_keys where purpose = 'queue passes'")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    SigningKey::from_bytes(&secret.try_into().unwrap())
}

#[tokio::test]
async fn a_reservation_behind_a_queue_needs_its_users_valid_pass() {
    let app = TestApp::new().await;
    let (event, rep, offer, user, entry, pass) = admitted(&app).await;
    app.reserve_with_pass(&user, &offer, &rep, None).await.expect_error(StatusCode::FORBIDDEN, "QUEUE_PASS_REQUIRED");
    let refused = |reply: crate::support::Reply, why: &str| {
        reply.expect_error(StatusCode::FORBIDDEN, "QUEUE_PASS_INVALID");
        let message = reply.body["error"]["message"].as_str().unwrap().to_string();
        assert!(message.contains(why), "{message} (expected: {why})");
    };
    refused(app.reserve_with_pass(&user, &offer, &rep, Some("not a pass")).await, "not one this service signed");
    refused(
        app.reserve_with_pass(&user, &offer, &rep, Some(&pass[..pass.len() - 5])).await,
        "not one this service signed",
    );
    // the payload rewritten (another user), the signature kept
    let (payload, signature) = pass.split_once('.').unwrap();
    let claims = String::from_utf8(BASE64URL_NOPAD.decode(payload.as_bytes()).unwrap()).unwrap();
    let stolen = BASE64URL_NOPAD.encode(claims.replace(&user, "mallory").as_bytes());
    refused(app.reserve_with_pass("mallory", &offer, &rep, Some(&format!("{stolen}.{signature}"))).await, "not one");
    // someone else's real pass
    let other = app.create_user().await;
    refused(app.reserve_with_pass(&other, &offer, &rep, Some(&pass)).await, "another user");
    // a pass of another event
    let (_, rep2, offer2) = app.on_sale(5).await;
    let event2: String = sqlx::query_scalar("select event_id from offers where id = $1")
        .bind(&offer2)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    app.set_queue(&event2, queue_settings(60)).await.expect(StatusCode::OK);
    refused(app.reserve_with_pass(&user, &offer2, &rep2, Some(&pass)).await, "another event");
    // a pass the service signed that has expired
    let old = PassClaims::new(entry, &event, &user, Utc::now() - Duration::seconds(1)).sign(&pass_key(&app).await);
    refused(app.reserve_with_pass(&user, &offer, &rep, Some(&old)).await, "expired");
    // a pass signed by anyone else
    let forged = PassClaims::new(entry, &event, &user, Utc::now() + Duration::minutes(5))
        .sign(&SigningKey::from_bytes(&[9; 32]));
    refused(app.reserve_with_pass(&user, &offer, &rep, Some(&forged)).await, "not one this service signed");

    let held = app.reserve_with_pass(&user, &offer, &rep, Some(&pass)).await.expect(StatusCode::ACCEPTED);
    app.allocate(&offer, &rep).await;
    assert_eq!(app.reservation(held["id"].as_str().unwrap()).await["status"], "held");
}

#[tokio::test]
async fn a_pass_allows_one_reservation_in_flight_at_a_time() {
    let app = TestApp::new().await;
    let (_, rep, offer, user, _, pass) = admitted(&app).await;
    let first = app.reserve_with_pass(&user, &offer, &rep, Some(&pass)).await.expect(StatusCode::ACCEPTED);
    app.reserve_with_pass(&user, &offer, &rep, Some(&pass))
        .await
        .expect_error(StatusCode::CONFLICT, "QUEUE_PASS_IN_USE");
    app.allocate(&offer, &rep).await;
    app.reserve_with_pass(&user, &offer, &rep, Some(&pass))
        .await
        .expect_error(StatusCode::CONFLICT, "QUEUE_PASS_IN_USE");
    app.release(first["id"].as_str().unwrap()).await.expect(StatusCode::OK);
    app.reserve_with_pass(&user, &offer, &rep, Some(&pass)).await.expect(StatusCode::ACCEPTED);
}

#[tokio::test]
async fn a_pass_the_database_clock_finds_expired_is_refused_whatever_the_api_clock_said() {
    let app = TestApp::new().await;
    let (_, rep, offer, user, entry, _) = admitted(&app).await;
    // an API process whose clock runs late let the pass through: the database judges by its own
    let intake = Intake::start(app.db.pool.clone(), &Default::default());
    let refused = intake
        .submit(NewReservation {
            queue_pass: Some((entry, Utc::now() - Duration::milliseconds(1))),
            ..one_ticket(&user, &offer, &rep)
        })
        .await
        .unwrap_err();
    assert!(
        matches!(refused, boxoffice::services::Error::Forbidden { status: "QUEUE_PASS_INVALID", .. }),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_pass_the_database_finds_expired_in_a_batch_is_refused_as_alone_and_the_others_are_stored() {
    let app = TestApp::new().await;
    let (_, rep, offer, user, entry, _) = admitted(&app).await;
    let others = app.create_users(30).await;
    let intake = Intake::start(app.db.pool.clone(), &Default::default());
    // the expired pass in the middle of one batch of the intake
    let mut batch: Vec<NewReservation> = others.iter().map(|u| one_ticket(u, &offer, &rep)).collect();
    let expired = Some((entry, Utc::now() - Duration::milliseconds(1)));
    batch.insert(15, NewReservation { queue_pass: expired, ..one_ticket(&user, &offer, &rep) });
    let answers = futures::future::join_all(batch.into_iter().map(|r| intake.submit(r))).await;
    for (i, answer) in answers.iter().enumerate() {
        if i == 15 {
            let refused = answer.as_ref().unwrap_err();
            assert!(
                matches!(refused, boxoffice::services::Error::Forbidden { status: "QUEUE_PASS_INVALID", .. }),
                "{refused:?}"
            );
        } else {
            assert!(answer.is_ok(), "{answer:?}");
        }
    }
}

#[tokio::test]
async fn a_burst_of_admitted_people_reading_their_entries_before_the_key_is_loaded_is_served() {
    let app = TestApp::new().await;
    let (event, _, _) = app.queued_sale(10, 60).await;
    let users = app.create_users(8).await;
    let mut entries = Vec::new();
    for user in &users {
        entries.push(app.joined(&event, user).await);
    }
    app.open_sale(&event).await;
    app.let_time_pass(&event, 8).await;
    app.sweep_queues().await;
    // a process of its own (its pass key not loaded yet) over a pool of two connections
    let small = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(std::time::Duration::from_secs(3))
        .connect(&app.db.url)
        .await
        .unwrap();
    let fresh = app.rewired(small, &Default::default());
    let read = futures::future::join_all(entries.iter().map(|e| fresh.queue_entry(&event, e))).await;
    assert!(read.iter().all(|e| e["pass"].is_string()), "every admitted person got their pass: {read:?}");
}

#[tokio::test]
async fn passes_verify_with_the_published_key_alone() {
    let app = TestApp::new().await;
    let (event, _, _, user, entry, pass) = admitted(&app).await;
    let key = app.get("/api/queue/public-key", None).await.expect(StatusCode::OK);
    let bytes = BASE64URL_NOPAD.decode(key["public_key_base64url"].as_str().unwrap().as_bytes()).unwrap();
    let key = VerifyingKey::from_bytes(&bytes.try_into().unwrap()).unwrap();
    let (payload, signature) = pass.split_once('.').unwrap();
    let payload = BASE64URL_NOPAD.decode(payload.as_bytes()).unwrap();
    let signature = Signature::from_slice(&BASE64URL_NOPAD.decode(signature.as_bytes()).unwrap()).unwrap();
    key.verify(&payload, &signature).expect("the pass verifies with the published key");
    let claims: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(claims["user_id"], user.as_str());
    assert_eq!(claims["event_id"], event.as_str());
    assert_eq!(claims["entry_id"], entry.to_string());
}
