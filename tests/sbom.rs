//! The CycloneDX SBOM against the ecosystem's own readers, through `scripts/test/validate-sbom.py` in the
//! tools venv: the official CycloneDX 1.5 JSON schema (cyclonedx-python-lib's strict validator) and
//! every purl round-tripped through packageurl-python. And its promises: a library component per locked
//! package with a file component (hash, purl, URL) per wheel or sdist, a license wherever the
//! package's METADATA declares one, the declared requirements as the image's dependencies, the same
//! bytes from `resolve` and from `fave-lock sbom`, and a build plan kept in step with the SBOM.
//!
//! Needs `FAVE_LOCK_TEST_VENV` (set by `scripts/test.sh`); fails, never skips, without it. The last test
//! uses live PyPI for the committed lock's metadata (cached in `<repo>/.cache/fave-lock`).

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use std::str::FromStr;

use fave_lock::index::{CoreMetadata, IndexClient, IndexSettings};
use fave_lock::lock::{Lock, LockedPackage, read_pylock};
use fave_lock::sbom::declares_license;
use fave_lock::tags::{Tags, WheelFilename};
use pep508_rs::PackageName;
use sha2::{Digest, Sha256};
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
        "{} is missing: run scripts/setup/test-env.sh",
        python.display()
    );
    python
}

/// Validate `path` against the CycloneDX 1.5 JSON schema and round-trip its purls through
/// packageurl-python; panics with every error. Checks that the validator saw every purl of the file.
fn assert_valid_cyclonedx(path: &Path) {
    let out = Command::new(venv_python())
        .arg(repo().join("scripts/test/validate-sbom.py"))
        .arg(path)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "schema or purl validation failed:\n{}",
        text(&out)
    );
    let expected = format!(
        "valid CycloneDX 1.5; {} purls round-trip through packageurl-python",
        purls(&read_json(path)).len()
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&expected),
        "expected `{expected}`:\n{}",
        text(&out)
    );
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// Every purl of the document: the image, the components and their nested components.
fn purls(sbom: &serde_json::Value) -> Vec<&str> {
    let mut found = Vec::new();
    let mut stack = vec![&sbom["metadata"]["component"]];
    stack.extend(sbom["components"].as_array().into_iter().flatten());
    while let Some(component) = stack.pop() {
        found.extend(component["purl"].as_str());
        stack.extend(component["components"].as_array().into_iter().flatten());
    }
    found
}

/// The component named `name`.
fn component<'a>(sbom: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    sbom["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no component {name}"))
}

/// The names an input file pins (`name==version` lines), PEP 503-normalised and sorted.
fn declared_in(path: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter_map(|line| line.split_once("==").map(|(name, _)| name.trim()))
        .filter(|name| !name.starts_with('#'))
        .map(|name| PackageName::from_str(name).unwrap().to_string())
        .collect();
    names.sort();
    names
}

/// The library component of `package`: name (as spelled by its metadata) and version.
fn library<'a>(sbom: &'a serde_json::Value, package: &LockedPackage) -> &'a serde_json::Value {
    sbom["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| {
            c["type"] == "library"
                && c["version"] == package.version.to_string().as_str()
                && c["name"]
                    .as_str()
                    .and_then(|name| PackageName::from_str(name).ok())
                    .is_some_and(|name| name == package.name)
        })
        .unwrap_or_else(|| panic!("no component for {} {}", package.name, package.version))
}

