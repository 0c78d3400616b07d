//! fave-lock against uv on the real-world corpus (`tests/corpus/`, see `docs/corpus.md`), live PyPI at a
//! fixed exclude-newer, same target as `scripts/corpus-compare.py`. For every entry file (a `.txt` no
//! other one includes with `-r`/`-c`):
//! - both succeed: the same `name==version` set;
//! - uv succeeds: fave-lock must too (in ad hoc mode both build sdists, so a failure is a bug);
//! - both fail: fave-lock's report has problems, none `[unexplained]`, and names every package uv's
//!   error blames (its derivation's "Because foo==1 ...", its "Failed to build `bar`").
//!
//! Every file runs uv then fave-lock, two files at a time. It takes minutes (sdist builds, cold caches),
//! so it is opt-in: `cargo test --test corpus -- --ignored`, with `FAVE_LOCK_TEST_VENV` pointing at the
//! tools venv (uv). `FAVE_LOCK_CORPUS=netbox-2026.txt,whisper.txt` runs only those files (paths under
//! `tests/corpus/`); `FAVE_LOCK_CORPUS_TIMEOUT` (seconds, default 300) is where a run is killed, a
//! safety net reported as a failure, not a timing assertion.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use support::live::{UV_TARGET, fave_lock, normalize_name as normalize, repo, tools};

/// Files compared at once: each tool runs builds and resolver threads; the machine has few cores.
const WORKERS: usize = 2;

/// Names uv's error text uses that are not packages.
const NOT_PACKAGES: &[&str] = &[
    "you", "we", "the", "your", "it", "all", "version", "versions", "python", "supports",
];

fn corpus() -> PathBuf {
    repo().join("tests/corpus")
}

/// `-r FILE`, `-c FILE`, `--requirement FILE`, `--constraint=FILE`: the file a line includes.
fn included(line: &str) -> Option<&str> {
    let line = line.trim_start();
    let rest = ["--requirement", "--constraint", "-r", "-c"]
        .iter()
        .find_map(|flag| line.strip_prefix(flag))?;
    let rest = rest.trim_start_matches(|c: char| c == '=' || c.is_whitespace());
    rest.split_whitespace().next()
}

fn txt_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            txt_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "txt") {
            out.push(path);
        }
    }
}

/// The corpus's entry files, or those `FAVE_LOCK_CORPUS` names.
fn entry_files() -> Vec<PathBuf> {
    let files = all_entry_files();
    if let Ok(chosen) = std::env::var("FAVE_LOCK_CORPUS") {
        let chosen: Vec<PathBuf> = chosen
            .split(',')
            .filter(|name| !name.trim().is_empty())
            .map(|name| corpus().join(name.trim()))
            .collect();
        for path in &chosen {
            assert!(
                files.contains(path),
                "FAVE_LOCK_CORPUS: no entry file {}",
                path.display()
            );
        }
        return chosen;
    }
    files
}

/// Every `.txt` of the corpus that no other one includes.
fn all_entry_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    txt_files(&corpus(), &mut files);
    let mut includes = BTreeSet::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for name in text.lines().filter_map(included) {
            let path = file.parent().unwrap().join(name);
            includes.insert(path.canonicalize().unwrap_or(path));
        }
    }
    files.retain(|file| !includes.contains(&file.canonicalize().unwrap()));
    files
}

/// `name==version` lines of a lock (uv's output or fave-lock's requirements.txt).
fn pins(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|line| {
            let (name, rest) = line.split_once("==")?;
            let name = name.trim();
            if name.is_empty() || name.starts_with('#') || name.contains(' ') {
                return None;
            }
            let version = rest.split([' ', ';', '\\']).next()?.trim();
            Some((normalize(name), version.to_string()))
        })
        .collect()
}

/// The package names uv's error blames: "Because foo==1 has no wheels", "and bar>=2 depends on",
/// "Failed to build `baz==1.0`".
fn uv_blamed(stderr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let words: Vec<&str> = stderr.split_whitespace().collect();
    let mut add = |raw: &str| {
        let end = raw
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
            .unwrap_or(raw.len());
        let name = normalize(raw[..end].trim_end_matches('.'));
        if !name.is_empty() && !NOT_PACKAGES.contains(&name.as_str()) && !names.contains(&name) {
            names.push(name);
        }
    };
    for (index, word) in words.iter().enumerate() {
        if let Some(built) = word.strip_prefix('`')
            && index >= 2
            && words[index - 1] == "build"
        {
            add(built);
        }
        let lead = matches!(
            *word,
            "Because" | "and" | "that" | "of" | "on" | "requires" | "only"
        );
        if lead && let Some(next) = words.get(index + 1) {
            // A requirement (`foo==1`, `bar>=2`, `baz[x]<3`), or a name followed by a verb.
            let is_requirement = next.contains(['=', '<', '>', '~', '!']);
            let verb = words.get(index + 2).is_some_and(|after| {
                matches!(*after, "was" | "has" | "is" | "are" | "cannot" | "depends")
            });
            if next
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric())
                && (is_requirement || verb)
            {
                add(next);
            }
        }
    }
    names
}

