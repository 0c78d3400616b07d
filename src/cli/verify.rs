//! `fave-lock verify`: read each image's `pylock.toml`, fetch and check every file, render the findings,
//! and turn the worst one into the exit code. `resolve` renders the verify stage of its pipeline with
//! the same functions.

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use fave_lock::lock::{Lock, read_pylock};
use fave_lock::tags::{Arch, Platform};
use fave_lock::verify::{
    FileOutcome, Finding, Severity, Verdict, VerifyOptions, VerifyReport, VerifyReporter, verify,
};

use super::args::{DEFAULT_CACHE_TTL, SelectedLock, select_locks};
use super::{ExitStatus, Format};

/// `fave-lock verify`: download every file of each image's lock and check it against the lock and the
/// index. Exit 0 when all is well, 1 on a finding, 3 when bytes do not match a locked hash.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// Images of the config to verify (default: all).
    #[arg(value_name = "IMAGE")]
    pub images: Vec<String>,
    #[command(flatten)]
    pub config: super::args::ConfigArg,
    /// Verify this pylock.toml instead of the config's images (repeatable).
    #[arg(long = "lock", value_name = "PATH", conflicts_with = "images")]
    pub locks: Vec<PathBuf>,
    /// Only the files for this target: an OCI platform (`linux/amd64`), a wheel architecture (`x86_64`)
    /// or uv's spelling (`x86_64-manylinux_2_36`). Repeatable; default: every target of the lock.
    #[arg(long = "platform", value_name = "PLATFORM")]
    pub platforms: Vec<String>,
    /// Re-hash files found in the wheel cache instead of trusting their content-addressed names.
    #[arg(long)]
    pub rehash: bool,
    /// Most downloads in flight (and, besides them, most index page requests).
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub concurrency: usize,
    #[command(flatten)]
    pub cache: super::args::CacheArgs,
    /// No progress or summary on stderr (findings are still printed).
    #[arg(short, long)]
    pub quiet: bool,
    /// Report format on stdout (`json`) or stderr (`text`).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Skip the numpy ABI check of the downloaded wheels.
    #[arg(long)]
    pub no_check_abi: bool,
    #[command(flatten)]
    pub timeout: super::TimeoutArg,
}

pub async fn run(args: VerifyArgs) -> anyhow::Result<ExitStatus> {
    limit_malloc_arenas();
    let started = Instant::now();
    let cache_dir = args.cache.dir();
    let mut reports = Vec::new();
    for SelectedLock { path, .. } in select_locks(&args.config.path, &args.images, &args.locks)? {
        let lock = read_pylock(&path)?;
        let targets = select_targets(&lock, &args.platforms)?;
        // Downloads and index pages each get `concurrency` requests, so that pages (other host, little
        // data) never wait for a permit behind a long download.
        let client = args.cache.index_client(
            lock.context.index_url.clone(),
            args.concurrency.max(1) * 2,
            DEFAULT_CACHE_TTL,
        )?;
        let options = VerifyOptions {
            cache_dir: cache_dir.clone(),
            concurrency: args.concurrency.max(1),
            rehash: args.rehash,
            targets,
            check_abi: !args.no_check_abi,
        };
        let reporter = BarReporter::new(&lock.context.image, args.quiet);
        let report = verify(&client, &lock, &options, &reporter).await;
        drop(reporter);
        let report = report.with_context(|| format!("cannot verify `{}`", path.display()))?;
        reports.push((path, report));
    }
    Ok(render(&reports, args.format, args.quiet, started.elapsed()))
}

