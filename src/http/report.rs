//! An event's report for its organizer: JSON, or CSV with `Accept: text/csv`.

use poem::IntoResponse;
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::{Json, PlainText};
use poem_openapi::registry::{MetaMediaType, MetaResponse, MetaResponses, Registry};
use poem_openapi::types::Type;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use sqlx::PgPool;

use super::Tag;
use super::error::ApiError;
use super::security::ApiKey;
use crate::domain::records::{PoolReport, ReportLine};

/// What a line of the CSV report is.
#[derive(Enum, Clone, Copy)]
#[oai(rename_all = "lowercase")]
enum ReportBy {
    Offer,
    Pool,
}
use crate::services;

pub struct ReportApi {
    pub pool: PgPool,
}

/// Figures of one offer for one representation. `total`, `available` and `held` are those of the
/// pool it sells (shared with the pool's other offers); `sold`, revenue and refunds its own.
#[derive(Object)]
struct Line {
    representation_id: String,
    starts_at: chrono::DateTime<chrono::Utc>,
    offer_id: String,
    offer_name: String,
    currency: String,
    pool_id: String,
    total: i32,
    available: i32,
    held: i32,
    /// Units of this offer sold.
    sold: i32,
    /// sold x price, in minor units.
    revenue_minor: i64,
    /// Units given back by cancellations and voided tickets.
    refunded: i64,
    /// What those refunds came to, in minor units.
    refunded_minor: i64,
    /// Holds that ran out of time.
    holds_expired: i64,
    waitlist: Funnel,
}

/// The waiting list's funnel.
#[derive(Object)]
struct Funnel {
    joined: i64,
    offered: i64,
    converted: i64,
    declined: i64,
    expired: i64,
    left: i64,
    /// Still waiting.
    waiting: i64,
    /// Median seconds from an offer to its confirmation.
    #[oai(nullable)]
    median_offer_to_conversion_secs: Option<f64>,
}

/// A capacity pool's books: `total = available + held + sold`.
#[derive(Object)]
struct PoolLine {
    pool_id: String,
    representation_id: String,
    starts_at: chrono::DateTime<chrono::Utc>,
    name: String,
    seated: bool,
    total: i32,
    available: i32,
    held: i32,
    sold: i32,
    /// The offers selling it.
    offers: Vec<String>,
}

impl From<PoolReport> for PoolLine {
    fn from(p: PoolReport) -> Self {
        PoolLine {
            pool_id: p.pool_id,
            representation_id: p.representation_id,
            starts_at: p.starts_at,
            name: p.name,
            seated: p.seated,
            total: p.total,
            available: p.available,
            held: p.held,
            sold: p.sold,
            offers: p.offers,
        }
    }
}

#[derive(Object)]
struct Report {
    event_id: String,
    /// Per representation and offer.
    lines: Vec<Line>,
    /// Per capacity pool.
    pools: Vec<PoolLine>,
}

/// The report as JSON, or as CSV when the caller accepts `text/csv`: one answer, two media types
/// (a derived response would describe only one of them).
enum ReportResponse {
    Json(Json<Report>),
    Csv(PlainText<String>),
}

impl ApiResponse for ReportResponse {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: vec![MetaResponse {
                description: "The report: JSON, or CSV with `Accept: text/csv` (one line per representation \
                              and offer, or per pool with `by=pool`, with a header).",
                status: Some(200),
                status_range: None,
                content: vec![
                    MetaMediaType { content_type: "application/json; charset=utf-8", schema: Report::schema_ref() },
                    MetaMediaType { content_type: "text/csv; charset=utf-8", schema: String::schema_ref() },
                ],
                headers: vec![],
            }],
        }
    }

    fn register(registry: &mut Registry) {
        Report::register(registry);
    }
}

impl IntoResponse for ReportResponse {
    fn into_response(self) -> poem::Response {
        match self {
            ReportResponse::Json(json) => json.into_response(),
            ReportResponse::Csv(csv) => csv.with_content_type("text/csv; charset=utf-8").into_response(),
        }
    }
}

impl From<ReportLine> for Line {
    fn from(l: ReportLine) -> Self {
        Line {
            representation_id: l.representation_id,
            starts_at: l.starts_at,
            offer_id: l.offer_id,
            offer_name: l.offer_name,
            currency: l.currency,
            pool_id: l.pool_id,
            total: l.total,
            available: l.available,
            held: l.held,
            sold: l.sold,
            revenue_minor: l.revenue_minor,
            refunded: l.refunded,
            refunded_minor: l.refunded_minor,
            holds_expired: l.holds_expired,
            waitlist: Funnel {
                joined: l.waitlist_joined,
                offered: l.waitlist_offered,
                converted: l.waitlist_converted,
                declined: l.waitlist_declined,
                expired: l.waitlist_expired,
                left: l.waitlist_left,
                waiting: l.waitlist_waiting,
                median_offer_to_conversion_secs: l.median_offer_to_conversion_secs,
            },
        }
    }
}

#[OpenApi(tag = "Tag::Events")]
impl ReportApi {
    /// An event's sales and waiting-list report
    ///
    /// Per representation and offer: its pool's stock, available and held, the offer's own sales,
    /// revenue, refunds, holds expired, and the waiting list's funnel; and per capacity pool: total,
    /// available, held, sold and the offers selling it. Organizers of the event's organization and
    /// admins. As CSV (`Accept: text/csv`), the lines per offer, or per pool with `by=pool`.
    #[oai(path = "/events/:id/report", method = "get")]
    async fn report(
        &self,
        key: ApiKey,
        id: Path<String>,
        accept: Header<Option<String>>,
        /// For CSV: `offer` (default, a line per representation and offer) or `pool`.
        by: Query<Option<ReportBy>>,
    ) -> Result<ReportResponse, ApiError> {
        let report = services::report::event_report(&self.pool, &key.0, &id).await?;
        if accept.0.as_deref().is_some_and(|a| a.contains("text/csv")) {
            let csv = match by.0.unwrap_or(ReportBy::Offer) {
                ReportBy::Offer => services::report::to_csv(&report.lines),
                ReportBy::Pool => services::report::pools_to_csv(&report.pools),
            };
            return Ok(ReportResponse::Csv(PlainText(csv)));
        }
        Ok(ReportResponse::Json(Json(Report {
            event_id: id.0,
            lines: report.lines.into_iter().map(Line::from).collect(),
            pools: report.pools.into_iter().map(PoolLine::from).collect(),
        })))
    }
}
