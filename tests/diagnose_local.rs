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
        "Resolving demo\n",
        "Diagnosing demo: checking 2 input lines",
        "Diagnosing demo: checking fix 1 of 1 (problem 1 of 1)",
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
            .advertise_metadata()
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

/// `fave-lock resolve --apply-fixes` in `project` (`--no-verify`: the local index serves some wheels
/// under other names, which verify rightly refuses), and the requirements file after it.
fn apply_fixes(project: &Project) -> (std::process::Output, String) {
    let out = project.run(&[
        "resolve",
        "--apply-fixes",
        "-q",
        "--no-verify",
        "--no-check-abi",
    ]);
    let input = std::fs::read_to_string(project.root().join("requirements.in")).unwrap();
    (out, input)
}

/// The lines of a report longer than a reader's terminal allows.
fn long_lines(report: &str) -> Vec<&str> {
    report
        .lines()
        .filter(|line| line.chars().count() > 200)
        .collect()
}

/// METADATA for a wheel posing as `name version` with `requires` (`Provides-Extra` for every extra).
fn metadata(name: &str, version: &str, extras: &[&str], requires: &[&str]) -> String {
    let mut text = format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n");
    for extra in extras {
        text.push_str(&format!("Provides-Extra: {extra}\n"));
    }
    for requirement in requires {
        text.push_str(&format!("Requires-Dist: {requirement}\n"));
    }
    text
}

/// A static (PEP 643) sdist of `name version` with no dependencies: its metadata is read without a
/// build, so allowing it can be checked here.
fn static_sdist(name: &str, version: &str) -> support::index_server::Wheel {
    sdist_of(name, version, "2.4")
}

/// An sdist of `name version` whose PKG-INFO has `metadata_version`: 2.2 or later is read as is,
/// earlier ones need a build (whose `setup.py` fails).
fn sdist_of(name: &str, version: &str, metadata_version: &str) -> support::index_server::Wheel {
    let pkg_info =
        format!("Metadata-Version: {metadata_version}\nName: {name}\nVersion: {version}\n");
    support::index_server::Wheel::sdist(
        &format!("{name}-{version}.tar.gz"),
        &[
            ("PKG-INFO", pkg_info.as_str()),
            ("setup.py", "raise SystemExit('no build expected')\n"),
        ],
    )
    .upload_time("2024-01-01T00:00:00Z")
}

