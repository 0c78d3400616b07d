//! The SBOM of the committed lock, with made-up metadata: shape, identities, the dependency graph,
//! system packages, determinism, serial numbers.
//! (Schema validation against the official JSON schema runs in `tests/sbom.rs`.)

use std::path::Path;

use std::str::FromStr;

use cyclonedx_bom::validation::Validate;
use pep508_rs::PackageName;

use super::*;
use crate::lock::parse_pylock;

const COMMITTED: &str = include_str!("../../locks/fave-base/pylock.toml");

fn lock() -> Lock {
    parse_pylock(COMMITTED, Path::new("locks/fave-base/pylock.toml")).unwrap()
}

/// Metadata for every chosen file: MIT for all but the first package, which declares nothing.
fn metadata(lock: &Lock) -> BTreeMap<String, Arc<CoreMetadata>> {
    let tags = lock.context.tags();
    lock.packages
        .iter()
        .enumerate()
        .map(|(index, package)| {
            let file = bom::chosen_file(package, &tags);
            let metadata = CoreMetadata {
                name: package.name.to_string(),
                version: package.version.to_string(),
                license_expression: (index > 0).then(|| "MIT".to_string()),
                ..CoreMetadata::default()
            };
            (file.url.clone(), Arc::new(metadata))
        })
        .collect()
}

fn render(lock: &Lock, plan: &PlanFacts, timestamp: Option<Timestamp>) -> serde_json::Value {
    render_with(lock, &metadata(lock), plan, &[], timestamp)
}

fn render_with(
    lock: &Lock,
    metadata: &BTreeMap<String, Arc<CoreMetadata>>,
    plan: &PlanFacts,
    system_packages: &[SystemPackage],
    timestamp: Option<Timestamp>,
) -> serde_json::Value {
    let text = cyclonedx_json(&SbomInput {
        lock,
        metadata,
        plan,
        system_packages,
        timestamp,
    })
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The committed lock with the `via` of the committed requirements.txt, as `fave-lock sbom` reads it.
fn lock_with_via() -> Lock {
    let mut lock = lock();
    lock.restore_via(include_str!("../../locks/fave-base/requirements.txt"));
    lock
}

fn component<'a>(sbom: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    sbom["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no component {name}"))
}

fn properties<'a>(component: &'a serde_json::Value, name: &str) -> Vec<&'a str> {
    component["properties"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["name"] == name)
        .filter_map(|p| p["value"].as_str())
        .collect()
}

