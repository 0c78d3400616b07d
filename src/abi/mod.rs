//! The numpy ABI check: which numpy C API each extension module of a locked wheel was compiled against,
//! and whether the lock's numpy can load it.
//!
//! Metadata cannot answer this: pandas 1.5.3 declares `numpy>=1.21.0` with no upper bound and resolves
//! with numpy 2.1.3 everywhere, yet its modules were compiled against numpy 1.x headers and `import
//! pandas` fails. The binaries can answer it (see `classify.rs`).
//!
//! ```text
//! lock ─▶ wheels of packages that depend on numpy ─▶ result cache hit (by sha256)
//!                                                  └▶ wheel cache │ range reads of the modules │ download
//!                                                     (hash checked) ─▶ scan ─▶ cache     (fetch.rs)
//! ```
//!
//! The report lists every module's class, so every module is read (a module's read stops at its first
//! numpy 2.x marker, and the range reads fetch whole modules). Range reads are not hash-checked: the
//! check is advisory and `verify` is the integrity gate (see `fetch.rs`).

mod cache;
mod classify;
mod fetch;
mod prescan;
mod wheel;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use futures::{StreamExt, TryStreamExt};
use pep440_rs::Version;
use pep508_rs::PackageName;

pub use cache::ResultCache;
pub use classify::{ModuleClass, classify_reader};
use fetch::Fetched;
pub use fetch::ScanSource;
pub use prescan::Prescan;
pub use wheel::{ModuleAbi, ScanError, is_extension_module, scan_wheels};

use crate::index::{DistFile, IndexClient, IndexError};
use crate::lock::{Lock, LockedPackage};
use crate::verify::{WheelCache, WheelCacheError, fitting_targets};

/// How to run the check.
#[derive(Debug, Clone)]
pub struct AbiOptions {
    /// The fave-lock cache folder: wheels in `wheels-v1/`, results in `abi-v1/`.
    pub cache_dir: PathBuf,
    /// Most downloads in flight.
    pub concurrency: usize,
    /// Scanning threads.
    pub threads: usize,
    /// Read and write the result cache.
    pub use_cache: bool,
    /// Never download: wheels missing from the cache are reported as not checked.
    pub offline: bool,
    /// Fetch only the extension modules of a wheel missing from the wheel cache, with range requests
    /// (falling back to the whole wheel); off, the whole wheel is downloaded, hash-checked and kept
    /// in the wheel cache, as `verify` wants when it runs next (each wheel then crosses the network once).
    pub ranges: bool,
}

impl AbiOptions {
    /// The default cache folder's layout, 8 downloads, one scanning thread per core, caching on, range
    /// reads on.
    pub fn new(cache_dir: &Path) -> AbiOptions {
        AbiOptions {
            cache_dir: cache_dir.to_path_buf(),
            concurrency: 8,
            threads: std::thread::available_parallelism().map_or(1, usize::from),
            use_cache: true,
            offline: false,
            ranges: true,
        }
    }
}

/// A failure that stops the check.
#[derive(Debug, thiserror::Error)]
pub enum AbiError {
    #[error("cannot download `{url}`")]
    Download {
        url: String,
        #[source]
        source: IndexError,
    },
    /// The downloaded bytes are not the locked ones: an integrity failure.
    #[error("`{filename}` downloaded with sha256 {actual}, but the lock lists {expected}")]
    HashMismatch {
        filename: String,
        expected: String,
        actual: String,
    },
    #[error(transparent)]
    Cache(#[from] WheelCacheError),
    #[error("the ABI scan task failed: {0}")]
    Task(String),
}

/// One scanned wheel.
#[derive(Debug, Clone, serde::Serialize)]
pub struct WheelAbi {
    pub package: PackageName,
    pub version: Version,
    pub filename: String,
    pub sha256: String,
    /// OCI platforms of the lock this wheel installs on.
    pub targets: Vec<String>,
    /// Sorted by path; empty when the wheel has no extension module or could not be read.
    pub modules: Vec<ModuleAbi>,
    /// The result came from the result cache.
    pub cached: bool,
    /// Why the wheel could not be scanned (offline and not cached, a damaged zip).
    pub error: Option<String>,
}

impl WheelAbi {
    pub fn modules_of(&self, class: ModuleClass) -> impl Iterator<Item = &ModuleAbi> {
        self.modules
            .iter()
            .filter(move |module| module.class == class)
    }
}

/// A wheel whose modules the lock's numpy cannot load.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AbiProblem {
    pub package: PackageName,
    pub version: Version,
    pub filename: String,
    /// OCI platforms where the lock pairs this wheel with numpy ≥ 2.
    pub targets: Vec<String>,
    /// The lock's numpy on those targets.
    pub numpy: Version,
    /// The modules built against numpy 1.x headers.
    pub modules: Vec<String>,
}

