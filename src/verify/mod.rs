//! `verify`: fetch every file a [`Lock`] names and check it against the lock and the index.
//!
//! ```text
//! lock ─▶ checks.rs (lock alone: hash present, cutoff, filename, tags)
//!      ├▶ per file, ≤ concurrency at once: cache.rs hit │ IndexClient::download (streamed + hashed)
//!      │      ─▶ sha256 and size vs lock ─▶ cache.rs store ─▶ METADATA name and version vs lock
//!      └▶ per project: IndexClient::project ─▶ current entry: hash, size, yanked, upload-time
//! ```
//!
//! Everything wrong is a [`Finding`] in the [`VerifyReport`]; only a failure that stops the run (the
//! network, the disk) is a [`VerifyError`]. Nothing here writes the lock, so a mismatch can never damage
//! it; `resolve --verify` runs this before it writes anything.
//!
//! A wheel never sits in memory whole: the download streams to a file in the wheel cache's temp folder,
//! hashed chunk by chunk, and METADATA is read from that file through its zip directory.

mod cache;
mod checks;
mod finding;
mod unhashed;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use futures::{StreamExt, TryStreamExt};
use pep508_rs::PackageName;

pub use cache::{CachedDownloadError, Lookup, WheelCache, WheelCacheError};
pub(crate) use checks::fitting_targets;
pub use finding::{Code, Finding, Severity, is_integrity};
pub use unhashed::hash_unhashed;

use crate::abi::{self, AbiError, AbiOptions, AbiReport};
use crate::index::{
    DistFile, DownloadedFile, IndexClient, IndexError, ProjectResponse, wheel_metadata,
};
use crate::lock::{Lock, LockedPackage};

/// How to verify.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// The fave-lock cache folder; wheels are kept in its `wheels-v1/`.
    pub cache_dir: PathBuf,
    /// Most downloads in flight.
    pub concurrency: usize,
    /// Re-hash cached files instead of trusting their names (see `cache.rs`).
    pub rehash: bool,
    /// Only the files for these targets (indexes into the lock's targets); `None` for all.
    pub targets: Option<BTreeSet<usize>>,
    /// Run the numpy ABI check over the downloaded wheels (see `crate::abi`).
    pub check_abi: bool,
}

impl Default for VerifyOptions {
    /// The default cache folder, 8 downloads at once, no re-hashing, every target.
    fn default() -> VerifyOptions {
        VerifyOptions {
            cache_dir: crate::index::default_cache_dir(),
            concurrency: 8,
            rehash: false,
            targets: None,
            check_abi: true,
        }
    }
}

/// Hears about progress; the CLI draws a bar from it. Calls come from several tasks at once.
pub trait VerifyReporter: Send + Sync {
    /// Before the first file: how many files and bytes are to be checked.
    fn start(&self, _files: usize, _bytes: u64) {}
    /// `count` more bytes read, from the network or the cache.
    fn bytes(&self, _count: u64) {}
    /// One file is done.
    fn file_done(&self, _file: &FileOutcome) {}
}

/// A reporter that ignores everything.
#[derive(Debug, Default)]
pub struct NoReporter;

impl VerifyReporter for NoReporter {}

/// Where a checked file's bytes came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileSource {
    /// The wheel cache, without a request.
    Cache,
    /// The network.
    Download,
}

/// One file that was fetched and hashed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FileOutcome {
    pub package: String,
    pub version: String,
    pub filename: String,
    pub url: String,
    /// Bytes read.
    pub size: u64,
    /// The SHA-256 of the bytes read.
    pub sha256: String,
    pub source: FileSource,
    /// The file in the wheel cache; `None` when it was not stored (its hash did not match).
    pub path: Option<PathBuf>,
    /// A cache entry with the wrong size or hash was found and replaced.
    pub repaired: bool,
}

/// Everything one verify run found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct VerifyReport {
    pub image: String,
    /// Sorted by filename.
    pub files: Vec<FileOutcome>,
    /// Sorted by code, package, file.
    pub findings: Vec<Finding>,
    /// The numpy ABI check of the lock's wheels, when it ran.
    pub abi: Option<AbiReport>,
}

