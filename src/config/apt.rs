//! The top-level `[apt]` table: where the Debian packages of the images are locked from. Every key is
//! optional; the defaults are deb.debian.org's archives for Debian bookworm. Point `archive` and
//! `security` at a snapshot.debian.org timestamp to rebuild an old lock exactly.

use toml_edit::TableLike;

use super::checker::{Checker, describe};

/// Keys of the `[apt]` table.
pub(super) const APT_KEYS: &[&str] = &["release", "archive", "security", "check-valid-until"];

/// `[apt]`, as written; `None` for a key the file leaves out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AptConfig {
    /// `release`: the Debian codename of the base images (`bookworm`).
    pub release: Option<String>,
    /// `archive`: base URL of the release and its `-updates` (`http://deb.debian.org/debian`).
    pub archive: Option<String>,
    /// `security`: base URL of `<release>-security` (`http://deb.debian.org/debian-security`).
    pub security: Option<String>,
    /// `check-valid-until`: refuse an expired release (default `true`; `false` for a snapshot
    /// archive, as apt's `check-valid-until=no`).
    pub check_valid_until: Option<bool>,
}

/// Read `[apt]`; problems go to `checker`.
pub(super) fn apt(checker: &mut Checker<'_>, root: &dyn TableLike) -> AptConfig {
    let Some(item) = root.get("apt") else {
        return AptConfig::default();
    };
    let Some(table) = item.as_table_like() else {
        let line = checker.line(item.span());
        let message = format!(
            "`apt` must be a table like [apt] archive = \"http://deb.debian.org/debian\", found {}",
            describe(item)
        );
        checker.report(line, message);
        return AptConfig::default();
    };
    let line = checker.line(item.span());
    checker.keys(table, APT_KEYS, &[], line, "`[apt]`");
    let url = |key: &'static str| {
        move |text: &str| {
            if (text.starts_with("http://") || text.starts_with("https://"))
                && !text.contains(char::is_whitespace)
            {
                Ok(text.trim_end_matches('/').to_string())
            } else {
                Err(format!(
                    "`{key}` must be an http(s) URL like \"http://deb.debian.org/debian\", found \"{text}\""
                ))
            }
        }
    };
    let codename = |text: &str| {
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_lowercase()) {
            Ok(text.to_string())
        } else {
            Err(format!(
                "`release` must be a Debian codename like \"bookworm\", found \"{text}\""
            ))
        }
    };
    let check_valid_until =
        checker.boolean(table, "check-valid-until", "false for a snapshot archive");
    AptConfig {
        check_valid_until,
        release: checker.parsed(table, "release", r#""bookworm""#, codename),
        archive: checker.parsed(
            table,
            "archive",
            r#""http://deb.debian.org/debian""#,
            url("archive"),
        ),
        security: checker.parsed(
            table,
            "security",
            r#""http://deb.debian.org/debian-security""#,
            url("security"),
        ),
    }
}
