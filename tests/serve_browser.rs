//! Headless Chromium (Debian's `chromium`) loads the dashboard of a real project (resolved from the
//! local test index, then its input edited) and registry: the rendered DOM has every tag with its digest
//! and freshness, the lock check's stale card with its finding, fix and diff, the script ran (the filter
//! box is shown), and a screenshot is saved. `FAVE_LOCK_UPDATE_SCREENSHOT=1` also copies it to
//! `docs/dashboard.png` for the README.

mod serve_support;
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serve_support::{Registry, Serve, tag_row};

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
            "--window-size=1280,1700",
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

/// A project `fave-base` resolved from the local test index, its build plan pinning a base image in
/// the local registry, with tags built from the current lock (fresh), an older one (stale) and an
/// unlabelled one; then its input edited, so the lock check shows a stale lock, its finding and diff.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "browser: needs chromium and docker-registry; scripts/test.sh runs it"]
async fn chromium_renders_the_dashboard() {
    let registry = Registry::start().await;
    let authority = registry.authority();
    let repo = "fave-project/fave-base";
    let base = registry
        .push_image("library/python", &["3.11-slim"], "linux/amd64", &[])
        .await;
    let index = support::demo::index();
    let project = support::demo::resolve(support::project::Project::with_image(
        &index.url(),
        "six==1.16.0\nidna\npackaging\n",
        "fave-base",
        &format!(
            "registry = \"{authority}/{repo}\"\n\
             base-image = \"{authority}/library/python:3.11-slim\"\n\
             tags = [\"0.1\"]\n\
             labels = {{ \"org.opencontainers.image.source\" = \"https://github.com/fave-project/fave\" }}\n"
        ),
    ));
    // The plan `resolve` wrote: its labels (lock sha256 included) are what a build stamps on the image.
    let plan: serde_json::Value = serde_json::from_slice(
        &std::fs::read(project.lock_dir().join("build-plan.json")).expect("a build plan"),
    )
    .unwrap();
    assert_eq!(plan["base_image"]["digest"], base, "{plan:#}");
    let current = serve_support::oci::sha256_hex(
        &std::fs::read(project.lock_dir().join("requirements.txt")).unwrap(),
    );
    assert_eq!(plan["labels"]["io.fave.lock.sha256"], current, "{plan:#}");
    let labels = |lock: &str| -> Vec<(String, String)> {
        let labels = plan["labels"].as_object().unwrap().iter();
        labels
            .map(|(key, value)| match key.as_str() {
                "io.fave.lock.sha256" => (key.clone(), lock.to_string()),
                _ => (key.clone(), value.as_str().unwrap().to_string()),
            })
            .collect()
    };
    let (fresh, old) = (labels(&current), labels(&"7".repeat(64)));
    let fresh: Vec<(&str, &str)> = fresh
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let old: Vec<(&str, &str)> = old.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (digest, platforms) = registry
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
    // The published tag carries its SBOM (`fave-lock attach`), so the check has no `sbom-missing`.
    let published = format!("{authority}/{repo}:0.1");
    let attached = project.run(&["attach", "fave-base", &published]);
    assert_eq!(
        attached.status.code(),
        Some(0),
        "{}",
        support::project::text(&attached)
    );
    // packaging leaves the input: the lock (and so every tag's freshness) stays, the check says stale.
    std::fs::write(
        project.root().join("requirements.in"),
        "six==1.16.0\nidna\n",
    )
    .unwrap();
    let serve = Serve::start_indexed(project.root(), &project.cache_dir(), &index.url(), &[]).await;

    let dom = chromium(&format!("{}/", serve.url), "--dump-dom");
    for (tag, digest, freshness) in [
        ("0.1", &digest, "fresh"),
        ("latest", &digest, "fresh"),
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
    for (tag, sbom) in [("0.1", "matches"), ("latest", "matches"), ("0.0.9", "none")] {
        let row = tag_row(&dom, tag);
        assert!(
            row.contains(&format!("data-sbom=\"{sbom}\"")),
            "{tag}: {row}"
        );
    }
    assert!(dom.contains("pinned digest is current"));
    // The script ran: the filter box it reveals is no longer hidden.
    let filter = dom.find("class=\"filter\"").expect("filter box");
    let tag_end = dom[filter..].find('>').unwrap() + filter;
    assert!(
        !dom[filter..tag_end].contains("hidden"),
        "{}",
        &dom[filter..tag_end]
    );
    // The lock check card: stale, from the inputs, the index and the registry; one finding, one diff row.
    let card = &dom[dom.find("id=\"check-fave-base\"").expect("check card")..];
    let card = &card[..card.find("</article>").unwrap()];
    assert!(card.contains("data-check=\"stale\">stale</span>"), "{card}");
    assert!(card.contains("inputs, index, registry"), "{card}");
    assert!(card.contains("1 finding: see below"), "{card}");
    let findings = &dom[dom
        .find("id=\"findings-fave-base\"")
        .expect("findings table")..];
    let row = &findings[findings
        .find("<tr data-code=\"inputs-changed\">")
        .expect("an inputs-changed finding")..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(row.contains("the inputs changed since"), "{row}");
    assert!(row.contains("fave-lock resolve --image=fave-base"), "{row}");
    assert!(
        dom.contains("<tr data-package=\"packaging\">"),
        "no diff row for packaging"
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
