//! `fave-lock serve`: read the config, build the registry client, the lock check and the server state,
//! bind, and serve until Ctrl-C or SIGTERM. Logs are JSON lines on stderr (tracing), one per event.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::ValueEnum;

use fave_lock::config::Config;
use fave_lock::registry::{CredentialStore, RegistryClient, RegistryOptions, Repository};
use fave_lock::server::{
    AppState, CheckService, CheckSettings, ConnectionLimits, MIN_HEADER_BYTES, ServeSettings,
    ServedImage,
};

use super::ExitStatus;

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable lines.
    Text,
}

/// `fave-lock serve`: the tag and digest dashboard, its JSON API and metrics.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub config: super::args::ConfigArg,
    /// Address to listen on. Port 0 picks a free port (the `listening` log line names it).
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "HOST:PORT")]
    pub addr: SocketAddr,
    /// Add an image, or override a configured image's registry repository (repeatable).
    #[arg(long = "image", value_name = "NAME=HOST[:PORT]/REPO")]
    pub images: Vec<String>,
    /// Allow plain http to this registry although it is not on loopback (repeatable).
    #[arg(long = "insecure-registry", value_name = "HOST[:PORT]")]
    pub insecure_registries: Vec<String>,
    /// Seconds a registry view (tag list, tag digests) is served before it is refreshed, in the
    /// background. Each refresh asks the registry for every tag's manifest again.
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    pub refresh: u64,
    /// Seconds a lock check result (`/api/check`, the dashboard's badges) is served before the next
    /// request runs the check again; each run asks the index for every locked project's page.
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    pub check_ttl: u64,
    /// Skip the lock check's registry checks (base drift, published image not rebuilt), e.g. when the
    /// registry is out of reach: its failure fails the whole check, as for `fave-lock check`.
    #[arg(long)]
    pub check_no_registry: bool,
    // The lock check's index and cache, as for `check`.
    #[command(flatten)]
    pub index_url: super::args::IndexUrlArg,
    #[command(flatten)]
    pub cache_dir: super::args::CacheDirArg,
    /// Most registry requests in flight.
    #[arg(long, default_value_t = 16, value_name = "N")]
    pub registry_concurrency: usize,
    /// Most client connections served at once; one more is answered 503 and closed. Lowered (with a
    /// warning) when the open-file limit cannot fit it.
    #[arg(long, default_value_t = 1024, value_name = "N")]
    pub max_connections: usize,
    /// Seconds a client has to send a request's head (request line and headers), counted from when
    /// the connection waits for it: slow clients (slowloris) are cut off.
    #[arg(long, default_value_t = 10, value_name = "SECONDS")]
    pub header_timeout: u64,
    /// Seconds a kept-alive connection may wait for its next request before it is closed.
    #[arg(long, default_value_t = 5, value_name = "SECONDS")]
    pub idle_timeout: u64,
    /// Seconds an answer may wait for a client that does not read it before it is abandoned.
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    pub send_timeout: u64,
    /// Largest request head in bytes (answered 431 past it); at least 8192.
    #[arg(long, default_value_t = 16 * 1024, value_name = "BYTES")]
    pub max_header_bytes: usize,
    /// Largest request body in bytes (answered 413 past it; every route is a GET).
    #[arg(long, default_value_t = 16 * 1024, value_name = "BYTES")]
    pub max_body_bytes: usize,
    /// Log format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Json)]
    pub log_format: LogFormat,
    /// Log every request (debug level), not only startup, snapshots and errors.
    #[arg(long)]
    pub verbose: bool,
}

pub async fn run(args: ServeArgs) -> anyhow::Result<ExitStatus> {
    init_logging(args.log_format, args.verbose);
    let (config, images, mut insecure) = served_images(&args)?;
    insecure.extend(args.insecure_registries.iter().cloned());
    let credentials = CredentialStore::from_environment();
    for warning in &credentials.warnings {
        tracing::warn!(%warning, "registry credentials");
    }
    let registry = RegistryClient::new(RegistryOptions {
        concurrency: args.registry_concurrency,
        tag_ttl: Duration::from_secs(args.refresh.max(1)),
        insecure,
        credentials,
        ..RegistryOptions::default()
    })
    .context("cannot set up the registry client")?;
    let settings = ServeSettings {
        refresh: Duration::from_secs(args.refresh.max(1)),
        limits: connection_limits(&args)?,
        ..ServeSettings::default()
    };
    for image in &images {
        tracing::info!(
            image = %image.name,
            repository = image.repository.as_ref().map(ToString::to_string),
            lock = %image.lock_dir.display(),
            "serving image"
        );
    }
    let check = config
        .map(|config| {
            CheckService::new(
                config,
                CheckSettings {
                    index_url: args.index_url.url.clone(),
                    cache_dir: args.cache_dir.dir(),
                    ttl: Duration::from_secs(args.check_ttl),
                    registry: !args.check_no_registry,
                },
            )
        })
        .transpose()
        .context("cannot set up the lock check")?;
    if check.is_none() {
        tracing::warn!("no config: the lock check (/api/check) is off");
    }
    let state = AppState::new(images, registry, check, settings);
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    let addr = listener
        .local_addr()
        .context("cannot read the bound address")?;
    if !addr.ip().is_loopback() {
        tracing::warn!(%addr, "listening on a non-loopback address: the dashboard has no authentication");
    }
    tracing::info!(%addr, url = %format!("http://{addr}/"), "listening");
    fave_lock::server::serve(listener, state, shutdown_signal())
        .await
        .context("the server stopped")?;
    tracing::info!("stopped");
    Ok(ExitStatus::Success)
}

