//! A fresh database per test, cloned from a template that has every migration applied, so a test
//! pays for a `create database`, not for the migrations.
//!
//! The server is `TEST_DATABASE_URL`, else `DATABASE_URL`, else the local PostgreSQL on
//! 127.0.0.1:5432 (what `.ci/run` makes sure is running).

use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
// Database names below are ours (hex digests, numbers, uuids), never input: safe to format in.
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, PgConnection, PgPool};

const DEFAULT_SERVER: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// Test databases older than this are someone's leftovers (a test that panicked) and are dropped.
const LEFTOVER_AGE_SECS: u64 = 3600;

fn server_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .or_else(|_| std::env::var("DATABASE_URL"))
        .unwrap_or_else(|_| DEFAULT_SERVER.into())
}

fn server_options() -> PgConnectOptions {
    server_url().parse::<PgConnectOptions>().expect("a valid PostgreSQL URL").disable_statement_logging()
}

/// The template's name changes whenever a migration does, so a stale template is never used.
fn template_name() -> String {
    let mut hasher = Sha256::new();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
    let mut files: Vec<_> = std::fs::read_dir(dir).expect("migrations dir").map(|e| e.unwrap().path()).collect();
    files.sort();
    for f in files {
        hasher.update(std::fs::read(f).unwrap());
    }
    hasher.update(b"apalis-postgres 1.0.0");
    let digest = hasher.finalize();
    format!("bo_tpl_{}", data_encoding::HEXLOWER.encode(&digest[..6]))
}

async fn admin_connection() -> PgConnection {
    server_options().connect().await.unwrap_or_else(|e| {
        panic!("cannot reach PostgreSQL at {} ({e}): start it, or set TEST_DATABASE_URL", server_url())
    })
}

async fn ensure_template(admin: &mut PgConnection, name: &str) {
    // one process builds it; the others wait here, then find it
    sqlx::query("select pg_advisory_lock(7474001)").execute(&mut *admin).await.unwrap();
    let exists: bool = sqlx::query_scalar("select exists (select 1 from pg_database where datname = $1)")
        .bind(name)
        .fetch_one(&mut *admin)
        .await
        .unwrap();
    if !exists {
        let building = format!("{name}_building");
        sqlx::query(AssertSqlSafe(format!("drop database if exists {building}"))).execute(&mut *admin).await.unwrap();
        sqlx::query(AssertSqlSafe(format!("create database {building}"))).execute(&mut *admin).await.unwrap();
        let pool =
            PgPoolOptions::new().max_connections(2).connect_with(server_options().database(&building)).await.unwrap();
        boxoffice::db::migrate(&pool).await.expect("migrations apply to an empty database");
        pool.close().await;
        sqlx::query(AssertSqlSafe(format!("alter database {building} rename to {name}")))
            .execute(&mut *admin)
            .await
            .unwrap();
    }
    sqlx::query("select pg_advisory_unlock(7474001)").execute(&mut *admin).await.unwrap();
}

async fn drop_leftovers(admin: &mut PgConnection, now: u64) {
    let names: Vec<String> = sqlx::query_scalar("select datname from pg_database where datname like 'bo_test_%'")
        .fetch_all(&mut *admin)
        .await
        .unwrap();
    for name in names {
        let created = name.split('_').nth(2).and_then(|s| s.parse::<u64>().ok()).unwrap_or(now);
        if now.saturating_sub(created) > LEFTOVER_AGE_SECS {
            let _ = sqlx::query(AssertSqlSafe(format!("drop database if exists {name} with (force)")))
                .execute(&mut *admin)
                .await;
        }
    }
}

/// A database of one's own, dropped when it goes out of scope (or by a later run's sweep).
pub struct TestDb {
    pub pool: PgPool,
    pub url: String,
    name: String,
}

impl TestDb {
    pub async fn new() -> TestDb {
        let mut admin = admin_connection().await;
        let template = template_name();
        ensure_template(&mut admin, &template).await;
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
        drop_leftovers(&mut admin, now).await;
        let name = format!("bo_test_{now}_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(AssertSqlSafe(format!("create database {name} template {template}")))
            .execute(&mut admin)
            .await
            .unwrap();
        admin.close().await.ok();
        let options = server_options().database(&name);
        let pool = PgPoolOptions::new().max_connections(10).connect_with(options.clone()).await.unwrap();
        let url = format!("{}", options.to_url_lossy());
        TestDb { pool, url, name }
    }
}

impl Drop for TestDb {
    /// Drops the database even when the test panicked. Drop cannot await, so a thread with its
    /// own runtime does it; `with (force)` ends any connection still open.
    fn drop(&mut self) {
        let name = std::mem::take(&mut self.name);
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async {
                let mut admin = admin_connection().await;
                let sql = format!("drop database if exists {name} with (force)");
                let _ = sqlx::query(AssertSqlSafe(sql)).execute(&mut admin).await;
            });
        });
        let _ = dropped.join();
    }
}
