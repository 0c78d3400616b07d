//! `fave-lock sbom`: write `locks/<image>/sbom.cdx.json` from the committed lock, the same document
//! `resolve` writes beside it. The image's `build-plan.json` records the SBOM's sha256, so a rewritten
//! SBOM lands together with its plan (staged and renamed as one set), never leaving the plan stale.

use std::path::PathBuf;
use std::str::FromStr;

use anyhow::Context;
use jiff::Timestamp;

use fave_lock::fs::Staged;
use fave_lock::lock::read_pylock;
use fave_lock::plan::{PLAN_FILE, replan_rewritten};
use fave_lock::sbom::{SBOM_FILE, SbomOutput, render_for_lock};

use super::ExitStatus;
use super::args::{DEFAULT_CACHE_TTL, SelectedLock, is_same_file, select_locks};

/// `fave-lock sbom`: write the CycloneDX 1.5 SBOM of each image's lock (licenses come from the
/// packages' core metadata, fetched once and cached).
#[derive(Debug, clap::Args)]
pub struct SbomArgs {
    /// Images of the config (default: all).
    #[arg(value_name = "IMAGE")]
    pub images: Vec<String>,
    #[command(flatten)]
    pub config: super::args::ConfigArg,
    /// Make the SBOM of this pylock.toml instead of the config's images (written beside it unless
    /// `--output-file` says otherwise).
    #[arg(long, value_name = "PATH", conflicts_with = "images")]
    pub lock: Option<PathBuf>,
    /// Where to write the SBOM (`-` for stdout); needs exactly one lock.
    #[arg(short = 'o', long = "output-file", value_name = "PATH")]
    pub output_file: Option<PathBuf>,
    /// Stamp `metadata.timestamp` with this instant (RFC 3339, or `now`); without it the file is
    /// byte-identical run to run.
    #[arg(long, value_name = "TIMESTAMP")]
    pub sbom_timestamp: Option<String>,
    #[command(flatten)]
    pub cache: super::args::CacheArgs,
    /// No summary on stderr.
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    pub timeout: super::TimeoutArg,
}

pub async fn run(args: SbomArgs) -> anyhow::Result<ExitStatus> {
    let timestamp = args
        .sbom_timestamp
        .as_deref()
        .map(parse_sbom_timestamp)
        .transpose()?;
    let locks = select_locks(&args.config.path, &args.images, args.lock.as_slice())?;
    if args.output_file.is_some() && locks.len() != 1 {
        usage_error!("--output-file needs exactly one lock: name one image or use --lock");
    }
    for SelectedLock {
        path: lock_path,
        plan,
    } in locks
    {
        let lock = read_pylock(&lock_path)?;
        // Shared: an sdist whose metadata is not cached is built, and its build environment resolves
        // with the same client.
        let client = std::sync::Arc::new(args.cache.index_client(
            lock.context.index_url.clone(),
            16,
            DEFAULT_CACHE_TTL,
        )?);
        // The build plan and requirements.txt are read from beside the lock, wherever the SBOM goes.
        let beside = SbomOutput {
            path: lock_path.with_file_name(SBOM_FILE),
            timestamp,
        };
        let text = render_for_lock(&client, &lock, &beside, &[])
            .await
            .with_context(|| format!("cannot make the SBOM of `{}`", lock_path.display()))?;
        let path = args
            .output_file
            .clone()
            .unwrap_or_else(|| beside.path.clone());
        if path.as_os_str() == "-" {
            print!("{text}");
            continue;
        }
        // The plan lists the SBOM beside the lock: only that one is kept in step.
        let is_beside = is_same_file(&path, &beside.path);
        let plan = plan.filter(|_| is_beside);
        let mut outputs = vec![(path.clone(), text)];
        let replanned = match &plan {
            Some(settings) => replan_rewritten(settings, &outputs)?,
            None => None,
        };
        if plan.is_none() && is_beside && path.with_file_name(PLAN_FILE).is_file() {
            eprintln!(
                "warning: `{}` beside the SBOM was not updated (no image of {} writes this lock); \
                 run `fave-lock sbom IMAGE` to rewrite both",
                path.with_file_name(PLAN_FILE).display(),
                args.config.path.display()
            );
        }
        let replanned_path = replanned.as_ref().map(|(plan_path, _)| plan_path.clone());
        outputs.extend(replanned);
        let mut staged = Staged::default();
        for (output, contents) in &outputs {
            staged.stage(output, contents.as_bytes())?;
        }
        staged.commit()?;
        if !args.quiet {
            eprintln!(
                "Wrote {} ({} packages)",
                path.display(),
                lock.package_count()
            );
            if let Some(plan_path) = replanned_path {
                eprintln!("Updated {} (the SBOM's sha256)", plan_path.display());
            }
        }
    }
    Ok(ExitStatus::Success)
}

/// `--sbom-timestamp`: `now`, an RFC 3339 instant, or a date meaning its midnight UTC.
pub fn parse_sbom_timestamp(text: &str) -> anyhow::Result<Timestamp> {
    if text == "now" {
        return Ok(Timestamp::now());
    }
    if let Ok(timestamp) = Timestamp::from_str(text) {
        return Ok(timestamp);
    }
    if let Ok(date) = jiff::civil::Date::from_str(text) {
        return Ok(date.to_zoned(jiff::tz::TimeZone::UTC)?.timestamp());
    }
    usage_error!("--sbom-timestamp {text}: expected `now`, an RFC 3339 timestamp or a date")
}