/// The verdict of a report, as the exit code will state it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    /// Every file is what the lock says.
    Clean,
    /// Some finding, none about integrity.
    Findings,
    /// Some bytes are not the locked ones.
    Integrity,
}

impl VerifyReport {
    pub fn verdict(&self) -> Verdict {
        if self.findings.iter().any(|f| is_integrity(f.code)) {
            Verdict::Integrity
        } else if self.findings.is_empty() {
            Verdict::Clean
        } else {
            Verdict::Findings
        }
    }

    /// Bytes that came from the network.
    pub fn downloaded_bytes(&self) -> u64 {
        self.files
            .iter()
            .filter(|file| file.source == FileSource::Download)
            .map(|file| file.size)
            .sum()
    }
}

/// A failure that stops verifying (as opposed to a [`Finding`]).
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// A file or page could not be fetched for a reason other than its absence.
    #[error("cannot fetch `{what}`")]
    Index {
        what: String,
        #[source]
        source: IndexError,
    },
    #[error(transparent)]
    Cache(#[from] WheelCacheError),
    /// A blocking task died (a panic, or the runtime shutting down).
    #[error("a verify task failed: {0}")]
    Task(String),
    #[error(transparent)]
    Abi(#[from] AbiError),
}

/// One file to fetch, with its package.
struct Job<'a> {
    package: &'a LockedPackage,
    file: &'a DistFile,
}

/// Verify every file of `lock` (of the selected targets) with `client`, which must be the client of the
/// lock's index.
pub async fn verify(
    client: &IndexClient,
    lock: &Lock,
    options: &VerifyOptions,
    reporter: &dyn VerifyReporter,
) -> Result<VerifyReport, VerifyError> {
    let context = &lock.context;
    let tags = context.tags();
    let selected = options
        .targets
        .clone()
        .unwrap_or_else(|| (0..context.targets.len()).collect());
    let mut findings = Vec::new();
    let mut jobs = Vec::new();
    for package in &lock.packages {
        if package.targets.is_disjoint(&selected) {
            continue;
        }
        findings.extend(checks::coverage_checks(package, &tags, &selected));
        for file in &package.files {
            if checks::is_selected(package, file, &tags, &selected) {
                findings.extend(checks::lock_checks(
                    package,
                    file,
                    &tags,
                    context.exclude_newer,
                ));
                jobs.push(Job { package, file });
            }
        }
    }
    reporter.start(
        jobs.len(),
        jobs.iter().filter_map(|job| job.file.size).sum(),
    );
    // Largest first: with a fixed number of download slots, a big wheel started last is the run's tail.
    jobs.sort_by_key(|job| std::cmp::Reverse(job.file.size.unwrap_or(u64::MAX)));
    let cache = WheelCache::new(&options.cache_dir);
    let files = futures::stream::iter(jobs.iter())
        .map(|job| fetch_file(client, &cache, job, options.rehash, reporter))
        .buffer_unordered(options.concurrency.max(1))
        .try_collect::<Vec<_>>();
    let pages = index_findings(client, lock, &jobs, options.concurrency);
    let (files, page_findings) = futures::future::try_join(files, pages).await?;
    findings.extend(page_findings);
    let mut outcomes = Vec::new();
    for (outcome, file_findings) in files {
        outcomes.extend(outcome);
        findings.extend(file_findings);
    }
    outcomes.sort_by(|a, b| a.filename.cmp(&b.filename));
    let abi = if options.check_abi {
        Some(check_abi(client, lock, options, &mut findings).await?)
    } else {
        None
    };
    findings.sort();
    findings.dedup();
    Ok(VerifyReport {
        image: context.image.clone(),
        files: outcomes,
        findings,
        abi,
    })
}