/// `toplib[fast]==1.0` pulls in `fastext==1.0` through its extra, and fastext 1.0 is an sdist only:
/// the image (wheels only) fails one level below the input line. The report names the line, the chain
/// and the real kind, with fixes the user controls.
#[test]
fn an_sdist_only_dependency_behind_an_extra_is_reported_at_the_input_line_with_its_fixes() {
    use support::index_server::{IndexServer, Wheel};
    let server = IndexServer::builder()
        .wheel(Wheel::fixture(demo::SIX).upload_time("2021-05-05T14:18:17Z"))
        .wheel(
            Wheel::posing_as(
                "toplib-1.0-py3-none-any.whl",
                &metadata(
                    "toplib",
                    "1.0",
                    &["fast"],
                    &["six", "fastext==1.0; extra == \"fast\""],
                ),
            )
            .upload_time("2024-01-01T00:00:00Z"),
        )
        .wheel(
            Wheel::posing_as(
                "toplib-1.1-py3-none-any.whl",
                &metadata(
                    "toplib",
                    "1.1",
                    &["fast"],
                    &["six", "fastext>=2.0; extra == \"fast\""],
                ),
            )
            .upload_time("2024-02-01T00:00:00Z"),
        )
        .wheel(static_sdist("fastext", "1.0"))
        .wheel(
            Wheel::posing_as(
                "fastext-2.0-py3-none-any.whl",
                &metadata("fastext", "2.0", &[], &[]),
            )
            .upload_time("2024-02-01T00:00:00Z"),
        )
        .start();
    let project = Project::new(&server.url(), "six\ntoplib[fast]==1.0\n");
    let out = project.run(&["resolve"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for expected in [
        "1 problem",
        "[no-matching-wheel] `toplib[fast]==1.0` → fastext 1.0: sdist only",
        "at requirements.in:2",
        "chain: toplib[fast]==1.0 (requirements.in:2) → fastext",
        "toplib[fast] 1.0 requires `fastext==1.0`",
        "fix (checked): drop the `fast` extra",
        "toplib[fast]==1.0  →  toplib==1.0",
        "fix (checked): raise toplib to 1.1",
        "toplib[fast]==1.0  →  toplib[fast]==1.1",
        "fix (checked): allow fastext's sdist",
        "allow-sdist = [\"fastext\"]",
    ] {
        assert!(stderr.contains(expected), "`{expected}` in:\n{stderr}");
    }
    for wrong in ["[conflict]", "[unexplained]", "the requirements 0", "∅"] {
        assert!(!stderr.contains(wrong), "no `{wrong}` in:\n{stderr}");
    }
    assert_eq!(long_lines(&stderr), Vec::<&str>::new(), "{stderr}");
    assert!(project.lock_files().is_empty(), "nothing written");

    let out = project.run(&["resolve", "--format", "json", "-q"]);
    let report = demo::json(&out);
    let problem = &report["images"][0]["diagnosis"]["problems"][0];
    assert_eq!(problem["kind"], "no-matching-wheel", "{problem}");
    assert_eq!(problem["locations"][0]["line"], 2, "{problem}");
    assert_eq!(
        problem["packages"],
        serde_json::json!(["toplib", "fastext"])
    );
    let replacements: Vec<&serde_json::Value> = problem["fixes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|fix| &fix["edits"][0]["replacement"])
        .collect();
    assert_eq!(
        replacements,
        [
            &serde_json::json!("toplib==1.0"),
            &serde_json::json!("toplib[fast]==1.1"),
            &serde_json::Value::Null,
        ],
        "{problem}"
    );
}

/// An index with six 1.16.0 and a 1.15.0 (six's wheel posing as it): two releases to pin between.
fn six_1_15_and_1_16() -> support::index_server::IndexServerBuilder {
    use support::index_server::{IndexServer, Wheel};
    let six = Wheel::fixture(demo::SIX);
    let older = String::from_utf8(six.metadata.to_vec())
        .unwrap()
        .replace("Version: 1.16.0", "Version: 1.15.0");
    IndexServer::builder()
        .wheel(six.upload_time("2021-05-05T14:18:17Z"))
        .wheel(
            Wheel::posing_as("six-1.15.0-py2.py3-none-any.whl", &older)
                .upload_time("2020-05-21T00:00:00Z"),
        )
}

/// The input pins one version and its `-c` constraint file another: a conflict between those two
/// lines, named as such (not "no version left", not `[unexplained]`), with a fix on each side.
#[test]
fn a_requirement_and_a_constraint_that_disagree_are_a_conflict_naming_both_lines() {
    use support::index_server::Wheel;
    let server = six_1_15_and_1_16()
        .wheel(Wheel::fixture(demo::IDNA).upload_time("2024-09-15T18:07:37Z"))
        .start();
    let project = Project::new(&server.url(), "idna\nsix==1.16.0\n-c constraints.txt\n");
    std::fs::write(
        project.root().join("constraints.txt"),
        "# pinned by the platform\nsix==1.15.0\n",
    )
    .unwrap();
    let out = project.run(&["resolve"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for expected in [
        "1 problem",
        "[conflict] `six==1.16.0` is required, but the constraint `six==1.15.0` allows no version of it",
        "at requirements.in:2, constraints.txt:2",
        "fix (checked): use six 1.15.0, the release the constraint allows",
        "six==1.16.0  →  six==1.15.0",
        "fix (checked): change the constraint to six 1.16.0",
        "checked: the 1 first fixes together resolve",
    ] {
        assert!(stderr.contains(expected), "`{expected}` in:\n{stderr}");
    }
    for wrong in [
        "[unexplained]",
        "the requirements 0",
        "∅",
        "no fix could be checked",
    ] {
        assert!(!stderr.contains(wrong), "no `{wrong}` in:\n{stderr}");
    }
    assert_eq!(long_lines(&stderr), Vec::<&str>::new(), "{stderr}");

    // --apply-fixes follows the constraint: the requirement line changes, the constraint file not.
    // (`--no-verify`: six 1.15.0 here is six 1.16.0's file under another name, which verify refuses.)
    let (out, input) = apply_fixes(&project);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(input.contains("\nsix==1.15.0\n"), "{input}");
}

/// Every final release of `hy` needs `ant==4.9`, which is an sdist only; the image installs wheels
/// only, so `hy 2.0rc1` is locked. That succeeds, with a warning saying why a pre-release was taken.
#[test]
fn a_pre_release_chosen_because_no_final_release_fits_is_explained_in_a_warning() {
    use support::index_server::{IndexServer, Wheel};
    let server = IndexServer::builder()
        .wheel(
            Wheel::posing_as(
                "hy-1.0-py3-none-any.whl",
                &metadata("hy", "1.0", &[], &["ant==4.9"]),
            )
            .upload_time("2024-01-01T00:00:00Z"),
        )
        .wheel(
            Wheel::posing_as(
                "hy-2.0rc1-py3-none-any.whl",
                &metadata("hy", "2.0rc1", &[], &[]),
            )
            .upload_time("2024-02-01T00:00:00Z"),
        )
        .wheel(static_sdist("ant", "4.9"))
        .start();
    let project = Project::new(&server.url(), "hy>=1.0\n");
    // `--no-verify`: hy's wheels are six's file under other names, which verify rightly refuses.
    let out = project.run(&["resolve", "--no-verify", "--no-check-abi"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "hy==2.0rc1 is a pre-release, chosen because no final release fits on linux/amd64: \
             hy 1.0 requires `ant==4.9`, and ant 4.9 is sdist only"
        ),
        "{stderr}"
    );
    assert_eq!(long_lines(&stderr), Vec::<&str>::new(), "{stderr}");
}

/// Two problems whose first fixes undo each other, as in netbox-2026: `lowpin` needs six below 1.16,
/// `highpin` needs six 1.16 or later, and the input pins six. Lowering six for the first problem
/// brings up the second, whose fix raises six back. Neither fix resolves with the other's applied;
/// each is checked with the other problem's lines left out and says so, and the combination leaves
/// out the problem whose fix sets the shared line the other way, naming that line and both texts.
#[test]
fn fixes_that_undo_each_other_are_each_checked_with_the_other_problem_left_out() {
    let server = lowpin_and_highpin();
    let project = Project::new(&server.url(), "six==1.16.0\nlowpin==1.0\nhighpin==1.0\n");
    let out = project.run(&["resolve"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for expected in [
        "2 problems",
        "six==1.16.0  →  six==1.15.0",
        "six==1.15.0  →  six==1.16.0",
        "checked with the lines of problem 2 left out: it does not resolve with their first fixes",
        "checked with the lines of problem 1 left out: it does not resolve with their first fixes",
        "checked: the 1 first fixes together resolve (2 packages) with the lines of problem 2 left out",
        "problem 2 is left out: its fix makes requirements.in:1 `six==1.16.0`, problem 1's fix `six==1.15.0`",
        "Diagnosing demo: checking fix 1 of 2 (problem 1 of 2)",
        "Diagnosing demo: checking fix 2 of 2 (problem 2 of 2)",
    ] {
        assert!(stderr.contains(expected), "`{expected}` in:\n{stderr}");
    }
    for wrong in [
        "no fix could be checked",
        "[unexplained]",
        "fix (not confirmed)",
    ] {
        assert!(!stderr.contains(wrong), "no `{wrong}` in:\n{stderr}");
    }
    assert_eq!(long_lines(&stderr), Vec::<&str>::new(), "{stderr}");

    let out = project.run(&["resolve", "--format", "json", "-q"]);
    let report = demo::json(&out);
    let diagnosis = &report["images"][0]["diagnosis"];
    assert_eq!(
        diagnosis["problems"][0]["fixes"][0]["left-out"],
        serde_json::json!([2])
    );
    assert_eq!(
        diagnosis["problems"][1]["fixes"][0]["left-out"],
        serde_json::json!([1])
    );
    assert_eq!(diagnosis["combined"]["left-out"], serde_json::json!([2]));
    assert_eq!(diagnosis["combined"]["resolves"], true);
}

/// A requirement naming a project the index does not have, with a slip of the keys (`sxi` for `six`,
/// two letters swapped): the report suggests the project the index has, as a checked fix that renames
/// the line, and `--apply-fixes` writes it. A name nothing on the index resembles gets no suggestion,
/// and the index is asked about a bounded number of similar names only.
#[test]
fn a_mistyped_project_gets_a_checked_did_you_mean_and_a_nonsense_name_gets_none() {
    let server = demo::index();
    let project = Project::new(&server.url(), "idna\nsxi>=1.0 ; python_version >= '3'\n");
    let out = project.run(&["resolve"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for expected in [
        "1 problem",
        "[no-such-project] `sxi` is not on the index; did you mean `six`?",
        "at requirements.in:2",
        "fix (checked): did you mean `six`? it is on the index, `sxi` is not",
        "sxi>=1.0 ; python_version >= '3'  →  six>=1.0 ; python_version >= '3'",
        "checked: the 1 first fixes together resolve",
    ] {
        assert!(stderr.contains(expected), "`{expected}` in:\n{stderr}");
    }
    assert!(!stderr.contains("no fix could be checked"), "{stderr}");

    let (out, input) = apply_fixes(&project);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        input.contains("\nsix>=1.0 ; python_version >= '3'\n"),
        "{input}"
    );

    let nonsense = "zqxv-wplk-tttt";
    let project = Project::new(&server.url(), &format!("idna\n{nonsense}\n"));
    server.clear_requests();
    let out = project.run(&["resolve"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "[no-such-project] `{nonsense}` is not on the index\n"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "no project with a similar name is on the index either (30 similar names tried)"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("did you mean"), "{stderr}");
    // The page of every name asked about, once each: the missing name, idna, and the 30 probes.
    let pages: std::collections::BTreeSet<String> = server
        .requests()
        .into_iter()
        .map(|request| request.path)
        .filter(|path| path.starts_with("/simple/"))
        .collect();
    assert!(
        pages.len() <= 32,
        "{} pages asked for: {pages:?}",
        pages.len()
    );
    assert!(pages.len() >= 30, "{pages:?}");
}

/// A stand-in for CPython 3.11 whose every build fails as a real one can (here: the build environment
/// cannot be made), so that a failed sdist build is met without network or Python: it answers
/// fave-lock's version probe and fails anything else with a message on stderr.
fn failing_python(dir: &std::path::Path) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("python3.11");
    std::fs::write(
        &path,
        "#!/bin/sh\ncase \"$2\" in\n  *version_info*) echo '3.11 CPython' ;;\n  *) echo \"Error: cannot create the build environment ($*)\" >&2; exit 1 ;;\nesac\n",
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// sd-webui-versions in small: a mistyped project and, on another line, a release whose sdist fails to
/// build. Both are reported in one run, whichever the resolve meets first (the user fixes both lines at
/// once instead of meeting the second on the next run), the build with its log's last line, and the
/// combination says which lines its check left out.
#[test]
fn a_failed_build_and_a_missing_project_are_both_reported_in_one_run() {
    use support::index_server::{IndexServer, Wheel};
    let server = IndexServer::builder()
        .wheel(Wheel::fixture(demo::SIX).upload_time("2021-05-05T14:18:17Z"))
        .wheel(Wheel::fixture(demo::IDNA).upload_time("2024-09-15T18:07:37Z"))
        .wheel(sdist_of("brokenpkg", "1.0", "2.1"))
        .wheel(
            Wheel::posing_as(
                "usesbroken-1.0-py3-none-any.whl",
                &metadata("usesbroken", "1.0", &[], &["brokenpkg==1.0"]),
            )
            .upload_time("2024-01-01T00:00:00Z"),
        )
        .start();
    for (input, build_lines, typo_line) in [
        ("idna\nbrokenpkg==1.0\nusesbroken\nsxi\n", "2, 3", 4),
        ("sxi\nidna\nbrokenpkg==1.0\n", "3", 1),
    ] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("requirements.in"), input).unwrap();
        let python = failing_python(dir.path());
        let output = dir.path().join("out.txt");
        let out = support::project::ad_hoc_command(dir.path(), &server.url(), &output)
            .env("FAVE_LOCK_PYTHON", &python)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        for expected in [
            "2 problems".to_string(),
            "[no-such-project] `sxi` is not on the index; did you mean `six`?".to_string(),
            format!("at requirements.in:{typo_line}"),
            "fix (checked): did you mean `six`?".to_string(),
            "[build-failed] `brokenpkg==1.0`: the sdist of brokenpkg 1.0 failed to build".to_string(),
            format!("at requirements.in:{build_lines}; on linux/amd64"),
            "| Error: cannot create the build environment".to_string(),
            "checked: the 1 first fixes together resolve (2 packages) with the lines of problem 2 left out"
                .to_string(),
        ] {
            assert!(stderr.contains(&expected), "`{expected}` in:\n{stderr}");
        }
        assert_eq!(
            stderr.contains("also needed by `usesbroken` (line 3)"),
            build_lines == "2, 3",
            "{stderr}"
        );
        for wrong in [
            "[no-matching-wheel]",
            "[unexplained]",
            "sdists are not allowed here",
        ] {
            assert!(!stderr.contains(wrong), "no `{wrong}` in:\n{stderr}");
        }
        assert_eq!(long_lines(&stderr), Vec::<&str>::new(), "{stderr}");
        assert!(!output.exists(), "nothing written");
    }
}

/// An index where `lowpin` needs six below 1.16 and `highpin` 1.16 or later: pinning six satisfies
/// one of them at most.
fn lowpin_and_highpin() -> support::index_server::IndexServer {
    use support::index_server::Wheel;
    six_1_15_and_1_16()
        .wheel(
            Wheel::posing_as(
                "lowpin-1.0-py3-none-any.whl",
                &metadata("lowpin", "1.0", &[], &["six<1.16"]),
            )
            .upload_time("2024-01-01T00:00:00Z"),
        )
        .wheel(
            Wheel::posing_as(
                "highpin-1.0-py3-none-any.whl",
                &metadata("highpin", "1.0", &[], &["six>=1.16"]),
            )
            .upload_time("2024-01-01T00:00:00Z"),
        )
        .start()
}

/// `--apply-fixes` on two problems whose fixes set one line two ways (as netbox-2026's django pins):
/// each run wrote the fix of the problem it saw first, which brought up the other, so six went
/// 1.16.0 → 1.15.0 → 1.16.0 run after run. The comment above the changed line records what it was; a
/// fix that would set it back is not written, the report says which line clashes, and the runs stop
/// with exit 1 and the file as the first fix left it.
#[test]
fn apply_fixes_stops_instead_of_alternating_between_clashing_fixes() {
    let server = lowpin_and_highpin();
    let project = Project::new(&server.url(), "six==1.16.0\nlowpin==1.0\nhighpin==1.0\n");
    let (out, input) = apply_fixes(&project);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        input.ends_with(
            "# fave-lock: two requirements conflict: lowpin==1.0 requires six<1.16, but six==1.16.0 \
             is pinned (was `six==1.16.0`)\nsix==1.15.0\nlowpin==1.0\nhighpin==1.0\n"
        ),
        "{input}"
    );
    let clash = "not applied: problem 1's fix would set requirements.in:2 back to `six==1.16.0`, which an \
                 earlier --apply-fixes replaced (see the `# fave-lock:` comments above it): the fixes \
                 clash, so choose by hand";
    assert!(stderr.contains(clash), "`{clash}` in:\n{stderr}");
    assert_eq!(long_lines(&stderr), Vec::<&str>::new(), "{stderr}");

    // Running again changes nothing more: the same clash, named again.
    let (again, unchanged) = apply_fixes(&project);
    assert_eq!(again.status.code(), Some(1), "{}", text(&again));
    assert_eq!(unchanged, input);
    assert!(
        String::from_utf8_lossy(&again.stderr).contains(clash),
        "{}",
        text(&again)
    );

    let out = project.run(&["resolve", "--format", "json", "--apply-fixes", "-q"]);
    let report = demo::json(&out);
    let not_applied = &report["images"][0]["diagnosis"]["not-applied"];
    assert_eq!(not_applied.as_array().map(Vec::len), Some(1), "{report}");
}
