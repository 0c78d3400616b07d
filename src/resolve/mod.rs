//! Resolution: PubGrub over the index, one solver per target platform, all sharing one fetcher so that
//! a page or metadata file is fetched once per run whatever the number of platforms.

mod candidates;
mod fetch;
mod package;
mod prerelease;
mod provider;
mod report;
pub(crate) mod selection_cache;
mod version_table;
mod wording;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use jiff::Timestamp;
use pep440_rs::Version;
use pep508_rs::{ExtraName, MarkerEnvironment, MarkerEnvironmentBuilder, PackageName, Requirement};
use pubgrub::PubGrubError;

pub use candidates::{
    Candidate, Policy, Unusable, VersionMap, cpython_of, python_span, summarize_wheel_tags,
    wheels_only_for,
};
pub use fetch::{InvalidRequirement, requirement_range};
pub use report::{Incompatibility, NoSolution, TargetFailure};
pub use version_table::VersionTable;
pub use wording::range_text;

use crate::index::{CoreMetadata, DistFile, IndexClient, IndexError, ProjectPage, ProjectResponse};
use crate::requirements::{OnlyBinary, RequirementsInput};
use crate::tags::{Platform, PythonVersion, Tags};
use fetch::Fetcher;
use package::PubGrubPackage;
use provider::{Provider, ProviderError};

/// One interpreter and platform to resolve for.
#[derive(Debug, Clone)]
pub struct Target {
    /// OCI platform name (`linux/amd64`), for messages and outputs.
    pub oci: String,
    pub python: PythonVersion,
    pub platform: Platform,
    pub tags: Tags,
    /// The marker environment of the target interpreter.
    pub markers: MarkerEnvironment,
    /// `X.Y.0`: like uv, a target given as `3.11` is checked as its lowest patch release.
    pub python_full: Version,
}

impl Target {
    pub fn new(oci: &str, python: PythonVersion, platform: Platform) -> Target {
        let python_full = Version::new([u64::from(python.major), u64::from(python.minor), 0]);
        Target::with_full_version(oci, python, platform, python_full)
    }

    /// A target whose exact interpreter version is known: a CPython on this machine, for which build
    /// requirements are resolved (uv's build environments use the interpreter's own markers too).
    pub fn with_full_version(
        oci: &str,
        python: PythonVersion,
        platform: Platform,
        python_full: Version,
    ) -> Target {
        let full_text = python_full.to_string();
        let python_short = python.to_string();
        let markers = MarkerEnvironment::try_from(MarkerEnvironmentBuilder {
            implementation_name: "cpython",
            implementation_version: &full_text,
            os_name: "posix",
            platform_machine: platform.arch.machine(),
            platform_python_implementation: "CPython",
            platform_release: "",
            platform_system: "Linux",
            platform_version: "",
            python_full_version: &full_text,
            python_version: &python_short,
            sys_platform: "linux",
        })
        .expect("a parsed version is a valid marker version");
        Target {
            oci: oci.to_string(),
            python,
            platform,
            tags: Tags::new(python, platform),
            markers,
            python_full,
        }
    }
}

/// Resolution settings beyond the requirements and targets.
#[derive(Debug, Clone, Default)]
pub struct ResolveOptions {
    /// Ignore files uploaded after this instant.
    pub exclude_newer: Option<Timestamp>,
    /// Which packages may be locked from an sdist when no wheel fits.
    pub allow_sdist: SdistPolicy,
    /// Choose pre-releases like final releases, for every package (`--pre` in the input).
    pub prereleases: bool,
    /// Per package, the only SHA-256 hashes its chosen file may have (`--hash` in the input; every
    /// line that gives hashes for the package must list the file's).
    pub allowed_hashes: BTreeMap<PackageName, BTreeSet<String>>,
}

