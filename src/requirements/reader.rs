//! Reading a file and everything it includes, depth first, in pip's order.
//!
//! Paths stay as the user wrote them, joined to the including file's folder (`base-image/extra.in`),
//! so messages name files the way the user knows them. Only include-cycle detection looks at the
//! canonical path, because two spellings can name the same file.

use std::path::{Component, Path, PathBuf};

use super::entry::{Entry, IncludeKind, check_constraint, parse_entry};
use super::input::{InputWarning, OnlyBinary};
use super::lines::{LogicalLine, logical_lines};
use super::source::{decode, read_regular_file};
use super::{InputRequirement, Location, RequirementsError, RequirementsInput};

/// The deepest chain of `-r`/`-c` includes read; real projects nest two or three deep.
pub(super) const MAX_INCLUDE_DEPTH: usize = 32;

/// The most file reads in one input, a file included from several places counting each time: without
/// it, 32 levels of files that each include the next twice would mean 2^32 reads.
pub(super) const MAX_READS: usize = 10_000;

/// The most bytes read in one input, over all reads.
pub(super) const MAX_TOTAL_BYTES: usize = 10 * 1024 * 1024;

/// The most requirement and constraint lines in one input; each costs memory and solver time, and real
/// inputs have a few hundred.
pub(super) const MAX_ENTRIES: usize = 100_000;

/// The longest logical line read, in bytes: a requirement with `--hash` for every wheel of a release
/// stays under 10 KB.
pub(super) const MAX_LINE: usize = 1024 * 1024;

/// One file being read: the name to show and the identity to compare for cycles.
struct OpenFile {
    path: PathBuf,
    identity: PathBuf,
}

/// State of one read: what was collected so far and the chain of files being read.
#[derive(Default)]
pub(super) struct Reader {
    input: RequirementsInput,
    /// Files being read, outermost first.
    open: Vec<OpenFile>,
    /// Files read so far and their bytes, each read counted (see [`MAX_READS`]).
    reads: usize,
    bytes: usize,
}

