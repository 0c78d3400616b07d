//! The JSON API under `/api`: images, their tags, one tag, and the lock check. Every image answer is a
//! view of the same snapshots the pages show, serialised once per snapshot and cached; the check is the
//! library's, cached by [`crate::server::check`].

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::{JSON, cached_body};
use crate::server::error::{ApiError, ApiResult, WebError};
use crate::server::extractors::ApiPath;
use crate::server::lockfiles::{LockView, PlanView};
use crate::server::snapshot::{BaseImageView, ImageSnapshot, PlannedTag, TagView};
use crate::server::state::AppState;

/// An image without its tag list, for `/api/images`.
#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct ImageSummary<'a> {
    image: &'a str,
    repository: Option<&'a str>,
    generation: u64,
    fetched_at: &'a str,
    registry: RegistrySummary<'a>,
    lock: &'a LockView,
    plan: Option<&'a PlanView>,
    planned_tags: &'a [PlannedTag],
    base_image: Option<&'a BaseImageView>,
    links: Links,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct RegistrySummary<'a> {
    state: &'a str,
    #[serde(skip_serializing_if = "String::is_empty")]
    message: String,
    tags: usize,
    fresh: usize,
    stale: usize,
    unknown: usize,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct Links {
    page: String,
    tags: String,
    locks: String,
}

