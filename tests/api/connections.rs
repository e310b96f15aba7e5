//! The API's own HTTP/1.1 server (`http::connections`), over real sockets: keep-alive, the
//! peer's address for the rate limits, a streamed body written as it is produced, and a graceful
//! shutdown that lets the request in flight finish and takes no new connection.

use std::net::SocketAddr;
use std::time::Duration;

use boxoffice::http::connections::serve;
use futures::StreamExt;
use poem::web::RemoteAddr;
use poem::{Body, EndpointExt, Response, Route, get, handler};
use tokio_util::sync::CancellationToken;

#[handler]
fn peer(remote: &RemoteAddr) -> String {
    remote.to_string()
}

/// Answers once it has told the test it is under way, half a second later.
#[handler]
async fn slow(arrived: poem::web::Data<&std::sync::Arc<tokio::sync::Notify>>) -> &'static str {
    arrived.notify_one();
    tokio::time::sleep(Duration::from_millis(500)).await;
    "finished"
}

/// Two chunks: the second only once the client has asked for it (by a request to `/release`).
#[handler]
fn chunks(release: poem::web::Data<&tokio::sync::watch::Sender<bool>>) -> Response {
    let mut released = release.subscribe();
    let second = async move {
        let _ = released.wait_for(|r| *r).await;
        Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"second\n"))
    };
    let first = futures::stream::once(async { Ok(bytes::Bytes::from_static(b"first\n")) });
    Response::builder().body(Body::from_bytes_stream(first.chain(futures::stream::once(second))))
}

struct Started {
    addr: SocketAddr,
    shutdown: CancellationToken,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    release: tokio::sync::watch::Sender<bool>,
    arrived: std::sync::Arc<tokio::sync::Notify>,
}

async fn started() -> Started {
    let addr: SocketAddr = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap()
    };
    let (release, _) = tokio::sync::watch::channel(false);
    let arrived = std::sync::Arc::new(tokio::sync::Notify::new());
    let app = Route::new()
        .at("/peer", get(peer))
        .at("/slow", get(slow))
        .at("/chunks", get(chunks))
        .data(release.clone())
        .data(arrived.clone())
        .map_to_response()
        .boxed();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(serve(addr, app, shutdown.clone(), Duration::from_secs(5)));
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Started { addr, shutdown, server, release, arrived }
}

#[tokio::test]
async fn requests_share_a_kept_alive_connection_and_see_the_peers_address() {
    let Started { addr, shutdown, server, .. } = started().await;
    let client = reqwest::Client::builder().no_proxy().pool_max_idle_per_host(1).build().unwrap();
    let mut peers = Vec::new();
    for _ in 0..2 {
        peers.push(client.get(format!("http://{addr}/peer")).send().await.unwrap().text().await.unwrap());
    }
    assert!(peers[0].starts_with("socket://127.0.0.1:"), "the peer's address: {}", peers[0]);
    assert_eq!(peers[0], peers[1], "one connection, kept alive, served both");
    shutdown.cancel();
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_streamed_body_reaches_the_client_as_it_is_produced() {
    let Started { addr, shutdown, server, release, .. } = started().await;
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut answer = client.get(format!("http://{addr}/chunks")).send().await.unwrap();
    let first = tokio::time::timeout(Duration::from_secs(10), answer.chunk()).await;
    assert_eq!(first.expect("the first chunk, before the second exists").unwrap().unwrap(), "first\n");
    release.send_replace(true);
    assert_eq!(answer.chunk().await.unwrap().unwrap(), "second\n");
    assert!(answer.chunk().await.unwrap().is_none(), "the body ends");
    shutdown.cancel();
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn shutting_down_finishes_the_request_in_flight_and_takes_no_new_connection() {
    let Started { addr, shutdown, server, arrived, .. } = started().await;
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let in_flight = tokio::spawn({
        let client = client.clone();
        async move { client.get(format!("http://{addr}/slow")).send().await?.text().await }
    });
    arrived.notified().await;
    shutdown.cancel();
    assert_eq!(in_flight.await.unwrap().unwrap(), "finished");
    server.await.unwrap().unwrap();
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "nothing listens any more");
}