/// Everything one check found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AbiReport {
    pub image: String,
    /// The lock's numpy per OCI platform.
    pub numpy: BTreeMap<String, Version>,
    /// Every wheel of a package that depends on numpy, sorted by filename.
    pub wheels: Vec<WheelAbi>,
    pub problems: Vec<AbiProblem>,
}

impl AbiReport {
    /// Modules per class over every scanned wheel (every class present, zero or not).
    pub fn counts(&self) -> BTreeMap<ModuleClass, usize> {
        let mut counts: BTreeMap<ModuleClass, usize> =
            ModuleClass::ALL.iter().map(|&class| (class, 0)).collect();
        for module in self.wheels.iter().flat_map(|wheel| &wheel.modules) {
            *counts.entry(module.class).or_default() += 1;
        }
        counts
    }

    /// [`AbiReport::counts`] keyed by the classes' stable names, for JSON.
    pub fn counts_by_name(&self) -> BTreeMap<&'static str, usize> {
        self.counts()
            .into_iter()
            .map(|(class, count)| (class.as_str(), count))
            .collect()
    }

    /// `N wheels depend on numpy; modules: n class, …`, for summaries.
    pub fn summary(&self) -> String {
        let wheels = self.wheels.len();
        let counts: Vec<String> = self
            .counts()
            .iter()
            .map(|(class, count)| format!("{count} {}", class.description()))
            .collect();
        format!(
            "{wheels} wheel{} on numpy; modules: {}",
            if wheels == 1 { " depends" } else { "s depend" },
            counts.join(", ")
        )
    }

    /// Wheels that could not be checked.
    pub fn unchecked(&self) -> impl Iterator<Item = &WheelAbi> {
        self.wheels.iter().filter(|wheel| wheel.error.is_some())
    }
}

pub(crate) fn numpy_name() -> PackageName {
    PackageName::from_str("numpy").expect("a valid name")
}

/// Whether numpy version `version` has the 2.x C ABI.
pub fn is_numpy_2(version: &Version) -> bool {
    version.release().first().is_some_and(|&major| major >= 2)
}

/// The lock's numpy per target index.
fn numpy_by_target(lock: &Lock) -> BTreeMap<usize, Version> {
    let numpy = numpy_name();
    let mut by_target = BTreeMap::new();
    for package in lock.packages.iter().filter(|p| p.name == numpy) {
        for &target in &package.targets {
            by_target.insert(target, package.version.clone());
        }
    }
    by_target
}

/// Whether some target of the lock installs numpy ≥ 2: then `resolve` runs the check by default.
pub fn lock_has_numpy_2(lock: &Lock) -> bool {
    numpy_by_target(lock).values().any(is_numpy_2)
}

/// One wheel to check, before its result is known.
struct Job<'a> {
    package: &'a LockedPackage,
    file: &'a DistFile,
    targets: Vec<usize>,
}

/// Check every wheel of every package of `lock` that depends on numpy (and numpy's own wheels are not
/// checked: numpy cannot mismatch itself).
pub async fn check_lock(
    client: &IndexClient,
    lock: &Lock,
    options: &AbiOptions,
) -> Result<AbiReport, AbiError> {
    check_lock_with(client, lock, options, None).await
}

/// [`check_lock`], taking the scans `prescan` started during the resolve instead of fetching those
/// wheels again: the same report, sooner.
pub async fn check_lock_with(
    client: &IndexClient,
    lock: &Lock,
    options: &AbiOptions,
    prescan: Option<&Prescan>,
) -> Result<AbiReport, AbiError> {
    let numpy = numpy_name();
    let context = &lock.context;
    let tags = context.tags();
    let mut jobs = Vec::new();
    for package in lock
        .packages
        .iter()
        .filter(|package| package.dependencies.contains(&numpy))
    {
        for file in package
            .files
            .iter()
            .filter(|file| file.filename.to_ascii_lowercase().ends_with(".whl"))
        {
            jobs.push(Job {
                package,
                file,
                targets: fitting_targets(file, &tags, &package.targets)
                    .into_iter()
                    .collect(),
            });
        }
    }
    let files: Vec<&DistFile> = jobs.iter().map(|job| job.file).collect();
    let scans = scan_files(client, &files, options, prescan).await?;
    let oci = |targets: &[usize]| -> Vec<String> {
        targets
            .iter()
            .filter_map(|&t| context.targets.get(t).map(|target| target.oci.clone()))
            .collect()
    };
    let numpy_versions = numpy_by_target(lock);
    let mut wheels = Vec::new();
    let mut problems = Vec::new();
    for (job, scan) in jobs.iter().zip(scans) {
        let wheel = WheelAbi {
            package: job.package.name.clone(),
            version: job.package.version.clone(),
            filename: job.file.filename.clone(),
            sha256: sha256_of(job.file),
            targets: oci(&job.targets),
            modules: scan.modules,
            cached: scan.cached,
            error: scan.error,
        };
        let numpy_2_targets: Vec<usize> = job
            .targets
            .iter()
            .copied()
            .filter(|t| numpy_versions.get(t).is_some_and(is_numpy_2))
            .collect();
        let v1: Vec<String> = wheel
            .modules_of(ModuleClass::NumpyV1)
            .map(|module| module.path.clone())
            .collect();
        if let (Some(first), false) = (numpy_2_targets.first(), v1.is_empty()) {
            problems.push(AbiProblem {
                package: wheel.package.clone(),
                version: wheel.version.clone(),
                filename: wheel.filename.clone(),
                targets: oci(&numpy_2_targets),
                numpy: numpy_versions[first].clone(),
                modules: v1,
            });
        }
        wheels.push(wheel);
    }
    wheels.sort_by(|a, b| a.filename.cmp(&b.filename));
    problems.sort_by(|a, b| (&a.package, &a.filename).cmp(&(&b.package, &b.filename)));
    Ok(AbiReport {
        image: context.image.clone(),
        numpy: numpy_versions
            .iter()
            .filter_map(|(&t, v)| {
                context
                    .targets
                    .get(t)
                    .map(|target| (target.oci.clone(), v.clone()))
            })
            .collect(),
        wheels,
        problems,
    })
}

