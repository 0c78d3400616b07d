//! [`RegistryClient`]: tag lists (paginated), manifests by tag or digest, config blobs; each answer
//! checked against its digest and cached as long as it can be.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, Url};
use serde::Deserialize;

use super::auth::CredentialStore;
use super::cache::{ImmutableCache, TtlCache};
use super::digest::{Digest, shorten};
use super::error::RegistryError;
use super::link::next_page;
use super::manifest::{Descriptor, ImageConfigBlob, Manifest};
use super::media::{ACCEPT_MANIFESTS, essence};
use super::reference::{Reference, Repository};
use super::referrers::Referrers;
use super::stats::{CacheKind, RegistryStats, RequestKind};
use super::transport::{Fetched, Request, Transport, normalize_insecure};

/// The spec lets registries refuse manifests over 4 MiB; so does this client.
const MANIFEST_LIMIT: usize = 4 * 1024 * 1024;
/// Image configs are small; a generous cap still bounds memory.
const CONFIG_LIMIT: usize = 8 * 1024 * 1024;
/// One page of a tag list.
const TAG_PAGE_LIMIT: usize = 16 * 1024 * 1024;
/// Stop collecting tags past this many: a dashboard cannot show more anyway.
const MAX_TAGS: usize = 100_000;
/// Entries of the digest-keyed caches.
const DIGEST_CACHE_ENTRIES: usize = 16_384;

/// How a [`RegistryClient`] behaves.
#[derive(Debug, Clone)]
pub struct RegistryOptions {
    /// Most requests in flight at once, over all repositories.
    pub concurrency: usize,
    /// How long a tag list (and a tag's digest) is reused.
    pub tag_ttl: Duration,
    /// `HOST[:PORT]`s that may use plain http although not on loopback.
    pub insecure: Vec<String>,
    pub credentials: CredentialStore,
    /// The `n` of tag list requests (registries may ignore it).
    pub page_size: usize,
    /// Most tag list pages followed.
    pub max_pages: usize,
}

impl Default for RegistryOptions {
    fn default() -> RegistryOptions {
        RegistryOptions {
            concurrency: 16,
            tag_ttl: Duration::from_secs(30),
            insecure: Vec::new(),
            credentials: CredentialStore::empty(),
            page_size: 1000,
            max_pages: 1000,
        }
    }
}

/// A manifest as fetched: its digest (verified against the bytes), size and parsed content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedManifest {
    pub digest: Digest,
    /// Bytes of the manifest itself.
    pub size: u64,
    pub manifest: Manifest,
}

/// A read-only OCI distribution client. Cheap to clone; clones share caches and the request bound.
#[derive(Clone)]
pub struct RegistryClient {
    inner: Arc<Inner>,
}

struct Inner {
    transport: Transport,
    manifests: ImmutableCache<Digest, Arc<FetchedManifest>>,
    configs: ImmutableCache<Digest, Arc<ImageConfigBlob>>,
    tag_lists: TtlCache<Repository, Arc<Vec<String>>>,
    tag_digests: TtlCache<(Repository, String), Digest>,
    referrers: TtlCache<(Repository, Digest), Arc<Referrers>>,
    options: RegistryOptions,
}

#[derive(Deserialize)]
struct TagList {
    tags: Option<Vec<String>>,
}

impl RegistryClient {
    /// A client with its own caches.
    ///
    /// # Errors
    ///
    /// [`RegistryError::Client`] when TLS cannot be set up.
    pub fn new(options: RegistryOptions) -> Result<RegistryClient, RegistryError> {
        let insecure: HashSet<String> = options
            .insecure
            .iter()
            .map(|value| normalize_insecure(value))
            .collect();
        let transport = Transport::new(
            options.concurrency,
            options.credentials.clone(),
            insecure,
            Arc::new(RegistryStats::default()),
        )?;
        Ok(RegistryClient {
            inner: Arc::new(Inner {
                transport,
                manifests: ImmutableCache::new(DIGEST_CACHE_ENTRIES),
                configs: ImmutableCache::new(DIGEST_CACHE_ENTRIES),
                tag_lists: TtlCache::new(options.tag_ttl, 1024),
                tag_digests: TtlCache::new(options.tag_ttl, 200_000),
                referrers: TtlCache::new(options.tag_ttl, 200_000),
                options,
            }),
        })
    }

