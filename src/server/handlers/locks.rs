//! `/api/locks` (every image's lock folder) and `/api/locks/{image}/{file}` (one lock file's bytes).
//! A file is named only by one of the known lock file names and read from the image's configured lock
//! folder, so no request can reach another path.

use axum::Json;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::server::error::{ApiError, ApiResult, WebError};
use crate::server::extractors::ApiPath;
use crate::server::lockfiles::{LockView, lock_file_kind, read_lock};
use crate::server::state::AppState;

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct LockEntry {
    image: String,
    #[serde(flatten)]
    lock: LockView,
    /// URL of each present file.
    urls: Vec<String>,
}

/// `GET /api/locks`: every image's lock folder, read now.
pub async fn list(State(state): State<AppState>) -> ApiResult<Json<serde_json::Value>> {
    let images = state.images.clone();
    let locks = tokio::task::spawn_blocking(move || {
        images
            .iter()
            .map(|image| {
                let (lock, _) = read_lock(&image.lock_dir, &image.lock_dir_display);
                let urls = lock
                    .files
                    .iter()
                    .filter(|file| file.present)
                    .map(|file| format!("/api/locks/{}/{}", image.name, file.name))
                    .collect();
                LockEntry {
                    image: image.name.clone(),
                    lock,
                    urls,
                }
            })
            .collect::<Vec<_>>()
    })
    .await
    .map_err(|error| WebError::Internal(format!("reading the locks failed: {error}")))?;
    Ok(Json(serde_json::json!({ "locks": locks })))
}

/// `GET /api/locks/{image}/{file}`: the file's bytes with its content type.
pub async fn file(
    State(state): State<AppState>,
    ApiPath((name, file)): ApiPath<(String, String)>,
) -> ApiResult<Response> {
    let index = state
        .image_index(&name)
        .ok_or_else(|| ApiError(WebError::ImageNotFound(name.clone())))?;
    let kind = lock_file_kind(&file).ok_or_else(|| WebError::UnknownLockFile(file.clone()))?;
    let path = state.images[index].lock_dir.join(kind.name);
    match tokio::fs::read(&path).await {
        Ok(bytes) => Ok(([(CONTENT_TYPE, kind.content_type)], bytes).into_response()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            Err(ApiError(WebError::LockFileMissing {
                image: name,
                file: kind.name.to_string(),
            }))
        }
        Err(error) => Err(ApiError(WebError::Internal(format!(
            "cannot read `{}`: {error}",
            path.display()
        )))),
    }
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use crate::server::testing::{get, image, state, write_lock};

    #[tokio::test]
    async fn serves_only_known_lock_files_of_known_images() {
        let dir = tempfile::tempdir().unwrap();
        write_lock(
            dir.path(),
            "fave-base",
            &[("requirements.txt", "numpy==2.0\n")],
        );
        std::fs::write(dir.path().join("secret.txt"), "no").unwrap();
        let state = state(vec![image(dir.path(), "fave-base", None)]);

        let file = get(&state, "/api/locks/fave-base/requirements.txt").await;
        assert_eq!(file.status, StatusCode::OK);
        assert_eq!(file.body, "numpy==2.0\n");
        assert_eq!(file.headers["content-type"], "text/plain; charset=utf-8");

        for (path, code) in [
            ("/api/locks/fave-base/pylock.toml", "lock-file-missing"),
            ("/api/locks/fave-base/fave-lock.toml", "unknown-lock-file"),
            (
                "/api/locks/fave-base/..%2F..%2Fsecret.txt",
                "unknown-lock-file",
            ),
            ("/api/locks/fave-base/%2E%2E", "unknown-lock-file"),
            (
                "/api/locks/..%2Ffave-base/requirements.txt",
                "image-not-found",
            ),
            ("/api/locks/other/requirements.txt", "image-not-found"),
        ] {
            let answer = get(&state, path).await;
            assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
            assert_eq!(answer.json()["error"]["code"], code, "{path}");
        }
        let traversal = get(&state, "/api/locks/fave-base/../../secret.txt").await;
        assert_ne!(traversal.body, "no");

        let list = get(&state, "/api/locks").await.json();
        let lock = &list["locks"][0];
        assert_eq!(lock["image"], "fave-base");
        assert_eq!(lock["urls"][0], "/api/locks/fave-base/requirements.txt");
        assert_eq!(
            lock["requirements-sha256"],
            "4e6648d7d85857bfc096a531dd6dcd0f7423b987d7a61e232eee8ac7deff0b96"
        );
    }
}
