//! Command-line arguments (clap derive) and the mapping from outcomes to exit codes.

/// Return a [`UsageError`]: the command line asks for something impossible (exit 2, code `usage`).
macro_rules! usage_error {
    ($($arg:tt)*) => {
        return Err($crate::cli::UsageError(format!($($arg)*)).into())
    };
}

mod abi;
mod args;
mod attach;
mod check;
mod plan;
mod progress;
mod resolve;
mod sbom;
mod serve;
mod verify;

pub use args::TimeoutArg;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

use fave_lock::image::ImageError;
use fave_lock::resolve::ResolveError;

/// Lock the FAVE base image's Python requirements for its exact target.
#[derive(Debug, Parser)]
#[command(name = "fave-lock", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Resolve requirements against the index and write the lock files.
    Resolve(ResolveArgs),
    /// Print an image's build plan (written by `resolve`): JSON, `--build-arg` or `--label` flags.
    Plan(plan::PlanArgs),
    /// Download every file of each image's lock and check it against the lock and the index.
    Verify(verify::VerifyArgs),
    /// Write each image's CycloneDX SBOM (`locks/<image>/sbom.cdx.json`) from its lock.
    Sbom(sbom::SbomArgs),
    /// Is what is committed in `locks/` still right? Exit 0 fresh, 1 stale, 2 error, 3 integrity.
    Check(check::CheckArgs),
    /// Which numpy C API each extension module of a wheel or lock was compiled against.
    Abi(abi::AbiArgs),
    /// Push an image's SBOM to the registry as an OCI artifact referring to the pushed image.
    Attach(attach::AttachArgs),
    /// Serve the tag and digest dashboard, its JSON API and metrics (127.0.0.1:8080 by default).
    Serve(serve::ServeArgs),
}

/// Output format for summaries and reports: the one vocabulary of every command (`check` adds its CI
/// forms). With `json`, stdout carries one JSON document, and an error is one JSON object there too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Lines for people.
    Text,
    /// One JSON document on stdout.
    Json,
}

/// A command line that asks for something impossible; the run ends with exit 2, code `usage`.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

impl Command {
    /// Whether stdout was asked to carry JSON: then an error is written there as JSON too. `raw` are
    /// the arguments as given: `plan` prints JSON by default, and only an explicit `--format json`
    /// turns its errors into JSON (a script reading a plan from stdout never gets an error object
    /// it did not ask for).
    pub fn wants_json(&self, raw: &[std::ffi::OsString]) -> bool {
        match self {
            Command::Resolve(args) => args.format == Format::Json,
            Command::Verify(args) => args.format == Format::Json,
            Command::Abi(args) => args.format == Format::Json,
            Command::Attach(args) => args.format == Format::Json,
            Command::Check(args) => args.format == check::CheckFormat::Json,
            Command::Plan(args) => args.format == plan::PlanFormat::Json && args_want_json(raw),
            Command::Sbom(_) | Command::Serve(_) => false,
        }
    }
}

/// Whether raw command-line arguments ask for `--format json`: for errors found before they parse.
pub fn args_want_json(args: &[std::ffi::OsString]) -> bool {
    args.iter().enumerate().any(|(index, arg)| {
        arg == "--format=json"
            || (arg == "--format" && args.get(index + 1).is_some_and(|next| next == "json"))
    })
}

