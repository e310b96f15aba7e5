//! The draw: recomputed from the public endpoints by the script in the repository.

use poem::http::StatusCode;
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::{EndpointExt, Server};
use serde_json::Value;

use crate::support::TestApp;

/// Serves the app's database over real HTTP on a free loopback port; returns the base URL.
pub(super) async fn serve(app: &TestApp) -> String {
    let acceptor = TcpListener::bind("127.0.0.1:0").into_acceptor().await.expect("binds");
    let local = *acceptor.local_addr()[0].as_socket_addr().expect("a TCP address");
    let endpoint = boxoffice::http::app(app.db.pool.clone(), boxoffice::http::Limits::default()).map_to_response();
    tokio::spawn(Server::new_with_acceptor(acceptor).run(endpoint));
    format!("http://{local}")
}

#[tokio::test]
async fn the_script_in_the_repository_recomputes_the_draw_from_the_public_endpoints() {
    let app = TestApp::new().await;
    let (event, _, _) = app.queued_sale(100, 60).await;
    let before = app.get(&format!("/api/events/{event}/queue"), None).await.expect(StatusCode::OK);
    let mut entries = vec![];
    for user in app.create_users(40).await {
        entries.push(app.joined(&event, &user).await);
    }
    app.open_sale(&event).await;
    let after = app.get(&format!("/api/events/{event}/queue"), None).await.expect(StatusCode::OK);
    assert_eq!(after["seed_commitment"], before["seed_commitment"], "the commitment never changes");
    assert_eq!(after["counts"]["waiting"], 40);
    let draw = app.get(&format!("/api/events/{event}/queue/draw"), None).await.expect(StatusCode::OK);
    assert_eq!(draw["seed"], after["seed"]);
    assert_eq!(draw["entries"].as_array().unwrap().len(), 40);
    // an entry's position is its place in the published draw
    let last: &Value = &entries[39];
    let place = draw["entries"].as_array().unwrap().iter().position(|id| *id == last["id"]).unwrap() as i64 + 1;
    assert_eq!(app.queue_entry(&event, last).await["position"], place);

    let base = serve(&app).await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/verify_draw.py");
    let entry = last["id"].as_str().unwrap().to_string();
    let run = tokio::process::Command::new("python3")
        .args([script, &base, &event, &entry])
        .output()
        .await
        .expect("python3 runs");
    let out = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "the script refused the draw:\n{out}{}", String::from_utf8_lossy(&run.stderr));
    assert_eq!(out.lines().filter(|l| l.starts_with("ok")).count(), 5, "{out}");

    // a tampered order is caught: the first drawn moved to the end
    sqlx::query("update queue_entries set place = 1000 where event_id = $1 and place = 1")
        .bind(&event)
        .execute(&app.db.pool)
        .await
        .unwrap();
    let run = tokio::process::Command::new("python3").args([script, &base, &event]).output().await.unwrap();
    assert!(!run.status.success(), "the script must refuse a changed order:\n{}", String::from_utf8_lossy(&run.stdout));
}
