//! Under-selling, the other half of "sold right": a buyer refused while the stock could still
//! serve them is a sale lost, as wrong as an oversell. Every decision of the item is replayed in
//! arrival order (`seq`, the order the workers decide in) against the stock: a `SOLD_OUT` refusal
//! while the replayed stock still held the request's quantity is a violation.
//!
//! Holds that ended (expired, released, cancelled) gave their tickets back at a moment the
//! reservations do not order against the arrivals, so the replay keeps them taken: it can then
//! miss a violation after a hold ended, never report one that did not happen (the replayed stock
//! is never above the real one). The on-sale's holds last the event's 10 minutes, so none end
//! during a run; the count of ended tickets is reported so a run where some did says so.

use std::collections::BTreeMap;

use sqlx::{PgPool, Row};

use crate::catalog::Item;
use crate::report::Report;

/// What the replay found.
pub struct Replay {
    /// `SOLD_OUT` refusals while the replayed stock still held the request's quantity.
    pub refused_with_stock: i64,
    /// The first of them, by `seq`, to look at.
    pub first_refused_with_stock: Option<i64>,
    /// Refusals for another reason than `SOLD_OUT`, by reason: one open general-admission item
    /// has no other reason to refuse anyone.
    pub other_refusals: BTreeMap<String, i64>,
    /// Tickets of granted holds that have since ended: back in the stock, outside the replay.
    pub ended_tickets: i64,
    /// The item's stock.
    pub total_stock: i64,
    /// The replayed stock after the last decision.
    pub replayed_available: i64,
}

pub async fn replay(pool: &PgPool, item: &Item, total_stock: i64) -> anyhow::Result<Replay> {
    let rows = sqlx::query(
        "select seq, quantity::bigint, status, reason from reservations \
         where offer_id = $1 and representation_id = $2 and status <> 'pending' order by seq",
    )
    .bind(&item.offer_id)
    .bind(&item.representation_id)
    .fetch_all(pool)
    .await?;
    let mut out = Replay {
        refused_with_stock: 0,
        first_refused_with_stock: None,
        other_refusals: BTreeMap::new(),
        ended_tickets: 0,
        total_stock,
        replayed_available: total_stock,
    };
    for row in rows {
        let seq: i64 = row.try_get(0)?;
        let quantity: i64 = row.try_get(1)?;
        let status: &str = row.try_get(2)?;
        let reason: Option<&str> = row.try_get(3)?;
        match (status, reason) {
            ("rejected", Some("SOLD_OUT")) => {
                if out.replayed_available >= quantity {
                    out.refused_with_stock += 1;
                    out.first_refused_with_stock.get_or_insert(seq);
                }
            }
            ("rejected", reason) => {
                *out.other_refusals.entry(reason.unwrap_or("none").to_string()).or_default() += 1;
            }
            (granted, _) => {
                out.replayed_available -= quantity;
                if matches!(granted, "expired" | "released" | "cancelled") {
                    out.ended_tickets += quantity;
                }
            }
        }
    }
    Ok(out)
}

impl Replay {
    /// The replay's figures, and as failures: refusals while stock remained, refusals for another
    /// reason, and stock left at the end although the buyers asked for more than there was.
    /// `demand` is what the buyers asked for in all (requests sent times quantity, from the
    /// client's side, so a request lost on the way counts), `quantity` what each asked for.
    pub fn report(&self, report: &mut Report, demand: i64, quantity: i64, available: i64) {
        report.int("refused_while_stock_remained", self.refused_with_stock);
        if let Some(seq) = self.first_refused_with_stock {
            report.int("first_refused_while_stock_remained_seq", seq);
        }
        report.int("tickets_of_ended_holds", self.ended_tickets);
        report.int("replayed_available_at_end", self.replayed_available);
        if self.refused_with_stock > 0 {
            report.fail(format!(
                "{} requests refused SOLD_OUT while the stock still held their quantity (first: seq {})",
                self.refused_with_stock,
                self.first_refused_with_stock.unwrap_or_default()
            ));
        }
        for (reason, n) in &self.other_refusals {
            report.int(&format!("refused_{}", reason.to_lowercase()), *n);
            report.fail(format!("{n} requests refused {reason}, which an open on-sale never is"));
        }
        // Demand at least the stock: what is left must be less than one request (0 for one
        // ticket each), plus what ended holds gave back after the last request.
        if demand >= self.total_stock && available >= quantity + self.ended_tickets {
            report.fail(format!(
                "{available} tickets still available at the end although the buyers asked for {demand} of {}",
                self.total_stock
            ));
        }
    }
}