/// The connection limits from the command line, checked; the connection cap fitted to the open-file
/// limit.
fn connection_limits(args: &ServeArgs) -> anyhow::Result<ConnectionLimits> {
    for (flag, seconds) in [
        ("--header-timeout", args.header_timeout),
        ("--idle-timeout", args.idle_timeout),
        ("--send-timeout", args.send_timeout),
    ] {
        if seconds == 0 {
            usage_error!("`{flag} 0`: a timeout must be at least 1 second");
        }
    }
    if args.max_connections == 0 {
        usage_error!("`--max-connections 0`: the server must accept at least one connection");
    }
    if args.max_header_bytes < MIN_HEADER_BYTES {
        usage_error!(
            "`--max-header-bytes {}`: must be at least {MIN_HEADER_BYTES} (the HTTP parser's smallest buffer)",
            args.max_header_bytes
        );
    }
    Ok(ConnectionLimits {
        max_connections: connection_budget(args.max_connections),
        header_timeout: Duration::from_secs(args.header_timeout),
        idle_timeout: Duration::from_secs(args.idle_timeout),
        send_timeout: Duration::from_secs(args.send_timeout),
        max_header_bytes: args.max_header_bytes,
        max_body_bytes: args.max_body_bytes,
    })
}

/// File descriptors kept for everything but served connections: refused connections (at most 64 at
/// a time), registry and index sockets, lock files read, the listener, stdio.
const RESERVED_FDS: u64 = 256;

/// `wanted` connections if the open-file limit fits them, raising the soft limit towards the hard one
/// when it does not (the soft limit is often 1024); else as many as fit, with a warning. Without this
/// the accept loop would meet EMFILE before the cap, and accepted connections could not be answered.
fn connection_budget(wanted: usize) -> usize {
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes one `rlimit` through a valid pointer.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
            return wanted;
        }
        let needed = u64::try_from(wanted)
            .unwrap_or(u64::MAX)
            .saturating_add(RESERVED_FDS);
        if limit.rlim_cur < needed {
            let raised = libc::rlimit {
                rlim_cur: needed.min(limit.rlim_max),
                rlim_max: limit.rlim_max,
            };
            // SAFETY: setrlimit reads one `rlimit` through a valid pointer; a soft limit up to the
            // hard one is always allowed.
            if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
                limit.rlim_cur = raised.rlim_cur;
            }
        }
        let fits =
            usize::try_from(limit.rlim_cur.saturating_sub(RESERVED_FDS)).unwrap_or(usize::MAX);
        if fits < wanted {
            let cap = fits.max(1);
            tracing::warn!(
                wanted,
                cap,
                open_files = limit.rlim_cur,
                "the open-file limit fits fewer connections than --max-connections: capped"
            );
            return cap;
        }
    }
    wanted
}

/// The config (when there is one), the images to show: the config's, then `--image` overrides and
/// additions; and the registries the config declares `registry-insecure`.
fn served_images(
    args: &ServeArgs,
) -> anyhow::Result<(Option<Config>, Vec<ServedImage>, Vec<String>)> {
    let mut images = Vec::new();
    let mut insecure = Vec::new();
    let mut loaded = None;
    let root = if args.config.path.exists() || args.images.is_empty() {
        let config = fave_lock::config::load(&args.config.path)?;
        for image in &config.images {
            let repository = image
                .registry
                .as_deref()
                .map(|text| {
                    text.parse::<Repository>()
                        .map_err(anyhow::Error::msg)
                        .with_context(|| {
                            format!("image `{}` in `{}`", image.name, args.config.path.display())
                        })
                })
                .transpose()?;
            if image.registry_insecure
                && let Some(repository) = &repository
            {
                insecure.push(repository.registry().to_string());
            }
            images.push(ServedImage {
                name: image.name.clone(),
                repository,
                lock_dir: config.root.join(&image.output),
                lock_dir_display: image.output.display().to_string(),
            });
        }
        let root = config.root.clone();
        loaded = Some(config);
        root
    } else {
        PathBuf::from(".")
    };
    for value in &args.images {
        let (name, repository) = parse_image_override(value)?;
        match images.iter_mut().find(|image| image.name == name) {
            Some(image) => image.repository = Some(repository),
            None => images.push(new_image(&root, name, repository)),
        }
    }
    Ok((loaded, images, insecure))
}

