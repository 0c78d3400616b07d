//! One image's state as the dashboard and the API show it, gathered in one go: the lock folder, the build
//! plan, every tag in the registry with its platforms, each tag's freshness against the lock, and the
//! base image digest the plan pins beside the one its registry serves now.
//!
//! A snapshot is plain data, built by [`build`] and then only read: pages and JSON are views of it, so
//! they cannot disagree.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use super::lockfiles::{LockView, PlanView, read_lock};
use super::state::ServedImage;
use crate::attach::{SBOM_MEDIA_TYPE, SbomState, image_lock, sbom_status};
use crate::plan::BaseReference;
use crate::plan::label::{self, LOCK_SHA256 as LOCK_LABEL, lock_sha256_of};
use crate::registry::{
    Descriptor, Digest, Manifest, ManifestKind, PlatformImage, Reference, Referrers,
    RegistryClient, RegistryErrorKind, Repository, TagOutcome,
};

/// Whether a published tag was built from the current lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Freshness {
    /// Every platform's `io.fave.lock.sha256` equals the current `requirements.txt`'s sha256.
    Fresh,
    /// Some platform's label names another lock.
    Stale,
    /// No label, no lock, or the tag could not be read.
    Unknown,
}

impl Freshness {
    /// `fresh`, `stale`, `unknown`: the CSS class and the JSON value.
    pub fn as_str(self) -> &'static str {
        match self {
            Freshness::Fresh => "fresh",
            Freshness::Stale => "stale",
            Freshness::Unknown => "unknown",
        }
    }
}

/// One tag as shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct TagView {
    pub tag: String,
    /// `ok`, `error` (manifest unreadable) or `invalid` (not a valid tag name; never requested).
    pub status: &'static str,
    pub digest: Option<Digest>,
    pub kind: Option<ManifestKind>,
    pub media_type: Option<String>,
    pub manifest_size: Option<u64>,
    pub platforms: Vec<PlatformImage>,
    pub freshness: Freshness,
    /// Why: which label was found, against which lock.
    pub freshness_reason: String,
    /// The distinct `io.fave.lock.sha256` values of its platforms.
    pub lock_labels: Vec<String>,
    /// The full reference, when the build plan publishes this tag.
    pub planned_reference: Option<String>,
    pub error: Option<String>,
    /// The SBOM attached to the tag's manifest (`fave-lock attach`); `None` when the tag could not be
    /// described.
    pub sbom: Option<SbomView>,
}

/// Whether an SBOM is attached to a tag's manifest, and whether it is the SBOM of the lock the image's
/// label names (see [`crate::attach::sbom_status`], which `fave-lock check` asks too).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct SbomView {
    /// `matches`, `mismatch`, `none`; `error` when the referrers could not be read.
    pub state: &'static str,
    /// The artifact manifest shown.
    pub artifact: Option<Digest>,
    /// Its `io.fave.lock.sha256`.
    pub lock_sha256: Option<String>,
    /// CycloneDX artifacts referring to the manifest.
    pub count: usize,
    /// The SBOM blob in the registry (`…/v2/<name>/blobs/<digest>`).
    pub blob_url: Option<String>,
    /// Why, in one line: what matched, or what failed.
    pub reason: String,
}

impl TagView {
    /// The newest `created` among its platforms, shortened for display.
    pub fn created(&self) -> String {
        self.platforms
            .iter()
            .filter_map(|platform| platform.created.as_deref())
            .max()
            .map(display_time)
            .unwrap_or_default()
    }

    /// `sha256:0123456789ab…`.
    pub fn short_digest(&self) -> String {
        self.digest
            .as_ref()
            .map(|digest| format!("{}:{}…", digest.algorithm(), digest.short()))
            .unwrap_or_default()
    }

    /// The full digest, or empty.
    pub fn digest_text(&self) -> String {
        self.digest
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default()
    }

    /// Anchor of its manifest's details.
    pub fn anchor(&self) -> String {
        self.digest
            .as_ref()
            .map(|digest| format!("m-{}", digest.short()))
            .unwrap_or_default()
    }
}

/// The registry side of an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum RegistryState {
    /// No `registry` in the config and no `--image` override.
    NotConfigured,
    /// The repository has no tags (or does not exist yet).
    Empty {
        message: Option<String>,
    },
    Ok {
        tags: Vec<TagView>,
    },
    Unreachable {
        message: String,
    },
    AuthFailed {
        message: String,
    },
    Error {
        message: String,
    },
}

