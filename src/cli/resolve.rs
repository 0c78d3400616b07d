//! `fave-lock resolve`: config or ad hoc input → jobs → locks → files written atomically, all or none.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use jiff::Timestamp;
use pep508_rs::PackageName;

use fave_lock::abi::{self, AbiOptions, AbiReport};
use fave_lock::config::{self, DEFAULT_INDEX_URL};
use fave_lock::diagnose::{self, Diagnosis, apply_fixes, render_json, render_text};
use fave_lock::fs::Staged;
use fave_lock::image::{ImageError, ImageJob, LockedImage};
use fave_lock::index::{IndexClient, IndexSettings, default_cache_dir};
use fave_lock::lock::requirements_txt;
use fave_lock::resolve::{ResolveError, SdistPolicy};
use fave_lock::tags::{Platform, PythonVersion};

use super::progress::Progress;
use super::{ExitStatus, Format, ResolveArgs};

pub async fn run(args: ResolveArgs) -> anyhow::Result<ExitStatus> {
    let status = run_once(&args).await?;
    if status == ExitStatus::Finding && args.apply_fixes {
        // The checked fixes are now in the input: resolve again, for real.
        return run_once(&args).await;
    }
    Ok(status)
}

/// Explain every unresolvable image (nothing is written), and with `--apply-fixes` write the checked
/// fixes into the inputs.
async fn diagnose(
    args: &ResolveArgs,
    jobs: &[&ImageJob],
    client: Arc<IndexClient>,
    failed_after: Duration,
) -> anyhow::Result<ExitStatus> {
    // The diagnosis resolves many variants of the input: bound it, by default by the larger of
    // 10 s and three times the resolve that failed (which fetched most of what it needs).
    let budget = match args.diagnose_timeout {
        Some(seconds) if seconds <= 0.0 => None,
        Some(seconds) => Some(
            Duration::try_from_secs_f64(seconds)
                .with_context(|| format!("--diagnose-timeout {seconds}"))?,
        ),
        None => Some((failed_after * 3).max(Duration::from_secs(10))),
    };
    let mut diagnoses = Vec::new();
    for job in jobs {
        let (progress, phase) = Progress::with_phase(
            format!("Diagnosing {}", job.name),
            client.stats.clone(),
            args.quiet,
        );
        let diagnosis = job.diagnose(client.clone(), budget, phase).await;
        drop(progress);
        diagnoses.push((job.name.clone(), diagnosis?));
    }
    report_diagnoses(args, &diagnoses)
}

/// Print each image's diagnosis (and apply its fixes when asked): the run found something to act on.
fn report_diagnoses(
    args: &ResolveArgs,
    diagnoses: &[(String, Diagnosis)],
) -> anyhow::Result<ExitStatus> {
    let mut reports = Vec::new();
    for (image, diagnosis) in diagnoses {
        match args.format {
            Format::Json => reports
                .push(serde_json::json!({"image": image, "diagnosis": render_json(diagnosis)})),
            Format::Text => eprint!("error: {image}: {}", render_text(diagnosis)),
        }
        if args.apply_fixes {
            let written = apply_fixes(diagnosis)?;
            if !args.quiet {
                for path in written {
                    eprintln!("Applied fixes to {}", path.display());
                }
            }
        }
    }
    if args.format == Format::Json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({"resolved": false, "images": reports})
            )?
        );
    }
    Ok(ExitStatus::Finding)
}

