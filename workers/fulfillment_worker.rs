//! `fulfillment-worker`: issues the tickets of confirmed reservations, exactly once each. Run as
//! many as you like: issuances of one reservation queue on its row lock, and the tickets table
//! refuses a second ticket for a unit.

use boxoffice::config::DatabaseConfig;
use boxoffice::jobs::runtime::{self, Roles};
use boxoffice::{db, server, services, telemetry};
use clap::Parser;

#[derive(Parser)]
#[command(version, about = "Issues the tickets of confirmed reservations")]
struct Args {
    #[command(flatten)]
    database: DatabaseConfig,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = dotenvy::dotenv();
    telemetry::init();
    let args = Args::parse();
    services::signing::check_env()?;
    let pool = db::connect(args.database.required_url()?, args.database.database_max_connections).await?;
    tracing::info!("fulfillment worker started");
    runtime::run(pool, Roles { fulfillment: true, ..Roles::default() }, server::shutdown_on_signal()).await?;
    tracing::info!("fulfillment worker stopped");
    Ok(())
}
