//! `fave-lock abi WHEEL|LOCK…`: which numpy C API each extension module was compiled against, for
//! anyone debugging a `numpy.dtype size changed` ImportError, and the lock-wide check with its problems.

use std::path::{Path, PathBuf};

use anyhow::Context;

use fave_lock::abi::{self, AbiOptions, AbiReport, ModuleAbi, ModuleClass};
use fave_lock::lock::read_pylock;

use super::args::{DEFAULT_CACHE_TTL, select_locks};
use super::{ExitStatus, Format};

#[derive(Debug, clap::Args)]
pub struct AbiArgs {
    /// Wheel files (`.whl`), lock files (`pylock.toml`) or lock folders (`locks/fave-base`); default:
    /// the lock of every image of the config.
    #[arg(value_name = "WHEEL|LOCK")]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub config: super::args::ConfigArg,
    /// Only this image of the config, when no path is given (repeatable; default: all).
    #[arg(long = "image", value_name = "NAME", conflicts_with = "paths")]
    pub images: Vec<String>,
    /// One line per wheel with its module counts, instead of one line per module.
    #[arg(long)]
    pub summary: bool,
    /// Scan again instead of using cached results.
    #[arg(long)]
    pub no_cache: bool,
    #[command(flatten)]
    pub cache: super::args::CacheArgs,
    /// Most downloads in flight.
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub concurrency: usize,
    /// Report format on stdout.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    #[command(flatten)]
    pub timeout: super::TimeoutArg,
}

pub async fn run(args: AbiArgs) -> anyhow::Result<ExitStatus> {
    let mut options = AbiOptions::new(&args.cache.dir());
    options.use_cache = !args.no_cache;
    options.offline = args.cache.offline;
    options.concurrency = args.concurrency.max(1);
    let mut status = ExitStatus::Success;
    let mut json = Vec::new();
    for path in targets(&args)? {
        if is_wheel(&path) {
            let modules = scan_wheel(&path, options.threads).await?;
            match args.format {
                Format::Text => print_wheel(&path.display().to_string(), &modules, args.summary),
                Format::Json => json.push(serde_json::json!({
                    "wheel": path.display().to_string(),
                    "modules": modules,
                })),
            }
            continue;
        }
        let lock_path = if path.is_dir() {
            path.join("pylock.toml")
        } else {
            path.clone()
        };
        let lock = read_pylock(&lock_path)?;
        let client = args.cache.index_client(
            lock.context.index_url.clone(),
            options.concurrency,
            DEFAULT_CACHE_TTL,
        )?;
        let report = abi::check_lock(&client, &lock, &options)
            .await
            .with_context(|| format!("checking the numpy ABI of {}", lock_path.display()))?;
        // A problem is a finding; a wheel that could not be read leaves the question open.
        if !report.problems.is_empty() {
            status = ExitStatus::Finding;
        } else if report.unchecked().next().is_some() && status == ExitStatus::Success {
            status = ExitStatus::Error;
        }
        match args.format {
            Format::Text => print_report(&lock_path, &report, args.summary),
            Format::Json => json.push(report_json(&lock_path, &report)),
        }
    }
    if args.format == Format::Json {
        println!("{}", serde_json::to_string_pretty(&json)?);
    }
    Ok(status)
}

fn is_wheel(path: &Path) -> bool {
    path.extension()
        .is_some_and(|ext| ext.eq_ignore_ascii_case("whl"))
}

/// The paths given, else the locks of the config's images (all, or those `--image` names).
fn targets(args: &AbiArgs) -> anyhow::Result<Vec<PathBuf>> {
    if !args.paths.is_empty() {
        return Ok(args.paths.clone());
    }
    Ok(select_locks(&args.config.path, &args.images, &[])?
        .into_iter()
        .map(|lock| lock.path)
        .collect())
}

async fn scan_wheel(path: &Path, threads: usize) -> anyhow::Result<Vec<ModuleAbi>> {
    let paths = vec![path.to_path_buf()];
    let mut results = tokio::task::spawn_blocking(move || abi::scan_wheels(&paths, threads))
        .await
        .context("the scan task failed")?;
    Ok(results.remove(0)?)
}

fn print_wheel(name: &str, modules: &[ModuleAbi], summary: bool) {
    if summary || modules.is_empty() {
        println!("{name}: {}", counts_line(modules));
        return;
    }
    println!("{name}:");
    for module in modules {
        println!("  {:<10} {}", module.class.as_str(), module.path);
    }
}

fn counts_line(modules: &[ModuleAbi]) -> String {
    if modules.is_empty() {
        return "no extension modules".to_string();
    }
    ModuleClass::ALL
        .iter()
        .filter_map(|&class| {
            let count = modules.iter().filter(|m| m.class == class).count();
            (count > 0).then(|| format!("{count} {}", class.as_str()))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn print_report(lock_path: &Path, report: &AbiReport, summary: bool) {
    let numpy: Vec<String> = report
        .numpy
        .iter()
        .map(|(oci, version)| format!("{version} on {oci}"))
        .collect();
    println!(
        "{} ({}): numpy {}",
        lock_path.display(),
        report.image,
        if numpy.is_empty() {
            "not locked".to_string()
        } else {
            numpy.join(", ")
        }
    );
    for wheel in &report.wheels {
        match &wheel.error {
            Some(error) => println!("{}: not checked: {error}", wheel.filename),
            None => print_wheel(&wheel.filename, &wheel.modules, summary),
        }
    }
    let counts = report.counts();
    println!("{}", report.summary());
    for problem in &report.problems {
        println!(
            "problem: {} {} ({}) has {} module(s) built against numpy 1.x headers, but the lock installs numpy {} on {}: {}",
            problem.package,
            problem.version,
            problem.filename,
            problem.modules.len(),
            problem.numpy,
            problem.targets.join(", "),
            problem.modules.join(", ")
        );
    }
    let unchecked = report.unchecked().count();
    let v1 = counts.get(&ModuleClass::NumpyV1).copied().unwrap_or(0);
    if !report.problems.is_empty() {
        println!("run `fave-lock resolve` for the checked fixes");
    } else if unchecked > 0 {
        println!(
            "error: {unchecked} wheel{} not checked: the answer is incomplete",
            if unchecked == 1 { " was" } else { "s were" }
        );
    } else if v1 > 0 {
        println!(
            "no numpy ABI problem: the lock's numpy is below 2, which its {v1} module{} built against numpy 1.x headers need{}; numpy 2 would break {}",
            if v1 == 1 { "" } else { "s" },
            if v1 == 1 { "s" } else { "" },
            if v1 == 1 { "it" } else { "them" }
        );
    } else {
        println!("no numpy ABI problem");
    }
}

fn report_json(lock_path: &Path, report: &AbiReport) -> serde_json::Value {
    serde_json::json!({
        "lock": lock_path.display().to_string(),
        "image": report.image,
        "numpy": report.numpy.iter().map(|(oci, v)| (oci.clone(), v.to_string())).collect::<std::collections::BTreeMap<_, _>>(),
        "counts": report.counts_by_name(),
        "wheels": report.wheels,
        "problems": report.problems,
    })
}