impl Reader {
    /// Read `path` from disk and everything it includes.
    pub(super) fn read(path: &Path) -> Result<RequirementsInput, RequirementsError> {
        let bytes = read_regular_file(path).map_err(|source| RequirementsError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Reader::parse(&text(&bytes, path)?, path)
    }

    /// Parse `contents` as if read from `path`; includes are read relative to `path`'s folder.
    pub(super) fn parse(
        contents: &str,
        path: &Path,
    ) -> Result<RequirementsInput, RequirementsError> {
        let mut reader = Reader::default();
        reader.parse_file(contents, path, IncludeKind::Requirements)?;
        Ok(reader.input)
    }

    fn parse_file(
        &mut self,
        contents: &str,
        path: &Path,
        kind: IncludeKind,
    ) -> Result<(), RequirementsError> {
        self.reads += 1;
        self.bytes += contents.len();
        if !self.input.files.iter().any(|file| file == path) {
            self.input.files.push(path.to_path_buf());
        }
        self.open.push(OpenFile {
            path: path.to_path_buf(),
            identity: identity(path),
        });
        for line in logical_lines(contents) {
            self.parse_line(line, path, kind)?;
        }
        self.open.pop();
        Ok(())
    }

    fn parse_line(
        &mut self,
        line: LogicalLine,
        path: &Path,
        kind: IncludeKind,
    ) -> Result<(), RequirementsError> {
        let location = Location {
            path: path.to_path_buf(),
            line: line.line,
        };
        if line.text.len() > MAX_LINE {
            let message = format!(
                "line is {} bytes long; the limit is {MAX_LINE}",
                line.text.len()
            );
            return Err(syntax(&location, message));
        }
        let entries = parse_entry(&line.text).map_err(|message| syntax(&location, message))?;
        for entry in entries {
            match entry {
                Entry::Requirement {
                    requirement,
                    hashes,
                } => {
                    let text = super::entry::requirement_text(&line.text).to_string();
                    let entry = InputRequirement {
                        requirement: *requirement,
                        location: location.clone(),
                        text,
                        hashes,
                    };
                    self.push_requirement(entry, kind)?;
                }
                Entry::Include {
                    kind: include,
                    file,
                } => self.include(&file, location.clone(), kind.nested(include))?,
                Entry::IndexUrl(url) => self.set_index_url(url, location.clone())?,
                Entry::Pre => self.input.prereleases = true,
                Entry::OnlyBinary(names) => self.only_binary(&names, &location)?,
                Entry::Ignored(message) => self.input.warnings.push(InputWarning {
                    location: location.clone(),
                    message,
                }),
            }
        }
        Ok(())
    }

    /// Record `--only-binary`: `:all:` covers every package, `:none:` clears, names add up.
    fn only_binary(
        &mut self,
        names: &[String],
        location: &Location,
    ) -> Result<(), RequirementsError> {
        for name in names {
            self.input.only_binary = match (name.as_str(), &mut self.input.only_binary) {
                (":all:", _) => OnlyBinary::All,
                (":none:", _) => OnlyBinary::None,
                (_, OnlyBinary::All) => OnlyBinary::All,
                (name, current) => {
                    let package = name.parse().map_err(|_| {
                        syntax(
                            location,
                            format!("`--only-binary`: `{name}` is not a package name"),
                        )
                    })?;
                    let mut packages = match std::mem::take(current) {
                        OnlyBinary::Packages(packages) => packages,
                        _ => Vec::new(),
                    };
                    packages.push(package);
                    OnlyBinary::Packages(packages)
                }
            };
        }
        Ok(())
    }

    fn push_requirement(
        &mut self,
        entry: InputRequirement,
        kind: IncludeKind,
    ) -> Result<(), RequirementsError> {
        if self.input.requirements.len() + self.input.constraints.len() >= MAX_ENTRIES {
            let message = format!(
                "more than {MAX_ENTRIES} requirement and constraint lines; split the input, or drop \
                 repeated lines"
            );
            return Err(syntax(&entry.location, message));
        }
        match kind {
            IncludeKind::Requirements => self.input.requirements.push(entry),
            IncludeKind::Constraints => {
                check_constraint(&entry.requirement, &entry.text)
                    .map_err(|message| syntax(&entry.location, message))?;
                self.input.constraints.push(entry);
            }
        }
        Ok(())
    }

    /// Read `file`, named on the line at `location`, as a file of `kind`.
    fn include(
        &mut self,
        file: &str,
        location: Location,
        kind: IncludeKind,
    ) -> Result<(), RequirementsError> {
        let path = join_relative(&location.path, file);
        let identity = identity(&path);
        if let Some(start) = self.open.iter().position(|open| open.identity == identity) {
            let mut chain: Vec<PathBuf> = self.open[start..]
                .iter()
                .map(|open| open.path.clone())
                .collect();
            chain.push(path);
            return Err(RequirementsError::IncludeCycle { location, chain });
        }
        if self.open.len() >= MAX_INCLUDE_DEPTH {
            let mut chain: Vec<PathBuf> = self.open.iter().map(|open| open.path.clone()).collect();
            chain.push(path);
            return Err(RequirementsError::IncludeDepth {
                location,
                limit: MAX_INCLUDE_DEPTH,
                chain,
            });
        }
        if self.reads >= MAX_READS {
            let message = format!(
                "includes read more than {MAX_READS} files (a file included from several places \
                 counts each time); include each file once"
            );
            return Err(syntax(&location, message));
        }
        let bytes = match read_regular_file(&path) {
            Ok(bytes) => bytes,
            Err(source) => {
                return Err(RequirementsError::Include {
                    location,
                    path,
                    source,
                });
            }
        };
        if self.bytes + bytes.len() > MAX_TOTAL_BYTES {
            let message = format!(
                "includes read more than {} MB in total (a file included from several places \
                 counts each time); include each file once",
                MAX_TOTAL_BYTES / 1024 / 1024
            );
            return Err(syntax(&location, message));
        }
        self.parse_file(&text(&bytes, &path)?, &path, kind)
    }

    /// Record `-i`; a second, different one is an error because fave-lock uses exactly one index.
    fn set_index_url(&mut self, url: String, location: Location) -> Result<(), RequirementsError> {
        if let (Some(existing), Some(first)) =
            (&self.input.index_url, &self.input.index_url_location)
            && *existing != url
        {
            let message = format!(
                "index URL `{url}` conflicts with `{existing}` set at {first}: fave-lock resolves from \
                 exactly one index; keep one `-i` line"
            );
            return Err(syntax(&location, message));
        }
        self.input.index_url = Some(url);
        self.input.index_url_location.get_or_insert(location);
        Ok(())
    }
}

/// The text of the file at `path`, or an error at the line of its first bad byte.
fn text(bytes: &[u8], path: &Path) -> Result<String, RequirementsError> {
    decode(bytes).map_err(|error| RequirementsError::Encoding {
        location: Location {
            path: path.to_path_buf(),
            line: error.line,
        },
        message: error.message,
    })
}

fn syntax(location: &Location, message: String) -> RequirementsError {
    RequirementsError::Syntax {
        location: location.clone(),
        message,
    }
}

/// `file` as named in `including`: relative names are joined to its folder, and `.` components are
/// dropped so `-r ./extra.in` in `base-image/requirements.in` reads as `base-image/extra.in`. `..` is
/// kept, since resolving it without the file system can be wrong under symlinks.
fn join_relative(including: &Path, file: &str) -> PathBuf {
    let folder = including.parent().unwrap_or(Path::new(""));
    folder
        .join(file)
        .components()
        .filter(|component| *component != Component::CurDir)
        .collect()
}

/// The canonical path when the file exists, else the path itself: enough to recognise the same file
/// spelled two ways (`a.in` and `../dir/a.in`).
fn identity(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn includes_join_the_including_folder_as_written() {
        let including = Path::new("base-image/requirements.in");
        assert_eq!(
            join_relative(including, "extra.in"),
            Path::new("base-image/extra.in")
        );
        assert_eq!(
            join_relative(including, "./sub/./x.in"),
            Path::new("base-image/sub/x.in")
        );
        assert_eq!(
            join_relative(including, "../common.in"),
            Path::new("base-image/../common.in")
        );
        assert_eq!(
            join_relative(Path::new("requirements.in"), "extra.in"),
            Path::new("extra.in")
        );
        assert_eq!(
            join_relative(including, "/abs/x.in"),
            Path::new("/abs/x.in")
        );
    }
}