impl RegistryState {
    /// The kebab-case state name, as in the JSON.
    pub fn name(&self) -> &'static str {
        match self {
            RegistryState::NotConfigured => "not-configured",
            RegistryState::Empty { .. } => "empty",
            RegistryState::Ok { .. } => "ok",
            RegistryState::Unreachable { .. } => "unreachable",
            RegistryState::AuthFailed { .. } => "auth-failed",
            RegistryState::Error { .. } => "error",
        }
    }

    /// The tags, when there are some.
    pub fn tags(&self) -> &[TagView] {
        match self {
            RegistryState::Ok { tags } => tags,
            _ => &[],
        }
    }

    /// The explanation of a non-ok state.
    pub fn message(&self) -> String {
        match self {
            RegistryState::Empty { message } => message.clone().unwrap_or_default(),
            RegistryState::Unreachable { message }
            | RegistryState::AuthFailed { message }
            | RegistryState::Error { message } => message.clone(),
            RegistryState::NotConfigured | RegistryState::Ok { .. } => String::new(),
        }
    }

    fn from_error(kind: RegistryErrorKind, message: String) -> RegistryState {
        match kind {
            RegistryErrorKind::Unreachable => RegistryState::Unreachable { message },
            RegistryErrorKind::AuthFailed => RegistryState::AuthFailed { message },
            RegistryErrorKind::NotFound => RegistryState::Empty {
                message: Some(format!("the repository does not exist yet ({message})")),
            },
            RegistryErrorKind::Error => RegistryState::Error { message },
        }
    }
}

/// What the base image's tag points to in its registry now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum BaseCurrent {
    Ok {
        digest: Digest,
    },
    /// The reference names no tag, or cannot be parsed: nothing to compare with.
    NotApplicable {
        message: String,
    },
    Unreachable {
        message: String,
    },
    AuthFailed {
        message: String,
    },
    NotFound {
        message: String,
    },
    Error {
        message: String,
    },
}

/// The base image: what the plan pins, what its registry serves now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct BaseImageView {
    pub reference: String,
    pub pinned_digest: Option<String>,
    pub verified: Option<bool>,
    pub current: BaseCurrent,
    /// `Some(true)` when the registry now serves another digest than the plan pins.
    pub drift: Option<bool>,
}

impl BaseImageView {
    /// The current digest as text, or the state and message.
    pub fn current_text(&self) -> String {
        match &self.current {
            BaseCurrent::Ok { digest } => digest.to_string(),
            BaseCurrent::NotApplicable { message } => format!("not checked: {message}"),
            BaseCurrent::Unreachable { message } => format!("unreachable: {message}"),
            BaseCurrent::AuthFailed { message } => format!("authentication failed: {message}"),
            BaseCurrent::NotFound { message } => format!("not found: {message}"),
            BaseCurrent::Error { message } => format!("error: {message}"),
        }
    }

    /// Whether the registry now serves another digest than the plan pins.
    pub fn has_drift(&self) -> bool {
        self.drift == Some(true)
    }

    /// Whether the registry serves exactly the pinned digest.
    pub fn is_pinned_current(&self) -> bool {
        self.drift == Some(false)
    }

    /// Whether the registry answered with a digest.
    pub fn is_current_known(&self) -> bool {
        matches!(self.current, BaseCurrent::Ok { .. })
    }
}

/// One tag the plan publishes and what the registry has under it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct PlannedTag {
    pub reference: String,
    pub tag: String,
    /// Whether the registry has the tag.
    pub published: bool,
    pub digest: Option<Digest>,
    pub freshness: Freshness,
}

/// One manifest digest and the tags that point to it.
#[derive(Debug)]
pub struct ManifestGroup<'a> {
    /// The first tag (in display order) with this digest: its digest, kind and platforms.
    pub first: &'a TagView,
    pub tags: Vec<&'a str>,
}

impl ManifestGroup<'_> {
    /// The tags, comma-separated.
    pub fn tag_list(&self) -> String {
        self.tags.join(", ")
    }
}

/// Everything shown about one image.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct ImageSnapshot {
    pub image: String,
    pub repository: Option<String>,
    /// Grows with every snapshot built, over all images: cached pages name the generations they show.
    pub generation: u64,
    /// RFC 3339, to the second.
    pub fetched_at: String,
    /// How long gathering took.
    pub fetch_ms: u64,
    pub lock: LockView,
    pub plan: Option<PlanView>,
    pub planned_tags: Vec<PlannedTag>,
    pub registry: RegistryState,
    pub base_image: Option<BaseImageView>,
    #[serde(skip)]
    pub built: Instant,
}

