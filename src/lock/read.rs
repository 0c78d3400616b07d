//! Read back the `pylock.toml` that [`pylock_toml`](super::pylock_toml) writes, into the same [`Lock`],
//! so that `verify`, `sbom`, the build plan and the server all work from the committed file instead of a
//! fresh resolution.
//!
//! Only fave-lock's own locks are read: `[tool.fave-lock]` restores what PEP 751 has no field for (the
//! targets, the input hash, the command), and each package's `marker` is mapped back to the targets it
//! names. The file may have been edited by hand, so every value is checked and an error names the file
//! and line. What the file does not record stays empty: `via` (the `# via` comments of requirements.txt)
//! and each file's `requires-python`, `yanked` and PEP 658 flag, which live on the index page.
//!
//! Writing what this reads gives back the same bytes for any lock fave-lock wrote (tested below on the
//! committed lock).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use jiff::Timestamp;
use pep440_rs::Version;
use pep508_rs::PackageName;
use toml_edit::{Item, TableLike, Value};

use super::{LOCK_FORMAT_VERSION, Lock, LockContext, LockTarget, LockedPackage};
use crate::index::DistFile;
use crate::tags::{Platform, PythonVersion};

/// Why a `pylock.toml` cannot be read as a fave-lock lock.
#[derive(Debug, thiserror::Error)]
pub enum LockReadError {
    /// The file cannot be read.
    #[error("cannot read `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Bad TOML, a missing key or a value fave-lock did not write.
    #[error("{}:{line}: {message}", path.display())]
    Invalid {
        path: PathBuf,
        /// 1-based line of the offending value (of its table when a key is missing).
        line: usize,
        message: String,
    },
}

/// Read the lock at `path`.
pub fn read_pylock(path: &Path) -> Result<Lock, LockReadError> {
    let text = crate::fs::read_input_to_string(path).map_err(|source| LockReadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_pylock(&text, path)
}

/// Parse the text of a lock; `path` is only named in errors.
pub fn parse_pylock(text: &str, path: &Path) -> Result<Lock, LockReadError> {
    let reader = Reader { text, path };
    let document = toml_edit::Document::parse(text).map_err(|error| {
        reader.invalid(error.span(), format!("invalid TOML: {}", error.message()))
    })?;
    let root = document.as_table();
    let lock_version = reader.string(root, "lock-version", "the document")?;
    if !lock_version.starts_with("1.") {
        return Err(reader.invalid(
            root.get("lock-version").and_then(Item::span),
            format!("unsupported PEP 751 lock-version `{lock_version}`: fave-lock reads 1.x"),
        ));
    }
    let Some(tool) = root
        .get("tool")
        .and_then(Item::as_table_like)
        .and_then(|tool| tool.get("fave-lock"))
    else {
        return Err(reader.invalid(
            None,
            "no `[tool.fave-lock]` table: this lock was not written by fave-lock",
        ));
    };
    let context = reader.context(tool)?;
    let mut packages = Vec::new();
    if let Some(item) = root.get("packages") {
        let Some(tables) = item.as_array_of_tables() else {
            return Err(reader.invalid(item.span(), "`packages` must be an array of tables"));
        };
        for table in tables {
            packages.push(reader.package(table, table.span(), &context)?);
        }
    }
    packages.sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
    Ok(Lock { context, packages })
}

/// The text being read, for turning spans into lines, and its path for messages.
struct Reader<'a> {
    text: &'a str,
    path: &'a Path,
}

