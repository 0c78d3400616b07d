//! PubGrub's view of the index for one target: it chooses versions and lists dependencies, waiting on
//! the [`Fetcher`]'s memo, never on HTTP directly.

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use pep440_rs::Version;
use pep508_rs::{ExtraName, PackageName, Requirement, VersionOrUrl};
use pubgrub::{
    Dependencies, DependencyConstraints, DependencyProvider, PackageResolutionStatistics,
};
use tokio::runtime::Handle;
use version_ranges::Ranges;

use super::candidates::{VersionMap, requires_python_allows};
use super::fetch::{Fetcher, requirement_range};
use super::package::PubGrubPackage;
use crate::index::IndexError;

/// A failure that stops resolving (as opposed to a conflict, which PubGrub explains).
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error(transparent)]
    Index(Arc<IndexError>),
    /// The resolver's deadline passed (see [`crate::resolve::Resolver::with_deadline`]).
    #[error("the time budget ran out")]
    Cancelled,
}

/// The dependency provider for one target.
pub struct Provider {
    fetcher: Arc<Fetcher>,
    target: usize,
    handle: Handle,
    root: Vec<Requirement>,
    constraints: HashMap<PackageName, Ranges<Version>>,
    /// Packages for which some requirement names a pre-release, so pre-releases may be chosen.
    prereleases: RefCell<HashSet<PackageName>>,
    /// Releases chosen although they cannot install, so that PubGrub reports why.
    unusable: RefCell<HashMap<(PackageName, Version), String>>,
    /// Discovery order, so that ties go to packages met earlier (closer to the input).
    discovered: RefCell<HashMap<PubGrubPackage, usize>>,
    /// How many versions each node has been handed: from the second on, the one before was rejected.
    tried: RefCell<HashMap<PubGrubPackage, u32>>,
    /// Give up (PubGrub asks between decisions) once this instant passes.
    pub(crate) deadline: Option<std::time::Instant>,
    /// Hears each release tried (see [`super::DecisionWatcher`]).
    pub(crate) watcher: Option<Arc<dyn super::DecisionWatcher>>,
}

impl Provider {
    pub fn new(
        fetcher: Arc<Fetcher>,
        target: usize,
        handle: Handle,
        root: Vec<Requirement>,
        constraints: &[Requirement],
    ) -> Provider {
        let mut constraint_ranges: HashMap<PackageName, Ranges<Version>> = HashMap::new();
        for constraint in constraints {
            let env = &fetcher.target(target).markers;
            if constraint.marker.evaluate(env, &[]) {
                let range = requirement_range(constraint);
                constraint_ranges
                    .entry(constraint.name.clone())
                    .and_modify(|existing| *existing = existing.intersection(&range))
                    .or_insert(range);
            }
        }
        Provider {
            fetcher,
            target,
            handle,
            root,
            constraints: constraint_ranges,
            prereleases: RefCell::default(),
            unusable: RefCell::default(),
            discovered: RefCell::default(),
            tried: RefCell::default(),
            deadline: None,
            watcher: None,
        }
    }