/// The outcome of scanning one file.
#[derive(Debug, Clone, Default)]
pub struct Scan {
    pub modules: Vec<ModuleAbi>,
    pub cached: bool,
    pub error: Option<String>,
    /// Where the scanned bytes came from; `None` when nothing was scanned (cached result, no hash,
    /// offline and not in the wheel cache).
    pub source: Option<ScanSource>,
}

/// Results from the cache where present; the rest fetched (wheel cache, range reads of the extension
/// modules, or the whole wheel) and scanned, every wheel in parallel and each scanned as soon as its
/// bytes are there. The files are a lock's, or a fix's candidates (which come without a lock).
pub async fn scan_dist_files(
    client: &IndexClient,
    files: &[&DistFile],
    options: &AbiOptions,
) -> Result<Vec<Scan>, AbiError> {
    scan_files(client, files, options, None).await
}

/// [`scan_dist_files`], taking head-start scans from `prescan` where there are some.
async fn scan_files(
    client: &IndexClient,
    files: &[&DistFile],
    options: &AbiOptions,
    prescan: Option<&Prescan>,
) -> Result<Vec<Scan>, AbiError> {
    let results = ResultCache::new(&options.cache_dir);
    let mut scans: Vec<Scan> = vec![Scan::default(); files.len()];
    let mut to_fetch = Vec::new();
    for (index, (file, sha256)) in files.iter().map(|file| (file, sha256_of(file))).enumerate() {
        if sha256.len() != 64 {
            scans[index].error = Some(format!("the lock has no sha256 for `{}`", file.filename));
            continue;
        }
        match options.use_cache.then(|| results.get(&sha256)).flatten() {
            Some(modules) => {
                scans[index].modules = modules;
                scans[index].cached = true;
            }
            None => to_fetch.push(index),
        }
    }
    let wheels = WheelCache::new(&options.cache_dir);
    let fetched: Vec<(usize, Option<Fetched>)> = futures::stream::iter(to_fetch)
        .map(|index| {
            let file = files[index];
            let wheels = &wheels;
            async move {
                let early = match prescan {
                    Some(prescan) => prescan.take(file).await,
                    None => None,
                };
                let fetched = match early {
                    Some(fetched) => Some(fetched),
                    None => fetch::fetch_and_scan(client, wheels, file, options).await?,
                };
                Ok::<_, AbiError>((index, fetched))
            }
        })
        .buffer_unordered(options.concurrency.max(1))
        .try_collect()
        .await?;
    for (index, fetched) in fetched {
        let Some(Fetched { outcome, source }) = fetched else {
            scans[index].error = Some(format!(
                "`{}` is not in the wheel cache (offline)",
                files[index].filename
            ));
            continue;
        };
        scans[index].source = Some(source);
        match outcome {
            Ok(modules) => {
                if options.use_cache {
                    // Losing a cache entry only costs the next run a scan.
                    if let Err(error) = results.put(&sha256_of(files[index]), &modules) {
                        tracing::warn!(
                            "cannot cache the ABI scan of `{}`: {error}",
                            files[index].filename
                        );
                    }
                }
                scans[index].modules = modules;
            }
            Err(error) => scans[index].error = Some(error.to_string()),
        }
    }
    Ok(scans)
}

/// The lock's sha256 of `file`, lower-case; empty when it has none.
fn sha256_of(file: &DistFile) -> String {
    file.sha256.clone().unwrap_or_default().to_ascii_lowercase()
}
