//! Sales and waiting-list figures for an event's organizer.

use sqlx::PgPool;

use super::auth::{require_catalog_editor, require_manager_of};
use super::{Error, Result};
use crate::db;
use crate::domain::records::{PoolReport, ReportLine};

/// An event's figures: per representation and offer, and per pool.
#[derive(Debug, Clone)]
pub struct EventReport {
    pub lines: Vec<ReportLine>,
    pub pools: Vec<PoolReport>,
}

pub async fn event_report(pool: &PgPool, who: &crate::domain::Principal, event_id: &str) -> Result<EventReport> {
    require_catalog_editor(who)?;
    // one snapshot: the figures of every line agree with each other
    let mut tx = db::snapshot(pool).await?;
    let event = db::events::find(&mut tx, event_id).await?.ok_or_else(|| Error::not_found("event", event_id))?;
    require_manager_of(who, &event.organization_id)?;
    let lines = db::report::lines(&mut tx, event_id).await?;
    let pools = db::report::pools(&mut tx, event_id).await?;
    tx.commit().await?;
    Ok(EventReport { lines, pools })
}

/// The pools of the report as CSV, one line per pool, with a header.
pub fn pools_to_csv(pools: &[PoolReport]) -> String {
    let mut out = csv::Writer::from_writer(Vec::new());
    let header =
        ["pool_id", "representation_id", "starts_at", "name", "seated", "total", "available", "held", "sold", "offers"];
    let _ = out.write_record(header);
    for p in pools {
        let _ = out.write_record([
            p.pool_id.clone(),
            p.representation_id.clone(),
            p.starts_at.to_rfc3339(),
            p.name.clone(),
            p.seated.to_string(),
            p.total.to_string(),
            p.available.to_string(),
            p.held.to_string(),
            p.sold.to_string(),
            // several offers in one field, as spreadsheets split them back
            p.offers.join(" "),
        ]);
    }
    String::from_utf8(out.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// The report as CSV, one line per representation and offer, with a header. `total`,
/// `available` and `held` are the offer's pool's (named last); `sold`, revenue and refunds the
/// offer's own.
pub fn to_csv(lines: &[ReportLine]) -> String {
    let mut out = csv::Writer::from_writer(Vec::new());
    let _ = out.write_record([
        "representation_id",
        "starts_at",
        "offer_id",
        "offer_name",
        "currency",
        "total",
        "available",
        "held",
        "sold",
        "revenue_minor",
        "holds_expired",
        "waitlist_joined",
        "waitlist_offered",
        "waitlist_converted",
        "waitlist_declined",
        "waitlist_expired",
        "waitlist_left",
        "waitlist_waiting",
        "median_offer_to_conversion_secs",
        "refunded",
        "refunded_minor",
        "pool_id",
    ]);
    for l in lines {
        let _ = out.write_record([
            l.representation_id.clone(),
            l.starts_at.to_rfc3339(),
            l.offer_id.clone(),
            l.offer_name.clone(),
            l.currency.clone(),
            l.total.to_string(),
            l.available.to_string(),
            l.held.to_string(),
            l.sold.to_string(),
            l.revenue_minor.to_string(),
            l.holds_expired.to_string(),
            l.waitlist_joined.to_string(),
            l.waitlist_offered.to_string(),
            l.waitlist_converted.to_string(),
            l.waitlist_declined.to_string(),
            l.waitlist_expired.to_string(),
            l.waitlist_left.to_string(),
            l.waitlist_waiting.to_string(),
            l.median_offer_to_conversion_secs.map(|s| format!("{s:.1}")).unwrap_or_default(),
            l.refunded.to_string(),
            l.refunded_minor.to_string(),
            l.pool_id.clone(),
        ]);
    }
    String::from_utf8(out.into_inner().unwrap_or_default()).unwrap_or_default()
}
