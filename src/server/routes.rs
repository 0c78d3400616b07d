//! Every URL the server answers, and the layers around them. Everything is read-only: GET (and HEAD)
//! only.

use axum::Router;
use axum::http::header::{
    CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware;
use axum::routing::get;
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;

use super::conditional;
use super::error::{api_errors, catch_panic};
use super::handlers::{api, assets, dashboard, locks, meta};
use super::metrics;
use super::state::AppState;

/// Only our own stylesheet and script; no inline code, no framing, no other origin.
const CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The router with every route and layer.
pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        // Pages.
        .route("/", get(dashboard::index))
        .route("/images/{name}", get(dashboard::image))
        .route("/static/style.css", get(assets::style))
        .route("/static/app.js", get(assets::script))
        // JSON API.
        .route("/api/images", get(api::images))
        .route("/api/images/{name}", get(api::image))
        .route("/api/images/{name}/tags", get(api::tags))
        .route("/api/images/{name}/tags/{tag}", get(api::tag))
        .route("/api/locks", get(locks::list))
        .route("/api/locks/{image}/{file}", get(locks::file))
        .route("/api/check", get(api::check))
        // Operations.
        .route("/openapi.json", get(meta::openapi))
        .route("/healthz", get(meta::healthz))
        .route("/metrics", get(meta::prometheus))
        .fallback(meta::not_found);
    with_layers(routes, state)
}

/// `routes` wrapped in the layers every route gets (their order: the first is the innermost).
pub(crate) fn with_layers(routes: Router<AppState>, state: AppState) -> Router {
    let timeout = state.settings.request_timeout;
    let body_limit = state.settings.limits.max_body_bytes;
    routes
        .layer(middleware::from_fn(catch_panic))
        .layer(middleware::from_fn(conditional::etag))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(RequestBodyLimitLayer::new(body_limit))
        .layer(middleware::from_fn(api_errors))
        // gzip or br when the client accepts it, for answers over 32 bytes (every answer is text).
        .layer(CompressionLayer::new())
        .layer(SetResponseHeaderLayer::if_not_present(
            CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .with_state(state)
}
