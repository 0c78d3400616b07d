//! One check run, as `fave-lock check` and `/api/check` both perform it: for each selected image the
//! local checks, then (online) the index and registry checks on what this module fetches, and for a
//! stale image an in-memory resolution for the per-package diff. The caller owns the clients and renders
//! the [`CheckReport`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use jiff::Timestamp;
use pep440_rs::Version;
use pep508_rs::{PackageName, Requirement};

use crate::attach::{image_lock, sbom_status};
use crate::config::Config;
use crate::image::ImageJob;
use crate::index::{IndexClient, ProjectResponse};
use crate::lock::Lock;
use crate::plan::{BaseReference, BuildPlan, label, sha256_hex};
use crate::registry::{ImageReference, RegistryClient, RegistryErrorKind};

use crate::apt::{AptLock, ArchiveClient};

use super::apt::{check_apt_archive, check_apt_local};
use super::diff::diff;
use super::error::CheckError;
use super::finding::{Code, FileLocation, Finding, resolve_command};
use super::index::{IndexContext, check_index, dependents_to_read};
use super::local::{LocalCheck, check_local};
use super::registry::{PublishedImage, PublishedSbom, RegistryObservation, check_registry};
use super::report::{CheckReport, ImageCheck, Verdict};

/// What to check and how.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// The config's images to check; all of them when empty.
    pub images: Vec<String>,
    /// The index URL given on the command line, overriding the config's (it is part of the input hash).
    pub index_url: Option<String>,
    /// Only the local checks; the diff resolves from the cache. The index client must be offline too.
    pub offline: bool,
    /// Count informational findings (newer releases) as stale.
    pub strict: bool,
    /// Ask the registry about the base image and the published image.
    pub registry: bool,
    /// Resolve stale images in memory for the per-package diff.
    pub diff: bool,
    /// Read the Debian archive for the images' `apt.lock` (online only).
    pub apt: bool,
}

impl Default for CheckOptions {
    fn default() -> CheckOptions {
        CheckOptions {
            images: Vec::new(),
            index_url: None,
            offline: false,
            strict: false,
            registry: true,
            diff: true,
            apt: true,
        }
    }
}

/// The clients a check asks; shared with the rest of the caller (their caches stay warm across runs).
#[derive(Clone, Copy)]
pub struct CheckClients<'a> {
    pub index: &'a Arc<IndexClient>,
    pub registry: &'a RegistryClient,
}

/// Check the selected images of `config`, concurrently.
///
/// # Errors
///
/// An unknown image name, inputs or a lock that cannot be read, or an index or registry that cannot be
/// asked: the check cannot say whether the lock is fresh.
pub async fn run(
    config: &Config,
    clients: CheckClients<'_>,
    options: &CheckOptions,
) -> Result<CheckReport, CheckError> {
    let index_url = config.effective_index_url(options.index_url.as_deref());
    let jobs: Vec<ImageJob> = config
        .select_images(&options.images)?
        .into_iter()
        .map(|image| ImageJob::from_config(config, image, &index_url, config.exclude_newer, None))
        .collect();
    let images = futures::future::try_join_all(jobs.iter().map(|job| async move {
        check_image(job, clients, options)
            .await
            .map_err(|source| CheckError::Image {
                image: job.name.clone(),
                source: Box::new(source),
            })
    }))
    .await?;
    Ok(CheckReport::new(images, options.strict))
}

