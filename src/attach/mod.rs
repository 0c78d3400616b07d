//! The SBOM in the registry: `fave-lock attach IMAGE REFERENCE` pushes `locks/<image>/sbom.cdx.json`
//! as an OCI 1.1 artifact whose `subject` is the pushed image, and the dashboard and `check` read it
//! back through the image's referrers.
//!
//! ```text
//! local.rs     sbom.cdx.json + the lock it names (+ the build plan) ─▶ LocalSbom, or an integrity error
//! artifact.rs  LocalSbom + the subject's descriptor ─▶ the artifact manifest (pure)
//! status.rs    an image's referrers + its lock label ─▶ SbomStatus (dashboard badge, `sbom-missing`)
//! ```
//!
//! The artifact is what `oras attach --artifact-type application/vnd.cyclonedx+json` makes: an image
//! manifest with that `artifactType`, the empty config, one layer holding the file (titled with its
//! name), and annotations naming the lock (`io.fave.lock.sha256`) and the time. It is listed where
//! `oras discover` and `cosign tree` look: the referrers API, or the referrers tag `sha256-<hex>`,
//! where a second attach appends (as `oras attach` does) and never removes the first.

mod artifact;
mod local;
mod status;

pub use artifact::{EMPTY_CONFIG, EMPTY_MEDIA_TYPE, SBOM_MEDIA_TYPE, sbom_manifest};
pub use local::{LocalSbom, read_local};
pub use status::{SbomState, SbomStatus, image_lock, sbom_status};

use std::path::PathBuf;

use jiff::Timestamp;

use crate::registry::{
    Descriptor, Digest, ImageReference, OCI_MANIFEST, Reference, ReferrersSource, RegistryClient,
    RegistryError,
};

/// Why an SBOM could not be attached.
#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    /// A file of the lock folder cannot be read.
    #[error("cannot read `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The SBOM on disk is not the SBOM of the lock beside it: attaching it would describe another
    /// image than the one built from the lock.
    #[error("`{}` does not match the lock it claims: {message}; run `fave-lock sbom {image}` to rewrite it", path.display())]
    SbomMismatch {
        image: String,
        path: PathBuf,
        message: String,
    },
    /// The lock files do not match the build plan (the same check as `fave-lock plan`).
    #[error(transparent)]
    Plan(#[from] crate::plan::PlanError),
    /// `pylock.toml` cannot be read as a lock.
    #[error(transparent)]
    Lock(#[from] crate::lock::LockReadError),
    /// The reference is not an image reference.
    #[error("`{reference}` is not an image reference: {message}")]
    Reference { reference: String, message: String },
    /// The registry refused or failed a request.
    #[error("cannot attach the SBOM to `{reference}`")]
    Registry {
        reference: String,
        #[source]
        source: Box<RegistryError>,
    },
}

impl AttachError {
    /// Whether this is an integrity failure (exit 3): the SBOM or a lock file is not what it claims.
    pub fn is_integrity(&self) -> bool {
        matches!(
            self,
            AttachError::SbomMismatch { .. }
                | AttachError::Plan(crate::plan::PlanError::LockMismatch { .. })
        )
    }
}

/// What `attach` did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Attached {
    /// `127.0.0.1:5000/fave-base@sha256:…`: the image the SBOM is attached to.
    pub subject: String,
    /// The artifact manifest's digest.
    pub artifact: Digest,
    /// The SBOM blob's digest.
    pub blob: Digest,
    /// Where the registry lists it.
    pub listed_in: ReferrersSource,
}

/// Attach `sbom` to the manifest (or index) `reference` names, stamped `created`.
///
/// # Errors
///
/// [`AttachError::Reference`] for a bad reference, [`AttachError::Registry`] when a request fails.
pub async fn attach(
    client: &RegistryClient,
    reference: &str,
    sbom: &LocalSbom,
    created: Timestamp,
) -> Result<Attached, AttachError> {
    let image: ImageReference = reference
        .parse()
        .map_err(|message| AttachError::Reference {
            reference: reference.to_string(),
            message,
        })?;
    let registry_error = |source| AttachError::Registry {
        reference: reference.to_string(),
        source: Box::new(source),
    };
    let repository = &image.repository;
    let wanted = match (&image.digest, &image.tag) {
        (Some(digest), _) => Reference::Digest(digest.clone()),
        (None, Some(tag)) => Reference::Tag(tag.clone()),
        (None, None) => Reference::Tag("latest".to_string()),
    };
    let fetched = client
        .manifest(repository, &wanted)
        .await
        .map_err(registry_error)?;
    let subject = Descriptor {
        media_type: fetched.manifest.media_type().to_string(),
        digest: fetched.digest.clone(),
        size: fetched.size,
        platform: None,
        artifact_type: None,
        annotations: std::collections::BTreeMap::new(),
    };
    client
        .push_blob(repository, EMPTY_CONFIG)
        .await
        .map_err(registry_error)?;
    let blob = client
        .push_blob(repository, &sbom.bytes)
        .await
        .map_err(registry_error)?;
    let manifest = sbom_manifest(sbom, &subject, created);
    let artifact = Descriptor {
        media_type: OCI_MANIFEST.to_string(),
        digest: Digest::sha256_of(&manifest.bytes),
        size: manifest.bytes.len() as u64,
        platform: None,
        artifact_type: Some(SBOM_MEDIA_TYPE.to_string()),
        annotations: manifest.annotations,
    };
    let pushed = client
        .push_manifest(
            repository,
            &Reference::Digest(artifact.digest.clone()),
            OCI_MANIFEST,
            &manifest.bytes,
        )
        .await
        .map_err(registry_error)?;
    let listed_in = client
        .add_referrer(repository, &subject.digest, &pushed, &artifact)
        .await
        .map_err(registry_error)?;
    Ok(Attached {
        subject: format!("{repository}@{}", subject.digest),
        artifact: artifact.digest,
        blob,
        listed_in,
    })
}
