//! `fave-lock resolve`: config or ad hoc input → jobs → locks → files written atomically, all or none.

use std::collections::BTreeSet;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use jiff::Timestamp;
use pep508_rs::PackageName;

use fave_lock::abi::AbiOptions;
use fave_lock::config::{self, DEFAULT_INDEX_URL};
use fave_lock::diagnose::{Phase, render_json, render_text};
use fave_lock::image::ImageJob;
use fave_lock::index::IndexStats;
use fave_lock::lock::requirements_txt;
use fave_lock::pipeline::{
    self, DiagnoseBudget, DiagnoseOptions, Diagnosed, Locked, Outcome, PipelineOptions,
    PipelineReporter,
};
use fave_lock::resolve::SdistPolicy;
use fave_lock::tags::{Platform, PythonVersion};
use fave_lock::verify::VerifyReporter;

use super::args::DEFAULT_CACHE_TTL;
use super::progress::Progress;
use super::{ExitStatus, Format, ResolveArgs};

pub async fn run(args: ResolveArgs) -> anyhow::Result<ExitStatus> {
    if args.verbose || std::env::var_os("RUST_LOG").is_some() {
        super::init_debug_log();
    }
    let (status, applied_fixes) = run_once(&args).await?;
    if applied_fixes {
        // The checked fixes are now in the input: resolve again, for real.
        return Ok(run_once(&args).await?.0);
    }
    Ok(status)
}

/// One run of the pipeline over the jobs the arguments name, rendered; and whether it wrote fixes
/// into the inputs.
async fn run_once(args: &ResolveArgs) -> anyhow::Result<(ExitStatus, bool)> {
    let started = Instant::now();
    if args.requirement.is_some() && args.output_file.is_none() && args.format == Format::Json {
        // uv and pip-compile print an ad hoc lock on stdout; with `--format json` stdout is the report.
        usage_error!(
            "--format json writes its report to stdout, where an ad hoc lock would go: add -o PATH \
             (requirements.txt, or a .toml for pylock.toml)"
        );
    }
    let exclude_newer = args
        .exclude_newer
        .as_deref()
        .map(parse_timestamp)
        .transpose()?;
    let (mut jobs, index_url) = match &args.requirement {
        Some(requirement) => ad_hoc_job(args, requirement, exclude_newer)?,
        None => config_jobs(args, exclude_newer)?,
    };
    let sbom_timestamp = args
        .sbom_timestamp
        .as_deref()
        .map(super::sbom::parse_sbom_timestamp)
        .transpose()?;
    for sbom in jobs.iter_mut().filter_map(|job| job.sbom.as_mut()) {
        sbom.timestamp = sbom_timestamp;
    }
    let client = Arc::new(args.cache.index_client(
        index_url,
        args.concurrency,
        DEFAULT_CACHE_TTL,
    )?);
    let budget = match args.diagnose_timeout {
        Some(seconds) => DiagnoseBudget::from_seconds(seconds)
            .with_context(|| format!("--diagnose-timeout {seconds}"))?,
        None => DiagnoseBudget::Default,
    };
    let abi = (!args.no_check_abi).then(|| {
        let mut options = AbiOptions::new(&args.cache.dir());
        options.offline = args.cache.offline;
        options
    });
    // The config's locks are committed and built from: their files are checked against their bytes
    // unless the user opts out. Ad hoc runs follow uv and pip-compile, which trust the index's hashes.
    let verify = args.verify || (args.requirement.is_none() && !args.no_verify);
    let options = PipelineOptions {
        diagnose: Some(DiagnoseOptions {
            budget,
            apply_fixes: args.apply_fixes,
        }),
        abi,
        verify: verify.then(|| args.cache.dir()),
        write: true,
    };
    let reporter = CliReporter {
        stats: client.stats.clone(),
        quiet: args.quiet,
    };
    let outcome = pipeline::run(&jobs, &client, &options, &reporter).await?;
    let applied_fixes = outcome.applied_fixes();
    let status = match outcome {
        Outcome::Locked(locked) => {
            if let Some(verified) = &locked.verified
                && !args.quiet
                && args.format == Format::Text
            {
                super::verify::summarize(&verified.reports, verified.elapsed);
            }
            if args.requirement.is_some() && args.output_file.is_none() {
                for image in &locked.images {
                    print!("{}", requirements_txt(&image.lock));
                }
            }
            report(args, &locked, started.elapsed());
            ExitStatus::Success
        }
        Outcome::Unresolvable(images) => {
            let diagnosed: Vec<&Diagnosed> = images
                .iter()
                .filter_map(|image| image.diagnosis.as_ref())
                .collect();
            report_diagnoses(args, &diagnosed)?
        }
        Outcome::AbiProblems(diagnosed) => {
            report_diagnoses(args, &diagnosed.iter().collect::<Vec<_>>())?
        }
        Outcome::VerifyFailed(verified) => {
            let status =
                super::verify::render(&verified.reports, args.format, args.quiet, verified.elapsed);
            if args.format == Format::Text {
                eprintln!(
                    "error: the lock was not written: verify found problems with the resolved files"
                );
            }
            status
        }
    };
    Ok((status, applied_fixes))
}

