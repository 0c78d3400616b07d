//! Build environments kept in the cache and shared by every build that needs the same build
//! requirements on the same interpreter.
//!
//! Making an environment is most of a metadata build's cost: pip resolving and installing setuptools
//! took 3.5–4 s of a 5 s build here, where uv installs from its cache by hard links in milliseconds. Most
//! sdists ask for the same few requirements (setuptools' legacy default above all), so one environment
//! per requirement set serves a whole run and the next ones. A build only reads its environment: its
//! `setup.py` writes into the source tree and the output folder, and anything the backend asks for on
//! top (`get_requires_for_build_wheel`) gets an environment of its own, keyed with it.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use super::build::{BuildFailure, Python};

/// After this long an environment is made again, so unpinned build requirements (`setuptools>=40.8.0`)
/// move on as pip's and uv's do.
const MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);
/// Written last: an environment without it was interrupted while being made.
const READY: &str = "fave-lock-ready";

/// Where shared environments live, and how to make one.
#[derive(Debug, Clone)]
pub struct Environments {
    /// The folder holding one environment per key.
    pub folder: PathBuf,
    /// The index build requirements come from.
    pub index_url: String,
}

impl Environments {
    /// The folder of the environment for `requirements` on `python`, made (and filled by pip) when
    /// there is no ready one younger than [`MAX_AGE`]. Concurrent runs make it once: the maker holds
    /// a lock file.
    pub async fn get(
        &self,
        python: &Python,
        requirements: &[String],
        log: &mut String,
    ) -> Result<PathBuf, BuildFailure> {
        let dir = self.folder.join(key(python, &self.index_url, requirements));
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
        let mut venv: Vec<&std::ffi::OsStr> = vec!["-m".as_ref(), "venv".as_ref()];
        if python.pip_wheel.is_some() {
            venv.push("--without-pip".as_ref());
        }
        venv.push(dir.as_os_str());
        super::build::run(log, &python.executable, &venv).await?;
        super::build::install(
            log,
            &dir.join("bin/python"),
            &python.pip_argv(),
            &self.index_url,
            requirements,
        )
        .await?;
        std::fs::write(dir.join(READY), requirements.join("\n"))
            .map_err(|error| BuildFailure::io(&error))
    }
}

/// One folder name per interpreter, pip, index and requirement set (order and duplicates aside).
fn key(python: &Python, index_url: &str, requirements: &[String]) -> String {
    let mut sorted: Vec<&str> = requirements.iter().map(|r| r.trim()).collect();
    sorted.sort_unstable();
    sorted.dedup();
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
        }
    }

    #[test]
    fn the_key_ignores_order_and_duplicates_but_not_the_interpreter_index_or_requirements() {
        let reqs = |list: &[&str]| list.iter().map(|r| r.to_string()).collect::<Vec<_>>();
        let a = python("/usr/bin/python3.11");
        let index = "https://pypi.org/simple";
        let base = key(&a, index, &reqs(&["setuptools>=40.8.0", "wheel"]));
        assert_eq!(
            base,
            key(&a, index, &reqs(&["wheel", "setuptools>=40.8.0", "wheel"]))
        );
        assert_ne!(base, key(&a, index, &reqs(&["setuptools>=40.8.0"])));
        assert_ne!(
            base,
            key(
                &python("/opt/python3.11"),
                index,
                &reqs(&["setuptools>=40.8.0", "wheel"])
            )
        );
        assert_ne!(
            base,
            key(
                &a,
                "http://127.0.0.1:9/simple",
                &reqs(&["setuptools>=40.8.0", "wheel"])
            )
        );
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