/// The numpy ABI check of every lock that installs numpy ≥ 2: the diagnoses of those that fail it,
/// and every image's report.
async fn check_abi(
    args: &ResolveArgs,
    locked: &[LockedImage],
    client: Arc<IndexClient>,
) -> anyhow::Result<(Vec<(String, Diagnosis)>, BTreeMap<String, AbiReport>)> {
    let cache_dir = args.cache_dir.clone().unwrap_or_else(default_cache_dir);
    let mut options = AbiOptions::new(&cache_dir);
    options.offline = args.offline;
    let mut failing = Vec::new();
    let mut reports = BTreeMap::new();
    for image in locked
        .iter()
        .filter(|image| abi::lock_has_numpy_2(&image.lock))
    {
        let progress = Progress::start(
            format!("Checking the numpy ABI of {}", image.job.name),
            client.stats.clone(),
            args.quiet,
        );
        let outcome = image.job.check_abi(client.clone(), image, &options).await;
        drop(progress);
        let (report, diagnosis) = outcome?;
        if !args.quiet {
            for wheel in report.unchecked() {
                eprintln!(
                    "warning: {}: numpy ABI not checked for {}: {}",
                    image.job.name,
                    wheel.filename,
                    wheel.error.as_deref().unwrap_or_default()
                );
            }
        }
        if let Some(diagnosis) = diagnosis {
            failing.push((image.job.name.clone(), diagnosis));
        }
        reports.insert(image.job.name.clone(), report);
    }
    Ok((failing, reports))
}

async fn run_once(args: &ResolveArgs) -> anyhow::Result<ExitStatus> {
    let args = args.clone();
    let started = Instant::now();
    let exclude_newer = args
        .exclude_newer
        .as_deref()
        .map(parse_timestamp)
        .transpose()?;
    let (mut jobs, index_url) = match &args.requirement {
        Some(requirement) => ad_hoc_job(&args, requirement, exclude_newer)?,
        None => config_jobs(&args, exclude_newer)?,
    };
    let sbom_timestamp = args
        .sbom_timestamp
        .as_deref()
        .map(super::sbom::parse_sbom_timestamp)
        .transpose()?;
    for sbom in jobs.iter_mut().filter_map(|job| job.sbom.as_mut()) {
        sbom.timestamp = sbom_timestamp;
    }
    let client = Arc::new(IndexClient::new(IndexSettings {
        index_url,
        cache_dir: args.cache_dir.clone().unwrap_or_else(default_cache_dir),
        offline: args.offline,
        refresh: args.refresh,
        page_ttl: Duration::from_secs(args.cache_ttl),
        concurrency: args.concurrency.max(1),
    })?);
    let names: Vec<&str> = jobs.iter().map(|job| job.name.as_str()).collect();
    let progress = Progress::start(
        format!("Resolving {}", names.join(", ")),
        client.stats.clone(),
        args.quiet,
    );
    let results = futures::future::join_all(jobs.iter().map(|job| job.lock(client.clone()))).await;
    drop(progress);
    let mut locked = Vec::new();
    let mut unresolvable = Vec::new();
    for (job, result) in jobs.iter().zip(results) {
        match result {
            Ok(image) => locked.push(image),
            Err(ImageError::Resolve(ResolveError::NoSolution(_))) => unresolvable.push(job),
            // A failed sdist build is reported as a problem with fixes, like a conflict.
            Err(ImageError::Resolve(error)) if diagnose::build_failure(&error).is_some() => {
                unresolvable.push(job);
            }
            Err(err) => return Err(err.into()),
        }
    }
    if !unresolvable.is_empty() {
        return diagnose(&args, &unresolvable, client.clone(), started.elapsed()).await;
    }
    for warning in locked.iter().flat_map(|image| &image.resolution.warnings) {
        if !args.quiet {
            eprintln!("warning: {warning}");
        }
    }
    let mut abi_reports = BTreeMap::new();
    if !args.no_check_abi {
        let (failing, reports) = check_abi(&args, &locked, client.clone()).await?;
        if !failing.is_empty() {
            return report_diagnoses(&args, &failing);
        }
        abi_reports = reports;
    }
    // The config's locks are committed and built from: their files are checked against their bytes
    // unless the user opts out. Ad hoc runs follow uv and pip-compile, which trust the index's hashes.
    let verify = args.verify || (args.requirement.is_none() && !args.no_verify);
    if verify {
        let cache_dir = args.cache_dir.clone().unwrap_or_else(default_cache_dir);
        let verdict = super::verify::verify_before_writing(
            &client,
            &locked,
            &cache_dir,
            args.format,
            args.quiet,
        );
        if let Some(status) = verdict.await? {
            return Ok(status);
        }
    }
    let written = write_outputs(&args, &locked)?;
    report(&args, &locked, &abi_reports, &written, started.elapsed());
    Ok(ExitStatus::Success)
}

