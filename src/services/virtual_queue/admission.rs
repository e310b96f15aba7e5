//! The scheduler's admission sweep: draws each queue's pre-queue once its sale opens, then lets
//! people through in place order at the queue's rate while the event has something to sell.
//!
//! Replica-safe: a queue is swept under its row lock taken with `skip locked`, and admission is
//! paid from a credit that accrues with the database's clock (`credit_from`), not per sweep, so two
//! schedulers sweeping at once, or one sweeping twice, never admit more than the rate. No credit
//! accrues while the event is sold out or nobody is waiting: admission never comes in a burst.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::db;
use crate::db::queue::QueueRow;

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    pub drawn: usize,
    pub admitted: u64,
}

/// Sweeps every enabled queue whose sale has opened.
pub async fn sweep(pool: &PgPool) -> sqlx::Result<Swept> {
    let events = db::queue::opened(&mut *pool.acquire().await?).await?;
    let mut swept = Swept::default();
    for event_id in events {
        let one = sweep_queue(pool, &event_id).await?;
        swept.drawn += one.drawn;
        swept.admitted += one.admitted;
    }
    if swept.admitted > 0 {
        metrics::counter!("queue_admitted_total").increment(swept.admitted);
    }
    Ok(swept)
}

async fn sweep_queue(pool: &PgPool, event_id: &str) -> sqlx::Result<Swept> {
    let mut tx = pool.begin().await?;
    let Some(mut q) = db::queue::lock_unless_busy(&mut tx, event_id).await? else {
        return Ok(Swept::default());
    };
    if !q.enabled || q.now < q.sale_opens_at {
        return Ok(Swept::default());
    }
    let mut swept = Swept::default();
    if q.drawn_at.is_none() {
        q.last_place = db::queue::place_unplaced(&mut tx, event_id).await?;
        db::queue::mark_drawn(&mut tx, event_id).await?;
        tracing::info!(event.id = event_id, entries = q.last_place, "drew the pre-queue");
        swept.drawn = 1;
        q.credit_from = Some(q.now);
    }
    let sold_out = db::queue::stock_of_event(&mut tx, event_id).await? == 0;
    if sold_out || q.sold_out_since.is_some() {
        db::queue::set_sold_out(&mut tx, event_id, sold_out).await?;
    }
    if !sold_out {
        let (n, credit_from) = due(&q);
        if n > 0 {
            swept.admitted = db::queue::admit(&mut tx, event_id, n, credit_from).await?;
        }
    }
    tx.commit().await?;
    Ok(swept)
}

/// How many to admit now, and where the credit starts afterwards: whole admissions earned since
/// `credit_from` at the rate; when fewer are waiting, all of them, and the credit restarts now.
fn due(q: &QueueRow) -> (i64, DateTime<Utc>) {
    let from = q.credit_from.unwrap_or(q.now);
    let rate = i64::from(q.admit_per_minute.max(1));
    let elapsed_us = (q.now - from).num_microseconds().unwrap_or(i64::MAX / rate).max(0);
    let earned = (i128::from(elapsed_us) * i128::from(rate) / 60_000_000) as i64;
    let waiting = q.last_place - q.admitted_through;
    if earned >= waiting {
        (waiting, q.now)
    } else {
        let paid_us = (i128::from(earned) * 60_000_000 / i128::from(rate)) as i64;
        (earned, from + chrono::Duration::microseconds(paid_us))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue(rate: i32, credit_seconds_ago: f64, waiting: i64) -> QueueRow {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        QueueRow {
            event_id: "ev".into(),
            organization_id: "org".into(),
            enabled: true,
            prequeue_opens_at: now,
            sale_opens_at: now,
            admit_per_minute: rate,
            pass_minutes: 10,
            return_url: None,
            seed: vec![0; 32],
            drawn_at: Some(now),
            last_place: 100 + waiting,
            admitted_through: 100,
            credit_from: Some(now - chrono::Duration::microseconds((credit_seconds_ago * 1e6) as i64)),
            sold_out_since: None,
            now,
        }
    }

    #[test]
    fn admission_pays_whole_admissions_from_the_credit_and_keeps_the_rest() {
        let q = queue(90, 1.0, 1000);
        // 1.5 earned: one admitted, the credit moves 2/3 s, half an admission is kept
        let (n, from) = due(&q);
        assert_eq!(n, 1);
        assert_eq!(from, q.credit_from.unwrap() + chrono::Duration::microseconds(666_666));
    }

    #[test]
    fn nobody_waiting_banks_no_credit() {
        let q = queue(6000, 10.0, 3);
        assert_eq!(due(&q), (3, q.now));
        assert_eq!(due(&queue(6000, 10.0, 0)), (0, q.now));
    }
}
