//! Installing a wheel into a build environment by unpacking it, as uv does: no pip process (its
//! startup, resolver and byte-compiling were most of an environment's 3–9 s).
//!
//! ```text
//! <name>-<v>.dist-info/…                 ─▶ site-packages/<name>-<v>.dist-info/ (+ INSTALLER, our RECORD)
//! <name>-<v>.data/{purelib,platlib}/…    ─▶ site-packages/…
//! <name>-<v>.data/scripts/…              ─▶ bin/… (executable; `#!python` rewritten to the env's python)
//! <name>-<v>.data/headers/…              ─▶ include/site/pythonX.Y/<name>/…
//! <name>-<v>.data/data/…                 ─▶ the environment's root
//! anything else                          ─▶ site-packages/…
//! entry_points.txt [console_scripts]     ─▶ bin/<script> (a small Python launcher)
//! ```
//!
//! A wheel from an index is untrusted input. Every entry name is checked before anything is written
//! (no absolute path, no `..`, no backslash, no symbolic-link entry), directories on the way are
//! created one component at a time and never followed through a symbolic link, and files are created
//! with `O_EXCL`, so that nothing lands outside the environment whatever the archive says. Nothing is
//! byte-compiled: a build imports its backend once, and Python compiles what it imports.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

use base64::Engine;
use sha2::{Digest, Sha256};

use crate::index::zip::{self, Entry, ZipError};
use crate::index::zip_file::{self, ZipFileError};
use crate::tags::{PythonVersion, WheelFilename};

/// The most a wheel may unpack to, all entries together: far above any build requirement (cmake's
/// wheel unpacks to ~100 MB, torch's to a few GB), low enough that a lying archive cannot fill a disk.
const MAX_UNPACKED_LEN: u64 = 16 << 30;
/// The longest `#!` line Linux runs directly; a longer interpreter path goes through `/bin/sh`.
const MAX_SHEBANG_LEN: usize = 127;
/// Written into each installed `.dist-info/INSTALLER` (PEP 376), so that an environment says who made it.
pub(super) const INSTALLER: &str = "fave-lock";

/// Where an environment's install schemes are (a `venv` on CPython for POSIX).
#[derive(Debug, Clone)]
pub(super) struct Layout {
    pub root: PathBuf,
    pub site_packages: PathBuf,
    pub bin: PathBuf,
    /// `include/site/pythonX.Y`, pip's headers folder in a virtual environment.
    pub include: PathBuf,
}

impl Layout {
    /// The layout `python -m venv` makes at `root` for CPython `python`.
    pub fn venv(root: &Path, python: PythonVersion) -> Layout {
        Layout {
            root: root.to_path_buf(),
            site_packages: root.join(format!("lib/python{python}/site-packages")),
            bin: root.join("bin"),
            include: root.join(format!("include/site/python{python}")),
        }
    }

    /// The interpreter of the environment, for `#!` lines.
    pub(super) fn python(&self) -> PathBuf {
        self.bin.join("python")
    }
}

/// Why a wheel could not be installed.
#[derive(Debug, thiserror::Error)]
pub(super) enum InstallError {
    #[error("`{wheel}` is not a wheel fave-lock can install: {reason}")]
    Invalid { wheel: String, reason: String },
    #[error("`{wheel}` is not a readable wheel")]
    Read {
        wheel: String,
        #[source]
        source: ZipFileError,
    },
    #[error(
        "`{wheel}` has an entry `{entry}` that could write outside its place in the environment \
         ({reason}); nothing of it was installed"
    )]
    UnsafeEntry {
        wheel: String,
        entry: String,
        reason: &'static str,
    },
    #[error(
        "installing `{wheel}` would replace `{}`, which is not a file of an installed wheel",
        path.display()
    )]
    Conflict { wheel: String, path: PathBuf },
    #[error("installing `{wheel}`: cannot write `{}`", path.display())]
    Write {
        wheel: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What an install put where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Installed {
    /// The `.dist-info` folder, relative to site-packages.
    pub dist_info: String,
    /// Every file written, relative to the environment's root.
    pub files: Vec<PathBuf>,
}

/// Where a wheel's entry goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    SitePackages,
    Scripts,
    Headers,
    Data,
}

