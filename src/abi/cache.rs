//! Scan results per wheel SHA-256: a wheel's bytes never change under its hash, so neither does its
//! classification, until the classifier itself changes (then `LAYOUT` is bumped).

use std::path::{Path, PathBuf};

use super::wheel::ModuleAbi;

const LAYOUT: &str = "abi-v1";

#[derive(Debug, Clone)]
pub struct ResultCache {
    root: PathBuf,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Entry {
    modules: Vec<ModuleAbi>,
}

impl ResultCache {
    pub fn new(cache_dir: &Path) -> ResultCache {
        ResultCache {
            root: cache_dir.join(LAYOUT),
        }
    }

    /// Where the result for `sha256` lives; `None` for anything but 64 hex digits, so a hash read from a
    /// lock can never name a path outside the cache.
    fn path(&self, sha256: &str) -> Option<PathBuf> {
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let sha256 = sha256.to_ascii_lowercase();
        Some(self.root.join(&sha256[..2]).join(format!("{sha256}.json")))
    }

    /// The cached modules of the wheel with this hash. A missing or unreadable entry is a miss: the scan
    /// runs again and rewrites it.
    pub fn get(&self, sha256: &str) -> Option<Vec<ModuleAbi>> {
        let bytes = std::fs::read(self.path(sha256)?).ok()?;
        serde_json::from_slice::<Entry>(&bytes)
            .ok()
            .map(|entry| entry.modules)
    }

    /// Store a result, atomically. Failing to cache is not worth failing the run for: the caller only
    /// loses speed next time, so the error is returned for a warning.
    pub fn put(&self, sha256: &str, modules: &[ModuleAbi]) -> std::io::Result<()> {
        let Some(path) = self.path(sha256) else {
            return Ok(());
        };
        let text = serde_json::to_vec(&Entry {
            modules: modules.to_vec(),
        })
        .map_err(std::io::Error::other)?;
        crate::fs::write_atomic(&path, &text).map_err(|error| error.source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::ModuleClass;

    #[test]
    fn round_trips_and_refuses_paths_outside_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ResultCache::new(dir.path());
        let sha = "ab".repeat(32);
        assert_eq!(cache.get(&sha), None);
        let modules = vec![ModuleAbi {
            path: "pkg/_ext.cpython-311-x86_64-linux-gnu.so".to_string(),
            class: ModuleClass::NumpyV1,
        }];
        cache.put(&sha, &modules).unwrap();
        assert_eq!(cache.get(&sha), Some(modules.clone()));
        assert_eq!(cache.get(&sha.to_uppercase()), Some(modules.clone()));
        // A damaged entry is a miss, not an error.
        std::fs::write(cache.path(&sha).unwrap(), b"{not json").unwrap();
        assert_eq!(cache.get(&sha), None);
        assert_eq!(cache.get("../../etc/passwd"), None);
        cache.put("../x", &modules).unwrap();
        assert!(!dir.path().join("x").exists());
    }
}
