//! An image's `platforms`: which OCI platforms to lock for, each with the glibc floor of the image.
//!
//! Accepted both as an array of inline tables and as `[[image.platforms]]` tables, because TOML users
//! write either. The glibc floor is parsed here into [`Platform`] directly, without going through
//! `Platform::from_str`, since the config spells it as OCI name plus `2_N`.

use toml_edit::{Array, Item};

use super::PlatformConfig;
use super::checker::Checker;
use super::keys::PLATFORM_KEYS;
use super::values;
use crate::tags::Platform;

/// What one entry looks like, for messages.
const EXAMPLE: &str = r#"`{ platform = "linux/amd64", manylinux = "2_36" }`"#;

/// The name used for an entry in messages.
const ENTRY: &str = "a `platforms` entry";

/// Validate `platforms`; problems go to `checker`, and only valid, distinct entries are returned.
pub(super) fn platforms(checker: &mut Checker<'_>, item: &Item) -> Vec<PlatformConfig> {
    let Some(entries) = checker.tables(item, "platforms", EXAMPLE) else {
        return Vec::new();
    };
    if item.as_array().is_some_and(Array::is_empty) {
        let line = checker.line(item.span());
        checker.report(
            line,
            format!("`platforms` is empty: list at least one, like {EXAMPLE}"),
        );
    }
    let mut platforms: Vec<(PlatformConfig, usize)> = Vec::new();
    for (table, line) in entries {
        checker.keys(table, PLATFORM_KEYS, PLATFORM_KEYS, line, ENTRY);
        let arch = checker.parsed(table, "platform", r#""linux/amd64""#, values::architecture);
        let glibc = checker.parsed(table, "manylinux", r#""2_36""#, values::glibc);
        let (Some(arch), Some(glibc)) = (arch, glibc) else {
            continue;
        };
        let oci = table
            .get("platform")
            .and_then(Item::as_str)
            .unwrap_or_default()
            .to_string();
        if let Some((_, first)) = platforms.iter().find(|(platform, _)| platform.oci == oci) {
            let message = format!(
                "platform \"{oci}\" is listed twice (first at line {first}); keep one entry"
            );
            checker.report(line, message);
            continue;
        }
        platforms.push((
            PlatformConfig {
                oci,
                platform: Platform { arch, glibc },
            },
            line,
        ));
    }
    platforms
        .into_iter()
        .map(|(platform, _)| platform)
        .collect()
}
