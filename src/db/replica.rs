//! A read replica: a standby that replays the primary's WAL and answers reads.

use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use super::Timeouts;

/// What the replica's sessions are called in `pg_stat_activity`, so an operator (and the tests)
/// can tell them from the primary's.
pub const APPLICATION_NAME: &str = "boxoffice-replica-reads";

/// A pool on the replica at `url`, opened lazily: the API starts, and serves from the primary,
/// while the replica is down. A replica that does not answer soon is not waited for long.
pub fn connect(url: &str, max_connections: u32, timeouts: Timeouts) -> Result<PgPool, sqlx::Error> {
    let millis = |d: Duration| format!("{}ms", d.as_millis());
    let options = url
        .parse::<PgConnectOptions>()?
        .application_name(APPLICATION_NAME)
        .options([("statement_timeout", millis(timeouts.statement))]);
    Ok(PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(2))
        .connect_lazy_with(options))
}

/// How long ago the last transaction the replica has not yet replayed committed on the primary:
/// zero when it has replayed all it received (an idle primary sends nothing, and the time since
/// the last replayed transaction grows without anything to catch up), and zero on a server that
/// is not a standby.
pub async fn replay_lag(replica: &PgPool) -> sqlx::Result<Duration> {
    let seconds: f64 = sqlx::query_scalar(
        "select case
                  when not pg_is_in_recovery()
                    or pg_last_wal_receive_lsn() is not distinct from pg_last_wal_replay_lsn() then 0
                  else greatest(0, extract(epoch from now() - pg_last_xact_replay_timestamp()))
                end::float8",
    )
    .fetch_one(replica)
    .await?;
    Ok(Duration::from_secs_f64(seconds.max(0.0)))
}
