//! The one web error type. [`WebError`] renders as the site's HTML error page; wrapped in [`ApiError`]
//! the same error renders as JSON for `/api`. Internal errors are logged once, where they become a
//! response.

use std::panic::AssertUnwindSafe;

use askama::Template;
use axum::Json;
use axum::extract::Request;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use futures::FutureExt as _;
use serde_json::json;

/// Why a request cannot be answered with what it asked for.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// No image of that name is configured.
    #[error("no image named `{0}` is configured")]
    ImageNotFound(String),
    /// The image's registry has no such tag (or it is not in the current view).
    #[error("image `{image}` has no tag `{tag}` in its registry")]
    TagNotFound { image: String, tag: String },
    /// The file name is not one of the lock files the server serves.
    #[error(
        "`{0}` is not a lock file; the server serves requirements.txt, pylock.toml, sbom.cdx.json, \
         build-plan.json and docker-bake.json"
    )]
    UnknownLockFile(String),
    /// A known lock file that the image's lock folder does not have (yet).
    #[error("image `{image}` has no `{file}` in its lock folder yet")]
    LockFileMissing { image: String, file: String },
    /// A malformed request (a path parameter that does not parse).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// No route matches.
    #[error("no page at this address")]
    NotFound,
    /// The address exists, but not for this method (every route is GET or HEAD).
    #[error("this address answers GET and HEAD only")]
    MethodNotAllowed,
    /// The answer took longer than the request timeout.
    #[error("the answer took longer than the request timeout")]
    RequestTimeout,
    /// The request body is over `--max-body-bytes` (no route reads a body).
    #[error("the request body is larger than the server accepts")]
    BodyTooLarge,
    /// The server runs without a `fave-lock.toml`, so there is no lock to check.
    #[error("the lock check needs a fave-lock.toml; this server was started without one")]
    CheckNotConfigured,
    /// The lock check is still running after most of the request's time; it goes on in the background.
    #[error("the lock check is still running; ask again in a moment")]
    CheckPending,
    /// A bug or an I/O failure on the server's side.
    #[error("internal error: {0}")]
    Internal(String),
}

impl WebError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            WebError::ImageNotFound(_)
            | WebError::TagNotFound { .. }
            | WebError::LockFileMissing { .. }
            | WebError::UnknownLockFile(_)
            | WebError::NotFound => StatusCode::NOT_FOUND,
            WebError::BadRequest(_) => StatusCode::BAD_REQUEST,
            WebError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            WebError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            WebError::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            WebError::CheckNotConfigured | WebError::CheckPending => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            WebError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A stable kebab-case code for API clients.
    pub fn code(&self) -> &'static str {
        match self {
            WebError::ImageNotFound(_) => "image-not-found",
            WebError::TagNotFound { .. } => "tag-not-found",
            WebError::UnknownLockFile(_) => "unknown-lock-file",
            WebError::LockFileMissing { .. } => "lock-file-missing",
            WebError::BadRequest(_) => "bad-request",
            WebError::NotFound => "not-found",
            WebError::MethodNotAllowed => "method-not-allowed",
            WebError::RequestTimeout => "request-timeout",
            WebError::BodyTooLarge => "body-too-large",
            WebError::CheckNotConfigured => "check-not-configured",
            WebError::CheckPending => "check-pending",
            WebError::Internal(_) => "internal-error",
        }
    }

    fn log(&self) {
        if let WebError::Internal(message) = self {
            tracing::error!(%message, "internal server error");
        }
    }
}

impl From<PathRejection> for WebError {
    fn from(rejection: PathRejection) -> WebError {
        WebError::BadRequest(rejection.body_text())
    }
}

impl From<QueryRejection> for WebError {
    fn from(rejection: QueryRejection) -> WebError {
        WebError::BadRequest(rejection.body_text())
    }
}

impl From<askama::Error> for WebError {
    fn from(error: askama::Error) -> WebError {
        WebError::Internal(format!("cannot render the page: {error}"))
    }
}

/// The HTML error page.
#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    status: u16,
    message: String,
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        self.log();
        let status = self.status();
        let page = ErrorPage {
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            message: self.to_string(),
        };
        match page.render() {
            Ok(html) => (status, Html(html)).into_response(),
            Err(_) => (status, self.to_string()).into_response(),
        }
    }
}

/// A [`WebError`] answered as JSON: `{"error": {"code": …, "message": …}}`.
#[derive(Debug)]
pub struct ApiError(pub WebError);

