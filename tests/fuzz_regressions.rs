//! Replays the fuzz targets' seed corpora (`fuzz/corpus/<target>/`) and every crash input fuzzing found
//! (`fuzz/regressions/<target>/`) through the same entry points libFuzzer calls, on stable Rust without
//! libFuzzer, so that a fixed crash cannot come back unnoticed. See docs/fuzzing.md.
//!
//! `fuzz/known/<target>/` holds crash inputs of bugs not fixed yet (panics in pep508_rs, issue 12):
//! `known_crashes_no_longer_crash` replays them when run with `--ignored`; when it passes, move the
//! inputs to `fuzz/regressions/`. Until the `~=` panic is fixed, it poisons pep508_rs's global marker
//! interner, so every marker input replayed after it fails too. `fuzz/known-fatal/` (a stack overflow
//! and an endless read of `/dev/zero`, which would take the test process or the machine's memory with
//! them) is not replayed here.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use fave_lock::fuzzing::{FuzzEntry, TARGETS};

fn fuzz_dir(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(kind)
}

/// Every file under `fuzz/<kind>/<target>/`, sorted, for each target.
fn inputs(kind: &str) -> Vec<(&'static str, FuzzEntry, PathBuf)> {
    let mut inputs = Vec::new();
    for &(target, run) in TARGETS {
        let Ok(entries) = std::fs::read_dir(fuzz_dir(kind).join(target)) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = entries.map(|entry| entry.unwrap().path()).collect();
        paths.sort();
        inputs.extend(paths.into_iter().map(|path| (target, run, path)));
    }
    inputs
}

/// Run each input, and fail naming every one that panicked (a stack overflow or hang still fails the
/// whole test: that is the point).
fn replay(inputs: &[(&str, FuzzEntry, PathBuf)]) {
    let failures: Vec<String> = inputs
        .iter()
        .filter_map(|(target, run, path)| {
            let bytes = std::fs::read(path).unwrap();
            catch_unwind(AssertUnwindSafe(|| run(&bytes)))
                .err()
                .map(|_| format!("{target}: {}", path.display()))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "inputs that panic:\n{}",
        failures.join("\n")
    );
}

#[test]
fn every_target_has_a_seed_corpus_that_runs_cleanly() {
    let inputs = inputs("corpus");
    for (target, _) in TARGETS {
        assert!(
            inputs.iter().any(|(name, _, _)| name == target),
            "no seed corpus in fuzz/corpus/{target}"
        );
    }
    replay(&inputs);
}

#[test]
fn every_crash_fuzzing_found_stays_fixed() {
    replay(&inputs("regressions"));
}

#[test]
#[ignore = "bugs of issue 12 that other changes fix; run with --ignored once they are merged"]
fn known_crashes_no_longer_crash() {
    let inputs = inputs("known");
    assert!(!inputs.is_empty());
    replay(&inputs);
}

#[test]
fn every_fuzz_target_has_a_source_file() {
    for (target, _) in TARGETS {
        let source =
            Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("fuzz/fuzz_targets/{target}.rs"));
        assert!(source.is_file(), "{} is missing", source.display());
    }
}