#[test]
fn one_library_per_release_with_a_file_component_per_artifact() {
    let lock = lock();
    let sbom = render(&lock, &PlanFacts::default(), None);
    assert_eq!(sbom["bomFormat"], "CycloneDX");
    assert_eq!(sbom["specVersion"], "1.5");
    assert!(sbom["metadata"].get("timestamp").is_none());
    assert_eq!(sbom["metadata"]["component"]["type"], "container");
    assert_eq!(sbom["metadata"]["component"]["version"], "unversioned");
    assert_eq!(
        sbom["metadata"]["tools"]["components"][0]["name"],
        "fave-lock"
    );
    let components = sbom["components"].as_array().unwrap();
    assert_eq!(components.len(), lock.packages.len() + 1);
    for package in &lock.packages {
        let library = component(&sbom, package.name.as_ref());
        let purl = format!("pkg:pypi/{}@{}", package.name, package.version);
        assert_eq!(library["type"], "library");
        assert_eq!(library["purl"], purl.as_str());
        assert_eq!(library["bom-ref"], purl.as_str());
        assert!(library.get("hashes").is_none(), "hashes are per file");
        let files = library["components"].as_array().unwrap();
        assert_eq!(files.len(), package.files.len(), "{}", package.name);
        for (file, locked) in files.iter().zip(&package.files) {
            assert_eq!(file["type"], "file");
            assert_eq!(file["name"], locked.filename.as_str());
            assert_eq!(
                file["purl"],
                format!("{purl}?file_name={}", locked.filename).as_str()
            );
            assert_eq!(file["bom-ref"], file["purl"]);
            assert_eq!(file["hashes"][0]["alg"], "SHA-256");
            assert_eq!(
                file["hashes"][0]["content"],
                locked.sha256.as_deref().unwrap()
            );
            assert_eq!(file["externalReferences"][0]["type"], "distribution");
            assert_eq!(file["externalReferences"][0]["url"], locked.url.as_str());
            assert!(!properties(file, "fave-lock:platform").is_empty(), "{file}");
        }
    }
    // Different wheels per platform: each carries its own identity and serves its own platform.
    let numpy = component(&sbom, "numpy");
    let served: Vec<(&str, Vec<&str>)> = numpy["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|file| {
            (
                file["name"].as_str().unwrap(),
                properties(file, "fave-lock:platform"),
            )
        })
        .collect();
    assert_eq!(
        served,
        [
            (
                "numpy-2.1.3-cp311-cp311-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
                vec!["aarch64-manylinux_2_36"]
            ),
            (
                "numpy-2.1.3-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
                vec!["x86_64-manylinux_2_36"]
            ),
        ]
    );
    // soundfile: a manylinux wheel for x86_64, the pure wheel for aarch64 only.
    let soundfile = component(&sbom, "soundfile");
    let pure = &soundfile["components"][0];
    assert_eq!(pure["name"], "soundfile-0.12.1-py2.py3-none-any.whl");
    assert_eq!(
        properties(pure, "fave-lock:platform"),
        ["aarch64-manylinux_2_36"]
    );
    let two_platform_packages = lock
        .packages
        .iter()
        .filter(|package| package.files.len() == 2)
        .count();
    assert_eq!(two_platform_packages, 16);
    let first = component(&sbom, lock.packages[0].name.as_ref());
    assert!(first.get("licenses").is_none());
    assert_eq!(numpy["licenses"][0]["expression"], "MIT");
}

#[test]
fn every_bom_ref_is_unique_and_every_dependency_names_one() {
    let lock = lock_with_via();
    let sbom = render_with(
        &lock,
        &metadata(&lock),
        &PlanFacts::default(),
        &[system::tests::ffmpeg()],
        None,
    );
    let mut refs = std::collections::BTreeSet::new();
    let mut stack: Vec<&serde_json::Value> = vec![&sbom["metadata"]["component"]];
    stack.extend(sbom["components"].as_array().unwrap());
    while let Some(component) = stack.pop() {
        let reference = component["bom-ref"].as_str().unwrap();
        assert!(refs.insert(reference), "duplicate bom-ref {reference}");
        stack.extend(component["components"].as_array().into_iter().flatten());
    }
    for dependency in sbom["dependencies"].as_array().unwrap() {
        for target in std::iter::once(&dependency["ref"])
            .chain(dependency["dependsOn"].as_array().into_iter().flatten())
        {
            assert!(refs.contains(target.as_str().unwrap()), "{target}");
        }
    }
}

/// `dependsOn` of the image, as names (`base-image` and purls shortened to their names).
fn image_dependencies(sbom: &serde_json::Value) -> Vec<String> {
    let image = sbom["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["ref"] == "image:fave-base")
        .unwrap();
    image["dependsOn"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let r = r.as_str().unwrap();
            let name = r.split_once('/').map_or(r, |(_, rest)| rest);
            name.split('@').next().unwrap().to_string()
        })
        .collect()
}

#[test]
fn the_image_depends_on_its_declared_requirements() {
    let lock = lock_with_via();
    let sbom = render(&lock, &PlanFacts::default(), None);
    let mut expected = vec!["base-image"];
    expected.extend(crate::lock::via_tests::FAVE_BASE_DECLARED);
    assert_eq!(image_dependencies(&sbom), expected);
    let dependencies = sbom["dependencies"].as_array().unwrap();
    let librosa = dependencies
        .iter()
        .find(|d| d["ref"] == "pkg:pypi/librosa@0.10.2")
        .unwrap();
    assert!(
        librosa["dependsOn"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("pkg:pypi/numpy@2.1.3"))
    );
}