impl ImageSnapshot {
    /// Each distinct manifest digest once, with its platforms and every tag pointing to it, in tag order
    /// (the details section of the page).
    pub fn manifests(&self) -> Vec<ManifestGroup<'_>> {
        let mut groups: Vec<ManifestGroup<'_>> = Vec::new();
        let mut positions: std::collections::HashMap<&Digest, usize> =
            std::collections::HashMap::new();
        for tag in self.registry.tags() {
            let Some(digest) = &tag.digest else { continue };
            match positions.get(digest) {
                Some(&position) => groups[position].tags.push(&tag.tag),
                None => {
                    positions.insert(digest, groups.len());
                    groups.push(ManifestGroup {
                        first: tag,
                        tags: vec![&tag.tag],
                    });
                }
            }
        }
        groups
    }

    /// The tag called `name`.
    pub fn tag(&self, name: &str) -> Option<&TagView> {
        self.registry.tags().iter().find(|tag| tag.tag == name)
    }

    /// Counts by freshness: `(fresh, stale, unknown)`.
    pub fn freshness_counts(&self) -> (usize, usize, usize) {
        let tags = self.registry.tags();
        let count = |wanted| tags.iter().filter(|tag| tag.freshness == wanted).count();
        (
            count(Freshness::Fresh),
            count(Freshness::Stale),
            count(Freshness::Unknown),
        )
    }
}

/// Gather one image's snapshot. Never fails: every problem becomes a state or a message in it.
pub async fn build(
    image: &ServedImage,
    registry: &RegistryClient,
    generation: u64,
) -> ImageSnapshot {
    let started = Instant::now();
    let dir = image.lock_dir.clone();
    let display = image.lock_dir_display.clone();
    let (lock, plan) = tokio::task::spawn_blocking(move || read_lock(&dir, &display))
        .await
        .unwrap_or_else(|error| {
            let mut view = LockView::empty(&image.lock_dir_display);
            view.problems
                .push(format!("reading the lock failed: {error}"));
            (view, None)
        });
    let registry_state = async {
        match &image.repository {
            None => RegistryState::NotConfigured,
            Some(repository) => match registry.describe_repository(repository).await {
                Ok(description) if description.tags.is_empty() => {
                    RegistryState::Empty { message: None }
                }
                Ok(description) => {
                    let mut tags: Vec<TagView> = description
                        .tags
                        .into_iter()
                        .map(|outcome| tag_view(outcome, &lock, plan.as_ref()))
                        .collect();
                    add_sboms(registry, repository, &mut tags).await;
                    RegistryState::Ok { tags }
                }
                Err(error) => RegistryState::from_error(error.kind(), error.full_message()),
            },
        }
    };
    let base = base_image(plan.as_ref(), registry);
    let (registry_state, base_image) = tokio::join!(registry_state, base);
    let planned_tags = planned_tags(plan.as_ref(), &registry_state);
    ImageSnapshot {
        image: image.name.clone(),
        repository: image.repository.as_ref().map(ToString::to_string),
        generation,
        fetched_at: display_time(&jiff::Timestamp::now().to_string()),
        fetch_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        lock,
        plan,
        planned_tags,
        registry: registry_state,
        base_image,
        built: Instant::now(),
    }
}

fn tag_view(outcome: TagOutcome, lock: &LockView, plan: Option<&PlanView>) -> TagView {
    let planned_reference = plan
        .and_then(|plan| plan.reference_for(outcome.tag()))
        .map(str::to_string);
    let mut view = TagView {
        tag: outcome.tag().to_string(),
        status: "ok",
        digest: None,
        kind: None,
        media_type: None,
        manifest_size: None,
        platforms: Vec::new(),
        freshness: Freshness::Unknown,
        freshness_reason: String::new(),
        lock_labels: Vec::new(),
        planned_reference,
        error: None,
        sbom: None,
    };
    match outcome {
        TagOutcome::Described(description) => {
            let (freshness, reason, labels) =
                freshness(&description.platforms, lock.requirements_sha256.as_deref());
            view.digest = Some(description.digest);
            view.kind = Some(description.kind);
            view.media_type = Some(description.media_type);
            view.manifest_size = Some(description.manifest_size);
            view.platforms = description.platforms;
            view.freshness = freshness;
            view.freshness_reason = reason;
            view.lock_labels = labels;
        }
        TagOutcome::Failed { error, .. } => {
            view.status = "error";
            view.freshness_reason = "the tag's manifest could not be read".into();
            view.error = Some(error);
        }
        TagOutcome::Invalid { .. } => {
            view.status = "invalid";
            view.freshness_reason = "not a valid tag name; not requested".into();
            view.error = Some("the registry listed a name that is not a valid tag".into());
        }
    }
    view
}

