//! `fave-lock serve` against Debian's `docker-registry`: the API and the page show exactly the digests
//! the registry returns in `Docker-Content-Digest`, per platform too; freshness against the lock; the
//! build plan's tags and base image; empty and unreachable states; escaping of registry strings. And the
//! lock check (`/api/check`, the dashboard's check card) on a lock resolved from the local test index.

mod serve_support;
mod support;

use serde_json::{Value, json};
use serve_support::contract::Contract;
use serve_support::{Project, Registry, Serve, free_port, tag_row};
use support::demo::{FAKE_SHA256, SIX};
use support::project::text;

/// A single-platform image (fresh), a two-platform index (stale, two tags), an unlabelled image, and a
/// base image the plan pins: every digest the server shows equals the registry's header.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "registry: starts Debian's docker-registry (scripts/setup/serve-deps.sh); scripts/test.sh runs it"]
async fn api_and_page_show_the_registry_digests() {
    let registry = Registry::start().await;
    let project = Project::new();
    let base = push_sample_images(&registry, &project).await;
    let authority = registry.authority();
    let repo = "fave-base";

    let image_arg = format!("fave-base={authority}/{repo}");
    let serve = Serve::start(project.path(), &["--image", &image_arg], &[]).await;

    // Ground truth: the registry's own headers.
    let mut expected = Vec::new();
    for tag in ["1.0", "1.1", "latest", "0.9"] {
        let (digest, content_type, body) = registry.manifest(repo, tag).await;
        let manifest: Value = serde_json::from_slice(&body).unwrap();
        let platforms: Vec<String> = match manifest["manifests"].as_array() {
            Some(entries) => {
                let mut children = Vec::new();
                for entry in entries {
                    let (child, _, _) = registry
                        .manifest(repo, entry["digest"].as_str().unwrap())
                        .await;
                    children.push(child);
                }
                children
            }
            None => vec![digest.clone()],
        };
        expected.push((tag, digest, content_type, platforms));
    }

    let tags = serve.json("/api/images/fave-base/tags").await;
    assert_eq!(tags["state"], "ok", "{tags:#}");
    let listed: Vec<&str> = tags["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tag| tag["tag"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["latest", "1.1", "1.0", "0.9"]);
    let page = serve.get("/").await.1;
    let image_page = serve.get("/images/fave-base").await.1;
    for (tag, digest, content_type, platforms) in &expected {
        let shown = serve
            .json(&format!("/api/images/fave-base/tags/{tag}"))
            .await;
        assert_eq!(shown["digest"], *digest, "{tag}");
        assert_eq!(shown["media-type"], *content_type, "{tag}");
        let shown_platforms: Vec<&str> = shown["platforms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|platform| platform["digest"].as_str().unwrap())
            .collect();
        assert_eq!(shown_platforms, *platforms, "{tag}");
        for html in [&page, &image_page] {
            let row = tag_row(html, tag);
            assert!(row.contains(&format!("data-copy=\"{digest}\"")), "{row}");
            for platform in platforms {
                assert!(html.contains(&format!("<code class=\"digest-value\">{platform}</code>")));
            }
        }
    }

    // Per platform: names, sizes, created, labels.
    let index = serve.json("/api/images/fave-base/tags/1.1").await;
    assert_eq!(index["kind"], "index");
    let names: Vec<&str> = index["platforms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|platform| platform["platform"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["linux/amd64", "linux/arm64/v8"]);
    let amd64 = &index["platforms"][0];
    assert_eq!(amd64["created"], "2026-11-01T12:00:00Z");
    assert_eq!(amd64["labels"]["org.opencontainers.image.version"], "1.1");
    assert!(amd64["size"].as_u64().unwrap() > 100);
    assert!(image_page.contains("<dt>org.opencontainers.image.version</dt><dd>1.1</dd>"));

    // Freshness: 1.0 carries the current lock's sha256, 1.1/latest an old one, 0.9 none.
    for (tag, freshness) in [
        ("1.0", "fresh"),
        ("1.1", "stale"),
        ("latest", "stale"),
        ("0.9", "unknown"),
    ] {
        let shown = serve
            .json(&format!("/api/images/fave-base/tags/{tag}"))
            .await;
        assert_eq!(shown["freshness"], freshness, "{tag}: {shown:#}");
        let row = tag_row(&page, tag);
        assert!(
            row.contains(&format!("class=\"badge {freshness}\"")),
            "{row}"
        );
        assert!(
            row.contains("href=\"/api/locks/fave-base/requirements.txt\""),
            "{row}"
        );
    }

    // The plan publishes 1.0; its base image digest is what the registry serves now.
    assert!(tag_row(&page, "1.0").contains("badge plan"));
    assert!(!tag_row(&page, "1.1").contains("badge plan"));
    let summary = serve.json("/api/images").await;
    let image = &summary["images"][0];
    assert_eq!(image["planned-tags"][0]["tag"], "1.0");
    assert_eq!(image["planned-tags"][0]["published"], true);
    assert_eq!(image["planned-tags"][0]["freshness"], "fresh");
    assert_eq!(image["base-image"]["current"]["state"], "ok");
    assert_eq!(image["base-image"]["current"]["digest"], base);
    assert_eq!(image["base-image"]["drift"], false);
    assert!(page.contains("pinned digest is current"));
    assert_eq!(image["registry"]["fresh"], 1);
    assert_eq!(image["registry"]["stale"], 2);
    assert_eq!(image["registry"]["unknown"], 1);

    // Lock files; the check cannot run (this project has no requirements.in), and says so in JSON.
    let (status, requirements) = serve.get("/api/locks/fave-base/requirements.txt").await;
    assert_eq!(status, 200);
    assert_eq!(
        requirements,
        std::fs::read_to_string(project.lock_dir().join("requirements.txt")).unwrap()
    );
    let (status, check) = serve.get("/api/check").await;
    assert_eq!(status, 500, "{check}");
    let check: Value = serde_json::from_str(&check).unwrap();
    assert_eq!(check["verdict"], "error");
    assert_eq!(check["error"]["code"], "check-failed");
    assert!(
        check["error"]["message"]
            .as_str()
            .unwrap()
            .contains("requirements.in"),
        "{check}"
    );
    assert!(page.contains("check failed"), "{page}");
    let openapi = serve.json("/openapi.json").await;
    assert!(openapi["paths"]["/api/images/{name}/tags/{tag}"].is_object());

    // Metrics saw the routes, the registry requests and the caches.
    let metrics = serve.get("/metrics").await.1;
    for needle in [
        r#"fave_lock_http_requests_total{route="/api/images/{name}/tags/{tag}",status="2xx"}"#,
        r#"fave_lock_registry_requests_total{kind="manifest",outcome="ok"}"#,
        r#"fave_lock_cache_lookups_total{cache="page",result="hit"}"#,
        "fave_lock_http_request_duration_seconds_bucket{route=\"/\",le=\"+Inf\"} 1",
    ] {
        assert!(metrics.contains(needle), "{needle} missing from\n{metrics}");
    }
    // The failed check run (no requirements.in) is counted as such, and nothing else ran.
    let runs = |mode: &str, outcome: &str| {
        let prefix =
            format!("fave_lock_check_runs_total{{mode=\"{mode}\",outcome=\"{outcome}\"}} ");
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("{prefix} missing from\n{metrics}"))
            .parse::<u64>()
            .unwrap()
    };
    assert!(runs("online", "error") >= 1, "{metrics}");
    assert_eq!(runs("online", "fresh"), 0, "{metrics}");
    assert_eq!(runs("offline", "error"), 0, "{metrics}");
    assert!(
        serve
            .log()
            .iter()
            .any(|line| line.contains("\"snapshot built\""))
    );
}

/// Into `fave-base`: a single-platform image built from the project's lock (`1.0`, which the plan
/// publishes), a two-platform index built from another (`1.1` and `latest`), an unlabelled image
/// (`0.9`); and the base image the plan pins (`base:bookworm`), whose digest is returned.
async fn push_sample_images(registry: &Registry, project: &Project) -> String {
    let current = project.lock_sha256();
    let old = "0".repeat(64);
    let repo = "fave-base";
    registry
        .push_image(
            repo,
            &["1.0"],
            "linux/amd64",
            &[("io.fave.lock.sha256", &current)],
        )
        .await;
    registry
        .push_index(
            repo,
            &["1.1", "latest"],
            &["linux/amd64", "linux/arm64/v8"],
            &[
                ("io.fave.lock.sha256", &old),
                ("org.opencontainers.image.version", "1.1"),
            ],
        )
        .await;
    registry
        .push_image(repo, &["0.9"], "linux/amd64", &[])
        .await;
    let base = registry
        .push_image("base", &["bookworm"], "linux/amd64", &[])
        .await;
    let authority = registry.authority();
    project.write_plan(&json!({
        "image": "fave-base",
        "tags": [format!("{authority}/fave-base:1.0")],
        "base_image": {"name": format!("{authority}/base:bookworm"), "digest": base, "verified": true},
        "labels": {"io.fave.lock.sha256": current},
    }));
    base
}

/// A moved base image tag shows as drift; an image's repository that does not exist is "empty"; a
/// registry nothing listens on is "unreachable": plainly, on the page and in the API.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "registry: starts Debian's docker-registry (scripts/setup/serve-deps.sh); scripts/test.sh runs it"]
async fn drift_empty_and_unreachable_states() {
    let registry = Registry::start().await;
    let project = Project::new();
    let authority = registry.authority();
    let pinned = registry
        .push_image("base", &["bookworm"], "linux/amd64", &[])
        .await;
    let moved = registry
        .push_image("base", &["bookworm"], "linux/arm64", &[])
        .await;
    assert_ne!(pinned, moved);
    project.write_plan(&json!({
        "tags": [format!("{authority}/fave-base:0.1")],
        "base_image": {"name": format!("{authority}/base:bookworm"), "digest": pinned},
    }));
    let dead = free_port();
    let fave_base = format!("fave-base={authority}/fave-base");
    let down = format!("down=127.0.0.1:{dead}/down");
    let serve = Serve::start(
        project.path(),
        &["--image", &fave_base, "--image", &down],
        &[],
    )
    .await;

    let images = serve.json("/api/images").await;
    let fave = &images["images"][0];
    assert_eq!(fave["registry"]["state"], "empty", "{fave:#}");
    assert_eq!(fave["planned-tags"][0]["published"], false);
    assert_eq!(fave["base-image"]["drift"], true);
    assert_eq!(fave["base-image"]["current"]["digest"], moved);
    let down_image = &images["images"][1];
    assert_eq!(down_image["registry"]["state"], "unreachable");
    assert!(
        down_image["registry"]["message"]
            .as_str()
            .unwrap()
            .contains(&format!("registry `127.0.0.1:{dead}` is unreachable"))
    );

    let page = serve.get("/").await.1;
    assert!(page.contains("<strong>No tags yet.</strong>"), "{page}");
    assert!(page.contains("<strong>Registry unreachable.</strong>"));
    assert!(page.contains("badge stale\">drift</span>"));
    assert!(page.contains(&format!("<code class=\"hash\">{moved}</code>")));
    assert!(page.contains("not published yet"));
}

/// Labels (and their keys) are registry-provided text: a `<script>` in them renders escaped. (A tag
/// cannot hold `<` in a real registry; the in-process tests cover such a tag list.)
#[tokio::test(flavor = "multi_thread")]
#[ignore = "registry: starts Debian's docker-registry (scripts/setup/serve-deps.sh); scripts/test.sh runs it"]
async fn registry_strings_render_escaped() {
    let registry = Registry::start().await;
    let project = Project::new();
    registry
        .push_image(
            "fave-base",
            &["1.0"],
            "linux/amd64",
            &[
                (
                    "<script>alert('key')</script>",
                    "<script>alert('value')</script>",
                ),
                ("org.example.quote", "\"><img src=x onerror=alert(1)>"),
            ],
        )
        .await;
    let image_arg = format!("fave-base={}/fave-base", registry.authority());
    let serve = Serve::start(project.path(), &["--image", &image_arg], &[]).await;
    for path in ["/", "/images/fave-base"] {
        let page = serve.get(path).await.1;
        assert!(page.contains("1 fresh") || page.contains("1.0"), "{page}");
        assert!(
            !page.contains("<script>alert"),
            "{path} has a raw script tag"
        );
        assert!(!page.contains("<img src=x"), "{path} has a raw img tag");
        assert!(
            page.contains("&#60;script&#62;alert(&#39;value&#39;)&#60;/script&#62;"),
            "{page}"
        );
        assert!(page.contains("&#60;script&#62;alert(&#39;key&#39;)&#60;/script&#62;"));
        assert!(page.contains("&#34;&#62;&#60;img src=x onerror=alert(1)&#62;"));
    }
    // The JSON keeps the text as it is.
    let tag = serve.json("/api/images/fave-base/tags/1.0").await;
    assert_eq!(
        tag["platforms"][0]["labels"]["<script>alert('key')</script>"],
        "<script>alert('value')</script>"
    );
}

/// Docker schema 2 manifests and manifest lists (as `skopeo copy --format v2s2` writes them) are read
/// with the right Accept types: same digests as the registry's headers, Docker media types.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "registry: starts Debian's docker-registry and pushes with skopeo; scripts/test.sh runs it"]
async fn docker_manifest_lists_pushed_by_skopeo() {
    let registry = Registry::start().await;
    let project = Project::new();
    let current = project.lock_sha256();
    registry
        .push_index(
            "oci",
            &["1.1"],
            &["linux/amd64", "linux/arm64/v8"],
            &[("io.fave.lock.sha256", &current)],
        )
        .await;
    registry
        .push_image("oci", &["1.0"], "linux/amd64", &[])
        .await;
    for (tag, all) in [("1.1", true), ("1.0", false)] {
        let mut command = std::process::Command::new("skopeo");
        command.args(["copy", "--quiet", "--format", "v2s2"]);
        if all {
            command.arg("--all");
        }
        let status = command
            .args(["--src-tls-verify=false", "--dest-tls-verify=false"])
            .arg(format!("docker://{}/oci:{tag}", registry.authority()))
            .arg(format!("docker://{}/docker:{tag}", registry.authority()))
            .status()
            .expect("run skopeo");
        assert!(status.success());
    }
    let image = format!("fave-base={}/docker", registry.authority());
    let serve = Serve::start(project.path(), &["--image", &image], &[]).await;
    for (tag, media_type) in [
        (
            "1.1",
            "application/vnd.docker.distribution.manifest.list.v2+json",
        ),
        (
            "1.0",
            "application/vnd.docker.distribution.manifest.v2+json",
        ),
    ] {
        let (digest, content_type, body) = registry.manifest("docker", tag).await;
        assert_eq!(content_type, media_type);
        let shown = serve
            .json(&format!("/api/images/fave-base/tags/{tag}"))
            .await;
        assert_eq!(shown["digest"], digest, "{tag}");
        assert_eq!(shown["media-type"], media_type, "{tag}");
        let manifest: Value = serde_json::from_slice(&body).unwrap();
        if let Some(entries) = manifest["manifests"].as_array() {
            let children: Vec<&Value> = entries.iter().map(|entry| &entry["digest"]).collect();
            let platforms: Vec<&Value> = shown["platforms"]
                .as_array()
                .unwrap()
                .iter()
                .map(|platform| &platform["digest"])
                .collect();
            assert_eq!(platforms, children);
            assert_eq!(
                shown["platforms"][1]["media-type"],
                "application/vnd.docker.distribution.manifest.v2+json"
            );
            assert_eq!(shown["freshness"], "fresh");
        }
    }
}

/// The check's JSON without what only the server adds.
fn without_server_fields(mut report: Value) -> Value {
    for key in ["verdict", "checked-at", "offline"] {
        report.as_object_mut().unwrap().remove(key);
    }
    report
}

/// `/api/check` is `fave-lock check --format json` (plus `verdict`), cached for the check TTL, with
/// `?offline=true` cached apart; the dashboard shows each verdict's badge, the findings with their fix
/// and the per-package diff; an index that fails is a 502 with a JSON body, never a bare 500.
#[tokio::test(flavor = "multi_thread")]
async fn the_lock_check_on_a_real_lock() {
    let index = support::demo::index();
    let project = support::demo::resolved(&index, "six==1.16.0\nidna\npackaging\n");
    let (cache, index_url) = (project.cache_dir(), index.url());
    let start = |args: &'static [&'static str]| {
        Serve::start_indexed(project.root(), &cache, &index_url, args)
    };
    let cached = start(&[]).await;
    let contract = Contract::new(cached.json("/openapi.json").await);

    let fresh = cached.json("/api/check").await;
    assert_eq!(fresh["verdict"], "fresh", "{fresh:#}");
    contract.check("/api/check", 200, &fresh);
    contract.check("/api/images", 200, &cached.json("/api/images").await);
    assert_eq!(fresh["offline"], false);
    assert_eq!(fresh["images"][0]["checks"], json!(["inputs", "index"]));
    let cli = project.run(&["check", "--format", "json"]);
    assert_eq!(cli.status.code(), Some(0), "{}", text(&cli));
    assert_eq!(
        without_server_fields(fresh.clone()),
        support::demo::json(&cli)
    );
    let page = cached.get("/").await.1;
    assert!(page.contains(r#"data-check="fresh""#), "{page}");

    // Edit the input: the online result is cached (same run), the offline one is computed now.
    std::fs::write(
        project.root().join("requirements.in"),
        "six==1.16.0\nidna\n",
    )
    .unwrap();
    let again = cached.json("/api/check").await;
    assert_eq!(again["checked-at"], fresh["checked-at"]);
    assert_eq!(again["verdict"], "fresh");
    let offline = cached.json("/api/check?offline=true").await;
    assert_eq!(offline["verdict"], "stale", "{offline:#}");
    contract.check("/api/check", 200, &offline);
    assert_eq!(offline["exit-code"], 1);
    let finding = &offline["images"][0]["findings"][0];
    assert_eq!(finding["code"], "inputs-changed");
    assert_eq!(finding["fix"], "fave-lock resolve --image=demo");
    assert_eq!(
        offline["images"][0]["diff"],
        json!([{"package": "packaging", "old": ["24.2"], "new": [], "reason": "input-change"}])
    );
    let cli = project.run(&["check", "--offline", "--format", "json"]);
    assert_eq!(without_server_fields(offline), support::demo::json(&cli));

    // Without caching, the dashboard shows the stale badge, the finding with its fix, and the diff.
    let uncached = start(&["--check-ttl", "0"]).await;
    for path in ["/", "/images/demo"] {
        let page = uncached.get(path).await.1;
        assert!(page.contains(r#"data-check="stale""#), "{path}: {page}");
        assert!(
            page.contains(r#"<tr data-code="inputs-changed">"#),
            "{page}"
        );
        assert!(page.contains("the inputs changed since"), "{page}");
        assert!(
            page.contains(r#"<code class="fix">fave-lock resolve --image=demo</code>"#),
            "{page}"
        );
        assert!(page.contains(r#"<tr data-package="packaging">"#), "{page}");
    }

    // A changed hash on the index: an integrity failure.
    std::fs::write(
        project.root().join("requirements.in"),
        "six==1.16.0\nidna\npackaging\n",
    )
    .unwrap();
    index.set_sha256(SIX, FAKE_SHA256);
    let broken = uncached.json("/api/check").await;
    assert_eq!(broken["verdict"], "integrity", "{broken:#}");
    contract.check("/api/check", 200, &broken);
    assert_eq!(
        broken["images"][0]["findings"][0]["code"],
        "index-hash-mismatch"
    );
    let page = uncached.get("/").await.1;
    assert!(page.contains(">integrity failure</span>"), "{page}");

    // The index goes away: a 502 with a JSON error, and the page says the check failed.
    drop(index);
    let (status, body) = uncached.get("/api/check").await;
    assert_eq!(status, 502, "{body}");
    let error: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error["verdict"], "error");
    assert_eq!(error["error"]["code"], "check-unavailable");
    contract.check("/api/check", 502, &error);
    let (status, page) = uncached.get("/").await;
    assert_eq!(status, 200);
    assert!(page.contains("check failed"), "{page}");
}

/// The API as a contract: every JSON answer the real server gives (a fresh image, a two-platform
/// index, an unlabelled tag, an empty repository, an unreachable registry, a server-side check
/// failure, the errors) matches the schema `/openapi.json` documents for its path and status, checked
/// by a JSON Schema validator. The schemas are closed and name their required fields: `{"bogus": 1}`,
/// an answer missing a field, and one with a field the document does not list, all fail.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "registry: starts Debian's docker-registry (scripts/setup/serve-deps.sh); scripts/test.sh runs it"]
async fn every_answer_matches_its_openapi_schema() {
    let registry = Registry::start().await;
    let project = Project::new();
    push_sample_images(&registry, &project).await;
    let authority = registry.authority();
    let fave_base = format!("fave-base={authority}/fave-base");
    let empty = format!("empty={authority}/nothing-pushed");
    let down = format!("down=127.0.0.1:{}/down", free_port());
    let serve = Serve::start(
        project.path(),
        &["--image", &fave_base, "--image", &empty, "--image", &down],
        &[],
    )
    .await;

    // The document the server serves is the one validated against.
    let contract = Contract::new(serve.json("/openapi.json").await);
    let mut checked = std::collections::BTreeSet::new();
    let mut check = |template: &str, status: u16, answer: &Value| {
        contract.check(template, status, answer);
        checked.insert((template.to_string(), status));
    };
    let images = serve.json("/api/images").await;
    let states: Vec<&str> = images["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|image| image["registry"]["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["ok", "empty", "unreachable"]);
    check("/api/images", 200, &images);
    for name in ["fave-base", "empty", "down"] {
        check(
            "/api/images/{name}",
            200,
            &serve.json(&format!("/api/images/{name}")).await,
        );
        check(
            "/api/images/{name}/tags",
            200,
            &serve.json(&format!("/api/images/{name}/tags")).await,
        );
    }
    for tag in ["1.0", "1.1", "latest", "0.9"] {
        let answer = serve
            .json(&format!("/api/images/fave-base/tags/{tag}"))
            .await;
        check("/api/images/{name}/tags/{tag}", 200, &answer);
    }
    check("/api/locks", 200, &serve.json("/api/locks").await);
    check("/healthz", 200, &serve.json("/healthz").await);
    // No requirements.in in this project: the check cannot run, a documented 500.
    let (status, body) = serve.get("/api/check").await;
    assert_eq!(status, 500, "{body}");
    check("/api/check", 500, &serde_json::from_str(&body).unwrap());
    for (path, template) in [
        ("/api/images/nope", "/api/images/{name}"),
        (
            "/api/images/fave-base/tags/2.0",
            "/api/images/{name}/tags/{tag}",
        ),
        (
            "/api/locks/fave-base/sbom.cdx.json",
            "/api/locks/{image}/{file}",
        ),
        ("/api/locks/fave-base/secret", "/api/locks/{image}/{file}"),
    ] {
        let (status, body) = serve.get(path).await;
        assert_eq!(status, 404, "{path}: {body}");
        check(template, 404, &serde_json::from_str(&body).unwrap());
    }
    let bad = serve.get("/api/check?offline=maybe").await;
    assert_eq!(bad.0, 400);
    check("/api/check", 400, &serde_json::from_str(&bad.1).unwrap());
    // Errors no path documents (an unknown path, a method no route has) are the same Error.
    let error = contract.component("Error");
    let unknown = serve.get("/api/nothing").await;
    assert_eq!(unknown.0, 404);
    assert!(error.is_valid(&serde_json::from_str(&unknown.1).unwrap()));
    let post = serve_support::http()
        .post(format!("{}/api/images", serve.url))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 405);
    assert!(post.headers()["allow"].to_str().unwrap().contains("GET"));
    let body: Value = serde_json::from_str(&post.text().await.unwrap()).unwrap();
    assert!(error.is_valid(&body));

    // Every JSON answer the document lists for these paths was checked (the lock check's 200, 502
    // and 503 are checked by `the_lock_check_on_a_real_lock` and the in-process tests).
    let documented = contract.len();
    assert!(checked.len() >= 10, "{checked:?} of {documented}");

    // The schemas are strict.
    assert!(
        !contract
            .errors("/api/images", 200, &json!({"bogus": 1}))
            .is_empty()
    );
    let mut missing = images.clone();
    missing["images"][0].as_object_mut().unwrap().remove("lock");
    assert!(!contract.errors("/api/images", 200, &missing).is_empty());
    let mut extra = images.clone();
    extra["images"][0]["registry"]["surprise"] = json!(true);
    assert!(!contract.errors("/api/images", 200, &extra).is_empty());
    let mut snake = serve.json("/api/images/fave-base/tags/1.0").await;
    let media_type = snake.as_object_mut().unwrap().remove("media-type").unwrap();
    snake["media_type"] = media_type;
    assert!(
        !contract
            .errors("/api/images/{name}/tags/{tag}", 200, &snake)
            .is_empty()
    );
    let mut deep = serve.json("/api/images/fave-base").await;
    contract.check("/api/images/{name}", 200, &deep);
    deep["registry"]["tags"][0]["platforms"][0]["size"] = json!("large");
    assert!(!contract.errors("/api/images/{name}", 200, &deep).is_empty());
}