impl<'a> ImageSummary<'a> {
    fn of(snapshot: &'a ImageSnapshot) -> ImageSummary<'a> {
        let (fresh, stale, unknown) = snapshot.freshness_counts();
        ImageSummary {
            image: &snapshot.image,
            repository: snapshot.repository.as_deref(),
            generation: snapshot.generation,
            fetched_at: &snapshot.fetched_at,
            registry: RegistrySummary {
                state: snapshot.registry.name(),
                message: snapshot.registry.message(),
                tags: snapshot.registry.tags().len(),
                fresh,
                stale,
                unknown,
            },
            lock: &snapshot.lock,
            plan: snapshot.plan.as_ref(),
            planned_tags: &snapshot.planned_tags,
            base_image: snapshot.base_image.as_ref(),
            links: Links {
                page: format!("/images/{}", snapshot.image),
                tags: format!("/api/images/{}/tags", snapshot.image),
                locks: format!("/api/locks#{}", snapshot.image),
            },
        }
    }
}

fn to_json<T: Serialize>(value: &T) -> Result<Bytes, WebError> {
    serde_json::to_vec_pretty(value)
        .map(Bytes::from)
        .map_err(|error| WebError::Internal(format!("cannot serialise JSON: {error}")))
}

fn snapshot_index(state: &AppState, name: &str) -> Result<usize, ApiError> {
    state
        .image_index(name)
        .ok_or_else(|| ApiError(WebError::ImageNotFound(name.to_string())))
}

/// `GET /api/images`: every image's summary.
pub async fn images(State(state): State<AppState>) -> ApiResult<Response> {
    let snapshots = state.all_snapshots().await;
    let body = state.pages.get_or_render("/api/images", &snapshots, || {
        let images: Vec<ImageSummary<'_>> = snapshots
            .iter()
            .map(|snapshot| ImageSummary::of(snapshot))
            .collect();
        to_json(&serde_json::json!({ "images": images }))
    })?;
    Ok(cached_body(JSON, body))
}

/// `GET /api/images/{name}`: one image's full snapshot, tags included.
pub async fn image(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Response> {
    let snapshot = state.snapshot(snapshot_index(&state, &name)?).await;
    let key = format!("/api/images/{name}");
    let snapshots = [snapshot];
    let body = state
        .pages
        .get_or_render(&key, &snapshots, || to_json(&*snapshots[0]))?;
    Ok(cached_body(JSON, body))
}

/// `/api/images/{name}/tags`.
#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct TagsResponse<'a> {
    image: &'a str,
    repository: Option<&'a str>,
    /// `ok`, `empty`, `unreachable`, `auth-failed`, `not-configured` or `error`.
    state: &'a str,
    #[serde(skip_serializing_if = "String::is_empty")]
    message: String,
    fetched_at: &'a str,
    tags: &'a [TagView],
}

/// `GET /api/images/{name}/tags`: every tag with its digest and platforms. A registry that cannot be
/// read is a `state` in a 200 answer, as on the page, not an HTTP error.
pub async fn tags(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Response> {
    let snapshot = state.snapshot(snapshot_index(&state, &name)?).await;
    let key = format!("/api/images/{name}/tags");
    let snapshots = [snapshot];
    let body = state.pages.get_or_render(&key, &snapshots, || {
        let snapshot = &snapshots[0];
        to_json(&TagsResponse {
            image: &snapshot.image,
            repository: snapshot.repository.as_deref(),
            state: snapshot.registry.name(),
            message: snapshot.registry.message(),
            fetched_at: &snapshot.fetched_at,
            tags: snapshot.registry.tags(),
        })
    })?;
    Ok(cached_body(JSON, body))
}

/// `GET /api/images/{name}/tags/{tag}`: one tag.
pub async fn tag(
    State(state): State<AppState>,
    ApiPath((name, tag)): ApiPath<(String, String)>,
) -> ApiResult<Json<TagView>> {
    let snapshot = state.snapshot(snapshot_index(&state, &name)?).await;
    let found = snapshot.tag(&tag).ok_or_else(|| WebError::TagNotFound {
        image: name.clone(),
        tag: tag.clone(),
    })?;
    Ok(Json(found.clone()))
}

/// `/api/check` parameters.
#[derive(Debug, Deserialize)]
pub struct CheckQuery {
    /// Only the local checks (inputs, lock format, missing files): no index, no registry.
    #[serde(default)]
    offline: bool,
}

/// `GET /api/check[?offline=true]`: `fave-lock check --format json` run by the server (cached for its
/// check TTL), plus `verdict`, `checked-at` and `offline`. Fresh, stale and integrity failures are 200
/// answers; a check that cannot run is a JSON error with verdict `error` (502 when the index or a
/// registry failed).
pub async fn check(
    State(state): State<AppState>,
    query: Result<Query<CheckQuery>, QueryRejection>,
) -> ApiResult<Response> {
    let Query(query) = query.map_err(WebError::from)?;
    let outcome = crate::server::check::outcome(&state, query.offline).await?;
    Ok(outcome.response())
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use crate::server::testing::{get, image, state};

    #[tokio::test]
    async fn states_and_a_server_without_a_config() {
        let dir = tempfile::tempdir().unwrap();
        let state = state(vec![
            image(dir.path(), "fave-base", None),
            image(dir.path(), "down", Some("127.0.0.1:1/down")),
        ]);
        let images = get(&state, "/api/images").await.json();
        assert_eq!(images["images"][0]["registry"]["state"], "not-configured");
        assert_eq!(images["images"][1]["registry"]["state"], "unreachable");
        let message = images["images"][1]["registry"]["message"].as_str().unwrap();
        assert!(
            message.contains("registry `127.0.0.1:1` is unreachable"),
            "{message}"
        );

        let tags = get(&state, "/api/images/down/tags").await;
        assert_eq!(tags.status, StatusCode::OK);
        assert_eq!(tags.json()["state"], "unreachable");
        assert_eq!(tags.json()["tags"], serde_json::json!([]));

        let missing = get(&state, "/api/images/down/tags/1.0").await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        assert_eq!(missing.json()["error"]["code"], "tag-not-found");
        let no_image = get(&state, "/api/images/nope/tags").await;
        assert_eq!(no_image.json()["error"]["code"], "image-not-found");

        let check = get(&state, "/api/check").await;
        assert_eq!(check.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(check.json()["error"]["code"], "check-not-configured");
        let bad = get(&state, "/api/check?offline=maybe").await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert_eq!(bad.json()["error"]["code"], "bad-request");

        let metrics = get(&state, "/metrics").await.body;
        assert!(
            metrics.contains(
                r#"fave_lock_http_requests_total{route="/api/images/{name}/tags",status="2xx"} 1"#
            ),
            "{metrics}"
        );
        assert!(metrics.contains(
            r#"fave_lock_http_requests_total{route="/api/images/{name}/tags/{tag}",status="4xx"} 1"#
        ));
        assert!(metrics.contains(
            r#"fave_lock_registry_requests_total{kind="tags",outcome="transport-error"}"#
        ));
        assert!(
            metrics.contains(r#"fave_lock_cache_lookups_total{cache="snapshot",result="miss"} 2"#)
        );
    }

    /// Path and query values a client makes up: invalid UTF-8 once percent-decoded, NULs, overlong
    /// encodings, repeated and huge parameters. Each is a 4xx JSON answer, never a panic or a 5xx.
    #[tokio::test]
    async fn hostile_path_and_query_values_are_client_errors() {
        let dir = tempfile::tempdir().unwrap();
        let state = state(vec![image(dir.path(), "fave-base", None)]);
        let long = "a".repeat(8 * 1024);
        let cases = [
            ("/api/images/%FF%FE".to_string(), "bad-request"),
            ("/api/images/%C0%AF/tags".to_string(), "bad-request"),
            ("/api/images/fave-base/tags/%FF".to_string(), "bad-request"),
            ("/api/images/%00".to_string(), "image-not-found"),
            (
                "/api/images/fave-base/tags/%00%0A".to_string(),
                "tag-not-found",
            ),
            (
                format!("/api/images/fave-base/tags/{long}"),
                "tag-not-found",
            ),
            (format!("/api/images/{long}"), "image-not-found"),
            ("/api/locks/%FF/requirements.txt".to_string(), "bad-request"),
            ("/api/locks/fave-base/%FF".to_string(), "bad-request"),
            ("/api/check?offline=%FF".to_string(), "bad-request"),
            (
                "/api/check?offline=true&offline=false".to_string(),
                "bad-request",
            ),
            (format!("/api/check?offline={long}"), "bad-request"),
        ];
        for (path, code) in cases {
            let answer = get(&state, &path).await;
            assert!(
                answer.status.is_client_error(),
                "{path:.80}: {}",
                answer.status
            );
            assert_eq!(answer.json()["error"]["code"], code, "{path:.80}");
        }
        let page = get(&state, "/images/%FF").await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST);
        assert!(
            page.body.contains("<h1>400 Bad Request</h1>"),
            "{}",
            page.body
        );
    }
}
