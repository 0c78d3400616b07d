//! `fave-lock attach` against Debian's `docker-registry` (distribution 2.8, no referrers API): the SBOM
//! pushed as an OCI 1.1 artifact and listed under the referrers tag `sha256-<hex>`, read back through
//! the registry API as `oras discover` reads it (the index lists it; the artifact names the image as its
//! subject; the layer blob is the SBOM file byte for byte); a second attach appends; the dashboard shows
//! it; an SBOM that is not its lock's is refused with exit 3 and nothing pushed.

mod serve_support;
mod support;

use serde_json::Value;
use serve_support::oci::{OCI_INDEX, OCI_MANIFEST, digest, sha256_hex};
use serve_support::{Registry, Serve, free_port};
use support::project::{Project, text};

const CYCLONEDX: &str = "application/vnd.cyclonedx+json";

/// A registry with a base image, and a project resolved from the test index that builds FROM it.
async fn setup() -> (Registry, support::index_server::IndexServer, Project) {
    let registry = Registry::start().await;
    registry
        .push_image("base", &["1.0"], "linux/amd64", &[])
        .await;
    let server = support::demo::index();
    let project = support::demo::resolved_with_registry(&server, &registry.authority());
    (registry, server, project)
}

fn lock_sha256(project: &Project) -> String {
    sha256_hex(&std::fs::read(project.lock_dir().join("requirements.txt")).unwrap())
}

/// The registry's answer to a GET of `path`: status and body.
async fn get(registry: &Registry, path: &str, accept: &str) -> (u16, Vec<u8>) {
    let response = registry
        .request(reqwest::Method::GET, path)
        .header("Accept", accept)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.bytes().await.unwrap().to_vec())
}

/// The referrers tag's index of `subject`, as the registry serves it.
async fn referrers_index(registry: &Registry, subject: &str) -> Value {
    let tag = subject.replacen(':', "-", 1);
    let (_, content_type, body) = registry.manifest("fave-base", &tag).await;
    assert_eq!(content_type, OCI_INDEX);
    serde_json::from_slice(&body).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "registry: starts Debian's docker-registry (scripts/setup/serve-deps.sh); scripts/test.sh runs it"]
