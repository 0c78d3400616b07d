//! Headless Chromium (Debian's `chromium`) loads the dashboard of a real registry: the rendered DOM has
//! every tag with its digest and freshness, the script ran (the filter box is shown), and a screenshot is
//! saved. `FAVE_LOCK_UPDATE_SCREENSHOT=1` also copies it to `docs/dashboard.png` for the README. And
//! the lock check's card, findings and diff render for a stale lock.

mod serve_support;
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;
use serve_support::{Project, Registry, Serve, tag_row};

/// Run Chromium headless on `url` with `mode` (`--dump-dom` or `--screenshot=…`); stdout.
fn chromium(url: &str, mode: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let output = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--window-size=1280,1180",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(mode)
        .arg(url)
        .output()
        .expect("run chromium");
    assert!(
        output.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn chromium_renders_the_dashboard() {
    let registry = Registry::start().await;
    let project = Project::new();
    let current = project.lock_sha256();
    let repo = "fave-project/fave-base";
    let labels = |lock: &str| {
        vec![
            ("io.fave.lock.sha256".to_string(), lock.to_string()),
            (
                "org.opencontainers.image.title".to_string(),
                "fave-base".to_string(),
            ),
            (
                "org.opencontainers.image.source".to_string(),
                "https://github.com/fave-project/fave".to_string(),
            ),
        ]
    };
    let (fresh, old) = (labels(&current), labels(&"7".repeat(64)));
    let fresh: Vec<(&str, &str)> = fresh
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let old: Vec<(&str, &str)> = old.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (index, platforms) = registry
        .push_index(
            repo,
            &["0.1", "latest"],
            &["linux/amd64", "linux/arm64"],
            &fresh,
        )
        .await;
    let (stale, _) = registry
        .push_index(repo, &["0.0.9"], &["linux/amd64", "linux/arm64"], &old)
        .await;
    let unlabelled = registry
        .push_image(repo, &["0.0.8"], "linux/amd64", &[])
        .await;
    let base = registry
        .push_image("library/python", &["3.11-slim"], "linux/amd64", &[])
        .await;
    let authority = registry.authority();
    project.write_plan(&json!({
        "image": "fave-base",
        "tags": [format!("{authority}/{repo}:0.1")],
        "base_image": {"name": format!("{authority}/library/python:3.11-slim"), "digest": base, "verified": true},
        "labels": {"io.fave.lock.sha256": current},
    }));
    let image = format!("fave-base={authority}/{repo}");
    let serve = Serve::start(project.path(), &["--image", &image], &[]).await;

    let dom = chromium(&format!("{}/", serve.url), "--dump-dom");
    for (tag, digest, freshness) in [
        ("0.1", &index, "fresh"),
        ("latest", &index, "fresh"),
        ("0.0.9", &stale, "stale"),
        ("0.0.8", &unlabelled, "unknown"),
    ] {
        let row = tag_row(&dom, tag);
        assert!(row.contains(&format!("title=\"{digest}\"")), "{tag}: {row}");
        assert!(
            row.contains(&format!("class=\"badge {freshness}\"")),
            "{tag}: {row}"
        );
    }
    for platform in &platforms {
        assert!(
            dom.contains(platform.as_str()),
            "platform digest {platform} missing"
        );
    }
    assert!(tag_row(&dom, "0.1").contains("badge plan"));
    assert!(dom.contains("pinned digest is current"));
    // The script ran: the filter box it reveals is no longer hidden.
    let filter = dom.find("class=\"filter\"").expect("filter box");
    let tag_end = dom[filter..].find('>').unwrap() + filter;
    assert!(
        !dom[filter..tag_end].contains("hidden"),
        "{}",
        &dom[filter..tag_end]
    );

    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dashboard.png");
    let _ = std::fs::remove_file(&shot);
    chromium(
        &format!("{}/", serve.url),
        &format!("--screenshot={}", shot.display()),
    );
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 20_000,
        "{} bytes",
        png.len()
    );
    if std::env::var_os("FAVE_LOCK_UPDATE_SCREENSHOT").is_some() {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/dashboard.png");
        std::fs::copy(&shot, &docs).unwrap();
        eprintln!("updated {}", docs.display());
    }
}

/// A lock resolved from the local test index, then its input edited: the rendered dashboard shows the
/// stale badge in the check card, the finding with its fix, and the package the diff drops.
#[tokio::test(flavor = "multi_thread")]
async fn chromium_renders_the_lock_check() {
    let index = support::demo::index();
    let project = support::demo::resolved(&index, "six==1.16.0\nidna\npackaging\n");
    std::fs::write(
        project.root().join("requirements.in"),
        "six==1.16.0\nidna\n",
    )
    .unwrap();
    let serve = Serve::start_indexed(project.root(), &project.cache_dir(), &index.url(), &[]).await;
    let dom = chromium(&format!("{}/", serve.url), "--dump-dom");
    let card = &dom[dom.find("id=\"check-demo\"").expect("check card")..];
    let card = &card[..card.find("</article>").unwrap()];
    assert!(card.contains("data-check=\"stale\">stale</span>"), "{card}");
    let findings = &dom[dom.find("id=\"findings-demo\"").expect("findings table")..];
    let row = &findings[findings.find("<tr data-code=\"inputs-changed\">").unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(row.contains("the inputs changed since"), "{row}");
    assert!(row.contains("fave-lock resolve --image=demo"), "{row}");
    assert!(
        dom.contains("<tr data-package=\"packaging\">"),
        "no diff row for packaging"
    );
}