impl ResolveOptions {
    /// These options with the input's own policy applied: `--pre`, `--hash` and `--only-binary`
    /// (which takes packages back out of `allow_sdist`).
    #[must_use]
    pub fn with_input(mut self, input: &RequirementsInput) -> ResolveOptions {
        self.prereleases |= input.prereleases;
        for entry in input.requirements.iter().chain(&input.constraints) {
            if entry.hashes.is_empty() {
                continue;
            }
            let hashes: BTreeSet<String> = entry.hashes.iter().cloned().collect();
            self.allowed_hashes
                .entry(entry.requirement.name.clone())
                .and_modify(|allowed| allowed.retain(|hash| hashes.contains(hash)))
                .or_insert(hashes);
        }
        match &input.only_binary {
            OnlyBinary::None => {}
            OnlyBinary::All => self.allow_sdist = SdistPolicy::default(),
            OnlyBinary::Packages(names) => {
                self.allow_sdist
                    .packages
                    .retain(|name| !names.contains(name));
                self.allow_sdist.denied.extend(names.iter().cloned());
            }
        }
        self
    }
}

/// Which packages may be locked from their sdist when no wheel fits the target: uv and pip allow every
/// one (ad hoc runs do too); an image allows those its config names, or all with `allow-sdist = true`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SdistPolicy {
    /// Every package but those `denied`.
    pub all: bool,
    /// These packages, whatever `all` says.
    pub packages: BTreeSet<PackageName>,
    /// Not these (uv's `--only-binary NAME`), when `all`.
    pub denied: BTreeSet<PackageName>,
}

impl SdistPolicy {
    /// Every package may use its sdist.
    pub fn all() -> SdistPolicy {
        SdistPolicy {
            all: true,
            ..SdistPolicy::default()
        }
    }

    /// Only these packages may.
    pub fn only(packages: impl IntoIterator<Item = PackageName>) -> SdistPolicy {
        SdistPolicy {
            packages: packages.into_iter().collect(),
            ..SdistPolicy::default()
        }
    }

    pub fn allows(&self, name: &PackageName) -> bool {
        self.packages.contains(name) || (self.all && !self.denied.contains(name))
    }
}

/// Why a package is in the resolution.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Via {
    /// Named in this input file.
    Input(PathBuf),
    /// Required by this package.
    Package(PackageName),
}

/// One package chosen for one target.
#[derive(Debug, Clone)]
pub struct ResolvedPackage {
    pub name: PackageName,
    pub version: Version,
    /// The file pip installs on this target.
    pub file: DistFile,
    pub metadata: Arc<CoreMetadata>,
    /// Extras of this package that something requires.
    pub extras: BTreeSet<ExtraName>,
    /// Packages it depends on, on this target.
    pub dependencies: BTreeSet<PackageName>,
    pub via: BTreeSet<Via>,
}

/// The packages chosen for one target.
#[derive(Debug, Clone)]
pub struct TargetResolution {
    pub target: Target,
    pub packages: BTreeMap<PackageName, ResolvedPackage>,
}

/// The outcome of resolving an input for every target.
#[derive(Debug, Clone)]
pub struct Resolution {
    pub targets: Vec<TargetResolution>,
    /// Things the user should know that do not stop the lock (a yanked release chosen by an exact pin).
    pub warnings: Vec<String>,
}

/// Why resolving failed.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// The requirements cannot be satisfied on at least one target.
    #[error(transparent)]
    NoSolution(Box<NoSolution>),
    #[error(transparent)]
    Index(Arc<IndexError>),
    #[error("the resolver thread failed: {0}")]
    Internal(String),
    /// The deadline of [`Resolver::with_deadline`] passed before an answer.
    #[error("the time budget ran out before the resolver finished")]
    TimedOut,
}

/// Resolve `input` for every target, concurrently, sharing fetches.
pub async fn resolve(
    client: Arc<IndexClient>,
    input: &RequirementsInput,
    targets: &[Target],
    options: ResolveOptions,
) -> Result<Resolution, ResolveError> {
    Resolver::new(client, targets.to_vec(), options)
        .resolve(input)
        .await
}