struct Run {
    code: Option<i32>,
    killed: bool,
    stderr: String,
    pins: BTreeMap<String, String>,
    seconds: f64,
}

impl Run {
    /// The outcome of [`run_limited`], with the pins of `lock` when the tool succeeded.
    fn of((code, killed, stderr, seconds): (Option<i32>, bool, String, f64), lock: &Path) -> Run {
        let text = std::fs::read_to_string(lock).unwrap_or_default();
        Run {
            pins: if code == Some(0) {
                pins(&text)
            } else {
                BTreeMap::new()
            },
            code,
            killed,
            stderr,
            seconds,
        }
    }
}

/// Run `command` in its own process group, killing the group at the timeout.
fn run_limited(mut command: Command, out: &Path) -> (Option<i32>, bool, String, f64) {
    use std::os::unix::process::CommandExt;
    let timeout = std::env::var("FAVE_LOCK_CORPUS_TIMEOUT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300.0);
    let stderr_path = out.with_extension("stderr");
    command
        .stdout(std::fs::File::create(out).unwrap())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .stdin(Stdio::null())
        .process_group(0);
    let started = Instant::now();
    let mut child = command.spawn().expect("the tool starts");
    let deadline = started + Duration::from_secs_f64(timeout);
    let (code, killed) = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break (status.code(), false);
        }
        if Instant::now() >= deadline {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.wait();
            break (None, true);
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    (code, killed, stderr, started.elapsed().as_secs_f64())
}

fn run_uv(file: &Path, work: &Path) -> Run {
    let mut command = Command::new(tools().join("bin/uv"));
    command
        .args(["pip", "compile"])
        .arg(file)
        .args(UV_TARGET)
        .args(["--no-header", "--no-annotate"])
        .arg("--cache-dir")
        .arg(repo().join(".cache/uv-corpus"))
        .env("UV_NO_CONFIG", "1")
        .env("NO_COLOR", "1");
    let out = work.join("uv.txt");
    Run::of(run_limited(command, &out), &out)
}

fn run_fave(file: &Path, work: &Path) -> Run {
    let lock = work.join("fave-lock.txt");
    let mut command = fave_lock();
    command
        .args(["resolve", "-r"])
        .arg(file)
        .args(UV_TARGET)
        .args(["--no-check-abi", "-o"])
        .arg(&lock)
        .env("NO_COLOR", "1");
    Run::of(run_limited(command, &work.join("fave.out")), &lock)
}

/// What is wrong with fave-lock's outcome on one file, if anything.
fn judge(uv: &Run, fave: &Run) -> Result<&'static str, String> {
    if fave.killed || uv.killed {
        return Err(format!(
            "killed at the timeout (uv {}, fave-lock {})",
            uv.killed, fave.killed
        ));
    }
    match (uv.code == Some(0), fave.code == Some(0)) {
        (true, true) if uv.pins == fave.pins => Ok("same"),
        (true, true) => {
            let names: BTreeSet<&String> = uv.pins.keys().chain(fave.pins.keys()).collect();
            let differences: Vec<String> = names
                .into_iter()
                .filter(|name| uv.pins.get(*name) != fave.pins.get(*name))
                .map(|name| {
                    let show = |pins: &BTreeMap<String, String>| {
                        pins.get(name).cloned().unwrap_or_else(|| "-".to_string())
                    };
                    format!(
                        "{name}: uv {} / fave-lock {}",
                        show(&uv.pins),
                        show(&fave.pins)
                    )
                })
                .collect();
            Err(format!("different sets: {}", differences.join(", ")))
        }
        (true, false) => Err(format!(
            "uv resolves, fave-lock fails (exit {:?}):\n{}",
            fave.code,
            tail(&fave.stderr)
        )),
        (false, true) => Ok("uv fails, fave-lock resolves"),
        (false, false) => {
            let report = normalize(&fave.stderr);
            let missing: Vec<String> = uv_blamed(&uv.stderr)
                .into_iter()
                .filter(|name| !report.contains(name.as_str()))
                .filter(|name| !uv_only_refusal(&uv.stderr, name))
                .collect();
            if fave.code == Some(2) && names_an_input_line(&fave.stderr) {
                // A file neither tool can read (a committed merge conflict): an input error at its line
                // is the report a user needs.
                Ok("both refuse the file, fave-lock naming the line")
            } else if fave.code != Some(1) || !fave.stderr.contains(". [") {
                Err(format!(
                    "both fail, but fave-lock has no report (exit {:?}):\n{}",
                    fave.code,
                    tail(&fave.stderr)
                ))
            } else if fave.stderr.contains("[unexplained]") {
                Err("both fail; fave-lock's report has an [unexplained] problem".to_string())
            } else if !missing.is_empty() {
                Err(format!(
                    "both fail; fave-lock's report does not name {} (uv blames them)",
                    missing.join(", ")
                ))
            } else {
                Ok("both fail, every cause named")
            }
        }
    }
}