async fn the_sbom_is_attached_read_back_and_shown() {
    let (registry, server, project) = setup().await;
    let lock = lock_sha256(&project);
    let (index, _) = registry
        .push_index(
            "fave-base",
            &["0.1"],
            &["linux/amd64", "linux/arm64/v8"],
            &[("io.fave.lock.sha256", &lock)],
        )
        .await;
    let reference = format!("{}/fave-base:0.1", registry.authority());
    let first_time = "2026-12-01T10:00:00Z";
    let out = project.run(&["attach", "demo", &reference, "--created", first_time]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let tag = index.replacen(':', "-", 1);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("referrers tag {tag}")),
        "{}",
        text(&out)
    );
    // No referrers API here: the fallback is what was exercised.
    let api = format!("/v2/fave-base/referrers/{index}");
    assert_eq!(get(&registry, &api, OCI_INDEX).await.0, 404);

    // The tag's index lists one CycloneDX artifact naming the lock.
    let listed = referrers_index(&registry, &index).await;
    let entries = listed["manifests"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{listed:#}");
    let entry = &entries[0];
    assert_eq!(entry["artifactType"], CYCLONEDX);
    assert_eq!(entry["mediaType"], OCI_MANIFEST);
    assert_eq!(entry["annotations"]["io.fave.lock.sha256"], lock.as_str());
    assert_eq!(
        entry["annotations"]["org.opencontainers.image.created"],
        first_time
    );

    // The artifact: its digest and size as listed, the image index as its subject, the SBOM as its layer.
    let artifact_digest = entry["digest"].as_str().unwrap();
    let (served, _, artifact) = registry.manifest("fave-base", artifact_digest).await;
    assert_eq!(served, artifact_digest);
    assert_eq!(entry["size"], artifact.len());
    let artifact: Value = serde_json::from_slice(&artifact).unwrap();
    let (_, _, index_body) = registry.manifest("fave-base", "0.1").await;
    assert_eq!(artifact["artifactType"], CYCLONEDX);
    assert_eq!(
        artifact["config"],
        serde_json::json!({"mediaType": "application/vnd.oci.empty.v1+json", "digest": digest(b"{}"), "size": 2})
    );
    assert_eq!(
        artifact["subject"],
        serde_json::json!({"mediaType": OCI_INDEX, "digest": index, "size": index_body.len()})
    );
    assert_eq!(artifact["annotations"], entry["annotations"]);
    let layer = &artifact["layers"][0];
    assert_eq!(layer["mediaType"], CYCLONEDX);
    assert_eq!(
        layer["annotations"]["org.opencontainers.image.title"],
        "sbom.cdx.json"
    );
    let sbom = std::fs::read(project.lock_dir().join("sbom.cdx.json")).unwrap();
    let blob_path = format!("/v2/fave-base/blobs/{}", layer["digest"].as_str().unwrap());
    let (status, blob) = get(&registry, &blob_path, "*/*").await;
    assert_eq!(status, 200);
    assert!(blob == sbom, "the SBOM blob differs from sbom.cdx.json");

    // A second attach (by digest) appends; the first entry stays as it was.
    let by_digest = format!("{}/fave-base@{index}", registry.authority());
    let out = project.run(&[
        "attach",
        "demo",
        &by_digest,
        "--format",
        "json",
        "--created",
        "2026-12-02",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let attached = support::demo::json(&out);
    assert_eq!(attached["listed_in"], "tag-schema");
    assert_eq!(
        attached["subject"],
        format!("{}/fave-base@{index}", registry.authority())
    );
    let listed = referrers_index(&registry, &index).await;
    let entries = listed["manifests"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{listed:#}");
    assert_eq!(entries[0], *entry);
    assert_eq!(entries[1]["digest"], attached["artifact"]);
    // The same SBOM at the same time is the same artifact: listed once.
    let again = project.run(&["attach", "demo", &reference, "--created", first_time]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert_eq!(referrers_index(&registry, &index).await, listed);

    // An image built from another lock, with this lock's SBOM attached: a mismatch.
    registry
        .push_image(
            "fave-base",
            &["0.0"],
            "linux/amd64",
            &[("io.fave.lock.sha256", "0ld")],
        )
        .await;
    let old = format!("{}/fave-base:0.0", registry.authority());
    assert_eq!(
        project.run(&["attach", "demo", &old]).status.code(),
        Some(0)
    );

    // The dashboard: the SBOM state per tag, a link to the blob, and no referrers tag among the tags.
    let serve =
        Serve::start_indexed(project.root(), &project.cache_dir(), &server.url(), &[]).await;
    let shown = serve.json("/api/images/demo/tags/0.1").await;
    // The answer with an SBOM in each state is what the API documents.
    let contract = serve_support::contract::Contract::new(serve.json("/openapi.json").await);
    contract.check("/api/images/{name}/tags/{tag}", 200, &shown);
    contract.check(
        "/api/images/{name}",
        200,
        &serve.json("/api/images/demo").await,
    );
    let sbom_view = &shown["sbom"];
    assert_eq!(sbom_view["state"], "matches", "{shown:#}");
    assert_eq!(sbom_view["count"], 2);
    assert_eq!(sbom_view["artifact"], attached["artifact"]);
    assert_eq!(sbom_view["lock-sha256"], lock.as_str());
    let blob_url = format!("{}{blob_path}", registry.url());
    assert_eq!(sbom_view["blob-url"], blob_url.as_str());
    assert_eq!(
        serve.json("/api/images/demo/tags/0.0").await["sbom"]["state"],
        "mismatch"
    );
    let tags = serve.json("/api/images/demo/tags").await;
    let names: Vec<&str> = tags
        .as_array()
        .or_else(|| tags["tags"].as_array())
        .unwrap()
        .iter()
        .map(|tag| tag["tag"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["0.1", "0.0"], "{tags:#}");
    let page = serve.get("/images/demo").await.1;
    assert!(
        page.contains(&format!(r#"data-sbom="matches" href="{blob_url}""#)),
        "{page}"
    );
    assert!(page.contains(r#"data-sbom="mismatch""#), "{page}");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "registry: starts Debian's docker-registry (scripts/setup/serve-deps.sh); scripts/test.sh runs it"]
async fn an_sbom_that_is_not_its_locks_is_refused() {
    let (registry, _server, project) = setup().await;
    let lock = lock_sha256(&project);
    let subject = registry
        .push_image(
            "fave-base",
            &["0.1"],
            "linux/amd64",
            &[("io.fave.lock.sha256", &lock)],
        )
        .await;
    let reference = format!("{}/fave-base:0.1", registry.authority());
    let sbom_path = project.lock_dir().join("sbom.cdx.json");
    let sbom = std::fs::read_to_string(&sbom_path).unwrap();
    let nothing_listed = || async {
        let tag = subject.replacen(':', "-", 1);
        let path = format!("/v2/fave-base/manifests/{tag}");
        assert_eq!(get(&registry, &path, OCI_INDEX).await.0, 404);
    };

    // Another lock's input hash in the SBOM.
    let input_hash = support::demo::json(&project.run(&["plan", "demo"]))["input_hash"]
        .as_str()
        .unwrap()
        .to_string();
    let other = format!("sha256:{}", "0".repeat(64));
    std::fs::write(&sbom_path, sbom.replace(&input_hash, &other)).unwrap();
    let out = project.run(&["attach", "demo", &reference]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("made from the lock with input hash {other}")),
        "{}",
        text(&out)
    );
    nothing_listed().await;

    // The same lock, but not the bytes the build plan records.
    std::fs::write(&sbom_path, format!("{sbom} ")).unwrap();
    let out = project.run(&["attach", "demo", &reference]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        text(&out).contains("does not match the build plan"),
        "{}",
        text(&out)
    );
    nothing_listed().await;

    // Registry and usage errors are exit 2.
    std::fs::write(&sbom_path, &sbom).unwrap();
    let closed = format!("127.0.0.1:{}/fave-base:0.1", free_port());
    for args in [
        ["attach", "demo", closed.as_str()],
        [
            "attach",
            "demo",
            &format!("{}/fave-base:9.9", registry.authority()),
        ],
        ["attach", "no-such-image", &reference],
        ["attach", "demo", "Not A Reference"],
    ] {
        let out = project.run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
    }
    nothing_listed().await;
    let out = project.run(&["attach", "demo", &reference]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}
