//! The CycloneDX SBOM against the official CycloneDX 1.5 JSON schema (cyclonedx-python-lib's strict
//! validator, through `scripts/validate-sbom.py` in the tools venv), and its promises: a component with
//! hash and purl for every locked package, a license wherever the package's METADATA declares one, the
//! same bytes from `resolve` and from `fave-lock sbom`.
//!
//! Needs `FAVE_LOCK_TEST_VENV` (set by `scripts/test.sh`); fails, never skips, without it. The last test
//! uses live PyPI for the committed lock's metadata (cached in `<repo>/.cache/fave-lock`).

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use fave_lock::index::{CoreMetadata, IndexClient, IndexSettings};
use fave_lock::lock::{Lock, read_pylock};
use fave_lock::sbom::declares_license;
use fave_lock::tags::{Tags, WheelFilename};
use support::index_server::{IndexServer, Wheel};
use support::project::{Project, text};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The tools venv's python, which has cyclonedx-python-lib with JSON validation.
fn venv_python() -> PathBuf {
    let Some(venv) = std::env::var_os("FAVE_LOCK_TEST_VENV") else {
        panic!(
            "FAVE_LOCK_TEST_VENV is not set. The SBOM tests validate with cyclonedx-python-lib from the \
             tools venv: run them with `scripts/test.sh`, which creates .venv/tools and sets the variable."
        );
    };
    let python = PathBuf::from(venv).join("bin/python");
    assert!(
        python.is_file(),
        "{} is missing: run scripts/setup-test-env.sh",
        python.display()
    );
    python
}

/// Validate `path` against the CycloneDX 1.5 JSON schema; panics with every schema error.
fn assert_valid_cyclonedx(path: &Path) {
    let out = Command::new(venv_python())
        .arg(repo().join("scripts/validate-sbom.py"))
        .arg(path)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "schema validation failed:\n{}",
        text(&out)
    );
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// Each package of `lock` has a library component with purl, SHA-256 and, when `metadata` of its
/// chosen file declares a license, licenses.
fn assert_components(
    sbom: &serde_json::Value,
    lock: &Lock,
    metadata: &BTreeMap<String, Arc<CoreMetadata>>,
) -> usize {
    let components = sbom["components"].as_array().unwrap();
    let mut licensed = 0;
    for package in &lock.packages {
        let prefix = format!("pkg:pypi/{}@{}?file_name=", package.name, package.version);
        let component = components
            .iter()
            .find(|c| {
                c["purl"]
                    .as_str()
                    .is_some_and(|purl| purl.starts_with(&prefix))
            })
            .unwrap_or_else(|| panic!("no component with purl {prefix}…"));
        let file_name = component["purl"]
            .as_str()
            .unwrap()
            .strip_prefix(&prefix)
            .unwrap();
        let file = package
            .files
            .iter()
            .find(|f| f.filename == file_name)
            .unwrap_or_else(|| panic!("{file_name} is not a file of {}", package.name));
        assert_eq!(component["hashes"][0]["alg"], "SHA-256", "{component}");
        assert_eq!(
            component["hashes"][0]["content"].as_str(),
            file.sha256.as_deref()
        );
        let declared = metadata
            .get(&file.url)
            .unwrap_or_else(|| panic!("no metadata for {}", file.filename));
        if declares_license(declared) {
            licensed += 1;
            let licenses = component["licenses"].as_array();
            assert!(
                licenses.is_some_and(|l| !l.is_empty()),
                "{} declares a license but its component has none: {component}",
                package.name
            );
        }
    }
    licensed
}

/// The metadata of the file each component names, through the library's client (disk-cached).
async fn chosen_metadata(
    lock: &Lock,
    index_url: &str,
    cache_dir: &Path,
) -> BTreeMap<String, Arc<CoreMetadata>> {
    let client = IndexClient::new(IndexSettings {
        index_url: index_url.to_string(),
        cache_dir: cache_dir.to_path_buf(),
        offline: false,
        refresh: false,
        page_ttl: Duration::from_secs(600),
        concurrency: 8,
    })
    .unwrap();
    let first = &lock.context.targets[0];
    let tags = Tags::new(lock.context.python, first.platform);
    let mut metadata = BTreeMap::new();
    for package in &lock.packages {
        for file in &package.files {
            let fits = file.filename.parse::<WheelFilename>().is_ok_and(|wheel| {
                tags.compatibility(&wheel).is_compatible() || !package.targets.contains(&0)
            });
            if fits {
                metadata.insert(file.url.clone(), client.metadata(file).await.unwrap());
            }
        }
    }
    metadata
}

