//! The argument groups several commands share, declared once and flattened into each command
//! (`#[command(flatten)]`), so a flag has one name, one meaning and one help text everywhere; and the
//! one place where the command line becomes an index client.

use std::path::{Path, PathBuf};
use std::time::Duration;

use fave_lock::config::{self, Config};
use fave_lock::image::config_path;
use fave_lock::index::{IndexClient, IndexError, IndexSettings, default_cache_dir};
use fave_lock::plan::PlanSettings;

/// `--config`: every command reads its images from this file.
#[derive(Debug, Clone, clap::Args)]
pub struct ConfigArg {
    /// The config file (`serve` runs without one when `--image` names every image to show; `abi`
    /// reads it only when no path is given).
    #[arg(long = "config", default_value = "fave-lock.toml", value_name = "PATH")]
    pub path: PathBuf,
}

/// `--index-url`, for the commands that resolve or compare with a resolve (`resolve`, `check`, `serve`);
/// the others ask the index their lock names.
#[derive(Debug, Clone, clap::Args)]
pub struct IndexUrlArg {
    /// The package index's simple API (default: the config's `index-url`, else PyPI; it is part of the
    /// input hash).
    #[arg(
        id = "index_url",
        long = "index-url",
        env = "FAVE_LOCK_INDEX_URL",
        value_name = "URL"
    )]
    pub url: Option<String>,
}

/// `--cache-dir`.
#[derive(Debug, Clone, clap::Args)]
pub struct CacheDirArg {
    /// Cache folder (index pages, metadata, wheels in `wheels-v1/`, ABI results in `abi-v1/`).
    #[arg(
        id = "cache_dir",
        long = "cache-dir",
        env = "FAVE_LOCK_CACHE_DIR",
        value_name = "PATH"
    )]
    pub path: Option<PathBuf>,
}

impl CacheDirArg {
    /// The folder: the flag, else the default (`$XDG_CACHE_HOME/fave-lock`).
    pub fn dir(&self) -> PathBuf {
        self.path.clone().unwrap_or_else(default_cache_dir)
    }
}

/// How far the cache is trusted: every command that reads index pages or downloads files.
#[derive(Debug, Clone, clap::Args)]
pub struct CacheArgs {
    #[command(flatten)]
    pub cache_dir: CacheDirArg,
    /// Use only the caches; never ask the network. What they lack is an error, except that `abi`
    /// reports such wheels as not checked and `check` runs only its local checks.
    #[arg(long)]
    pub offline: bool,
    /// Fetch every project page again, ignoring the page cache.
    #[arg(long, conflicts_with = "offline")]
    pub refresh: bool,
    /// How long a cached project page counts as fresh, in seconds (default 600; `check`: 0, it asks the
    /// index, since freshness is its question).
    #[arg(long, value_name = "SECONDS")]
    pub cache_ttl: Option<u64>,
}

/// The page TTL of a command that does not say otherwise.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(600);

impl CacheArgs {
    /// The cache folder.
    pub fn dir(&self) -> PathBuf {
        self.cache_dir.dir()
    }

    /// The index client of a command: these cache settings, `index_url`, at most `concurrency`
    /// requests in flight, pages cached for `--cache-ttl` or else `default_ttl`.
    pub fn index_client(
        &self,
        index_url: String,
        concurrency: usize,
        default_ttl: Duration,
    ) -> Result<IndexClient, IndexError> {
        IndexClient::new(IndexSettings {
            index_url,
            cache_dir: self.dir(),
            offline: self.offline,
            refresh: self.refresh,
            page_ttl: self.cache_ttl.map_or(default_ttl, Duration::from_secs),
            concurrency: concurrency.max(1),
        })
    }
}

/// A lock a command reads, and the plan settings of the config's image that writes it (`None`: no image
/// of the config does, or it builds nothing).
#[derive(Debug)]
pub struct SelectedLock {
    pub path: PathBuf,
    pub plan: Option<PlanSettings>,
}

