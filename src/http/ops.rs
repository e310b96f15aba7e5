use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use sqlx::PgPool;

use super::Tag;
use crate::services::health::{self, Health};

pub struct OpsApi {
    pub pool: PgPool,
}

#[derive(Object)]
struct Status {
    /// `ok`, or `unavailable` with the reason.
    status: String,
}

#[derive(ApiResponse)]
enum HealthResponse {
    /// The database answers.
    #[oai(status = 200)]
    Ok(Json<Status>),
    /// The database does not answer.
    #[oai(status = 503)]
    Unavailable(Json<Status>),
}

#[OpenApi(tag = "Tag::Operations")]
impl OpsApi {
    /// Alive
    ///
    /// Answers as long as the process serves HTTP; touches nothing else.
    #[oai(path = "/ping", method = "get")]
    async fn ping(&self) -> Json<Status> {
        Json(Status { status: "ok".into() })
    }

    /// Database reachable
    #[oai(path = "/health", method = "get")]
    async fn health(&self) -> HealthResponse {
        let unavailable =
            |why: &str| HealthResponse::Unavailable(Json(Status { status: format!("unavailable: {why}") }));
        match health::check(&self.pool, std::time::Duration::from_secs(2)).await {
            Health::Ok => HealthResponse::Ok(Json(Status { status: "ok".into() })),
            Health::DatabaseError => unavailable("database error"),
            Health::DatabaseTimeout => unavailable("database timeout"),
        }
    }
}