impl Reader<'_> {
    /// 1-based line of a span's start; line 1 when there is no span.
    fn line(&self, span: Option<Range<usize>>) -> usize {
        let start = span.map_or(0, |span| span.start).min(self.text.len());
        self.text.as_bytes()[..start]
            .iter()
            .filter(|&&byte| byte == b'\n')
            .count()
            + 1
    }

    fn invalid(&self, span: Option<Range<usize>>, message: impl Into<String>) -> LockReadError {
        LockReadError::Invalid {
            path: self.path.to_path_buf(),
            line: self.line(span),
            message: message.into(),
        }
    }

    /// A value the table must have; a missing key is reported at the table.
    fn required<'t>(
        &self,
        table: &'t dyn TableLike,
        key: &str,
        what: &str,
    ) -> Result<&'t Item, LockReadError> {
        table
            .get(key)
            .ok_or_else(|| self.invalid(table_span(table), format!("missing `{key}` in {what}")))
    }

    fn string<'t>(
        &self,
        table: &'t dyn TableLike,
        key: &str,
        what: &str,
    ) -> Result<&'t str, LockReadError> {
        let item = self.required(table, key, what)?;
        self.as_str(item, key)
    }

    fn optional_string<'t>(
        &self,
        table: &'t dyn TableLike,
        key: &str,
    ) -> Result<Option<&'t str>, LockReadError> {
        table
            .get(key)
            .map(|item| self.as_str(item, key))
            .transpose()
    }

    fn as_str<'t>(&self, item: &'t Item, key: &str) -> Result<&'t str, LockReadError> {
        item.as_str()
            .ok_or_else(|| self.invalid(item.span(), format!("`{key}` must be a string")))
    }

    /// Parse a string value with `FromStr`, naming the key and the value when it does not parse.
    fn parse<T>(&self, table: &dyn TableLike, key: &str, what: &str) -> Result<T, LockReadError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        let item = self.required(table, key, what)?;
        let text = self.as_str(item, key)?;
        text.parse()
            .map_err(|error| self.invalid(item.span(), format!("`{key}` = `{text}`: {error}")))
    }

    /// The inline tables of an array value (`key = [{ … }, …]`).
    fn inline_tables<'t>(
        &self,
        item: &'t Item,
        key: &str,
    ) -> Result<Vec<&'t toml_edit::InlineTable>, LockReadError> {
        let array = item
            .as_array()
            .ok_or_else(|| self.invalid(item.span(), format!("`{key}` must be an array")))?;
        array
            .iter()
            .map(|value| {
                value.as_inline_table().ok_or_else(|| {
                    self.invalid(
                        value.span(),
                        format!("each entry of `{key}` must be an inline table"),
                    )
                })
            })
            .collect()
    }

    /// `inputs = { "part" = "sha256:…", … }`; absent in locks written before it was recorded.
    fn inputs(&self, tool: &dyn TableLike) -> Result<BTreeMap<String, String>, LockReadError> {
        let Some(item) = tool.get("inputs") else {
            return Ok(BTreeMap::new());
        };
        let table = item
            .as_table_like()
            .ok_or_else(|| self.invalid(item.span(), "`inputs` must be a table"))?;
        table
            .iter()
            .map(|(name, value)| Ok((name.to_string(), self.as_str(value, name)?.to_string())))
            .collect()
    }

    /// `[tool.fave-lock]`.
    fn context(&self, item: &Item) -> Result<LockContext, LockReadError> {
        const WHAT: &str = "[tool.fave-lock]";
        let Some(tool) = item.as_table_like() else {
            return Err(self.invalid(item.span(), "`tool.fave-lock` must be a table"));
        };
        let format_item = self.required(tool, "lock-format", WHAT)?;
        let format = format_item.as_integer();
        if format != Some(i64::from(LOCK_FORMAT_VERSION)) {
            return Err(self.invalid(
                format_item.span(),
                format!(
                    "lock-format {} is not the one this fave-lock reads ({LOCK_FORMAT_VERSION}); \
                     run `fave-lock resolve` to rewrite the lock",
                    format.map_or_else(|| "(not an integer)".to_string(), |f| f.to_string()),
                ),
            ));
        }
        let targets_item = self.required(tool, "targets", WHAT)?;
        let mut targets = Vec::new();
        for table in self.inline_tables(targets_item, "targets")? {
            targets.push(LockTarget {
                oci: self.string(table, "oci", "a target")?.to_string(),
                platform: self.parse::<Platform>(table, "platform", "a target")?,
            });
        }
        if targets.is_empty() {
            return Err(self.invalid(targets_item.span(), "`targets` is empty"));
        }
        let exclude_newer = match tool.get("exclude-newer") {
            None => None,
            Some(_) => Some(self.parse::<Timestamp>(tool, "exclude-newer", WHAT)?),
        };
        Ok(LockContext {
            image: self.string(tool, "image", WHAT)?.to_string(),
            python: self.parse::<PythonVersion>(tool, "python", WHAT)?,
            targets,
            index_url: self.string(tool, "index-url", WHAT)?.to_string(),
            exclude_newer,
            input_hash: self.string(tool, "input-hash", WHAT)?.to_string(),
            inputs: self.inputs(tool)?,
            command: self.string(tool, "command", WHAT)?.to_string(),
        })
    }

    /// One `[[packages]]` table.
    fn package(
        &self,
        table: &dyn TableLike,
        span: Option<Range<usize>>,
        context: &LockContext,
    ) -> Result<LockedPackage, LockReadError> {
        const WHAT: &str = "a [[packages]] table";
        let name: PackageName = self.parse(table, "name", WHAT)?;
        let version: Version = self.parse(table, "version", WHAT)?;
        let targets = match table.get("marker") {
            None => (0..context.targets.len()).collect(),
            Some(item) => self.marker_targets(item, context)?,
        };
        if let Some(item) = table.get("index") {
            let index = self.as_str(item, "index")?;
            if index != context.index_url {
                return Err(self.invalid(
                    item.span(),
                    format!(
                        "`{name}` comes from `{index}`, but fave-lock locks use one index (`{}`)",
                        context.index_url
                    ),
                ));
            }
        }
        let mut dependencies = BTreeSet::new();
        if let Some(item) = table.get("dependencies") {
            for dependency in self.inline_tables(item, "dependencies")? {
                dependencies.insert(self.parse::<PackageName>(
                    dependency,
                    "name",
                    "a dependency",
                )?);
            }
        }
        let mut files = Vec::new();
        if let Some(item) = table.get("wheels") {
            for wheel in self.inline_tables(item, "wheels")? {
                files.push(self.file(wheel)?);
            }
        }
        if let Some(item) = table.get("sdist") {
            let sdist = item
                .as_table_like()
                .ok_or_else(|| self.invalid(item.span(), "`sdist` must be a table"))?;
            files.push(self.file(sdist)?);
        }
        if files.is_empty() {
            return Err(self.invalid(
                span,
                format!("`{name}` {version} lists no wheel and no sdist"),
            ));
        }
        files.sort_by(|a, b| a.filename.cmp(&b.filename));
        Ok(LockedPackage {
            name,
            version,
            targets,
            files,
            requires_python: self
                .optional_string(table, "requires-python")?
                .map(str::to_string),
            dependencies,
            via: BTreeSet::new(),
        })
    }

    /// The targets a package's `marker` selects: the `or` of target markers that
    /// [`Lock::marker`](super::Lock::marker) writes.
    fn marker_targets(
        &self,
        item: &Item,
        context: &LockContext,
    ) -> Result<BTreeSet<usize>, LockReadError> {
        let marker = self.as_str(item, "marker")?;
        let mut targets = BTreeSet::new();
        for part in marker.split(" or ") {
            let part = part.trim();
            let Some(index) = context
                .targets
                .iter()
                .position(|target| target.marker() == part)
            else {
                let known: Vec<String> = context
                    .targets
                    .iter()
                    .map(|target| format!("`{}`", target.marker()))
                    .collect();
                return Err(self.invalid(
                    item.span(),
                    format!(
                        "marker `{marker}`: `{part}` is none of the lock's targets ({})",
                        known.join(", ")
                    ),
                ));
            };
            targets.insert(index);
        }
        Ok(targets)
    }

    /// A wheel or sdist entry.
    fn file(&self, table: &dyn TableLike) -> Result<DistFile, LockReadError> {
        const WHAT: &str = "a file entry";
        let filename = self.string(table, "name", WHAT)?;
        if filename.contains(['/', '\\']) || filename.starts_with('.') {
            return Err(self.invalid(
                table_span(table),
                format!("file name `{filename}` is not a plain file name"),
            ));
        }
        let url = self.string(table, "url", WHAT)?;
        let size = match table.get("size") {
            None => None,
            Some(item) => Some(
                item.as_integer()
                    .and_then(|size| u64::try_from(size).ok())
                    .ok_or_else(|| {
                        self.invalid(item.span(), "`size` must be a non-negative integer")
                    })?,
            ),
        };
        let upload_time = match table.get("upload-time") {
            None => None,
            Some(item) => Some(self.timestamp(item)?),
        };
        let sha256 = match table.get("hashes") {
            None => None,
            Some(item) => self.sha256(item)?,
        };
        Ok(DistFile {
            filename: filename.to_string(),
            url: url.to_string(),
            sha256,
            size,
            upload_time,
            requires_python: None,
            yanked: None,
            core_metadata: false,
        })
    }

    /// A TOML offset date-time (what the writer emits), or an RFC 3339 string.
    fn timestamp(&self, item: &Item) -> Result<Timestamp, LockReadError> {
        let text = match item {
            Item::Value(Value::Datetime(datetime)) => datetime.value().to_string(),
            Item::Value(Value::String(text)) => text.value().clone(),
            _ => {
                return Err(self.invalid(item.span(), "`upload-time` must be a date-time"));
            }
        };
        Timestamp::from_str(&text).map_err(|error| {
            self.invalid(
                item.span(),
                format!("`upload-time` = `{text}` is not an instant with an offset: {error}"),
            )
        })
    }

    /// `hashes = { sha256 = "…" }`: the hash must be 64 hex digits, since verify names cache files by it.
    fn sha256(&self, item: &Item) -> Result<Option<String>, LockReadError> {
        let hashes = item
            .as_table_like()
            .ok_or_else(|| self.invalid(item.span(), "`hashes` must be a table"))?;
        let Some(hash_item) = hashes.get("sha256") else {
            return Ok(None);
        };
        let hash = self.as_str(hash_item, "sha256")?;
        if hash.len() != 64 || !hash.bytes().all(|byte| byte.is_ascii_hexdigit()) {
            return Err(self.invalid(
                hash_item.span(),
                format!("sha256 `{hash}` is not 64 hex digits"),
            ));
        }
        Ok(Some(hash.to_ascii_lowercase()))
    }
}

