//! ETags and conditional GET: every successful GET answer (JSON, lock files, the SBOM, pages, assets)
//! carries an ETag derived from its bytes, and a request whose `If-None-Match` names it gets `304 Not
//! Modified` without a body. A poller (a CI job, a dashboard refresh) then transfers the SBOM or the
//! tag list only when it changed.
//!
//! The tag is the sha256 of the uncompressed body, marked weak (`W/"…"`): compression sits outside
//! this layer, and a gzip or br encoding of the same bytes is the same content but not the same bytes,
//! which a strong validator would promise (RFC 9110 §8.8.1). `If-None-Match` uses the weak comparison
//! anyway (§13.1.2), so revalidation works whatever encoding the client got.

use axum::body::{Body, Bytes, to_bytes};
use axum::extract::Request;
use axum::http::header::{CACHE_CONTROL, ETAG, IF_NONE_MATCH, VARY};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest as _, Sha256};

/// Paths whose answers change with every request: hashing them would only cost time.
const VOLATILE: [&str; 2] = ["/metrics", "/healthz"];

/// A body and its ETag, computed once: the cached views are tagged when rendered, so a request for one
/// costs no hashing.
#[derive(Debug, Clone)]
pub struct Tagged {
    pub body: Bytes,
    pub etag: HeaderValue,
}

impl Tagged {
    pub fn new(body: Bytes) -> Tagged {
        let etag = tag_of(&body);
        Tagged { body, etag }
    }
}

