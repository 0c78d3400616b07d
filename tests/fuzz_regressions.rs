//! Replays the fuzz targets' seed corpora (`fuzz/corpus/<target>/`) and every crash input fuzzing found
//! (`fuzz/regressions/<target>/`) through the same entry points libFuzzer calls, on stable Rust without
//! libFuzzer, so that a fixed crash cannot come back unnoticed. See docs/fuzzing.md.
//!
//! Every input here was a crash once: the three issue-12 bugs (a `~=` marker panic, a stack overflow
//! on deep parentheses, an endless read of `-r /dev/zero`) and three pep508_rs 0.9.2 panics fuzzing
//! found (a name or extra ending in `-_.`, a non-ASCII character after a marker), all now refused by
//! `requirements::pep508` and `requirements::source` before the parser or the read.

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
fn every_fuzz_target_has_a_source_file() {
    for (target, _) in TARGETS {
        let source =
            Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("fuzz/fuzz_targets/{target}.rs"));
        assert!(source.is_file(), "{} is missing", source.display());
    }
}
