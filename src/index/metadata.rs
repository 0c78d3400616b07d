//! Core metadata files (`METADATA`, PEP 658 `.metadata`) into [`CoreMetadata`].
//!
//! The format is RFC 822 headers (core metadata specification, "Core metadata specifications" on
//! packaging.python.org): `Name: value` lines up to the first blank line, a line that starts with whitespace
//! continues the previous value, and a field may repeat (`Requires-Dist`, `Provides-Extra`, `Classifier`).
//! The body after the blank line is the description, which fave-lock does not need. Field names are
//! case-insensitive. Unknown fields and lines without a colon are ignored, so a newer metadata version
//! still reads.

use super::model::CoreMetadata;

/// Parse a core metadata file. Fails only when `Name` or `Version` is missing.
pub(crate) fn parse(bytes: &[u8]) -> Result<CoreMetadata, String> {
    let text = String::from_utf8_lossy(bytes);
    let mut metadata = CoreMetadata::default();
    let mut name = None;
    let mut version = None;
    for (field, value) in headers(&text) {
        match field.to_ascii_lowercase().as_str() {
            "name" => name = Some(value),
            "version" => version = Some(value),
            "requires-dist" => metadata.requires_dist.push(value),
            "requires-python" => metadata.requires_python = Some(value),
            "provides-extra" => metadata.provides_extra.push(value),
            "license-expression" => metadata.license_expression = Some(value),
            "license" => metadata.license = Some(value),
            "classifier" => metadata.classifiers.push(value),
            _ => {}
        }
    }
    metadata.name = name
        .filter(|name| !name.is_empty())
        .ok_or("core metadata without `Name`")?;
    metadata.version = version
        .filter(|version| !version.is_empty())
        .ok_or("core metadata without `Version`")?;
    Ok(metadata)
}

/// Every header field of a core metadata file (`PKG-INFO` too), in order, as `(field, value)`: for the
/// fields [`parse`] does not keep (`Metadata-Version`, `Dynamic`).
pub(crate) fn fields(bytes: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(bytes);
    headers(&text)
        .into_iter()
        .map(|(field, value)| (field.to_string(), value))
        .collect()
}

/// The header fields in order, continuation lines joined to their field with `\n`.
fn headers(text: &str) -> Vec<(&str, String)> {
    let mut fields: Vec<(&str, String)> = Vec::new();
    for line in text.lines() {
        // Only a truly empty line ends the headers: a multi-line field (scipy's License) has
        // whitespace-only continuation lines, and stopping there loses every later Requires-Dist.
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = fields.last_mut() {
                value.push('\n');
                value.push_str(continuation(line));
            }
            continue;
        }
        if let Some((field, value)) = line.split_once(':') {
            fields.push((field.trim(), value.trim().to_string()));
        }
    }
    for (_, value) in &mut fields {
        let trimmed = value.trim_end().len();
        value.truncate(trimmed);
    }
    fields
}

/// A continuation line without its indentation. The core metadata spec writes an empty or indented line of
/// a multi-line field as seven spaces and a `|` ("to support empty lines and lines with indentation"); the
/// bar goes too, keeping the indentation after it. Eight spaces are accepted as well.
fn continuation(line: &str) -> &str {
    let trimmed = line.trim_start();
    let indent = line.len() - trimmed.len();
    match trimmed.strip_prefix('|') {
        Some(rest) if (7..=8).contains(&indent) => rest,
        _ => trimmed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_only_continuation_lines_do_not_end_the_headers() {
        // Shape of scipy 1.11.4's METADATA: a License with blank-looking continuation lines before
        // the Requires-Dist fields.
        let text = "Metadata-Version: 2.1\nName: scipy\nVersion: 1.11.4\nLicense: Copyright\n        All rights reserved.\n        \n        Name: OpenBLAS\nRequires-Dist: numpy<1.28.0,>=1.21.6\nRequires-Dist: pytest; extra == \"test\"\n\nbody\n";
        let metadata = parse(text.as_bytes()).unwrap();
        assert_eq!(
            metadata.requires_dist,
            vec!["numpy<1.28.0,>=1.21.6", "pytest; extra == \"test\""]
        );
        assert!(metadata.license.unwrap().contains("Name: OpenBLAS"));
    }

    #[test]
    fn parses_a_real_metadata_file() {
        let metadata = parse(include_bytes!(
            "../../tests/fixtures/wheels/packaging-24.2-py3-none-any.whl.metadata"
        ))
        .unwrap();
        assert_eq!(metadata.name, "packaging");
        assert_eq!(metadata.version, "24.2");
        assert_eq!(metadata.requires_python.as_deref(), Some(">=3.8"));
        assert_eq!(metadata.classifiers.len(), 16);
        assert_eq!(
            metadata.classifiers[0],
            "Development Status :: 5 - Production/Stable"
        );
        assert!(metadata.requires_dist.is_empty());
    }

    #[test]
    fn reads_repeated_fields_continuations_and_stops_at_the_body() {
        let text = "Metadata-Version: 2.4\r\n\
            name: demo\r\n\
            VERSION:  1.0 \r\n\
            Requires-Dist: six>=1.0\r\n\
            Requires-Dist: idna; extra == \"web\"\r\n\
            Provides-Extra: web\r\n\
            License-Expression: MIT OR Apache-2.0\r\n\
            License: Copyright (c) someone\r\n\
            \x20      |\r\n\
            \x20       |   Permission is hereby granted\r\n\
            \tand so on\r\n\
            no colon here\r\n\
            Classifier: A :: B\r\n\
            \r\n\
            Requires-Dist: not-a-header-but-description\r\n";
        let metadata = parse(text.as_bytes()).unwrap();
        assert_eq!(metadata.name, "demo");
        assert_eq!(metadata.version, "1.0");
        assert_eq!(
            metadata.requires_dist,
            ["six>=1.0", "idna; extra == \"web\""]
        );
        assert_eq!(metadata.provides_extra, ["web"]);
        assert_eq!(
            metadata.license_expression.as_deref(),
            Some("MIT OR Apache-2.0")
        );
        assert_eq!(
            metadata.license.as_deref(),
            Some("Copyright (c) someone\n\n   Permission is hereby granted\nand so on")
        );
        assert_eq!(metadata.classifiers, ["A :: B"]);
    }

    #[test]
    fn requires_name_and_version() {
        assert_eq!(
            parse(b"Name: demo\n").unwrap_err(),
            "core metadata without `Version`"
        );
        assert_eq!(
            parse(b"Version: 1\n").unwrap_err(),
            "core metadata without `Name`"
        );
        assert_eq!(parse(b"").unwrap_err(), "core metadata without `Name`");
        assert!(parse(b"\xff\xfeName: x\nVersion: 1\n").is_err());
        assert_eq!(
            parse(b"Name: x\nVersion: 1\xff\n").unwrap().version,
            "1\u{fffd}"
        );
    }
}
