//! `boxoffice`: the API server and the operator's commands.
//!
//! - `boxoffice serve`: the HTTP API.
//! - `boxoffice migrate`: apply the database migrations (ours and the job queue's).
//! - `boxoffice import DIR`: load a catalog from CSV files, all or nothing.
//! - `boxoffice keys create --role R [--organization O]`: print a new API key, once.
//! - `boxoffice dev` (what a bare `cargo run` does): everything in one process, with a private
//!   PostgreSQL when `DATABASE_URL` is not set.

use std::path::PathBuf;

use anyhow::Context;
use boxoffice::config::{DatabaseConfig, HttpConfig, ReplicaConfig};
use boxoffice::domain::{RatePolicy, Role};
use boxoffice::{db, dev, import, server, services, telemetry};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "boxoffice", version, about = "A ticketing backend for high-demand on-sales")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API.
    Serve {
        #[command(flatten)]
        database: DatabaseConfig,
        #[command(flatten)]
        replica: ReplicaConfig,
        #[command(flatten)]
        http: HttpConfig,
    },
    /// Apply the database migrations.
    Migrate {
        #[command(flatten)]
        database: DatabaseConfig,
    },
    /// Import a catalog from a directory of CSV files (events, representations, offers, inventory, users).
    Import {
        dir: PathBuf,
        #[command(flatten)]
        database: DatabaseConfig,
    },
    /// Manage API keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Everything in one process, for a laptop or a demo.
    Dev(dev::DevConfig),
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create a key and print it (it is stored hashed: this is the only time it is shown).
    Create {
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// The organization an organizer key manages, or a client key acts for (only its events'
        /// buyers); a client key without one acts for every event's buyers.
        #[arg(long)]
        organization: Option<String>,
        /// A request quota for this key in each API process: N per minute, or N/S for N per S
        /// seconds. Without it the key is not limited (a shop's key speaks for many buyers).
        #[arg(long)]
        rate: Option<RatePolicy>,
        #[command(flatten)]
        database: DatabaseConfig,
    },
    /// List the keys: id, role, organization, created, revoked (never the keys themselves).
    List {
        #[command(flatten)]
        database: DatabaseConfig,
    },
    /// Revoke a key by id: it stops working within KEY_CACHE_SECS (30 s by default) everywhere.
    Revoke {
        id: String,
        #[command(flatten)]
        database: DatabaseConfig,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| format!("'{s}' is not a role: admin, organizer or client"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = dotenvy::dotenv();
    telemetry::init();
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Serve { database, replica, http }) => {
            services::signing::check_env()?;
            let pool = database.connect(database.database_max_connections).await?;
            let replica = replica.replica(&database)?;
            tracing::info!(bind = %http.bind_addr, replica = replica.is_some(), "serving the API");
            server::serve(pool, replica, &http, server::shutdown_on_signal()).await?;
        }
        Some(Command::Migrate { database }) => {
            let pool = database.connect(2).await?;
            db::migrate(&pool).await?;
            println!("migrations applied");
        }
        Some(Command::Import { dir, database }) => {
            let pool = database.connect(2).await?;
            let summary =
                import::import_catalog(&pool, &dir).await.with_context(|| format!("importing {}", dir.display()))?;
            println!("{summary}");
        }
        Some(Command::Keys { command: KeysCommand::Create { role, organization, rate, database } }) => {
            let pool = database.connect(2).await?;
            let created = services::auth::create_key(&pool, role, organization.as_deref(), rate).await?;
            println!("{}", created.key);
        }
        Some(Command::Keys { command: KeysCommand::List { database } }) => {
            let pool = database.connect(2).await?;
            println!("{:<36}  {:<9}  {:<16}  {:<10}  {:<20}  revoked", "id", "role", "organization", "rate", "created");
            for k in services::auth::list_keys(&pool).await? {
                let at = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M:%S").to_string();
                let organization = k.organization_id.as_deref().unwrap_or("-");
                let revoked = k.revoked_at.map(at).unwrap_or_else(|| "-".into());
                let rate =
                    k.rate_requests.zip(k.rate_window_secs).map_or_else(|| "-".into(), |(n, w)| format!("{n}/{w}s"));
                println!(
                    "{:<36}  {:<9}  {organization:<16}  {rate:<10}  {:<20}  {revoked}",
                    k.id,
                    k.role.as_str(),
                    at(k.created_at)
                );
            }
        }
        Some(Command::Keys { command: KeysCommand::Revoke { id, database } }) => {
            let pool = database.connect(2).await?;
            let revoked = services::auth::revoke_key(&pool, &id).await?;
            println!("key {} revoked (it stops working within the key cache time, 30 s by default)", revoked.id);
        }
        Some(Command::Dev(config)) => dev::run(config).await?,
        None => {
            // a bare `cargo run`: the same as `boxoffice dev`, settings from the environment
            if let Some(Command::Dev(config)) = Cli::parse_from(["boxoffice", "dev"]).command {
                dev::run(config).await?;
            }
        }
    }
    Ok(())
}