fn new_image(root: &Path, name: String, repository: Repository) -> ServedImage {
    let output = Path::new("locks").join(&name);
    ServedImage {
        lock_dir: root.join(&output),
        lock_dir_display: output.display().to_string(),
        name,
        repository: Some(repository),
    }
}

/// `NAME=HOST[:PORT]/REPO`.
fn parse_image_override(value: &str) -> anyhow::Result<(String, Repository)> {
    let Some((name, repository)) = value.split_once('=') else {
        usage_error!(
            "`--image {value}`: expected NAME=HOST[:PORT]/REPO, like fave-base=127.0.0.1:5000/fave-base"
        );
    };
    let name_ok = name
        .bytes()
        .next()
        .is_some_and(|first| first.is_ascii_lowercase() || first.is_ascii_digit())
        && name.bytes().all(|byte| {
            byte.is_ascii_lowercase() || byte.is_ascii_digit() || matches!(byte, b'.' | b'_' | b'-')
        });
    if !name_ok {
        usage_error!(
            "`--image {value}`: the image name must be lowercase letters, digits, `.`, `_` or `-`"
        );
    }
    let repository = repository
        .parse::<Repository>()
        .map_err(|message| anyhow::anyhow!("`--image {value}`: {message}"))?;
    Ok((name.to_string(), repository))
}

fn init_logging(format: LogFormat, verbose: bool) {
    let level = if verbose {
        tracing::Level::DEBUG
    } else {
        tracing::Level::INFO
    };
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_target(false);
    // A second initialisation (tests calling `run` twice) keeps the first subscriber.
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Ctrl-C, or SIGTERM on Unix.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Command {
        #[command(flatten)]
        serve: ServeArgs,
    }

    fn limits(flags: &[&str]) -> anyhow::Result<ConnectionLimits> {
        let args = Command::try_parse_from(std::iter::once("serve").chain(flags.iter().copied()))?;
        connection_limits(&args.serve)
    }

    #[test]
    fn connection_limit_flags() {
        let defaults = limits(&[]).unwrap();
        assert_eq!(defaults.header_timeout, Duration::from_secs(10));
        assert_eq!(defaults.idle_timeout, Duration::from_secs(5));
        assert_eq!(defaults.max_header_bytes, 16 * 1024);
        // The test runner's open-file limit fits 1024 connections (or is raised to).
        assert!(defaults.max_connections >= 1, "{defaults:?}");
        let set = limits(&[
            "--max-connections=7",
            "--header-timeout=3",
            "--send-timeout=4",
            "--max-body-bytes=0",
        ])
        .unwrap();
        assert_eq!(set.max_connections, 7);
        assert_eq!(set.header_timeout, Duration::from_secs(3));
        assert_eq!(set.send_timeout, Duration::from_secs(4));
        assert_eq!(set.max_body_bytes, 0);
        for (flag, message) in [
            (
                "--idle-timeout=0",
                "`--idle-timeout 0`: a timeout must be at least 1 second",
            ),
            (
                "--max-connections=0",
                "`--max-connections 0`: the server must accept",
            ),
            (
                "--max-header-bytes=100",
                "`--max-header-bytes 100`: must be at least 8192",
            ),
        ] {
            let error = limits(&[flag]).unwrap_err().to_string();
            assert!(error.starts_with(message), "{flag}: {error}");
        }
    }

    #[test]
    fn image_overrides() {
        let (name, repository) =
            parse_image_override("fave-base=127.0.0.1:5000/fave-base").unwrap();
        assert_eq!(name, "fave-base");
        assert_eq!(repository.to_string(), "127.0.0.1:5000/fave-base");
        for bad in [
            "fave-base",
            "=a.io/b",
            "Fave=a.io/b",
            "x=fave-base",
            "x=a.io/B",
        ] {
            assert!(parse_image_override(bad).is_err(), "{bad}");
        }
    }
}
