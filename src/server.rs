//! Serving the API until shutdown is asked for.

use poem::EndpointExt;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::config::HttpConfig;
use crate::services::batch::Tasks;
use crate::services::reads::{Reads, Replica};

/// Serves until `shutdown` is cancelled, then lets in-flight requests finish: the batchers answer
/// what they already took and refuse what comes after (503), and are waited for.
/// Public reads go to `replica` while it keeps up.
pub async fn serve(
    pool: PgPool,
    replica: Option<Replica>,
    config: &HttpConfig,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let tasks = Tasks::new(shutdown.clone());
    let reads = match replica {
        Some(replica) => Reads::with_replica(pool.clone(), replica, &tasks),
        None => Reads::primary(pool.clone()),
    };
    let app = crate::http::app_on(pool, reads, config.limits()?, &tasks);
    let app = app.map_to_response().boxed();
    let served = crate::http::connections::serve(config.bind_addr, app, shutdown, config.shutdown_timeout()).await;
    // the server ended on its own (it could not bind): the batchers end with it
    tasks.shutdown.cancel();
    tasks.drained().await;
    served?;
    Ok(())
}

/// A token cancelled on Ctrl-C or SIGTERM.
pub fn shutdown_on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .expect("a SIGTERM handler can be installed");
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!("shutdown requested");
        cancel.cancel();
    });
    token
}