/// One entry to write: its zip entry, scheme and path below the scheme's folder.
struct Planned<'a> {
    entry: &'a Entry,
    scheme: Scheme,
    relative: PathBuf,
}

/// One file an install writes: its place (a plain relative path below one of the layout's
/// folders), its mode, and what goes in it.
pub(super) struct Step {
    pub base: PathBuf,
    pub relative: PathBuf,
    pub mode: u32,
    pub content: Content,
}

/// What a [`Step`] writes.
pub(super) enum Content {
    /// A zip entry's bytes; a script's `#!python` line rewritten (see [`script_head`]).
    Entry { entry: Entry, script: bool },
    /// These bytes (a console script's launcher, INSTALLER).
    Bytes(Vec<u8>),
    /// The wheel's RECORD, made from the hashes of every other step: always the last step.
    Record,
}

/// What installing one wheel writes, decided before anything of it is written.
pub(super) struct WheelPlan {
    /// The `.dist-info` folder, relative to site-packages.
    pub dist_info: String,
    /// Its entries in the archive's order, then its console scripts, INSTALLER and RECORD.
    pub steps: Vec<Step>,
    /// Why its `entry_points.txt` cannot be used, when it cannot: installing one wheel after the other,
    /// this came after every entry was written, so it stands where the scripts would (the steps stop
    /// there).
    pub late_error: Option<InstallError>,
}

/// Read the wheel at `path` (named `filename` on the index) and decide where each of its files goes,
/// refusing it as a whole when it is not a wheel fave-lock installs or an entry could write outside
/// its place: nothing is written before every name passed.
pub(super) fn plan_wheel(
    layout: &Layout,
    path: &Path,
    filename: &str,
) -> Result<WheelPlan, InstallError> {
    let invalid = |reason: String| InstallError::Invalid {
        wheel: filename.to_string(),
        reason,
    };
    let read_error = |source: ZipFileError| InstallError::Read {
        wheel: filename.to_string(),
        source,
    };
    let parsed: WheelFilename = filename
        .parse()
        .map_err(|error: crate::tags::FilenameError| invalid(error.reason))?;
    let mut file = File::open(path).map_err(|error| read_error(error.into()))?;
    let entries = zip_file::read_directory(&mut file).map_err(read_error)?;
    let metadata =
        zip::find_metadata(&entries, filename).map_err(|error| read_error(error.into()))?;
    let dist_info = metadata
        .name
        .strip_suffix("/METADATA")
        .unwrap_or_default()
        .to_string();
    let stem = dist_info.strip_suffix(".dist-info").unwrap_or_default();
    check_wheel_version(path, &entries, &dist_info).map_err(|problem| match problem {
        WheelFileProblem::Read(source) => read_error(source),
        WheelFileProblem::Invalid(reason) => invalid(reason),
    })?;
    let planned = plan(filename, &entries, &dist_info, &format!("{stem}.data"))?;
    let declared: u64 = planned.iter().map(|item| item.entry.uncompressed_len).sum();
    if declared > MAX_UNPACKED_LEN {
        return Err(invalid(format!(
            "it unpacks to {declared} bytes, over fave-lock's limit of {MAX_UNPACKED_LEN}"
        )));
    }
    let headers = layout.include.join(parsed.name.as_ref());
    let mut steps: Vec<Step> = planned
        .into_iter()
        .map(|item| {
            let (base, mode) = match item.scheme {
                Scheme::SitePackages => (&layout.site_packages, executable_or_not(item.entry)),
                Scheme::Scripts => (&layout.bin, 0o755),
                Scheme::Headers => (&headers, 0o644),
                Scheme::Data => (&layout.root, executable_or_not(item.entry)),
            };
            Step {
                base: base.clone(),
                relative: item.relative,
                mode,
                content: Content::Entry {
                    entry: item.entry.clone(),
                    script: item.scheme == Scheme::Scripts,
                },
            }
        })
        .collect();
    let entry_points = format!("{dist_info}/entry_points.txt");
    let scripts = match entries.iter().find(|entry| entry.name == entry_points) {
        None => Ok(Vec::new()),
        Some(entry) => read_entry(path, entry)
            .map_err(read_error)
            .and_then(|text| console_scripts(&String::from_utf8_lossy(&text)).map_err(invalid)),
    };
    let scripts = match scripts {
        Ok(scripts) => scripts,
        Err(error) => {
            return Ok(WheelPlan {
                dist_info,
                steps,
                late_error: Some(error),
            });
        }
    };
    for script in scripts {
        steps.push(Step {
            base: layout.bin.clone(),
            relative: PathBuf::from(&script.name),
            mode: 0o755,
            content: Content::Bytes(launcher(&layout.python(), &script).into_bytes()),
        });
    }
    let dist_info_dir = Path::new(&dist_info);
    steps.push(Step {
        base: layout.site_packages.clone(),
        relative: dist_info_dir.join("INSTALLER"),
        mode: 0o644,
        content: Content::Bytes(format!("{INSTALLER}\n").into_bytes()),
    });
    steps.push(Step {
        base: layout.site_packages.clone(),
        relative: dist_info_dir.join("RECORD"),
        mode: 0o644,
        content: Content::Record,
    });
    Ok(WheelPlan {
        dist_info,
        steps,
        late_error: None,
    })
}

