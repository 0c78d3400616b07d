//! The plan from settings and a lock: determinism, labels, flag quoting, the unverified fallback, the
//! registry lookup against an in-process registry, and the check of lock files on disk.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};

use insta::assert_snapshot;

use super::*;
use crate::config::BuildConfig;
use crate::lock::{Lock, LockContext};
use crate::registry::fake::{FakeRegistry, answer};
use crate::tags::PythonVersion;

const DIGEST: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const OLD_DIGEST: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

fn settings(root: &Path) -> PlanSettings {
    PlanSettings {
        image: "fave-base".into(),
        python_version: "3.11".into(),
        platforms: vec!["linux/amd64".into(), "linux/arm64".into()],
        registry: Some("ghcr.io/fave-project/fave-base".into()),
        base_image: "python:3.11-slim".into(),
        build: BuildConfig {
            base_image: Some("python:3.11-slim".into()),
            tags: vec!["0.1".into(), "latest".into()],
            apt_packages: vec!["ffmpeg".into(), "libsndfile1".into()],
            labels: BTreeMap::from([(
                "org.opencontainers.image.source".into(),
                "https://example.org/fave it's".into(),
            )]),
        },
        root: root.to_path_buf(),
        output: "locks/fave-base".into(),
        context: "base-image".into(),
        apt_pins: None,
        apt_sources: None,
    }
}

fn lock() -> Lock {
    Lock {
        context: LockContext {
            image: "fave-base".into(),
            python: PythonVersion {
                major: 3,
                minor: 11,
            },
            targets: Vec::new(),
            index_url: "https://pypi.org/simple".into(),
            exclude_newer: None,
            input_hash: "sha256:feed".into(),
            inputs: std::collections::BTreeMap::new(),
            command: "fave-lock resolve".into(),
        },
        packages: Vec::new(),
    }
}

/// The outputs `resolve` would write beside the plan, under `root`.
fn written(root: &Path, requirements: &str) -> Vec<(PathBuf, String)> {
    vec![
        (
            root.join("locks/fave-base/requirements.txt"),
            requirements.to_string(),
        ),
        (
            root.join("locks/fave-base/pylock.toml"),
            "lock-version = \"1.0\"\n".to_string(),
        ),
    ]
}

/// A digest source with a fixed answer.
struct Fixed(Result<String, DigestError>);

impl DigestSource for Fixed {
    async fn manifest_digest(&self, _reference: &BaseReference) -> Result<String, DigestError> {
        self.0.clone()
    }
}

fn unreachable() -> Fixed {
    Fixed(Err(DigestError::Unreachable {
        registry: "registry-1.docker.io".into(),
        message: "dns error".into(),
    }))
}

/// Run `outputs` under `root` and return (plan text, bake text, warnings).
fn plan_files(root: &Path, source: &impl DigestSource) -> (String, String, Vec<String>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let planned = runtime
        .block_on(settings(root).outputs(&lock(), &written(root, "six==1.16.0\n"), source))
        .unwrap();
    assert_eq!(
        planned
            .files
            .iter()
            .map(|(path, _)| path.clone())
            .collect::<Vec<_>>(),
        [
            root.join("locks/fave-base/build-plan.json"),
            root.join("locks/fave-base/docker-bake.json")
        ]
    );
    (
        planned.files[0].1.clone(),
        planned.files[1].1.clone(),
        planned.warnings,
    )
}

