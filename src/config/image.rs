//! One `[[image]]` table: what to lock, for which interpreter and platforms, and where to write it.

use std::str::FromStr;

use pep508_rs::PackageName;
use toml_edit::{Item, TableLike};

use super::ImageConfig;
use super::checker::{Checker, describe, describe_value};
use super::keys::IMAGE_KEYS;
use super::platforms;
use super::values;

/// Keys an image must set: there is no sensible default for any of them.
const REQUIRED: &[&str] = &[
    "name",
    "python-version",
    "requirements",
    "output",
    "platforms",
];

/// The name used for the table in messages.
const TABLE: &str = "`[[image]]`";

/// Validate one image table whose header is at `line`. Problems go to `checker`; the image is
/// returned only when every required value is valid. `canonical` is left empty for the caller, which
/// knows the top-level values it includes.
pub(super) fn image(
    checker: &mut Checker<'_>,
    table: &dyn TableLike,
    line: usize,
) -> Option<ImageConfig> {
    checker.keys(table, IMAGE_KEYS, REQUIRED, line, TABLE);
    let name = checker.parsed(table, "name", r#""fave-base""#, |text| {
        values::image_name(text).map(|()| text.to_string())
    });
    let python_version =
        checker.parsed(table, "python-version", r#""3.11""#, values::python_version);
    let requirements = checker.parsed(
        table,
        "requirements",
        r#""base-image/requirements.in""#,
        values::requirements,
    );
    let output = checker.parsed(table, "output", r#""locks/fave-base""#, values::output);
    let registry = checker.parsed(
        table,
        "registry",
        r#""ghcr.io/fave-project/fave-base""#,
        |text| values::registry(text).map(|()| text.to_string()),
    );
    let allow_all_sdists = table
        .get("allow-sdist")
        .and_then(Item::as_bool)
        .unwrap_or(false);
    let allow_sdist = table
        .get("allow-sdist")
        .filter(|item| item.as_bool().is_none())
        .map_or_else(Vec::new, |item| allow_sdist(checker, item));
    let targets = table
        .get("platforms")
        .map(|item| platforms::platforms(checker, item));
    let build = super::build::build(checker, table);
    let registry_insecure = checker
        .boolean(table, "registry-insecure", "true for a plain-HTTP registry")
        .unwrap_or(false);
    Some(ImageConfig {
        name: name?,
        python_version: python_version?,
        platforms: targets.filter(|targets| !targets.is_empty())?,
        requirements: requirements?,
        output: output?,
        allow_sdist,
        allow_all_sdists,
        registry,
        registry_insecure,
        build,
        line,
        canonical: String::new(),
    })
}

/// `allow-sdist`: package names, normalised, sorted and deduplicated since it is a set.
fn allow_sdist(checker: &mut Checker<'_>, item: &Item) -> Vec<PackageName> {
    let Some(array) = item.as_array() else {
        let line = checker.line(item.span());
        let message = format!(
            "`allow-sdist` must be `true` or an array of package names like [\"pycairo\"], found {}",
            describe(item)
        );
        checker.report(line, message);
        return Vec::new();
    };
    let mut names = Vec::new();
    for value in array {
        let line = checker.line(value.span());
        match value
            .as_str()
            .map(|text| (text, PackageName::from_str(text)))
        {
            Some((_, Ok(name))) => names.push(name),
            Some((text, Err(_))) => checker.report(
                line,
                format!("`allow-sdist` entry \"{text}\" is not a valid package name"),
            ),
            None => checker.report(
                line,
                format!(
                    "`allow-sdist` entries must be package names, found {}",
                    describe_value(value)
                ),
            ),
        }
    }
    names.sort();
    names.dedup();
    names
}