    /// The requirements a node brings, evaluated for this target with `extras` active.
    fn edges(
        &self,
        requirements: &[Requirement],
        extras: &[ExtraName],
        from: Option<&PackageName>,
    ) -> Vec<(PubGrubPackage, Ranges<Version>)> {
        let env = &self.fetcher.target(self.target).markers;
        let mut merged: BTreeMap<PubGrubPackage, Ranges<Version>> = BTreeMap::new();
        for requirement in requirements
            .iter()
            .filter(|r| r.marker.evaluate(env, extras))
        {
            let name = &requirement.name;
            let mut range = requirement_range(requirement);
            if let Some(constraint) = self.constraints.get(name) {
                range = range.intersection(constraint);
            }
            if let Some(VersionOrUrl::VersionSpecifier(specifiers)) = &requirement.version_or_url
                && specifiers
                    .iter()
                    .any(|specifier| specifier.version().any_prerelease())
            {
                self.prereleases.borrow_mut().insert(name.clone());
            }
            let mut nodes = vec![PubGrubPackage::Package(name.clone())];
            nodes.extend(
                requirement
                    .extras
                    .iter()
                    .map(|extra| PubGrubPackage::Extra(name.clone(), extra.clone())),
            );
            for node in nodes {
                if from == Some(name) && matches!(node, PubGrubPackage::Package(_)) {
                    // A package's extra may require the package itself; the base node is already there.
                    continue;
                }
                merged
                    .entry(node)
                    .and_modify(|existing| *existing = existing.intersection(&range))
                    .or_insert_with(|| range.clone());
            }
        }
        for (node, range) in &merged {
            let mut discovered = self.discovered.borrow_mut();
            let next = discovered.len();
            discovered.entry(node.clone()).or_insert(next);
            if let PubGrubPackage::Package(name) = node {
                let extras = merged
                    .keys()
                    .filter_map(|other| match other {
                        PubGrubPackage::Extra(other_name, extra) if other_name == name => {
                            Some(extra.clone())
                        }
                        _ => None,
                    })
                    .collect();
                // An input line's best release is the one the solver tries first (for a pin, the
                // only one), and a failed resolve's diagnosis reads it for every line: when only an
                // sdist gives it, its build starts now, beside the others (uv does so for pinned
                // direct requirements), rather than when the solver reaches it (mailu-admin-2019:
                // sixteen pinned sdists built one after another). Deeper edges stay wheels-only
                // guesses: the solver may never take them.
                if from.is_none() {
                    self.fetcher
                        .warm(self.target, name.clone(), range.clone(), extras);
                } else {
                    self.fetcher
                        .crawl(self.target, name.clone(), range.clone(), extras);
                }
            }
        }
        merged.into_iter().collect()
    }

    fn package_dependencies(
        &self,
        name: &PackageName,
        extra: Option<&ExtraName>,
        version: &Version,
    ) -> Result<Dependencies<PubGrubPackage, Ranges<Version>, String>, ProviderError> {
        if let Some(reason) = self.unusable.borrow().get(&(name.clone(), version.clone())) {
            return Ok(Dependencies::Unavailable(reason.clone()));
        }
        let map = self
            .handle
            .block_on(self.fetcher.versions(self.target, name))
            .map_err(ProviderError::Index)?
            .expect("a chosen version's project exists");
        let Some(candidate) = map.usable.get(version) else {
            return Ok(Dependencies::Unavailable(
                "is not available for this target".to_string(),
            ));
        };
        let metadata = self
            .handle
            .block_on(super::within(
                self.deadline,
                self.fetcher.metadata(candidate.metadata_file()),
            ))
            .ok_or(ProviderError::Cancelled)?
            .map_err(ProviderError::Index)?;
        let requirements = match &metadata.requires_dist {
            Ok(requirements) => requirements,
            Err(invalid) => {
                return Ok(Dependencies::Unavailable(format!(
                    "has invalid metadata: Requires-Dist `{}` ({})",
                    invalid.text, invalid.message
                )));
            }
        };
        let python = &self.fetcher.target(self.target).python_full;
        if let Some(requires_python) = &metadata.core.requires_python
            && !requires_python_allows(Some(requires_python), python)
        {
            return Ok(Dependencies::Unavailable(format!(
                "requires Python {requires_python}"
            )));
        }
        let mut edges = match extra {
            None => self.edges(requirements, &[], Some(name)),
            Some(extra) => self.edges(requirements, std::slice::from_ref(extra), Some(name)),
        };
        if let Some(watcher) = &self.watcher {
            let dependencies: Vec<&PackageName> =
                edges.iter().filter_map(|(node, _)| node.name()).collect();
            watcher.tried(name, &candidate.file, &dependencies);
        }
        if extra.is_some() {
            edges.push((
                PubGrubPackage::Package(name.clone()),
                Ranges::singleton(version.clone()),
            ));
        }
        Ok(Dependencies::Available(DependencyConstraints::from_iter(
            edges,
        )))
    }
}

