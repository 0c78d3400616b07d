//! A registry with htpasswd basic auth: `fave-lock serve` reads it with credentials from the environment
//! or from a Docker config file, and without (or with wrong) credentials shows a clear auth failure.

mod serve_support;

use base64::Engine as _;
use serve_support::{Project, Registry, Serve};

async fn registry_with_an_image() -> (Registry, String) {
    let registry = Registry::start_with_auth("fave", "s3cret pass").await;
    let digest = registry
        .push_image("fave-base", &["1.0"], "linux/amd64", &[])
        .await;
    (registry, digest)
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "registry: starts Debian's docker-registry (scripts/setup/serve-deps.sh); scripts/test.sh runs it"]
async fn credentials_from_the_environment() {
    let (registry, digest) = registry_with_an_image().await;
    let project = Project::new();
    let image = format!("fave-base={}/fave-base", registry.authority());
    let serve = Serve::start(
        project.path(),
        &["--image", &image],
        &[
            ("FAVE_LOCK_REGISTRY_USER", "fave"),
            ("FAVE_LOCK_REGISTRY_PASSWORD", "s3cret pass"),
        ],
    )
    .await;
    let tags = serve.json("/api/images/fave-base/tags").await;
    assert_eq!(tags["state"], "ok", "{tags:#}");
    assert_eq!(tags["tags"][0]["digest"], digest);
    let (truth, _, _) = registry.manifest("fave-base", "1.0").await;
    assert_eq!(truth, digest);
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "registry: starts Debian's docker-registry (scripts/setup/serve-deps.sh); scripts/test.sh runs it"]
async fn credentials_from_a_docker_config() {
    let (registry, digest) = registry_with_an_image().await;
    let project = Project::new();
    let docker = tempfile::tempdir().unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode("fave:s3cret pass");
    std::fs::write(
        docker.path().join("config.json"),
        format!(
            r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#,
            registry.authority()
        ),
    )
    .unwrap();
    let image = format!("fave-base={}/fave-base", registry.authority());
    let serve = Serve::start(
        project.path(),
        &["--image", &image],
        &[("DOCKER_CONFIG", docker.path().to_str().unwrap())],
    )
    .await;
    let tags = serve.json("/api/images/fave-base/tags").await;
    assert_eq!(tags["state"], "ok", "{tags:#}");
    assert_eq!(tags["tags"][0]["digest"], digest);
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "registry: starts Debian's docker-registry (scripts/setup/serve-deps.sh); scripts/test.sh runs it"]
async fn no_or_wrong_credentials_fail_clearly() {
    let (registry, _) = registry_with_an_image().await;
    let project = Project::new();
    let image = format!("fave-base={}/fave-base", registry.authority());

    let anonymous = Serve::start(project.path(), &["--image", &image], &[]).await;
    let tags = anonymous.json("/api/images/fave-base/tags").await;
    assert_eq!(tags["state"], "auth-failed", "{tags:#}");
    let message = tags["message"].as_str().unwrap();
    assert_eq!(
        message,
        format!(
            "registry `{0}` requires authentication for `{0}/fave-base` and no credentials are \
             configured: set FAVE_LOCK_REGISTRY_USER and FAVE_LOCK_REGISTRY_PASSWORD, or log in with \
             `docker login {0}`",
            registry.authority()
        )
    );
    let page = anonymous.get("/").await.1;
    assert!(
        page.contains("<strong>Authentication failed.</strong>"),
        "{page}"
    );
    assert!(page.contains("FAVE_LOCK_REGISTRY_USER"));

    let wrong = Serve::start(
        project.path(),
        &["--image", &image],
        &[
            ("FAVE_LOCK_REGISTRY_USER", "fave"),
            ("FAVE_LOCK_REGISTRY_PASSWORD", "wrong"),
        ],
    )
    .await;
    let tags = wrong.json("/api/images/fave-base/tags").await;
    assert_eq!(tags["state"], "auth-failed", "{tags:#}");
    let message = tags["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!(
            "registry `{}` rejected the credentials from FAVE_LOCK_REGISTRY_USER/FAVE_LOCK_REGISTRY_PASSWORD",
            registry.authority()
        )),
        "{message}"
    );
    assert!(
        !message.contains("wrong"),
        "the password must not leak: {message}"
    );
}
