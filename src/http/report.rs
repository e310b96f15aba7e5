//! An event's report for its organizer: JSON, or CSV with `Accept: text/csv`.

use poem::IntoResponse;
use poem_openapi::param::{Header, Path};
use poem_openapi::payload::{Json, PlainText};
use poem_openapi::registry::{MetaMediaType, MetaResponse, MetaResponses, Registry};
use poem_openapi::types::Type;
use poem_openapi::{ApiResponse, Object, OpenApi};
use sqlx::PgPool;

use super::Tag;
use super::error::ApiError;
use super::security::ApiKey;
use crate::domain::records::ReportLine;
use crate::services;

pub struct ReportApi {
    pub pool: PgPool,
}

/// Figures of one offer for one representation.
#[derive(Object)]
struct Line {
    representation_id: String,
    starts_at: chrono::DateTime<chrono::Utc>,
    offer_id: String,
    offer_name: String,
    currency: String,
    total: i32,
    available: i32,
    held: i32,
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

#[derive(Object)]
struct Report {
    event_id: String,
    lines: Vec<Line>,
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
                description: "The report: JSON, or CSV (one line per representation and offer, with a header) \
                              with `Accept: text/csv`.",
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
    /// Per representation and offer: stock, available, held, sold, revenue, holds expired, and the
    /// waiting list's funnel. Organizers of the event's organization and admins.
    #[oai(path = "/events/:id/report", method = "get")]
    async fn report(
        &self,
        key: ApiKey,
        id: Path<String>,
        accept: Header<Option<String>>,
    ) -> Result<ReportResponse, ApiError> {
        let lines = services::report::event_report(&self.pool, &key.0, &id).await?;
        if accept.0.as_deref().is_some_and(|a| a.contains("text/csv")) {
            return Ok(ReportResponse::Csv(PlainText(services::report::to_csv(&lines))));
        }
        Ok(ReportResponse::Json(Json(Report { event_id: id.0, lines: lines.into_iter().map(Line::from).collect() })))
    }
}