/// Each described tag's SBOM: the referrers of each distinct digest, read once, then judged against the
/// tag's own lock label.
async fn add_sboms(registry: &RegistryClient, repository: &Repository, tags: &mut [TagView]) {
    let digests: BTreeSet<Digest> = tags.iter().filter_map(|tag| tag.digest.clone()).collect();
    let referrers: HashMap<Digest, Result<Arc<Referrers>, String>> =
        futures::future::join_all(digests.into_iter().map(|digest| async move {
            let found = registry
                .referrers(repository, &digest)
                .await
                .map_err(|error| error.full_message());
            (digest, found)
        }))
        .await
        .into_iter()
        .collect();
    for tag in tags.iter_mut() {
        let Some(found) = tag.digest.as_ref().and_then(|digest| referrers.get(digest)) else {
            continue;
        };
        tag.sbom = Some(match found {
            Ok(found) => sbom_view(registry, repository, &found.descriptors, &tag.platforms).await,
            Err(message) => SbomView {
                state: "error",
                artifact: None,
                lock_sha256: None,
                count: 0,
                blob_url: None,
                reason: format!("the referrers could not be read: {message}"),
            },
        });
    }
}

/// One tag's SBOM view, with a link to the blob of the SBOM shown (its artifact manifest's layer).
async fn sbom_view(
    registry: &RegistryClient,
    repository: &Repository,
    referrers: &[Descriptor],
    platforms: &[PlatformImage],
) -> SbomView {
    let lock = image_lock(platforms);
    let status = sbom_status(referrers, lock.as_deref());
    let mut blob_url = None;
    if let Some(artifact) = &status.artifact {
        let reference = Reference::Digest(artifact.clone());
        if let Ok(fetched) = registry.manifest(repository, &reference).await
            && let Manifest::Image { layers, .. } = &fetched.manifest
            && let Some(layer) = layers
                .iter()
                .find(|layer| layer.media_type == SBOM_MEDIA_TYPE)
        {
            blob_url = registry
                .blob_url(repository, &layer.digest)
                .ok()
                .map(String::from);
        }
    }
    let named = |lock: &Option<String>| lock.as_deref().map_or_else(|| "none".to_string(), short);
    let reason = match status.state {
        SbomState::Matches => format!("the SBOM of lock {}", named(&status.lock_sha256)),
        SbomState::Mismatch => format!(
            "{} SBOM(s), the latest of lock {}; the image's label names lock {}",
            status.count,
            named(&status.lock_sha256),
            named(&lock)
        ),
        SbomState::None => "no SBOM attached (fave-lock attach)".to_string(),
    };
    SbomView {
        state: status.state.as_str(),
        artifact: status.artifact,
        lock_sha256: status.lock_sha256,
        count: status.count,
        blob_url,
        reason,
    }
}

/// Compare each platform's lock label with the current lock's sha256.
fn freshness(
    platforms: &[PlatformImage],
    current: Option<&str>,
) -> (Freshness, String, Vec<String>) {
    let labels: Vec<Option<&str>> = platforms
        .iter()
        .map(|platform| platform.labels.get(LOCK_LABEL).map(String::as_str))
        .collect();
    let distinct: Vec<String> = labels
        .iter()
        .flatten()
        .map(|label| lock_sha256_of(label))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let judged = match label::freshness(&labels, current) {
        label::Freshness::Fresh => (
            Freshness::Fresh,
            format!(
                "built from the current lock ({})",
                short(current.unwrap_or_default())
            ),
        ),
        label::Freshness::Stale { built_from } => (
            Freshness::Stale,
            format!(
                "built from lock {}, the current lock is {}",
                short(&built_from),
                short(current.unwrap_or_default())
            ),
        ),
        label::Freshness::NoCurrentLock => (
            Freshness::Unknown,
            "no requirements.txt in the lock folder to compare with".into(),
        ),
        label::Freshness::Unlabelled => (
            Freshness::Unknown,
            format!("no `{LOCK_LABEL}` label on the image"),
        ),
        label::Freshness::PartlyUnlabelled => (
            Freshness::Unknown,
            format!("some platforms carry no `{LOCK_LABEL}` label"),
        ),
    };
    (judged.0, judged.1, distinct)
}

fn short(hex: &str) -> String {
    hex.chars().take(12).collect()
}