    /// Request and cache counters.
    pub fn stats(&self) -> &RegistryStats {
        &self.inner.transport.stats
    }

    /// The cache of referrer lists, for `referrers.rs`: reused for [`RegistryOptions::tag_ttl`], like a
    /// tag's digest (a referrers list changes as a tag does).
    pub(crate) fn referrers_cache(&self) -> &TtlCache<(Repository, Digest), Arc<Referrers>> {
        &self.inner.referrers
    }

    /// Forget what `tag` pointed to (it was just pushed).
    pub(crate) fn forget_tag(&self, repository: &Repository, tag: &str) {
        self.inner
            .tag_digests
            .remove(&(repository.clone(), tag.to_string()));
    }

    /// The HTTP machinery, for the other files of this module.
    pub(crate) fn transport(&self) -> &Transport {
        &self.inner.transport
    }

    /// Where `repository`'s blob `digest` is served (`…/v2/<name>/blobs/<digest>`), for a link.
    ///
    /// # Errors
    ///
    /// [`RegistryError::Invalid`] when no URL can be made of the names.
    pub fn blob_url(&self, repository: &Repository, digest: &Digest) -> Result<Url, RegistryError> {
        join(
            &self.inner.transport.repository_url(repository)?,
            &format!("blobs/{digest}"),
        )
    }

    /// The options the client was built with.
    pub fn options(&self) -> &RegistryOptions {
        &self.inner.options
    }

    /// Every tag of `repository`, following `Link` pagination, in the registry's order; reused for
    /// [`RegistryOptions::tag_ttl`]. A repository that does not exist is [`RegistryError::NotFound`].
    ///
    /// # Errors
    ///
    /// Any [`RegistryError`].
    pub async fn tags(&self, repository: &Repository) -> Result<Arc<Vec<String>>, RegistryError> {
        let stats = self.stats();
        if let Some(tags) = self.inner.tag_lists.get(repository) {
            stats.cache(CacheKind::TagList, true);
            return Ok(tags);
        }
        stats.cache(CacheKind::TagList, false);
        let base = self.inner.transport.repository_url(repository)?;
        let mut url = join(
            &base,
            &format!("tags/list?n={}", self.inner.options.page_size),
        )?;
        let mut tags = Vec::new();
        for _ in 0..self.inner.options.max_pages.max(1) {
            let what = repository.to_string();
            let request = Request::get(url.clone(), None, RequestKind::Tags, TAG_PAGE_LIMIT, &what);
            let page = self.inner.transport.request(repository, request).await?;
            let list: TagList =
                serde_json::from_slice(&page.body).map_err(|error| RegistryError::Invalid {
                    url: url.to_string(),
                    message: format!("the tag list is not valid JSON: {error}"),
                })?;
            tags.extend(list.tags.unwrap_or_default());
            let next = match page
                .headers
                .get("link")
                .and_then(|value| value.to_str().ok())
            {
                Some(link) => {
                    next_page(&page.url, link).map_err(|message| RegistryError::Invalid {
                        url: url.to_string(),
                        message,
                    })?
                }
                None => None,
            };
            match next {
                Some(next) if tags.len() < MAX_TAGS && next != url => url = next,
                _ => break,
            }
        }
        // A registry repeating itself across pages must not repeat rows.
        let mut seen = HashSet::new();
        tags.retain(|tag| seen.insert(tag.clone()));
        tags.truncate(MAX_TAGS);
        let tags = Arc::new(tags);
        self.inner
            .tag_lists
            .insert(repository.clone(), Arc::clone(&tags));
        Ok(tags)
    }

