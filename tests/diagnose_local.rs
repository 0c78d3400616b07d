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
