//! Inputs that hit crashes already known and fixed elsewhere (issue 12): skipping them keeps a run finding
//! new bugs instead of the same few again. `FAVE_LOCK_FUZZ_KNOWN=nesting,tilde,devices,names` (or `all`)
//! fuzzes the named ones too, which is how docs/fuzzing.md checks that the targets find them. Delete a
//! check, and this file, once its fix is merged; the inputs are in fuzz/known/.
//!
//! - `nesting`: a marker nested deeper than the stack allows (`((((…))))`): stack overflow;
//! - `tilde`: `'2.7.0' ~= os_name`, a `~=` with a marker variable on its right: a panic in pep508_rs;
//! - `devices`: `-r /dev/zero` and other device or proc files as includes: an endless read;
//! - `names`: found by these targets, in pep508_rs: a package name ending in `-`, `_` or `.` followed by
//!   a character that cannot continue it (`six_ ; os_name == "posix"`, `b- x`) panics in its name parser
//!   ("`PackageName` validation should match PEP 508 parsing").

use std::sync::LazyLock;

/// The checks `FAVE_LOCK_FUZZ_KNOWN` turns off.
static FUZZED: LazyLock<String> =
    LazyLock::new(|| std::env::var("FAVE_LOCK_FUZZ_KNOWN").unwrap_or_default());

fn skips(bug: &str) -> bool {
    !FUZZED.split(',').any(|name| name == bug || name == "all")
}

/// Whether `data` would only rediscover one of the known bugs.
pub fn is_known(data: &[u8]) -> bool {
    (skips("nesting") && nesting(data) > 64)
        || (skips("tilde") && has_variable_after_tilde_equal(data))
        || (skips("devices") && names_special_files(data))
        || (skips("names") && has_name_ending_in_separator(data))
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

/// Whether `data` holds `name_` (or `name-`, `name.`) followed by a byte that cannot continue a name.
fn has_name_ending_in_separator(data: &[u8]) -> bool {
    let is_name_byte =
        |byte: u8| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.');
    data.windows(3).any(|window| {
        window[0].is_ascii_alphanumeric()
            && matches!(window[1], b'-' | b'_' | b'.')
            && !is_name_byte(window[2])
    })
}
