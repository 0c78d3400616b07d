//! The diagnosis against the local index (no network): its time budget and its progress lines.

mod support;

use support::demo;
use support::project::{Project, text};

/// Two problems the input lines show on their own (no such version, no such project).
const INPUT: &str = "six==9.9\nidna\nno-such-project-here\n";
/// One problem, with a fix.
const FIXABLE: &str = "six==9.9\nidna\n";

#[test]
fn a_diagnosis_that_runs_out_of_time_reports_what_it_found_and_what_it_did_not_check() {
    let server = demo::index();
    let project = Project::new(&server.url(), INPUT);
    let out = project.run(&["resolve", "--diagnose-timeout", "0.001"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("[no-such-version]") && stderr.contains("[no-such-project]"),
        "the problems found before the budget ran out: {stderr}"
    );
    assert!(
        stderr.contains("incomplete: the time budget (0 s, --diagnose-timeout) ran out"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("fix (checked)"),
        "no fix is checked: {stderr}"
    );
    assert!(project.lock_files().is_empty(), "nothing written");

    // With the default budget the same diagnosis completes: both problems, the fix checked.
    let out = project.run(&["resolve", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let report = demo::json(&out);
    let diagnosis = &report["images"][0]["diagnosis"];
    assert_eq!(
        diagnosis["incomplete"],
        serde_json::json!([]),
        "{diagnosis}"
    );
    assert_eq!(
        diagnosis["problems"].as_array().unwrap().len(),
        2,
        "{diagnosis}"
    );
    assert_eq!(
        diagnosis["problems"][0]["fixes"][0]["summary"],
        "use six 1.16.0, the nearest existing release"
    );
}

#[test]
fn the_diagnosis_says_what_it_is_doing() {
    let server = demo::index();
    let project = Project::new(&server.url(), FIXABLE);
    let out = project.run(&["resolve"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for phase in [
        "Diagnosing demo: checking 2 input lines",
        "Diagnosing demo: checking 1 fix(es) of problem 1 of 1",
        "Diagnosing demo: checking all first fixes together",
    ] {
        assert!(stderr.contains(phase), "`{phase}` in:\n{stderr}");
    }
}

/// A release with no wheel for the target gets "use the newest release that has one" as its fix: a
/// final release, not a newer pre-release (as pip and uv would choose).
#[test]
fn a_fix_proposes_the_newest_final_release_not_a_pre_release() {
    use support::index_server::{IndexServer, Wheel};
    let six = Wheel::fixture(demo::SIX);
    let metadata = String::from_utf8(six.metadata.to_vec())
        .unwrap()
        .replace("Version: 1.16.0", "Version: 2.0.0rc1");
    let server = IndexServer::builder()
        .wheel(six.clone().upload_time("2021-05-05T14:18:17Z"))
        .wheel(
            Wheel::from_bytes(
                "six-2.0.0rc1-py2.py3-none-any.whl",
                six.bytes.to_vec(),
                metadata.into_bytes(),
            )
            .upload_time("2024-01-01T00:00:00Z"),
        )
        .wheel(
            Wheel::from_bytes("six-1.17.0.tar.gz", b"not built".to_vec(), Vec::new())
                .upload_time("2024-12-04T00:00:00Z"),
        )
        .start();
    let project = Project::new(&server.url(), "six==1.17.0\n");
    let out = project.run(&["resolve", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let report = demo::json(&out);
    let problem = &report["images"][0]["diagnosis"]["problems"][0];
    assert_eq!(problem["kind"], "no-matching-wheel", "{problem}");
    let replacements: Vec<&str> = problem["fixes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|fix| fix["edits"].as_array().unwrap())
        .filter_map(|edit| edit["replacement"].as_str())
        .collect();
    assert!(replacements.contains(&"six==1.16.0"), "{problem}");
    assert!(
        !replacements.iter().any(|line| line.contains("rc1")),
        "{problem}"
    );
}
