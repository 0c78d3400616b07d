//! The registry client against a registry played by the test (axum on loopback), for what Debian's
//! registry cannot show: the bearer token flow of ghcr.io and Docker Hub, `Link` pagination, and hostile
//! answers (wrong digests, huge or broken manifests, tag names that are not tags), none of which may
//! panic, and none of which may reach the page unescaped.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest as _, Sha256};
use tower::ServiceExt as _;

use fave_lock::registry::{
    CredentialStore, Credentials, RegistryClient, RegistryErrorKind, RegistryOptions, Repository,
    TagOutcome,
};
use fave_lock::server::{AppState, ServeSettings, ServedImage};

const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// What the played registry serves, and what it was asked.
struct Mock {
    port: u16,
    config: Vec<u8>,
    manifest: Vec<u8>,
    requests: Mutex<Vec<String>>,
    token_requests: Mutex<Vec<(String, Option<String>)>>,
    tag_pages: AtomicUsize,
}

impl Mock {
    fn config_digest(&self) -> String {
        digest(&self.config)
    }

    fn manifest_digest(&self) -> String {
        digest(&self.manifest)
    }
}

async fn start_mock() -> Arc<Mock> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let config = br#"{"architecture":"amd64","os":"linux","created":"2026-01-02T03:04:05Z","config":{"Labels":{"io.fave.lock.sha256":"<script>alert('label')</script>"}}}"#.to_vec();
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"{MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{}","size":1000}}]}}"#,
        digest(&config),
        config.len(),
        digest(b"layer")
    )
    .into_bytes();
    let mock = Arc::new(Mock {
        port,
        config,
        manifest,
        requests: Mutex::new(Vec::new()),
        token_requests: Mutex::new(Vec::new()),
        tag_pages: AtomicUsize::new(0),
    });
    let app = Router::new()
        .route("/token", get(token))
        .route("/v2/{*rest}", get(v2))
        .with_state(Arc::clone(&mock));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    mock
}

/// The token endpoint: any caller gets `anon`; `u:p` gets `full`.
async fn token(
    State(mock): State<Arc<Mock>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let authorization = headers
        .get("authorization")
        .map(|value| value.to_str().unwrap().to_string());
    let scope = format!(
        "service={} scope={}",
        query.get("service").cloned().unwrap_or_default(),
        query.get("scope").cloned().unwrap_or_default()
    );
    mock.token_requests
        .lock()
        .unwrap()
        .push((scope, authorization.clone()));
    let basic = format!("Basic {}", base64_of("u:p"));
    match authorization {
        Some(value) if value == basic => {
            axum::Json(serde_json::json!({"token": "full", "expires_in": 300})).into_response()
        }
        Some(_) => (StatusCode::UNAUTHORIZED, "bad credentials").into_response(),
        None => axum::Json(serde_json::json!({"access_token": "anon"})).into_response(),
    }
}

fn base64_of(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}

fn challenge(mock: &Mock, repository: &str) -> Response {
    let value = format!(
        r#"Bearer realm="http://127.0.0.1:{}/token",service="mock",scope="repository:{repository}:pull""#,
        mock.port
    );
    (
        StatusCode::UNAUTHORIZED,
        [("www-authenticate", value)],
        r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#,
    )
        .into_response()
}

/// `/v2/<repository>/(tags/list|manifests/<ref>|blobs/<digest>)`.
async fn v2(State(mock): State<Arc<Mock>>, request: Request<Body>) -> Response {
    let uri = request.uri().clone();
    let path = uri
        .path()
        .strip_prefix("/v2/")
        .unwrap_or_default()
        .to_string();
    mock.requests.lock().unwrap().push(uri.to_string());
    let authorization = request
        .headers()
        .get("authorization")
        .map(|value| value.to_str().unwrap().to_string());
    let (repository, what) = ["/tags/list", "/manifests/", "/blobs/"]
        .iter()
        .find_map(|marker| path.find(marker).map(|at| (&path[..at], &path[at..])))
        .unwrap_or((&path[..], ""));
    // public/*: any bearer token; secure/*: only the one bought with credentials.
    let allowed = match repository.split('/').next() {
        Some("public") => authorization
            .as_deref()
            .is_some_and(|value| value.starts_with("Bearer ")),
        Some("secure") => authorization.as_deref() == Some("Bearer full"),
        _ => true,
    };
    if !allowed {
        return challenge(&mock, repository);
    }
    if what == "/tags/list" {
        return tag_list(&mock, repository, uri.query().unwrap_or_default());
    }
    if let Some(reference) = what.strip_prefix("/manifests/") {
        return manifest(&mock, reference);
    }
    if what.strip_prefix("/blobs/") == Some(mock.config_digest().as_str()) {
        return mock.config.clone().into_response();
    }
    (
        StatusCode::NOT_FOUND,
        r#"{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown"}]}"#,
    )
        .into_response()
}