/// The locks a command reads: the `locks` given (`--lock`), else the `pylock.toml` of the config's
/// images named in `images` (all when none is; an unknown name is an error listing the known ones).
/// A given lock that one of the config's images writes gets that image's plan settings; without a
/// readable config it has none.
pub fn select_locks(
    config_file: &Path,
    images: &[String],
    locks: &[PathBuf],
) -> anyhow::Result<Vec<SelectedLock>> {
    if !locks.is_empty() {
        let config = config::load(config_file).ok();
        return Ok(locks
            .iter()
            .map(|lock| SelectedLock {
                path: lock.clone(),
                plan: config.as_ref().and_then(|config| plan_of(config, lock)),
            })
            .collect());
    }
    let config = config::load(config_file)?;
    Ok(config
        .select_images(images)?
        .into_iter()
        .map(|image| SelectedLock {
            path: config_path(&config, &image.output).join("pylock.toml"),
            plan: PlanSettings::from_config(&config, image),
        })
        .collect())
}

/// The plan settings of the config's image whose lock is `lock`.
fn plan_of(config: &Config, lock: &Path) -> Option<PlanSettings> {
    config.images.iter().find_map(|image| {
        let path = config_path(config, &image.output).join("pylock.toml");
        is_same_file(&path, lock)
            .then(|| PlanSettings::from_config(config, image))
            .flatten()
    })
}

/// Whether two paths name the same file (as written when either does not exist yet).
pub fn is_same_file(one: &Path, other: &Path) -> bool {
    match (one.canonicalize(), other.canonicalize()) {
        (Ok(one), Ok(other)) => one == other,
        _ => one == other,
    }
}

/// `--timeout`, for every command that talks to the index: one deadline for the whole run, so that no
/// index, proxy or registry can keep CI waiting. Each request has its own, shorter deadlines besides
/// (`FAVE_LOCK_HTTP_TIMEOUT`, `FAVE_LOCK_LOW_SPEED_LIMIT`, `FAVE_LOCK_LOW_SPEED_TIME`).
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct TimeoutArg {
    /// Give up the whole run after this many seconds (0: never), naming the requests still unanswered;
    /// nothing is written.
    #[arg(
        long = "timeout",
        env = "FAVE_LOCK_TIMEOUT",
        default_value_t = 600,
        value_name = "SECONDS"
    )]
    pub seconds: u64,
}

impl TimeoutArg {
    pub fn limit(self) -> Option<Duration> {
        (self.seconds > 0).then(|| Duration::from_secs(self.seconds))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_file() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fave-lock.toml")
    }

    /// Every command's flags fit together (clap checks ids, conflicts and defaults only when asked).
    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        super::super::Cli::command().debug_assert();
    }

    /// `abi`, `verify` and `sbom` read the same locks for the same names (`abi` ignored `--image`).
    #[test]
    fn named_images_select_their_locks() {
        let all = select_locks(&config_file(), &[], &[]).unwrap();
        assert!(all.len() > 1);
        let one = select_locks(&config_file(), &["fave-vad".to_string()], &[]).unwrap();
        assert_eq!(one.len(), 1);
        assert!(one[0].path.ends_with("locks/fave-vad/pylock.toml"));
        let unknown = select_locks(&config_file(), &["nope".to_string()], &[]).unwrap_err();
        assert!(unknown.to_string().contains("fave-vad"), "{unknown}");
    }

    /// A lock given by path keeps the plan of the image that writes it; any other has none.
    #[test]
    fn a_given_lock_finds_its_image() {
        let written = select_locks(&config_file(), &[], &[one_lock("fave-vad")]).unwrap();
        assert_eq!(written[0].plan.as_ref().unwrap().image, "fave-vad");
        let elsewhere = std::env::temp_dir().join("pylock.toml");
        let other = select_locks(&config_file(), &[], &[elsewhere]).unwrap();
        assert!(other[0].plan.is_none());
    }

    fn one_lock(image: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("locks")
            .join(image)
            .join("pylock.toml")
    }
}
