//! Helpers for the in-process handler tests: a state over temporary lock folders, and one-shot requests
//! through the router (no port).

use std::path::Path;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use tower::ServiceExt as _;

use super::state::{AppState, ServeSettings, ServedImage};
use crate::registry::{RegistryClient, RegistryOptions, Repository};

/// An answer, body as text.
pub(crate) struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
    /// The body's bytes, for an answer that is not text (a compressed one).
    pub bytes: Vec<u8>,
}

impl Answer {
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|error| panic!("{error}: {}", self.body))
    }
}

/// An image whose lock folder is `root/locks/<name>` and whose registry is `repository`.
pub(crate) fn image(root: &Path, name: &str, repository: Option<&str>) -> ServedImage {
    ServedImage {
        name: name.to_string(),
        repository: repository.map(|text| text.parse::<Repository>().unwrap()),
        lock_dir: root.join("locks").join(name),
        lock_dir_display: format!("locks/{name}"),
    }
}

/// A state over `images` with a default registry client.
pub(crate) fn state(images: Vec<ServedImage>) -> AppState {
    let registry = RegistryClient::new(RegistryOptions {
        tag_ttl: Duration::from_secs(5),
        ..RegistryOptions::default()
    })
    .unwrap();
    AppState::new(images, registry, None, ServeSettings::default())
}

/// GET `path` through the router.
pub(crate) async fn get(state: &AppState, path: &str) -> Answer {
    get_with(state, path, &[]).await
}

/// `method` `path` with `headers` through the router.
pub(crate) async fn request(
    state: &AppState,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Answer {
    let router = super::router(state.clone());
    let mut request = Request::builder().method(method).uri(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = router
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 64 * 1024 * 1024)
        .await
        .unwrap();
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
        bytes: bytes.to_vec(),
    }
}

/// GET `path` with `headers` through the router.
pub(crate) async fn get_with(state: &AppState, path: &str, headers: &[(&str, &str)]) -> Answer {
    request(state, "GET", path, headers).await
}

/// Write `files` (name, content) into `root/locks/<image>/`.
pub(crate) fn write_lock(root: &Path, image: &str, files: &[(&str, &str)]) {
    let dir = root.join("locks").join(image);
    std::fs::create_dir_all(&dir).unwrap();
    for (name, content) in files {
        std::fs::write(dir.join(name), content).unwrap();
    }
}