/// A resolver for fixed targets whose fetches and release lists are kept across runs, so that trying
/// variants of an input (the diagnosis checks every fix it prints) costs solver time only.
#[derive(Clone)]
pub struct Resolver {
    fetcher: Arc<Fetcher>,
    deadline: Option<std::time::Instant>,
    watcher: Option<Arc<dyn DecisionWatcher>>,
}

/// Hears every release the solver tries, as soon as it lists the release's dependencies, so work that
/// depends on the outcome can start before the resolve ends (the numpy ABI check reads the wheels of
/// packages that depend on numpy). The solver may still backtrack away from the release: a watcher
/// guesses, and must not block (it is called on the solver's thread).
pub trait DecisionWatcher: Send + Sync {
    /// `name` at the version whose file for this target is `file` depends on `dependencies` there (with
    /// the extra being resolved, if any).
    fn tried(&self, name: &PackageName, file: &DistFile, dependencies: &[&PackageName]);
}

impl Resolver {
    pub fn new(
        client: Arc<IndexClient>,
        targets: Vec<Target>,
        options: ResolveOptions,
    ) -> Resolver {
        Resolver {
            fetcher: Arc::new(Fetcher::new(client, targets, options)),
            deadline: None,
            watcher: None,
        }
    }

    /// The same resolver (sharing its fetches) telling `watcher` about each release it tries.
    pub fn watched_by(&self, watcher: Arc<dyn DecisionWatcher>) -> Resolver {
        Resolver {
            fetcher: self.fetcher.clone(),
            deadline: self.deadline,
            watcher: Some(watcher),
        }
    }

    /// The same resolver (sharing its fetches) giving up with [`ResolveError::TimedOut`] once
    /// `deadline` passes, so that the diagnosis, which resolves many variants, stays within a budget.
    pub fn with_deadline(&self, deadline: std::time::Instant) -> Resolver {
        Resolver {
            fetcher: self.fetcher.clone(),
            deadline: Some(deadline),
            watcher: None,
        }
    }

    pub fn targets(&self) -> &[Target] {
        self.fetcher.targets()
    }

    /// A resolver with the same client, options and deadline for other `targets` (another Python:
    /// of this one's memo, only the version maps keyed by their targets apply).
    pub fn for_targets(&self, targets: Vec<Target>) -> Resolver {
        Resolver {
            fetcher: Arc::new(self.fetcher.for_targets(targets)),
            deadline: self.deadline,
            watcher: None,
        }
    }

    /// Whether the deadline of [`Resolver::with_deadline`] has passed.
    pub fn out_of_time(&self) -> bool {
        self.deadline
            .is_some_and(|deadline| std::time::Instant::now() >= deadline)
    }

    /// A resolver for the same targets and options, except that `names` may also be locked from their
    /// sdists: what checking an "allow this sdist" fix needs. The version maps depend on that policy, so
    /// it keeps its own memo; the index client and its cache are shared, and so is the deadline.
    pub fn allowing_sdists(&self, names: &[PackageName]) -> Resolver {
        let mut options = self.options().clone();
        options.allow_sdist.packages.extend(names.iter().cloned());
        options
            .allow_sdist
            .denied
            .retain(|name| !names.contains(name));
        Resolver {
            fetcher: Arc::new(
                self.fetcher
                    .derived(options)
                    .with_build_deadline(self.deadline),
            ),
            deadline: self.deadline,
            watcher: None,
        }
    }

    /// A resolver for the same targets and options, except that no sdist may be used (`--no-build`):
    /// what checking the "wheels only" fix of a failed build needs. Its own memo, as
    /// [`Resolver::allowing_sdists`].
    pub fn refusing_sdists(&self) -> Resolver {
        self.with_sdist_policy(SdistPolicy::default())
    }

    /// As [`Resolver::refusing_sdists`], for `names` only (uv's `--only-binary NAME`): what the
    /// diagnosis uses once an sdist of theirs failed to build, so that its trials treat their releases
    /// without a wheel as unavailable instead of stopping at the same failure.
    pub fn refusing_sdists_of(&self, names: &[PackageName]) -> Resolver {
        let mut policy = self.options().allow_sdist.clone();
        policy.packages.retain(|name| !names.contains(name));
        policy.denied.extend(names.iter().cloned());
        self.with_sdist_policy(policy)
    }

