//! Serving HTTP/1.1 connections to the poem application with hyper directly.
//!
//! poem's `Server` splits every connection into boxed halves (`tokio::io::split`), which hides
//! vectored writes from hyper, so each body chunk is copied into hyper's buffer before it is
//! written, and it sets no `TCP_NODELAY`, so an event written while the previous one is
//! unacknowledged waits for the client's delayed ACK. A live stream writes small chunks to
//! thousands of connections: here the socket goes to hyper as it is (`writev`, no copy), with
//! `TCP_NODELAY`, and a client has 75 s to send a request's head.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use poem::endpoint::{BoxEndpoint, Endpoint};
use poem::http::uri::Scheme;
use poem::web::{LocalAddr, RemoteAddr};
use poem::{Addr, Response};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// What a response's body is to hyper.
type Body = http_body_util::combinators::BoxBody<bytes::Bytes, std::io::Error>;

/// Time a client has to send a request's head, counted from the end of its previous request on
/// the connection: a connection left idle this long is closed too (nginx's default keep-alive
/// time; clients' pools keep idle connections up to 90 s and open a new one when it is closed).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(75);

/// Serves `app` on `addr` until `shutdown`; then every connection finishes the request it is
/// serving (at most `grace`, after which the rest are dropped) and keeps no connection alive.
pub async fn serve(
    addr: SocketAddr,
    app: BoxEndpoint<'static, Response>,
    shutdown: CancellationToken,
    grace: Duration,
) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    let local = LocalAddr(Addr::SocketAddr(listener.local_addr()?));
    tracing::info!(addr = %local.0, "listening");
    let app = Arc::new(app);
    let connections = TaskTracker::new();
    let cut_off = CancellationToken::new();
    loop {
        let (socket, peer) = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // out of file descriptors, or a connection reset before it was accepted:
                    // the listener itself is fine, and a moment later there may be room
                    tracing::warn!(error = %e, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let connection = Connection { app: app.clone(), local: local.clone(), peer };
        let (shutdown, cut_off) = (shutdown.clone(), cut_off.clone());
        connections.spawn(async move {
            tokio::select! {
                _ = connection.serve(socket, shutdown) => {}
                _ = cut_off.cancelled() => {}
            }
        });
    }
    drop(listener);
    connections.close();
    tracing::info!(open = connections.len(), "no new connections; finishing the requests in flight");
    if tokio::time::timeout(grace, connections.wait()).await.is_err() {
        tracing::warn!(open = connections.len(), "requests still in flight after the grace period: cut off");
        cut_off.cancel();
        connections.wait().await;
    }
    Ok(())
}

struct Connection {
    app: Arc<BoxEndpoint<'static, Response>>,
    local: LocalAddr,
    peer: SocketAddr,
}

impl Connection {
    async fn serve(self, socket: TcpStream, shutdown: CancellationToken) {
        if let Err(e) = socket.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY could not be set");
        }
        let Connection { app, local, peer } = self;
        let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let app = app.clone();
            let request =
                poem::Request::from((request, local.clone(), RemoteAddr(Addr::SocketAddr(peer)), Scheme::HTTP));
            async move { Ok::<hyper::Response<Body>, Infallible>(app.get_response(request).await.into()) }
        });
        let mut builder = http1::Builder::new();
        builder.timer(TokioTimer::new()).header_read_timeout(HEADER_READ_TIMEOUT).writev(true);
        let connection = builder.serve_connection(TokioIo::new(socket), service);
        tokio::pin!(connection);
        tokio::select! {
            served = connection.as_mut() => return log_end(served),
            _ = shutdown.cancelled() => {}
        }
        // the request being served finishes; the connection is not kept alive after it
        connection.as_mut().graceful_shutdown();
        log_end(connection.await);
    }
}

fn log_end(served: hyper::Result<()>) {
    if let Err(e) = served {
        // a client going away mid-request or sending garbage is no server error
        tracing::debug!(error = %e, "connection ended with an error");
    }
}
