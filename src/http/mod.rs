//! The HTTP API: poem-openapi operations under `/api`, the spec at `/openapi.json`, docs at `/docs`.
//! Handlers extract, call one service function, and map the result.

mod admin;
mod allow;
mod availability;
mod catalog;
pub mod connections;
pub mod error;
mod events;
pub(crate) mod idempotency;
mod input;
mod live;
mod markup;
pub mod middleware;
mod ops;
mod optional_json;
mod pools;
mod public_reads;
pub mod rate_limit;
mod report;
mod reservations;
mod seatmap_svg;
mod seats;
mod security;
mod set_inventory;
mod text;
mod tickets;
mod user_history;
mod users;
mod virtual_queue;
mod waiting_room;
mod waitlist;

use poem::middleware::CatchPanic;
use poem::{Endpoint, EndpointExt, Route};
use poem_openapi::{OpenApiService, Tags};
use sqlx::PgPool;

use std::sync::Arc;

use crate::services;
use crate::services::batch::Tasks;
use crate::services::intake::Intake;
use crate::services::reads::Reads;
use crate::services::standings::Standings;
use crate::services::writer::Writer;

pub use crate::config::{DEFAULT_BODY_LIMIT, Limits};

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
    /// Waiting lists: join when sold out; freed tickets are offered in line order.
    Waitlists,
    /// Virtual queues in front of on-sales: a pre-queue drawn at random, admission at a set rate
    /// while there is stock, signed passes.
    Queues,
    /// Tickets: issued once per seat or unit of a confirmed reservation, signed, checked in once.
    Tickets,
    /// Operating the job queues (admin keys only).
    Admin,
}

pub type Api = (
    ops::OpsApi,
    events::EventsApi,
    catalog::CatalogApi,
    availability::AvailabilityApi,
    live::LiveApi,
    pools::PoolsApi,
    seats::SeatsApi,
    users::UsersApi,
    reservations::ReservationsApi,
    waitlist::WaitlistApi,
    virtual_queue::QueueApi,
    report::ReportApi,
    tickets::TicketsApi,
    user_history::UserHistoryApi,
    admin::AdminApi,
);

/// The API, its batchers started on `tasks`.
pub fn api_service(pool: &PgPool, reads: &Reads, limits: &Limits, tasks: &Tasks) -> OpenApiService<Api, ()> {
    let writer = Writer::start(pool.clone(), tasks);
    // the key of queue passes and entry tokens, loaded once for the queue's routes and streams
    let passes = Arc::new(services::virtual_queue::PassKey::default());
    let api = (
        ops::OpsApi { pool: pool.clone() },
        events::EventsApi { pool: pool.clone(), reads: reads.clone() },
        catalog::CatalogApi { pool: pool.clone() },
        availability::AvailabilityApi { reads: reads.clone() },
        live::LiveApi {
            pool: pool.clone(),
            live: services::live::Live::start(pool.clone(), limits.max_subscribers, tasks),
            passes: passes.clone(),
            shutdown: tasks.shutdown.clone(),
        },
        pools::PoolsApi { pool: pool.clone() },
        seats::SeatsApi { pool: pool.clone(), reads: reads.clone() },
        users::UsersApi { pool: pool.clone() },
        reservations::ReservationsApi {
            pool: pool.clone(),
            intake: Intake::start(pool.clone(), tasks),
            writer: writer.clone(),
            facts: services::items::facts(),
        },
        waitlist::WaitlistApi {
            pool: pool.clone(),
            writer,
            standings: Standings::start(pool.clone(), tasks),
            refs: services::items::cache(),
        },
        virtual_queue::QueueApi {
            pool: pool.clone(),
            reads: reads.clone(),
            joins: services::virtual_queue::Joins::start(pool.clone(), tasks),
            passes: passes.clone(),
        },
        report::ReportApi { pool: pool.clone() },
        tickets::TicketsApi { pool: pool.clone() },
        user_history::UserHistoryApi { pool: pool.clone() },
        admin::AdminApi { pool: pool.clone() },
    );
    OpenApiService::new(api, "boxoffice", env!("CARGO_PKG_VERSION"))
        .description(
            "A ticketing backend for high-demand on-sales.\n\n\
             Every POST accepts an `Idempotency-Key` header (at most 255 characters), scoped to the \
             API key and kept 24 hours: a retry with the same key and request gets the first answer \
             again, with `Idempotent-Replayed: true`; the same key with another request is a 422 \
             `IDEMPOTENCY_KEY_REUSED`; a retry while the first is still being served is a 409 \
             `IDEMPOTENCY_KEY_IN_PROGRESS` with `Retry-After`. Answers 401, 429 and 5xx are not \
             kept, so their retries run again.\n\n\
             Text is stored by PostgreSQL: a NUL character (U+0000), or percent-encoded bytes that \
             are not UTF-8, anywhere in a path, query or body is refused with a 422 naming its place. \
             Blank means empty once ASCII whitespace (space, tab, line feed, form feed, carriage \
             return) is trimmed, as the patterns `[^ \\t\\n\\f\\r]` say; lengths count characters \
             before trimming.",
        )
        .server("/api")
}

