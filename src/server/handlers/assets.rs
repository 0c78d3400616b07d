//! The stylesheet and script, compiled into the binary so the server is one file.

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::IntoResponse;

const STYLE: &str = include_str!("../../../web/static/style.css");
const SCRIPT: &str = include_str!("../../../web/static/app.js");

/// `GET /static/style.css`.
pub async fn style() -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "text/css; charset=utf-8"),
            (CACHE_CONTROL, "public, max-age=3600"),
        ],
        STYLE,
    )
}

/// `GET /static/app.js`.
pub async fn script() -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (CACHE_CONTROL, "public, max-age=3600"),
        ],
        SCRIPT,
    )
}