/// Stage every output of every image, then rename them all: a failure leaves every previous file.
fn write_outputs(args: &ResolveArgs, locked: &[LockedImage]) -> anyhow::Result<Vec<PathBuf>> {
    if args.requirement.is_some() && args.output_file.is_none() {
        for image in locked {
            print!("{}", requirements_txt(&image.lock));
        }
        return Ok(Vec::new());
    }
    let mut staged = Staged::default();
    for (path, contents) in locked.iter().flat_map(|image| &image.outputs) {
        staged.stage(path, contents.as_bytes())?;
    }
    // Fault injection for the panic boundary's test (tests/outputs.rs): a bug at the worst moment,
    // with every output staged and none renamed, must leave the previous files as they were.
    if std::env::var_os("FAVE_LOCK_FAULT").is_some_and(|fault| fault == "panic-before-commit") {
        panic!("FAVE_LOCK_FAULT=panic-before-commit");
    }
    Ok(staged.commit()?)
}

fn report(
    args: &ResolveArgs,
    locked: &[LockedImage],
    abi_reports: &BTreeMap<String, AbiReport>,
    written: &[PathBuf],
    elapsed: Duration,
) {
    match args.format {
        Format::Json => {
            let images: Vec<serde_json::Value> = locked
                .iter()
                .map(|image| {
                    serde_json::json!({
                        "image": image.job.name,
                        "python": image.job.python.to_string(),
                        "platforms": image.job.platforms.iter().map(|(oci, p)| serde_json::json!({"oci": oci, "platform": p.to_string()})).collect::<Vec<_>>(),
                        "packages": image.lock.package_count(),
                        "input-hash": image.lock.context.input_hash,
                        "files": image.outputs.iter().map(|(path, _)| path.display().to_string()).collect::<Vec<_>>(),
                        "warnings": image.resolution.warnings,
                        "numpy-abi": abi_reports.get(&image.job.name).map(|report| serde_json::json!({
                            "wheels": report.wheels.len(),
                            "modules": report.counts_by_name(),
                        })),
                    })
                })
                .collect();
            let summary = serde_json::json!({
                "images": images,
                "written": written.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
                "elapsed-ms": elapsed.as_millis(),
            });
            println!(
                "{}",
                serde_json::to_string_pretty(&summary).unwrap_or_default()
            );
        }
        Format::Text if !args.quiet => {
            for image in locked {
                let platforms: Vec<&str> = image
                    .job
                    .platforms
                    .iter()
                    .map(|(oci, _)| oci.as_str())
                    .collect();
                eprintln!(
                    "Resolved {} packages for {} (CPython {}; {}) in {:.2}s",
                    image.lock.package_count(),
                    image.job.name,
                    image.job.python,
                    platforms.join(", "),
                    elapsed.as_secs_f64()
                );
                if let Some(report) = abi_reports.get(&image.job.name) {
                    eprintln!(
                        "Checked the numpy ABI of {}: {}",
                        image.job.name,
                        report.summary()
                    );
                }
            }
            for path in written {
                eprintln!("Wrote {}", path.display());
            }
        }
        Format::Text => {}
    }
}

fn config_jobs(
    args: &ResolveArgs,
    exclude_newer: Option<Timestamp>,
) -> anyhow::Result<(Vec<ImageJob>, String)> {
    for flag in [
        (args.python_version.is_some(), "--python-version"),
        (!args.python_platforms.is_empty(), "--python-platform"),
        (!args.allow_sdist.is_empty(), "--allow-sdist"),
        (args.no_build, "--no-build"),
        (!args.only_binary.is_empty(), "--only-binary"),
    ] {
        if flag.0 {
            bail!(
                "{} only applies with -r (ad hoc mode); for the config's images, edit {}",
                flag.1,
                args.config.display()
            );
        }
    }
    let config = config::load(&args.config)?;
    let index_url = effective_index_url(args.index_url.as_deref(), config.index_url.as_deref());
    let exclude_newer = exclude_newer.or(config.exclude_newer);
    let selected = super::selected_images(&config, &args.images)?;
    if args.output_file.is_some() && selected.len() != 1 {
        bail!("--output-file needs exactly one image: add --image NAME");
    }
    let jobs = selected
        .into_iter()
        .map(|image| {
            ImageJob::from_config(
                &config,
                image,
                &index_url,
                exclude_newer,
                args.output_file.clone(),
            )
        })
        .collect();
    Ok((jobs, index_url))
}

