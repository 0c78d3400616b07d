//! `--format json` keeps its promise on every failure path: stdout carries exactly one JSON object
//! (code, message, exit class) and nothing else, and the exit code is the one the class names. Runs the
//! real binary on the committed config and on paths that do not exist; needs no network.

use std::path::Path;
use std::process::{Command, Output};

fn fave_lock(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fave-lock"))
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")))
        .env_remove("FAVE_LOCK_INDEX_URL")
        .args(args)
        .output()
        .expect("run fave-lock")
}

/// The one JSON error object on stdout, after checking the exit code matches it.
fn json_error(out: &Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let value: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|err| panic!("stdout is not one JSON document ({err}):\n{stdout}"));
    let error = value["error"].clone();
    assert_eq!(
        out.status.code(),
        error["exit"].as_i64().map(|code| code as i32),
        "{value}"
    );
    assert!(!error["message"].as_str().unwrap_or_default().is_empty());
    error
}

#[test]
fn verify_reports_an_unreadable_lock_as_json() {
    let out = fave_lock(&[
        "verify",
        "--format",
        "json",
        "--lock",
        "no/such/pylock.toml",
    ]);
    let error = json_error(&out);
    assert_eq!(error["code"], "input");
    assert_eq!(error["class"], "error");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("no/such/pylock.toml")
    );
}

#[test]
fn every_json_command_reports_a_missing_config_as_json() {
    for command in [
        &["check", "--offline"][..],
        &["verify"],
        &["abi", "--offline"],
        &["resolve", "--offline"],
    ] {
        let mut args = command.to_vec();
        args.extend(["--config", "no-such.toml", "--format", "json"]);
        let error = json_error(&fave_lock(&args));
        assert_eq!(error["code"], "config", "{args:?}");
    }
}

#[test]
fn a_usage_error_is_json_too() {
    let error = json_error(&fave_lock(&["check", "--format", "json", "--no-such-flag"]));
    assert_eq!(error["code"], "usage");
    assert_eq!(error["exit"], 2);
    // Without --format json, stdout stays empty.
    let out = fave_lock(&["check", "--no-such-flag"]);
    assert!(out.stdout.is_empty());
    assert_eq!(out.status.code(), Some(2));
}

/// An ad hoc lock goes to stdout, and so does the JSON report: asking for both is refused, not mixed.
#[test]
fn an_ad_hoc_json_run_needs_an_output_file() {
    let out = fave_lock(&[
        "resolve",
        "-r",
        "base-image/requirements.in",
        "--python-version",
        "3.11",
        "--python-platform",
        "x86_64-manylinux_2_36",
        "--format",
        "json",
    ]);
    let error = json_error(&out);
    assert_eq!(error["code"], "usage");
    assert!(error["message"].as_str().unwrap().contains("-o"));
}

/// `check --format human`, from before `text` was every command's word, still works.
#[test]
fn human_is_text() {
    let text = fave_lock(&["check", "--offline", "--no-diff", "--format", "text"]);
    let human = fave_lock(&["check", "--offline", "--no-diff", "--format", "human"]);
    assert_eq!(text.status.code(), human.status.code());
    assert_eq!(text.stdout, human.stdout);
    assert!(!text.stdout.is_empty());
}

/// `plan` prints JSON by default; its errors turn into JSON only when `--format json` is given, so a
/// script reading a plan never gets an error object in its place.
#[test]
fn plan_errors_are_json_only_when_asked() {
    let out = fave_lock(&["plan", "no-such-image"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let error = json_error(&fave_lock(&["plan", "no-such-image", "--format", "json"]));
    assert_eq!(error["code"], "usage");
}