/// The numpy ABI check over the wheels just fetched (so from the wheel cache: it never downloads, and a
/// file that did not match its hash is not there to be scanned); each problem becomes a finding.
async fn check_abi(
    client: &IndexClient,
    lock: &Lock,
    options: &VerifyOptions,
    findings: &mut Vec<Finding>,
) -> Result<AbiReport, VerifyError> {
    let mut abi_options = AbiOptions::new(&options.cache_dir);
    abi_options.offline = true;
    let report = abi::check_lock(client, lock, &abi_options).await?;
    for problem in &report.problems {
        let shown: Vec<&str> = problem.modules.iter().take(3).map(String::as_str).collect();
        findings.push(Finding::new(
            Code::NumpyAbi,
            &problem.package,
            &problem.version,
            Some(&problem.filename),
            format!(
                "{} extension module(s) built against numpy 1.x headers ({}{}), but the lock installs numpy {} on {}: the import fails; `fave-lock resolve` shows the checked fixes",
                problem.modules.len(),
                shown.join(", "),
                if problem.modules.len() > shown.len() { ", …" } else { "" },
                problem.numpy,
                problem.targets.join(", ")
            ),
        ));
    }
    Ok(report)
}

/// Fetch one file (cache or network), judge its hash and size, store it, and check its METADATA.
async fn fetch_file(
    client: &IndexClient,
    cache: &WheelCache,
    job: &Job<'_>,
    rehash: bool,
    reporter: &dyn VerifyReporter,
) -> Result<(Option<FileOutcome>, Vec<Finding>), VerifyError> {
    let Job { package, file } = *job;
    let mut outcome = FileOutcome {
        package: package.name.to_string(),
        version: package.version.to_string(),
        filename: file.filename.clone(),
        url: file.url.clone(),
        size: 0,
        sha256: String::new(),
        source: FileSource::Cache,
        path: None,
        repaired: false,
    };
    let lookup = match &file.sha256 {
        Some(sha256) => look_up(cache, sha256, file.size, rehash).await?,
        None => Lookup::Miss,
    };
    let mut findings = Vec::new();
    if let Lookup::Hit(path) = lookup {
        outcome.size = file.size.unwrap_or_default();
        reporter.bytes(outcome.size);
        outcome.sha256 = file.sha256.clone().unwrap_or_default();
        findings.extend(read_metadata(package, file, &path).await);
        outcome.path = Some(path);
    } else {
        outcome.repaired = lookup == Lookup::Repaired;
        outcome.source = FileSource::Download;
        let Some(mut downloaded) = download(client, cache, job, reporter, &mut findings).await?
        else {
            return Ok((None, findings));
        };
        // A flaky proxy or a connection cut mid-body is not an attack: bytes that do not match are
        // fetched once more before they count as a finding.
        if file
            .sha256
            .as_ref()
            .is_some_and(|expected| !expected.eq_ignore_ascii_case(&downloaded.sha256))
        {
            let Some(again) = download(client, cache, job, reporter, &mut findings).await? else {
                return Ok((None, findings));
            };
            downloaded = again;
        }
        outcome.size = downloaded.size;
        outcome.sha256.clone_from(&downloaded.sha256);
        findings.extend(judge_download(job, &downloaded));
        let matches = file
            .sha256
            .as_ref()
            .is_some_and(|expected| expected.eq_ignore_ascii_case(&downloaded.sha256));
        if matches || file.sha256.is_none() {
            findings.extend(read_metadata(package, file, downloaded.file.path()).await);
        }
        // Only bytes that match the lock enter the cache (a rename within one file system, done in
        // place like the lookup); anything else is deleted when `downloaded` drops.
        if matches {
            outcome.path = Some(cache.store(downloaded)?);
        }
    }
    reporter.file_done(&outcome);
    Ok((Some(outcome), findings))
}

/// Stream the file into the cache's temp folder. `None` (and an `unavailable` finding) when the server
/// says it is gone; any other failure stops the run.
async fn download(
    client: &IndexClient,
    cache: &WheelCache,
    job: &Job<'_>,
    reporter: &dyn VerifyReporter,
    findings: &mut Vec<Finding>,
) -> Result<Option<DownloadedFile>, VerifyError> {
    let Job { package, file } = *job;
    let temp_dir = cache.temp_dir();
    match client
        .download(file, &temp_dir, &|count| reporter.bytes(count))
        .await
    {
        Ok(downloaded) => Ok(Some(downloaded)),
        Err(IndexError::Status { status, .. }) if status == 404 || status == 410 => {
            findings.push(Finding::new(
                Code::Unavailable,
                &package.name,
                &package.version,
                Some(&file.filename),
                format!("`{}` answered HTTP {status}", file.url),
            ));
            Ok(None)
        }
        Err(source) => Err(VerifyError::Index {
            what: file.url.clone(),
            source,
        }),
    }
}

