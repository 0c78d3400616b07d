//! From text to [`Config`]: parse with `toml_edit`'s span-keeping [`Document`], check every key and
//! value, and collect all problems before failing.

use std::path::{Path, PathBuf};

use jiff::Timestamp;
use toml_edit::{Document, TableLike, TomlError};

use super::checker::Checker;
use super::keys::TOP_LEVEL_KEYS;
use super::{Config, ConfigError, ImageConfig, canonical, image, values};

/// The name used for the top-level table in messages.
const TOP_LEVEL: &str = "the top-level table";

/// Validate `source`, the text of `path`.
pub(super) fn validate(source: &str, path: &Path) -> Result<Config, ConfigError> {
    let document = Document::parse(source).map_err(|error| syntax_error(path, source, &error))?;
    let mut checker = Checker::new(source);
    let root = document.as_table();
    checker.keys(root, TOP_LEVEL_KEYS, &[], 1, TOP_LEVEL);
    let index_url = checker.parsed(root, "index-url", r#""https://pypi.org/simple""#, |text| {
        values::index_url(text).map(|()| text.to_string())
    });
    let exclude_newer = exclude_newer(&mut checker, root);
    let apt = super::apt::apt(&mut checker, root);
    let mut images = images(&mut checker, root);
    if let Some(error) = ConfigError::from_problems(path.to_path_buf(), checker.problems) {
        return Err(error);
    }
    for image in &mut images {
        image.canonical = canonical::canonical(image, index_url.as_deref(), exclude_newer);
    }
    Ok(Config {
        path: path.to_path_buf(),
        root: root_of(path),
        index_url,
        exclude_newer,
        apt,
        images,
        source: source.to_string(),
    })
}

/// A TOML syntax error as a config error at its line.
pub(super) fn syntax_error(path: &Path, source: &str, error: &TomlError) -> ConfigError {
    let line = Checker::new(source).line(error.span());
    let mut message = format!("invalid TOML: {}", error.message().trim_end());
    let near = error
        .span()
        .and_then(|span| source.get(span))
        .unwrap_or_default();
    if !near.is_empty() && near.len() <= 40 && !near.contains('\n') {
        message = format!("{message} at `{near}`");
    }
    ConfigError::Invalid {
        path: path.to_path_buf(),
        line,
        message,
        more: Vec::new(),
    }
}

/// The folder relative paths are resolved against: the file's folder, `.` for a bare file name.
fn root_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// `exclude-newer`, written as a string or as a TOML date or date-time.
fn exclude_newer(checker: &mut Checker<'_>, root: &dyn TableLike) -> Option<Timestamp> {
    let item = root.get("exclude-newer")?;
    let line = checker.line(item.span());
    let text = match item.as_datetime() {
        Some(datetime) => datetime.to_string(),
        None => checker
            .string(item, "exclude-newer", r#""2026-11-01T00:00:00Z""#)?
            .to_string(),
    };
    values::exclude_newer(&text)
        .map_err(|message| checker.report(line, message))
        .ok()
}

/// Every `[[image]]`, plus the checks across images: distinct names and distinct outputs.
fn images(checker: &mut Checker<'_>, root: &dyn TableLike) -> Vec<ImageConfig> {
    let Some(item) = root.get("image") else {
        checker.report(
            1,
            "no `[[image]]` table: add one for each image to lock".to_string(),
        );
        return Vec::new();
    };
    let Some(tables) = checker.tables(item, "image", "`[[image]]`") else {
        return Vec::new();
    };
    let mut images: Vec<ImageConfig> = Vec::new();
    for (table, line) in tables {
        let Some(image) = image::image(checker, table, line) else {
            continue;
        };
        if let Some(first) = images.iter().find(|first| first.name == image.name) {
            let message = format!(
                "duplicate image name `{}` (first at line {}): image names must be unique",
                image.name, first.line
            );
            checker.report(line, message);
        } else if let Some(first) = images.iter().find(|first| first.output == image.output) {
            let message = format!(
                "image `{}` writes to `{}` like image `{}` (line {}): each image needs its own `output`",
                image.name,
                image.output.display(),
                first.name,
                first.line
            );
            checker.report(line, message);
        } else {
            images.push(image);
        }
    }
    images
}