fn write_plan(root: &Path, text: &str) {
    let path = root.join("locks/fave-base/build-plan.json");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn a_verified_plan() {
    let root = tempfile::tempdir().unwrap();
    let (plan, bake, warnings) = plan_files(root.path(), &Fixed(Ok(DIGEST.into())));
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_snapshot!(plan, @r#"
    {
      "annotations": {
        "io.fave.lock.input-hash": "sha256:feed",
        "io.fave.lock.sha256": "0da178fba21a6debdac12539bf4943dc2cac92493381edfeeb9f5bbea8a14b7e",
        "org.opencontainers.image.base.digest": "sha256:1111111111111111111111111111111111111111111111111111111111111111",
        "org.opencontainers.image.base.name": "docker.io/library/python:3.11-slim",
        "org.opencontainers.image.description": "fave-base: CPython 3.11 with 0 Python packages from the lock locks/fave-base/requirements.txt",
        "org.opencontainers.image.source": "https://example.org/fave it's",
        "org.opencontainers.image.title": "fave-base",
        "org.opencontainers.image.version": "0.1"
      },
      "apt_packages": [
        "ffmpeg",
        "libsndfile1"
      ],
      "base_image": {
        "digest": "sha256:1111111111111111111111111111111111111111111111111111111111111111",
        "name": "python:3.11-slim",
        "pinned": "python:3.11-slim@sha256:1111111111111111111111111111111111111111111111111111111111111111",
        "verified": true
      },
      "build_args": {
        "APT_PACKAGES": "ffmpeg libsndfile1",
        "BASE_DIGEST": "sha256:1111111111111111111111111111111111111111111111111111111111111111",
        "BASE_IMAGE": "python:3.11-slim@sha256:1111111111111111111111111111111111111111111111111111111111111111",
        "BASE_NAME": "docker.io/library/python:3.11-slim",
        "IMAGE_DESCRIPTION": "fave-base: CPython 3.11 with 0 Python packages from the lock locks/fave-base/requirements.txt",
        "IMAGE_SOURCE": "https://example.org/fave it's",
        "IMAGE_TITLE": "fave-base",
        "IMAGE_VERSION": "0.1",
        "LOCK_INPUT_HASH": "sha256:feed",
        "LOCK_SHA256": "0da178fba21a6debdac12539bf4943dc2cac92493381edfeeb9f5bbea8a14b7e",
        "PYTHON_VERSION": "3.11"
      },
      "context": "base-image",
      "context_files": {
        "requirements.txt": "locks/fave-base/requirements.txt"
      },
      "dockerfile": "base-image/Dockerfile",
      "format": 1,
      "image": "fave-base",
      "input_hash": "sha256:feed",
      "labels": {
        "io.fave.lock.input-hash": "sha256:feed",
        "io.fave.lock.sha256": "0da178fba21a6debdac12539bf4943dc2cac92493381edfeeb9f5bbea8a14b7e",
        "org.opencontainers.image.base.digest": "sha256:1111111111111111111111111111111111111111111111111111111111111111",
        "org.opencontainers.image.base.name": "docker.io/library/python:3.11-slim",
        "org.opencontainers.image.description": "fave-base: CPython 3.11 with 0 Python packages from the lock locks/fave-base/requirements.txt",
        "org.opencontainers.image.source": "https://example.org/fave it's",
        "org.opencontainers.image.title": "fave-base",
        "org.opencontainers.image.version": "0.1"
      },
      "lock_files": [
        {
          "path": "locks/fave-base/pylock.toml",
          "sha256": "ef1115179d1063a7a92b3354338537a809fd6cee61d93f2e92069e213c3d2db6"
        },
        {
          "path": "locks/fave-base/requirements.txt",
          "sha256": "0da178fba21a6debdac12539bf4943dc2cac92493381edfeeb9f5bbea8a14b7e"
        }
      ],
      "platforms": [
        "linux/amd64",
        "linux/arm64"
      ],
      "python_version": "3.11",
      "tags": [
        "ghcr.io/fave-project/fave-base:0.1",
        "ghcr.io/fave-project/fave-base:latest"
      ]
    }
    "#);
    assert_snapshot!(bake, @r#"
    {
      "group": {
        "default": {
          "targets": [
            "fave-base"
          ]
        }
      },
      "target": {
        "fave-base": {
          "annotations": [
            "io.fave.lock.input-hash=sha256:feed",
            "io.fave.lock.sha256=0da178fba21a6debdac12539bf4943dc2cac92493381edfeeb9f5bbea8a14b7e",
            "org.opencontainers.image.base.digest=sha256:1111111111111111111111111111111111111111111111111111111111111111",
            "org.opencontainers.image.base.name=docker.io/library/python:3.11-slim",
            "org.opencontainers.image.description=fave-base: CPython 3.11 with 0 Python packages from the lock locks/fave-base/requirements.txt",
            "org.opencontainers.image.source=https://example.org/fave it's",
            "org.opencontainers.image.title=fave-base",
            "org.opencontainers.image.version=0.1"
          ],
          "args": {
            "APT_PACKAGES": "ffmpeg libsndfile1",
            "BASE_DIGEST": "sha256:1111111111111111111111111111111111111111111111111111111111111111",
            "BASE_IMAGE": "python:3.11-slim@sha256:1111111111111111111111111111111111111111111111111111111111111111",
            "BASE_NAME": "docker.io/library/python:3.11-slim",
            "IMAGE_DESCRIPTION": "fave-base: CPython 3.11 with 0 Python packages from the lock locks/fave-base/requirements.txt",
            "IMAGE_SOURCE": "https://example.org/fave it's",
            "IMAGE_TITLE": "fave-base",
            "IMAGE_VERSION": "0.1",
            "LOCK_INPUT_HASH": "sha256:feed",
            "LOCK_SHA256": "0da178fba21a6debdac12539bf4943dc2cac92493381edfeeb9f5bbea8a14b7e",
            "PYTHON_VERSION": "3.11"
          },
          "context": "base-image",
          "dockerfile": "Dockerfile",
          "labels": {
            "io.fave.lock.input-hash": "sha256:feed",
            "io.fave.lock.sha256": "0da178fba21a6debdac12539bf4943dc2cac92493381edfeeb9f5bbea8a14b7e",
            "org.opencontainers.image.base.digest": "sha256:1111111111111111111111111111111111111111111111111111111111111111",
            "org.opencontainers.image.base.name": "docker.io/library/python:3.11-slim",
            "org.opencontainers.image.description": "fave-base: CPython 3.11 with 0 Python packages from the lock locks/fave-base/requirements.txt",
            "org.opencontainers.image.source": "https://example.org/fave it's",
            "org.opencontainers.image.title": "fave-base",
            "org.opencontainers.image.version": "0.1"
          },
          "platforms": [
            "linux/amd64",
            "linux/arm64"
          ],
          "tags": [
            "ghcr.io/fave-project/fave-base:0.1",
            "ghcr.io/fave-project/fave-base:latest"
          ]
        }
      }
    }
    "#);
}

#[test]
fn plans_are_deterministic_and_sorted() {
    let root = tempfile::tempdir().unwrap();
    let (first, first_bake, _) = plan_files(root.path(), &Fixed(Ok(DIGEST.into())));
    let (second, second_bake, _) = plan_files(root.path(), &Fixed(Ok(DIGEST.into())));
    assert_eq!((&first, &first_bake), (&second, &second_bake));
    for text in [&first, &first_bake] {
        let value: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_sorted(&value, "$");
    }
    // No time stamps and no machine paths: the temp root never shows up.
    assert!(!first.contains(&root.path().display().to_string()));
    assert!(!first.contains("T00:") && !first.contains("created"));
    let plan = BuildPlan::from_json(&first).unwrap();
    assert_eq!(plan.to_json(), first, "parse and print round-trips");
}

/// Every object in `value` has its keys in sorted order as written.
fn assert_sorted(value: &serde_json::Value, at: &str) {
    match value {
        serde_json::Value::Object(map) => {
            let keys: Vec<&String> = map.keys().collect();
            let mut sorted = keys.clone();
            sorted.sort();
            assert_eq!(keys, sorted, "keys of {at}");
            for (key, child) in map {
                assert_sorted(child, &format!("{at}.{key}"));
            }
        }
        serde_json::Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                assert_sorted(child, &format!("{at}[{index}]"));
            }
        }
        _ => {}
    }
}

#[test]
fn labels_trace_the_image_to_its_lock() {
    let root = tempfile::tempdir().unwrap();
    let (text, _, _) = plan_files(root.path(), &Fixed(Ok(DIGEST.into())));
    let plan = BuildPlan::from_json(&text).unwrap();
    let requirements_sha256 = sha256_hex(b"six==1.16.0\n");
    assert_eq!(plan.labels[label::LOCK_SHA256], requirements_sha256);
    assert_eq!(plan.build_args["LOCK_SHA256"], requirements_sha256);
    assert_eq!(
        plan.lock_file("requirements.txt").unwrap().sha256,
        requirements_sha256
    );
    assert_eq!(plan.labels[label::LOCK_INPUT_HASH], "sha256:feed");
    assert_eq!(plan.labels[label::BASE_DIGEST], DIGEST);
    assert_eq!(plan.base_image.pinned, format!("python:3.11-slim@{DIGEST}"));
    assert_eq!(plan.build_args["BASE_IMAGE"], plan.base_image.pinned);
    // Every label the Dockerfile stamps from an arg gets that arg with the same value.
    for (arg, key) in LABEL_ARGS {
        assert_eq!(
            plan.build_args.get(*arg),
            plan.labels.get(*key),
            "{arg} vs {key}"
        );
    }
    assert_eq!(plan.labels, plan.annotations);
}

#[test]
fn build_arg_and_label_flags_are_shell_quoted() {
    let root = tempfile::tempdir().unwrap();
    let (text, _, _) = plan_files(root.path(), &Fixed(Ok(DIGEST.into())));
    let plan = BuildPlan::from_json(&text)
        .unwrap()
        .with_revision("0123abc")
        .unwrap();
    assert_snapshot!(build_arg_flags(&plan), @r"
    --build-arg 'APT_PACKAGES=ffmpeg libsndfile1' \
    --build-arg BASE_DIGEST=sha256:1111111111111111111111111111111111111111111111111111111111111111 \
    --build-arg BASE_IMAGE=python:3.11-slim@sha256:1111111111111111111111111111111111111111111111111111111111111111 \
    --build-arg BASE_NAME=docker.io/library/python:3.11-slim \
    --build-arg 'IMAGE_DESCRIPTION=fave-base: CPython 3.11 with 0 Python packages from the lock locks/fave-base/requirements.txt' \
    --build-arg 'IMAGE_SOURCE=https://example.org/fave it'\''s' \
    --build-arg IMAGE_TITLE=fave-base \
    --build-arg IMAGE_VERSION=0.1 \
    --build-arg LOCK_INPUT_HASH=sha256:feed \
    --build-arg LOCK_SHA256=0da178fba21a6debdac12539bf4943dc2cac92493381edfeeb9f5bbea8a14b7e \
    --build-arg PYTHON_VERSION=3.11 \
    --build-arg REVISION=0123abc
    ");
    assert_snapshot!(label_flags(&plan), @r"
    --label io.fave.lock.input-hash=sha256:feed \
    --label io.fave.lock.sha256=0da178fba21a6debdac12539bf4943dc2cac92493381edfeeb9f5bbea8a14b7e \
    --label org.opencontainers.image.base.digest=sha256:1111111111111111111111111111111111111111111111111111111111111111 \
    --label org.opencontainers.image.base.name=docker.io/library/python:3.11-slim \
    --label 'org.opencontainers.image.description=fave-base: CPython 3.11 with 0 Python packages from the lock locks/fave-base/requirements.txt' \
    --label org.opencontainers.image.revision=0123abc \
    --label 'org.opencontainers.image.source=https://example.org/fave it'\''s' \
    --label org.opencontainers.image.title=fave-base \
    --label org.opencontainers.image.version=0.1
    ");
    assert_eq!(shell_quote("plain-1.0:x/y@z"), "plain-1.0:x/y@z");
    assert_eq!(shell_quote(""), "''");
    assert_eq!(shell_quote("a b"), "'a b'");
    assert_eq!(shell_quote("it's $HOME `x`"), r"'it'\''s $HOME `x`'");
    assert!(
        BuildPlan::from_json(&text)
            .unwrap()
            .with_revision("$(rm -rf /)")
            .is_err()
    );
}

/// The quoted flags, read back by a real shell, give the exact values.
#[test]
fn a_shell_reads_the_flags_back() {
    let root = tempfile::tempdir().unwrap();
    let (text, _, _) = plan_files(root.path(), &Fixed(Ok(DIGEST.into())));
    let plan = BuildPlan::from_json(&text).unwrap();
    let script = "eval \"set -- $(cat)\"; for a in \"$@\"; do printf '%s\\0' \"$a\"; done";
    let mut child = std::process::Command::new("sh")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(label_flags(&plan).as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    let words: Vec<String> = String::from_utf8(output.stdout)
        .unwrap()
        .split_terminator('\0')
        .map(str::to_string)
        .collect();
    let expected: Vec<String> = plan
        .labels
        .iter()
        .flat_map(|(key, value)| ["--label".to_string(), format!("{key}={value}")])
        .collect();
    assert_eq!(words, expected);
}

#[test]
fn an_unreachable_registry_keeps_the_previous_digest() {
    let root = tempfile::tempdir().unwrap();
    let (verified, _, _) = plan_files(root.path(), &Fixed(Ok(OLD_DIGEST.into())));
    write_plan(root.path(), &verified);
    let (text, _, warnings) = plan_files(root.path(), &unreachable());
    let plan = BuildPlan::from_json(&text).unwrap();
    assert_snapshot!(serde_json::to_string_pretty(&plan.base_image).unwrap(), @r#"
    {
      "digest": "sha256:0000000000000000000000000000000000000000000000000000000000000000",
      "name": "python:3.11-slim",
      "pinned": "python:3.11-slim@sha256:0000000000000000000000000000000000000000000000000000000000000000",
      "reason": "registry `registry-1.docker.io` not reachable; digest kept from the previous build plan",
      "verified": false
    }
    "#);
    assert_eq!(plan.labels[label::BASE_DIGEST], OLD_DIGEST);
    assert_snapshot!(warnings.join("\n"), @"base image `python:3.11-slim`: digest not verified (registry `registry-1.docker.io` not reachable: dns error); keeping the previous plan's digest");
}

#[test]
fn no_previous_plan_leaves_the_digest_unknown() {
    let root = tempfile::tempdir().unwrap();
    let (text, _, warnings) = plan_files(root.path(), &unreachable());
    let plan = BuildPlan::from_json(&text).unwrap();
    assert_snapshot!(serde_json::to_string_pretty(&plan.base_image).unwrap(), @r#"
    {
      "digest": null,
      "name": "python:3.11-slim",
      "pinned": "python:3.11-slim",
      "reason": "registry `registry-1.docker.io` not reachable; no previous build plan records a digest for `python:3.11-slim`",
      "verified": false
    }
    "#);
    assert!(!plan.labels.contains_key(label::BASE_DIGEST));
    assert!(!plan.build_args.contains_key("BASE_DIGEST"));
    assert_eq!(plan.build_args["BASE_IMAGE"], "python:3.11-slim");
    assert_eq!(warnings.len(), 1);
}

#[test]
fn a_previous_plan_for_another_base_or_a_broken_one_is_not_reused() {
    let root = tempfile::tempdir().unwrap();
    let (verified, _, _) = plan_files(root.path(), &Fixed(Ok(OLD_DIGEST.into())));
    write_plan(
        root.path(),
        &verified.replace("python:3.11-slim", "python:3.12-slim"),
    );
    let (text, _, _) = plan_files(root.path(), &unreachable());
    assert_eq!(BuildPlan::from_json(&text).unwrap().base_image.digest, None);
    write_plan(root.path(), "{ not json");
    let (text, _, warnings) = plan_files(root.path(), &Fixed(Err(DigestError::Offline)));
    let plan = BuildPlan::from_json(&text).unwrap();
    assert_eq!(plan.base_image.digest, None);
    assert_eq!(
        plan.base_image.reason.as_deref(),
        Some(
            "not checked (offline); no previous build plan records a digest for `python:3.11-slim`"
        )
    );
    assert!(warnings[0].contains("is not a build plan"), "{warnings:?}");
}

#[test]
fn a_lock_without_requirements_txt_has_no_plan() {
    let root = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let only_pylock = vec![(
        root.path().join("locks/fave-base/pylock.toml"),
        String::new(),
    )];
    let error = runtime
        .block_on(settings(root.path()).outputs(&lock(), &only_pylock, &Fixed(Ok(DIGEST.into()))))
        .unwrap_err();
    assert_snapshot!(error, @"the lock of `fave-base` has no requirements.txt to plan a build from");
}

#[test]
fn a_plan_replaced_after_the_sbom_lists_it() {
    let root = tempfile::tempdir().unwrap();
    let settings = settings(root.path());
    let base = pin_base("python:3.11-slim", Ok(DIGEST.into()), None).0;
    let mut outputs = written(root.path(), "six==1.16.0\n");
    settings
        .replace_files(&lock(), &mut outputs, base.clone())
        .unwrap();
    let first = BuildPlan::from_json(&outputs[2].1).unwrap();
    assert_eq!(first.lock_files.len(), 2);
    // An SBOM left on disk by an earlier run is not this run's: it is not hashed.
    std::fs::create_dir_all(root.path().join("locks/fave-base")).unwrap();
    std::fs::write(root.path().join("locks/fave-base/sbom.cdx.json"), "old").unwrap();
    outputs.push((
        root.path().join("locks/fave-base/sbom.cdx.json"),
        "{}".to_string(),
    ));
    settings.replace_files(&lock(), &mut outputs, base).unwrap();
    let paths: Vec<&PathBuf> = outputs.iter().map(|(path, _)| path).collect();
    assert_eq!(
        paths.len(),
        5,
        "the first plan files are replaced, not added: {paths:?}"
    );
    let plan = BuildPlan::from_json(&outputs[3].1).unwrap();
    let listed: Vec<&str> = plan
        .lock_files
        .iter()
        .map(|file| file.path.as_str())
        .collect();
    assert_eq!(
        listed,
        [
            "locks/fave-base/pylock.toml",
            "locks/fave-base/requirements.txt",
            "locks/fave-base/sbom.cdx.json"
        ]
    );
    assert_eq!(
        plan.lock_file("sbom.cdx.json").unwrap().sha256,
        sha256_hex(b"{}")
    );
}

#[test]
fn read_checked_catches_a_changed_lock() {
    let root = tempfile::tempdir().unwrap();
    let (text, _, _) = plan_files(root.path(), &Fixed(Ok(DIGEST.into())));
    write_plan(root.path(), &text);
    for (path, contents) in written(root.path(), "six==1.16.0\n") {
        std::fs::write(path, contents).unwrap();
    }
    let settings = settings(root.path());
    assert_eq!(
        read_checked(&settings).unwrap(),
        BuildPlan::from_json(&text).unwrap()
    );
    std::fs::write(
        root.path().join("locks/fave-base/requirements.txt"),
        "six==1.17.0\n",
    )
    .unwrap();
    let error = read_checked(&settings).unwrap_err().to_string();
    let error = error.replace(&root.path().display().to_string(), "[ROOT]");
    assert_snapshot!(error, @"`locks/fave-base/requirements.txt` does not match the build plan `[ROOT]/locks/fave-base/build-plan.json`: the plan has sha256 0da178fba21a6debdac12539bf4943dc2cac92493381edfeeb9f5bbea8a14b7e, the file has ebf206bd17b40856161356787b67bd48f6d9f35bc882bc064dc65f140caf47fa; run `fave-lock resolve` to rewrite both");
    std::fs::remove_file(root.path().join("locks/fave-base/build-plan.json")).unwrap();
    assert!(matches!(read_checked(&settings), Err(PlanError::Io { .. })));
}

#[test]
fn a_rewritten_sbom_gets_its_new_sha256() {
    let root = tempfile::tempdir().unwrap();
    let settings = settings(root.path());
    let base = pin_base("python:3.11-slim", Ok(DIGEST.into()), None).0;
    let sbom = root.path().join("locks/fave-base/sbom.cdx.json");
    let mut outputs = written(root.path(), "six==1.16.0\n");
    outputs.push((sbom.clone(), "{}".to_string()));
    settings.replace_files(&lock(), &mut outputs, base).unwrap();
    for (path, contents) in &outputs {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
    }
    assert_eq!(
        replan_rewritten(&settings, &[]).unwrap().unwrap().1,
        outputs[3].1,
        "nothing rewritten"
    );
    let rewritten = [(sbom.clone(), "{\"timestamp\": 1}".to_string())];
    let (path, text) = replan_rewritten(&settings, &rewritten).unwrap().unwrap();
    assert_eq!(path, settings.plan_path());
    let plan = BuildPlan::from_json(&text).unwrap();
    assert_eq!(
        plan.lock_file("sbom.cdx.json").unwrap().sha256,
        sha256_hex(b"{\"timestamp\": 1}")
    );
    assert_eq!(
        plan.lock_file("requirements.txt").unwrap().sha256,
        sha256_hex(b"six==1.16.0\n")
    );
    // The installed lock cannot be rewritten this way, and a changed one is caught.
    let requirements = root.path().join("locks/fave-base/requirements.txt");
    assert!(matches!(
        replan_rewritten(&settings, &[(requirements.clone(), String::new())]),
        Err(PlanError::InstalledFileRewritten { .. })
    ));
    std::fs::write(&requirements, "six==1.17.0\n").unwrap();
    assert!(matches!(
        replan_rewritten(&settings, &rewritten),
        Err(PlanError::LockMismatch { .. })
    ));
    std::fs::remove_file(settings.plan_path()).unwrap();
    assert!(replan_rewritten(&settings, &rewritten).unwrap().is_none());
}

/// The Dockerfile declares every build arg a plan passes, so none is silently ignored.
#[test]
fn the_dockerfile_takes_every_build_arg() {
    let dockerfile = include_str!("../../base-image/Dockerfile");
    let root = tempfile::tempdir().unwrap();
    let (text, _, _) = plan_files(root.path(), &Fixed(Ok(DIGEST.into())));
    let plan = BuildPlan::from_json(&text)
        .unwrap()
        .with_revision("abc")
        .unwrap();
    let declared: Vec<&str> = dockerfile
        .lines()
        .filter_map(|line| line.trim().strip_prefix("ARG "))
        .flat_map(str::split_whitespace)
        .map(|arg| arg.split('=').next().unwrap_or(arg))
        .collect();
    for arg in plan.build_args.keys() {
        assert!(
            declared.contains(&arg.as_str()),
            "base-image/Dockerfile lacks `ARG {arg}`"
        );
    }
    for (arg, key) in LABEL_ARGS {
        assert!(
            dockerfile.contains(&format!("{key}=\"${{{arg}}}\"")),
            "base-image/Dockerfile does not stamp {key} from {arg}"
        );
    }
}

fn lookup(reference: &str) -> Result<String, DigestError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let reference = BaseReference::parse(reference).unwrap();
    runtime.block_on(RegistryDigests::new().unwrap().manifest_digest(&reference))
}

#[test]
fn the_registry_is_asked_with_every_manifest_type() {
    let registry = FakeRegistry::bind().serve(vec![answer(
        "200 OK",
        &[&format!("Docker-Content-Digest: {DIGEST}")],
        "",
    )]);
    assert_eq!(
        lookup(&format!("{}/fave/python:3.11-slim", registry.authority)),
        Ok(DIGEST.into())
    );
    let requests = registry.requests();
    assert!(
        requests[0].starts_with("head /v2/fave/python/manifests/3.11-slim http/1.1"),
        "{requests:?}"
    );
    for media_type in [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ] {
        assert!(
            requests[0].contains(media_type),
            "{media_type} missing: {requests:?}"
        );
    }
}

#[test]
fn an_anonymous_token_is_fetched_on_401() {
    let registry = FakeRegistry::bind();
    let challenge = format!(
        r#"WWW-Authenticate: Bearer realm="http://{}/token",service="fake",scope="repository:fave/python:pull""#,
        registry.authority
    );
    let registry = registry.serve(vec![
        answer("401 Unauthorized", &[&challenge], ""),
        answer(
            "200 OK",
            &["Content-Type: application/json"],
            r#"{"token":"t0k3n"}"#,
        ),
        answer("200 OK", &[&format!("Docker-Content-Digest: {DIGEST}")], ""),
    ]);
    assert_eq!(
        lookup(&format!("{}/fave/python:3.11-slim", registry.authority)),
        Ok(DIGEST.into())
    );
    let requests = registry.requests();
    assert!(
        requests[1].starts_with("get /token?service=fake&scope=repository%3afave%2fpython%3apull "),
        "{requests:?}"
    );
    assert!(
        requests[2].contains("authorization: bearer t0k3n"),
        "{requests:?}"
    );
}

#[test]
fn registry_failures_are_values() {
    let registry = FakeRegistry::bind().serve(vec![answer("404 Not Found", &[], "")]);
    let reference = format!("{}/fave/python:3.11-slim", registry.authority);
    assert_eq!(
        lookup(&reference),
        Err(DigestError::NotFound {
            reference: reference.clone()
        })
    );
    let registry = FakeRegistry::bind().serve(vec![answer(
        "200 OK",
        &["Docker-Content-Digest: md5:x"],
        "",
    )]);
    assert!(matches!(
        lookup(&format!("{}/fave/python:3.11-slim", registry.authority)),
        Err(DigestError::Protocol { .. })
    ));
    let registry = FakeRegistry::bind().serve(vec![answer(
        "401 Unauthorized",
        &["WWW-Authenticate: Basic realm=\"x\""],
        "",
    )]);
    assert!(matches!(
        lookup(&format!("{}/fave/python:3.11-slim", registry.authority)),
        Err(DigestError::Unauthorized { .. })
    ));
    // Nothing listens on a port just released.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    assert!(matches!(
        lookup(&format!("127.0.0.1:{port}/fave/python:3.11-slim")),
        Err(DigestError::Unreachable { .. })
    ));
}

#[test]
fn a_registry_without_the_digest_header_is_hashed() {
    let manifest = r#"{"schemaVersion":2}"#;
    let registry = FakeRegistry::bind().serve(vec![
        answer("200 OK", &[], ""),
        answer(
            "200 OK",
            &["Content-Type: application/vnd.oci.image.manifest.v1+json"],
            manifest,
        ),
    ]);
    assert_eq!(
        lookup(&format!("{}/fave/python:3.11-slim", registry.authority)),
        Ok(format!("sha256:{}", sha256_hex(manifest.as_bytes())))
    );
}

#[test]
fn packages_locked_by_their_sdist_are_built_from_source() {
    use crate::index::DistFile;
    use crate::lock::LockedPackage;
    use std::str::FromStr;
    let package = |name: &str, version: &str, filename: &str| LockedPackage {
        name: pep508_rs::PackageName::from_str(name).unwrap(),
        version: pep440_rs::Version::from_str(version).unwrap(),
        targets: [0].into(),
        files: vec![DistFile {
            filename: filename.into(),
            url: format!("https://files.example/{filename}"),
            sha256: Some("ab".repeat(32)),
            size: Some(1),
            upload_time: None,
            requires_python: None,
            yanked: None,
            core_metadata: false,
        }],
        requires_python: None,
        dependencies: Default::default(),
        via: Default::default(),
    };
    let mut with_sdist = lock();
    with_sdist.packages = vec![
        package(
            "setuptools",
            "80.10.2",
            "setuptools-80.10.2-py3-none-any.whl",
        ),
        package("webrtcvad", "2.0.10", "webrtcvad-2.0.10.tar.gz"),
    ];
    let root = tempfile::tempdir().unwrap();
    let base = pin_base("python:3.11-slim", Ok(DIGEST.into()), None).0;
    let files = settings(root.path())
        .files(&with_sdist, &written(root.path(), "x\n"), base.clone())
        .unwrap();
    let plan = BuildPlan::from_json(&files[0].1).unwrap();
    assert_eq!(plan.build_from_source, ["webrtcvad==2.0.10"]);
    assert_eq!(plan.build_args["SDIST_PACKAGES"], "webrtcvad");
    let dockerfile = include_str!("../../base-image/Dockerfile");
    assert!(
        dockerfile.contains("ARG SDIST_PACKAGES"),
        "the Dockerfile takes it"
    );
    // A wheels-only lock's plan has neither, so it reads as before sdists existed.
    let files = settings(root.path())
        .files(&lock(), &written(root.path(), "x\n"), base)
        .unwrap();
    assert!(!files[0].1.contains("build_from_source") && !files[0].1.contains("SDIST_PACKAGES"));
}