fn tag_list(mock: &Mock, repository: &str, query: &str) -> Response {
    mock.tag_pages.fetch_add(1, Ordering::Relaxed);
    let tags: Vec<String> = match repository {
        "paged/app" => (0..23).map(|n| format!("t{n:02}")).collect(),
        "evil/app" => vec![
            "<script>alert('tag')</script>".into(),
            "../../../v2/other/manifests/x".into(),
            "good".into(),
        ],
        "bad/app" => ["mismatch", "huge", "garbage", "schema1", "missing"]
            .map(String::from)
            .to_vec(),
        _ => vec!["1.0".into(), "latest".into()],
    };
    if repository == "offsite/app" {
        return (
            [(
                "link",
                r#"<http://evil.example/v2/offsite/app/tags/list?last=x>; rel="next""#,
            )],
            axum::Json(serde_json::json!({"name": repository, "tags": ["a"]})),
        )
            .into_response();
    }
    if repository != "paged/app" {
        return axum::Json(serde_json::json!({"name": repository, "tags": tags})).into_response();
    }
    // Five per page, after `last`.
    let last = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("last="))
        .unwrap_or_default();
    let page: Vec<&String> = tags
        .iter()
        .filter(|tag| tag.as_str() > last)
        .take(5)
        .collect();
    let body = axum::Json(serde_json::json!({"name": repository, "tags": page}));
    match page.last() {
        Some(end) if *end != tags.last().unwrap() => (
            [(
                "link",
                format!(r#"</v2/{repository}/tags/list?n=5&last={end}>; rel="next""#),
            )],
            body,
        )
            .into_response(),
        _ => body.into_response(),
    }
}

fn manifest(mock: &Mock, reference: &str) -> Response {
    let good = |digest_header: String, body: Vec<u8>| {
        (
            [
                ("content-type", MANIFEST.to_string()),
                ("docker-content-digest", digest_header),
            ],
            body,
        )
            .into_response()
    };
    match reference {
        "mismatch" => good(digest(b"something else"), mock.manifest.clone()),
        "huge" => good(digest(b"x"), vec![b' '; 5 * 1024 * 1024]),
        "garbage" => {
            let body = b"{not json".to_vec();
            good(digest(&body), body)
        }
        "schema1" => {
            let body = br#"{"schemaVersion":1,"name":"x","fsLayers":[]}"#.to_vec();
            good(digest(&body), body)
        }
        "missing" => (
            StatusCode::NOT_FOUND,
            r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#,
        )
            .into_response(),
        other if other.starts_with("sha256:") && other != mock.manifest_digest() => {
            // Asked by digest, answers other bytes.
            good(other.to_string(), b"{}".to_vec())
        }
        _ => good(mock.manifest_digest(), mock.manifest.clone()),
    }
}

fn client(credentials: CredentialStore) -> RegistryClient {
    RegistryClient::new(RegistryOptions {
        credentials,
        tag_ttl: Duration::from_secs(60),
        ..RegistryOptions::default()
    })
    .unwrap()
}

fn repository(mock: &Mock, path: &str) -> Repository {
    format!("127.0.0.1:{}/{path}", mock.port).parse().unwrap()
}