enum WheelFileProblem {
    Read(ZipFileError),
    Invalid(String),
}

/// PEP 427: refuse a `Wheel-Version` whose major version is not 1 (an installer must).
fn check_wheel_version(
    path: &Path,
    entries: &[Entry],
    dist_info: &str,
) -> Result<(), WheelFileProblem> {
    let name = format!("{dist_info}/WHEEL");
    let entry = entries
        .iter()
        .find(|entry| entry.name == name)
        .ok_or_else(|| WheelFileProblem::Invalid(format!("no `{name}`")))?;
    let text = read_entry(path, entry).map_err(WheelFileProblem::Read)?;
    let fields = crate::index::metadata_fields(&text);
    let version = fields
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case("wheel-version"))
        .map(|(_, value)| value.trim().to_string())
        .unwrap_or_default();
    if version.split('.').next() == Some("1") {
        Ok(())
    } else {
        Err(WheelFileProblem::Invalid(format!(
            "Wheel-Version `{version}` (fave-lock installs 1.x)"
        )))
    }
}

/// A small entry (WHEEL, entry_points.txt) whole, checked against its size and CRC-32.
pub(super) fn read_entry(path: &Path, entry: &Entry) -> Result<Vec<u8>, ZipFileError> {
    zip::check_entry(entry)?;
    let reader = zip_file::entry_reader(File::open(path)?, entry)?;
    let mut checked = Checked::new(reader);
    let mut bytes = Vec::new();
    checked.read_to_end(&mut bytes)?;
    checked.finish(entry)?;
    Ok(bytes)
}

/// Decide where every entry goes, refusing the whole wheel at the first entry that could write
/// outside its place: nothing is written before every name passed.
fn plan<'a>(
    wheel: &str,
    entries: &'a [Entry],
    dist_info: &str,
    data: &str,
) -> Result<Vec<Planned<'a>>, InstallError> {
    let unsafe_entry = |entry: &Entry, reason| InstallError::UnsafeEntry {
        wheel: wheel.to_string(),
        entry: entry.name.clone(),
        reason,
    };
    let mut plan = Vec::new();
    for entry in entries {
        if entry.unix_mode & 0o170_000 == 0o120_000 {
            return Err(unsafe_entry(entry, "a symbolic link"));
        }
        let relative = safe_relative(&entry.name).map_err(|reason| unsafe_entry(entry, reason))?;
        if entry.name.ends_with('/') {
            continue;
        }
        // Written by the installer itself.
        if [
            format!("{dist_info}/RECORD"),
            format!("{dist_info}/INSTALLER"),
        ]
        .contains(&entry.name)
        {
            continue;
        }
        let mut components = relative.components();
        let (scheme, relative) = if components.next() == Some(Component::Normal(data.as_ref())) {
            let scheme = match components.next() {
                Some(Component::Normal(name)) if name == "purelib" || name == "platlib" => {
                    Scheme::SitePackages
                }
                Some(Component::Normal(name)) if name == "scripts" => Scheme::Scripts,
                Some(Component::Normal(name)) if name == "headers" => Scheme::Headers,
                Some(Component::Normal(name)) if name == "data" => Scheme::Data,
                _ => return Err(unsafe_entry(entry, "an unknown `.data` scheme")),
            };
            let rest = components.as_path().to_path_buf();
            if rest.as_os_str().is_empty() {
                return Err(unsafe_entry(entry, "a `.data` scheme folder as a file"));
            }
            (scheme, rest)
        } else {
            (Scheme::SitePackages, relative)
        };
        plan.push(Planned {
            entry,
            scheme,
            relative,
        });
    }
    Ok(plan)
}

