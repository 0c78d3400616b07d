//! One module per page or API area; each holds its handlers, their response types and their tests.

pub mod api;
pub mod assets;
pub mod dashboard;
pub mod locks;
pub mod meta;

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG};
use axum::response::{IntoResponse, Response};

use super::conditional::Tagged;

/// `text/html; charset=utf-8`.
pub(crate) const HTML: &str = "text/html; charset=utf-8";
/// `application/json`.
pub(crate) const JSON: &str = "application/json";

/// A cached body as a response: views change with every snapshot, so browsers revalidate (with the
/// ETag computed when the body was rendered).
pub(crate) fn cached_body(content_type: &'static str, page: Tagged) -> Response {
    (
        [(CONTENT_TYPE, content_type), (CACHE_CONTROL, "no-cache")],
        [(ETAG, page.etag)],
        page.body,
    )
        .into_response()
}
