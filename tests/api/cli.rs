//! The `boxoffice` binary's commands, run as a user would, against a test database.

use std::process::Command;

use poem::http::StatusCode;

use crate::support::TestApp;

fn boxoffice(database_url: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_boxoffice")).args(args).env("DATABASE_URL", database_url).output().unwrap()
}

#[tokio::test]
async fn keys_create_prints_a_key_that_works_once_with_its_role() {
    let app = TestApp::new().await;
    let out = boxoffice(&app.db.url, &["keys", "create", "--role", "organizer", "--organization", "BILLY"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let key = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let body = serde_json::json!({"title": "Own show", "venue_name": "Zenith"});
    let event = app.post("/api/events", Some(&key), body).await.expect(StatusCode::CREATED);
    assert_eq!(event["organization_id"], "BILLY");
    let out = boxoffice(&app.db.url, &["keys", "create", "--role", "organizer"]);
    assert!(!out.status.success(), "an organizer key needs an organization");
}

#[tokio::test]
async fn import_loads_the_fixture_and_availability_shows_it() {
    let app = TestApp::new().await;
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/catalog");
    let out = boxoffice(&app.db.url, &["import", dir]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed = String::from_utf8(out.stdout).unwrap();
    assert!(printed.contains("events: 10 (10 new"), "{printed}");
    assert!(printed.contains("inventory: 28 (28 new"), "{printed}");
    let availability = app.get("/api/representations/rep_001/availability", None).await.expect(StatusCode::OK);
    let offers = availability["offers"].as_array().unwrap();
    assert_eq!(offers.len(), 2);
    assert_eq!(
        (offers[0]["offer_id"].as_str(), offers[0]["total"].as_i64(), offers[0]["sold"].as_i64()),
        (Some("off_001"), Some(500), Some(500))
    );
    let again = boxoffice(&app.db.url, &["import", dir]);
    assert!(String::from_utf8(again.stdout).unwrap().contains("events: 10 (0 new, 0 updated, 10 unchanged)"));
}