#[test]
fn without_declared_requirements_the_graph_still_reaches_everything() {
    let lock = lock();
    let sbom = render(&lock, &PlanFacts::default(), None);
    // numpy is depended on by librosa and others, so only the packages nothing needs are roots.
    let roots = image_dependencies(&sbom);
    assert!(!roots.contains(&"numpy".to_string()), "{roots:?}");
    let edges: BTreeMap<&str, Vec<&str>> = sbom["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let targets = d["dependsOn"]
                .as_array()
                .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
                .unwrap_or_default();
            (d["ref"].as_str().unwrap(), targets)
        })
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    let mut stack = vec!["image:fave-base"];
    while let Some(node) = stack.pop() {
        if seen.insert(node) {
            stack.extend(edges.get(node).into_iter().flatten());
        }
    }
    assert_eq!(seen.len(), lock.packages.len() + 2, "{seen:?}");
}

#[test]
fn names_and_purls_are_spelled_as_the_metadata_spells_them() {
    let mut lock = lock();
    let package = lock
        .packages
        .iter_mut()
        .find(|p| p.name.as_ref() == "typing-extensions")
        .unwrap();
    // A dotted project, as zope.interface is: its normalised name folds the dot, its metadata does not.
    package.name = PackageName::from_str("zope-interface").unwrap();
    let tags = lock.context.tags();
    let mut metadata = metadata(&lock);
    for package in &lock.packages {
        let spelled = match package.name.as_ref() {
            "zope-interface" => "zope.interface",
            "pydantic-core" => "pydantic_core",
            // A wheel whose metadata names another project: the lock's name is kept.
            "six" => "not-six",
            _ => continue,
        };
        let url = &bom::chosen_file(package, &tags).url;
        let mut changed = (*metadata[url]).clone();
        changed.name = spelled.to_string();
        metadata.insert(url.clone(), Arc::new(changed));
    }
    let sbom = render_with(&lock, &metadata, &PlanFacts::default(), &[], None);
    let zope = component(&sbom, "zope.interface");
    assert_eq!(zope["purl"], "pkg:pypi/zope.interface@4.16.0");
    assert!(
        zope["components"][0]["purl"]
            .as_str()
            .unwrap()
            .starts_with("pkg:pypi/zope.interface@4.16.0?file_name=typing_extensions-")
    );
    assert_eq!(
        component(&sbom, "pydantic_core")["purl"],
        "pkg:pypi/pydantic-core@2.20.0"
    );
    assert_eq!(component(&sbom, "six")["purl"], "pkg:pypi/six@1.17.0");
}

