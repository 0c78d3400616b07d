//! Source distributions: the core metadata of an sdist, for a package that publishes no wheel the
//! target can use.
//!
//! ```text
//! sdist file ─▶ cache (by sha256: static PKG-INFO, or metadata built for CPython X.Y)
//!            └▶ download (hash checked) ─▶ PKG-INFO: Metadata-Version ≥ 2.2 and Requires-Dist,
//!                                          Requires-Python, Provides-Extra not `Dynamic` (PEP 643) ─▶ used as is
//!                                       └▶ otherwise: unpack ─▶ build.rs (PEP 517 in an isolated venv) ─▶ METADATA
//!
//! build venv (env.rs, shared per requirement set) ─▶ requires.rs: resolve for the build interpreter, wheels only
//!                                                  └▶ install.rs: unpack the wheels (pip when not wheels only),
//!                                                     installer.rs: several at once, as they arrive
//! ```
//!
//! A PEP 643 PKG-INFO is as good as a wheel's METADATA for resolving, and reading it costs one download;
//! a build runs the project's code, takes seconds, and needs a CPython of the target's version on this
//! machine, so its result is cached per sdist hash and Python version and never repeated.

mod archive;
mod build;
mod env;
mod install;
mod installer;
mod requires;

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use jiff::Timestamp;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

pub use archive::ArchiveError;
pub use build::{BuildSystem, Host, Python, find_python};

use crate::index::{DistFile, IndexClient, IndexError};
use crate::tags::PythonVersion;

/// The cache folder of sdist metadata, under the fave-lock cache.
const CACHE_FOLDER: &str = "sdist-metadata-v1";
/// The shared build environments, under [`CACHE_FOLDER`].
const ENVIRONMENTS_FOLDER: &str = "envs";

/// Builds at once: each one runs a compiler's worth of Python; more would only fight for cores.
const CONCURRENT_BUILDS: usize = 2;

/// How an sdist's metadata may be had.
#[derive(Debug, Clone)]
pub struct SdistSettings {
    /// The target's Python: builds run on a CPython of this version.
    pub python: PythonVersion,
    /// The deadline of one build.
    pub build_timeout: Duration,
    /// The run's `--exclude-newer`: build requirements are resolved with it too, as uv does.
    pub exclude_newer: Option<Timestamp>,
}

impl SdistSettings {
    /// Ten minutes per build: pip takes as long for a package with a slow `setup.py`.
    pub fn new(python: PythonVersion) -> SdistSettings {
        SdistSettings {
            python,
            build_timeout: Duration::from_secs(600),
            exclude_newer: None,
        }
    }
}