impl Provider {
    /// Once a node's earlier choice was rejected, start fetching the releases the solver would offer
    /// after `chosen`, so that walking down a package (issue 16: 70 of fastapi's releases, one round
    /// trip each) overlaps the round trips instead of waiting for each in turn.
    fn fetch_ahead(
        &self,
        package: &PubGrubPackage,
        name: &PackageName,
        map: &VersionMap,
        range: &Ranges<Version>,
        chosen: &Version,
        allow_prerelease: bool,
    ) {
        let tried = {
            let mut tried = self.tried.borrow_mut();
            let count = tried.entry(package.clone()).or_insert(0);
            *count = count.saturating_add(1);
            *count
        };
        let window = fetch_ahead_window(tried);
        if window == 0 {
            return;
        }
        let extras = match package {
            PubGrubPackage::Extra(_, extra) => std::slice::from_ref(extra),
            _ => &[],
        };
        let next = map
            .next_below(range, chosen, allow_prerelease, window)
            .into_iter()
            .map(|(version, _)| version.clone());
        self.fetcher.prefetch(self.target, name, next, extras);
    }
}

/// How many releases to fetch ahead for a node handed its `tried`-th version: none on the first (the
/// crawl already fetched it), then 4, doubling with each rejection up to 32, so that one step back
/// costs a few speculative fetches and a long walk keeps the connection busy. The index client's
/// concurrency limit still bounds what is in flight.
fn fetch_ahead_window(tried: u32) -> usize {
    match tried {
        0 | 1 => 0,
        _ => 4 << (tried - 2).min(3),
    }
}

impl DependencyProvider for Provider {
    type P = PubGrubPackage;
    type V = Version;
    type VS = Ranges<Version>;
    type M = String;
    type Priority = (bool, u32, Reverse<usize>);
    type Err = ProviderError;

    fn should_cancel(&self) -> Result<(), ProviderError> {
        match self.deadline {
            Some(deadline) if std::time::Instant::now() >= deadline => {
                Err(ProviderError::Cancelled)
            }
            _ => Ok(()),
        }
    }

    fn prioritize(
        &self,
        package: &PubGrubPackage,
        range: &Ranges<Version>,
        statistics: &PackageResolutionStatistics,
    ) -> Self::Priority {
        // Exact pins first: they cannot branch, and deciding them early prunes the most.
        let order = self
            .discovered
            .borrow()
            .get(package)
            .copied()
            .unwrap_or(usize::MAX);
        (
            range.as_singleton().is_some(),
            statistics.conflict_count(),
            Reverse(order),
        )
    }

    fn choose_version(
        &self,
        package: &PubGrubPackage,
        range: &Ranges<Version>,
    ) -> Result<Option<Version>, ProviderError> {
        let Some(name) = package.name() else {
            return Ok(Some(Version::new([0])));
        };
        let Some(map) = self
            .handle
            .block_on(self.fetcher.versions(self.target, name))
            .map_err(ProviderError::Index)?
        else {
            return Ok(None);
        };
        let allow_prerelease =
            self.fetcher.options().prereleases || self.prereleases.borrow().contains(name);
        if let Some(version) = map.best(range, allow_prerelease) {
            tracing::debug!(package = %name, %version, "trying");
            self.fetch_ahead(package, name, &map, range, version, allow_prerelease);
            return Ok(Some(version.clone()));
        }
        // Nothing in range installs: hand PubGrub the nearest release that does not, and say why in
        // `get_dependencies`, so the report names the real cause instead of "no versions".
        Ok(map.best_unusable(range).map(|(version, reason)| {
            self.unusable
                .borrow_mut()
                .insert((name.clone(), version.clone()), reason.to_string());
            version.clone()
        }))
    }

    fn get_dependencies(
        &self,
        package: &PubGrubPackage,
        version: &Version,
    ) -> Result<Dependencies<PubGrubPackage, Ranges<Version>, String>, ProviderError> {
        match package {
            PubGrubPackage::Root => {
                let root = self.edges(&self.root, &[], None);
                Ok(Dependencies::Available(DependencyConstraints::from_iter(
                    root,
                )))
            }
            PubGrubPackage::Package(name) => self.package_dependencies(name, None, version),
            PubGrubPackage::Extra(name, extra) => {
                self.package_dependencies(name, Some(extra), version)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fetch_ahead_window;

    #[test]
    fn nothing_is_fetched_ahead_until_a_choice_was_rejected_then_the_window_doubles() {
        let windows: Vec<usize> = (0..8).map(fetch_ahead_window).collect();
        assert_eq!(windows, [0, 0, 4, 8, 16, 32, 32, 32]);
    }
}