/// The downloaded bytes against the lock: a hash mismatch (integrity), or a size the lock has wrong.
fn judge_download(job: &Job<'_>, downloaded: &DownloadedFile) -> Vec<Finding> {
    let Job { package, file } = *job;
    let finding = |code, message| Finding::for_file(code, package, file, message);
    let Some(expected) = &file.sha256 else {
        // No hash to judge against: reported by the lock checks.
        return Vec::new();
    };
    if !expected.eq_ignore_ascii_case(&downloaded.sha256) {
        let message = format!(
            "`{}` downloaded with sha256 {}, but the lock lists {expected}",
            file.filename, downloaded.sha256
        );
        return vec![finding(Code::HashMismatch, message).values(expected, &downloaded.sha256)];
    }
    match file.size {
        Some(size) if size != downloaded.size => {
            let message = format!(
                "`{}` has the locked sha256 but {} bytes, and the lock says {size}",
                file.filename, downloaded.size
            );
            vec![finding(Code::SizeMismatch, message).values(size, downloaded.size)]
        }
        _ => Vec::new(),
    }
}

/// A cache lookup. Without `rehash` it is one `stat` (and maybe an `unlink`), done in place: a
/// blocking-pool thread per lookup would cost more than the call, and every extra thread gets its own
/// malloc arena (measured: ~15 MiB more peak RSS for the base image). Re-hashing reads whole files, so
/// it runs on the blocking pool.
async fn look_up(
    cache: &WheelCache,
    sha256: &str,
    size: Option<u64>,
    rehash: bool,
) -> Result<Lookup, VerifyError> {
    if !rehash {
        return Ok(cache.lookup(sha256, size, false)?);
    }
    let (cache, sha256) = (cache.clone(), sha256.to_string());
    tokio::task::spawn_blocking(move || cache.lookup(&sha256, size, true))
        .await
        .map_err(|error| VerifyError::Task(error.to_string()))?
        .map_err(VerifyError::from)
}

/// The METADATA findings of the wheel at `path`; nothing for an sdist.
async fn read_metadata(
    package: &LockedPackage,
    file: &DistFile,
    path: &std::path::Path,
) -> Vec<Finding> {
    if !checks::is_wheel(file) {
        return Vec::new();
    }
    match wheel_metadata(path, &file.filename).await {
        Ok(metadata) => checks::metadata_checks(package, file, &metadata),
        Err(error) => vec![Finding::new(
            Code::UnreadableMetadata,
            &package.name,
            &package.version,
            Some(&file.filename),
            format!("cannot read the METADATA of `{}`: {error}", file.filename),
        )],
    }
}

/// Each fetched file against its project's current index page.
async fn index_findings(
    client: &IndexClient,
    lock: &Lock,
    jobs: &[Job<'_>],
    concurrency: usize,
) -> Result<Vec<Finding>, VerifyError> {
    let mut by_name: BTreeMap<&PackageName, Vec<&Job<'_>>> = BTreeMap::new();
    for job in jobs {
        by_name.entry(&job.package.name).or_default().push(job);
    }
    let cutoff = lock.context.exclude_newer;
    let pages = futures::stream::iter(by_name)
        .map(|(name, jobs)| async move {
            let response = client
                .project(name)
                .await
                .map_err(|source| VerifyError::Index {
                    what: format!("the index page of `{name}`"),
                    source,
                })?;
            let page = match response {
                ProjectResponse::Found(page) => Some(page),
                ProjectResponse::NotFound => None,
            };
            let findings: Vec<Finding> = jobs
                .iter()
                .flat_map(|job| {
                    let entry = page.as_ref().and_then(|page| {
                        page.files
                            .iter()
                            .find(|entry| entry.filename() == job.file.filename)
                            .map(|entry| entry.to_dist_file())
                    });
                    checks::index_checks(job.package, job.file, entry.as_ref(), cutoff)
                })
                .collect();
            Ok::<_, VerifyError>(findings)
        })
        .buffer_unordered(concurrency.max(1))
        .try_collect::<Vec<_>>()
        .await?;
    Ok(pages.into_iter().flatten().collect())
}