async fn check_image(
    job: &ImageJob,
    clients: CheckClients<'_>,
    options: &CheckOptions,
) -> Result<ImageCheck, CheckError> {
    let local = check_local(job)?;
    let mut report = ImageCheck {
        image: job.name.clone(),
        status: Verdict::Fresh,
        checks: vec!["inputs"],
        findings: local.findings.clone(),
        changes: Vec::new(),
        diff_error: None,
        input_lines: input_lines(&local),
    };
    if let Some(apt) = &job.apt {
        let apt_lock = read_apt_lock(&job.name, &apt.path)?;
        report
            .findings
            .extend(check_apt_local(&job.name, apt, apt_lock.as_ref()));
        if let (false, true, Some(apt_lock)) = (options.offline, options.apt, &apt_lock) {
            let settings = clients.index.settings();
            report
                .findings
                .extend(apt_findings(&settings.cache_dir, &job.name, apt_lock).await?);
            report.checks.push("apt");
        }
    }
    if let (false, Some(lock)) = (options.offline, &local.lock) {
        report
            .findings
            .extend(index_findings(clients.index, lock, &local).await?);
        report.checks.push("index");
    }
    if !options.offline
        && options.registry
        && let Some(findings) = registry_findings(clients.registry, job).await?
    {
        report.findings.extend(findings);
        report.checks.push("registry");
    }
    locate_in_lock(job, &mut report.findings);
    let needs_diff = report.findings.iter().any(|f| {
        matches!(
            f.code,
            Code::InputsChanged | Code::LockFormatChanged | Code::Yanked
        )
    });
    if needs_diff && options.diff {
        add_diff(&mut report, job, clients.index, &local).await;
    }
    Ok(report)
}

/// The committed `apt.lock`; `None` when there is none.
fn read_apt_lock(image: &str, path: &std::path::Path) -> Result<Option<AptLock>, CheckError> {
    match crate::fs::read_input_to_string(path) {
        Ok(text) => AptLock::parse(&text, path)
            .map(Some)
            .map_err(|source| CheckError::Apt {
                image: image.to_string(),
                source: Box::new(source),
            }),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(CheckError::io(path, source)),
    }
}

/// The archive findings: every architecture's suites as the lock names them, fetched and verified
/// (indices from the cache when their signed hash is unchanged).
async fn apt_findings(
    cache_dir: &std::path::Path,
    image: &str,
    lock: &AptLock,
) -> Result<Vec<Finding>, CheckError> {
    let apt_error = |source| CheckError::Apt {
        image: image.to_string(),
        source: Box::new(source),
    };
    let client = ArchiveClient::new(cache_dir, false).map_err(apt_error)?;
    let archs = lock.architectures();
    let fetched = futures::future::try_join_all(
        archs
            .iter()
            .map(|arch| crate::apt::universe(&client, &lock.suites, arch)),
    )
    .await
    .map_err(apt_error)?;
    let universes: BTreeMap<String, _> =
        archs.iter().map(ToString::to_string).zip(fetched).collect();
    let security = lock
        .suites
        .iter()
        .find(|suite| suite.name.ends_with("-security"))
        .map_or("", |suite| suite.name.as_str());
    Ok(check_apt_archive(image, lock, &universes, security))
}

/// Where each top-level requirement is written; the first line naming a package wins.
fn input_lines(local: &LocalCheck) -> BTreeMap<String, FileLocation> {
    local
        .input
        .requirements
        .iter()
        .rev()
        .map(|entry| {
            let location = FileLocation {
                path: entry.location.path.clone(),
                line: Some(entry.location.line),
            };
            (entry.requirement.name.to_string(), location)
        })
        .collect()
}

/// The index findings: each locked project's page (fetched concurrently), and the `Requires-Dist` of
/// the packages depending on one with a newer release. A network failure is an error, never "fresh".
async fn index_findings(
    client: &Arc<IndexClient>,
    lock: &Lock,
    local: &LocalCheck,
) -> Result<Vec<Finding>, CheckError> {
    let pages = fetch_pages(client, lock).await?;
    let now = Timestamp::now();
    let no_requires = BTreeMap::new();
    let mut context = IndexContext {
        lock,
        input: &local.input,
        pages: &pages,
        now,
        requires: &no_requires,
    };
    let requires = fetch_requires(client, lock, &dependents_to_read(&context)).await?;
    context.requires = &requires;
    Ok(check_index(&context))
}