/// `name` as a relative path of plain components, or why it is not one.
fn safe_relative(name: &str) -> Result<PathBuf, &'static str> {
    if name.starts_with('/') {
        return Err("an absolute path");
    }
    if name.contains('\\') || name.contains('\0') {
        return Err("a backslash or NUL in the name");
    }
    let mut path = PathBuf::new();
    for part in name.split('/') {
        match part {
            "" if path.as_os_str().is_empty() => return Err("an empty name"),
            // `a//b` and a folder's trailing `/`.
            "" => {}
            "." | ".." => return Err("a `.` or `..` component"),
            part => path.push(part),
        }
    }
    if path.as_os_str().is_empty() {
        return Err("an empty name");
    }
    Ok(path)
}

/// Keep an entry's executable bits (cmake's and ninja's binaries are shipped as data).
fn executable_or_not(entry: &Entry) -> u32 {
    if entry.unix_mode & 0o111 != 0 {
        0o755
    } else {
        0o644
    }
}

/// RECORD (PEP 376, CSV): each file (relative to the root ─▶ urlsafe base64 SHA-256, size) relative
/// to site-packages with its hash and size, then RECORD itself without either.
pub(super) fn record_text<'a>(
    layout: &Layout,
    dist_info: &str,
    files: impl Iterator<Item = (&'a PathBuf, &'a str, u64)>,
) -> String {
    let site = layout
        .site_packages
        .strip_prefix(&layout.root)
        .unwrap_or(&layout.site_packages);
    let mut text = String::new();
    for (path, hash, len) in files {
        let relative = relative_path(path, site);
        text.push_str(&format!("{},sha256={hash},{len}\n", csv_field(&relative)));
    }
    text.push_str(&format!(
        "{},,\n",
        csv_field(&format!("{dist_info}/RECORD"))
    ));
    text
}

/// `path` relative to `base` (both relative to one root), with `..` where they part.
fn relative_path(path: &Path, base: &Path) -> String {
    let path: Vec<_> = path.components().collect();
    let base: Vec<_> = base.components().collect();
    let common = path.iter().zip(&base).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".to_string(); base.len() - common];
    parts.extend(
        path[common..]
            .iter()
            .map(|part| part.as_os_str().to_string_lossy().into_owned()),
    );
    parts.join("/")
}

/// A CSV field, quoted when it must be.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// A reader that counts and CRCs what passes, to check an entry against its central directory
/// record once read.
pub(super) struct Checked<R> {
    inner: R,
    crc: flate2::Crc,
    len: u64,
}

impl<R: Read> Checked<R> {
    pub(super) fn new(inner: R) -> Checked<R> {
        Checked {
            inner,
            crc: flate2::Crc::new(),
            len: 0,
        }
    }

    /// Whether what was read is the entry's declared size and CRC-32 (the reader stops one byte past
    /// the declared size, so a longer entry is caught too).
    pub(super) fn finish(self, entry: &Entry) -> Result<(), ZipError> {
        if self.len == entry.uncompressed_len && self.crc.sum() == entry.crc32 {
            Ok(())
        } else {
            Err(ZipError::Checksum(entry.name.clone()))
        }
    }
}

impl<R: Read> Read for Checked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.crc.update(&buf[..read]);
        self.len += read as u64;
        Ok(read)
    }
}

/// A writer that hashes and counts what it writes, for RECORD.
pub(super) struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    len: u64,
}

impl<W: Write> Hashing<W> {
    pub(super) fn new(inner: W) -> Hashing<W> {
        Hashing {
            inner,
            hasher: Sha256::new(),
            len: 0,
        }
    }