    /// The manifest `reference` names. By digest: from the cache when there, else fetched and checked
    /// to hash to that digest. By tag: the digest is the registry's `Docker-Content-Digest` (checked
    /// against the body; computed when absent), remembered for [`RegistryOptions::tag_ttl`].
    ///
    /// # Errors
    ///
    /// Any [`RegistryError`]; [`RegistryError::DigestMismatch`] when the body does not match.
    pub async fn manifest(
        &self,
        repository: &Repository,
        reference: &Reference,
    ) -> Result<Arc<FetchedManifest>, RegistryError> {
        let stats = self.stats();
        let known = match reference {
            Reference::Digest(digest) => Some(digest.clone()),
            Reference::Tag(tag) => {
                let digest = self
                    .inner
                    .tag_digests
                    .get(&(repository.clone(), tag.clone()));
                stats.cache(CacheKind::TagDigest, digest.is_some());
                digest
            }
        };
        if let Some(digest) = known {
            let cached = self.inner.manifests.get(&digest);
            stats.cache(CacheKind::Manifest, cached.is_some());
            if let Some(manifest) = cached {
                return Ok(manifest);
            }
        }
        let base = self.inner.transport.repository_url(repository)?;
        let url = join(&base, &format!("manifests/{reference}"))?;
        let what = format!("{repository}:{reference}");
        let request = manifest_request(Method::GET, url, &what);
        let fetched = self.inner.transport.request(repository, request).await?;
        let digest = verified_digest(&fetched, reference)?;
        let content_type = fetched
            .headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .map(essence);
        let manifest =
            Manifest::parse(&fetched.body, content_type.as_deref()).map_err(|message| {
                RegistryError::Invalid {
                    url: fetched.url.to_string(),
                    message,
                }
            })?;
        let manifest = Arc::new(FetchedManifest {
            digest: digest.clone(),
            size: fetched.body.len() as u64,
            manifest,
        });
        self.inner
            .manifests
            .insert(digest.clone(), Arc::clone(&manifest));
        if let Reference::Tag(tag) = reference {
            self.inner
                .tag_digests
                .insert((repository.clone(), tag.clone()), digest);
        }
        Ok(manifest)
    }

    /// The digest `reference` names now, as cheaply as the registry allows: a digest is itself; for a
    /// tag, a `HEAD` of its manifest (which Docker Hub does not count against its pull limit), taking
    /// `Docker-Content-Digest` after checking its form, or, from a registry that sends none, a `GET`
    /// whose body is hashed. Remembered for [`RegistryOptions::tag_ttl`], like [`Self::manifest`]'s.
    ///
    /// # Errors
    ///
    /// Any [`RegistryError`]; [`RegistryError::Invalid`] for a malformed `Docker-Content-Digest`.
    pub async fn manifest_digest(
        &self,
        repository: &Repository,
        reference: &Reference,
    ) -> Result<Digest, RegistryError> {
        let tag = match reference {
            Reference::Digest(digest) => return Ok(digest.clone()),
            Reference::Tag(tag) => tag,
        };
        let key = (repository.clone(), tag.clone());
        let cached = self.inner.tag_digests.get(&key);
        self.stats().cache(CacheKind::TagDigest, cached.is_some());
        if let Some(digest) = cached {
            return Ok(digest);
        }
        let url = join(
            &self.inner.transport.repository_url(repository)?,
            &format!("manifests/{reference}"),
        )?;
        let what = format!("{repository}:{reference}");
        let request = manifest_request(Method::HEAD, url.clone(), &what);
        let head = self.inner.transport.request(repository, request).await?;
        let digest = match header_digest(&head)? {
            Some(digest) => digest,
            None => {
                let request = manifest_request(Method::GET, url, &what);
                let fetched = self.inner.transport.request(repository, request).await?;
                verified_digest(&fetched, reference)?
            }
        };
        self.inner.tag_digests.insert(key, digest.clone());
        Ok(digest)
    }