/// The span of a table or inline table, whichever `table` is.
fn table_span(table: &dyn TableLike) -> Option<Range<usize>> {
    // `TableLike` has no span; the first key's span is the next best place to point at.
    table
        .iter()
        .next()
        .and_then(|(key, _)| table.key(key))
        .and_then(toml_edit::Key::span)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock::pylock_toml;

    const COMMITTED: &str = include_str!("../../locks/fave-base/pylock.toml");

    fn parse(text: &str) -> Result<Lock, LockReadError> {
        parse_pylock(text, Path::new("locks/x/pylock.toml"))
    }

    fn error(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn the_committed_lock_round_trips_byte_for_byte() {
        let lock = parse(COMMITTED).unwrap();
        assert_eq!(lock.context.image, "fave-base");
        assert_eq!(lock.context.targets.len(), 2);
        assert!(lock.context.exclude_newer.is_some());
        assert!(lock.packages.iter().all(|p| !p.files.is_empty()));
        let written = pylock_toml(&lock);
        assert!(
            written == COMMITTED,
            "write(read(lock)) differs from the lock"
        );
        let again = pylock_toml(&parse(&written).unwrap());
        assert!(again == written);
    }

    /// Every committed lock, whatever images the config has by now.
    #[test]
    fn every_committed_lock_round_trips() {
        let locks = Path::new(env!("CARGO_MANIFEST_DIR")).join("locks");
        let mut checked = 0;
        for entry in std::fs::read_dir(&locks).unwrap() {
            let path = entry.unwrap().path().join("pylock.toml");
            if !path.is_file() {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let lock = read_pylock(&path).unwrap();
            assert!(
                pylock_toml(&lock) == text,
                "{} does not round-trip",
                path.display()
            );
            checked += 1;
        }
        assert!(checked >= 1, "no lock under {}", locks.display());
    }

    #[test]
    fn markers_become_targets() {
        let lock = parse(COMMITTED).unwrap();
        let restricted: Vec<&LockedPackage> = lock
            .packages
            .iter()
            .filter(|p| p.targets.len() < 2)
            .collect();
        for package in restricted {
            assert_eq!(
                lock.marker(package).as_deref(),
                Some(
                    lock.context.targets[*package.targets.first().unwrap()]
                        .marker()
                        .as_str()
                )
            );
        }
    }

    /// A minimal valid lock, with one line to replace in each error test.
    const SMALL: &str = r#"lock-version = "1.0"
created-by = "fave-lock"

[[packages]]
name = "six"
version = "1.16.0"
marker = "platform_machine == 'x86_64'"
index = "https://pypi.org/simple"
wheels = [
    { name = "six-1.16.0-py2.py3-none-any.whl", url = "https://files.example/six-1.16.0-py2.py3-none-any.whl", size = 11053, upload-time = 2021-05-05T14:18:17Z, hashes = { sha256 = "8abb2f1d86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e0254" } },
]

[tool.fave-lock]
image = "x"
lock-format = 1
python = "3.11"
targets = [{ oci = "linux/amd64", platform = "x86_64-manylinux_2_36" }, { oci = "linux/arm64", platform = "aarch64-manylinux_2_36" }]
index-url = "https://pypi.org/simple"
input-hash = "sha256:00"
command = "fave-lock resolve"
"#;

    #[test]
    fn a_small_lock_reads() {
        let lock = parse(SMALL).unwrap();
        let six = &lock.packages[0];
        assert_eq!(six.targets, BTreeSet::from([0]));
        assert_eq!(six.files[0].size, Some(11053));
        assert_eq!(
            six.files[0].upload_time,
            Some("2021-05-05T14:18:17Z".parse().unwrap())
        );
        assert_eq!(lock.context.exclude_newer, None);
        assert_eq!(pylock_toml(&lock), SMALL.replace("created-by = \"fave-lock\"\n", "environments = [\"sys_platform == 'linux' and platform_machine == 'x86_64' and python_version == '3.11'\", \"sys_platform == 'linux' and platform_machine == 'aarch64' and python_version == '3.11'\"]\nrequires-python = \"==3.11.*\"\ncreated-by = \"fave-lock\"\n"));
    }

    #[test]
    fn errors_name_the_file_and_line() {
        insta::assert_snapshot!(error("lock-version = \n"), @"locks/x/pylock.toml:1: invalid TOML: string values must be quoted, expected literal string");
        insta::assert_snapshot!(
            error(&SMALL.replace("version = \"1.16.0\"", "version = \"one\"")),
            @"locks/x/pylock.toml:6: `version` = `one`: expected version to start with a number, but no leading ASCII digits were found"
        );
        insta::assert_snapshot!(
            error(&SMALL.replace("'x86_64'\"", "'riscv64'\"")),
            @"locks/x/pylock.toml:7: marker `platform_machine == 'riscv64'`: `platform_machine == 'riscv64'` is none of the lock's targets (`platform_machine == 'x86_64'`, `platform_machine == 'aarch64'`)"
        );
        insta::assert_snapshot!(
            error(&SMALL.replace("8abb2f1d", "../../..")),
            @"locks/x/pylock.toml:10: sha256 `../../..86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e0254` is not 64 hex digits"
        );
        insta::assert_snapshot!(
            error(&SMALL.replace("lock-format = 1", "lock-format = 7")),
            @"locks/x/pylock.toml:15: lock-format 7 is not the one this fave-lock reads (1); run `fave-lock resolve` to rewrite the lock"
        );
        insta::assert_snapshot!(
            error(&SMALL.replace("image = \"x\"\n", "")),
            @"locks/x/pylock.toml:14: missing `image` in [tool.fave-lock]"
        );
        insta::assert_snapshot!(
            error(&SMALL.replace("[tool.fave-lock]", "[tool.other]")),
            @"locks/x/pylock.toml:1: no `[tool.fave-lock]` table: this lock was not written by fave-lock"
        );
        insta::assert_snapshot!(
            error(&SMALL.replace("size = 11053", "size = -1")),
            @"locks/x/pylock.toml:10: `size` must be a non-negative integer"
        );
        insta::assert_snapshot!(
            error(&SMALL.replace("six-1.16.0-py2.py3-none-any.whl\", url", "../six.whl\", url")),
            @"locks/x/pylock.toml:10: file name `../six.whl` is not a plain file name"
        );
    }

    #[test]
    fn a_missing_file_is_an_io_error() {
        let error = read_pylock(Path::new("/nonexistent/pylock.toml")).unwrap_err();
        assert!(matches!(error, LockReadError::Io { .. }), "{error}");
        assert_eq!(error.to_string(), "cannot read `/nonexistent/pylock.toml`");
    }
}