#[tokio::test]
async fn anonymous_bearer_token_is_fetched_once_and_reused() {
    let mock = start_mock().await;
    let client = client(CredentialStore::empty());
    let description = client
        .describe_repository(&repository(&mock, "public/app"))
        .await
        .unwrap();
    assert_eq!(description.tags.len(), 2);
    for outcome in &description.tags {
        let TagOutcome::Described(tag) = outcome else {
            panic!("{outcome:?}");
        };
        assert_eq!(tag.digest.to_string(), mock.manifest_digest());
        assert_eq!(tag.platforms[0].platform, "linux/amd64");
        assert_eq!(
            tag.platforms[0].size,
            mock.manifest.len() as u64 + mock.config.len() as u64 + 1000
        );
    }
    let tokens = mock.token_requests.lock().unwrap().clone();
    assert_eq!(
        tokens,
        [(
            "service=mock scope=repository:public/app:pull".to_string(),
            None
        )]
    );
    // A second look within the TTL asks the registry nothing.
    let before = mock.requests.lock().unwrap().len();
    client
        .describe_repository(&repository(&mock, "public/app"))
        .await
        .unwrap();
    assert_eq!(mock.requests.lock().unwrap().len(), before);
}

#[tokio::test]
async fn bearer_tokens_bought_with_credentials() {
    let mock = start_mock().await;
    let with = client(
        CredentialStore::empty().with_environment_credentials(Credentials {
            username: "u".into(),
            password: "p".into(),
        }),
    );
    let tags = with.tags(&repository(&mock, "secure/app")).await.unwrap();
    assert_eq!(*tags, ["1.0", "latest"]);
    let (_, authorization) = mock.token_requests.lock().unwrap()[0].clone();
    assert_eq!(authorization, Some(format!("Basic {}", base64_of("u:p"))));

    let without = client(CredentialStore::empty());
    let error = without
        .tags(&repository(&mock, "secure/app"))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), RegistryErrorKind::AuthFailed);
    assert!(
        error.to_string().contains("requires authentication"),
        "{error}"
    );

    let wrong = client(
        CredentialStore::empty().with_environment_credentials(Credentials {
            username: "u".into(),
            password: "nope".into(),
        }),
    );
    let error = wrong
        .tags(&repository(&mock, "secure/app"))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), RegistryErrorKind::AuthFailed);
    assert!(
        error.to_string().contains("rejected the credentials"),
        "{error}"
    );
    assert!(!format!("{error:?}").contains("nope"));
}

#[tokio::test]
async fn link_pagination_collects_every_tag() {
    let mock = start_mock().await;
    let tags = client(CredentialStore::empty())
        .tags(&repository(&mock, "paged/app"))
        .await
        .unwrap();
    let expected: Vec<String> = (0..23).map(|n| format!("t{n:02}")).collect();
    assert_eq!(*tags, expected);
    assert_eq!(mock.tag_pages.load(Ordering::Relaxed), 5);
}

#[tokio::test]
async fn a_link_to_another_origin_is_refused() {
    let mock = start_mock().await;
    let error = client(CredentialStore::empty())
        .tags(&repository(&mock, "offsite/app"))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("another origin"), "{error}");
}

#[tokio::test]
async fn bad_manifests_fail_per_tag_without_panicking() {
    let mock = start_mock().await;
    let client = client(CredentialStore::empty());
    let description = client
        .describe_repository(&repository(&mock, "bad/app"))
        .await
        .unwrap();
    let errors: HashMap<&str, (RegistryErrorKind, &str)> = description
        .tags
        .iter()
        .map(|outcome| match outcome {
            TagOutcome::Failed { tag, kind, error } => (tag.as_str(), (*kind, error.as_str())),
            other => panic!("{other:?}"),
        })
        .collect();
    let expect = |tag: &str, kind: RegistryErrorKind, text: &str| {
        let (got_kind, message) = errors[tag];
        assert_eq!(got_kind, kind, "{tag}: {message}");
        assert!(message.contains(text), "{tag}: {message}");
    };
    expect("mismatch", RegistryErrorKind::Error, "digest mismatch");
    expect("huge", RegistryErrorKind::Error, "refusing to read further");
    expect("garbage", RegistryErrorKind::Error, "not valid JSON");
    expect("schema1", RegistryErrorKind::Error, "schema 1");
    expect(
        "missing",
        RegistryErrorKind::NotFound,
        "MANIFEST_UNKNOWN: manifest unknown",
    );

    // By digest: bytes that do not hash to the digest asked for are refused.
    let wanted = format!("sha256:{}", "1".repeat(64));
    let error = client
        .manifest(
            &repository(&mock, "bad/app"),
            &fave_lock::registry::Reference::Digest(wanted.parse().unwrap()),
        )
        .await
        .unwrap_err();
    assert!(error.to_string().contains("digest mismatch"), "{error}");
}

