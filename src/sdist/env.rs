//! Build environments kept in the cache and shared by every build that needs the same build
//! requirements on the same interpreter.
//!
//! An environment is a `venv` without pip into which fave-lock installs the wheels its own resolver
//! chose for the interpreter (`requires.rs`), by unpacking them (`install.rs`), as uv does: a pip
//! process resolving and installing setuptools took 3–9 s per environment, which under a diagnosis
//! budget of 10 s was the difference between a report and a cancelled build. When the requirements
//! cannot be had as wheels only (one publishes only an sdist, the resolver finds no solution) or the
//! interpreter's platform is unknown, pip installs them as before, and the build log says so.
//!
//! Most sdists ask for the same few requirements (setuptools' legacy default above all), so one
//! environment per requirement set serves a whole run and the next ones. A build only reads its
//! environment: its `setup.py` writes into the source tree and the output folder, and anything the
//! backend asks for on top (`get_requires_for_build_wheel`) gets an environment of its own, keyed with
//! it.
//!
//! An environment also keeps the bytecode of what its builds import (`hooks.py` writes it there, and only
//! there, even under `PYTHONDONTWRITEBYTECODE`): every hook is a new Python process, which otherwise
//! compiled setuptools from source again (0.42 s a hook against 0.17 s; rtvc-old's cold diagnosis, ten
//! builds, 12.1 s → 6.1 s).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use jiff::Timestamp;
use sha2::{Digest, Sha256};

use super::build::{BuildFailure, Python};
use super::install::Layout;
use super::installer::Installer;
use super::requires::{self, NotWheelsOnly};
use crate::index::{DistFile, IndexClient};
use crate::tags::PythonVersion;
use crate::verify::CachedDownloadError;

/// After this long an environment is made again, so unpinned build requirements (`setuptools>=40.8.0`)
/// move on as pip's and uv's do.
const MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);
/// Written last: an environment without it was interrupted while being made.
const READY: &str = "fave-lock-ready";
/// Part of every key: environments made by an older fave-lock (pip only) are not reused, nor are
/// these by it. Bump when what an environment holds changes.
const INSTALLERS: &str = "fave-lock wheel installer 1, pip fallback";

/// Where shared environments live, and how to make one.
#[derive(Clone)]
pub struct Environments {
    /// The folder holding one environment per key.
    pub folder: PathBuf,
    /// The run's index client: build requirements come from its index, their wheels through its
    /// cache.
    pub client: Arc<IndexClient>,
    /// The run's `--exclude-newer`, which applies to build requirements too (as in uv).
    pub exclude_newer: Option<Timestamp>,
}

/// How an environment's requirements get installed.
enum Plan {
    /// There are none.
    Nothing,
    /// These wheels, downloaded into the wheel cache and unpacked by fave-lock into a venv of CPython
    /// `python`.
    Wheels {
        python: PythonVersion,
        files: Vec<DistFile>,
    },
    /// pip, for this reason.
    Pip(String),
}

impl Environments {
    /// The folder of the environment for `requirements` on `python`, made when there is no ready one
    /// younger than [`MAX_AGE`]. Concurrent runs make it once: the maker holds a lock file.
    pub async fn get(
        &self,
        python: &Python,
        requirements: &[String],
        log: &mut String,
    ) -> Result<PathBuf, BuildFailure> {
        let index_url = &self.client.settings().index_url;
        let dir = self
            .folder
            .join(key(python, index_url, self.exclude_newer, requirements));
        if is_ready(&dir) {
            log.push_str(&format!(
                "# build environment {} (shared, has: {})\n",
                dir.display(),
                requirements.join(" ")
            ));
            return Ok(dir);
        }
        std::fs::create_dir_all(&self.folder).map_err(|error| BuildFailure::io(&error))?;
        let lock_path = dir.with_extension("lock");
        let lock = tokio::task::spawn_blocking(move || -> std::io::Result<std::fs::File> {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(lock_path)?;
            file.lock()?;
            Ok(file)
        })
        .await
        .map_err(|error| BuildFailure::new(&format!("the environment lock: {error}"), ""))?
        .map_err(|error| BuildFailure::io(&error))?;
        // Another run may have made it while this one waited.
        if !is_ready(&dir) {
            self.make(python, requirements, &dir, log).await?;
        }
        drop(lock);
        Ok(dir)
    }

