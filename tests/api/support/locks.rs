//! A row lock held by a connection of the test's own (the way a busy worker holds it), and what
//! PostgreSQL says of who waits for it: tests wait for that state instead of sleeping.

use sqlx::{Connection, PgConnection};

use super::TestApp;

/// An open transaction holding the item's lock until [`ItemLock::release`].
pub struct ItemLock {
    conn: PgConnection,
}

impl ItemLock {
    /// Commits the transaction: the lock is free again.
    pub async fn release(mut self) {
        sqlx::query("commit").execute(&mut self.conn).await.unwrap();
        self.conn.close().await.unwrap();
    }
}

impl TestApp {
    /// Takes the lock of the item's pool (its `pools` row, as the writers take it) on a connection
    /// of its own.
    pub async fn lock_item(&self, offer: &str, rep: &str) -> ItemLock {
        let mut conn = PgConnection::connect(&self.db.url).await.unwrap();
        sqlx::query("begin").execute(&mut conn).await.unwrap();
        let locked = sqlx::query(
            "select 1 from pools p join inventory i on i.pool_id = p.id
                 where i.offer_id = $1 and i.representation_id = $2 for no key update of p",
        )
        .bind(offer)
        .bind(rep)
        .execute(&mut conn)
        .await
        .unwrap();
        assert_eq!(locked.rows_affected(), 1, "the item {offer}/{rep} has no stock row to lock");
        ItemLock { conn }
    }

    /// How many sessions of this test's database wait for a lock now.
    pub async fn lock_waiters(&self) -> i64 {
        sqlx::query_scalar(
            "select count(distinct l.pid) from pg_locks l join pg_stat_activity a on a.pid = l.pid
             where not l.granted and a.datname = current_database()",
        )
        .fetch_one(&self.db.pool)
        .await
        .unwrap()
    }

    /// Returns once some session of this test's database waits for a lock (20 s at most).
    pub async fn someone_waits_for_a_lock(&self) {
        for _ in 0..400 {
            if self.lock_waiters().await > 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("nobody waited for a lock in 20 s");
    }

    /// Returns once no other session of this test's database runs a statement or holds a
    /// transaction open: whatever was under way has committed or rolled back (20 s at most).
    pub async fn database_is_quiet(&self) {
        self.until_none(
            "sessions of the database still busy",
            "select count(*) from pg_stat_activity
             where datname = current_database() and pid <> pg_backend_pid() and state <> 'idle'",
        )
        .await;
    }

    /// Every job due by now has been run to its end (none pending, queued or running): what the
    /// workers were handed has all happened (20 s at most).
    pub async fn due_jobs_done(&self) {
        self.until_none(
            "jobs due still open",
            "select count(*) from apalis.jobs where status in ('Pending', 'Queued', 'Running') and run_at <= now()",
        )
        .await;
    }

    /// Returns once `count` (a `select count(*)`) reads 0; panics with `what` after 20 s.
    async fn until_none(&self, what: &str, count: &'static str) {
        for _ in 0..400 {
            let left: i64 = sqlx::query_scalar(count).fetch_one(&self.db.pool).await.unwrap();
            if left == 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("{what} after 20 s");
    }
}
