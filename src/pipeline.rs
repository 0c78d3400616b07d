//! The resolve pipeline, in its one order: resolve every image → explain the ones that do not resolve
//! (and apply the checked fixes when asked) → the numpy ABI check → verify every file of the new locks
//! → stage and rename all outputs at once. The ABI check's scan of an image starts while that image
//! still resolves (the wheels of each release the solver tries that depends on numpy) and ends once
//! its lock is known, while the other images still resolve; its outcome is taken in the order above. `fave-lock resolve` runs all of it; `check`'s diff (and so
//! the server's `/api/check`) runs only the resolve, in memory. The caller renders the typed
//! [`Outcome`]; nothing here prints.
//!
//! ```text
//! jobs ─resolve─▶ locked ─abi─▶ ─verify─▶ ─write─▶ Outcome::Locked
//!        │ no solution  │ problems   │ findings
//!        ▼              ▼            ▼
//!   Unresolvable    AbiProblems   VerifyFailed        (nothing written)
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::abi::{self, AbiError, AbiOptions, AbiReport};
use crate::diagnose::{ApplyError, Diagnosis, Phase, apply_fixes};
use crate::fs::{Staged, WriteError};
use crate::image::{ImageError, ImageJob, LockedImage};
use crate::index::IndexClient;
use crate::requirements::RequirementsInput;
use crate::resolve::{ResolveError, Resolver};
use crate::verify::{Verdict, VerifyError, VerifyOptions, VerifyReport, VerifyReporter, verify};

/// Which stages run after the resolve, and how.
#[derive(Debug, Clone, Default)]
pub struct PipelineOptions {
    /// Explain inputs that do not resolve; `None` reports them without a diagnosis.
    pub diagnose: Option<DiagnoseOptions>,
    /// The numpy ABI check of every lock that installs numpy ≥ 2; `None` skips it.
    pub abi: Option<AbiOptions>,
    /// Download and check every file of the new locks, with wheels cached in this folder's
    /// `wheels-v1/`; `None` trusts the index's hashes.
    pub verify: Option<PathBuf>,
    /// Stage and rename every output; without it nothing is written (the outcome has the texts).
    pub write: bool,
}

/// How the diagnosis of an unresolvable input runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct DiagnoseOptions {
    pub budget: DiagnoseBudget,
    /// Write the checked fixes into the inputs (keeping their comments).
    pub apply_fixes: bool,
}

/// How long a diagnosis may take: it resolves many variants of the input.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub enum DiagnoseBudget {
    /// The larger of 10 s and three times the resolve that failed (which fetched most of what the
    /// diagnosis needs).
    #[default]
    Default,
    Limit(Duration),
    Unlimited,
}

impl DiagnoseBudget {
    /// `--diagnose-timeout`'s seconds: 0 or less is no limit.
    pub fn from_seconds(seconds: f64) -> Result<DiagnoseBudget, std::time::TryFromFloatSecsError> {
        if seconds <= 0.0 {
            return Ok(DiagnoseBudget::Unlimited);
        }
        Duration::try_from_secs_f64(seconds).map(DiagnoseBudget::Limit)
    }

    fn limit(self, failed_after: Duration) -> Option<Duration> {
        match self {
            DiagnoseBudget::Default => Some((failed_after * 3).max(Duration::from_secs(10))),
            DiagnoseBudget::Limit(limit) => Some(limit),
            DiagnoseBudget::Unlimited => None,
        }
    }
}

/// Hears the pipeline while it runs: the CLI draws spinners and bars, others ignore it.
pub trait PipelineReporter: Sync {
    /// A step begins ("Resolving fave-base"); it ends when the returned guard is dropped. The phase
    /// hears the step's own progress (the diagnosis says what it is checking).
    fn step(&self, _label: String) -> (Box<dyn Send>, Phase) {
        (Box::new(()), Phase::default())
    }
    /// Verifying one image's files begins; it ends when the returned reporter is dropped.
    fn verifying(&self, _image: &str) -> Box<dyn VerifyReporter + '_> {
        Box::new(crate::verify::NoReporter)
    }
    /// Something the user should know that does not stop the run.
    fn warning(&self, _text: String) {}
}

/// A reporter that hears nothing.
#[derive(Debug, Default)]
pub struct Silent;

impl PipelineReporter for Silent {}

/// How a run ended. Only [`Outcome::Locked`] writes anything.
#[derive(Debug)]
pub enum Outcome {
    /// Every image resolved and passed the stages that ran.
    Locked(Locked),
    /// Some inputs cannot be resolved: each with its error, and its diagnosis when asked for.
    Unresolvable(Vec<Unresolvable>),
    /// Some locks install numpy ≥ 2 with wheels built against numpy 1.x: each such image's diagnosis.
    AbiProblems(Vec<Diagnosed>),
    /// Verify found problems with the resolved files: every image's report.
    VerifyFailed(Verified),
}

