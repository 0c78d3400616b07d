//! The diagnosis of unresolvable inputs, against live PyPI with a fixed `exclude-newer`: every problem
//! in one run, each with checked fixes, exit code 1, and nothing written.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const CUTOFF: &str = "2026-11-01T00:00:00Z";

/// The seed plan's pins, exactly.
const SEED: &str = "\
boto3==1.35.0
minio==7.2.15
numpy==2.1.3
librosa==0.10.2
soundfile==0.12.1
httpx==0.27.0
opencv-python-headless==4.10.0
onnxruntime==1.19.2
scipy==1.11.4
pydantic==2.8.0
deepspeech==0.9.3
";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fave_lock(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fave-lock"))
        .args(args)
        .current_dir(dir)
        .env("FAVE_LOCK_CACHE_DIR", repo().join(".cache/fave-lock"))
        .env_remove("FAVE_LOCK_INDEX_URL")
        .output()
        .expect("fave-lock runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A copy of the repo's config and locks whose fave-base input is `input`.
fn project_with(input: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        repo().join("fave-lock.toml"),
        dir.path().join("fave-lock.toml"),
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("base-image")).unwrap();
    std::fs::write(dir.path().join("base-image/requirements.in"), input).unwrap();
    std::fs::copy(
        repo().join("base-image/fave-stt.in"),
        dir.path().join("base-image/fave-stt.in"),
    )
    .unwrap();
    copy_tree(&repo().join("locks"), &dir.path().join("locks"));
    dir
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.insert(path.clone(), std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

fn assert_contains(haystack: &str, needles: &[&str]) {
    for needle in needles {
        assert!(
            haystack.contains(needle),
            "expected `{needle}` in:\n{haystack}"
        );
    }
}

#[test]
#[ignore = "live: needs PyPI; scripts/test.sh runs it"]
fn the_seed_pins_report_all_three_problems_in_one_run_and_write_nothing() {
    let project = project_with(SEED);
    let before = snapshot(&project.path().join("locks"));
    let output = fave_lock(project.path(), &["resolve", "--image", "fave-base"]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_contains(&stderr, &["3 problems"]);
    // Readable: long wheel tag lists are summarised (deepspeech has 16 wheels).
    let longest = stderr
        .lines()
        .map(|line| line.chars().count())
        .max()
        .unwrap_or(0);
    assert!(
        longest <= 200,
        "a report line of {longest} characters:\n{stderr}"
    );
    // 1. No such version, with the nearest releases and their dates.
    assert_contains(
        &stderr,
        &[
            "[no-such-version] `opencv-python-headless==4.10.0`",
            "4.10.0.84 (2024-06-17)",
            "4.10.0.82 (2024-06-03)",
            "base-image/requirements.in:7",
            "opencv-python-headless==4.10.0  →  opencv-python-headless==4.10.0.84",
        ],
    );
    // 2. The conflict, with both fixes.
    assert_contains(
        &stderr,
        &[
            "[conflict] `scipy==1.11.4` requires `numpy<1.28.0,>=1.21.6`, but `numpy==2.1.3` is pinned",
            "base-image/requirements.in:9, 3;",
            "raise scipy to 1.13.0, the lowest release that accepts numpy 2.1.3",
            "lower numpy to 1.26.4, the highest release scipy 1.11.4 accepts",
        ],
    );
    // 3. No wheel for cp311, with the wheels that exist and both fixes.
    assert_contains(
        &stderr,
        &[
            "[no-matching-wheel] `deepspeech==0.9.3`",
            "wheels for cp35–cp39 only",
            "cp39-cp39-manylinux1_x86_64",
            "no release of deepspeech has a wheel for CPython 3.11",
            "remove `deepspeech==0.9.3` from this image",
            "second image on Python 3.9",
            "python-version = \"3.9\"",
        ],
    );
    assert_contains(
        &stderr,
        &[
            "on linux/amd64, linux/arm64",
            "checked: the 3 first fixes together resolve",
        ],
    );
    assert_eq!(
        before,
        snapshot(&project.path().join("locks")),
        "a failed resolve must leave locks/ untouched"
    );
}

#[test]
#[ignore = "live: needs PyPI; scripts/test.sh runs it"]
fn the_json_report_gives_kinds_locations_and_replacement_lines() {
    let project = project_with(SEED);
    let output = fave_lock(
        project.path(),
        &["resolve", "--image", "fave-base", "--format", "json", "-q"],
    );
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("stdout is JSON");
    let problems = report["images"][0]["diagnosis"]["problems"]
        .as_array()
        .unwrap();
    let kinds: Vec<&str> = problems
        .iter()
        .map(|p| p["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["no-such-version", "no-matching-wheel", "conflict"]);
    let first_fix = &problems[0]["fixes"][0]["edits"][0];
    assert_eq!(
        first_fix["replacement"],
        "opencv-python-headless==4.10.0.84"
    );
    assert_eq!(first_fix["line"], 7);
    assert_eq!(first_fix["file"], "base-image/requirements.in");
    assert_eq!(
        problems[1]["fixes"][0]["edits"][0]["replacement"],
        serde_json::Value::Null,
        "remove deepspeech"
    );
    assert_eq!(
        problems[2]["fixes"][0]["edits"][0]["replacement"],
        "scipy==1.13.0"
    );
    assert_eq!(
        problems[2]["fixes"][1]["edits"][0]["replacement"],
        "numpy==1.26.4"
    );
    assert_eq!(
        report["images"][0]["diagnosis"]["combined"]["resolves"],
        true
    );
}

#[test]
#[ignore = "live: needs PyPI; scripts/test.sh runs it"]
fn apply_fixes_rewrites_the_input_keeping_comments_then_resolves() {
    let input = format!(
        "# the seed plan's pins\n{}",
        SEED.replace("numpy==2.1.3", "numpy==2.1.3  # the image runs numpy 2.1")
    );
    let project = project_with(&input);
    let output = fave_lock(
        project.path(),
        &["resolve", "--image", "fave-base", "--apply-fixes"],
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let rewritten =
        std::fs::read_to_string(project.path().join("base-image/requirements.in")).unwrap();
    assert_contains(
        &rewritten,
        &[
            "# the seed plan's pins\n",
            "numpy==2.1.3  # the image runs numpy 2.1\n",
            "\nopencv-python-headless==4.10.0.84\n",
            "\nscipy==1.13.0\n",
            "\n# deepspeech==0.9.3\n",
            "# fave-lock: no such version",
        ],
    );
    let lock =
        std::fs::read_to_string(project.path().join("locks/fave-base/requirements.txt")).unwrap();
    assert_contains(
        &lock,
        &["scipy==1.13.0", "opencv-python-headless==4.10.0.84"],
    );
    assert!(!lock.contains("deepspeech"));
}

/// Ad hoc resolve of one input line; returns (exit code, stderr).
fn ad_hoc(line: &str, python: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.txt"), format!("{line}\n")).unwrap();
    let output = fave_lock(
        dir.path(),
        &[
            "resolve",
            "-r",
            "in.txt",
            "--python-version",
            python,
            "--python-platform",
            "x86_64-manylinux_2_36",
            "--exclude-newer",
            CUTOFF,
            "-o",
            "out.txt",
        ],
    );
    assert!(
        !dir.path().join("out.txt").exists(),
        "nothing is written on failure"
    );
    (output.status.code(), text(&output.stderr))
}

#[test]
#[ignore = "live: needs PyPI; scripts/test.sh runs it"]
fn requires_python_names_the_specifier_and_the_newest_release_that_fits() {
    let (code, stderr) = ad_hoc("numpy==2.1.3", "3.9");
    assert_eq!(code, Some(1), "{stderr}");
    assert_contains(
        &stderr,
        &[
            "[requires-python] `numpy==2.1.3`: requires Python >=3.10",
            "in.txt:1",
            "numpy==2.1.3  →  numpy==2.0.2",
        ],
    );
}

#[test]
#[ignore = "live: needs PyPI; scripts/test.sh runs it"]
fn releases_after_the_cutoff_are_reported_as_such() {
    let (code, stderr) = ad_hoc("numpy==2.5.5", "3.11");
    assert_eq!(code, Some(1), "{stderr}");
    assert_contains(
        &stderr,
        &[
            "[newer-than-cutoff] `numpy==2.5.5`",
            "after exclude-newer 2026-11-01T00:00:00Z",
        ],
    );
}

#[test]
#[ignore = "live: needs PyPI; scripts/test.sh runs it"]
fn only_yanked_releases_matching_is_reported_with_the_exact_pin_fix() {
    let (code, stderr) = ad_hoc("requests>=2.32.0,<2.32.2", "3.11");
    assert_eq!(code, Some(1), "{stderr}");
    assert_contains(
        &stderr,
        &["[only-yanked]", "2.32.0, 2.32.1", "requests==2.32.1"],
    );
}

#[test]
#[ignore = "live: needs PyPI; scripts/test.sh runs it"]
fn an_unknown_project_is_reported() {
    let (code, stderr) = ad_hoc("fave-lock-no-such-project-xyz==1.0", "3.11");
    assert_eq!(code, Some(1), "{stderr}");
    assert_contains(
        &stderr,
        &["[no-such-project] `fave-lock-no-such-project-xyz` is not on the index"],
    );
}

/// Ad hoc resolve of a corpus file (tests/corpus/, see docs/corpus.md) for CPython 3.11 on x86_64
/// manylinux 2.28, as scripts/corpus-compare.py runs it, plus `extra`; returns (exit code, stderr).
fn corpus(file: &str, extra: &[&str]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let input = repo().join("tests/corpus").join(file);
    let input = input.to_str().unwrap();
    let mut args = vec![
        "resolve",
        "-r",
        input,
        "--python-version",
        "3.11",
        "--python-platform",
        "x86_64-manylinux_2_28",
        "--exclude-newer",
        CUTOFF,
        "-o",
        "out.txt",
        "--no-check-abi",
    ];
    args.extend_from_slice(extra);
    let output = fave_lock(dir.path(), &args);
    (output.status.code(), text(&output.stderr))
}

fn assert_short_lines(report: &str) {
    let long: Vec<&str> = report
        .lines()
        .filter(|line| line.chars().count() > 200)
        .collect();
    assert!(long.is_empty(), "lines over 200 characters: {long:#?}");
}

/// netbox-base.txt:110 `psycopg[c,pool]` held to wheels only: psycopg-c publishes nothing but sdists.
/// Once misreported as a conflict between two psycopg-c versions with no fix; now the real kind, at
/// the input line, with the chain and the fixes the user controls.
#[test]
#[ignore = "live: needs PyPI; scripts/test.sh runs it"]
fn corpus_netbox_base_without_builds_names_the_sdist_only_dependency_behind_the_extra() {
    let (code, stderr) = corpus(
        "netbox-base.txt",
        &["--no-build", "--diagnose-timeout", "300"],
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert_contains(
        &stderr,
        &[
            "1 problem",
            "[no-matching-wheel] `psycopg[c,pool]` → psycopg-c: sdist only at every release",
            "netbox-base.txt:110",
            "chain: psycopg[c,pool] (",
            "psycopg[c] 3.3.6 requires `psycopg-c==3.3.6`",
            "fix (checked): drop the `c` extra",
            "psycopg[c,pool]  →  psycopg[pool]",
            "fix (checked): allow psycopg-c's sdist",
            "`--allow-sdist psycopg-c`",
            "checked: the 1 first fixes together resolve",
        ],
    );
    for wrong in ["[conflict]", "[unexplained]", "the 0 first fixes"] {
        assert!(!stderr.contains(wrong), "no `{wrong}` in:\n{stderr}");
    }
    assert_short_lines(&stderr);
}

/// home-assistant's requirements.txt:65 pins `zeroconf==0.149.16`; its constraint file (`-c`) pins
/// `zeroconf==0.132.2`. uv stops there; fave-lock names both lines as a conflict (once an
/// `[unexplained]` "the requirements 0 depends on zeroconf ∅").
#[test]
#[ignore = "live: needs PyPI; scripts/test.sh runs it"]
fn corpus_home_assistant_names_the_requirement_and_the_constraint_that_clash() {
    let (code, stderr) = corpus(
        "home-assistant/requirements.txt",
        &["--no-build", "--diagnose-timeout", "120"],
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert_contains(
        &stderr,
        &[
            "[conflict] `zeroconf==0.149.16` is required, but the constraint `zeroconf==0.132.2` allows no version of it",
            "home-assistant/requirements.txt:65, ",
            "homeassistant/package_constraints.txt:66",
            "[conflict] `aiohttp==3.13.5` is required, but the constraint `aiohttp==3.9.5`",
            "[requires-python] `aiogithubapi==26.0.0`: requires Python >=3.13",
        ],
    );
    for wrong in ["requirements 0", "∅", "are unavailable has"] {
        assert!(!stderr.contains(wrong), "no `{wrong}` in:\n{stderr}");
    }
    assert_short_lines(&stderr);
}

/// pyannote-audio.txt held to wheels only: every final hydra-core needs antlr4-python3-runtime 4.9.*,
/// an sdist only, so hydra-core 1.4.0rc3 is locked (as uv does with `--only-binary :all:`), and a
/// warning says why.
#[test]
#[ignore = "live: needs PyPI; scripts/test.sh runs it"]
fn corpus_pyannote_without_builds_says_why_a_pre_release_was_chosen() {
    let (code, stderr) = corpus("pyannote-audio.txt", &["--no-build"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_contains(
        &stderr,
        &[
            "warning: hydra-core==1.4.0rc3 is a pre-release, chosen because no final release fits: hydra-core 1.3.",
            "requires `antlr4-python3-runtime==4.9.*`, and antlr4-python3-runtime 4.9.3 is sdist only",
        ],
    );
    assert_short_lines(&stderr);
}