/// Each package of `lock` has a library component with a pypi purl and, for each of its files, a file
/// component with that file's SHA-256, purl and URL; when `metadata` of its chosen file declares a
/// license, the library has licenses. Returns how many are licensed and how many by SPDX.
fn assert_components(
    sbom: &serde_json::Value,
    lock: &Lock,
    metadata: &BTreeMap<String, Arc<CoreMetadata>>,
) -> (usize, usize) {
    let (mut licensed, mut spdx) = (0, 0);
    for package in &lock.packages {
        let component = library(sbom, package);
        let purl = component["purl"].as_str().unwrap();
        assert_eq!(
            purl,
            format!("pkg:pypi/{}@{}", package.name, package.version),
            "fave-base has no dotted names, so the purl is the normalised name"
        );
        let files = component["components"].as_array().unwrap();
        assert_eq!(files.len(), package.files.len(), "{component}");
        for file in &package.files {
            let nested = files
                .iter()
                .find(|c| c["name"] == file.filename.as_str())
                .unwrap_or_else(|| panic!("no file component {}", file.filename));
            assert_eq!(nested["type"], "file");
            assert_eq!(
                nested["purl"],
                format!("{purl}?file_name={}", file.filename).as_str()
            );
            assert_eq!(nested["hashes"][0]["alg"], "SHA-256", "{nested}");
            assert_eq!(
                nested["hashes"][0]["content"].as_str(),
                file.sha256.as_deref()
            );
            assert_eq!(nested["externalReferences"][0]["url"], file.url.as_str());
        }
        let Some(declared) = package
            .files
            .iter()
            .find_map(|file| metadata.get(&file.url))
        else {
            panic!("no metadata for {}", package.name);
        };
        if declares_license(declared) {
            licensed += 1;
            let licenses = component["licenses"].as_array();
            assert!(
                licenses.is_some_and(|l| !l.is_empty()),
                "{} declares a license but its component has none: {component}",
                package.name
            );
            let is_spdx = licenses.into_iter().flatten().any(|license| {
                license.get("expression").is_some() || license["license"].get("id").is_some()
            });
            spdx += usize::from(is_spdx);
        }
    }
    (licensed, spdx)
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
#[ignore = "python: validates with cyclonedx-python-lib from the tools venv; scripts/test.sh runs it"]
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
    // idna 3.10 says only `BSD License` (a family, so a name); packaging 24.2 the Apache and BSD
    // classifiers (Apache-2.0 and a name); six 1.16.0 `License: MIT`.
    assert_eq!(assert_components(&sbom, &lock, &metadata), (3, 2));
    assert_eq!(sbom["metadata"]["component"]["name"], "demo");
    assert!(sbom["metadata"].get("timestamp").is_none());
    let six = component(&sbom, "six");
    assert_eq!(six["licenses"][0]["license"]["id"], "MIT");
    let packaging = component(&sbom, "packaging");
    assert_eq!(
        packaging["licenses"],
        serde_json::json!([{"license": {"id": "Apache-2.0"}}, {"license": {"name": "BSD License"}}])
    );

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
#[ignore = "python: validates with cyclonedx-python-lib from the tools venv; scripts/test.sh runs it"]
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
#[ignore = "live: needs PyPI and cyclonedx-python-lib from the tools venv; scripts/test.sh runs it"]
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
    let sbom = read_json(&sbom_path);
    let (licensed, spdx) = assert_components(&sbom, &lock, &metadata);
    assert_eq!(
        licensed,
        lock.packages.len(),
        "every package of fave-base declares one"
    );
    // 39 before licenses were read as SPDX in PEP 639 → strict `License` → classifiers order (the
    // seven left are BSD-family names no field pins down); cyclonedx-py 7.5.0 gives 40.
    assert!(spdx >= 46, "only {spdx} of {licensed} licenses are SPDX");
    let numpy = component(&sbom, "numpy");
    assert_eq!(numpy["licenses"][0]["license"]["name"], "BSD License");
    // The image's direct dependencies are base-image/requirements.in's requirements (numpy, scipy and
    // soundfile among them, though other packages need them too).
    let image = sbom["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["ref"] == "image:fave-base")
        .unwrap();
    let direct: Vec<&str> = image["dependsOn"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r.as_str()?.strip_prefix("pkg:pypi/"))
        .filter_map(|r| r.split('@').next())
        .collect();
    assert_eq!(
        direct,
        declared_in(&repo().join("base-image/requirements.in"))
    );
    // Every `.deb` of the apt lock beside it is a component with its purl and sha256, per architecture.
    let apt_path = repo().join("locks/fave-base/apt.lock");
    let apt =
        fave_lock::apt::AptLock::parse(&std::fs::read_to_string(&apt_path).unwrap(), &apt_path)
            .unwrap();
    let debs: BTreeMap<&str, &str> = sbom["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["purl"].as_str().unwrap_or("").starts_with("pkg:deb/"))
        .map(|c| {
            let hash = c["hashes"][0]["content"].as_str().unwrap();
            (c["purl"].as_str().unwrap(), hash)
        })
        .collect();
    assert_eq!(
        debs.len(),
        apt.packages.len(),
        "one component per locked .deb"
    );
    for deb in &apt.packages {
        let purl = format!(
            "pkg:deb/debian/{}@{}?arch={}&distro=debian-12",
            deb.name,
            deb.version.replace('+', "%2B"),
            deb.architecture
        );
        assert_eq!(
            debs.get(purl.as_str()),
            Some(&deb.sha256.as_str()),
            "{purl}"
        );
    }
    let depended: Vec<&str> = image["dependsOn"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r.as_str())
        .filter(|r| r.starts_with("pkg:deb/debian/ffmpeg@"))
        .collect();
    assert_eq!(
        depended.len(),
        2,
        "ffmpeg for amd64 and arm64: {depended:?}"
    );
    // Each .deb depends on what apt.lock says it depends on, of its own architecture; the image only on
    // what the config asked for.
    let purl_of = |name: &str, arch: &str| {
        let deb = apt
            .packages
            .iter()
            .find(|d| d.name == name && d.architecture == arch)
            .unwrap();
        format!(
            "pkg:deb/debian/{name}@{}?arch={arch}&distro=debian-12",
            deb.version.replace('+', "%2B")
        )
    };
    for deb in &apt.packages {
        let purl = purl_of(&deb.name, &deb.architecture);
        let listed: Vec<&str> = sbom["dependencies"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["ref"] == purl.as_str())
            .unwrap()["dependsOn"]
            .as_array()
            .map(|list| list.iter().filter_map(|r| r.as_str()).collect())
            .unwrap_or_default();
        let mut expected: Vec<String> = deb
            .depends
            .iter()
            .map(|name| purl_of(name, &deb.architecture))
            .collect();
        expected.sort();
        assert_eq!(listed, expected, "{purl}");
    }
    // Licenses from each package's machine-readable copyright file (133 of the 200 amd64 packages
    // write one; tests/apt_live.rs checks each against python-debian).
    let deb_components: Vec<&serde_json::Value> = sbom["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["purl"].as_str().unwrap_or("").starts_with("pkg:deb/"))
        .collect();
    let licensed = deb_components
        .iter()
        .filter(|c| c["licenses"].is_array())
        .count();
    assert!(licensed >= 250, "only {licensed} .debs have licenses");
    let ffmpeg_licenses = deb_components
        .iter()
        .find(|c| c["name"] == "ffmpeg")
        .unwrap()["licenses"]
        .to_string();
    assert!(
        ffmpeg_licenses.contains("LGPL-2.1-or-later"),
        "{ffmpeg_licenses}"
    );
    let debian_direct = image["dependsOn"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r.as_str().unwrap_or("").starts_with("pkg:deb/"))
        .count();
    assert_eq!(
        debian_direct,
        apt.requested.len() * apt.architectures().len()
    );
    // And it is the committed SBOM: `fave-lock sbom` regenerated it.
    assert_eq!(
        std::fs::read(&sbom_path).unwrap(),
        std::fs::read(repo().join("locks/fave-base/sbom.cdx.json")).unwrap()
    );
}

fn sha256_of(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

/// The sha256 the build plan records for the SBOM.
fn planned_sbom_sha256(lock_dir: &Path) -> String {
    let plan = read_json(&lock_dir.join("build-plan.json"));
    plan["lock_files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|file| {
            file["path"]
                .as_str()
                .is_some_and(|path| path.ends_with("/sbom.cdx.json"))
        })
        .and_then(|file| file["sha256"].as_str())
        .unwrap()
        .to_string()
}

/// `fave-lock sbom` rewrites the SBOM's sha256 in the build plan with it, so `fave-lock plan` (which
/// checks every listed file) still accepts the lock folder.
#[test]
fn sbom_keeps_the_build_plan_in_step() {
    let server = IndexServer::builder()
        .wheel(Wheel::fixture("six-1.16.0-py2.py3-none-any.whl"))
        .start();
    // Port 9 (discard) refuses: the plan is written without a base digest, at once.
    let project = Project::with_image(
        &server.url(),
        "six\n",
        "demo",
        "base-image = \"127.0.0.1:9/base:1.0\"\n",
    );
    let out = project.run(&["resolve", "-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let sbom_path = project.lock_dir().join("sbom.cdx.json");
    assert_eq!(
        planned_sbom_sha256(&project.lock_dir()),
        sha256_of(&sbom_path)
    );

    for args in [
        &["sbom", "--sbom-timestamp", "2026-11-27T10:00:00Z", "-q"][..],
        &["sbom", "--lock", "locks/demo/pylock.toml", "-q"],
        &[
            "sbom",
            "--sbom-timestamp",
            "now",
            "-o",
            "./locks/demo/sbom.cdx.json",
        ],
    ] {
        let before = std::fs::read(&sbom_path).unwrap();
        let out = project.run(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(&out));
        assert_ne!(std::fs::read(&sbom_path).unwrap(), before, "{args:?}");
        assert_eq!(
            planned_sbom_sha256(&project.lock_dir()),
            sha256_of(&sbom_path),
            "{args:?}"
        );
        let out = project.run(&["plan", "demo"]);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(&out));
    }

    // To another file, the SBOM leaves the plan (which lists the one beside the lock) alone.
    let plan = std::fs::read(project.lock_dir().join("build-plan.json")).unwrap();
    let out = project.run(&[
        "sbom",
        "-q",
        "--sbom-timestamp",
        "now",
        "-o",
        "elsewhere.json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        std::fs::read(project.lock_dir().join("build-plan.json")).unwrap(),
        plan
    );
}

/// A dotted project name and a local version, which the fave-base lock has neither of: the purls keep
/// the dot and encode the `+`, exactly as packageurl-python writes them (the validator round-trips
/// them), and the component is named as the metadata spells the project.
#[test]
#[ignore = "python: validates with cyclonedx-python-lib from the tools venv; scripts/test.sh runs it"]
fn dotted_names_and_local_versions_are_purls_packageurl_python_agrees_with() {
    let six = Wheel::fixture("six-1.16.0-py2.py3-none-any.whl");
    let metadata = "Metadata-Version: 2.4\nName: zope.interface\nVersion: 7.0.3+fave\n\
                    License-Expression: ZPL-2.1\n";
    // six's bytes under zope.interface's name: the SBOM reads only the page and the `.metadata` file.
    let wheel = Wheel::from_bytes(
        "zope_interface-7.0.3+fave-py3-none-any.whl",
        six.bytes.to_vec(),
        metadata.as_bytes().to_vec(),
    )
    .advertise_metadata()
    .upload_time("2024-01-01T00:00:00Z");
    let server = IndexServer::builder().wheel(wheel).start();
    let project = Project::new(&server.url(), "zope.interface==7.0.3+fave\n");
    // `--no-verify`: the downloaded bytes are six's, which verify would rightly refuse.
    let out = project.run(&["resolve", "-q", "--no-verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let sbom_path = project.lock_dir().join("sbom.cdx.json");
    assert_valid_cyclonedx(&sbom_path);
    let sbom = read_json(&sbom_path);
    let zope = component(&sbom, "zope.interface");
    assert_eq!(zope["purl"], "pkg:pypi/zope.interface@7.0.3%2Bfave");
    assert_eq!(zope["version"], "7.0.3+fave");
    assert_eq!(zope["licenses"][0]["expression"], "ZPL-2.1");
    assert_eq!(
        zope["components"][0]["purl"],
        "pkg:pypi/zope.interface@7.0.3%2Bfave?file_name=zope_interface-7.0.3%2Bfave-py3-none-any.whl"
    );
    let image = &sbom["dependencies"][0];
    assert_eq!(image["ref"], "image:demo");
    assert_eq!(
        image["dependsOn"],
        serde_json::json!(["base-image", "pkg:pypi/zope.interface@7.0.3%2Bfave"])
    );
}

/// A `.deb` whose bytes are not the ones apt.lock names is an integrity failure (exit 3) naming it,
/// and no SBOM is written.
#[test]
#[ignore = "live: needs deb.debian.org and PyPI; scripts/test.sh runs it"]
fn a_deb_that_is_not_the_locked_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for file in [
        "pylock.toml",
        "requirements.txt",
        "build-plan.json",
        "apt.lock",
    ] {
        std::fs::copy(
            repo().join("locks/fave-base").join(file),
            dir.path().join(file),
        )
        .unwrap();
    }
    let apt_path = dir.path().join("apt.lock");
    let apt = std::fs::read_to_string(&apt_path).unwrap();
    // Every architecture's ffmpeg: the SBOM reads the copyright file of one of them.
    let ffmpegs: Vec<_> = fave_lock::apt::AptLock::parse(&apt, &apt_path)
        .unwrap()
        .packages
        .into_iter()
        .filter(|deb| deb.name == "ffmpeg")
        .collect();
    let lie = "0".repeat(64);
    let tampered = ffmpegs
        .iter()
        .fold(apt.clone(), |text, deb| text.replace(&deb.sha256, &lie));
    std::fs::write(&apt_path, tampered).unwrap();
    let sbom_path = dir.path().join("sbom.cdx.json");
    let out = Command::new(env!("CARGO_BIN_EXE_fave-lock"))
        .args(["sbom", "-q", "--lock"])
        .arg(dir.path().join("pylock.toml"))
        .arg("-o")
        .arg(&sbom_path)
        .env("FAVE_LOCK_CACHE_DIR", repo().join(".cache/fave-lock"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        ffmpegs.iter().any(|deb| stderr.contains(&deb.filename)) && stderr.contains(&lie),
        "{stderr}"
    );
    assert!(!sbom_path.exists());
}

/// An sdist-only package (webrtcvad in fave-vad) gets its license from the sdist's own metadata
/// (PKG-INFO, or what its build gave), as wheels get theirs.
#[test]
#[ignore = "live: needs PyPI and cyclonedx-python-lib from the tools venv; scripts/test.sh runs it"]
fn an_sdist_gets_its_license_from_its_own_metadata() {
    let output = tempfile::tempdir().unwrap();
    let sbom_path = output.path().join("sbom.cdx.json");
    let out = Command::new(env!("CARGO_BIN_EXE_fave-lock"))
        .args(["sbom", "--lock", "locks/fave-vad/pylock.toml", "-q", "-o"])
        .arg(&sbom_path)
        .current_dir(repo())
        .env("FAVE_LOCK_CACHE_DIR", repo().join(".cache/fave-lock"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_valid_cyclonedx(&sbom_path);
    let sbom = read_json(&sbom_path);
    let webrtcvad = component(&sbom, "webrtcvad");
    assert!(
        webrtcvad["components"][0]["name"] == "webrtcvad-2.0.10.tar.gz",
        "the sdist is what was locked: {webrtcvad}"
    );
    assert_eq!(
        webrtcvad["licenses"][0]["license"]["id"], "MIT",
        "{webrtcvad}"
    );
}
