//! The async side of resolving: every page and metadata file is fetched once, into a memo that the
//! synchronous PubGrub thread waits on, and a speculative crawl fetches what PubGrub will most likely ask
//! for next while it is still busy.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use pep440_rs::Version;
use pep508_rs::{ExtraName, PackageName, Requirement, VersionOrUrl};
use tokio::sync::OnceCell;
use version_ranges::Ranges;

use super::candidates::{Policy, Releases, VersionMap};
use super::selection_cache;
use super::{ResolveOptions, Target};
use crate::index::page_codec::Writer;
use crate::index::{
    CoreMetadata, DerivedKey, DistFile, IndexClient, IndexError, PageStamp, ProjectPage,
    ProjectResponse, Speculation,
};
use crate::requirements::pep508::parse_index_requirement;

/// A fetch outcome shared by every waiter.
pub type Shared<T> = Result<T, Arc<IndexError>>;

/// Core metadata with its `Requires-Dist` parsed once.
#[derive(Debug)]
pub struct Metadata {
    pub core: Arc<CoreMetadata>,
    /// Parsed requirements, or the first entry that does not parse and why.
    pub requires_dist: Result<Vec<Requirement>, InvalidRequirement>,
}

/// A `Requires-Dist` entry that is not valid PEP 508.
#[derive(Debug, Clone)]
pub struct InvalidRequirement {
    pub text: String,
    pub message: String,
}

/// Runs each keyed future once; later callers await the first one's result.
///
/// A cell first asked for by a guess (the crawl, fetch-ahead) remembers that guess; whoever then
/// waits for it outside any guess (the solver) promotes it, so its requests stop queueing behind the
/// other guesses (see `index::priority`).
struct Memo<K, V> {
    cells: Mutex<HashMap<K, Cell<V>>>,
}

struct Cell<V> {
    value: Arc<OnceCell<V>>,
    /// The guess that asked first; `None` when something awaited it from the start.
    speculation: Option<Arc<Speculation>>,
}

impl<K: Eq + Hash + Clone, V: Clone> Memo<K, V> {
    fn new() -> Self {
        Memo {
            cells: Mutex::new(HashMap::new()),
        }
    }

    async fn get<F: Future<Output = V>>(&self, key: &K, init: impl FnOnce() -> F) -> V {
        let current = Speculation::current();
        let cell = {
            let mut cells = self
                .cells
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let cell = cells.entry(key.clone()).or_insert_with(|| Cell {
                value: Arc::default(),
                speculation: current.clone(),
            });
            if current.is_none()
                && let Some(speculation) = &cell.speculation
                && cell.value.get().is_none()
            {
                speculation.promote();
            }
            cell.value.clone()
        };
        cell.get_or_init(init).await.clone()
    }

    /// Whether `key` is computed or being computed.
    fn has(&self, key: &K) -> bool {
        self.cells
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains_key(key)
    }

    /// The values computed so far (none still being computed).
    fn ready(&self) -> Vec<V> {
        let cells = self
            .cells
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cells
            .values()
            .filter_map(|cell| cell.value.get().cloned())
            .collect()
    }
}

/// One project's version maps, indexed like [`Fetcher::targets`].
type TargetMaps = Arc<[Arc<VersionMap>]>;

/// Answers shared by every fetcher derived from one (another sdist policy, another Python): a
/// diagnosis resolves many variants, and each kept its own copy of every page and version map it read
/// (openvoice's cold diagnosis: 20 MB of maps decoded again, then 20 MB of pages, of a 75 MB heap
/// peak; heaptrack). Only answers are kept, never a failure, so a variant still asks again where an
/// earlier one could not get an answer; each fetcher keeps its own memo in front, so what one has
/// fetched (its "found projects") does not change with what the others did.
struct Kept<K, V> {
    values: Mutex<HashMap<K, V>>,
}

impl<K: Eq + Hash, V: Clone> Kept<K, V> {
    fn get(&self, key: &K) -> Option<V> {
        self.lock().get(key).cloned()
    }