/// Whether uv blames `name` only for a refusal of its own that pip does not share: an sdist whose
/// filename is not PEP 625's (`gin-0.1.006.tar.bz2`), which pip installs and so fave-lock locks.
fn uv_only_refusal(stderr: &str, name: &str) -> bool {
    stderr.lines().any(|line| {
        line.contains("non-PEP 625-compliant source distribution filename")
            && normalize(line).contains(&format!("because {name}=="))
    })
}

/// Whether both resolved and every difference is a release uv chose although all its files'
/// Requires-Python exclude the target's 3.11: uv ignores upper bounds there by design, pip and
/// fave-lock honour them (resemblyzer's `typing`: uv 3.10.0.0, `<3.5`; pip and fave-lock 3.7.4.3).
fn uv_ignored_requires_python(uv: &Run, fave: &Run) -> bool {
    if uv.code != Some(0) || fave.code != Some(0) || uv.pins.len() != fave.pins.len() {
        return false;
    }
    let differing: Vec<(&String, &String)> = uv
        .pins
        .iter()
        .filter(|(name, version)| fave.pins.get(*name) != Some(*version))
        .collect();
    !differing.is_empty()
        && differing
            .iter()
            .all(|(name, version)| excludes_python_3_11(name, version))
}

/// Whether every file of `name` `version` on PyPI declares a Requires-Python without 3.11.
fn excludes_python_3_11(name: &str, version: &str) -> bool {
    let out = Command::new("curl")
        .args(["-sf", "-H", "Accept: application/vnd.pypi.simple.v1+json"])
        .arg(format!("https://pypi.org/simple/{name}/"))
        .output();
    let Ok(out) = out else { return false };
    let Ok(page) = serde_json::from_slice::<serde_json::Value>(&out.stdout) else {
        return false;
    };
    let python = pep440_rs::Version::new([3, 11]);
    let files: Vec<&serde_json::Value> = page["files"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|file| {
            let filename = file["filename"].as_str().unwrap_or_default();
            [name.replace('-', "_"), name.to_string()]
                .iter()
                .any(|stem| {
                    filename
                        .strip_prefix(&format!("{stem}-{version}"))
                        .is_some_and(|rest| {
                            rest.starts_with('-')
                                || rest.starts_with(".tar")
                                || rest.starts_with(".zip")
                        })
                })
        })
        .collect();
    !files.is_empty()
        && files.iter().all(|file| {
            file["requires-python"]
                .as_str()
                .and_then(|text| text.parse::<pep440_rs::VersionSpecifiers>().ok())
                .is_some_and(|specifiers| !specifiers.contains(&python))
        })
}