/// Spinners while resolving, diagnosing and checking, a bar while verifying, warnings on stderr.
struct CliReporter {
    stats: Arc<IndexStats>,
    quiet: bool,
}

impl PipelineReporter for CliReporter {
    fn step(&self, label: String) -> (Box<dyn Send>, Phase) {
        let (progress, phase) = Progress::with_phase(label, self.stats.clone(), self.quiet);
        (Box::new(progress), phase)
    }

    fn verifying(&self, image: &str) -> Box<dyn VerifyReporter + '_> {
        Box::new(super::verify::BarReporter::new(image, self.quiet))
    }

    fn warning(&self, text: String) {
        if !self.quiet {
            eprintln!("warning: {text}");
        }
    }
}

/// Print each image's diagnosis and the files its fixes were applied to: the run found something to
/// act on.
fn report_diagnoses(args: &ResolveArgs, diagnoses: &[&Diagnosed]) -> anyhow::Result<ExitStatus> {
    let mut reports = Vec::new();
    for Diagnosed {
        image,
        diagnosis,
        applied,
    } in diagnoses
    {
        match args.format {
            Format::Json => reports
                .push(serde_json::json!({"image": image, "diagnosis": render_json(diagnosis)})),
            Format::Text => eprint!("error: {image}: {}", render_text(diagnosis)),
        }
        if !args.quiet {
            for path in applied {
                eprintln!("Applied fixes to {}", path.display());
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

fn report(args: &ResolveArgs, locked: &Locked, elapsed: Duration) {
    let Locked {
        images: locked,
        abi: abi_reports,
        written,
        ..
    } = locked;
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
            usage_error!(
                "{} only applies with -r (ad hoc mode); for the config's images, edit {}",
                flag.1,
                args.config.path.display()
            );
        }
    }
    let config = config::load(&args.config.path)?;
    let index_url = config.effective_index_url(args.index_url.url.as_deref());
    let exclude_newer = exclude_newer.or(config.exclude_newer);
    let selected = super::selected_images(&config, &args.images)?;
    if args.output_file.is_some() && selected.len() != 1 {
        usage_error!("--output-file needs exactly one image: add --image NAME");
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
        usage_error!("-r needs --python-version (for the base image: --python-version 3.11)");
    };
    let python = PythonVersion::from_str(python_version)
        .map_err(|err| anyhow::anyhow!("--python-version {python_version}: {err}"))?;
    if args.python_platforms.is_empty() {
        usage_error!(
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
    let index_url = effective_index_url(args.index_url.url.as_deref());
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
        root: std::path::PathBuf::new(),
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

/// The ad hoc index URL, as [`config::Config::effective_index_url`] without a config.
fn effective_index_url(flag_or_env: Option<&str>) -> String {
    flag_or_env
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
    usage_error!(
        "--exclude-newer {text}: expected an RFC 3339 timestamp (2026-11-01T00:00:00Z) or a date (2026-11-01)"
    )
}