    fn with_sdist_policy(&self, policy: SdistPolicy) -> Resolver {
        let mut options = self.options().clone();
        options.allow_sdist = policy;
        Resolver {
            fetcher: Arc::new(
                self.fetcher
                    .derived(options)
                    .with_build_deadline(self.deadline),
            ),
            deadline: self.deadline,
            watcher: None,
        }
    }

    pub fn client(&self) -> Arc<IndexClient> {
        self.fetcher.client()
    }

    pub fn options(&self) -> &ResolveOptions {
        self.fetcher.options()
    }

    /// A file's core metadata as the index gave it.
    pub async fn core_metadata(&self, file: &DistFile) -> Result<Arc<CoreMetadata>, ResolveError> {
        Ok(self.metadata(file).await?.core.clone())
    }

    /// A file's metadata within the deadline: an sdist's may need a build of several seconds, which
    /// the deadline cuts off (the build is killed with its future).
    async fn metadata(&self, file: &DistFile) -> Result<Arc<fetch::Metadata>, ResolveError> {
        within(self.deadline, self.fetcher.metadata(file))
            .await
            .ok_or(ResolveError::TimedOut)?
            .map_err(ResolveError::Index)
    }

    /// The releases of `name` for target number `target`; `None` when the project does not exist.
    pub async fn versions(
        &self,
        target: usize,
        name: &PackageName,
    ) -> Result<Option<Arc<VersionMap>>, ResolveError> {
        self.fetcher
            .versions(target, name)
            .await
            .map_err(ResolveError::Index)
    }

    /// Start fetching, in the background, what resolving with `requirement` will need on each target
    /// it applies to: the release it would pick (its sdist built if that is all the release has) and,
    /// wheels only, its dependencies' likely releases. For a requirement about to be resolved with, so
    /// that its round trips and build overlap the caller's work until then.
    pub fn warm(&self, requirement: &Requirement) {
        for (index, target) in self.targets().iter().enumerate() {
            if requirement.marker.evaluate(&target.markers, &[]) {
                self.fetcher.warm(
                    index,
                    requirement.name.clone(),
                    fetch::requirement_range(requirement),
                    requirement.extras.clone(),
                );
            }
        }
    }

    /// Every file the index lists for `name`; `None` when the project does not exist.
    pub async fn page(&self, name: &PackageName) -> Result<Option<Arc<ProjectPage>>, ResolveError> {
        match self.fetcher.page(name).await.map_err(ResolveError::Index)? {
            ProjectResponse::Found(page) => Ok(Some(page)),
            ProjectResponse::NotFound => Ok(None),
        }
    }

    /// The projects this resolver has found on the index so far (in no particular order).
    pub fn found_projects(&self) -> Vec<PackageName> {
        self.fetcher.found_projects()
    }

    /// The parsed `Requires-Dist` of a file, or why it does not parse.
    pub async fn requires_dist(
        &self,
        file: &DistFile,
    ) -> Result<Result<Vec<Requirement>, InvalidRequirement>, ResolveError> {
        Ok(self.metadata(file).await?.requires_dist.clone())
    }

