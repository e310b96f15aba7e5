//! `reservation-worker`: decides pending reservations (FIFO per item, many per transaction) and
//! ends holds when their time comes. Run as many as you like: they serialize per item on the
//! database's row lock and stay correct together.

use boxoffice::config::{DatabaseConfig, WorkerConfig};
use boxoffice::jobs::runtime::{self, Roles};
use boxoffice::{server, telemetry};
use clap::Parser;

#[derive(Parser)]
#[command(version, about = "Decides pending reservations and ends expired holds")]
struct Args {
    #[command(flatten)]
    database: DatabaseConfig,
    #[command(flatten)]
    worker: WorkerConfig,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = dotenvy::dotenv();
    telemetry::init();
    let args = Args::parse();
    args.worker.serve_metrics();
    let pool = args.database.connect(args.database.database_max_connections).await?;
    tracing::info!("reservation worker started");
    runtime::run(
        pool,
        Roles { reservations: true, heartbeat: args.worker.heartbeat(), ..Default::default() },
        server::shutdown_on_signal(),
    )
    .await?;
    tracing::info!("reservation worker stopped");
    Ok(())
}
