//! The check's head start: while the solver still runs, read the wheels the check will most likely
//! scan. A release that depends on numpy is scanned as soon as the solver tries it (issue 16: the
//! check's range reads used to start only once the whole lock was known, and added 0.8 s to a 0.9 s
//! resolve). The check proper still decides from the lock alone: it takes a head-start result for a
//! file it would fetch (same URL, same sha256) instead of fetching again, and fetches itself whatever
//! was not guessed, failed or is still to come, so its report is the one it would give without this.
//!
//! A guess the solver backtracks away from is wasted work, bounded: at most `concurrency` wheels at
//! once, their requests in the index client's speculative class, and every scan still running is
//! cancelled when the head start is dropped (after the check).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use pep508_rs::PackageName;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use super::fetch::{self, Fetched};
use super::{AbiOptions, ResultCache, numpy_name, sha256_of};
use crate::index::{DistFile, IndexClient, Speculation};
use crate::resolve::DecisionWatcher;
use crate::verify::WheelCache;

/// A wheel's identity for the head start: the check takes a result only for the very same file.
type Key = (String, String);

struct Started {
    task: JoinHandle<Option<Fetched>>,
    speculation: Arc<Speculation>,
}

/// Scans started ahead of the check, by wheel.
pub struct Prescan {
    client: Arc<IndexClient>,
    options: AbiOptions,
    handle: tokio::runtime::Handle,
    permits: Arc<Semaphore>,
    started: Mutex<HashMap<Key, Started>>,
}

impl Prescan {
    /// A head start for a check run with `options`; its scans run on the current runtime.
    pub fn new(client: Arc<IndexClient>, options: &AbiOptions) -> Prescan {
        Prescan {
            client,
            permits: Arc::new(Semaphore::new(options.concurrency.max(1))),
            options: options.clone(),
            handle: tokio::runtime::Handle::current(),
            started: Mutex::default(),
        }
    }

    fn started(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Started>> {
        self.started
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Start scanning `file`, unless it is already started or the check would not fetch it (no
    /// sha256, offline).
    pub fn start(&self, file: &DistFile) {
        let sha256 = sha256_of(file);
        if self.options.offline
            || sha256.len() != 64
            || !file.filename.to_ascii_lowercase().ends_with(".whl")
        {
            return;
        }
        let key = (file.url.clone(), sha256.clone());
        let mut started = self.started();
        if started.contains_key(&key) {
            return;
        }
        tracing::debug!(wheel = %file.filename, "ABI check: head start");
        let (client, options, permits) = (
            self.client.clone(),
            self.options.clone(),
            self.permits.clone(),
        );
        let file = file.clone();
        let scan = async move {
            let _permit = permits.acquire_owned().await.ok()?;
            // A cached result is what the check reads first: nothing to fetch.
            if options.use_cache && ResultCache::new(&options.cache_dir).get(&sha256).is_some() {
                return None;
            }
            let wheels = WheelCache::new(&options.cache_dir);
            // A failure is left for the check to meet again and report as it would have.
            fetch::fetch_and_scan(&client, &wheels, &file, &options)
                .await
                .ok()
                .flatten()
        };
        let speculation = Speculation::new();
        let task = self.handle.spawn(speculation.clone().scope(scan));
        started.insert(key, Started { task, speculation });
    }

    /// The head start's scan of `file`, waited for when it is still running (its requests are then
    /// awaited ones); `None` when none was started or it did not succeed. Taken once.
    pub(super) async fn take(&self, file: &DistFile) -> Option<Fetched> {
        let key = (file.url.clone(), sha256_of(file));
        let started = self.started().remove(&key)?;
        started.speculation.promote();
        let fetched = started.task.await.ok().flatten();
        tracing::debug!(
            wheel = %file.filename,
            used = fetched.is_some(),
            "ABI check: head start taken"
        );
        fetched
    }
}

impl Drop for Prescan {
    /// Cancel what the check did not take: guesses the solver backtracked away from.
    fn drop(&mut self) {
        for started in self.started().values() {
            started.task.abort();
        }
    }
}

impl DecisionWatcher for Prescan {
    /// The check scans every wheel of a locked package that depends on numpy (numpy's own aside):
    /// start on those the solver tries.
    fn tried(&self, name: &PackageName, file: &DistFile, dependencies: &[&PackageName]) {
        let numpy = numpy_name();
        if *name != numpy && dependencies.iter().any(|&dependency| *dependency == numpy) {
            self.start(file);
        }
    }
}