    /// Resolve `input` for every target.
    pub async fn resolve(&self, input: &RequirementsInput) -> Result<Resolution, ResolveError> {
        let root: Vec<Requirement> = input
            .requirements
            .iter()
            .map(|r| r.requirement.clone())
            .collect();
        let constraints: Vec<Requirement> = input
            .constraints
            .iter()
            .map(|r| r.requirement.clone())
            .collect();
        let mut solvers = Vec::new();
        for index in 0..self.targets().len() {
            let mut provider = Provider::new(
                self.fetcher.clone(),
                index,
                tokio::runtime::Handle::current(),
                root.clone(),
                &constraints,
            );
            provider.deadline = self.deadline;
            provider.watcher = self.watcher.clone();
            solvers.push(tokio::task::spawn_blocking(move || {
                pubgrub::resolve(&provider, PubGrubPackage::Root, Version::new([0]))
                    .map_err(Box::new)
            }));
        }
        let mut resolved = Vec::new();
        let mut failures = Vec::new();
        for (index, solver) in solvers.into_iter().enumerate() {
            match solver
                .await
                .map_err(|err| ResolveError::Internal(err.to_string()))?
                .map_err(|boxed| *boxed)
            {
                Ok(selection) => resolved.push((index, selection)),
                Err(PubGrubError::NoSolution(tree)) => {
                    failures.push(report::failure(&self.targets()[index], &tree))
                }
                Err(
                    PubGrubError::ErrorRetrievingDependencies {
                        source: ProviderError::Index(err),
                        ..
                    }
                    | PubGrubError::ErrorChoosingVersion {
                        source: ProviderError::Index(err),
                        ..
                    },
                ) => return Err(ResolveError::Index(err)),
                Err(
                    PubGrubError::ErrorInShouldCancel(ProviderError::Cancelled)
                    | PubGrubError::ErrorRetrievingDependencies {
                        source: ProviderError::Cancelled,
                        ..
                    },
                ) => return Err(ResolveError::TimedOut),
                Err(other) => return Err(ResolveError::Internal(other.to_string())),
            }
        }
        if !failures.is_empty() {
            return Err(ResolveError::NoSolution(Box::new(NoSolution::new(
                failures,
            ))));
        }
        let mut resolution = Resolution {
            targets: Vec::new(),
            // The input's own warnings first, each naming its line.
            warnings: input.warnings.iter().map(ToString::to_string).collect(),
        };
        for (index, selection) in resolved {
            let chosen: Vec<(PubGrubPackage, Version)> = selection
                .iter()
                .map(|(p, v)| (p.clone(), v.clone()))
                .collect();
            let target = build_target(
                &self.fetcher,
                index,
                &chosen,
                input,
                &mut resolution.warnings,
            )
            .await?;
            resolution.targets.push(target);
        }
        Ok(resolution)
    }
}

/// `future`'s output, or `None` once `deadline` passes first (then the future is dropped).
pub(crate) async fn within<T>(
    deadline: Option<std::time::Instant>,
    future: impl Future<Output = T>,
) -> Option<T> {
    match deadline {
        Some(deadline) => tokio::time::timeout_at(deadline.into(), future).await.ok(),
        None => Some(future.await),
    }
}

/// Turn PubGrub's selection into packages with their files, dependency edges and `via`s.
async fn build_target(
    fetcher: &Fetcher,
    index: usize,
    chosen: &[(PubGrubPackage, Version)],
    input: &RequirementsInput,
    warnings: &mut Vec<String>,
) -> Result<TargetResolution, ResolveError> {
    let target = fetcher.target(index).clone();
    let mut extras: BTreeMap<PackageName, BTreeSet<ExtraName>> = BTreeMap::new();
    for (package, _) in chosen {
        if let PubGrubPackage::Extra(name, extra) = package {
            extras
                .entry(name.clone())
                .or_default()
                .insert(extra.clone());
        }
    }
    let mut packages = BTreeMap::new();
    for (package, version) in chosen {
        let PubGrubPackage::Package(name) = package else {
            continue;
        };
        let map = fetcher
            .versions(index, name)
            .await
            .map_err(ResolveError::Index)?;
        let candidate = map
            .and_then(|map| map.usable.get(version).cloned())
            .ok_or_else(|| {
                ResolveError::Internal(format!("{name} {version} was chosen but is not usable"))
            })?;
        if let Some(reason) = &candidate.yanked {
            let reason = if reason.is_empty() {
                String::new()
            } else {
                format!(" ({reason})")
            };
            warnings.push(format!("{name}=={version} is yanked{reason}; it is locked because it is pinned exactly ({})", target.oci));
        }
        let metadata = fetcher
            .metadata(candidate.metadata_file())
            .await
            .map_err(ResolveError::Index)?;
        let active: Vec<ExtraName> = extras
            .get(name)
            .map(|set| set.iter().cloned().collect())
            .unwrap_or_default();
        let dependencies = metadata
            .requires_dist
            .as_ref()
            .map(|requirements| {
                requirements
                    .iter()
                    .filter(|r| &r.name != name && r.marker.evaluate(&target.markers, &active))
                    .map(|r| r.name.clone())
                    .collect()
            })
            .unwrap_or_default();
        packages.insert(
            name.clone(),
            ResolvedPackage {
                name: name.clone(),
                version: version.clone(),
                file: candidate.file.clone(),
                metadata: metadata.core.clone(),
                extras: extras.get(name).cloned().unwrap_or_default(),
                dependencies,
                via: BTreeSet::new(),
            },
        );
    }
    link_vias(&mut packages, input, &target);
    warnings.extend(prerelease::notes(fetcher, index, &packages, input).await?);
    Ok(TargetResolution { target, packages })
}

