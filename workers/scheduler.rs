//! `scheduler`: the periodic sweeps (holds past their time, reservations whose wake-up was lost,
//! finished jobs). Replicas are allowed: every sweep is harmless when two run at once.

use boxoffice::config::{DatabaseConfig, WorkerConfig};
use boxoffice::jobs::sweeps;
use boxoffice::{server, telemetry};
use clap::Parser;

#[derive(Parser)]
#[command(version, about = "Runs the periodic sweeps")]
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
    let pool = args.database.connect(4).await?;
    tracing::info!(every = ?sweeps::SWEEP_EVERY, "scheduler started");
    sweeps::run(pool, server::shutdown_on_signal()).await;
    tracing::info!("scheduler stopped");
    Ok(())
}
