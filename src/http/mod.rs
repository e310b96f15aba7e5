//! The HTTP API: poem-openapi operations under `/api`, the spec at `/openapi.json`, docs at `/docs`.
//! Handlers extract, call one service function, and map the result.

mod availability;
mod catalog;
pub mod error;
mod events;
pub mod middleware;
mod ops;
mod reservations;
mod security;
mod users;

use poem::middleware::CatchPanic;
use poem::{Endpoint, EndpointExt, Route};
use poem_openapi::{OpenApiService, Tags};
use sqlx::PgPool;

use crate::services::intake::Intake;

/// Largest request body accepted (bulk seat lists are the biggest legitimate bodies).
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

#[derive(Tags)]
enum Tag {
    /// Liveness and readiness.
    Operations,
    /// Events, their search, representations and offers.
    Events,
    /// Stock, seats and availability.
    Inventory,
    /// Buyers.
    Users,
    /// Reservations: queued, decided in arrival order, held, confirmed or released.
    Reservations,
}

pub type Api = (
    ops::OpsApi,
    events::EventsApi,
    catalog::CatalogApi,
    availability::AvailabilityApi,
    users::UsersApi,
    reservations::ReservationsApi,
);

pub fn api_service(pool: &PgPool, intake: Intake) -> OpenApiService<Api, ()> {
    let api = (
        ops::OpsApi { pool: pool.clone() },
        events::EventsApi { pool: pool.clone() },
        catalog::CatalogApi { pool: pool.clone() },
        availability::AvailabilityApi { pool: pool.clone() },
        users::UsersApi { pool: pool.clone() },
        reservations::ReservationsApi { pool: pool.clone(), intake },
    );
    OpenApiService::new(api, "boxoffice", env!("CARGO_PKG_VERSION"))
        .description("A ticketing backend for high-demand on-sales.")
        .server("/api")
}

/// The whole HTTP application.
pub fn app(pool: PgPool, body_limit: usize) -> impl Endpoint {
    let api = api_service(&pool, Intake::start(pool.clone()));
    let spec = api.spec_endpoint();
    let docs = api.swagger_ui();
    let routes = Route::new().nest("/api", api).at("/openapi.json", spec).nest("/docs", docs).data(pool);
    with_middleware(routes, body_limit)
}

/// What every route goes through: panics caught, then request ids, the body limit, the error
/// envelope and the request log (see [`middleware::around`]).
pub fn with_middleware(routes: impl Endpoint + 'static, body_limit: usize) -> impl Endpoint {
    routes
        .with(CatchPanic::new().with_handler(middleware::on_panic))
        .around(move |ep, req| middleware::around(ep, req, body_limit))
}

/// The OpenAPI document, as served at `/openapi.json`.
/// Needs a runtime: the intake it describes is started (and stays idle).
pub fn spec_json(pool: &PgPool) -> String {
    api_service(pool, Intake::start(pool.clone())).spec()
}
