//! The SBOM of the committed lock, with made-up metadata: shape, determinism, serial numbers.
//! (Schema validation against the official JSON schema runs in `tests/sbom.rs`.)

use std::path::Path;

use cyclonedx_bom::validation::Validate;

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
    let metadata = metadata(lock);
    let text = cyclonedx_json(&SbomInput {
        lock,
        metadata: &metadata,
        plan,
        timestamp,
    })
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn every_package_is_a_component_with_purl_hash_and_platforms() {
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
        let purl_prefix = format!("pkg:pypi/{}@{}?file_name=", package.name, package.version);
        let component = components
            .iter()
            .find(|c| {
                c["purl"]
                    .as_str()
                    .unwrap_or_default()
                    .starts_with(&purl_prefix)
            })
            .unwrap_or_else(|| panic!("no component for {}", package.name));
        assert_eq!(component["type"], "library");
        assert_eq!(component["hashes"][0]["alg"], "SHA-256");
        assert_eq!(
            component["hashes"][0]["content"].as_str().unwrap().len(),
            64
        );
        let references = component["externalReferences"].as_array().unwrap();
        assert_eq!(references.len(), package.files.len());
        assert!(references.iter().all(|r| r["type"] == "distribution"));
    }
    // numpy has a wheel per platform: the purl names the x86_64 one, both are distributions.
    let numpy = components.iter().find(|c| c["name"] == "numpy").unwrap();
    assert!(
        numpy["purl"].as_str().unwrap().contains("x86_64"),
        "{numpy}"
    );
    let first = &lock.packages[0];
    let first = components
        .iter()
        .find(|c| c["name"] == first.name.as_ref())
        .unwrap();
    assert!(first.get("licenses").is_none());
    assert_eq!(numpy["licenses"][0]["expression"], "MIT");
}

#[test]
fn the_graph_reaches_every_component_from_the_image() {
    let lock = lock();
    let sbom = render(&lock, &PlanFacts::default(), None);
    let dependencies = sbom["dependencies"].as_array().unwrap();
    let edges: BTreeMap<&str, Vec<&str>> = dependencies
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
    let librosa = edges
        .keys()
        .find(|r| r.starts_with("pkg:pypi/librosa@"))
        .unwrap();
    assert!(
        edges[librosa]
            .iter()
            .any(|r| r.starts_with("pkg:pypi/numpy@"))
    );
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
        timestamp: None,
    })
    .unwrap();
    let bom = cyclonedx_bom::models::bom::Bom::parse_from_json_v1_5(text.as_bytes()).unwrap();
    let result = bom.validate_version(cyclonedx_bom::models::bom::SpecVersion::V1_5);
    assert!(result.passed(), "{result:?}");
}
