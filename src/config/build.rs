//! The keys of an `[[image]]` table that say how the image is built and published: `base-image`,
//! `tags`, `apt-packages` and `labels`. They feed the build plan (`locks/<image>/build-plan.json`), not
//! the Python lock, so they are left out of the image's canonical text: changing the base image or an
//! apt package must not make the Python lock look stale.

use std::collections::BTreeMap;

use toml_edit::{Item, TableLike, Value};

use super::checker::{Checker, describe, describe_value};

/// How an image is built and published. Every field is optional in the file; without `base-image`
/// fave-lock writes no build plan for the image.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildConfig {
    /// `base-image`: the reference the Dockerfile builds `FROM` (`python:3.11-slim`), by tag. The build
    /// plan pins it by digest, so the file names no digest.
    pub base_image: Option<String>,
    /// `tags`: the tags to publish under `registry` (`0.1` → `ghcr.io/fave-project/fave-base:0.1`), in
    /// file order; the first one is the image's version label.
    pub tags: Vec<String>,
    /// `apt-packages`: Debian packages installed in the image, sorted and without duplicates.
    pub apt_packages: Vec<String>,
    /// `labels`: extra OCI labels to stamp, or overrides of the descriptive ones fave-lock fills in
    /// (`org.opencontainers.image.description`, `.source`, …).
    pub labels: BTreeMap<String, String>,
}

/// Label keys fave-lock computes from the lock and the base image. Letting the config set them would
/// let an image claim a lock or base it was not built from.
pub const RESERVED_LABEL_PREFIXES: &[&str] = &[
    "io.fave.lock.",
    "org.opencontainers.image.base.",
    "org.opencontainers.image.revision",
];

