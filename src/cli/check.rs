//! `fave-lock check`: is what is committed in `locks/` still right? Runs the library's local checks
//! (and, unless `--offline`, the index checks on pages it fetches), resolves stale images in memory for
//! the per-package diff, renders the findings and maps the worst one to the exit code.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use jiff::Timestamp;

use fave_lock::check::{
    Code, FileLocation, Finding, IndexContext, LOCK_LABEL, PackageChange, PublishedImage,
    RegistryObservation, Severity, check_index, check_local, check_registry, diff, resolve_command,
    worst,
};
use fave_lock::config::{self, Config, DEFAULT_INDEX_URL};
use fave_lock::image::ImageJob;
use fave_lock::index::{IndexClient, IndexSettings, default_cache_dir};
use fave_lock::lock::Lock;
use fave_lock::plan::{BaseReference, BuildPlan, sha256_hex};
use fave_lock::registry::{
    CredentialStore, Reference, RegistryClient, RegistryErrorKind, RegistryOptions, Repository,
};

use super::ExitStatus;

/// `fave-lock check`: exit 0 fresh, 1 stale, 2 error (config, I/O, network), 3 integrity failure.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Images of the config to check (default: all).
    #[arg(value_name = "IMAGE")]
    pub images: Vec<String>,
    /// The config file.
    #[arg(long, default_value = "fave-lock.toml", value_name = "PATH")]
    pub config: PathBuf,
    /// Run only the local checks (inputs, lock format, missing files); the diff uses the cache only.
    #[arg(long)]
    pub offline: bool,
    /// Count informational findings (newer releases within policy) as stale.
    #[arg(long)]
    pub strict: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = CheckFormat::Human)]
    pub format: CheckFormat,
    /// The package index's simple API (as for `resolve`; it is part of the input hash).
    #[arg(long, env = "FAVE_LOCK_INDEX_URL", value_name = "URL")]
    pub index_url: Option<String>,
    /// Cache folder.
    #[arg(long, env = "FAVE_LOCK_CACHE_DIR", value_name = "PATH")]
    pub cache_dir: Option<PathBuf>,
    /// How long a cached project page counts as fresh, in seconds; 0 (the default) asks the index.
    #[arg(long, default_value_t = 0, value_name = "SECONDS")]
    pub cache_ttl: u64,
    /// Skip the registry checks (base drift, published image not rebuilt).
    #[arg(long)]
    pub no_registry: bool,
    /// Skip the per-package diff of stale images (it resolves them in memory).
    #[arg(long)]
    pub no_diff: bool,
}

/// How findings are rendered on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CheckFormat {
    /// One finding a line, with its reason and the fixing command.
    Human,
    /// One JSON document.
    Json,
    /// GitHub Actions workflow annotations (`::error file=…,line=…::…`).
    Github,
    /// JUnit XML: one test case per image and check.
    Junit,
}

/// Everything found about one image.
#[derive(Debug, Default)]
struct ImageReport {
    image: String,
    findings: Vec<Finding>,
    changes: Vec<PackageChange>,
    /// Why there is no diff although the image is stale.
    diff_error: Option<String>,
    /// The checks that ran (`inputs`, `index`, `registry`), for JUnit.
    checks: Vec<&'static str>,
    /// Where each top-level package is written in the input, so GitHub annotations can point at the line
    /// of a package the diff moves.
    input_lines: BTreeMap<String, FileLocation>,
}

pub async fn run(args: CheckArgs) -> anyhow::Result<ExitStatus> {
    let config = config::load(&args.config)?;
    let jobs = jobs(&args, &config)?;
    let client = Arc::new(IndexClient::new(IndexSettings {
        index_url: index_url(&args, &config),
        cache_dir: args.cache_dir.clone().unwrap_or_else(default_cache_dir),
        offline: args.offline,
        refresh: false,
        page_ttl: Duration::from_secs(args.cache_ttl),
        concurrency: 32,
    })?);
    let registry = RegistryClient::new(RegistryOptions {
        insecure: config
            .images
            .iter()
            .filter(|image| image.registry_insecure)
            .filter_map(|image| {
                image
                    .registry
                    .as_deref()?
                    .split('/')
                    .next()
                    .map(str::to_string)
            })
            .collect(),
        credentials: CredentialStore::from_environment(),
        ..RegistryOptions::default()
    })?;
    let mut reports = Vec::new();
    for job in &jobs {
        reports.push(check_image(&args, job, &client, &registry).await?);
    }
    let all: Vec<Finding> = reports.iter().flat_map(|r| r.findings.clone()).collect();
    let status = match worst(&all, args.strict) {
        Some(Severity::Integrity) => ExitStatus::Integrity,
        Some(Severity::Stale) => ExitStatus::Finding,
        Some(Severity::Info) | None => ExitStatus::Success,
    };
    let text = match args.format {
        CheckFormat::Human => render_human(&reports, args.strict),
        CheckFormat::Json => render_json(&reports, status, args.strict)?,
        CheckFormat::Github => render_github(&reports, args.strict),
        CheckFormat::Junit => render_junit(&reports, args.strict),
    };
    print!("{text}");
    Ok(status)
}

