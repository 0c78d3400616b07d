//! The HTML pages: `/` (every image) and `/images/{name}` (one image), rendered from snapshots and the
//! lock check with the templates in `web/templates/`, and cached until a snapshot or the check changes.

use askama::Template;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;

use super::{HTML, cached_body};
use crate::server::check::{self, CheckPanel};
use crate::server::error::{WebError, WebResult};
use crate::server::extractors::Path;
use crate::server::snapshot::{ImageSnapshot, SharedSnapshot};
use crate::server::state::AppState;
#[allow(unused_imports)] // the templates call these trait methods
use crate::server::view::PlatformDisplay;

/// `/`: every configured image.
#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage<'a> {
    images: &'a [SharedSnapshot],
    check: CheckPanel<'a>,
}

/// `/images/{name}`: one image.
#[derive(Template)]
#[template(path = "image.html")]
struct ImagePage<'a> {
    s: &'a ImageSnapshot,
    check: CheckPanel<'a>,
}

/// `GET /`.
pub async fn index(State(state): State<AppState>) -> WebResult<Response> {
    let (snapshots, outcome) = tokio::join!(state.all_snapshots(), check::outcome(&state, false));
    let check = CheckPanel::new(&outcome);
    let key = format!("/#check-{}", check.generation());
    let body = state.pages.get_or_render(&key, &snapshots, || {
        let page = DashboardPage {
            images: &snapshots,
            check,
        };
        Ok::<_, WebError>(Bytes::from(page.render()?))
    })?;
    Ok(cached_body(HTML, body))
}

/// `GET /images/{name}`.
pub async fn image(State(state): State<AppState>, Path(name): Path<String>) -> WebResult<Response> {
    let index = state
        .image_index(&name)
        .ok_or_else(|| WebError::ImageNotFound(name.clone()))?;
    let (snapshot, outcome) = tokio::join!(state.snapshot(index), check::outcome(&state, false));
    let check = CheckPanel::new(&outcome);
    let key = format!("/images/{name}#check-{}", check.generation());
    let snapshots = [snapshot];
    let body = state.pages.get_or_render(&key, &snapshots, || {
        let page = ImagePage {
            s: &snapshots[0],
            check,
        };
        Ok::<_, WebError>(Bytes::from(page.render()?))
    })?;
    Ok(cached_body(HTML, body))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use axum::http::StatusCode;

    use crate::server::testing::{get, image, state, write_lock};

    #[tokio::test]
    async fn plain_states_without_a_registry() {
        let dir = tempfile::tempdir().unwrap();
        write_lock(
            dir.path(),
            "fave-base",
            &[
                ("requirements.txt", "x==1\n"),
                (
                    "build-plan.json",
                    r#"{"tags":["ghcr.io/o/fave-base:0.1"],"base_image":{"name":"python:3.11-slim"}}"#,
                ),
            ],
        );
        // Port 1 on loopback: nothing listens, so the base image lookup fails fast.
        let state = state(vec![
            image(dir.path(), "fave-base", None),
            image(dir.path(), "down", Some("127.0.0.1:1/down")),
        ]);
        let page = get(&state, "/").await;
        assert_eq!(page.status, StatusCode::OK);
        assert_eq!(page.headers["content-type"], "text/html; charset=utf-8");
        assert!(
            page.body.contains("No registry configured."),
            "{}",
            page.body
        );
        assert!(page.body.contains("Registry unreachable."));
        assert!(
            page.body
                .contains("No lock files in <code>locks/down</code> yet")
        );
        assert!(page.body.contains("ghcr.io/o/fave-base:0.1"));
        assert!(page.body.contains("not published yet"));
        assert!(
            page.body
                .contains(r#"<a href="/api/locks/fave-base/requirements.txt">"#)
        );

        let before = state.pages.lookups[0].load(Ordering::Relaxed);
        let again = get(&state, "/").await;
        assert_eq!(again.body, page.body);
        assert_eq!(state.pages.lookups[0].load(Ordering::Relaxed), before + 1);

        let one = get(&state, "/images/down").await;
        assert!(one.body.contains("Registry unreachable."));
        assert!(!one.body.contains("No registry configured."));
    }
}
