//! One module per page or API area; each holds its handlers, their response types and their tests.

pub mod api;
pub mod assets;
pub mod dashboard;
pub mod locks;
pub mod meta;

use axum::body::Bytes;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};

/// `text/html; charset=utf-8`.
pub(crate) const HTML: &str = "text/html; charset=utf-8";
/// `application/json`.
pub(crate) const JSON: &str = "application/json";

/// A cached body as a response: views change with every snapshot, so browsers revalidate.
pub(crate) fn cached_body(content_type: &'static str, body: Bytes) -> Response {
    (
        [(CONTENT_TYPE, content_type), (CACHE_CONTROL, "no-cache")],
        body,
    )
        .into_response()
}