#[test]
fn system_packages_are_components_the_image_depends_on() {
    let lock = lock_with_via();
    let ffmpeg = system::tests::ffmpeg();
    let arm64 = SystemPackage {
        arch: "arm64".to_string(),
        ..ffmpeg.clone()
    };
    // Handed over twice: still one component (bom-refs must be unique).
    let sbom = render_with(
        &lock,
        &metadata(&lock),
        &PlanFacts::default(),
        &[ffmpeg.clone(), arm64, ffmpeg],
        None,
    );
    let named_ffmpeg = sbom["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["name"] == "ffmpeg")
        .count();
    assert_eq!(named_ffmpeg, 2, "one per architecture");
    let purl = "pkg:deb/debian/ffmpeg@7:5.1.6-0%2Bdeb12u1?arch=amd64&distro=debian-12";
    let component = component(&sbom, "ffmpeg");
    assert_eq!(component["type"], "library");
    assert_eq!(component["version"], "7:5.1.6-0+deb12u1");
    assert_eq!(component["purl"], purl);
    assert_eq!(component["bom-ref"], purl);
    assert_eq!(component["hashes"][0]["alg"], "SHA-256");
    assert_eq!(component["hashes"][0]["content"], "ab".repeat(32));
    assert_eq!(component["externalReferences"][0]["type"], "distribution");
    assert_eq!(properties(component, "fave-lock:role"), ["system-package"]);
    assert_eq!(properties(component, "fave-lock:arch"), ["amd64"]);
    assert!(image_dependencies(&sbom).contains(&"debian/ffmpeg".to_string()));
}

#[test]
fn debian_packages_depend_on_what_the_apt_lock_says_and_the_image_on_what_was_asked_for() {
    let lock = lock_with_via();
    let ffmpeg = system::tests::ffmpeg_depending_on(&["libavcodec59", "libfoo-not-locked"]);
    let pulled = |name: &str, depends: &[&str]| SystemPackage {
        name: name.to_string(),
        requested: false,
        depends: depends.iter().map(ToString::to_string).collect(),
        ..ffmpeg.clone()
    };
    let codec = pulled("libavcodec59", &["libva2"]);
    let va = pulled("libva2", &[]);
    let va_arm = SystemPackage {
        arch: "arm64".to_string(),
        ..va.clone()
    };
    let stray = pulled("tzdata", &[]);
    let sbom = render_with(
        &lock,
        &metadata(&lock),
        &PlanFacts::default(),
        &[ffmpeg, codec, va, va_arm, stray],
        None,
    );
    let debian: Vec<String> = image_dependencies(&sbom)
        .into_iter()
        .filter(|name| name.starts_with("debian/"))
        .collect();
    // libva2 for arm64 is reached by nothing of its architecture, so the image holds it directly.
    assert_eq!(debian, ["debian/ffmpeg", "debian/libva2", "debian/tzdata"]);
    let edges = |reference: &str| -> Vec<String> {
        sbom["dependencies"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["ref"] == reference)
            .unwrap()["dependsOn"]
            .as_array()
            .map(|list| {
                list.iter()
                    .map(|r| r.as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    let purl = |name: &str, arch: &str| {
        format!("pkg:deb/debian/{name}@7:5.1.6-0%2Bdeb12u1?arch={arch}&distro=debian-12")
    };
    assert_eq!(
        edges(&purl("ffmpeg", "amd64")),
        [purl("libavcodec59", "amd64")]
    );
    assert_eq!(
        edges(&purl("libavcodec59", "amd64")),
        [purl("libva2", "amd64")]
    );
    assert!(edges(&purl("libva2", "arm64")).is_empty());
}

#[test]
fn output_is_deterministic_and_the_serial_follows_the_content() {
    let lock = lock();
    let plain = render(&lock, &PlanFacts::default(), None);
    assert_eq!(plain, render(&lock, &PlanFacts::default(), None));
    let serial = plain["serialNumber"].as_str().unwrap();
    assert!(
        serial.starts_with("urn:uuid:") && serial.as_bytes()[23] == b'8',
        "{serial}"
    );
    let pinned = PlanFacts {
        base_image: Some("python:3.11-slim".to_string()),
        base_digest: Some(format!("sha256:{}", "0".repeat(64))),
        image_version: Some("0.1".to_string()),
    };
    let with_plan = render(&lock, &pinned, None);
    assert_ne!(with_plan["serialNumber"], plain["serialNumber"]);
    assert_eq!(with_plan["metadata"]["component"]["version"], "0.1");
    let base = &with_plan["components"][0];
    assert_eq!(base["name"], "python");
    assert_eq!(base["version"], "3.11-slim");
    assert_eq!(base["hashes"][0]["content"], "0".repeat(64));
    assert_eq!(
        base["purl"],
        format!("pkg:docker/python@sha256:{}?tag=3.11-slim", "0".repeat(64))
    );
    let stamped = render(
        &lock,
        &PlanFacts::default(),
        "2026-11-01T00:00:00Z".parse().ok(),
    );
    assert_eq!(stamped["metadata"]["timestamp"], "2026-11-01T00:00:00Z");
}

#[test]
fn the_crate_validates_what_it_wrote() {
    let lock = lock();
    let metadata = metadata(&lock);
    let text = cyclonedx_json(&SbomInput {
        lock: &lock,
        metadata: &metadata,
        plan: &PlanFacts::default(),
        system_packages: &[system::tests::ffmpeg()],
        timestamp: None,
    })
    .unwrap();
    let bom = cyclonedx_bom::models::bom::Bom::parse_from_json_v1_5(text.as_bytes()).unwrap();
    let result = bom.validate_version(cyclonedx_bom::models::bom::SpecVersion::V1_5);
    assert!(result.passed(), "{result:?}");
}
