//! `fulfillment-worker`: issues the tickets of confirmed reservations, exactly once each, and
//! delivers notifications (signed webhooks, email over SMTP) with retries and backoff. Run as many
//! as you like: issuances of one reservation queue on its row lock and the tickets table refuses a
//! second ticket for a unit; a delivery repeated after a crash carries the same notification id.

use boxoffice::config::{DatabaseConfig, WorkerConfig};
use boxoffice::jobs::runtime::{self, Roles};
use boxoffice::notifications::NotificationConfig;
use boxoffice::{server, services, telemetry};
use clap::Parser;

#[derive(Parser)]
#[command(version, about = "Issues tickets and delivers notifications")]
struct Args {
    #[command(flatten)]
    database: DatabaseConfig,
    #[command(flatten)]
    worker: WorkerConfig,
    #[command(flatten)]
    notifications: NotificationConfig,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = dotenvy::dotenv();
    telemetry::init();
    let args = Args::parse();
    args.worker.serve_metrics();
    services::signing::check_env()?;
    // invalid channel settings stop the worker here, not at the first delivery
    let notifier = args.notifications.notifier()?;
    let pool = args.database.connect(args.database.database_max_connections).await?;
    tracing::info!("fulfillment worker started");
    runtime::run(
        pool,
        Roles { fulfillment: true, notifier, heartbeat: args.worker.heartbeat(), ..Default::default() },
        server::shutdown_on_signal(),
    )
    .await?;
    tracing::info!("fulfillment worker stopped");
    Ok(())
}
