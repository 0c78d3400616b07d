//! The canonical text of an image's configuration, hashed into the lock's input hash.
//!
//! Built from the validated values rather than the file's text, so that comments, key order,
//! whitespace, quoting style and equivalent spellings (`"./locks/x/"`, a date versus its midnight
//! timestamp) do not change it, while every change of meaning does.

use jiff::Timestamp;
use toml_edit::{Array, DocumentMut, InlineTable, Item, Table, value};

use super::{DEFAULT_INDEX_URL, ImageConfig};

/// Canonical TOML of `image` plus the top-level values that affect its lock. Keys are sorted; the
/// index is the effective one (the default when unset), since spelling out the default changes nothing.
pub(super) fn canonical(
    image: &ImageConfig,
    index_url: Option<&str>,
    exclude_newer: Option<Timestamp>,
) -> String {
    let mut document = DocumentMut::new();
    if let Some(exclude_newer) = exclude_newer {
        document.insert("exclude-newer", value(exclude_newer.to_string()));
    }
    document.insert("index-url", value(index_url.unwrap_or(DEFAULT_INDEX_URL)));
    document.insert("image", Item::Table(image_table(image)));
    document.to_string()
}

fn image_table(image: &ImageConfig) -> Table {
    let mut table = Table::new();
    if image.allow_all_sdists {
        table.insert("allow-sdist", value(true));
    } else {
        let allow_sdist: Array = image.allow_sdist.iter().map(ToString::to_string).collect();
        table.insert("allow-sdist", value(allow_sdist));
    }
    table.insert("name", value(&image.name));
    table.insert("output", value(path_text(&image.output)));
    table.insert("platforms", value(platforms(image)));
    table.insert("python-version", value(image.python_version.to_string()));
    if let Some(registry) = &image.registry {
        table.insert("registry", value(registry));
    }
    table.insert("requirements", value(path_text(&image.requirements)));
    table
}

/// Platforms in the file's order, each `{ manylinux, platform }`.
fn platforms(image: &ImageConfig) -> Array {
    let mut platforms = Array::new();
    for platform in &image.platforms {
        let (major, minor) = platform.platform.glibc;
        let mut entry = InlineTable::new();
        entry.insert("manylinux", format!("{major}_{minor}").into());
        entry.insert("platform", platform.oci.as_str().into());
        platforms.push(entry);
    }
    platforms
}

/// A path with `/` separators on every OS, so the hash does not depend on where it was computed.
fn path_text(path: &std::path::Path) -> String {
    let parts: Vec<String> = path
        .components()
        .map(|part| match part {
            std::path::Component::RootDir => String::new(),
            _ => part.as_os_str().to_string_lossy().into_owned(),
        })
        .collect();
    parts.join("/")
}
