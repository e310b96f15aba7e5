//! What `--profile` reads from the private server (`private_pg.rs`) over one window of the run:
//! the top statements of the system by total execution time (`pg_stat_statements`, the bench's
//! own queries left out by their role) and the WAL written per decided reservation
//! (`pg_current_wal_lsn()` before and after, over the reservations decided in the window).
//!
//! The window is the load when the scenario marks it (`onsale`: from the first request to the
//! last decision, the buyers' insert and the checks outside), else the whole scenario.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgPool, Row};

use crate::private_pg::OBSERVER;
use crate::report::Report;
use crate::setup;

/// Statements printed, and how much of each one's text.
const TOP: i64 = 10;
const QUERY_CHARS: usize = 160;

pub struct Profiler {
    /// The private server's `postgres` database, where `pg_stat_statements` lives.
    admin: PgPool,
    /// Since when: the WAL position, the server's clock, and what the window is.
    begun: Option<(String, DateTime<Utc>, &'static str)>,
    /// Read at the window's end.
    result: Option<Profile>,
}

/// One window's figures.
pub struct Profile {
    window: &'static str,
    wal_bytes: f64,
    decided: i64,
    statements: Vec<Statement>,
}

/// One line of `pg_stat_statements`.
struct Statement {
    /// Whitespace collapsed.
    query: String,
    /// False for a statement run inside a function (`track = all`): its time is also its caller's.
    toplevel: bool,
    calls: i64,
    rows: i64,
    total_ms: f64,
    mean_ms: f64,
    wal_bytes: f64,
    /// Percent of the total time of the top-level statements.
    share: f64,
}

impl Profiler {
    pub async fn connect(admin_url: &str) -> anyhow::Result<Profiler> {
        Ok(Profiler { admin: setup::connect(admin_url, 1).await?, begun: None, result: None })
    }

    /// Starts (or starts again) the window: statistics reset, WAL position noted.
    pub async fn begin(&mut self, window: &'static str) -> anyhow::Result<()> {
        sqlx::query("select pg_stat_statements_reset()").execute(&self.admin).await?;
        let (lsn, at): (String, DateTime<Utc>) =
            sqlx::query_as("select pg_current_wal_lsn()::text, clock_timestamp()").fetch_one(&self.admin).await?;
        self.begun = Some((lsn, at, window));
        self.result = None;
        Ok(())
    }

    /// Ends the window, unless it already ended: reads the WAL written, the reservations decided
    /// (from `bench`, the system's database) and the top statements.
    pub async fn end(&mut self, bench: &PgPool) -> anyhow::Result<()> {
        let Some((lsn, at, window)) = self.begun.clone() else { anyhow::bail!("the profile window never began") };
        if self.result.is_some() {
            return Ok(());
        }
        let wal_bytes: f64 = sqlx::query_scalar("select pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::float8")
            .bind(&lsn)
            .fetch_one(&self.admin)
            .await?;
        let decided: i64 = sqlx::query_scalar("select count(*) from reservations where decided_at >= $1")
            .bind(at)
            .fetch_one(bench)
            .await?;
        let statements = sqlx::query(
            "with mine as (
                 select s.* from pg_stat_statements s
                 where s.dbid = (select oid from pg_database where datname = $1)
                   and s.userid <> (select oid from pg_roles where rolname = $2)
             )
             select regexp_replace(query, '\\s+', ' ', 'g'), toplevel, calls, rows, total_exec_time,
                    mean_exec_time, wal_bytes::float8,
                    coalesce(100 * total_exec_time / nullif(sum(total_exec_time) filter (where toplevel) over (), 0), 0)
             from mine order by total_exec_time desc limit $3",
        )
        .bind(setup::BENCH_DATABASE)
        .bind(OBSERVER)
        .bind(TOP)
        .fetch_all(&self.admin)
        .await?
        .into_iter()
        .map(|row| {
            Ok(Statement {
                query: row.try_get(0)?,
                toplevel: row.try_get(1)?,
                calls: row.try_get(2)?,
                rows: row.try_get(3)?,
                total_ms: row.try_get(4)?,
                mean_ms: row.try_get(5)?,
                wal_bytes: row.try_get(6)?,
                share: row.try_get(7)?,
            })
        })
        .collect::<sqlx::Result<_>>()?;
        self.result = Some(Profile { window, wal_bytes, decided, statements });
        Ok(())
    }

    /// The window's figures (ending it now if the scenario did not), the connection closed.
    pub async fn finish(mut self, bench: &PgPool) -> anyhow::Result<Profile> {
        self.end(bench).await?;
        self.admin.close().await;
        self.result.ok_or_else(|| anyhow::anyhow!("the profile window has no figures"))
    }
}

impl Profile {
    pub fn report(&self, report: &mut Report) {
        report.text("profile_window", self.window);
        report.int("profile_decided", self.decided);
        report.float("profile_wal_mib", self.wal_bytes / (1024.0 * 1024.0), 1);
        let per_decided = if self.decided > 0 { self.wal_bytes / self.decided as f64 } else { f64::NAN };
        report.float("profile_wal_bytes_per_decided", per_decided, 0);
        let rows = self
            .statements
            .iter()
            .map(|s| {
                let query = if s.toplevel { s.query.clone() } else { format!("(nested) {}", s.query) };
                let query: String = query.chars().take(QUERY_CHARS).collect();
                let round = |x: f64, decimals: i32| {
                    let scale = 10f64.powi(decimals);
                    serde_json::Number::from_f64((x * scale).round() / scale).map_or(Value::Null, Value::Number)
                };
                vec![
                    round(s.total_ms, 1),
                    round(s.share, 1),
                    Value::from(s.calls),
                    Value::from(s.rows),
                    round(s.mean_ms * 1000.0, 1),
                    round(s.wal_bytes, 0),
                    Value::from(query),
                ]
            })
            .collect();
        let columns = ["total_ms", "share_pct", "calls", "rows", "mean_us", "wal_bytes", "query"];
        report.table("profile_top_statements", &columns, rows);
    }
}
