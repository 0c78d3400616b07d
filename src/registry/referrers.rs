//! Which artifacts refer to a manifest (an OCI 1.1 manifest's `subject`): read from the registry's
//! referrers API (`GET /v2/<name>/referrers/<digest>`) where it has one, else from the referrers tag
//! schema, an image index tagged `sha256-<hex>` that lists them, which is what `oras attach`,
//! `cosign attach` and `oras discover` use on a registry without the API (Debian's `docker-registry`
//! 2.8 is one). Adding a referrer to that index appends it, as `oras attach` does.
//!
//! See the distribution spec's "Listing Referrers" and "Referrers Tag Schema".

use std::sync::Arc;

use reqwest::Method;

use super::client::{RegistryClient, join, manifest_request};
use super::digest::Digest;
use super::error::{RegistryError, RegistryErrorKind};
use super::manifest::{Descriptor, Manifest};
use super::media::{OCI_INDEX, essence};
use super::push::PushedManifest;
use super::reference::{Reference, Repository};
use super::stats::{CacheKind, RequestKind};
use super::transport::Request;

/// A referrers list is an index; the same cap as any manifest.
const REFERRERS_LIMIT: usize = 4 * 1024 * 1024;

/// Where a subject's referrers were found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReferrersSource {
    /// The registry's referrers API.
    Api,
    /// The index tagged `sha256-<hex>`.
    TagSchema,
}

/// The artifacts that name a manifest as their subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Referrers {
    pub source: ReferrersSource,
    /// One descriptor per referring manifest, with its `artifactType` and annotations.
    pub descriptors: Vec<Descriptor>,
}

/// The referrers tag of `subject`: `sha256:<hex>` → `sha256-<hex>`.
pub fn referrers_tag(subject: &Digest) -> String {
    format!("{}-{}", subject.algorithm(), subject.hex())
}

/// Whether `tag` is a referrers tag (`sha256-` and a digest's hex) rather than an image's tag.
pub fn is_referrers_tag(tag: &str) -> bool {
    tag.split_once('-')
        .is_some_and(|(algorithm, hex)| format!("{algorithm}:{hex}").parse::<Digest>().is_ok())
}

impl RegistryClient {
    /// The artifacts referring to `subject` in `repository`: the referrers API's list, else the
    /// referrers tag's index (none when that tag does not exist); reused for
    /// [`super::RegistryOptions::tag_ttl`].
    ///
    /// # Errors
    ///
    /// Any [`RegistryError`] but a 404.
    pub async fn referrers(
        &self,
        repository: &Repository,
        subject: &Digest,
    ) -> Result<Arc<Referrers>, RegistryError> {
        let key = (repository.clone(), subject.clone());
        let cached = self.referrers_cache().get(&key);
        self.stats().cache(CacheKind::Referrers, cached.is_some());
        if let Some(referrers) = cached {
            return Ok(referrers);
        }
        let referrers = Arc::new(self.fetch_referrers(repository, subject).await?);
        self.referrers_cache().insert(key, Arc::clone(&referrers));
        Ok(referrers)
    }

    async fn fetch_referrers(
        &self,
        repository: &Repository,
        subject: &Digest,
    ) -> Result<Referrers, RegistryError> {
        if let Some(descriptors) = self.referrers_api(repository, subject).await? {
            return Ok(Referrers {
                source: ReferrersSource::Api,
                descriptors,
            });
        }
        let tag = Reference::Tag(referrers_tag(subject));
        let descriptors = match self.manifest(repository, &tag).await {
            Ok(fetched) => match &fetched.manifest {
                Manifest::Index { manifests, .. } => manifests.clone(),
                Manifest::Image { .. } => Vec::new(),
            },
            Err(error) if error.kind() == RegistryErrorKind::NotFound => Vec::new(),
            Err(error) => return Err(error),
        };
        Ok(Referrers {
            source: ReferrersSource::TagSchema,
            descriptors,
        })
    }

    /// List `artifact`, a manifest already pushed whose `subject` is `subject`, among the subject's
    /// referrers: nothing to do when the registry took the subject itself (`OCI-Subject` on the push)
    /// or has the referrers API; else fetch the referrers tag's index (or start one), append the
    /// descriptor unless it is listed already, and push the index back under the tag.
    ///
    /// # Errors
    ///
    /// Any [`RegistryError`]; [`RegistryError::Invalid`] when the referrers tag holds no index.
    pub async fn add_referrer(
        &self,
        repository: &Repository,
        subject: &Digest,
        pushed: &PushedManifest,
        artifact: &Descriptor,
    ) -> Result<ReferrersSource, RegistryError> {
        self.referrers_cache()
            .remove(&(repository.clone(), subject.clone()));
        if pushed.subject.is_some() || self.referrers_api(repository, subject).await?.is_some() {
            return Ok(ReferrersSource::Api);
        }
        let tag = Reference::Tag(referrers_tag(subject));
        let url = join(
            &self.transport().repository_url(repository)?,
            &format!("manifests/{tag}"),
        )?;
        let what = format!("{repository}:{tag}");
        let fetched = self
            .transport()
            .request(
                repository,
                manifest_request(Method::GET, url.clone(), &what),
            )
            .await;
        let mut index = match fetched {
            Ok(fetched) => serde_json::from_slice::<serde_json::Value>(&fetched.body)
                .ok()
                .filter(|index| index["manifests"].is_array())
                .ok_or_else(|| RegistryError::Invalid {
                    url: url.to_string(),
                    message: "the referrers tag does not hold an image index".into(),
                })?,
            Err(error) if error.kind() == RegistryErrorKind::NotFound => serde_json::json!({
                "schemaVersion": 2,
                "mediaType": OCI_INDEX,
                "manifests": [],
            }),
            Err(error) => return Err(error),
        };
        let manifests =
            index["manifests"]
                .as_array_mut()
                .ok_or_else(|| RegistryError::Invalid {
                    url: url.to_string(),
                    message: "the referrers index has no manifests".into(),
                })?;
        let digest = artifact.digest.to_string();
        if !manifests.iter().any(|entry| entry["digest"] == *digest) {
            manifests.push(artifact.to_oci_json());
            let bytes = serde_json::to_vec(&index).unwrap_or_default();
            self.push_manifest(repository, &tag, OCI_INDEX, &bytes)
                .await?;
            self.forget_tag(repository, &referrers_tag(subject));
        }
        Ok(ReferrersSource::TagSchema)
    }