/// Cap glibc's malloc at two arenas. By default every thread that allocates while another holds the
/// arena gets its own (up to 8 per core), and freed memory stays in each: verify's download tasks and
/// the index's page parsing (pydantic-core's cached page is 6.8 MB of JSON) spread over the runtime's
/// threads took peak RSS to 52–63 MiB for the base image, 45–47 MiB with two arenas, at the same speed
/// (`scripts/bench --only verify`). Other C libraries have no such knob and need none.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only sets a glibc tuning parameter; M_ARENA_MAX with a positive value is valid
    // at any time (existing arenas are kept, no new ones are made past the cap).
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// The lock's targets named by `--platform` flags; `None` (all) without flags.
fn select_targets(lock: &Lock, platforms: &[String]) -> anyhow::Result<Option<BTreeSet<usize>>> {
    if platforms.is_empty() {
        return Ok(None);
    }
    let mut selected = BTreeSet::new();
    for text in platforms {
        let arch = Arch::from_oci(text)
            .ok()
            .or_else(|| Platform::from_str(text).ok().map(|platform| platform.arch))
            .or_else(|| {
                [Arch::X86_64, Arch::Aarch64]
                    .into_iter()
                    .find(|arch| arch.machine() == text)
            });
        let matches: Vec<usize> = lock
            .context
            .targets
            .iter()
            .enumerate()
            .filter(|(_, target)| {
                target.oci == *text
                    || target.platform.to_string() == *text
                    || arch == Some(target.platform.arch)
            })
            .map(|(index, _)| index)
            .collect();
        if matches.is_empty() {
            let known: Vec<String> = lock
                .context
                .targets
                .iter()
                .map(|target| format!("{} ({})", target.oci, target.platform))
                .collect();
            usage_error!(
                "--platform {text}: the lock of `{}` has no such target (targets: {})",
                lock.context.image,
                known.join(", ")
            );
        }
        selected.extend(matches);
    }
    Ok(Some(selected))
}

/// Print every report's findings and the summary; the status of the worst verdict.
pub(super) fn render(
    reports: &[(PathBuf, VerifyReport)],
    format: Format,
    quiet: bool,
    elapsed: Duration,
) -> ExitStatus {
    let worst = reports
        .iter()
        .map(|(_, report)| report.verdict())
        .max()
        .unwrap_or(Verdict::Clean);
    match format {
        Format::Json => {
            let images: Vec<serde_json::Value> = reports
                .iter()
                .map(|(path, report)| {
                    serde_json::json!({
                        "image": report.image,
                        "lock": path.display().to_string(),
                        "verdict": verdict_name(report.verdict()),
                        "files": report.files,
                        "findings": report.findings,
                        "bytes": report.files.iter().map(|f| f.size).sum::<u64>(),
                        "downloaded-bytes": report.downloaded_bytes(),
                        "abi": report.abi.as_ref().map(abi_json),
                    })
                })
                .collect();
            let summary = serde_json::json!({
                "verdict": verdict_name(worst),
                "images": images,
                "elapsed-ms": elapsed.as_millis(),
            });
            println!(
                "{}",
                serde_json::to_string_pretty(&summary).unwrap_or_default()
            );
        }
        Format::Text => {
            for (path, report) in reports {
                // An unreadable lock (only when verifying before writing) just loses the line numbers.
                let text = fave_lock::fs::read_input_to_string(path).unwrap_or_default();
                for finding in &report.findings {
                    let level = match finding.severity {
                        Severity::Warning => "warning",
                        Severity::Error => "error",
                    };
                    eprintln!(
                        "{level}[{}]: {} {}: {}\n  --> {}{}",
                        finding.code.as_str(),
                        finding.package,
                        finding.version,
                        finding.message,
                        path.display(),
                        line_of(&text, finding).map_or(String::new(), |line| format!(":{line}"))
                    );
                }
            }
            if worst == Verdict::Integrity {
                eprintln!(
                    "error: files do not match their locked sha256 (integrity failure); the lock files were not changed"
                );
            }
            if !quiet {
                summarize(reports, elapsed);
            }
        }
    }
    match worst {
        Verdict::Clean => ExitStatus::Success,
        Verdict::Findings => ExitStatus::Finding,
        Verdict::Integrity => ExitStatus::Integrity,
    }
}