/// `fave-lock resolve`: without `-r`, every image of `fave-lock.toml`; with `-r`, an ad hoc input using
/// uv's flag names.
#[derive(Debug, Clone, clap::Args)]
pub struct ResolveArgs {
    #[command(flatten)]
    pub config: args::ConfigArg,
    /// Resolve only this image of the config (repeatable).
    #[arg(long = "image", value_name = "NAME")]
    pub images: Vec<String>,
    /// Ad hoc: resolve this requirements file instead of the config's images.
    #[arg(short = 'r', long = "requirement", value_name = "FILE")]
    pub requirement: Option<PathBuf>,
    /// Ad hoc: target Python version (`3.11`).
    #[arg(long, value_name = "X.Y")]
    pub python_version: Option<String>,
    /// Ad hoc: target platform, as uv spells it (`x86_64-manylinux_2_28`); repeat for several.
    #[arg(long = "python-platform", value_name = "PLATFORM")]
    pub python_platforms: Vec<String>,
    /// Ad hoc: a package whose sdist may be used when no wheel fits (repeatable); the default already
    /// allows every one, so this matters only with `--no-build`.
    #[arg(long = "allow-sdist", value_name = "NAME")]
    pub allow_sdist: Vec<String>,
    /// Ad hoc: never use an sdist (by default one is used, as by uv and pip, when no wheel fits: its
    /// metadata read from PEP 643 PKG-INFO or built with its PEP 517 backend).
    #[arg(long)]
    pub no_build: bool,
    /// Ad hoc: `:all:` (as `--no-build`) or a package that must install from a wheel (repeatable).
    #[arg(long = "only-binary", value_name = "NAME|:all:")]
    pub only_binary: Vec<String>,
    /// Ignore files uploaded after this instant (RFC 3339, or a date meaning midnight UTC).
    #[arg(long, value_name = "TIMESTAMP")]
    pub exclude_newer: Option<String>,
    /// Where to write requirements.txt (ad hoc: stdout when absent; `.toml` writes a pylock.toml).
    #[arg(short = 'o', long = "output-file", value_name = "PATH")]
    pub output_file: Option<PathBuf>,
    #[command(flatten)]
    pub index_url: args::IndexUrlArg,
    #[command(flatten)]
    pub cache: args::CacheArgs,
    /// Most index requests in flight.
    #[arg(long, default_value_t = 32, value_name = "N")]
    pub concurrency: usize,
    /// No progress or summary on stderr.
    #[arg(short, long)]
    pub quiet: bool,
    /// Log every index request, sdist build and version the solver tries to stderr, with timings (also
    /// when `RUST_LOG` is set): where a slow run's time goes.
    #[arg(short, long)]
    pub verbose: bool,
    /// Summary format on stdout.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// When the input cannot be resolved, write the checked fixes into it (keeping its comments), then
    /// resolve again.
    #[arg(long)]
    pub apply_fixes: bool,
    /// Seconds the diagnosis of an unresolvable input may take (default: the larger of 10 and three
    /// times the failed resolve; 0: no limit). When it runs out, the problems found so far are
    /// reported, and the report says what was not checked.
    #[arg(long, value_name = "SECONDS")]
    pub diagnose_timeout: Option<f64>,
    /// Skip the numpy ABI check, which otherwise runs whenever the lock installs numpy ≥ 2: it scans the
    /// extension modules of every wheel that depends on numpy for ones built against numpy 1.x headers.
    #[arg(long)]
    pub no_check_abi: bool,
    /// Download and check every file of the new lock (as `fave-lock verify` does) before writing it; any
    /// finding leaves the previous lock files untouched. The default for the config's images; with `-r`,
    /// only files the index gives no hash for are downloaded (and hashed) unless this is given.
    #[arg(long)]
    pub verify: bool,
    /// Write the config's locks without downloading their files: the index's hashes are trusted as
    /// they are. (A file the index lists without a hash is still never written hashless.)
    #[arg(long, conflicts_with = "verify")]
    pub no_verify: bool,
    /// Stamp the SBOM's `metadata.timestamp` (RFC 3339, or `now`); without it the SBOM is byte-identical
    /// run to run.
    #[arg(long, value_name = "TIMESTAMP")]
    pub sbom_timestamp: Option<String>,
    #[command(flatten)]
    pub timeout: TimeoutArg,
}

/// The one exit-code convention of every fave-lock command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Success, or fresh.
    Success,
    /// A finding the user must act on: unsatisfiable, stale.
    Finding,
    /// Usage, config, I/O or network error.
    Error,
    /// Integrity failure: a hash that does not match.
    Integrity,
}

