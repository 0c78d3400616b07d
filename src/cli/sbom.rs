//! `fave-lock sbom`: write `locks/<image>/sbom.cdx.json` from the committed lock, the same document
//! `resolve` writes beside it. The image's `build-plan.json` records the SBOM's sha256, so a rewritten
//! SBOM lands together with its plan (staged and renamed as one set), never leaving the plan stale.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, bail};
use jiff::Timestamp;

use fave_lock::config;
use fave_lock::fs::Staged;
use fave_lock::image::config_path;
use fave_lock::index::{IndexClient, IndexSettings, default_cache_dir};
use fave_lock::lock::read_pylock;
use fave_lock::plan::{PLAN_FILE, PlanSettings, replan_rewritten};
use fave_lock::sbom::{SBOM_FILE, SbomOutput, render_for_lock};

use super::ExitStatus;

/// `fave-lock sbom`: write the CycloneDX 1.5 SBOM of each image's lock (licenses come from the
/// packages' core metadata, fetched once and cached).
#[derive(Debug, clap::Args)]
pub struct SbomArgs {
    /// Images of the config (default: all).
    #[arg(value_name = "IMAGE")]
    pub images: Vec<String>,
    /// The config file.
    #[arg(long, default_value = "fave-lock.toml", value_name = "PATH")]
    pub config: PathBuf,
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
    /// Cache folder.
    #[arg(long, env = "FAVE_LOCK_CACHE_DIR", value_name = "PATH")]
    pub cache_dir: Option<PathBuf>,
    /// Use only the cache; fail if some metadata is missing from it.
    #[arg(long)]
    pub offline: bool,
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
    let locks = lock_paths(&args)?;
    if args.output_file.is_some() && locks.len() != 1 {
        bail!("--output-file needs exactly one lock: name one image or use --lock");
    }
    for LockJob {
        lock: lock_path,
        plan,
    } in locks
    {
        let lock = read_pylock(&lock_path)?;
        let client = IndexClient::new(IndexSettings {
            index_url: lock.context.index_url.clone(),
            cache_dir: args.cache_dir.clone().unwrap_or_else(default_cache_dir),
            offline: args.offline,
            refresh: false,
            page_ttl: Duration::from_secs(600),
            concurrency: 16,
        })?;
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
                args.config.display()
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
    bail!("--sbom-timestamp {text}: expected `now`, an RFC 3339 timestamp or a date")
}

/// One lock to describe, and the plan settings of its image, whose build plan lists the SBOM.
struct LockJob {
    lock: PathBuf,
    plan: Option<PlanSettings>,
}

/// `--lock`, else the config's images (all, or those named), each with its image's plan settings.
fn lock_paths(args: &SbomArgs) -> anyhow::Result<Vec<LockJob>> {
    if let Some(lock) = &args.lock {
        // A lock of the config's images (`--lock locks/fave-base/pylock.toml`) keeps its plan in step;
        // without a readable config there is no plan to know of.
        let plan = config::load(&args.config).ok().and_then(|config| {
            config.images.iter().find_map(|image| {
                let path = config_path(&config, &image.output).join("pylock.toml");
                is_same_file(&path, lock)
                    .then(|| PlanSettings::from_config(&config, image))
                    .flatten()
            })
        });
        return Ok(vec![LockJob {
            lock: lock.clone(),
            plan,
        }]);
    }
    let config = config::load(&args.config)?;
    Ok(super::selected_images(&config, &args.images)?
        .into_iter()
        .map(|image| LockJob {
            lock: config_path(&config, &image.output).join("pylock.toml"),
            plan: PlanSettings::from_config(&config, image),
        })
        .collect())
}

/// Whether two paths name the same file (as written when either does not exist yet).
fn is_same_file(one: &Path, other: &Path) -> bool {
    match (one.canonicalize(), other.canonicalize()) {
        (Ok(one), Ok(other)) => one == other,
        _ => one == other,
    }
}