    /// RECORD's urlsafe, unpadded base64 SHA-256, and the length.
    pub(super) fn finish(self) -> (String, u64) {
        let hash = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.hasher.finalize());
        (hash, self.len)
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.hasher.update(&buf[..written]);
        self.len += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// What a script starts with once installed: its first bytes as they are, or, for a `#!python` (or
/// `#!pythonw`) line, which the wheel spec asks installers to rewrite, the environment's interpreter
/// (the rest of that line is read and dropped).
pub(super) fn script_head(source: &mut impl Read, python: &Path) -> std::io::Result<Vec<u8>> {
    const MARKER: &[u8] = b"#!python";
    let mut head = Vec::new();
    source
        .by_ref()
        .take(MARKER.len() as u64)
        .read_to_end(&mut head)?;
    if head != MARKER {
        return Ok(head);
    }
    let mut byte = [0_u8; 1];
    while source.read(&mut byte)? == 1 && byte[0] != b'\n' {}
    Ok(shebang(python).into_bytes())
}

/// The first line(s) of a script run by `python`: `#!python`, or through `/bin/sh` when the path is
/// too long for the kernel or has a space (a `#!` line cannot quote).
fn shebang(python: &Path) -> String {
    let path = python.to_string_lossy();
    if path.len() + 2 <= MAX_SHEBANG_LEN && !path.contains(char::is_whitespace) {
        format!("#!{path}\n")
    } else {
        let quoted = path.replace('\'', "'\\''");
        format!("#!/bin/sh\n'''exec' '{quoted}' \"$0\" \"$@\"\n' '''\n")
    }
}

/// A `[console_scripts]` or `[gui_scripts]` entry point.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Script {
    name: String,
    module: String,
    /// Dotted attribute path inside the module.
    attribute: String,
}

/// The scripts an `entry_points.txt` asks for, or why one of them cannot be written.
fn console_scripts(text: &str) -> Result<Vec<Script>, String> {
    let mut scripts = Vec::new();
    let mut in_scripts = false;
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            in_scripts = matches!(section.trim(), "console_scripts" | "gui_scripts");
            continue;
        }
        if !in_scripts {
            continue;
        }
        let (name, value) = line
            .split_once('=')
            .ok_or_else(|| format!("entry point line `{line}` has no `=`"))?;
        let name = name.trim();
        // Extras (`[extra]`) only mattered to pkg_resources.
        let value = value.split('[').next().unwrap_or_default().trim();
        let (module, attribute) = value
            .split_once(':')
            .ok_or_else(|| format!("console script `{name}` names no function (`{value}`)"))?;
        let (module, attribute) = (module.trim(), attribute.trim());
        let valid_name = !name.is_empty()
            && name != "."
            && name != ".."
            && !name.contains(['/', '\\', '\0'])
            && !name.chars().any(char::is_whitespace);
        if !valid_name || !is_dotted_identifier(module) || !is_dotted_identifier(attribute) {
            return Err(format!("console script `{name} = {value}` is not valid"));
        }
        scripts.push(Script {
            name: name.to_string(),
            module: module.to_string(),
            attribute: attribute.to_string(),
        });
    }
    Ok(scripts)
}

/// `a.b_c.d`: identifiers joined by dots (what goes into a launcher as code must be no more).
fn is_dotted_identifier(text: &str) -> bool {
    !text.is_empty()
        && text.split('.').all(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .is_some_and(|first| first == '_' || first.is_alphabetic())
                && chars.all(|c| c == '_' || c.is_alphanumeric())
        })
}

/// The launcher of a console script: imports its function and exits with what it returns.
fn launcher(python: &Path, script: &Script) -> String {
    let head = script
        .attribute
        .split('.')
        .next()
        .unwrap_or(&script.attribute);
    format!(
        "{}# Console script `{}`, written by fave-lock into a build environment.\n\
         import sys\n\
         from {} import {head}\n\
         if __name__ == \"__main__\":\n    sys.exit({}())\n",
        shebang(python),
        script.name,
        script.module,
        script.attribute
    )
}

#[cfg(test)]
#[path = "install_tests.rs"]
mod tests;
