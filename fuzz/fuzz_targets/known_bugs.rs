//! Crashes already known, which other changes fix (issue 12): skipping them keeps a run finding new bugs
//! instead of the same few again. `FAVE_LOCK_FUZZ_KNOWN=1` fuzzes them all too, which is how
//! docs/fuzzing.md checks that the targets find them; `FAVE_LOCK_FUZZ_KNOWN=nesting` (or `devices`,
//! `algebra.rs`, `lib.rs:477`, …) lets only that one through. Delete an entry, and this file, once its
//! fix is merged; the inputs are in fuzz/known/ and fuzz/known-fatal/.
//!
//! Three are skipped before the call, because they kill or taint the process: a marker nested deeper
//! than the stack allows (`((((…))))`, stack overflow), `-r /dev/zero` or another device or proc file
//! as an include (endless read), and `'2.7.0' ~= os_name` (a panic in pep508_rs's marker algebra that
//! poisons its global interner). The others are panics inside pep508_rs, caught and skipped by where
//! they panic, so that a panic anywhere else, in pep508_rs too, still stops the run:
//!
//! - found by these targets: a package name or extra ending in `-`, `_` or `.` followed by a character
//!   that cannot continue it, or by the end (`six_ ; os_name == "posix"`, `requests[socks_`): "validation
//!   should match PEP 508 parsing";
//! - found by these targets: a non-ASCII character where the parser reports an error after a marker
//!   (`a ; os_name == "x" é`): the error message slices the input inside the character.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{LazyLock, Once};

/// Where pep508_rs 0.9.2 panics on the known inputs.
const KNOWN_PANICS: &[(&str, u32)] = &[
    ("src/lib.rs", 477),
    ("src/lib.rs", 658),
    ("src/cursor.rs", 40),
];

static FUZZ_KNOWN: LazyLock<String> =
    LazyLock::new(|| std::env::var("FAVE_LOCK_FUZZ_KNOWN").unwrap_or_default());

/// Whether `FAVE_LOCK_FUZZ_KNOWN` lets the known bug named `name` through.
fn is_fuzzed(name: &str) -> bool {
    let value = FUZZ_KNOWN.as_str();
    value == "1" || (!value.is_empty() && name.contains(value))
}

/// Run `entry` on `data` unless it is a known crash.
pub fn run(entry: fn(&[u8]), data: &[u8]) {
    if (!is_fuzzed("nesting") && nesting(data) > 64)
        || (!is_fuzzed("devices") && names_special_files(data))
        || (!is_fuzzed("algebra.rs") && has_variable_after_tilde_equal(data))
    {
        return;
    }
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        // libFuzzer's hook aborts on every panic; let the known ones unwind to the catch below.
        let abort = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !info.location().is_some_and(|location| {
                location.file().contains("pep508_rs-")
                    && KNOWN_PANICS.iter().any(|&(file, line)| {
                        location.file().ends_with(file)
                            && location.line() == line
                            && !is_fuzzed(&format!("{file}:{line}"))
                    })
            }) {
                abort(info);
            }
        }));
    });
    let _ = catch_unwind(AssertUnwindSafe(|| entry(data)));
}

fn nesting(data: &[u8]) -> usize {
    let mut depth = 0_usize;
    let mut deepest = 0;
    for &byte in data {
        match byte {
            b'(' => depth += 1,
            b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        deepest = deepest.max(depth);
    }
    deepest
}

/// `'2.7.0' ~= os_name` panics while pep508_rs holds its global marker interner's lock, which poisons
/// the lock: every later marker in the process would panic too. So it is skipped before the call.
fn has_variable_after_tilde_equal(data: &[u8]) -> bool {
    data.windows(2).enumerate().any(|(at, pair)| {
        pair == b"~="
            && data[at + 2..]
                .iter()
                .find(|byte| !byte.is_ascii_whitespace())
                .is_some_and(u8::is_ascii_alphabetic)
    })
}

fn names_special_files(data: &[u8]) -> bool {
    [b"/dev" as &[u8], b"/proc", b"/sys"]
        .iter()
        .any(|prefix| data.windows(prefix.len()).any(|window| window == *prefix))
}