impl ExitStatus {
    /// The process's exit code.
    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Finding => 1,
            ExitStatus::Error => 2,
            ExitStatus::Integrity => 3,
        }
    }
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> ExitCode {
        ExitCode::from(status.code())
    }
}

/// Run the command within its `--timeout`, if it has one.
/// Debug events of this crate (index requests, builds, solver steps) on stderr, timed from the start;
/// other crates' events stay off, so the log reads as what fave-lock did.
pub fn init_debug_log() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let events = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_timer(tracing_subscriber::fmt::time::uptime())
        .with_target(false);
    let only_ours =
        tracing_subscriber::filter::Targets::new().with_target("fave_lock", tracing::Level::DEBUG);
    let _ = tracing_subscriber::registry()
        .with(events)
        .with(only_ours)
        .try_init();
}

pub async fn run(cli: Cli, json: bool) -> anyhow::Result<ExitStatus> {
    let limit = match &cli.command {
        Command::Resolve(args) => args.timeout.limit(),
        Command::Verify(args) => args.timeout.limit(),
        Command::Sbom(args) => args.timeout.limit(),
        Command::Check(args) => args.timeout.limit(),
        Command::Abi(args) => args.timeout.limit(),
        Command::Plan(_) | Command::Serve(_) | Command::Attach(_) => None,
    };
    let command = run_command(cli.command);
    let Some(limit) = limit else {
        return command.await;
    };
    let mut command = std::pin::pin!(command);
    tokio::select! {
        outcome = &mut command => outcome,
        () = tokio::time::sleep(limit) => {
            // Read what is in flight while the command (whose requests deregister when dropped) lives,
            // then exit without dropping it or shutting the runtime down: the resolver's threads may be
            // blocked on requests, and a shutdown would wait for them or make their timers panic.
            // Nothing is half-written: the command runs in this task, so it is between two polls now,
            // and it stages and renames its outputs within one poll.
            let message = timed_out(limit);
            if json {
                println!("{}", error_json("timeout", &message, &[], ExitStatus::Error));
            }
            eprintln!("error: {message}");
            std::process::exit(ExitStatus::Error.code().into());
        }
    }
}

/// The error of a run that hit `--timeout`: what it was still waiting for.
fn timed_out(limit: Duration) -> String {
    let mut message = format!(
        "gave up after {} s (--timeout, FAVE_LOCK_TIMEOUT); nothing was written",
        limit.as_secs()
    );
    let waiting = fave_lock::index::requests_in_flight();
    if waiting.is_empty() {
        message.push_str("; no index request was in flight");
    } else {
        message.push_str(". Still waiting for:");
        for request in &waiting {
            message.push_str(&format!("\n  {request}"));
        }
    }
    message
}

async fn run_command(command: Command) -> anyhow::Result<ExitStatus> {
    match command {
        Command::Resolve(args) => resolve::run(args).await,
        Command::Plan(args) => plan::run(&args),
        Command::Verify(args) => verify::run(args).await,
        Command::Sbom(args) => sbom::run(args).await,
        Command::Serve(args) => serve::run(args).await,
        Command::Check(args) => check::run(args).await,
        Command::Abi(args) => abi::run(args).await,
        Command::Attach(args) => attach::run(&args).await,
    }
}

/// The config's images named on the command line (all of them when none is), or an error listing the
/// images there are.
pub fn selected_images<'a>(
    config: &'a fave_lock::config::Config,
    names: &[String],
) -> anyhow::Result<Vec<&'a fave_lock::config::ImageConfig>> {
    Ok(config.select_images(names)?)
}