    async fn make(
        &self,
        python: &Python,
        requirements: &[String],
        dir: &Path,
        log: &mut String,
    ) -> Result<(), BuildFailure> {
        match std::fs::remove_dir_all(dir) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(BuildFailure::io(&error)),
        }
        let started = std::time::Instant::now();
        let plan = self.plan(python, requirements, log).await?;
        let installer = match plan {
            Plan::Nothing => {
                make_venv(log, python, dir, false).await?;
                "none needed"
            }
            Plan::Wheels {
                python: version,
                files,
            } => {
                // The downloads run while the venv is made and the wheels that arrived first are
                // unpacked: a torch environment (3 GB of wheels, 5.2 GB unpacked) took 13.5 s to
                // download, then 22 s to unpack one wheel after the other.
                let (arrivals, downloads) = self.download(&files);
                // Whatever ends this (a failure, or the build's time running out, which drops this
                // future), no download goes on without a reader.
                let _stop = StopOnDrop(downloads.abort_handle());
                make_venv(log, python, dir, false).await?;
                let layout = Layout::venv(dir, version);
                // Where `venv` puts site-packages on CPython for POSIX; anything else would install
                // where the interpreter does not look.
                if !layout.site_packages.is_dir() {
                    return Err(BuildFailure::new(
                        &format!("the new venv has no `{}`", layout.site_packages.display()),
                        "",
                    ));
                }
                let count = files.len();
                install(layout, &files, arrivals).await?;
                log.push_str(&format!(
                    "# installed {count} wheel(s) by unpacking them (fave-lock, no pip)\n"
                ));
                "fave-lock"
            }
            Plan::Pip(reason) => {
                make_venv(log, python, dir, python.pip_wheel.is_none()).await?;
                log.push_str(&format!(
                    "# the build requirements cannot be installed from wheels by fave-lock ({reason}): pip installs them\n"
                ));
                super::build::install(
                    log,
                    &dir.join("bin/python"),
                    &python.pip_argv(),
                    &self.client.settings().index_url,
                    requirements,
                )
                .await?;
                "pip"
            }
        };
        tracing::debug!(
            installer,
            requirements = requirements.join(" "),
            seconds = started.elapsed().as_secs_f64(),
            "build environment made"
        );
        std::fs::write(dir.join(READY), requirements.join("\n"))
            .map_err(|error| BuildFailure::io(&error))
    }

    /// Resolve `requirements` for the interpreter and fetch their wheels; pip when that cannot be.
    async fn plan(
        &self,
        python: &Python,
        requirements: &[String],
        log: &mut String,
    ) -> Result<Plan, BuildFailure> {
        if requirements.is_empty() {
            return Ok(Plan::Nothing);
        }
        let Some(host) = &python.host else {
            return Ok(Plan::Pip(format!(
                "`{}` did not say which glibc and architecture it runs on",
                python.executable.display()
            )));
        };
        let files =
            match requires::resolve(&self.client, host, self.exclude_newer, requirements).await {
                Ok(files) => files,
                Err(NotWheelsOnly(reason)) => return Ok(Plan::Pip(reason)),
            };
        log.push_str(&format!(
            "# build requirements for CPython {} on {}, resolved by fave-lock: {}\n",
            host.full_version,
            host.platform,
            requires::pins(&files)
        ));
        Ok(Plan::Wheels {
            python: host.python,
            files,
        })
    }

    /// Fetch `files` into the wheel cache in the background, biggest first and
    /// [`DOWNLOADS_AT_ONCE`] at a time: each arrives on the channel with its index in `files`.
    fn download(
        &self,
        files: &[DistFile],
    ) -> (
        tokio::sync::mpsc::UnboundedReceiver<Arrival>,
        tokio::task::JoinHandle<()>,
    ) {
        use futures::StreamExt;

        let mut by_size: Vec<(usize, DistFile)> = files.iter().cloned().enumerate().collect();
        by_size.sort_by_key(|(_, file)| std::cmp::Reverse(file.size.unwrap_or(0)));
        let (sender, arrivals) = tokio::sync::mpsc::unbounded_channel();
        let client = self.client.clone();
        let task = tokio::spawn(async move {
            futures::stream::iter(by_size)
                .map(|(order, file)| {
                    let client = client.clone();
                    async move { (order, requires::fetch(&client, &file).await) }
                })
                .buffer_unordered(DOWNLOADS_AT_ONCE)
                .for_each(|arrival| {
                    // The receiver is gone only when the environment was given up.
                    let _ = sender.send(arrival);
                    std::future::ready(())
                })
                .await;
        });
        (arrivals, task)
    }
}

/// A build requirement's wheel fetched into the wheel cache (its index in the set, its path there).
type Arrival = (usize, Result<PathBuf, CachedDownloadError>);

/// How many of a build environment's wheels download at once. The biggest go first so that they
/// arrive early and unpack while the small ones download: with all 31 wheels of a torch environment
/// at once, the big ones all arrived at the end and their unpacking ran 5-11 s past the downloads.
const DOWNLOADS_AT_ONCE: usize = 4;

/// Stops the downloads when dropped (when they are done, nothing).
struct StopOnDrop(tokio::task::AbortHandle);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Make an empty venv at `dir`; pip in it only `with_pip` (pip installs and has no wheel to run from).
async fn make_venv(
    log: &mut String,
    python: &Python,
    dir: &Path,
    with_pip: bool,
) -> Result<(), BuildFailure> {
    let mut venv: Vec<&std::ffi::OsStr> = vec!["-m".as_ref(), "venv".as_ref()];
    if !with_pip {
        venv.push("--without-pip".as_ref());
    }
    venv.push(dir.as_os_str());
    super::build::run(log, &python.executable, &venv).await
}