    /// The image config `descriptor` points to, checked against its digest; cached by digest.
    ///
    /// # Errors
    ///
    /// Any [`RegistryError`].
    pub async fn config(
        &self,
        repository: &Repository,
        descriptor: &Descriptor,
    ) -> Result<Arc<ImageConfigBlob>, RegistryError> {
        let cached = self.inner.configs.get(&descriptor.digest);
        self.stats().cache(CacheKind::Config, cached.is_some());
        if let Some(config) = cached {
            return Ok(config);
        }
        let base = self.inner.transport.repository_url(repository)?;
        let url = join(&base, &format!("blobs/{}", descriptor.digest))?;
        let what = format!("{repository}@{}", descriptor.digest);
        let request = Request::get(url, None, RequestKind::Blob, CONFIG_LIMIT, &what);
        let fetched = self.inner.transport.request(repository, request).await?;
        if !descriptor.digest.matches(&fetched.body) {
            return Err(RegistryError::DigestMismatch {
                url: fetched.url.to_string(),
                expected: descriptor.digest.to_string(),
                actual: descriptor.digest.recompute(&fetched.body).to_string(),
            });
        }
        let config =
            ImageConfigBlob::parse(&fetched.body).map_err(|message| RegistryError::Invalid {
                url: fetched.url.to_string(),
                message,
            })?;
        let config = Arc::new(config);
        self.inner
            .configs
            .insert(descriptor.digest.clone(), Arc::clone(&config));
        Ok(config)
    }
}

/// The digest of a fetched manifest, checked: a digest request must hash to what was asked; a tag
/// request's `Docker-Content-Digest` must hash to the body too (else computed as sha256).
fn verified_digest(fetched: &Fetched, reference: &Reference) -> Result<Digest, RegistryError> {
    let mismatch = |expected: &Digest| RegistryError::DigestMismatch {
        url: fetched.url.to_string(),
        expected: expected.to_string(),
        actual: expected.recompute(&fetched.body).to_string(),
    };
    let header = header_digest(fetched)?;
    match reference {
        Reference::Digest(expected) => {
            if !expected.matches(&fetched.body) {
                return Err(mismatch(expected));
            }
            if let Some(header) = header
                && header != *expected
                && header.algorithm() == expected.algorithm()
            {
                return Err(RegistryError::DigestMismatch {
                    url: fetched.url.to_string(),
                    expected: expected.to_string(),
                    actual: format!("{header} (Docker-Content-Digest)"),
                });
            }
            Ok(expected.clone())
        }
        Reference::Tag(_) => match header {
            Some(header) if header.matches(&fetched.body) => Ok(header),
            Some(header) => Err(mismatch(&header)),
            None => Ok(Digest::sha256_of(&fetched.body)),
        },
    }
}

/// A request for the manifest at `url`, accepting every manifest type (see [`ACCEPT_MANIFESTS`]).
pub(crate) fn manifest_request(method: Method, url: Url, what: &str) -> Request<'_> {
    Request {
        method,
        url,
        accept: Some(ACCEPT_MANIFESTS),
        upload: None,
        kind: RequestKind::Manifest,
        limit: MANIFEST_LIMIT,
        what,
    }
}

/// The answer's `Docker-Content-Digest`, if it sends one; a malformed one is an error.
pub(crate) fn header_digest(fetched: &Fetched) -> Result<Option<Digest>, RegistryError> {
    fetched
        .headers
        .get("docker-content-digest")
        .map(|value| {
            let text = value.to_str().unwrap_or_default().trim();
            text.parse::<Digest>()
                .map_err(|message| RegistryError::Invalid {
                    url: fetched.url.to_string(),
                    message: format!("bad Docker-Content-Digest `{}`: {message}", shorten(text)),
                })
        })
        .transpose()
}

pub(crate) fn join(base: &Url, path: &str) -> Result<Url, RegistryError> {
    base.join(path).map_err(|error| RegistryError::Invalid {
        url: format!("{base}{path}"),
        message: error.to_string(),
    })
}