    /// Keep `value` unless another fetcher kept one first (the first stays, so every fetcher then
    /// reads the same).
    fn keep(&self, key: K, value: &V) {
        self.lock().entry(key).or_insert_with(|| value.clone());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, V>> {
        self.values
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl<K, V> Default for Kept<K, V> {
    fn default() -> Self {
        Kept {
            values: Mutex::new(HashMap::new()),
        }
    }
}

/// A project and the slot and rest of its selection key (see [`selection_cache::key`]: the targets and
/// everything of the options that selection reads for the project).
type SelectionKey = (PackageName, Vec<u8>, Vec<u8>);

fn selection_key(name: &PackageName, key: &DerivedKey) -> SelectionKey {
    (name.clone(), key.slot.clone(), key.rest.clone())
}

/// A page with the stamp of the cache entry that holds it.
type StampedPage = (ProjectResponse, Option<PageStamp>);

/// A node the crawler has visited: target, project, release, active extras.
type CrawlKey = (usize, PackageName, Version, Vec<ExtraName>);
/// A guess as asked for: the same edge is met by every resolve of a diagnosis (70 fix checks on
/// home-assistant), and each spawned task is held, with its whole future, until it runs.
type GuessKey = (usize, PackageName, Ranges<Version>, Vec<ExtraName>, Guess);

/// Index access shared by every target's solver and the crawler.
pub struct Fetcher {
    client: Arc<IndexClient>,
    targets: Vec<Target>,
    options: ResolveOptions,
    /// Each page with the stamp of the cache entry that holds it.
    pages: Memo<PackageName, Shared<StampedPage>>,
    /// The pages found by any fetcher derived from the same one: a page does not depend on the
    /// targets or the options.
    kept_pages: Arc<Kept<PackageName, StampedPage>>,
    /// The cache entry of each page read for its version maps and then let go, shared like
    /// `kept_pages`: read back from there when asked for again, not fetched again.
    page_stamps: Arc<Kept<PackageName, PageStamp>>,
    /// The projects whose page this fetcher read for their version maps (see
    /// [`Fetcher::found_projects`]).
    found_for_maps: Mutex<HashSet<PackageName>>,
    /// Core metadata, shared by every fetcher derived from one for the same targets (a file's
    /// metadata does not depend on the options, and an sdist's is built for the first target's Python).
    metadata: Arc<Memo<String, Shared<Arc<Metadata>>>>,
    /// Sdist metadata, shared by every fetcher derived from one (a diagnosis's variants with another
    /// sdist policy): a build takes seconds, and one that failed fails the same way in every variant.
    sdists: Arc<Memo<String, Shared<Arc<CoreMetadata>>>>,
    /// Each project's version maps, one per target (`None` when the project does not exist).
    version_maps: Memo<PackageName, Shared<Option<TargetMaps>>>,
    /// The version maps of any fetcher derived from the same one, by selection key.
    kept_maps: Arc<Kept<SelectionKey, TargetMaps>>,
    crawled: Mutex<HashSet<CrawlKey>>,
    guessed: Mutex<HashSet<GuessKey>>,
    /// Whether the common build environment was asked for ahead of a build ([`sdist::prepare`]).
    builds_prepared: std::sync::atomic::AtomicBool,
    /// Builds of sdist metadata stop at this instant (a diagnosis checking an "allow this sdist" fix
    /// within its time budget); `None` leaves only the build's own timeout.
    build_deadline: Option<std::time::Instant>,
}

impl Fetcher {
    pub fn new(client: Arc<IndexClient>, targets: Vec<Target>, options: ResolveOptions) -> Fetcher {
        Fetcher {
            client,
            targets,
            options,
            pages: Memo::new(),
            kept_pages: Arc::default(),
            page_stamps: Arc::default(),
            found_for_maps: Mutex::default(),
            metadata: Arc::new(Memo::new()),
            sdists: Arc::new(Memo::new()),
            version_maps: Memo::new(),
            kept_maps: Arc::default(),
            crawled: Mutex::default(),
            guessed: Mutex::default(),
            builds_prepared: std::sync::atomic::AtomicBool::new(false),
            build_deadline: None,
        }
    }

    /// A fetcher for the same client and targets with other `options`, sharing this one's pages,
    /// metadata and the version maps its options select alike; the rest of the memo starts empty.
    pub fn derived(&self, options: ResolveOptions) -> Fetcher {
        Fetcher {
            kept_pages: self.kept_pages.clone(),
            page_stamps: self.page_stamps.clone(),
            metadata: self.metadata.clone(),
            sdists: self.sdists.clone(),
            kept_maps: self.kept_maps.clone(),
            ..Fetcher::new(self.client.clone(), self.targets.clone(), options)
        }
    }

    /// A fetcher for the same client and options and other `targets`, sharing this one's pages and
    /// the version maps (keyed by their targets), not its metadata: an sdist's is built for the
    /// targets' Python.
    pub fn for_targets(&self, targets: Vec<Target>) -> Fetcher {
        Fetcher {
            kept_pages: self.kept_pages.clone(),
            page_stamps: self.page_stamps.clone(),
            kept_maps: self.kept_maps.clone(),
            ..Fetcher::new(self.client.clone(), targets, self.options.clone())
        }
    }

    /// This fetcher with sdist builds cut off at `deadline`.
    #[must_use]
    pub fn with_build_deadline(mut self, deadline: Option<std::time::Instant>) -> Fetcher {
        self.build_deadline = deadline;
        self
    }

    pub fn client(&self) -> Arc<IndexClient> {
        self.client.clone()
    }

    pub fn options(&self) -> &ResolveOptions {
        &self.options
    }

    pub fn targets(&self) -> &[Target] {
        &self.targets
    }

    pub fn target(&self, index: usize) -> &Target {
        &self.targets[index]
    }

    /// The project's page, fetched at most once per run.
    pub async fn page(&self, name: &PackageName) -> Shared<ProjectResponse> {
        Ok(self.page_stamped(name).await?.0)
    }

    async fn page_stamped(&self, name: &PackageName) -> Shared<StampedPage> {
        self.pages
            .get(name, || async {
                if let Some(page) = self.kept_pages.get(name) {
                    return Ok(page);
                }
                let page = self.fetch_page(name).await?;
                self.kept_pages.keep(name.clone(), &page);
                Ok(page)
            })
            .await
    }

    /// The page of `name` from the client: read back from the cache entry it was let go from, if
    /// any, else as the client answers.
    async fn fetch_page(&self, name: &PackageName) -> Shared<StampedPage> {
        let fetched = match self.page_stamps.get(name) {
            Some(stamp) => self.client.project_again(name, stamp).await,
            None => self.client.project_stamped(name).await,
        };
        fetched.map_err(Arc::new)
    }

    /// The page the version maps of `name` are made from. Unless a caller of [`Fetcher::page`] holds
    /// it already, it is not kept: once the maps are made only a diagnosis reads a page, and it reads
    /// it back from the cache (as a warm run does). Every page kept for the run was most of a cold
    /// run's heap (massif, sd-webui-versions: 31 of 84 MB; paperless-ngx: 19 of 37 MB at the end).
    async fn page_for_maps(&self, name: &PackageName) -> Shared<StampedPage> {
        // Held, or on its way to be: join it rather than fetch the page a second time.
        if self.pages.has(name) {
            return self.page_stamped(name).await;
        }
        if let Some(page) = self.kept_pages.get(name) {
            return Ok(page);
        }
        let page = self.fetch_page(name).await?;
        match &page {
            (ProjectResponse::Found(_), stamp) => {
                if let Some(stamp) = stamp {
                    self.page_stamps.keep(name.clone(), stamp);
                }
                self.found_for_maps
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(name.clone());
            }
            // Nothing to let go of, and nothing in the cache to read back.
            (ProjectResponse::NotFound, _) => self.kept_pages.keep(name.clone(), &page),
        }
        Ok(page)
    }

    /// The projects whose page this fetcher has found so far: names a "did you mean" may offer
    /// without asking the index again.
    pub fn found_projects(&self) -> Vec<PackageName> {
        let mut found = self
            .found_for_maps
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        found.extend(
            self.pages
                .ready()
                .into_iter()
                .filter_map(|page| match page {
                    Ok((ProjectResponse::Found(page), _)) => Some(page.name.clone()),
                    _ => None,
                }),
        );
        found.into_iter().collect()
    }

    /// A file's metadata, fetched at most once per run.
    pub async fn metadata(&self, file: &DistFile) -> Shared<Arc<Metadata>> {
        self.metadata
            .get(&file.url, || async {
                let core = if crate::sdist::is_sdist(&file.filename) {
                    self.sdists
                        .get(&file.url, || async {
                            self.sdist_metadata(file).await.map_err(Arc::new)
                        })
                        .await?
                } else {
                    self.client.metadata(file).await.map_err(Arc::new)?
                };
                let requires_dist = parse_requires_dist(&core.requires_dist);
                Ok(Arc::new(Metadata {
                    core,
                    requires_dist,
                }))
            })
            .await
    }

    /// How sdists build: for the targets' Python (one per image, so the first target's).
    fn sdist_settings(&self) -> crate::sdist::SdistSettings {
        let mut settings = crate::sdist::SdistSettings::new(self.targets[0].python);
        settings.exclude_newer = self.options.exclude_newer;
        settings
    }

    /// An sdist's metadata, read or built for the targets' Python.
    async fn sdist_metadata(&self, file: &DistFile) -> Result<Arc<CoreMetadata>, IndexError> {
        let mut settings = self.sdist_settings();
        if let Some(deadline) = self.build_deadline {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            settings.build_timeout = settings.build_timeout.min(left);
        }
        let bytes = crate::sdist::metadata(&self.client, file, &settings)
            .await
            .map_err(|error| IndexError::Sdist(Box::new(error)))?;
        crate::index::parse_metadata(&bytes)
            .map(Arc::new)
            .map_err(|message| IndexError::Malformed {
                url: file.url.clone(),
                message,
            })
    }

    /// The releases of `name` that can install on target `target`; `None` when the project does not exist.
    pub async fn versions(
        &self,
        target: usize,
        name: &PackageName,
    ) -> Shared<Option<Arc<VersionMap>>> {
        let maps = self
            .version_maps
            .get(name, || self.load_version_maps(name))
            .await?;
        Ok(maps.map(|maps| maps[target].clone()))
    }

    /// Every target's map of `name`: from the selection cache when the page it would come from is the
    /// cached one the client would use as is, else computed from the page (and then stored).
    async fn load_version_maps(&self, name: &PackageName) -> Shared<Option<TargetMaps>> {
        let key = selection_cache::key(&self.targets, &self.options, name);
        if let Some(key) = &key {
            if let Some(maps) = self.kept_maps.get(&selection_key(name, key)) {
                return Ok(Some(maps));
            }
            let targets = self.targets.len();
            let decode = move |bytes: &Arc<Vec<u8>>, payload: usize| {
                selection_cache::decode(bytes, payload, targets)
            };
            if let Some(maps) = self.client.derived(name, key.clone(), decode).await {
                let maps: TargetMaps = maps.into_iter().map(Arc::new).collect();
                self.kept_maps.keep(selection_key(name, key), &maps);
                return Ok(Some(maps));
            }
        }
        let (ProjectResponse::Found(page), stamp) = self.page_for_maps(name).await? else {
            return Ok(None);
        };
        let maps = self.version_maps_of(&page);
        if let Some(key) = &key {
            self.kept_maps.keep(selection_key(name, key), &maps);
        }
        if let (Some(key), Some(stamp)) = (key, stamp) {
            let stored = maps.clone();
            let encode = move |out: &mut Writer| selection_cache::encode(&stored, out);
            self.client.store_derived(name, stamp, key, encode).await;
        }
        Ok(Some(maps))
    }

    /// Every target's map of `page`, built together so that its filenames are parsed once and the parsed
    /// names dropped right away rather than kept for a target that asks later.
    fn version_maps_of(&self, page: &ProjectPage) -> TargetMaps {
        let releases = Releases::new(page);
        self.targets
            .iter()
            .map(|target| {
                let policy = Policy {
                    target,
                    exclude_newer: self.options.exclude_newer,
                    allow_sdist: &self.options.allow_sdist,
                    allowed_hashes: self.options.allowed_hashes.get(&page.name),
                };
                Arc::new(VersionMap::from_releases(page, &releases, &policy))
            })
            .collect()
    }

    /// Whether guessing ahead can pay: it overlaps round trips to the index with the solver's work.
    /// Offline there are none, only cache reads the solver makes as fast itself, so a guess is pure
    /// cost (a task spawned per edge, reads of releases the solver never asks about).
    fn speculates(&self) -> bool {
        !self.client.settings().offline
    }

    /// Start fetching, in the background, what resolving `name` in `range` will most likely need: its
    /// page, the metadata of the release PubGrub would pick, and recursively the same for its
    /// dependencies. Errors are left for the solver to meet (and report) when it asks.
    pub fn crawl(
        self: &Arc<Self>,
        target: usize,
        name: PackageName,
        range: Ranges<Version>,
        extras: Vec<ExtraName>,
    ) {
        self.spawn_crawl(target, name, range, extras, Guess::WheelsOnly);
    }

    /// As [`Fetcher::crawl`], for a requirement the caller is about to resolve with (a diagnosis's
    /// proposed fix, checked next): the release it would pick is fetched even when that means building
    /// its sdist, so that the build overlaps whatever the caller does first.
    pub fn warm(
        self: &Arc<Self>,
        target: usize,
        name: PackageName,
        range: Ranges<Version>,
        extras: Vec<ExtraName>,
    ) {
        self.spawn_crawl(target, name, range, extras, Guess::Builds);
    }

    fn spawn_crawl(
        self: &Arc<Self>,
        target: usize,
        name: PackageName,
        range: Ranges<Version>,
        extras: Vec<ExtraName>,
        guess: Guess,
    ) {
        if !self.speculates() {
            return;
        }
        let key = (target, name.clone(), range.clone(), extras.clone(), guess);
        if !first_time(&self.guessed, key) {
            return;
        }
        let this = Arc::clone(self);
        // The awaited futures are boxed: a spawned task holds its future's largest state from the
        // start, and a page fetch's or a build's is large, for thousands of tasks waiting their turn.
        let crawl = async move {
            let Ok(Some(map)) = Box::pin(this.versions(target, &name)).await else {
                return;
            };
            let Some(version) = map.best(&range, this.options.prereleases).cloned() else {
                return;
            };
            Box::pin(this.crawl_release(target, name, version, extras, guess)).await;
        };
        tokio::spawn(Speculation::new().scope(crawl));
    }

    /// Start fetching, in the background, the metadata of `versions` of `name` (and, as
    /// [`Fetcher::crawl`] does, what their dependencies would need): the releases the solver will ask
    /// about next when it walks down a package whose newer releases it keeps rejecting.
    pub fn prefetch(
        self: &Arc<Self>,
        target: usize,
        name: &PackageName,
        versions: impl IntoIterator<Item = Version>,
        extras: &[ExtraName],
    ) {
        if !self.speculates() {
            return;
        }
        for version in versions {
            let this = Arc::clone(self);
            let (name, extras) = (name.clone(), extras.to_vec());
            let guess = this.crawl_release(target, name, version, extras, Guess::WheelsOnly);
            tokio::spawn(Speculation::new().scope(guess));
        }
    }

    /// A guess met a release that only an sdist can give: a build is likely to follow, so have the
    /// environment most builds use made by then, once per fetcher (the environment itself is made
    /// once per cache).
    fn prepare_builds(&self) {
        if self
            .builds_prepared
            .swap(true, std::sync::atomic::Ordering::AcqRel)
        {
            return;
        }
        let (client, settings) = (self.client.clone(), self.sdist_settings());
        let prepare = async move { crate::sdist::prepare(&client, &settings).await };
        tokio::spawn(Speculation::new().scope(prepare));
    }

    /// Fetch the metadata of one release once per target and set of extras, then crawl its dependencies.
    async fn crawl_release(
        self: Arc<Self>,
        target: usize,
        name: PackageName,
        version: Version,
        extras: Vec<ExtraName>,
        guess: Guess,
    ) {
        let Ok(Some(map)) = Box::pin(self.versions(target, &name)).await else {
            return;
        };
        let Some(candidate) = map.usable.get(&version) else {
            return;
        };
        let file = candidate.metadata_file().clone();
        // A guess never starts a build: it takes seconds and runs the project's code, for a release
        // the solver may never ask about (uv's prefetch skips sdists too). Checked before the visit is
        // recorded, so that a warm-up for the same release still builds it.
        if guess == Guess::WheelsOnly && crate::sdist::is_sdist(&file.filename) {
            self.prepare_builds();
            return;
        }
        if !first_time(&self.crawled, (target, name, version, extras.clone())) {
            return;
        }
        let Ok(metadata) = Box::pin(self.metadata(&file)).await else {
            return;
        };
        let Ok(requirements) = &metadata.requires_dist else {
            return;
        };
        let env = &self.targets[target].markers;
        for requirement in requirements {
            if requirement.marker.evaluate(env, &extras) {
                self.crawl(
                    target,
                    requirement.name.clone(),
                    requirement_range(requirement),
                    requirement.extras.clone(),
                );
            }
        }
    }
}

/// Record `key` in `seen`; whether it was new.
fn first_time<K: Eq + std::hash::Hash>(seen: &Mutex<HashSet<K>>, key: K) -> bool {
    seen.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(key)
}

/// Whether fetching ahead may build an sdist for the release it starts from (its dependencies are
/// crawled wheels only either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Guess {
    WheelsOnly,
    Builds,
}

/// The version range a requirement allows; a direct URL allows nothing from the index.
pub fn requirement_range(requirement: &Requirement) -> Ranges<Version> {
    match &requirement.version_or_url {
        None => Ranges::full(),
        Some(VersionOrUrl::VersionSpecifier(specifiers)) => Ranges::from(specifiers.clone()),
        Some(VersionOrUrl::Url(_)) => Ranges::empty(),
    }
}

/// Parse `Requires-Dist` through the same guard as input files: an index can send any text.
fn parse_requires_dist(entries: &[String]) -> Result<Vec<Requirement>, InvalidRequirement> {
    entries
        .iter()
        .map(|text| {
            parse_index_requirement(text).map_err(|err| InvalidRequirement {
                text: text.clone(),
                message: err.to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
#[path = "fetch_tests.rs"]
pub(super) mod tests;