#[tokio::test]
async fn resolve_writes_a_valid_sbom_and_sbom_rewrites_the_same_bytes() {
    let server = IndexServer::builder()
        .wheel(Wheel::fixture("six-1.16.0-py2.py3-none-any.whl"))
        .wheel(Wheel::fixture("idna-3.10-py3-none-any.whl"))
        .wheel(Wheel::fixture("packaging-24.2-py3-none-any.whl"))
        .start();
    let project = Project::new(&server.url(), "six\nidna\npackaging\n");
    let out = project.run(&["resolve", "-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let sbom_path = project.lock_dir().join("sbom.cdx.json");
    assert_valid_cyclonedx(&sbom_path);

    let sbom = read_json(&sbom_path);
    let lock = read_pylock(&project.lock_dir().join("pylock.toml")).unwrap();
    let metadata = chosen_metadata(&lock, &server.url(), &project.cache_dir()).await;
    assert_eq!(assert_components(&sbom, &lock, &metadata), 3);
    assert_eq!(sbom["metadata"]["component"]["name"], "demo");
    assert!(sbom["metadata"].get("timestamp").is_none());
    let six = sbom["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "six")
        .unwrap();
    assert_eq!(six["licenses"][0]["license"]["id"], "MIT");

    // Another process, from the lock on disk: the same bytes (no timestamp, content-derived serial).
    let written = std::fs::read(&sbom_path).unwrap();
    std::fs::remove_file(&sbom_path).unwrap();
    let out = project.run(&["sbom", "-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(std::fs::read(&sbom_path).unwrap(), written);

    let out = project.run(&[
        "sbom",
        "--sbom-timestamp",
        "2026-11-27T10:00:00Z",
        "-o",
        "-",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stamped: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(stamped["metadata"]["timestamp"], "2026-11-27T10:00:00Z");
    assert_ne!(stamped["serialNumber"], sbom["serialNumber"]);
}

#[test]
fn a_build_plan_pins_the_base_image() {
    let server = IndexServer::builder()
        .wheel(Wheel::fixture("six-1.16.0-py2.py3-none-any.whl"))
        .start();
    let project = Project::new(&server.url(), "six\n");
    let out = project.run(&["resolve", "-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let digest = format!("sha256:{}", "ab".repeat(32));
    let plan = serde_json::json!({
        "base_image": {"name": "python:3.11-slim", "digest": digest},
        "tags": ["registry.example/fave/demo:1.2"],
    });
    std::fs::write(project.lock_dir().join("build-plan.json"), plan.to_string()).unwrap();
    let out = project.run(&["sbom", "-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let sbom_path = project.lock_dir().join("sbom.cdx.json");
    assert_valid_cyclonedx(&sbom_path);
    let sbom = read_json(&sbom_path);
    assert_eq!(sbom["metadata"]["component"]["version"], "1.2");
    let base = sbom["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["bom-ref"] == "base-image")
        .unwrap();
    assert_eq!(base["hashes"][0]["content"], "ab".repeat(32));
    assert!(base["purl"].as_str().unwrap().contains("sha256"), "{base}");

    std::fs::write(project.lock_dir().join("build-plan.json"), "{not json").unwrap();
    let out = project.run(&["sbom"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("build-plan.json"),
        "{}",
        text(&out)
    );
}

/// The committed lock, with metadata from live PyPI (cached in `<repo>/.cache/fave-lock`).
#[tokio::test]
async fn live_pypi_sbom_of_the_committed_lock_is_valid_and_licensed() {
    let cache_dir = repo().join(".cache/fave-lock");
    let output = tempfile::tempdir().unwrap();
    let sbom_path = output.path().join("sbom.cdx.json");
    let out = Command::new(env!("CARGO_BIN_EXE_fave-lock"))
        .args(["sbom", "--lock", "locks/fave-base/pylock.toml", "-q", "-o"])
        .arg(&sbom_path)
        .current_dir(repo())
        .env("FAVE_LOCK_CACHE_DIR", &cache_dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_valid_cyclonedx(&sbom_path);
    let lock = read_pylock(&repo().join("locks/fave-base/pylock.toml")).unwrap();
    let metadata = chosen_metadata(&lock, &lock.context.index_url, &cache_dir).await;
    let licensed = assert_components(&read_json(&sbom_path), &lock, &metadata);
    assert!(
        licensed > lock.packages.len() / 2,
        "only {licensed} licensed packages"
    );
}