/// The images that locked, and what each stage found.
#[derive(Debug)]
pub struct Locked {
    pub images: Vec<LockedImage>,
    /// The numpy ABI report of each image that was checked, by image name.
    pub abi: BTreeMap<String, AbiReport>,
    /// Verify's reports, when it ran (all clean).
    pub verified: Option<Verified>,
    /// The files renamed into place, when writing.
    pub written: Vec<PathBuf>,
}

/// Verify's report of each image, under the path its lock is (or would be) written to.
#[derive(Debug)]
pub struct Verified {
    pub reports: Vec<(PathBuf, VerifyReport)>,
    pub elapsed: Duration,
}

impl Verified {
    /// The worst verdict of all reports.
    pub fn verdict(&self) -> Verdict {
        self.reports
            .iter()
            .map(|(_, report)| report.verdict())
            .max()
            .unwrap_or(Verdict::Clean)
    }
}

/// An image whose input does not resolve.
#[derive(Debug)]
pub struct Unresolvable {
    pub image: String,
    /// The resolver's no-solution report.
    pub error: ResolveError,
    /// Why, with checked fixes, when diagnosing.
    pub diagnosis: Option<Diagnosed>,
}

/// A diagnosis, and the files its fixes were applied to (when asked).
#[derive(Debug)]
pub struct Diagnosed {
    pub image: String,
    pub diagnosis: Diagnosis,
    pub applied: Vec<PathBuf>,
}

impl Outcome {
    /// Whether fixes were written into an input: resolving again may now succeed.
    pub fn applied_fixes(&self) -> bool {
        let diagnosed: Vec<&Diagnosed> = match self {
            Outcome::Unresolvable(images) => images
                .iter()
                .filter_map(|image| image.diagnosis.as_ref())
                .collect(),
            Outcome::AbiProblems(diagnosed) => diagnosed.iter().collect(),
            Outcome::Locked(_) | Outcome::VerifyFailed(_) => Vec::new(),
        };
        diagnosed
            .iter()
            .any(|diagnosed| !diagnosed.applied.is_empty())
    }
}

/// Why the pipeline could not finish (as opposed to finding something: see [`Outcome`]).
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error("cannot verify `{image}`")]
    Verify {
        image: String,
        #[source]
        source: VerifyError,
    },
    #[error(transparent)]
    ApplyFixes(#[from] ApplyError),
    #[error(transparent)]
    Write(#[from] WriteError),
}

/// Run the pipeline over `jobs`, asking the index through `client`.
///
/// # Errors
///
/// An input cannot be read, the index or a download fails, an output cannot be written: see
/// [`PipelineError`]. Findings are not errors: they are the [`Outcome`].
pub async fn run(
    jobs: &[ImageJob],
    client: &Arc<IndexClient>,
    options: &PipelineOptions,
    reporter: &dyn PipelineReporter,
) -> Result<Outcome, PipelineError> {
    let started = Instant::now();
    let names: Vec<&str> = jobs.iter().map(|job| job.name.as_str()).collect();
    let step = reporter.step(format!("Resolving {}", names.join(", ")));
    let abi_options = options.abi.as_ref().map(|abi| abi_options(abi, options));
    // Each job's resolver outlives its resolve: a diagnosis reuses what it fetched and built.
    let mut prepared = Vec::new();
    for job in jobs {
        let input = job.read_input().map_err(ImageError::from)?;
        prepared.push((job, job.resolver(client.clone(), &input), input));
    }
    let results = futures::future::join_all(prepared.iter().map(|(job, resolver, input)| {
        lock_and_check_abi(job, resolver, input, client, abi_options.as_ref())
    }))
    .await;
    drop(step);
    let mut locked = Vec::new();
    let mut early_abi = Vec::new();
    let mut unresolvable = Vec::new();
    for (job, (result, abi_report)) in prepared.into_iter().zip(results) {
        match result {
            Ok(image) => {
                locked.push(image);
                early_abi.push(abi_report);
            }
            Err(ImageError::Resolve(error @ ResolveError::NoSolution(_))) => {
                unresolvable.push((job, error));
            }
            // A failed sdist build is reported as a problem with fixes, like a conflict.
            Err(ImageError::Resolve(error)) if crate::diagnose::build_failure(&error).is_some() => {
                unresolvable.push((job, error));
            }
            Err(error) => return Err(error.into()),
        }
    }
    if !unresolvable.is_empty() {
        return diagnose(unresolvable, options, reporter, started.elapsed()).await;
    }
    for warning in locked.iter().flat_map(|image| &image.resolution.warnings) {
        reporter.warning(warning.to_string());
    }
    let mut abi = BTreeMap::new();
    if let Some(abi_options) = &abi_options {
        let (failing, reports) =
            check_abi(&locked, early_abi, client, abi_options, options, reporter).await?;
        if !failing.is_empty() {
            return Ok(Outcome::AbiProblems(failing));
        }
        abi = reports;
    }
    let mut verified = None;
    if let Some(cache_dir) = &options.verify {
        let checked = verify_locks(&locked, client, cache_dir, reporter).await?;
        if checked.verdict() != Verdict::Clean {
            return Ok(Outcome::VerifyFailed(checked));
        }
        verified = Some(checked);
    }
    let written = if options.write {
        write_outputs(&locked)?
    } else {
        Vec::new()
    };
    Ok(Outcome::Locked(Locked {
        images: locked,
        abi,
        verified,
        written,
    }))
}

/// A job with its resolver and input.
type Prepared<'a> = (&'a ImageJob, Resolver, RequirementsInput);

