//! Check-in at the door: once per ticket.

use poem::http::StatusCode;
use serde_json::json;

use super::fulfilled;
use crate::support::{Reply, TestApp};

async fn scan(app: &TestApp, code: &str) -> Reply {
    app.post(&format!("/api/tickets/{code}/check-in"), Some(&app.client), json!(null)).await
}

#[tokio::test]
async fn the_first_scan_checks_in_and_a_second_is_refused_with_the_time_of_the_first() {
    let app = TestApp::new().await;
    let (_, _, tickets) = fulfilled(&app, 1).await;
    let code = tickets[0]["code"].as_str().unwrap();
    let first = scan(&app, code).await.expect(StatusCode::OK);
    assert_eq!(first["status"], "checked_in");
    let at = first["checked_in_at"].as_str().unwrap();
    let second = scan(&app, code).await;
    second.expect_error(StatusCode::CONFLICT, "ALREADY_CHECKED_IN");
    let message = second.body["error"]["message"].as_str().unwrap();
    assert!(message.contains(at), "{message} names {at}");
    let read = app.get(&format!("/api/tickets/{code}"), Some(&app.client)).await.expect(StatusCode::OK);
    assert_eq!(read["checked_in_at"], at);
}

#[tokio::test]
async fn of_two_simultaneous_scans_exactly_one_gets_in() {
    let app = TestApp::new().await;
    let (_, _, tickets) = fulfilled(&app, 1).await;
    let code = tickets[0]["code"].as_str().unwrap();
    let (a, b) = tokio::join!(scan(&app, code), scan(&app, code));
    let mut statuses = [a.status.as_u16(), b.status.as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 409]);
}

#[tokio::test]
async fn an_unknown_code_is_a_404_and_a_voided_ticket_is_refused() {
    let app = TestApp::new().await;
    for unknown in ["0000-0000-0000-0000-0000-0000-0000-0000", "nope"] {
        scan(&app, unknown).await.expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
        app.get(&format!("/api/tickets/{unknown}"), Some(&app.client))
            .await
            .expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    }
    let (_, _, tickets) = fulfilled(&app, 1).await;
    let code = tickets[0]["code"].as_str().unwrap();
    sqlx::query("update tickets set voided_at = now() where code = $1").bind(code).execute(&app.db.pool).await.unwrap();
    scan(&app, code).await.expect_error(StatusCode::CONFLICT, "TICKET_VOIDED");
    let read = app.get(&format!("/api/tickets/{code}"), Some(&app.client)).await.expect(StatusCode::OK);
    assert_eq!((&read["status"], &read["checked_in_at"]), (&json!("voided"), &json!(null)));
}

#[tokio::test]
async fn code_lookups_tolerate_lower_case_missing_dashes_and_confusable_letters() {
    let app = TestApp::new().await;
    let (_, _, tickets) = fulfilled(&app, 1).await;
    let code = tickets[0]["code"].as_str().unwrap();
    let typed = code.replace('-', "").to_lowercase().replace('0', "o").replace('1', "l");
    let read = app.get(&format!("/api/tickets/{typed}"), Some(&app.client)).await.expect(StatusCode::OK);
    assert_eq!(read["code"], code);
    let checked = scan(&app, &code.to_lowercase()).await.expect(StatusCode::OK);
    assert_eq!(checked["code"], code);
}