/// Read the build keys of one image table; problems go to `checker`, and a bad value is left out.
pub(super) fn build(checker: &mut Checker<'_>, table: &dyn TableLike) -> BuildConfig {
    let base_image = checker.parsed(table, "base-image", r#""python:3.11-slim""#, |text| {
        base_image(text).map(|()| text.to_string())
    });
    let tags = table.get("tags").map_or_else(Vec::new, |item| {
        strings(checker, item, "tags", r#"["0.1"]"#, tag)
    });
    if let Some(item) = table.get("tags")
        && !tags.is_empty()
        && !table.contains_key("registry")
    {
        let line = checker.line(item.span());
        let message = "`tags` needs `registry` (the repository they are published to, like \
                       \"ghcr.io/fave-project/fave-base\")"
            .to_string();
        checker.report(line, message);
    }
    let mut apt_packages = table.get("apt-packages").map_or_else(Vec::new, |item| {
        strings(checker, item, "apt-packages", r#"["ffmpeg"]"#, apt_package)
    });
    apt_packages.sort();
    apt_packages.dedup();
    let labels = table
        .get("labels")
        .map_or_else(BTreeMap::new, |item| labels(checker, item));
    BuildConfig {
        base_image,
        tags,
        apt_packages,
        labels,
    }
}

/// An array of strings, each checked by `check`; bad entries are reported and dropped.
fn strings(
    checker: &mut Checker<'_>,
    item: &Item,
    key: &str,
    example: &str,
    check: fn(&str) -> Result<(), String>,
) -> Vec<String> {
    let Some(array) = item.as_array() else {
        let line = checker.line(item.span());
        let message = format!(
            "`{key}` must be an array of strings like {example}, found {}",
            describe(item)
        );
        checker.report(line, message);
        return Vec::new();
    };
    let mut values = Vec::new();
    for value in array {
        let line = checker.line(value.span());
        let Some(text) = value.as_str() else {
            let message = format!(
                "`{key}` entries must be strings, found {}",
                describe_value(value)
            );
            checker.report(line, message);
            continue;
        };
        match check(text) {
            Ok(()) if values.iter().any(|seen| seen == text) => {
                checker.report(line, format!("`{key}` lists \"{text}\" twice; keep one"));
            }
            Ok(()) => values.push(text.to_string()),
            Err(message) => checker.report(line, message),
        }
    }
    values
}

/// `labels`: a table of string values whose keys are label keys fave-lock does not compute.
fn labels(checker: &mut Checker<'_>, item: &Item) -> BTreeMap<String, String> {
    let Some(table) = item.as_table_like() else {
        let line = checker.line(item.span());
        let message = format!(
            "`labels` must be a table like {{ \"org.opencontainers.image.source\" = \"https://…\" }}, found {}",
            describe(item)
        );
        checker.report(line, message);
        return BTreeMap::new();
    };
    let mut labels = BTreeMap::new();
    for (key, value) in table.iter() {
        let line = checker.line(table.key(key).and_then(toml_edit::Key::span));
        if let Err(message) = label_key(key) {
            checker.report(line, message);
            continue;
        }
        match value.as_value().and_then(Value::as_str) {
            Some(text) => {
                labels.insert(key.to_string(), text.to_string());
            }
            None => checker.report(
                line,
                format!(
                    "label `{key}` must have a string value, found {}",
                    describe(value)
                ),
            ),
        }
    }
    labels
}

/// `base-image`: `[host[:port]/]path[:tag]`, lowercase path, no digest (the plan pins that).
pub(super) fn base_image(text: &str) -> Result<(), String> {
    let example = "like \"python:3.11-slim\" or \"ghcr.io/org/python:3.11\"";
    if text.contains('@') {
        return Err(format!(
            "`base-image` must name a tag, not a digest ({example}): fave-lock pins the digest in the build \
             plan, found \"{text}\""
        ));
    }
    let (path, tag) = split_tag(text);
    let path_ok = !path.is_empty()
        && path.split('/').enumerate().all(|(index, part)| {
            let is_host = index == 0
                && path.contains('/')
                && (part.contains(['.', ':']) || part == "localhost");
            !part.is_empty()
                && (is_host
                    || part.bytes().all(|byte| {
                        byte.is_ascii_lowercase() || byte.is_ascii_digit() || b"._-".contains(&byte)
                    }))
                && part.bytes().all(|byte| byte.is_ascii_graphic())
        });
    let tag_ok = tag.is_none_or(|tag| tag_text(tag).is_ok());
    if path_ok && tag_ok {
        Ok(())
    } else {
        Err(format!(
            "`base-image` must be an image reference {example}, found \"{text}\""
        ))
    }
}

/// Split `name[:tag]`; a `:` before the last `/` belongs to a registry port.
fn split_tag(text: &str) -> (&str, Option<&str>) {
    let last_part = text.rfind('/').map_or(0, |slash| slash + 1);
    match text[last_part..].find(':') {
        Some(colon) => (
            &text[..last_part + colon],
            Some(&text[last_part + colon + 1..]),
        ),
        None => (text, None),
    }
}

/// `tags` entry: an OCI tag, `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}` (distribution spec).
fn tag(text: &str) -> Result<(), String> {
    tag_text(text).map_err(|()| {
        format!(
            "tag \"{text}\" is invalid: a tag is up to 128 letters, digits, `_`, `.` and `-`, not starting \
             with `.` or `-` (like \"0.1\")"
        )
    })
}

fn tag_text(text: &str) -> Result<(), ()> {
    let mut bytes = text.bytes();
    let first_ok = bytes
        .next()
        .is_some_and(|byte| byte.is_ascii_alphanumeric() || byte == b'_');
    let rest_ok = bytes.all(|byte| byte.is_ascii_alphanumeric() || b"._-".contains(&byte));
    if first_ok && rest_ok && text.len() <= 128 {
        Ok(())
    } else {
        Err(())
    }
}

/// `apt-packages` entry: a Debian package name (Debian policy 5.6.1: lowercase letters, digits, `+`,
/// `-`, `.`, at least two characters, starting with a letter or digit).
fn apt_package(text: &str) -> Result<(), String> {
    let mut bytes = text.bytes();
    let first_ok = bytes
        .next()
        .is_some_and(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit());
    let rest_ok = bytes
        .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || b"+-.".contains(&byte));
    if first_ok && rest_ok && text.len() >= 2 {
        Ok(())
    } else {
        Err(format!(
            "`apt-packages` entry \"{text}\" is not a Debian package name (lowercase letters, digits, `+`, `-` \
             and `.`, like \"libglib2.0-0\")"
        ))
    }
}