/// Names in a tag list that are not tags are listed (escaped) but never requested; labels are escaped.
#[tokio::test]
async fn hostile_tag_names_are_escaped_and_never_requested() {
    let mock = start_mock().await;
    let image = ServedImage {
        name: "evil".into(),
        repository: Some(repository(&mock, "evil/app")),
        lock_dir: std::env::temp_dir().join("fave-lock-no-such-lock"),
        lock_dir_display: "locks/evil".into(),
    };
    let state = AppState::new(
        vec![image],
        client(CredentialStore::empty()),
        None,
        ServeSettings::default(),
    );
    let response = fave_lock::server::router(state.clone())
        .oneshot(Request::get("/").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let page = String::from_utf8(
        axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec(),
    )
    .unwrap();
    assert!(!page.contains("<script>alert"), "{page}");
    assert!(
        page.contains("&#60;script&#62;alert(&#39;tag&#39;)&#60;/script&#62;"),
        "{page}"
    );
    assert!(page.contains("&#60;script&#62;alert(&#39;label&#39;)&#60;/script&#62;"));
    assert!(page.contains("the registry listed a name that is not a valid tag"));
    let requests = mock.requests.lock().unwrap().clone();
    assert!(
        requests.iter().any(|uri| uri.ends_with("/manifests/good")),
        "{requests:?}"
    );
    for uri in &requests {
        assert!(
            !uri.contains("script") && !uri.contains(".."),
            "requested {uri}"
        );
    }

    let api = fave_lock::server::router(state)
        .oneshot(
            Request::get("/api/images/evil/tags")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let body = axum::body::to_bytes(api.into_body(), usize::MAX)
        .await
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let statuses: Vec<(&str, &str)> = json["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tag| {
            (
                tag["tag"].as_str().unwrap(),
                tag["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(statuses.contains(&("good", "ok")));
    assert!(statuses.contains(&("<script>alert('tag')</script>", "invalid")));
    assert!(statuses.contains(&("../../../v2/other/manifests/x", "invalid")));
}

/// After `refresh`, a view is served stale once while one background rebuild fetches the registry again;
/// the next views show the new snapshot.
#[tokio::test]
async fn stale_views_are_served_while_one_rebuild_runs() {
    let mock = start_mock().await;
    let image = ServedImage {
        name: "app".into(),
        repository: Some(repository(&mock, "paged/app")),
        lock_dir: std::env::temp_dir().join("fave-lock-no-such-lock"),
        lock_dir_display: "locks/app".into(),
    };
    let registry = RegistryClient::new(RegistryOptions {
        tag_ttl: Duration::from_millis(200),
        ..RegistryOptions::default()
    })
    .unwrap();
    let settings = ServeSettings {
        refresh: Duration::from_millis(200),
        ..ServeSettings::default()
    };
    let state = AppState::new(vec![image], registry, None, settings);
    let generation = |state: AppState| async move {
        let response = fave_lock::server::router(state)
            .oneshot(Request::get("/api/images").body(Body::empty()).unwrap())
            .await
            .unwrap();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        json["images"][0]["generation"].as_u64().unwrap()
    };
    let first = generation(state.clone()).await;
    assert_eq!(
        generation(state.clone()).await,
        first,
        "fresh: served from the cache"
    );
    let pages = mock.tag_pages.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        generation(state.clone()).await,
        first,
        "stale: served at once"
    );
    let mut newer = first;
    for _ in 0..100 {
        newer = generation(state.clone()).await;
        if newer > first {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(newer, first + 1, "one background rebuild");
    assert_eq!(
        mock.tag_pages.load(Ordering::Relaxed),
        pages + 5,
        "the tag list was read again"
    );
}
