//! `/healthz`, `/metrics`, `/openapi.json`, and the fallback for unknown addresses.

use axum::Json;
use axum::extract::State;
use axum::http::Uri;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::server::error::{ApiError, WebError};
use crate::server::metrics;
use crate::server::state::AppState;

/// The OpenAPI document, hand-written beside the templates.
pub const OPENAPI: &str = include_str!("../../../web/openapi.json");

/// `GET /healthz`: the process answers. Contacts no registry, so it stays cheap and truthful about the
/// server alone.
pub async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    Json(json!({
        "status": "ok",
        "version": crate::server::VERSION,
        "images": state.images.len(),
    }))
}

/// `GET /metrics`: Prometheus text format.
pub async fn prometheus(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        metrics::render(&state),
    )
}

/// `GET /openapi.json`.
pub async fn openapi() -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], OPENAPI)
}

/// Any other address: JSON under `/api`, the HTML error page elsewhere.
pub async fn not_found(uri: Uri) -> Response {
    if uri.path().starts_with("/api/") || uri.path() == "/api" {
        ApiError(WebError::NotFound).into_response()
    } else {
        WebError::NotFound.into_response()
    }
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::OPENAPI;
    use crate::server::testing::{get, image, state};

    #[tokio::test]
    async fn healthz_and_security_headers() {
        let dir = tempfile::tempdir().unwrap();
        let state = state(vec![image(dir.path(), "fave-base", None)]);
        let answer = get(&state, "/healthz").await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.json()["status"], "ok");
        assert_eq!(answer.json()["images"], 1);
        assert_eq!(answer.headers["x-content-type-options"], "nosniff");
        assert!(
            answer.headers["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("script-src 'self'")
        );
    }

    #[tokio::test]
    async fn unknown_addresses_answer_in_the_right_format() {
        let dir = tempfile::tempdir().unwrap();
        let state = state(vec![image(dir.path(), "fave-base", None)]);
        let api = get(&state, "/api/nothing/here").await;
        assert_eq!(api.status, StatusCode::NOT_FOUND);
        assert_eq!(api.json()["error"]["code"], "not-found");
        let page = get(&state, "/nothing").await;
        assert_eq!(page.status, StatusCode::NOT_FOUND);
        assert!(
            page.body.contains("<h1>404 Not Found</h1>"),
            "{}",
            page.body
        );
        let image = get(&state, "/images/nope").await;
        assert_eq!(image.status, StatusCode::NOT_FOUND);
        assert!(image.body.contains("no image named `nope` is configured"));
    }

    /// Every documented path is routed (no fallback answer), and every route is documented.
    #[tokio::test]
    async fn openapi_matches_the_router() {
        let document: serde_json::Value = serde_json::from_str(OPENAPI).unwrap();
        let paths: Vec<&str> = document["paths"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let routes = include_str!("../routes.rs");
        let routed: Vec<&str> = routes
            .lines()
            .filter_map(|line| line.trim().strip_prefix(".route(\""))
            .filter_map(|rest| rest.split('"').next())
            .filter(|path| !path.starts_with("/static/"))
            .collect();
        let mut documented = paths.clone();
        documented.sort_unstable();
        let mut expected = routed.clone();
        expected.sort_unstable();
        assert_eq!(documented, expected);

        let dir = tempfile::tempdir().unwrap();
        let state = state(vec![image(dir.path(), "fave-base", None)]);
        for path in paths {
            let concrete = path
                .replace("{name}", "fave-base")
                .replace("{image}", "fave-base")
                .replace("{file}", "requirements.txt")
                .replace("{tag}", "1.0");
            let answer = get(&state, &concrete).await;
            let fallback = answer.status == axum::http::StatusCode::NOT_FOUND
                && (answer.body.contains("\"not-found\"") || answer.body.contains("no page at"));
            assert!(!fallback, "{concrete}: {}", answer.body);
        }
    }

    /// A handler that panics (none should) answers 500 in the right format, counted as a 5xx, and
    /// the server goes on answering.
    #[tokio::test]
    async fn a_panicking_handler_answers_500() {
        use axum::Router;
        use axum::routing::get;
        use tower::ServiceExt as _;

        let dir = tempfile::tempdir().unwrap();
        let state = state(vec![image(dir.path(), "fave-base", None)]);
        async fn boom() -> &'static str {
            if std::hint::black_box(true) {
                panic!("boom at {}", 42);
            }
            "unreached"
        }
        let routes = Router::new()
            .route("/api/boom", get(boom))
            .route("/boom", get(boom));
        let router = crate::server::routes::with_layers(routes, state.clone());
        let request = |path: &str| {
            axum::http::Request::get(path)
                .body(axum::body::Body::empty())
                .unwrap()
        };
        let api = router.clone().oneshot(request("/api/boom")).await.unwrap();
        assert_eq!(api.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(api.into_body(), 1 << 20)
            .await
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["error"]["code"], "internal-error");
        assert_eq!(
            json["error"]["message"],
            "internal error: the handler panicked: boom at 42"
        );
        let page = router.clone().oneshot(request("/boom")).await.unwrap();
        assert_eq!(page.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(page.into_body(), 1 << 20)
            .await
            .unwrap();
        assert!(String::from_utf8_lossy(&body).contains("<h1>500 Internal Server Error</h1>"));
        let metrics = crate::server::metrics::render(&state);
        assert!(
            metrics.contains(r#"fave_lock_http_requests_total{route="/api/boom",status="5xx"} 1"#),
            "{metrics}"
        );
    }
}