/// Unpack `files` into the environment at `layout`, each as soon as its download arrives; the
/// installer keeps their order's outcome (a later wheel's file replaces an earlier one's). The first
/// download to fail ends it (the caller stops the others).
async fn install(
    layout: Layout,
    files: &[DistFile],
    mut arrivals: tokio::sync::mpsc::UnboundedReceiver<Arrival>,
) -> Result<(), BuildFailure> {
    let started = std::time::Instant::now();
    let mut installer = Installer::new(layout);
    let mut arrived = 0;
    while arrived < files.len() {
        let failure = match arrivals.recv().await {
            Some((order, Ok(path))) => {
                installer.add(order, path, &files[order].filename);
                arrived += 1;
                continue;
            }
            Some((_, Err(error))) => BuildFailure::new(&error_chain(&error), ""),
            None => BuildFailure::new("the downloads stopped before every wheel arrived", ""),
        };
        // Dropping the installer joins its workers: off the async threads.
        tokio::task::spawn_blocking(move || drop(installer));
        return Err(failure);
    }
    // How long the unpacking runs past the downloads, for tuning.
    tracing::debug!(
        wheels = files.len(),
        seconds = started.elapsed().as_secs_f64(),
        "build environment: the last wheel arrived"
    );
    tokio::task::spawn_blocking(move || installer.wait())
        .await
        .map_err(|error| BuildFailure::new(&format!("the installer: {error}"), ""))?
        .map(|_| ())
        .map_err(|error| BuildFailure::new(&error_chain(&error), ""))
}

/// An error with its causes, on one line, for a build failure's message.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

/// One folder name per interpreter, pip, index, installer generation, exclude-newer and requirement
/// set (order and duplicates aside).
fn key(
    python: &Python,
    index_url: &str,
    exclude_newer: Option<Timestamp>,
    requirements: &[String],
) -> String {
    let mut sorted: Vec<&str> = requirements.iter().map(|r| r.trim()).collect();
    sorted.sort_unstable();
    sorted.dedup();
    let exclude_newer = exclude_newer.map(|at| at.to_string()).unwrap_or_default();
    let mut hasher = Sha256::new();
    for part in [
        python.executable.to_string_lossy().as_ref(),
        python
            .pip_wheel
            .as_deref()
            .map(|wheel| wheel.to_string_lossy())
            .unwrap_or_default()
            .as_ref(),
        index_url,
        INSTALLERS,
        &exclude_newer,
    ]
    .into_iter()
    .chain(sorted)
    {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hex::encode(&hasher.finalize()[..16])
}

fn is_ready(dir: &Path) -> bool {
    std::fs::metadata(dir.join(READY))
        .and_then(|meta| meta.modified())
        .is_ok_and(|made| {
            SystemTime::now()
                .duration_since(made)
                .is_ok_and(|age| age < MAX_AGE)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn python(executable: &str) -> Python {
        Python {
            executable: executable.into(),
            pip_wheel: None,
            host: None,
        }
    }

    #[test]
    fn the_key_ignores_order_and_duplicates_but_not_the_interpreter_index_cutoff_or_requirements() {
        let reqs = |list: &[&str]| list.iter().map(|r| r.to_string()).collect::<Vec<_>>();
        let a = python("/usr/bin/python3.11");
        let index = "https://pypi.org/simple";
        let both = reqs(&["setuptools>=40.8.0", "wheel"]);
        let base = key(&a, index, None, &both);
        assert_eq!(
            base,
            key(
                &a,
                index,
                None,
                &reqs(&["wheel", "setuptools>=40.8.0", "wheel"])
            )
        );
        assert_ne!(base, key(&a, index, None, &reqs(&["setuptools>=40.8.0"])));
        assert_ne!(base, key(&python("/opt/python3.11"), index, None, &both));
        assert_ne!(base, key(&a, "http://127.0.0.1:9/simple", None, &both));
        let cutoff: Timestamp = "2026-11-01T00:00:00Z".parse().unwrap();
        assert_ne!(base, key(&a, index, Some(cutoff), &both));
        // An environment made by fave-lock before its own installer (the same parts without the
        // installer generation) has another key, so it is never taken for one of these.
        let mut hasher = Sha256::new();
        for part in [
            "/usr/bin/python3.11",
            "",
            index,
            "setuptools>=40.8.0",
            "wheel",
        ] {
            hasher.update(part.as_bytes());
            hasher.update([0]);
        }
        assert_ne!(base, hex::encode(&hasher.finalize()[..16]));
    }

    #[test]
    fn only_a_finished_recent_environment_is_ready() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!is_ready(dir.path()));
        std::fs::write(dir.path().join(READY), "").unwrap();
        assert!(is_ready(dir.path()));
        let old = SystemTime::now() - MAX_AGE - Duration::from_secs(60);
        std::fs::File::options()
            .write(true)
            .open(dir.path().join(READY))
            .unwrap()
            .set_modified(old)
            .unwrap();
        assert!(!is_ready(dir.path()));
    }
}