/// A `labels` key: lowercase reverse-DNS style (`org.example.key`), and not one fave-lock computes.
fn label_key(key: &str) -> Result<(), String> {
    let valid = key
        .bytes()
        .next()
        .is_some_and(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit())
        && key.bytes().all(|byte| {
            byte.is_ascii_lowercase() || byte.is_ascii_digit() || b"._-".contains(&byte)
        });
    if !valid {
        return Err(format!(
            "label key `{key}` is invalid: use lowercase letters, digits, `.`, `_` and `-` (like \
             \"org.opencontainers.image.source\")"
        ));
    }
    match RESERVED_LABEL_PREFIXES
        .iter()
        .find(|prefix| key.starts_with(*prefix))
    {
        Some(prefix) => Err(format!(
            "label `{key}` is computed by fave-lock (keys starting with `{prefix}`): remove it from `labels`"
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use insta::assert_snapshot;

    use super::super::load_str;

    /// A valid image table that tests extend.
    const IMAGE: &str = r#"[[image]]
name = "fave-base"
python-version = "3.11"
requirements = "base-image/requirements.in"
output = "locks/fave-base"
registry = "ghcr.io/fave-project/fave-base"
platforms = [{ platform = "linux/amd64", manylinux = "2_36" }]
"#;

    fn error(extra: &str) -> String {
        load_str(&format!("{IMAGE}{extra}"), Path::new("fave-lock.toml"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn the_repository_config_has_build_settings() {
        let config = load_str(
            include_str!("../../fave-lock.toml"),
            Path::new("fave-lock.toml"),
        )
        .unwrap();
        let build = &config.images[0].build;
        assert_eq!(build.base_image.as_deref(), Some("python:3.11-slim"));
        assert_eq!(build.tags, ["0.1"]);
        assert_eq!(
            build.apt_packages,
            ["ffmpeg", "libgl1", "libglib2.0-0", "libsndfile1"]
        );
    }

    #[test]
    fn build_settings_parse() {
        let config = load_str(
            &format!(
                "{IMAGE}base-image = \"localhost:5000/py/python:3.11\"\ntags = [\"0.1\", \"latest\"]\n\
                 apt-packages = [\"libsndfile1\", \"ffmpeg\"]\n\
                 labels = {{ \"org.opencontainers.image.source\" = \"https://example.org/fave\" }}\n"
            ),
            Path::new("fave-lock.toml"),
        )
        .unwrap();
        let build = &config.images[0].build;
        assert_snapshot!(format!("{build:?}"), @r#"BuildConfig { base_image: Some("localhost:5000/py/python:3.11"), tags: ["0.1", "latest"], apt_packages: ["ffmpeg", "libsndfile1"], labels: {"org.opencontainers.image.source": "https://example.org/fave"} }"#);
    }

    #[test]
    fn build_settings_stay_out_of_the_lock_input() {
        let plain = load_str(IMAGE, Path::new("fave-lock.toml")).unwrap();
        let built = load_str(
            &format!("{IMAGE}base-image = \"python:3.11-slim\"\ntags = [\"0.1\"]\napt-packages = [\"ffmpeg\"]\n"),
            Path::new("fave-lock.toml"),
        )
        .unwrap();
        assert_eq!(plain.images[0].canonical, built.images[0].canonical);
    }

    #[test]
    fn bad_build_settings_are_all_reported() {
        assert_snapshot!(error("base-image = \"python@sha256:00\"\n"), @r#"fave-lock.toml:8: `base-image` must name a tag, not a digest (like "python:3.11-slim" or "ghcr.io/org/python:3.11"): fave-lock pins the digest in the build plan, found "python@sha256:00""#);
        assert_snapshot!(error("base-image = \"Python:3.11\"\n"), @r#"fave-lock.toml:8: `base-image` must be an image reference like "python:3.11-slim" or "ghcr.io/org/python:3.11", found "Python:3.11""#);
        assert_snapshot!(error("base-image = \"python:\"\n"), @r#"fave-lock.toml:8: `base-image` must be an image reference like "python:3.11-slim" or "ghcr.io/org/python:3.11", found "python:""#);
        assert_snapshot!(error("tags = [\"0.1\", \"-x\", 2, \"0.1\"]\napt-packages = \"ffmpeg\"\n"), @r#"
        fave-lock.toml:8: `tags` entries must be strings, found the integer `2`
        fave-lock.toml:8: `tags` lists "0.1" twice; keep one
        fave-lock.toml:8: tag "-x" is invalid: a tag is up to 128 letters, digits, `_`, `.` and `-`, not starting with `.` or `-` (like "0.1")
        fave-lock.toml:9: `apt-packages` must be an array of strings like ["ffmpeg"], found the string `ffmpeg`
        "#);
        assert_snapshot!(error("apt-packages = [\"FFmpeg\", \"x\"]\n"), @r#"
        fave-lock.toml:8: `apt-packages` entry "FFmpeg" is not a Debian package name (lowercase letters, digits, `+`, `-` and `.`, like "libglib2.0-0")
        fave-lock.toml:8: `apt-packages` entry "x" is not a Debian package name (lowercase letters, digits, `+`, `-` and `.`, like "libglib2.0-0")
        "#);
        assert_snapshot!(error("[image.labels]\n\"io.fave.lock.sha256\" = \"x\"\n\"Bad Key\" = \"y\"\n\"org.example.n\" = 1\n"), @r#"
        fave-lock.toml:9: label `io.fave.lock.sha256` is computed by fave-lock (keys starting with `io.fave.lock.`): remove it from `labels`
        fave-lock.toml:10: label key `Bad Key` is invalid: use lowercase letters, digits, `.`, `_` and `-` (like "org.opencontainers.image.source")
        fave-lock.toml:11: label `org.example.n` must have a string value, found the integer `1`
        "#);
    }

    #[test]
    fn tags_need_a_registry() {
        let contents = IMAGE.replace(
            "registry = \"ghcr.io/fave-project/fave-base\"\n",
            "tags = [\"0.1\"]\n",
        );
        let error = load_str(&contents, Path::new("fave-lock.toml")).unwrap_err();
        assert_snapshot!(error, @r#"fave-lock.toml:6: `tags` needs `registry` (the repository they are published to, like "ghcr.io/fave-project/fave-base")"#);
    }
}
