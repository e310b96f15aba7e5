//! A real HTTP server on loopback that receives webhooks: it records each request with the
//! instant it arrived and answers 500 to the first `failures` of them, 204 after.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use poem::http::StatusCode;
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::{Request, Server, endpoint::make};
use tokio_util::sync::CancellationToken;

/// One request received.
#[derive(Debug, Clone)]
pub struct Received {
    pub at: Instant,
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: Vec<u8>,
}

/// Serves until dropped.
pub struct WebhookReceiver {
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
    stop: CancellationToken,
}

impl WebhookReceiver {
    /// Listens on `addr` (`127.0.0.1:0` for any free port).
    pub async fn start(addr: &str, failures: usize) -> WebhookReceiver {
        let acceptor = TcpListener::bind(addr.to_string()).into_acceptor().await.expect("the receiver binds");
        let local = *acceptor.local_addr()[0].as_socket_addr().expect("a TCP address");
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = received.clone();
        let endpoint = make(move |req: Request| {
            let log = log.clone();
            async move {
                let at = Instant::now();
                let header = |name: &str| req.header(name).unwrap_or_default().to_string();
                let (id, timestamp, signature) =
                    (header("webhook-id"), header("webhook-timestamp"), header("webhook-signature"));
                let body = req.into_body().into_vec().await.unwrap_or_default();
                let mut log = log.lock().unwrap();
                log.push(Received { at, id, timestamp, signature, body });
                if log.len() <= failures { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::NO_CONTENT }
            }
        });
        let stop = CancellationToken::new();
        let signal = stop.clone().cancelled_owned();
        tokio::spawn(Server::new_with_acceptor(acceptor).run_with_graceful_shutdown(endpoint, signal, None));
        WebhookReceiver { url: format!("http://{local}/hooks/boxoffice"), received, stop }
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// The requests once there are `n` of them (panics after 30 s).
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let received = self.received();
            if received.len() >= n {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the receiver got {} requests in 30 s, expected {n}", self.received().len());
    }
}

impl Drop for WebhookReceiver {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// A loopback port nobody listens on (free when this returns; nothing here takes it again).
pub fn unused_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}
