//! The waiting-room page in a real browser (headless Chromium, Selenium, Debian's chromedriver;
//! `tests/browser/install` installs them when missing): a pre-queue entry's page shows the
//! pre-queue; after the draw, it shows its position moving up with each admission, then arrives at
//! the shop's `return_url` with a pass that a reservation accepts.

#[path = "../../server_binaries/mod.rs"]
mod server_binaries;

use std::process::Stdio;
use std::time::Duration;

use boxoffice::domain::queue::draw_key;
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::web::Query;
use poem::{EndpointExt, Server, handler, http::StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio::sync::mpsc;

use super::draw::serve;
use crate::support::TestApp;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser/waiting_room.py");
const PEOPLE: usize = 5;

const INSTALL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser/install");

/// Installs what the browser needs if it is missing (as the failover test installs its cluster's
/// packages); what is still missing, if anything.
async fn missing_browser() -> Option<String> {
    let installed = Command::new("bash").arg(INSTALL).stdout(Stdio::null()).status().await;
    match installed {
        Ok(status) if status.success() => None,
        _ => Some("chromium, chromium-driver and python3-selenium are missing: see tests/browser/install".into()),
    }
}

/// The shop: answers its page, and hands the query it was called with to the test.
async fn shop() -> (String, mpsc::UnboundedReceiver<Vec<(String, String)>>) {
    #[handler]
    fn back(
        Query(query): Query<Vec<(String, String)>>,
        arrivals: poem::web::Data<&Arrivals>,
    ) -> poem::web::Html<&'static str> {
        let _ = arrivals.0.0.send(query);
        poem::web::Html("<!doctype html><html lang=\"en\"><title>Shop</title><h1>The shop</h1></html>")
    }
    #[derive(Clone)]
    struct Arrivals(mpsc::UnboundedSender<Vec<(String, String)>>);
    let (sender, arrivals) = mpsc::unbounded_channel();
    let acceptor = TcpListener::bind("127.0.0.1:0").into_acceptor().await.expect("the shop binds");
    let local = *acceptor.local_addr()[0].as_socket_addr().expect("a TCP address");
    let route = poem::Route::new().at("/back", poem::get(back)).data(Arrivals(sender));
    tokio::spawn(Server::new_with_acceptor(acceptor).run(route.map_to_response()));
    (format!("http://{local}/back"), arrivals)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_browser_the_waiting_room_goes_from_the_pre_queue_through_the_line_to_the_shop_with_a_pass() {
    if let Some(why) = missing_browser().await {
        server_binaries::missing(&why);
        return;
    }
    let app = TestApp::new().await;
    let (event, rep, offer) = app.queued_sale(10, 60).await;
    let (shop_url, mut arrivals) = shop().await;
    app.set_queue(&event, json!({"return_url": format!("{shop_url}?from=queue")})).await.expect(StatusCode::OK);
    let mut entries = Vec::new();
    for user in app.create_users(PEOPLE).await {
        entries.push(app.joined(&event, &user).await);
    }
    // the entry the draw will place last (the seed is the operator's to read before the draw), so
    // that the page has places to move up through
    let seed: Vec<u8> = sqlx::query_scalar("select seed from event_queues where event_id = $1")
        .bind(&event)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    let id = |e: &Value| e["id"].as_str().unwrap().parse::<uuid::Uuid>().unwrap();
    let mine = entries.iter().max_by_key(|e| draw_key(&seed, id(e))).unwrap().clone();

    let base = serve(&app).await;
    let page = format!("{base}/queue/{event}?entry={}&token={}", id(&mine), mine["token"].as_str().unwrap());
    let screenshot = std::env::var("WAITING_ROOM_SCREENSHOT").ok();
    let mut browser = Command::new("/usr/bin/python3")
        .arg(SCRIPT)
        .arg(&page)
        .arg(&shop_url)
        .args(screenshot)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the browser script starts");
    let mut said = BufReader::new(browser.stdout.take().unwrap()).lines();
    let mut next_line = async || {
        let line = tokio::time::timeout(Duration::from_secs(60), said.next_line()).await;
        line.expect("the browser says something within a minute").unwrap().unwrap_or_default()
    };
    assert_eq!(next_line().await, "pre-queue");

    // the sale opens; then, each time the page shows where it stands, one person is let through
    // (so every position is shown, however slow the machine)
    app.open_sale(&event).await;
    let mut positions = Vec::new();
    let arrived = loop {
        let line = next_line().await;
        match line.split_once(' ') {
            Some(("position", n)) => {
                positions.push(n.parse::<i64>().unwrap());
                super::live::admit_one(&app, &event).await;
            }
            Some(("arrived", url)) => break url.to_string(),
            _ => panic!("the browser said {line:?}"),
        }
    };
    assert!(browser.wait().await.unwrap().success(), "the browser script ends well");
    println!("waiting room in Chromium: the pre-queue, then positions {positions:?}, then {arrived}");
    assert_eq!(positions.first(), Some(&(PEOPLE as i64)), "the page showed the drawn position: {positions:?}");
    assert_eq!(positions, (1..=PEOPLE as i64).rev().collect::<Vec<_>>(), "it moved up one place at a time");

    // at the shop, with the pass and the entry, the shop's own query kept
    let query = tokio::time::timeout(Duration::from_secs(5), arrivals.recv()).await.unwrap().unwrap();
    let param = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    assert!(arrived.starts_with(&shop_url), "{arrived}");
    assert_eq!(param("from").as_deref(), Some("queue"));
    assert_eq!(param("entry"), Some(id(&mine).to_string()));
    let pass = param("queue_pass").expect("the pass");
    let user = mine["user_id"].as_str().unwrap();
    let reply = app.reserve_with_pass(user, &offer, &rep, Some(&pass)).await;
    assert_eq!(reply.expect(StatusCode::ACCEPTED)["status"], "pending", "the pass is accepted");
}
