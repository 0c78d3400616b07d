//! Build requirements resolved to wheels by fave-lock's own resolver and fetched through its own
//! client and wheel cache, as uv does: for the build interpreter itself (its `X.Y.Z`, this machine's
//! architecture and glibc), from the run's index, with the run's `--exclude-newer` (uv's
//! `BuildDispatch` resolves build requirements with the same exclude-newer as the main resolution).
//!
//! Only wheels: an sdist among the build requirements would need a build of its own, whose build
//! requirements could need another, without end. Such a set, or one the resolver cannot solve, is
//! handed to pip instead, as before (see `env.rs`).

use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use jiff::Timestamp;

use super::build::Host;
use crate::index::{DistFile, IndexClient};
use crate::requirements::pep508::parse_index_requirement;
use crate::requirements::{InputRequirement, Location, RequirementsInput};
use crate::resolve::{ResolveOptions, Resolver, SdistPolicy, Target};
use crate::verify::{CachedDownloadError, Lookup, WheelCache};

/// Why a set of build requirements is not installable from wheels by fave-lock: pip is asked instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct NotWheelsOnly(pub String);

/// What [`resolve`] returns: a boxed future of a type named here, not an opaque one. A resolve may
/// read an sdist's metadata, which may make a build environment, which resolves: refusing sdists stops
/// that at run time, and this type stops it at compile time (the compiler cannot prove an opaque future
/// `Send` when it contains itself).
pub(super) type Resolving<'a> =
    Pin<Box<dyn Future<Output = Result<Vec<DistFile>, NotWheelsOnly>> + Send + 'a>>;

/// The wheels to install for `requirements` on `host`: one per package, as the resolver chose them,
/// sorted by name.
pub(super) fn resolve<'a>(
    client: &'a Arc<IndexClient>,
    host: &'a Host,
    exclude_newer: Option<Timestamp>,
    requirements: &'a [String],
) -> Resolving<'a> {
    Box::pin(async move {
        let input = input(requirements)?;
        let target = Target::with_full_version(
            host.platform.oci(),
            host.python,
            host.platform,
            host.full_version.clone(),
        );
        let options = ResolveOptions {
            exclude_newer,
            // No sdist: see the module's comment.
            allow_sdist: SdistPolicy::default(),
            ..ResolveOptions::default()
        };
        let resolver = Resolver::new(client.clone(), vec![target], options);
        let resolution = resolver
            .resolve(&input)
            .await
            .map_err(|error| NotWheelsOnly(first_line(&error.to_string())))?;
        let files: Vec<DistFile> = resolution
            .targets
            .into_iter()
            .flat_map(|target| target.packages.into_values())
            .map(|package| package.file)
            .collect();
        if let Some(sdist) = files.iter().find(|file| super::is_sdist(&file.filename)) {
            return Err(NotWheelsOnly(format!("`{}` is an sdist", sdist.filename)));
        }
        Ok(files)
    })
}

/// The build requirements as a resolver input, each at its place in `requires`.
fn input(requirements: &[String]) -> Result<RequirementsInput, NotWheelsOnly> {
    let mut input = RequirementsInput::default();
    for (index, text) in requirements.iter().enumerate() {
        let requirement = parse_index_requirement(text)
            .map_err(|error| NotWheelsOnly(format!("`{text}` does not parse: {error}")))?;
        if matches!(
            requirement.version_or_url,
            Some(pep508_rs::VersionOrUrl::Url(_))
        ) {
            return Err(NotWheelsOnly(format!("`{text}` is a direct URL")));
        }
        input.requirements.push(InputRequirement {
            requirement,
            location: Location {
                path: PathBuf::from("[build-system] requires"),
                line: index + 1,
            },
            text: text.clone(),
            hashes: Vec::new(),
        });
    }
    Ok(input)
}

/// The resolver's report can run to many lines; the build log gets its first.
fn first_line(text: &str) -> String {
    let mut lines = text.lines().filter(|line| !line.trim().is_empty());
    let first = lines.next().unwrap_or_default().trim().to_string();
    if lines.next().is_some() {
        format!("{first} …")
    } else {
        first
    }
}

/// The wheel `file` on disk: from the wheel cache (`<cache>/wheels-v1`, which `verify` fills too),
/// else downloaded, checked against the index's sha256, and stored there.
pub(super) async fn fetch(
    client: &IndexClient,
    file: &DistFile,
) -> Result<PathBuf, CachedDownloadError> {
    let cache = WheelCache::new(&client.settings().cache_dir);
    if let Some(sha256) = &file.sha256
        // Without re-hashing a lookup is one `stat`.
        && let Lookup::Hit(path) = cache.lookup(sha256, file.size, false)?
    {
        return Ok(path);
    }
    let (path, _len) = cache.download(client, file, file.sha256.as_deref()).await?;
    Ok(path)
}

/// `name==version` of each file, for the build log.
pub(super) fn pins(files: &[DistFile]) -> String {
    let names: Vec<&str> = files.iter().map(|file| file.filename.as_str()).collect();
    names.join(" ")
}
