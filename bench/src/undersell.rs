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
    let decisions = rows
        .iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?, row.try_get(3)?)))
        .collect::<sqlx::Result<Vec<Decision<'_>>>>()?;
    Ok(replay_decisions(total_stock, &decisions))
}

/// A decided reservation in arrival order: (seq, quantity, status, reason).
type Decision<'a> = (i64, i64, &'a str, Option<&'a str>);

fn replay_decisions(total_stock: i64, decisions: &[Decision<'_>]) -> Replay {
    let mut out = Replay {
        refused_with_stock: 0,
        first_refused_with_stock: None,
        other_refusals: BTreeMap::new(),
        ended_tickets: 0,
        total_stock,
        replayed_available: total_stock,
    };
    for &(seq, quantity, status, reason) in decisions {
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
    out
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

#[cfg(test)]
mod tests {
    use super::replay_decisions;

    #[test]
    fn a_refusal_while_the_stock_still_held_its_quantity_is_an_undersell() {
        let decisions = [(1, 2, "held", None), (2, 2, "rejected", Some("SOLD_OUT")), (3, 1, "held", None)];
        let replay = replay_decisions(4, &decisions);
        assert_eq!(replay.refused_with_stock, 1);
        assert_eq!(replay.first_refused_with_stock, Some(2));
        assert_eq!(replay.replayed_available, 1);
    }

    #[test]
    fn refusals_once_the_stock_cannot_serve_them_are_not_undersells() {
        let decisions = [(1, 3, "held", None), (2, 2, "rejected", Some("SOLD_OUT")), (3, 1, "held", None)];
        let replay = replay_decisions(4, &decisions);
        assert_eq!(replay.refused_with_stock, 0);
        assert_eq!(replay.replayed_available, 0);
    }

    #[test]
    fn ended_holds_keep_their_tickets_in_the_replay_and_are_counted() {
        let decisions = [(1, 1, "expired", None), (2, 1, "rejected", Some("SOLD_OUT"))];
        let replay = replay_decisions(1, &decisions);
        assert_eq!(replay.refused_with_stock, 0);
        assert_eq!(replay.ended_tickets, 1);
    }

    #[test]
    fn a_refusal_for_another_reason_is_counted_by_reason() {
        let replay = replay_decisions(5, &[(1, 1, "rejected", Some("SALES_CLOSED"))]);
        assert_eq!(replay.other_refusals.get("SALES_CLOSED"), Some(&1));
        assert_eq!(replay.refused_with_stock, 0);
    }
}