/// An error of the form `error: <file>:<line>: …`: an input error that names where the file is wrong.
fn names_an_input_line(stderr: &str) -> bool {
    stderr.lines().any(|line| {
        line.strip_prefix("error: ").is_some_and(|rest| {
            let mut parts = rest.splitn(3, ':');
            let (file, line) = (parts.next(), parts.next());
            file.is_some_and(|file| file.ends_with(".txt") || file.ends_with(".in"))
                && line.is_some_and(|line| {
                    !line.is_empty() && line.bytes().all(|b| b.is_ascii_digit())
                })
        })
    })
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// One file's verdict, with uv's and fave-lock's wall times.
type Outcome = (PathBuf, Result<&'static str, String>, f64, f64);

#[test]
#[ignore = "the whole corpus against uv on live PyPI: minutes; run with --ignored (see the file's doc)"]
fn fave_lock_agrees_with_uv_on_the_corpus() {
    let files = entry_files();
    assert!(!files.is_empty(), "no corpus files");
    let queue = Mutex::new(files.clone());
    let results: Mutex<Vec<Outcome>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..WORKERS {
            scope.spawn(|| {
                loop {
                    let Some(file) = queue.lock().unwrap().pop() else {
                        break;
                    };
                    let work = tempfile::tempdir().unwrap();
                    let uv = run_uv(&file, work.path());
                    let fave = run_fave(&file, work.path());
                    let verdict = judge(&uv, &fave).or_else(|problem| {
                        if uv_ignored_requires_python(&uv, &fave) {
                            Ok("same but where uv ignores a Requires-Python upper bound (pip agrees with fave-lock)")
                        } else {
                            Err(problem)
                        }
                    });
                    results
                        .lock()
                        .unwrap()
                        .push((file, verdict, uv.seconds, fave.seconds));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by(|a, b| a.0.cmp(&b.0));
    let mut failures = Vec::new();
    for (file, verdict, uv_seconds, fave_seconds) in &results {
        let name = file.strip_prefix(corpus()).unwrap_or(file).display();
        match verdict {
            Ok(outcome) => {
                eprintln!(
                    "ok   {name}: {outcome} (uv {uv_seconds:.1} s, fave-lock {fave_seconds:.1} s)"
                );
            }
            Err(problem) => {
                eprintln!("FAIL {name}: {problem}");
                failures.push(format!("{name}: {problem}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} corpus files disagree with uv:\n{}",
        failures.len(),
        results.len(),
        failures.join("\n")
    );
}

#[test]
fn uv_blames_the_packages_its_derivation_names() {
    let stderr = "  × No solution found when resolving dependencies:\n  ╰─▶ Because webrtcvad==2.0.10 has no wheels \
                  and only django<2 is available, we can conclude that foo-bar>=2 cannot be used.\n\
                  error: Failed to build `psycopg2==2.6`";
    let blamed = uv_blamed(stderr);
    for name in ["psycopg2", "webrtcvad", "django", "foo-bar"] {
        assert!(blamed.contains(&name.to_string()), "{name} in {blamed:?}");
    }
    assert!(!blamed.contains(&"we".to_string()), "{blamed:?}");
}

#[test]
fn the_corpus_entry_files_leave_out_the_files_they_include() {
    let files = all_entry_files();
    let names: Vec<String> = files
        .iter()
        .map(|f| f.strip_prefix(corpus()).unwrap().display().to_string())
        .collect();
    assert!(names.contains(&"netbox-2026.txt".to_string()), "{names:?}");
    assert!(
        !names
            .iter()
            .any(|n| n == "bakerydemo/requirements/base.txt"),
        "included with -r by production.txt: {names:?}"
    );
    assert_eq!(
        pins("foo_Bar==1.0 ; python_version >= '3'\n# c==2\n")["foo-bar"],
        "1.0"
    );
}

#[test]
fn the_verdicts_fail_on_every_disagreement() {
    let run = |code: i32, stderr: &str, pinned: &[(&str, &str)]| Run {
        code: Some(code),
        killed: false,
        stderr: stderr.to_string(),
        pins: pinned
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
        seconds: 0.0,
    };
    let six = [("six", "1.16.0")];
    assert_eq!(judge(&run(0, "", &six), &run(0, "", &six)), Ok("same"));
    let other = run(0, "", &[("six", "1.15.0")]);
    assert!(judge(&run(0, "", &six), &other).is_err());
    assert!(judge(&run(0, "", &six), &run(1, "error", &[])).is_err());
    let uv_error = "Because webrtcvad==2.0.10 has no wheels, we can conclude that ...";
    let named = "1. [no-matching-wheel] `webrtcvad==2.0.10`: sdist only";
    assert!(judge(&run(1, uv_error, &[]), &run(1, named, &[])).is_ok());
    let unnamed = "1. [conflict] `six==1`: something else";
    assert!(judge(&run(1, uv_error, &[]), &run(1, unnamed, &[])).is_err());
    let unexplained = "1. [unexplained] webrtcvad: no solution";
    assert!(judge(&run(1, uv_error, &[]), &run(1, unexplained, &[])).is_err());
    assert!(judge(&run(1, uv_error, &[]), &run(2, "error: webrtcvad", &[])).is_err());
    // A file neither tool can read: fave-lock's error must name the line.
    let at_line = "error: tests/corpus/mailu-conflict.txt:15: invalid requirement `<<<<<<< HEAD`";
    assert!(judge(&run(2, "error: parse", &[]), &run(2, at_line, &[])).is_ok());
    let pep_625 = "  cause: Because gin==0.1.6 has a non-PEP 625-compliant source distribution filename and you require gin==0.1.6, we can conclude that your requirements are unsatisfiable.";
    assert!(judge(&run(1, pep_625, &[]), &run(1, named, &[])).is_ok());
    let nowhere = "error: cannot read the sdist `gin-0.1.006.tar.bz2`";
    assert!(judge(&run(2, "error: parse", &[]), &run(2, nowhere, &[])).is_err());
}