pub use allow::AllowedMethods;

/// The whole HTTP application, its batchers living as long as the process (tests, tools).
pub fn app(pool: PgPool, limits: Limits) -> impl Endpoint {
    app_on(pool.clone(), Reads::primary(pool), limits, &Tasks::default())
}

/// The whole HTTP application, its batchers started on `tasks`: on shutdown they answer what they
/// took and refuse the rest with 503. Public reads go through `reads`.
pub fn app_on(pool: PgPool, reads: Reads, limits: Limits, tasks: &Tasks) -> impl Endpoint + use<> {
    crate::observe::handle();
    let api = api_service(&pool, &reads, &limits, tasks);
    let allowed = AllowedMethods::from_spec(&api.spec(), "/api");
    let spec = api.spec_endpoint();
    let docs = api.swagger_ui();
    let keys = Arc::new(services::auth::key_cache(limits.key_cache));
    let routes = Route::new()
        .nest("/api", api)
        .at("/openapi.json", spec)
        .at("/metrics", poem::get(metrics_text))
        .at("/queue/:event_id", poem::get(waiting_room::page))
        .at(waiting_room::SCRIPT_PATH, poem::get(waiting_room::script))
        .at(waiting_room::STYLE_PATH, poem::get(waiting_room::style))
        .nest("/docs", docs)
        .data(pool.clone())
        .data(keys.clone())
        .data(Arc::new(services::virtual_queue::PassKey::default()))
        .around(public_reads::around);
    with_middleware(routes, limits, Some((pool, keys)), allowed)
}

/// Every metric of this process, in the Prometheus text format (no secrets, no buyers' data).
#[poem::handler]
fn metrics_text() -> String {
    crate::observe::render()
}

/// What every route goes through: panics caught, then request ids, the body limit, the deadline,
/// idempotency keys (kept in the pool, for callers the key cache knows; ignored without them), the
/// error envelope and the request log (see [`middleware::around`]).
pub fn with_middleware(
    routes: impl Endpoint + 'static,
    limits: Limits,
    keys: Option<(PgPool, Arc<services::auth::KeyCache>)>,
    allowed: AllowedMethods,
) -> impl Endpoint {
    let rates = Arc::new(rate_limit::RateLimits::new(limits.per_ip, limits.trust_forwarded));
    routes
        .with(CatchPanic::new().with_handler(middleware::on_panic))
        .around(move |ep, req| middleware::around(ep, req, limits, keys.clone(), allowed.clone(), rates.clone()))
}

/// The OpenAPI document, as served at `/openapi.json`.
/// Needs a runtime: the batchers it describes are started, stay idle, and end with it.
pub fn spec_json(pool: &PgPool) -> String {
    let tasks = Tasks::default();
    let spec = api_service(pool, &Reads::primary(pool.clone()), &Limits::default(), &tasks).spec();
    tasks.shutdown.cancel();
    spec
}