async fn fetch_pages(
    client: &Arc<IndexClient>,
    lock: &Lock,
) -> Result<BTreeMap<PackageName, ProjectResponse>, CheckError> {
    let fetch = |name: PackageName| async move {
        match client.project(&name).await {
            Ok(page) => Ok((name, page)),
            Err(source) => Err(CheckError::Index {
                project: name.to_string(),
                source: Box::new(source),
            }),
        }
    };
    // Owned items: futures over borrowed ones are not provably `Send` for every lifetime, which the
    // server's `tokio::spawn` needs.
    let names: BTreeSet<PackageName> = lock.packages.iter().map(|p| p.name.clone()).collect();
    Ok(first_then_rest(names, fetch).await?.into_iter().collect())
}

/// `fetch` each item: the first alone, then the rest concurrently, in order. The first request's
/// connection (HTTP/2) then carries all the others; fired all at once, every request opens its own
/// connection, each with a DNS lookup and a TLS handshake, and one lost DNS answer among them costs the
/// resolver's 5 s retry (measured: 5.06 s instead of 0.4 s for this repo's check).
async fn first_then_rest<T, R, F>(
    items: impl IntoIterator<Item = T>,
    fetch: impl Fn(T) -> F,
) -> Result<Vec<R>, CheckError>
where
    F: Future<Output = Result<R, CheckError>>,
{
    let mut items = items.into_iter();
    let Some(first) = items.next() else {
        return Ok(Vec::new());
    };
    let mut results = vec![fetch(first).await?];
    results.extend(futures::future::try_join_all(items.map(fetch)).await?);
    Ok(results)
}

/// The parsed `Requires-Dist` of each `(name, version)` in `wanted`, read from its first locked file's
/// metadata (immutable, so usually from the disk cache). An entry that does not parse constrains
/// nothing; `resolve` reports it.
async fn fetch_requires(
    client: &Arc<IndexClient>,
    lock: &Lock,
    wanted: &BTreeSet<(PackageName, Version)>,
) -> Result<BTreeMap<(PackageName, Version), Vec<Requirement>>, CheckError> {
    let files: Vec<_> = lock
        .packages
        .iter()
        .filter_map(|package| {
            let key = (package.name.clone(), package.version.clone());
            Some((key, package.files.first()?.clone())).filter(|(key, _)| wanted.contains(key))
        })
        .collect();
    let entries = first_then_rest(files, |(key, file)| async move {
        let metadata = client
            .metadata(&file)
            .await
            .map_err(|source| CheckError::Index {
                project: key.0.to_string(),
                source: Box::new(source),
            })?;
        let requirements = metadata
            .requires_dist
            .iter()
            .filter_map(|text| crate::requirements::pep508::parse_index_requirement(text).ok())
            .collect();
        Ok::<_, CheckError>((key, requirements))
    })
    .await?;
    Ok(entries.into_iter().collect())
}

/// The registry findings, when the image has a build plan (and a lock to compare with); `None` when
/// there is nothing to ask.
async fn registry_findings(
    registry: &RegistryClient,
    job: &ImageJob,
) -> Result<Option<Vec<Finding>>, CheckError> {
    let (Some(plan), Some(txt)) = (&job.plan, &job.requirements_txt) else {
        return Ok(None);
    };
    let path = plan.plan_path();
    if !path.exists() || !txt.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path).map_err(|source| CheckError::io(&path, source))?;
    let plan = BuildPlan::from_json(&text).map_err(|source| CheckError::Plan {
        path: path.clone(),
        source,
    })?;
    let bytes = std::fs::read(txt).map_err(|source| CheckError::io(txt, source))?;
    let observed = observe_registry(registry, &plan).await?;
    Ok(Some(check_registry(&plan, &sha256_hex(&bytes), &observed)))
}