    /// The referrers API's list, or `None` when the registry has no such API (see [`is_unsupported`]).
    async fn referrers_api(
        &self,
        repository: &Repository,
        subject: &Digest,
    ) -> Result<Option<Vec<Descriptor>>, RegistryError> {
        let base = self.transport().repository_url(repository)?;
        let url = join(&base, &format!("referrers/{subject}"))?;
        let what = format!("the referrers of {repository}@{subject}");
        let request = Request::get(
            url.clone(),
            Some(OCI_INDEX),
            RequestKind::Referrers,
            REFERRERS_LIMIT,
            &what,
        );
        let fetched = match self.transport().request(repository, request).await {
            Ok(fetched) => fetched,
            Err(error) if is_unsupported(&error) => return Ok(None),
            Err(error) => return Err(error),
        };
        let content_type = fetched
            .headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .map(essence);
        match Manifest::parse(&fetched.body, content_type.as_deref()) {
            Ok(Manifest::Index { manifests, .. }) => Ok(Some(manifests)),
            Ok(Manifest::Image { .. }) | Err(_) => Err(RegistryError::Invalid {
                url: url.to_string(),
                message: "the referrers API answered without an image index".into(),
            }),
        }
    }
}

/// A registry without the referrers API answers 404 (the spec's rule); some older ones answer 400,
/// 405 or 501 for a path they do not route. None of these is a failure: the tag schema applies.
fn is_unsupported(error: &RegistryError) -> bool {
    match error {
        RegistryError::NotFound { .. } => true,
        RegistryError::Status { status, .. } => matches!(status, 400 | 405 | 406 | 501),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn referrers_tags() {
        let digest = Digest::sha256_of(b"{}");
        let tag = referrers_tag(&digest);
        assert_eq!(tag, format!("sha256-{}", digest.hex()));
        assert!(is_referrers_tag(&tag));
        assert!(crate::registry::is_valid_tag(&tag));
        for image_tag in [
            "latest",
            "0.1",
            "sha256-abc",
            "3.11-slim",
            &tag.to_uppercase(),
        ] {
            assert!(!is_referrers_tag(image_tag), "{image_tag}");
        }
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    /// A registry with the referrers API (OCI distribution 1.1) lists the artifact itself: its list is
    /// read from the API, and attaching never touches the referrers tag.
    #[test]
    fn a_registry_with_the_referrers_api_is_asked_there() {
        use crate::registry::fake::{FakeRegistry, answer};
        use crate::registry::{RegistryClient, RegistryOptions};
        let subject = Digest::sha256_of(b"image");
        let artifact = Digest::sha256_of(b"artifact");
        let list = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{artifact}","size":9,"artifactType":"application/vnd.cyclonedx+json","annotations":{{"io.fave.lock.sha256":"ab"}}}}]}}"#
        );
        let index_type = format!("Content-Type: {OCI_INDEX}");
        let registry = FakeRegistry::bind().serve(vec![
            answer("200 OK", &[&index_type], &list),
            answer("200 OK", &[&index_type], &list),
        ]);
        let repository: Repository = format!("{}/fave-base", registry.authority).parse().unwrap();
        let client = RegistryClient::new(RegistryOptions::default()).unwrap();
        let runtime = runtime();
        let found = runtime
            .block_on(client.referrers(&repository, &subject))
            .unwrap();
        assert_eq!(found.source, ReferrersSource::Api);
        assert_eq!(found.descriptors[0].digest, artifact);
        assert_eq!(
            found.descriptors[0].artifact_type.as_deref(),
            Some("application/vnd.cyclonedx+json")
        );
        assert_eq!(
            found.descriptors[0].annotations["io.fave.lock.sha256"],
            "ab"
        );
        // Cached: the second answer is left for `add_referrer`, which finds the API and stops there.
        assert_eq!(
            *runtime
                .block_on(client.referrers(&repository, &subject))
                .unwrap(),
            *found
        );
        let pushed = PushedManifest {
            digest: artifact.clone(),
            subject: None,
        };
        let source = runtime
            .block_on(client.add_referrer(&repository, &subject, &pushed, &found.descriptors[0]))
            .unwrap();
        assert_eq!(source, ReferrersSource::Api);
        let requests = registry.requests();
        assert_eq!(requests.len(), 2, "{requests:?}");
        for request in &requests {
            assert!(
                request.starts_with(&format!("get /v2/fave-base/referrers/{subject} ")),
                "{requests:?}"
            );
        }
        // A push the registry answered with `OCI-Subject` needs no request at all.
        let pushed = PushedManifest {
            digest: artifact,
            subject: Some(subject.to_string()),
        };
        let source = runtime
            .block_on(client.add_referrer(&repository, &subject, &pushed, &found.descriptors[0]))
            .unwrap();
        assert_eq!(source, ReferrersSource::Api);
    }
}