fn ad_hoc_job(
    args: &ResolveArgs,
    requirement: &Path,
    exclude_newer: Option<Timestamp>,
) -> anyhow::Result<(Vec<ImageJob>, String)> {
    let Some(python_version) = &args.python_version else {
        bail!("-r needs --python-version (for the base image: --python-version 3.11)");
    };
    let python = PythonVersion::from_str(python_version)
        .map_err(|err| anyhow::anyhow!("--python-version {python_version}: {err}"))?;
    if args.python_platforms.is_empty() {
        bail!(
            "-r needs --python-platform (for the base image: --python-platform x86_64-manylinux_2_36)"
        );
    }
    let mut platforms = Vec::new();
    for text in &args.python_platforms {
        let platform = Platform::from_str(text)
            .map_err(|err| anyhow::anyhow!("--python-platform {text}: {err}"))?;
        platforms.push((platform.oci().to_string(), platform));
    }
    let allow_sdist = sdist_policy(args)?;
    let index_url = effective_index_url(args.index_url.as_deref(), None);
    let output = args.output_file.clone();
    let writes_pylock = output
        .as_ref()
        .is_some_and(|path| path.extension().is_some_and(|ext| ext == "toml"));
    let mut command = format!("fave-lock resolve --python-version={python}");
    for (_, platform) in &platforms {
        command.push_str(&format!(" --python-platform={platform}"));
    }
    if let Some(cutoff) = exclude_newer {
        command.push_str(&format!(" --exclude-newer={cutoff}"));
    }
    if let Some(output) = &output {
        command.push_str(&format!(" --output-file={}", output.display()));
    }
    command.push_str(&format!(" --requirement={}", requirement.display()));
    let job = ImageJob {
        name: "ad-hoc".to_string(),
        python,
        platforms,
        requirements: requirement.to_path_buf(),
        requirements_txt: if writes_pylock { None } else { output.clone() },
        pylock_toml: if writes_pylock { output } else { None },
        index_url: index_url.clone(),
        exclude_newer,
        allow_sdist,
        canonical_config: String::new(),
        command,
        plan: None,
        sbom: None,
        hash_unhashed: true,
        apt: None,
    };
    Ok((vec![job], index_url))
}

/// The ad hoc sdist policy: every package, as uv and pip, unless `--no-build` or `--only-binary`.
fn sdist_policy(args: &ResolveArgs) -> anyhow::Result<SdistPolicy> {
    let names = |values: &[String], flag: &str| {
        values
            .iter()
            .filter(|value| value.as_str() != ":all:" && value.as_str() != ":none:")
            .map(|name| PackageName::from_str(name).with_context(|| format!("{flag} {name}")))
            .collect::<anyhow::Result<BTreeSet<_>>>()
    };
    let no_build = args.no_build || args.only_binary.iter().any(|value| value == ":all:");
    Ok(SdistPolicy {
        all: !no_build,
        packages: names(&args.allow_sdist, "--allow-sdist")?,
        denied: names(&args.only_binary, "--only-binary")?,
    })
}

fn effective_index_url(flag_or_env: Option<&str>, config: Option<&str>) -> String {
    flag_or_env
        .or(config)
        .unwrap_or(DEFAULT_INDEX_URL)
        .trim_end_matches('/')
        .to_string()
}

/// `--exclude-newer`: an RFC 3339 instant, or a date meaning its midnight UTC.
fn parse_timestamp(text: &str) -> anyhow::Result<Timestamp> {
    if let Ok(timestamp) = Timestamp::from_str(text) {
        return Ok(timestamp);
    }
    if let Ok(date) = jiff::civil::Date::from_str(text) {
        return Ok(date.to_zoned(jiff::tz::TimeZone::UTC)?.timestamp());
    }
    bail!(
        "--exclude-newer {text}: expected an RFC 3339 timestamp (2026-11-01T00:00:00Z) or a date (2026-11-01)"
    )
}