/// Middleware: add an ETag to a 200 GET/HEAD answer (unless its handler set one) and answer 304
/// when the client already has it.
pub async fn etag(request: Request, next: Next) -> Response {
    let applies = matches!(*request.method(), Method::GET | Method::HEAD)
        && !VOLATILE.contains(&request.uri().path());
    let if_none_match = request.headers().get(IF_NONE_MATCH).cloned();
    let response = next.run(request).await;
    if !applies || response.status() != StatusCode::OK {
        return response;
    }
    let client_has = |tag: &HeaderValue| {
        if_none_match
            .as_ref()
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| matches(value, tag))
    };
    if let Some(tag) = response.headers().get(ETAG).cloned() {
        return if client_has(&tag) {
            not_modified(response.headers(), tag)
        } else {
            response
        };
    }
    let (mut parts, body) = response.into_parts();
    // Every body the server sends is already whole in memory (rendered views, lock files read in
    // full), so collecting it costs no extra wait; it cannot fail for an in-memory body.
    let bytes = match to_bytes(body, usize::MAX).await {
        Ok(bytes) => bytes,
        Err(error) => {
            tracing::error!(%error, "cannot read an answer's body to tag it");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let tag = tag_of(&bytes);
    if client_has(&tag) {
        return not_modified(&parts.headers, tag);
    }
    parts.headers.insert(ETAG, tag);
    Response::from_parts(parts, Body::from(bytes))
}

/// `W/"<sha256 of the bytes>"`.
fn tag_of(bytes: &[u8]) -> HeaderValue {
    let tag = format!("W/\"{}\"", hex::encode(Sha256::digest(bytes)));
    HeaderValue::from_str(&tag).unwrap_or_else(|_| HeaderValue::from_static("W/\"\""))
}

/// Whether an `If-None-Match` value names `tag`: `*`, or a list of entity tags compared weakly (the
/// `W/` prefix ignored on both sides).
fn matches(if_none_match: &str, tag: &HeaderValue) -> bool {
    let Ok(tag) = tag.to_str() else {
        return false;
    };
    let opaque = |candidate: &str| {
        let candidate = candidate.trim();
        candidate
            .strip_prefix("W/")
            .unwrap_or(candidate)
            .to_string()
    };
    let ours = opaque(tag);
    if_none_match.trim() == "*" || if_none_match.split(',').any(|entry| opaque(entry) == ours)
}

/// The 304: no body, and the headers a cache needs to update its stored answer (RFC 9110 §15.4.5).
fn not_modified(headers: &HeaderMap, tag: HeaderValue) -> Response {
    let mut response = StatusCode::NOT_MODIFIED.into_response();
    let out = response.headers_mut();
    out.insert(ETAG, tag);
    for name in [CACHE_CONTROL, VARY] {
        if let Some(value) = headers.get(&name) {
            out.insert(name, value.clone());
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderValue, StatusCode};

    use super::matches;
    use crate::server::testing::{get_with, image, request, state, write_lock};

    #[test]
    fn if_none_match_compares_weakly_and_reads_lists() {
        let tag = HeaderValue::from_static("W/\"abc\"");
        assert!(matches("W/\"abc\"", &tag));
        assert!(matches("\"abc\"", &tag));
        assert!(matches("\"x\", W/\"abc\"", &tag));
        assert!(matches(" * ", &tag));
        assert!(!matches("\"ab\"", &tag));
        assert!(!matches("W/\"abcd\"", &tag));
        assert!(!matches("", &tag));
    }

    /// A lock file, the SBOM and a JSON answer carry an ETag; sending it back gets a 304 without a
    /// body; a changed file gets a new tag and a 200.
    #[tokio::test]
    async fn conditional_get_answers_304_until_the_content_changes() {
        let dir = tempfile::tempdir().unwrap();
        write_lock(
            dir.path(),
            "fave-base",
            &[
                ("requirements.txt", "numpy==2.0\n"),
                ("sbom.cdx.json", "{\"bomFormat\": \"CycloneDX\"}\n"),
            ],
        );
        let state = state(vec![image(dir.path(), "fave-base", None)]);
        for path in [
            "/api/locks/fave-base/requirements.txt",
            "/api/locks/fave-base/sbom.cdx.json",
            "/api/images",
            "/api/locks",
            "/openapi.json",
        ] {
            let first = get_with(&state, path, &[]).await;
            assert_eq!(first.status, StatusCode::OK, "{path}");
            let tag = first.headers["etag"].to_str().unwrap().to_string();
            assert!(
                tag.starts_with("W/\"") && tag.len() == 64 + 4,
                "{path}: {tag}"
            );
            let again = get_with(&state, path, &[("if-none-match", &tag)]).await;
            assert_eq!(again.status, StatusCode::NOT_MODIFIED, "{path}");
            assert_eq!(again.body, "", "{path}");
            assert_eq!(again.headers["etag"], tag.as_str(), "{path}");
            // HEAD names the same tag (the body is dropped after it was hashed).
            let head = request(&state, "HEAD", path, &[]).await;
            assert_eq!(head.headers["etag"], tag.as_str(), "{path}");
            assert_eq!(head.body, "", "{path}");
            let other = get_with(&state, path, &[("if-none-match", "W/\"other\"")]).await;
            assert_eq!(other.status, StatusCode::OK, "{path}");
            assert_eq!(other.body, first.body, "{path}");
        }

        let path = "/api/locks/fave-base/requirements.txt";
        let before = get_with(&state, path, &[]).await.headers["etag"].clone();
        write_lock(
            dir.path(),
            "fave-base",
            &[("requirements.txt", "numpy==2.1\n")],
        );
        let after = get_with(&state, path, &[("if-none-match", before.to_str().unwrap())]).await;
        assert_eq!(after.status, StatusCode::OK);
        assert_eq!(after.body, "numpy==2.1\n");
        assert_ne!(after.headers["etag"], before);

        // A cached view's tag (computed when rendered) is the hash of the bytes sent, like any other.
        let images = get_with(&state, "/api/images", &[]).await;
        assert_eq!(
            images.headers["etag"],
            super::tag_of(images.body.as_bytes())
        );

        // Errors and the volatile operations answers carry none.
        let missing = get_with(&state, "/api/locks/fave-base/pylock.toml", &[]).await;
        assert!(!missing.headers.contains_key("etag"));
        assert!(
            !get_with(&state, "/metrics", &[])
                .await
                .headers
                .contains_key("etag")
        );
    }
}
