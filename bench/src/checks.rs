//! What the database says after the load: the books, oversell, FIFO order, decision timing.
//! Every figure is read from SQL with the server's clock, so it holds whatever the client saw.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use sqlx::{PgPool, Row};

use crate::catalog::Item;
use crate::report::Report;

/// Polls every 100 ms until no reservation of the item is pending, or `timeout`. Returns how
/// many are still pending.
pub async fn wait_until_decided(pool: &PgPool, item: &Item, timeout: Duration) -> anyhow::Result<i64> {
    let started = Instant::now();
    let polls = timeout.as_millis() / 100 + 1;
    let mut pending = i64::MAX;
    let mut last_progress = Instant::now();
    for _ in 0..polls {
        pending = sqlx::query_scalar(
            "select count(*) from reservations where offer_id = $1 and representation_id = $2 and status = 'pending'",
        )
        .bind(&item.offer_id)
        .bind(&item.representation_id)
        .fetch_one(pool)
        .await?;
        if pending == 0 || started.elapsed() >= timeout {
            break;
        }
        if last_progress.elapsed() >= Duration::from_secs(5) {
            note!("{pending} reservations still pending after {:.0} s", started.elapsed().as_secs_f64());
            last_progress = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(pending)
}

/// The item's inventory row and its reservations by status.
pub struct Books {
    pub total_stock: i64,
    pub available: i64,
    pub held: i64,
    pub sold: i64,
    /// status -> (reservations, tickets)
    pub by_status: BTreeMap<String, (i64, i64)>,
}

impl Books {
    pub fn count(&self, status: &str) -> i64 {
        self.by_status.get(status).map_or(0, |c| c.0)
    }

    pub fn tickets(&self, statuses: &[&str]) -> i64 {
        statuses.iter().filter_map(|s| self.by_status.get(*s)).map(|c| c.1).sum()
    }

    /// Tickets granted beyond the stock.
    pub fn oversold(&self) -> i64 {
        (self.tickets(&["held", "confirmed", "fulfilled"]) - self.total_stock).max(0)
    }

    /// The inventory row, and every inconsistency as a failure.
    pub fn report(&self, report: &mut Report) {
        report.int("total_stock", self.total_stock);
        report.int("available", self.available);
        report.int("inventory_held", self.held);
        report.int("inventory_sold", self.sold);
        let violations = self.violations();
        report.int("identity_violations", i64::try_from(violations.len()).unwrap_or(i64::MAX));
        for v in violations {
            report.fail(v);
        }
    }

    /// Every way the inventory row is inconsistent, in itself or with the reservations.
    pub fn violations(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.total_stock != self.available + self.held + self.sold {
            out.push(format!(
                "total_stock {} != available {} + held {} + sold {}",
                self.total_stock, self.available, self.held, self.sold
            ));
        }
        if self.available < 0 || self.held < 0 || self.sold < 0 {
            out.push(format!("negative count: available {} held {} sold {}", self.available, self.held, self.sold));
        }
        // the counters must agree with the reservations they count, or stock leaked or doubled
        let held_tickets = self.tickets(&["held"]);
        let sold_tickets = self.tickets(&["confirmed", "fulfilled"]);
        if self.held != held_tickets || self.sold != sold_tickets {
            out.push(format!(
                "inventory says held {} sold {}, reservations say held {held_tickets} sold {sold_tickets}",
                self.held, self.sold
            ));
        }
        out
    }
}

pub async fn books(pool: &PgPool, item: &Item) -> anyhow::Result<Books> {
    let row = sqlx::query(
        "select p.total_stock::bigint, p.available::bigint, p.held::bigint, p.sold::bigint \
         from inventory i join pools p on p.id = i.pool_id \
         where i.offer_id = $1 and i.representation_id = $2",
    )
    .bind(&item.offer_id)
    .bind(&item.representation_id)
    .fetch_one(pool)
    .await?;
    let rows = sqlx::query(
        "select status, count(*), coalesce(sum(quantity), 0)::bigint from reservations \
         where offer_id = $1 and representation_id = $2 group by status",
    )
    .bind(&item.offer_id)
    .bind(&item.representation_id)
    .fetch_all(pool)
    .await?;
    let mut by_status = BTreeMap::new();
    for r in rows {
        by_status.insert(r.try_get::<String, _>(0)?, (r.try_get(1)?, r.try_get(2)?));
    }
    Ok(Books {
        total_stock: row.try_get(0)?,
        available: row.try_get(1)?,
        held: row.try_get(2)?,
        sold: row.try_get(3)?,
        by_status,
    })
}

/// Granted reservations that jumped the queue: some rejected reservation arrived earlier
/// (lower `seq`) asking for no more tickets, so it would have fitted at its turn. Computed from
/// the earliest rejection per quantity (at most 100 rows) so it stays linear in the item's size.
/// Offers from the waiting list are not requests of the public queue: the list's own order is
/// checked apart.
pub async fn fifo_violations(pool: &PgPool, item: &Item) -> anyhow::Result<i64> {
    // granted: every status a reservation reaches once it was given its tickets at its turn
    // `materialized`: inlined, the CTE would be re-aggregated for every granted row (quadratic)
    let sql = "with first_rejected as materialized ( \
             select quantity, min(seq) as seq from reservations \
             where offer_id = $1 and representation_id = $2 and status = 'rejected' group by quantity) \
         select count(*) from reservations h \
         where h.offer_id = $1 and h.representation_id = $2 \
           and h.status in ('held', 'confirmed', 'fulfilled', 'expired', 'released') and not h.from_waitlist \
           and h.seq > (select min(r.seq) from first_rejected r where r.quantity <= h.quantity)";
    Ok(sqlx::query_scalar(sql).bind(&item.offer_id).bind(&item.representation_id).fetch_one(pool).await?)
}

/// How fast and how soon reservations were decided.
pub struct Decisions {
    pub decided: i64,
    /// From the first arrival to the last decision.
    pub span_secs: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Decisions {
    pub fn per_sec(&self) -> f64 {
        if self.span_secs > 0.0 { self.decided as f64 / self.span_secs } else { 0.0 }
    }
}

pub async fn decisions(pool: &PgPool, item: &Item) -> anyhow::Result<Decisions> {
    let row = sqlx::query(
        "select count(*), \
            coalesce(extract(epoch from max(decided_at) - min(created_at))::float8, 0), \
            coalesce(percentile_cont(0.5) within group (order by lat), 0), \
            coalesce(percentile_cont(0.9) within group (order by lat), 0), \
            coalesce(percentile_cont(0.99) within group (order by lat), 0), \
            coalesce(max(lat), 0) \
         from (select created_at, decided_at, extract(epoch from decided_at - created_at)::float8 * 1000 as lat \
               from reservations where offer_id = $1 and representation_id = $2 and decided_at is not null) d",
    )
    .bind(&item.offer_id)
    .bind(&item.representation_id)
    .fetch_one(pool)
    .await?;
    Ok(Decisions {
        decided: row.try_get(0)?,
        span_secs: row.try_get(1)?,
        p50_ms: row.try_get(2)?,
        p90_ms: row.try_get(3)?,
        p99_ms: row.try_get(4)?,
        max_ms: row.try_get(5)?,
    })
}