/// The exit status an error maps to.
pub fn exit_status_of(err: &anyhow::Error) -> ExitStatus {
    use fave_lock::abi::AbiError;
    use fave_lock::diagnose::AbiDiagnoseError;
    // The pipeline's image errors carry the same exit classes as the image's own.
    let image_error = err.downcast_ref::<ImageError>().or_else(|| {
        match err.downcast_ref::<fave_lock::pipeline::PipelineError>() {
            Some(fave_lock::pipeline::PipelineError::Image(error)) => Some(error),
            _ => None,
        }
    });
    match image_error {
        Some(ImageError::Resolve(ResolveError::NoSolution(_))) => ExitStatus::Finding,
        Some(ImageError::MissingHash { .. }) => ExitStatus::Integrity,
        Some(ImageError::Apt { source, .. }) if source.is_integrity() => ExitStatus::Integrity,
        Some(ImageError::Sbom(source)) if source.is_integrity() => ExitStatus::Integrity,
        Some(ImageError::Abi {
            source: AbiDiagnoseError::Abi(AbiError::HashMismatch { .. }),
            ..
        }) => ExitStatus::Integrity,
        _ if matches!(
            err.downcast_ref::<AbiError>(),
            Some(AbiError::HashMismatch { .. })
        ) =>
        {
            ExitStatus::Integrity
        }
        _ if err
            .downcast_ref::<fave_lock::check::CheckError>()
            .is_some_and(fave_lock::check::CheckError::is_integrity) =>
        {
            ExitStatus::Integrity
        }
        _ if attach::is_integrity(err) => ExitStatus::Integrity,
        _ if err
            .downcast_ref::<fave_lock::sbom::SbomError>()
            .is_some_and(fave_lock::sbom::SbomError::is_integrity) =>
        {
            ExitStatus::Integrity
        }
        _ if err.downcast_ref::<UsageError>().is_some() => ExitStatus::Error,
        _ if matches!(
            err.downcast_ref::<fave_lock::plan::PlanError>(),
            Some(fave_lock::plan::PlanError::LockMismatch { .. })
        ) =>
        {
            ExitStatus::Integrity
        }
        _ => ExitStatus::Error,
    }
}

/// What kind of error ended the run, for scripts: `usage`, `config`, `input`, `index`, `registry`,
/// `io`, `unresolvable`, `integrity`, or `error` for the rest.
pub fn error_code(err: &anyhow::Error, status: ExitStatus) -> &'static str {
    match status {
        ExitStatus::Finding => return "unresolvable",
        ExitStatus::Integrity => return "integrity",
        ExitStatus::Success | ExitStatus::Error => {}
    }
    for cause in err.chain() {
        if cause.is::<UsageError>() {
            return "usage";
        }
        if cause.is::<fave_lock::config::ConfigError>() {
            return "config";
        }
        if cause.is::<fave_lock::requirements::RequirementsError>()
            || cause.is::<fave_lock::lock::LockReadError>()
        {
            return "input";
        }
        if cause.is::<fave_lock::index::IndexError>() {
            return "index";
        }
        if cause.is::<fave_lock::registry::RegistryError>() {
            return "registry";
        }
        if cause.is::<std::io::Error>() || cause.is::<fave_lock::fs::WriteError>() {
            return "io";
        }
    }
    "error"
}

/// An error as the one JSON object a `--format json` run writes to stdout.
pub fn error_json(code: &str, message: &str, causes: &[String], status: ExitStatus) -> String {
    let class = match status {
        ExitStatus::Success => "success",
        ExitStatus::Finding => "finding",
        ExitStatus::Error => "error",
        ExitStatus::Integrity => "integrity",
    };
    serde_json::json!({
        "error": {
            "code": code,
            "message": message,
            "causes": causes,
            "class": class,
            "exit": status.code(),
        }
    })
    .to_string()
}

/// [`error_json`] of an error that ended the run.
pub fn render_error_json(err: &anyhow::Error, status: ExitStatus) -> String {
    let causes: Vec<String> = err.chain().skip(1).map(ToString::to_string).collect();
    error_json(error_code(err, status), &err.to_string(), &causes, status)
}

/// The error and its causes, one per line.
pub fn render_error(err: &anyhow::Error) -> String {
    let mut text = err.to_string();
    for cause in err.chain().skip(1) {
        text.push_str(&format!("\n  caused by: {cause}"));
    }
    text
}