/// Why an sdist's metadata could not be had.
#[derive(Debug, thiserror::Error)]
pub enum SdistError {
    #[error(
        "building `{filename}` needs CPython {version} on this machine and none was found: install it \
         (Debian: `apt-get install python{version} python{version}-venv`, or pyenv), or point \
         FAVE_LOCK_PYTHON at one; `--no-build` refuses sdists instead"
    )]
    NoPython {
        filename: String,
        version: PythonVersion,
    },
    #[error("cannot download the sdist `{filename}`")]
    Download {
        filename: String,
        #[source]
        source: IndexError,
    },
    #[error("the sdist `{filename}` has sha256 {actual}, but the index lists {expected}")]
    HashMismatch {
        filename: String,
        expected: String,
        actual: String,
    },
    #[error("cannot read the sdist `{filename}`")]
    Archive {
        filename: String,
        #[source]
        source: ArchiveError,
    },
    #[error(
        "building the metadata of `{filename}` failed: {message}\n  last lines of the build log:\n{}",
        indent(log_tail)
    )]
    Build {
        filename: String,
        message: String,
        log_tail: String,
    },
    #[error(
        "the metadata of the sdist `{filename}` is not cached and --offline forbids fetching it"
    )]
    Offline { filename: String },
    #[error("sdist cache error at `{}`", path.display())]
    Cache {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|line| format!("    {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether `filename` is an sdist (as opposed to a wheel).
pub fn is_sdist(filename: &str) -> bool {
    !filename.to_ascii_lowercase().ends_with(".whl")
}

/// The core metadata bytes of the sdist `file`: from the cache, its PKG-INFO when that is static
/// (PEP 643), or a PEP 517 build.
pub async fn metadata(
    client: &Arc<IndexClient>,
    file: &DistFile,
    settings: &SdistSettings,
) -> Result<Vec<u8>, SdistError> {
    let folder = client.settings().cache_dir.join(CACHE_FOLDER);
    let key = file
        .sha256
        .clone()
        .unwrap_or_else(|| hex::encode(Sha256::digest(file.url.as_bytes())));
    let static_path = folder.join(format!("{key}.pkg-info"));
    let built_path = folder.join(format!("{key}-cp{}.metadata", settings.python.nodot()));
    for path in [&static_path, &built_path] {
        if let Ok(bytes) = std::fs::read(path) {
            return Ok(bytes);
        }
    }
    let filename = file.filename.clone();
    if client.settings().offline {
        return Err(SdistError::Offline { filename });
    }
    // Look for the interpreter while the sdist downloads: the probe starts a Python (through a pyenv
    // shim, a shell script first), 0.1-0.25 s that a cold home-assistant run spent after the download,
    // on the way to its first build. The build's own call waits for this one's answer.
    tokio::spawn(python_for(settings.python));
    let work = tempfile::Builder::new()
        .prefix("build-")
        .tempdir_in(ensure_dir(&folder)?)
        .map_err(|source| cache_error(&folder, source))?;
    let downloaded = client
        .download(file, work.path(), &|_| {})
        .await
        .map_err(|source| SdistError::Download {
            filename: filename.clone(),
            source,
        })?;
    if let Some(expected) = &file.sha256
        && !expected.eq_ignore_ascii_case(&downloaded.sha256)
    {
        return Err(SdistError::HashMismatch {
            filename,
            expected: expected.clone(),
            actual: downloaded.sha256,
        });
    }
    let archive_error = |source| SdistError::Archive {
        filename: filename.clone(),
        source,
    };
    let pkg_info = archive::read_member(downloaded.file.path(), &filename, "PKG-INFO")
        .map_err(archive_error)?;
    if let Some(bytes) = pkg_info.filter(|bytes| is_static(bytes)) {
        store(&static_path, &bytes)?;
        return Ok(bytes);
    }
    let _permit = builds().acquire().await;
    let python = python_for(settings.python)
        .await
        .ok_or_else(|| SdistError::NoPython {
            filename: filename.clone(),
            version: settings.python,
        })?;
    let source_dir = work.path().join("src");
    std::fs::create_dir_all(&source_dir).map_err(|source| cache_error(&source_dir, source))?;
    let source =
        archive::unpack(downloaded.file.path(), &filename, &source_dir).map_err(archive_error)?;
    let context = build::BuildContext {
        python,
        environments: environments(client, settings),
        timeout: settings.build_timeout,
    };
    // A build is the slowest thing a resolution can do: say when one starts and what it cost, so
    // `RUST_LOG=debug` shows where a slow run's time went.
    tracing::debug!(sdist = %filename, "building metadata");
    let started = std::time::Instant::now();
    let built = build::metadata(&context, &source, work.path()).await;
    tracing::debug!(
        sdist = %filename,
        seconds = started.elapsed().as_secs_f64(),
        ok = built.is_ok(),
        "metadata build finished"
    );
    let bytes = built.map_err(|failure| SdistError::Build {
        filename: filename.clone(),
        message: failure.message,
        log_tail: failure.log_tail,
    })?;
    store(&built_path, &bytes)?;
    Ok(bytes)
}

/// Make, ahead of any build, the environment most sdists build in (setuptools' legacy backend: an
/// older sdist has no `[build-system]`), so that the first build does not wait for it (0.3-0.7 s here:
/// resolving and fetching setuptools, the venv, unpacking). For a run that met an sdist it will likely
/// build; what goes wrong is left for that build to report. The backend's bytecode is left to the
/// first build: compiled here too, it would only be compiled twice at once. Only guesses call it, and
/// an offline run makes none.
pub async fn prepare(client: &Arc<IndexClient>, settings: &SdistSettings) {
    let Some(python) = python_for(settings.python).await else {
        return;
    };
    let mut log = String::new();
    let _ = environments(client, settings)
        .get(&python, &build::BuildSystem::legacy().requires, &mut log)
        .await;
}

/// The shared build environments of `client`'s cache, made with its index and the run's
/// `--exclude-newer`.
fn environments(client: &Arc<IndexClient>, settings: &SdistSettings) -> env::Environments {
    env::Environments {
        folder: client
            .settings()
            .cache_dir
            .join(CACHE_FOLDER)
            .join(ENVIRONMENTS_FOLDER),
        client: client.clone(),
        exclude_newer: settings.exclude_newer,
    }
}

/// Whether a PKG-INFO can stand in for the built metadata (PEP 643): Metadata-Version 2.2 or later, and
/// none of the fields resolving reads marked `Dynamic`.
fn is_static(pkg_info: &[u8]) -> bool {
    let fields = crate::index::metadata_fields(pkg_info);
    let version_ok = fields
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("metadata-version"))
        .and_then(|(_, value)| {
            let (major, minor) = value.trim().split_once('.')?;
            Some((major.parse::<u32>().ok()?, minor.parse::<u32>().ok()?))
        })
        .is_some_and(|version| version >= (2, 2));
    let dynamic = fields
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("dynamic"))
        .any(|(_, value)| {
            ["requires-dist", "requires-python", "provides-extra"]
                .iter()
                .any(|field| value.trim().eq_ignore_ascii_case(field))
        });
    version_ok && !dynamic
}

