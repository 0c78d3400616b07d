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
    if crate::server::error::is_api_path(uri.path()) {
        ApiError(WebError::NotFound).into_response()
    } else {
        WebError::NotFound.into_response()
    }
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::OPENAPI;
    use crate::server::testing::{get, get_with, image, request, state, write_lock};

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
        let (status, body) = call(&router, "/api/boom").await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["error"]["code"], "internal-error");
        assert_eq!(
            json["error"]["message"],
            "internal error: the handler panicked: boom at 42"
        );
        let (status, body) = call(&router, "/boom").await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(body.contains("<h1>500 Internal Server Error</h1>"));
        let metrics = crate::server::metrics::render(&state);
        assert!(
            metrics.contains(r#"fave_lock_http_requests_total{route="/api/boom",status="5xx"} 1"#),
            "{metrics}"
        );
    }

    /// Errors under `/api` are JSON whatever layer made them: the fallback's 404, the router's 405
    /// (its `Allow` kept), a body over the limit's 413; pages keep the HTML error page.
    #[tokio::test]
    async fn api_errors_are_json_with_a_code() {
        let dir = tempfile::tempdir().unwrap();
        let state = state(vec![image(dir.path(), "fave-base", None)]);
        for (method, path, status, code) in [
            ("GET", "/api/nothing", StatusCode::NOT_FOUND, "not-found"),
            ("GET", "/api", StatusCode::NOT_FOUND, "not-found"),
            (
                "POST",
                "/api/images",
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
            ),
            (
                "DELETE",
                "/api/locks/fave-base/requirements.txt",
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
            ),
        ] {
            let answer = request(&state, method, path, &[]).await;
            assert_eq!(answer.status, status, "{method} {path}");
            assert_eq!(answer.headers["content-type"], "application/json");
            let json = answer.json();
            assert_eq!(json["error"]["code"], code, "{method} {path}");
            assert!(json["error"]["message"].as_str().unwrap().len() > 10);
            if status == StatusCode::METHOD_NOT_ALLOWED {
                let allow = answer.headers["allow"].to_str().unwrap();
                assert!(allow.contains("GET"), "{allow}");
            }
        }
        let big = "x".repeat(64 * 1024);
        let router = crate::server::router(state.clone());
        let answer = tower::ServiceExt::oneshot(
            router,
            axum::http::Request::get("/api/images")
                .header("content-length", big.len())
                .body(axum::body::Body::from(big))
                .unwrap(),
        )
        .await
        .unwrap();
        // The body limit answers from the Content-Length alone, before any handler runs.
        assert_eq!(answer.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let body = axum::body::to_bytes(answer.into_body(), 1 << 20)
            .await
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["error"]["code"], "body-too-large");

        let page = request(&state, "POST", "/", &[]).await;
        assert_eq!(page.status, StatusCode::METHOD_NOT_ALLOWED);
        assert!(!page.body.contains("\"error\""), "{}", page.body);
    }

    /// GET `path` through `router`: status and body as text.
    async fn call(router: &axum::Router, path: &str) -> (StatusCode, String) {
        use tower::ServiceExt as _;
        let request = axum::http::Request::get(path)
            .body(axum::body::Body::empty())
            .unwrap();
        let answer = router.clone().oneshot(request).await.unwrap();
        let status = answer.status();
        let body = axum::body::to_bytes(answer.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    /// An API answer past the request timeout is a JSON 408 (a page's stays the plain status).
    #[tokio::test]
    async fn a_request_past_the_timeout_is_a_json_408() {
        use axum::Router;
        use axum::routing::get;

        let dir = tempfile::tempdir().unwrap();
        let registry =
            crate::registry::RegistryClient::new(crate::registry::RegistryOptions::default())
                .unwrap();
        let settings = crate::server::ServeSettings {
            request_timeout: std::time::Duration::from_millis(20),
            ..crate::server::ServeSettings::default()
        };
        let state = crate::server::AppState::new(
            vec![image(dir.path(), "fave-base", None)],
            registry,
            None,
            settings,
        );
        // Never answers: only the timeout can.
        async fn never() -> &'static str {
            std::future::pending::<()>().await;
            "unreached"
        }
        let routes = Router::new()
            .route("/api/never", get(never))
            .route("/never", get(never));
        let router = crate::server::routes::with_layers(routes, state);
        let (status, body) = call(&router, "/api/never").await;
        assert_eq!(status, StatusCode::REQUEST_TIMEOUT);
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["error"]["code"], "request-timeout");
        assert_eq!(call(&router, "/never").await.0, StatusCode::REQUEST_TIMEOUT);
    }

    /// Text answers are compressed when the client accepts it (gzip, br), with `Vary`; the bytes
    /// inflate to exactly the uncompressed answer; a client that accepts neither gets plain text.
    #[tokio::test]
    async fn text_answers_are_compressed_when_accepted() {
        use std::io::Read as _;

        let dir = tempfile::tempdir().unwrap();
        let sbom = format!(
            "{{\"components\": [{}]}}\n",
            (0..200)
                .map(|n| format!("{{\"name\": \"package-{n}\", \"version\": \"1.{n}\"}}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        write_lock(dir.path(), "fave-base", &[("sbom.cdx.json", &sbom)]);
        let state = state(vec![image(dir.path(), "fave-base", None)]);
        let path = "/api/locks/fave-base/sbom.cdx.json";
        let plain = get(&state, path).await;
        assert_eq!(plain.body, sbom);
        assert!(!plain.headers.contains_key("content-encoding"));

        let gzip = get_with(&state, path, &[("accept-encoding", "gzip")]).await;
        assert_eq!(gzip.headers["content-encoding"], "gzip");
        assert!(
            gzip.headers["vary"]
                .to_str()
                .unwrap()
                .contains("accept-encoding")
        );
        assert!(
            gzip.bytes.len() * 5 < sbom.len(),
            "{} bytes",
            gzip.bytes.len()
        );
        let mut inflated = String::new();
        flate2::read::GzDecoder::new(&gzip.bytes[..])
            .read_to_string(&mut inflated)
            .unwrap();
        assert_eq!(inflated, sbom);
        // The ETag names the content, so the compressed answer revalidates with it too.
        assert_eq!(gzip.headers["etag"], plain.headers["etag"]);
        let revalidated = get_with(
            &state,
            path,
            &[
                ("accept-encoding", "gzip"),
                ("if-none-match", gzip.headers["etag"].to_str().unwrap()),
            ],
        )
        .await;
        assert_eq!(revalidated.status, StatusCode::NOT_MODIFIED);
        assert!(revalidated.bytes.is_empty());

        let br = get_with(&state, path, &[("accept-encoding", "br;q=1, gzip;q=0.5")]).await;
        assert_eq!(br.headers["content-encoding"], "br");
        assert!(br.bytes.len() < gzip.bytes.len() * 2);

        let refused = get_with(&state, path, &[("accept-encoding", "gzip;q=0, identity")]).await;
        assert!(!refused.headers.contains_key("content-encoding"));
        assert_eq!(refused.body, sbom);

        for page in ["/", "/api/images", "/metrics", "/openapi.json"] {
            let answer = get_with(&state, page, &[("accept-encoding", "gzip")]).await;
            assert_eq!(answer.headers["content-encoding"], "gzip", "{page}");
        }
    }

    /// `/metrics` parses as the Prometheus text format, and carries the build and process metrics
    /// with values that agree with the process itself.
    #[tokio::test]
    async fn metrics_carry_build_info_and_process_metrics() {
        let dir = tempfile::tempdir().unwrap();
        let state = state(vec![image(dir.path(), "fave-base", None)]);
        let before = cpu_seconds();
        let text = get(&state, "/metrics").await.body;
        let after = cpu_seconds();
        // Parsed by a Prometheus text parser; it skips what it does not understand, so every line
        // must also be one it recognises.
        for line in text.lines() {
            let info = prometheus_parse::LineInfo::parse(line);
            assert!(
                !matches!(info, prometheus_parse::LineInfo::Ignored),
                "not Prometheus text: {line}"
            );
        }
        let scrape =
            prometheus_parse::Scrape::parse(text.lines().map(|line| Ok(line.to_string()))).unwrap();
        let value = |name: &str| {
            let sample = scrape
                .samples
                .iter()
                .find(|sample| sample.metric == name)
                .unwrap_or_else(|| panic!("no {name} in {text}"));
            let number = match sample.value {
                prometheus_parse::Value::Gauge(value) | prometheus_parse::Value::Counter(value) => {
                    value
                }
                ref other => panic!("{name}: {other:?}"),
            };
            (number, sample.labels.clone())
        };
        let (built, labels) = value("fave_lock_build_info");
        assert_eq!(built, 1.0);
        assert_eq!(labels.get("version"), Some(env!("CARGO_PKG_VERSION")));
        let git = labels.get("git").unwrap();
        assert!(
            git == "unknown" || (git.len() == 12 && git.bytes().all(|b| b.is_ascii_hexdigit())),
            "{git}"
        );
        assert_eq!(
            scrape.docs["process_open_fds"],
            "Number of open file descriptors."
        );
        #[allow(clippy::cast_precision_loss)]
        let fds = std::fs::read_dir("/proc/self/fd").unwrap().count() as f64;
        assert!((value("process_open_fds").0 - fds).abs() < 16.0);
        assert!(value("process_resident_memory_bytes").0 > 1e6);
        // The kernel counts in clock ticks (10 ms), getrusage in microseconds.
        let cpu = value("process_cpu_seconds_total").0;
        assert!(
            cpu >= before - 0.02 && cpu <= after + 0.02,
            "{cpu} vs {before}..{after}"
        );
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let started = value("process_start_time_seconds").0;
        assert!(
            started <= now && started > now - 3600.0,
            "{started} vs {now}"
        );
    }

    /// This process's user + system CPU time by getrusage(2), to compare `/proc` with.
    fn cpu_seconds() -> f64 {
        // SAFETY: getrusage writes into the zeroed struct we pass and nothing else.
        let usage = unsafe {
            let mut usage: libc::rusage = std::mem::zeroed();
            assert_eq!(libc::getrusage(libc::RUSAGE_SELF, &raw mut usage), 0);
            usage
        };
        let seconds = |time: libc::timeval| {
            #[allow(clippy::cast_precision_loss)]
            let value = time.tv_sec as f64 + time.tv_usec as f64 / 1e6;
            value
        };
        seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }
}