pub(super) fn summarize(reports: &[(PathBuf, VerifyReport)], elapsed: Duration) {
    let took = format!(" in {:.2}s", elapsed.as_secs_f64());
    for (_, report) in reports {
        let bytes: u64 = report.files.iter().map(|file| file.size).sum();
        let downloaded = report.downloaded_bytes();
        eprintln!(
            "Verified {} files of {} ({}: {} downloaded, {} from the wheel cache){}: {} finding{}",
            report.files.len(),
            report.image,
            mebibytes(bytes),
            mebibytes(downloaded),
            mebibytes(bytes - downloaded.min(bytes)),
            if reports.len() == 1 {
                took.as_str()
            } else {
                ""
            },
            report.findings.len(),
            if report.findings.len() == 1 { "" } else { "s" },
        );
        if let Some(abi) = &report.abi {
            eprintln!("numpy ABI of {}: {}", report.image, abi.summary());
        }
    }
    if reports.len() > 1 {
        eprintln!("Verified {} images{took}", reports.len());
    }
}

/// The ABI check in verify's JSON: counts per class and the problems (the per-module detail is
/// `fave-lock abi`'s).
fn abi_json(report: &fave_lock::abi::AbiReport) -> serde_json::Value {
    serde_json::json!({
        "wheels": report.wheels.len(),
        "modules": report.counts_by_name(),
        "problems": report.problems,
    })
}

/// The 1-based line of the lock that lists the finding's file (its `name = "…"`), else the package's
/// `name = "…"` line.
fn line_of(lock_text: &str, finding: &Finding) -> Option<usize> {
    let position = match &finding.file {
        Some(file) => {
            let needle = format!("{{ name = \"{file}\"");
            lock_text.lines().position(|line| line.contains(&needle))
        }
        // The package table's own `name` line, not a `{ name = … }` in another's dependencies.
        None => {
            let needle = format!("name = \"{}\"", finding.package);
            lock_text.lines().position(|line| line == needle)
        }
    };
    position.map(|index| index + 1)
}

fn mebibytes(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / 1_048_576.0)
}

fn verdict_name(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Clean => "clean",
        Verdict::Findings => "findings",
        Verdict::Integrity => "integrity",
    }
}

/// A progress bar with bytes and bytes/s; draws nothing when quiet or when stderr is not a terminal.
pub(super) struct BarReporter {
    bar: ProgressBar,
    files: AtomicUsize,
    done: AtomicUsize,
    ticker: Option<tokio::task::JoinHandle<()>>,
}

impl BarReporter {
    pub(super) fn new(image: &str, quiet: bool) -> BarReporter {
        let target = if quiet || !std::io::stderr().is_terminal() {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        let bar = ProgressBar::with_draw_target(Some(0), target);
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix} [{bar:30}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_prefix(format!("Verifying {image}"));
        // Redraw even when no byte arrives, so the rate decays visibly on a stalled download.
        let ticking = bar.clone();
        let ticker = (!bar.is_hidden()).then(|| {
            tokio::spawn(async move {
                loop {
                    ticking.tick();
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            })
        });
        BarReporter {
            bar,
            files: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
            ticker,
        }
    }
}

impl VerifyReporter for BarReporter {
    fn start(&self, files: usize, bytes: u64) {
        self.files.store(files, Ordering::Relaxed);
        self.bar.set_length(bytes);
        self.bar.set_message(format!("0/{files} files"));
    }

    fn bytes(&self, count: u64) {
        self.bar.inc(count);
    }

    fn file_done(&self, _file: &FileOutcome) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        let files = self.files.load(Ordering::Relaxed);
        self.bar.set_message(format!("{done}/{files} files"));
    }
}

impl Drop for BarReporter {
    fn drop(&mut self) {
        if let Some(ticker) = self.ticker.take() {
            ticker.abort();
        }
        self.bar.finish_and_clear();
    }
}