async fn check_image(
    args: &CheckArgs,
    job: &ImageJob,
    client: &Arc<IndexClient>,
    registry: &RegistryClient,
) -> anyhow::Result<ImageReport> {
    let local = check_local(job).with_context(|| format!("checking image `{}`", job.name))?;
    let mut report = ImageReport {
        image: job.name.clone(),
        findings: local.findings.clone(),
        checks: vec!["inputs"],
        input_lines: local
            .input
            .requirements
            .iter()
            .map(|entry| {
                let location = FileLocation {
                    path: entry.location.path.clone(),
                    line: Some(entry.location.line),
                };
                (entry.requirement.name.to_string(), location)
            })
            .rev()
            .collect(),
        ..ImageReport::default()
    };
    if let (false, Some(lock)) = (args.offline, &local.lock) {
        let pages = fetch_pages(client, lock)
            .await
            .with_context(|| format!("reading the index for image `{}`", job.name))?;
        report.findings.extend(check_index(&IndexContext {
            lock,
            input: &local.input,
            pages: &pages,
            now: Timestamp::now(),
        }));
        report.checks.push("index");
    }
    if let (false, false, Some(plan)) = (args.offline, args.no_registry, &job.plan)
        && plan.plan_path().exists()
        && let Some(txt) = &job.requirements_txt
        && txt.exists()
    {
        let path = plan.plan_path();
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read `{}`", path.display()))?;
        let plan = BuildPlan::from_json(&text)
            .with_context(|| format!("`{}` is not a build plan", path.display()))?;
        let bytes =
            std::fs::read(txt).with_context(|| format!("cannot read `{}`", txt.display()))?;
        let observed = observe_registry(registry, &plan)
            .await
            .with_context(|| format!("reading the registry for image `{}`", job.name))?;
        report
            .findings
            .extend(check_registry(&plan, &sha256_hex(&bytes), &observed));
        report.checks.push("registry");
    }
    locate_in_lock(job, &mut report.findings);
    let needs_diff = report.findings.iter().any(|f| {
        matches!(
            f.code,
            Code::InputsChanged | Code::LockFormatChanged | Code::Yanked
        )
    });
    if needs_diff && !args.no_diff {
        match &local.lock {
            Some(old) => match resolve_in_memory(job, client).await {
                Ok(new) => {
                    let yanked: BTreeSet<(String, String)> = report
                        .findings
                        .iter()
                        .filter(|f| f.code == Code::Yanked)
                        .filter_map(|f| Some((f.package.clone()?, f.version.clone()?)))
                        .collect();
                    report.changes = diff(old, &new, local.is_inputs_changed(), &yanked);
                }
                // One line: the full no-solution report is `resolve`'s job.
                Err(err) => {
                    let first = err.to_string();
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
            },
            None => report.diff_error = Some("no readable lock to compare with".to_string()),
        }
    }
    Ok(report)
}

/// Each locked project's page, fetched concurrently. A network failure is an error (exit 2).
async fn fetch_pages(
    client: &Arc<IndexClient>,
    lock: &Lock,
) -> anyhow::Result<BTreeMap<pep508_rs::PackageName, fave_lock::index::ProjectResponse>> {
    let names: BTreeSet<_> = lock.packages.iter().map(|p| p.name.clone()).collect();
    let responses = futures::future::join_all(names.iter().map(|name| client.project(name))).await;
    let mut pages = BTreeMap::new();
    for (name, response) in names.into_iter().zip(responses) {
        pages.insert(
            name.clone(),
            response.with_context(|| format!("project `{name}`"))?,
        );
    }
    Ok(pages)
}

/// What the registry says about the plan's base image (only when the plan pins a digest) and about the
/// images published under the plan's tags (a tag not pushed yet is no finding).
async fn observe_registry(
    registry: &RegistryClient,
    plan: &BuildPlan,
) -> anyhow::Result<RegistryObservation> {
    let mut observed = RegistryObservation::default();
    if plan.base_image.digest.is_some() {
        let base = BaseReference::parse(&plan.base_image.name).map_err(anyhow::Error::msg)?;
        let repository =
            Repository::new(&base.registry, &base.repository).map_err(anyhow::Error::msg)?;
        let reference = Reference::tag(&base.tag).map_err(anyhow::Error::msg)?;
        let manifest = registry.manifest(&repository, &reference).await?;
        observed.base_digest = Some(manifest.digest.to_string());
    }
    for full in &plan.tags {
        let Some((name, tag)) = full.rsplit_once(':').filter(|(_, tag)| !tag.contains('/')) else {
            bail!("`{full}` is not a tagged image reference");
        };
        let repository: Repository = name.parse().map_err(anyhow::Error::msg)?;
        let description = match registry.describe_tag(&repository, tag).await {
            Ok(description) => description,
            Err(err) if err.kind() == RegistryErrorKind::NotFound => continue,
            Err(err) => return Err(err.into()),
        };
        for platform in description.platforms {
            if let Some(error) = platform.error {
                bail!("`{full}` ({}): {error}", platform.platform);
            }
            observed.published.push(PublishedImage {
                reference: full.clone(),
                platform: platform.platform,
                lock_sha256: platform.labels.get(LOCK_LABEL).cloned(),
            });
        }
    }
    Ok(observed)
}

/// Resolve the image as `resolve` would, writing nothing and skipping the build plan and SBOM (only the
/// versions matter here).
async fn resolve_in_memory(job: &ImageJob, client: &Arc<IndexClient>) -> anyhow::Result<Lock> {
    let mut job = job.clone();
    job.plan = None;
    job.sbom = None;
    Ok(job.lock(client.clone()).await?.lock)
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

fn index_url(args: &CheckArgs, config: &Config) -> String {
    args.index_url
        .as_deref()
        .or(config.index_url.as_deref())
        .unwrap_or(DEFAULT_INDEX_URL)
        .trim_end_matches('/')
        .to_string()
}

fn jobs(args: &CheckArgs, config: &Config) -> anyhow::Result<Vec<ImageJob>> {
    let index_url = index_url(args, config);
    Ok(super::selected_images(config, &args.images, &args.config)?
        .into_iter()
        .map(|image| ImageJob::from_config(config, image, &index_url, config.exclude_newer, None))
        .collect())
}

/// The severity a finding counts as under `--strict`.
fn effective(finding: &Finding, strict: bool) -> Severity {
    match finding.severity {
        Severity::Info if strict => Severity::Stale,
        severity => severity,
    }
}

fn subject(finding: &Finding) -> String {
    match (&finding.package, &finding.version) {
        (Some(package), Some(version)) => format!("{package}=={version}: "),
        (Some(package), None) => format!("{package}: "),
        _ => String::new(),
    }
}

fn render_human(reports: &[ImageReport], strict: bool) -> String {
    let mut out = String::new();
    for report in reports {
        let status = worst(&report.findings, strict);
        if status.is_none() || status == Some(Severity::Info) {
            out.push_str(&format!("{}: fresh\n", report.image));
        }
        for finding in &report.findings {
            out.push_str(&format!(
                "{} [{}] {}: {}{}; fix: {}\n",
                effective(finding, strict).as_str(),
                finding.code,
                finding.image,
                subject(finding),
                finding.reason,
                finding.fix
            ));
        }
        for change in &report.changes {
            out.push_str(&format!(
                "  {} {} → {} ({})\n",
                change.package,
                versions(&change.old),
                versions(&change.new),
                change.reason.as_str()
            ));
        }
        if let Some(error) = &report.diff_error {
            out.push_str(&format!("  (no per-package diff: {error})\n"));
        }
    }
    out
}

fn versions(list: &[String]) -> String {
    if list.is_empty() {
        "(none)".to_string()
    } else {
        list.join(", ")
    }
}

fn status_name(status: Option<Severity>) -> &'static str {
    match status {
        Some(Severity::Integrity) => "integrity",
        Some(Severity::Stale) => "stale",
        _ => "fresh",
    }
}

fn render_json(
    reports: &[ImageReport],
    status: ExitStatus,
    strict: bool,
) -> anyhow::Result<String> {
    let images: Vec<serde_json::Value> = reports
        .iter()
        .map(|report| {
            serde_json::json!({
                "image": report.image,
                "status": status_name(worst(&report.findings, strict)),
                "checks": report.checks,
                "findings": report.findings,
                "diff": report.changes,
                "diff-error": report.diff_error,
            })
        })
        .collect();
    let exit_code = match status {
        ExitStatus::Success => 0,
        ExitStatus::Finding => 1,
        ExitStatus::Error => 2,
        ExitStatus::Integrity => 3,
    };
    let all: Vec<Finding> = reports.iter().flat_map(|r| r.findings.clone()).collect();
    let document = serde_json::json!({
        "status": status_name(worst(&all, strict)),
        "exit-code": exit_code,
        "strict": strict,
        "images": images,
    });
    Ok(format!("{}\n", serde_json::to_string_pretty(&document)?))
}

/// GitHub workflow command escaping: data escapes `%`, CR and LF; properties also `:` and `,`.
fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

fn render_github(reports: &[ImageReport], strict: bool) -> String {
    let mut out = String::new();
    for report in reports {
        for finding in &report.findings {
            let level = match effective(finding, strict) {
                Severity::Info => "notice",
                Severity::Stale | Severity::Integrity => "error",
            };
            let message = format!(
                "{}: {}{}. Fix: {}",
                finding.image,
                subject(finding),
                finding.reason,
                finding.fix
            );
            out.push_str(&annotation(
                level,
                finding,
                finding.location.as_ref(),
                &message,
            ));
            if !matches!(finding.code, Code::InputsChanged | Code::LockFormatChanged) {
                continue;
            }
            // One more annotation on the input line of each top-level package the change moves.
            for change in &report.changes {
                let Some(location) = report.input_lines.get(&change.package) else {
                    continue;
                };
                let message = format!(
                    "{}: {} {} → {} ({}). Fix: {}",
                    finding.image,
                    change.package,
                    versions(&change.old),
                    versions(&change.new),
                    change.reason.as_str(),
                    finding.fix
                );
                out.push_str(&annotation(level, finding, Some(location), &message));
            }
        }
    }
    out
}

/// One workflow command: `::error file=…,line=…,title=…::message`.
fn annotation(
    level: &str,
    finding: &Finding,
    location: Option<&FileLocation>,
    message: &str,
) -> String {
    let mut properties = Vec::new();
    if let Some(location) = location {
        properties.push(format!(
            "file={}",
            escape_property(&location.path.display().to_string())
        ));
        if let Some(line) = location.line {
            properties.push(format!("line={line}"));
        }
    }
    properties.push(format!(
        "title={}",
        escape_property(&format!(
            "fave-lock check: {} ({})",
            finding.code, finding.image
        ))
    ));
    format!(
        "::{level} {}::{}\n",
        properties.join(","),
        escape_data(message)
    )
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// Which JUnit test case (check) a finding belongs to.
fn check_of(code: Code) -> &'static str {
    match code {
        Code::InputsChanged | Code::LockFormatChanged | Code::LockMissing => "inputs",
        Code::Yanked | Code::HashMismatch | Code::FileGone | Code::NewerRelease => "index",
        Code::BaseDrift | Code::NotRebuilt => "registry",
    }
}

fn render_junit(reports: &[ImageReport], strict: bool) -> String {
    let mut cases = String::new();
    let (mut tests, mut failures) = (0, 0);
    for report in reports {
        for check in &report.checks {
            tests += 1;
            let findings: Vec<&Finding> = report
                .findings
                .iter()
                .filter(|f| check_of(f.code) == *check)
                .collect();
            let failing: Vec<&&Finding> = findings
                .iter()
                .filter(|f| effective(f, strict) != Severity::Info)
                .collect();
            cases.push_str(&format!(
                "    <testcase classname=\"fave-lock.{}\" name=\"{}\">\n",
                xml_escape(&report.image),
                check
            ));
            if !failing.is_empty() {
                failures += 1;
                let codes: BTreeSet<&str> = failing.iter().map(|f| f.code.as_str()).collect();
                let body: Vec<String> = failing
                    .iter()
                    .map(|f| {
                        format!(
                            "{} [{}] {}{}; fix: {}",
                            effective(f, strict).as_str(),
                            f.code,
                            subject(f),
                            f.reason,
                            f.fix
                        )
                    })
                    .collect();
                cases.push_str(&format!(
                    "      <failure type=\"{}\" message=\"{}\">{}</failure>\n",
                    xml_escape(&codes.into_iter().collect::<Vec<_>>().join(" ")),
                    xml_escape(&body[0]),
                    xml_escape(&body.join("\n"))
                ));
            }
            let info: Vec<String> = findings
                .iter()
                .filter(|f| effective(f, strict) == Severity::Info)
                .map(|f| format!("info [{}] {}{}", f.code, subject(f), f.reason))
                .collect();
            if !info.is_empty() {
                cases.push_str(&format!(
                    "      <system-out>{}</system-out>\n",
                    xml_escape(&info.join("\n"))
                ));
            }
            cases.push_str("    </testcase>\n");
        }
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites tests=\"{tests}\" failures=\"{failures}\">\n  <testsuite name=\"fave-lock check\" tests=\"{tests}\" failures=\"{failures}\">\n{cases}  </testsuite>\n</testsuites>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_escaping() {
        assert_eq!(escape_data("a%b\nc"), "a%25b%0Ac");
        assert_eq!(escape_property("a:b,c"), "a%3Ab%2Cc");
    }
}