/// [`find_python`], asked once per run for each version (and `PATH` and `FAVE_LOCK_PYTHON`): the probe
/// starts an interpreter, through a pyenv shim a shell script too.
async fn python_for(version: PythonVersion) -> Option<Python> {
    type Key = (
        PythonVersion,
        Option<std::ffi::OsString>,
        Option<std::ffi::OsString>,
    );
    static FOUND: OnceLock<tokio::sync::Mutex<std::collections::HashMap<Key, Option<Python>>>> =
        OnceLock::new();
    let key = (
        version,
        std::env::var_os("PATH"),
        std::env::var_os("FAVE_LOCK_PYTHON"),
    );
    let mut found = FOUND.get_or_init(Default::default).lock().await;
    if let Some(python) = found.get(&key) {
        return python.clone();
    }
    let python = find_python(version).await;
    found.insert(key, python.clone());
    python
}

fn builds() -> &'static Semaphore {
    static BUILDS: OnceLock<Semaphore> = OnceLock::new();
    BUILDS.get_or_init(|| Semaphore::new(CONCURRENT_BUILDS))
}

fn ensure_dir(folder: &std::path::Path) -> Result<&std::path::Path, SdistError> {
    std::fs::create_dir_all(folder).map_err(|source| cache_error(folder, source))?;
    Ok(folder)
}

fn store(path: &std::path::Path, bytes: &[u8]) -> Result<(), SdistError> {
    crate::fs::write_atomic(path, bytes).map_err(|error| cache_error(path, error.source))
}

fn cache_error(path: &std::path::Path, source: std::io::Error) -> SdistError {
    SdistError::Cache {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_pep_643_static_metadata_is_used_without_a_build() {
        let base = "Name: demo\nVersion: 1.0\nRequires-Dist: numpy\n";
        assert!(is_static(
            format!("Metadata-Version: 2.2\n{base}").as_bytes()
        ));
        assert!(is_static(
            format!("Metadata-Version: 2.4\nDynamic: License\n{base}").as_bytes()
        ));
        assert!(!is_static(
            format!("Metadata-Version: 2.1\n{base}").as_bytes()
        ));
        assert!(!is_static(
            format!("Metadata-Version: 1.1\n{base}").as_bytes()
        ));
        assert!(!is_static(
            format!("Metadata-Version: 2.3\nDynamic: Requires-Dist\n{base}").as_bytes()
        ));
        assert!(!is_static(
            format!("Metadata-Version: 2.2\ndynamic: requires-python\n{base}").as_bytes()
        ));
        assert!(!is_static(base.as_bytes()));
    }

    #[test]
    fn wheels_are_not_sdists() {
        assert!(is_sdist("webrtcvad-2.0.10.tar.gz"));
        assert!(is_sdist("old-1.0.zip"));
        assert!(!is_sdist("six-1.16.0-py2.py3-none-any.whl"));
    }
}