impl From<WebError> for ApiError {
    fn from(error: WebError) -> ApiError {
        ApiError(error)
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> ApiError {
        ApiError(rejection.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.0.log();
        let body = json!({"error": {"code": self.0.code(), "message": self.0.to_string()}});
        (self.0.status(), Json(body)).into_response()
    }
}

/// Whether `path` is under the JSON API, whose errors are JSON.
pub(crate) fn is_api_path(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

/// Middleware: an error answer under `/api` that is not JSON yet (the router's 405, the timeout's
/// 408, the body limit's 413) becomes the API's JSON error, so an API client parses every answer the
/// same way. Its other headers (`Allow`, `Retry-After`) stay.
pub async fn api_errors(request: Request, next: Next) -> Response {
    let api = is_api_path(request.uri().path());
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if !api || is_json || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let error = match status {
        StatusCode::NOT_FOUND => WebError::NotFound,
        StatusCode::METHOD_NOT_ALLOWED => WebError::MethodNotAllowed,
        StatusCode::REQUEST_TIMEOUT => WebError::RequestTimeout,
        StatusCode::PAYLOAD_TOO_LARGE => WebError::BodyTooLarge,
        other if other.is_client_error() => WebError::BadRequest(
            other
                .canonical_reason()
                .unwrap_or("bad request")
                .to_string(),
        ),
        other => WebError::Internal(other.canonical_reason().unwrap_or("error").to_string()),
    };
    let (parts, _) = response.into_parts();
    let mut answer = ApiError(error).into_response();
    // The status stays the one the inner layer chose (a 4xx mapped to `bad-request` keeps its own).
    *answer.status_mut() = status;
    for (name, value) in &parts.headers {
        if name != CONTENT_TYPE && name != CONTENT_LENGTH {
            answer.headers_mut().insert(name, value.clone());
        }
    }
    answer
}

/// Middleware: a handler that panics answers 500 (JSON under `/api`, the error page elsewhere) and is
/// logged, instead of the connection dropping without an answer. No input should make a handler
/// panic; this is the boundary for the one that still does.
pub async fn catch_panic(request: Request, next: Next) -> Response {
    let api = is_api_path(request.uri().path());
    // The handlers share only `Arc`s and atomics, and locks that recover from poisoning: nothing a
    // panic leaves half-updated is read as if whole.
    match AssertUnwindSafe(next.run(request)).catch_unwind().await {
        Ok(response) => response,
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(ToString::to_string)
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".to_string());
            let error = WebError::Internal(format!("the handler panicked: {message}"));
            if api {
                ApiError(error).into_response()
            } else {
                error.into_response()
            }
        }
    }
}

/// Result of a page handler.
pub type WebResult<T> = Result<T, WebError>;
/// Result of an API handler.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::WebError;

    /// The OpenAPI document's `Error` schema lists exactly the codes an API error can carry.
    #[test]
    fn the_api_schema_lists_every_error_code() {
        let every = [
            WebError::ImageNotFound(String::new()),
            WebError::TagNotFound {
                image: String::new(),
                tag: String::new(),
            },
            WebError::UnknownLockFile(String::new()),
            WebError::LockFileMissing {
                image: String::new(),
                file: String::new(),
            },
            WebError::BadRequest(String::new()),
            WebError::NotFound,
            WebError::MethodNotAllowed,
            WebError::RequestTimeout,
            WebError::BodyTooLarge,
            WebError::CheckNotConfigured,
            WebError::CheckPending,
            WebError::Internal(String::new()),
        ];
        // A new variant must be added above (this match fails to compile until it is).
        for error in &every {
            match error {
                WebError::ImageNotFound(_)
                | WebError::TagNotFound { .. }
                | WebError::UnknownLockFile(_)
                | WebError::LockFileMissing { .. }
                | WebError::BadRequest(_)
                | WebError::NotFound
                | WebError::MethodNotAllowed
                | WebError::RequestTimeout
                | WebError::BodyTooLarge
                | WebError::CheckNotConfigured
                | WebError::CheckPending
                | WebError::Internal(_) => {}
            }
        }
        let codes: BTreeSet<&str> = every.iter().map(WebError::code).collect();
        assert_eq!(codes.len(), every.len(), "codes are unique");
        let openapi: serde_json::Value =
            serde_json::from_str(crate::server::handlers::meta::OPENAPI).unwrap();
        let listed: BTreeSet<&str> =
            openapi["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]
                ["enum"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(serde_json::Value::as_str)
                .collect();
        assert_eq!(listed, codes);
    }
}