fn planned_tags(plan: Option<&PlanView>, registry: &RegistryState) -> Vec<PlannedTag> {
    let Some(plan) = plan else {
        return Vec::new();
    };
    plan.tags
        .iter()
        .map(|reference| {
            let tag = plan
                .tag_names()
                .into_iter()
                .find(|name| plan.reference_for(name) == Some(reference.as_str()))
                .unwrap_or_default()
                .to_string();
            let found = registry.tags().iter().find(|view| view.tag == tag);
            PlannedTag {
                reference: reference.clone(),
                published: found.is_some_and(|view| view.digest.is_some()),
                digest: found.and_then(|view| view.digest.clone()),
                freshness: found.map_or(Freshness::Unknown, |view| view.freshness),
                tag,
            }
        })
        .collect()
}

/// The base image: the plan's pin, and what the reference's tag resolves to now.
async fn base_image(plan: Option<&PlanView>, registry: &RegistryClient) -> Option<BaseImageView> {
    let plan = plan?;
    let reference = plan.base_reference.clone()?;
    // The plan's own reading of the name (no tag means `latest`), so the dashboard compares the digest
    // `resolve` would pin.
    let current = match BaseReference::parse(&reference) {
        Err(message) => BaseCurrent::NotApplicable { message },
        Ok(base) => match registry
            .manifest_digest(&base.repository, &base.reference())
            .await
        {
            Ok(digest) => BaseCurrent::Ok { digest },
            Err(error) => {
                let message = error.full_message();
                match error.kind() {
                    RegistryErrorKind::Unreachable => BaseCurrent::Unreachable { message },
                    RegistryErrorKind::AuthFailed => BaseCurrent::AuthFailed { message },
                    RegistryErrorKind::NotFound => BaseCurrent::NotFound { message },
                    RegistryErrorKind::Error => BaseCurrent::Error { message },
                }
            }
        },
    };
    let drift = match (&current, &plan.base_digest) {
        (BaseCurrent::Ok { digest }, Some(pinned)) => Some(digest.to_string() != *pinned),
        _ => None,
    };
    Some(BaseImageView {
        reference,
        pinned_digest: plan.base_digest.clone(),
        verified: plan.base_verified,
        current,
        drift,
    })
}

/// An RFC 3339 time shortened to the second (`2024-01-02T03:04:05Z`); anything else as given.
pub fn display_time(text: &str) -> String {
    match text.parse::<jiff::Timestamp>() {
        Ok(time) => time
            .round(jiff::Unit::Second)
            .map_or_else(|_| text.to_string(), |rounded| rounded.to_string()),
        Err(_) => text.to_string(),
    }
}

/// Shared, immutable snapshot.
pub type SharedSnapshot = Arc<ImageSnapshot>;

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn platform(label: Option<&str>) -> PlatformImage {
        PlatformImage {
            platform: "linux/amd64".into(),
            digest: Digest::sha256_of(b"x"),
            media_type: String::new(),
            size: 1,
            created: None,
            labels: label
                .map(|value| BTreeMap::from([(LOCK_LABEL.to_string(), value.to_string())]))
                .unwrap_or_default(),
            error: None,
        }
    }

    #[test]
    fn freshness_compares_every_platform() {
        let current = "ab".repeat(32);
        let other = "cd".repeat(32);
        let prefixed = format!("sha256:{}", current.to_uppercase());
        type Case<'a> = (Vec<Option<&'a str>>, Option<&'a str>, Freshness);
        let cases: [Case<'_>; 7] = [
            (
                vec![Some(&current), Some(&prefixed)],
                Some(&current),
                Freshness::Fresh,
            ),
            (
                vec![Some(&current), Some(&other)],
                Some(&current),
                Freshness::Stale,
            ),
            (vec![Some(&other)], Some(&current), Freshness::Stale),
            (vec![None], Some(&current), Freshness::Unknown),
            (
                vec![Some(&current), None],
                Some(&current),
                Freshness::Unknown,
            ),
            (vec![], Some(&current), Freshness::Unknown),
            (vec![Some(&current)], None, Freshness::Unknown),
        ];
        for (labels, lock, expected) in cases {
            let platforms: Vec<_> = labels.iter().map(|label| platform(*label)).collect();
            let (got, reason, _) = freshness(&platforms, lock);
            assert_eq!(got, expected, "{labels:?} {lock:?}: {reason}");
        }
    }

    #[test]
    fn times_are_shown_to_the_second() {
        assert_eq!(
            display_time("2024-01-02T03:04:05.678Z"),
            "2024-01-02T03:04:06Z"
        );
        assert_eq!(display_time("yesterday"), "yesterday");
    }
}