/// Explain each unresolvable image, when asked, applying the fixes when asked.
async fn diagnose(
    unresolvable: Vec<(Prepared<'_>, ResolveError)>,
    options: &PipelineOptions,
    reporter: &dyn PipelineReporter,
    failed_after: Duration,
) -> Result<Outcome, PipelineError> {
    let mut images = Vec::new();
    for ((job, resolver, input), error) in unresolvable {
        let diagnosis = match &options.diagnose {
            None => None,
            Some(diagnose) => {
                let (step, phase) = reporter.step(format!("Diagnosing {}", job.name));
                let budget = diagnose.budget.limit(failed_after);
                let diagnosis = job.diagnose(&resolver, &input, budget, phase).await;
                drop(step);
                Some(diagnosed(&job.name, diagnosis?, diagnose.apply_fixes)?)
            }
        };
        images.push(Unresolvable {
            image: job.name.clone(),
            error,
            diagnosis,
        });
    }
    Ok(Outcome::Unresolvable(images))
}

fn diagnosed(image: &str, mut diagnosis: Diagnosis, apply: bool) -> Result<Diagnosed, ApplyError> {
    let applied = if apply {
        apply_fixes(&mut diagnosis)?
    } else {
        Vec::new()
    };
    Ok(Diagnosed {
        image: image.to_string(),
        diagnosis,
        applied,
    })
}

/// The ABI check's options for this run. With verify on (the config's images), verify downloads and
/// hashes every wheel anyway: the check then downloads whole wheels into the wheel cache, where verify
/// finds them, so each wheel crosses the network once and the scan reads hash-checked bytes. Without
/// verify (ad hoc), it reads only the extension modules, with range requests.
fn abi_options(abi: &AbiOptions, options: &PipelineOptions) -> AbiOptions {
    AbiOptions {
        ranges: abi.ranges && options.verify.is_none(),
        ..abi.clone()
    }
}

/// Resolve one image and, when its lock installs numpy ≥ 2, run its ABI check at once, while the
/// other images still resolve. The check has a head start: the wheels of releases that depend on numpy
/// are read as soon as the solver tries them ([`abi::Prescan`]), and the check takes those scans. The
/// report waits for its turn in [`check_abi`]: it is discarded when another image does not resolve,
/// and its errors surface only where the check's would.
async fn lock_and_check_abi(
    job: &ImageJob,
    resolver: &Resolver,
    input: &RequirementsInput,
    client: &Arc<IndexClient>,
    abi_options: Option<&AbiOptions>,
) -> (
    Result<LockedImage, ImageError>,
    Option<Result<AbiReport, AbiError>>,
) {
    let prescan = abi_options.map(|options| Arc::new(abi::Prescan::new(client.clone(), options)));
    let result = match &prescan {
        Some(prescan) => {
            let watched = resolver.watched_by(prescan.clone());
            job.lock_with(&watched, input).await
        }
        None => job.lock_with(resolver, input).await,
    };
    tracing::debug!(image = %job.name, "resolved");
    let report = match (&result, abi_options) {
        (Ok(image), Some(abi_options)) if abi::lock_has_numpy_2(&image.lock) => {
            let prescan = prescan.as_deref();
            Some(abi::check_lock_with(client, &image.lock, abi_options, prescan).await)
        }
        _ => None,
    };
    // Dropping the head start cancels the scans the check did not take.
    drop(prescan);
    (result, report)
}

/// The numpy ABI check of every lock that installs numpy ≥ 2: the diagnoses of those that fail it,
/// and every checked image's report. `early` holds each image's report when it was made right after
/// its resolve.
async fn check_abi(
    locked: &[LockedImage],
    early: Vec<Option<Result<AbiReport, AbiError>>>,
    client: &Arc<IndexClient>,
    abi_options: &AbiOptions,
    options: &PipelineOptions,
    reporter: &dyn PipelineReporter,
) -> Result<(Vec<Diagnosed>, BTreeMap<String, AbiReport>), PipelineError> {
    let apply = options
        .diagnose
        .is_some_and(|diagnose| diagnose.apply_fixes);
    let mut failing = Vec::new();
    let mut reports = BTreeMap::new();
    for (image, early) in locked
        .iter()
        .zip(early)
        .filter(|(image, _)| abi::lock_has_numpy_2(&image.lock))
    {
        let name = &image.job.name;
        let step = reporter.step(format!("Checking the numpy ABI of {name}"));
        let report = match early {
            Some(report) => report,
            None => abi::check_lock(client, &image.lock, abi_options).await,
        };
        let outcome = image
            .job
            .diagnose_abi(client.clone(), image, report, abi_options)
            .await;
        drop(step);
        let (report, diagnosis) = outcome?;
        for wheel in report.unchecked() {
            reporter.warning(format!(
                "{name}: numpy ABI not checked for {}: {}",
                wheel.filename,
                wheel.error.as_deref().unwrap_or_default()
            ));
        }
        if let Some(diagnosis) = diagnosis {
            failing.push(diagnosed(name, diagnosis, apply)?);
        }
        reports.insert(name.clone(), report);
    }
    Ok((failing, reports))
}

/// Verify each freshly resolved lock before anything is written.
async fn verify_locks(
    locked: &[LockedImage],
    client: &IndexClient,
    cache_dir: &std::path::Path,
    reporter: &dyn PipelineReporter,
) -> Result<Verified, PipelineError> {
    let started = Instant::now();
    let mut reports = Vec::new();
    for image in locked {
        let options = VerifyOptions {
            cache_dir: cache_dir.to_path_buf(),
            ..VerifyOptions::default()
        };
        let bar = reporter.verifying(&image.lock.context.image);
        let report = verify(client, &image.lock, &options, bar.as_ref()).await;
        drop(bar);
        let report = report.map_err(|source| PipelineError::Verify {
            image: image.job.name.clone(),
            source,
        })?;
        let path = image
            .job
            .pylock_toml
            .clone()
            .unwrap_or_else(|| PathBuf::from(&image.job.name));
        reports.push((path, report));
    }
    Ok(Verified {
        reports,
        elapsed: started.elapsed(),
    })
}

/// Stage every output of every image, then rename them all: a failure leaves every previous file.
fn write_outputs(locked: &[LockedImage]) -> Result<Vec<PathBuf>, WriteError> {
    let mut staged = Staged::default();
    for (path, contents) in locked.iter().flat_map(|image| &image.outputs) {
        staged.stage(path, contents.as_bytes())?;
    }
    // Fault injection for the panic boundary's test (tests/outputs.rs): a bug at the worst moment,
    // with every output staged and none renamed, must leave the previous files as they were.
    if std::env::var_os("FAVE_LOCK_FAULT").is_some_and(|fault| fault == "panic-before-commit") {
        panic!("FAVE_LOCK_FAULT=panic-before-commit");
    }
    staged.commit()
}

/// Resolve one image in memory as `resolve` would, without its build plan, SBOM and Debian packages
/// (only the versions matter): `check`'s diff. Writes nothing.
///
/// # Errors
///
/// As the resolve stage of [`run`]; an unresolvable input is [`ImageError::Resolve`].
pub async fn lock_in_memory(
    job: &ImageJob,
    client: &Arc<IndexClient>,
) -> Result<LockedImage, ImageError> {
    let mut job = job.clone();
    job.plan = None;
    job.sbom = None;
    job.apt = None;
    job.lock(client.clone()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `--diagnose-timeout`: 0 is no limit; by default, three times the failed resolve, at least 10 s.
    #[test]
    fn the_diagnosis_budget() {
        let failed_after = Duration::from_secs(7);
        assert_eq!(
            DiagnoseBudget::from_seconds(0.0)
                .unwrap()
                .limit(failed_after),
            None
        );
        assert_eq!(
            DiagnoseBudget::from_seconds(2.5)
                .unwrap()
                .limit(failed_after),
            Some(Duration::from_millis(2500))
        );
        assert!(DiagnoseBudget::from_seconds(f64::INFINITY).is_err());
        assert_eq!(
            DiagnoseBudget::Default.limit(failed_after),
            Some(Duration::from_secs(21))
        );
        assert_eq!(
            DiagnoseBudget::Default.limit(Duration::from_secs(1)),
            Some(Duration::from_secs(10))
        );
    }
}