fn link_vias(
    packages: &mut BTreeMap<PackageName, ResolvedPackage>,
    input: &RequirementsInput,
    target: &Target,
) {
    let edges: Vec<(PackageName, PackageName)> = packages
        .values()
        .flat_map(|p| p.dependencies.iter().map(|d| (p.name.clone(), d.clone())))
        .collect();
    for (parent, child) in edges {
        if let Some(package) = packages.get_mut(&child) {
            package.via.insert(Via::Package(parent));
        }
    }
    for input in &input.requirements {
        let requirement = &input.requirement;
        if requirement.marker.evaluate(&target.markers, &[])
            && let Some(package) = packages.get_mut(&requirement.name)
        {
            package.via.insert(Via::Input(input.location.path.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::str::FromStr;

    use super::*;

    fn name(text: &str) -> PackageName {
        PackageName::from_str(text).unwrap()
    }

    #[test]
    fn the_input_s_options_shape_the_policy() {
        let (a, b, c) = ("a".repeat(64), "b".repeat(64), "c".repeat(64));
        let text = format!(
            "--pre\n--only-binary=six\nsix --hash=sha256:{a} --hash=sha256:{b}\n\
             six>=1 --hash=sha256:{b} --hash=sha256:{c}\nidna\n"
        );
        let input = crate::requirements::parse_str(&text, Path::new("r.in")).unwrap();
        let base = ResolveOptions {
            allow_sdist: SdistPolicy::only([name("six"), name("numpy")]),
            ..ResolveOptions::default()
        };
        let options = base.clone().with_input(&input);
        assert!(options.prereleases);
        // Both lines restrict six: a file must be allowed by each.
        assert_eq!(
            options.allowed_hashes,
            BTreeMap::from([(name("six"), BTreeSet::from([b]))])
        );
        assert!(
            !options.allow_sdist.allows(&name("six")) && options.allow_sdist.allows(&name("numpy"))
        );
        // Under an allow-all policy (ad hoc), `--only-binary NAME` still refuses NAME's sdist.
        let everything = ResolveOptions {
            allow_sdist: SdistPolicy::all(),
            ..ResolveOptions::default()
        };
        let options = everything.with_input(&input);
        assert!(
            !options.allow_sdist.allows(&name("six")) && options.allow_sdist.allows(&name("idna"))
        );
        let all =
            crate::requirements::parse_str("--only-binary :all:\n", Path::new("r.in")).unwrap();
        assert_eq!(
            base.clone().with_input(&all).allow_sdist,
            SdistPolicy::default()
        );
        let plain = crate::requirements::parse_str("six\n", Path::new("r.in")).unwrap();
        let unchanged = base.clone().with_input(&plain);
        assert!(!unchanged.prereleases && unchanged.allowed_hashes.is_empty());
        assert_eq!(unchanged.allow_sdist, base.allow_sdist);
    }
}