/// What the registry says about the plan's base image (only when the plan pins a digest) and about the
/// images published under the plan's tags (a tag not pushed yet is no finding).
async fn observe_registry(
    registry: &RegistryClient,
    plan: &BuildPlan,
) -> Result<RegistryObservation, CheckError> {
    let mut observed = RegistryObservation::default();
    if plan.base_image.digest.is_some() {
        let name = &plan.base_image.name;
        let bad = |message: String| CheckError::PlanReference {
            reference: name.clone(),
            message,
        };
        let base = BaseReference::parse(name).map_err(bad)?;
        let digest = registry
            .manifest_digest(&base.repository, &base.reference())
            .await
            .map_err(|source| CheckError::Registry {
                reference: name.clone(),
                source: Box::new(source),
            })?;
        observed.base_digest = Some(digest.to_string());
    }
    for full in &plan.tags {
        let bad = |message: String| CheckError::PlanReference {
            reference: full.clone(),
            message,
        };
        let image: ImageReference = full.parse().map_err(bad)?;
        let Some(tag) = image.tag.filter(|_| image.digest.is_none()) else {
            return Err(bad("not a tagged image reference".to_string()));
        };
        let repository = image.repository;
        let description = match registry.describe_tag(&repository, &tag).await {
            Ok(description) => description,
            Err(error) if error.kind() == RegistryErrorKind::NotFound => continue,
            Err(source) => {
                return Err(CheckError::Registry {
                    reference: full.clone(),
                    source: Box::new(source),
                });
            }
        };
        let referrers = registry
            .referrers(&repository, &description.digest)
            .await
            .map_err(|source| CheckError::Registry {
                reference: full.clone(),
                source: Box::new(source),
            })?;
        let image_lock = image_lock(&description.platforms);
        observed.sboms.push(PublishedSbom {
            reference: full.clone(),
            status: sbom_status(&referrers.descriptors, image_lock.as_deref()),
            image_lock,
        });
        for platform in description.platforms {
            if let Some(error) = platform.error {
                return Err(bad(format!("{}: {error}", platform.platform)));
            }
            observed.published.push(PublishedImage {
                reference: full.clone(),
                platform: platform.platform,
                lock_sha256: platform.labels.get(label::LOCK_SHA256).cloned(),
            });
        }
    }
    Ok(observed)
}

/// Resolve the image as `resolve` would, writing nothing and skipping the build plan and SBOM (only the
/// versions matter), and record each package that moves and why; or, in one line, why it cannot.
async fn add_diff(
    report: &mut ImageCheck,
    job: &ImageJob,
    client: &Arc<IndexClient>,
    local: &LocalCheck,
) {
    let Some(old) = &local.lock else {
        report.diff_error = Some("no readable lock to compare with".to_string());
        return;
    };
    match crate::pipeline::lock_in_memory(job, client).await {
        Ok(new) => {
            let yanked: BTreeSet<(String, String)> = report
                .findings
                .iter()
                .filter(|f| f.code == Code::Yanked)
                .filter_map(|f| Some((f.package.clone()?, f.version.clone()?)))
                .collect();
            report.changes = diff(old, &new.lock, local.is_inputs_changed(), &yanked);
        }
        // One line: the full no-solution report is `resolve`'s job.
        Err(error) => {
            let first = error.to_string();
            let first = first
                .lines()
                .next()
                .unwrap_or_default()
                .trim_end_matches(':');
            report.diff_error = Some(format!(
                "{first}; run `{}` for the full report",
                resolve_command(&job.name)
            ));
        }
    }
}

/// Point package findings without an input line at the package's line in requirements.txt.
fn locate_in_lock(job: &ImageJob, findings: &mut [Finding]) {
    let Some(path) = &job.requirements_txt else {
        return;
    };
    let Ok(text) = std::fs::read_to_string(path) else {
        return;
    };
    for finding in findings.iter_mut().filter(|f| f.location.is_none()) {
        let Some(package) = &finding.package else {
            continue;
        };
        let prefix = format!("{package}==");
        if let Some(index) = text.lines().position(|line| line.starts_with(&prefix)) {
            finding.location = Some(FileLocation {
                path: path.clone(),
                line: Some(index + 1),
            });
        }
    }
}
