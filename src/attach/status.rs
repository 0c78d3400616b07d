//! Is an SBOM attached to a published image, and is it the SBOM of the lock the image was built from?
//! One answer for the dashboard's tag row and `check`'s `sbom-missing` finding.

use serde::Serialize;

use super::artifact::SBOM_MEDIA_TYPE;
use crate::plan::label::{LOCK_SHA256, is_built_from, lock_sha256_of};
use crate::registry::{Descriptor, Digest, PlatformImage};

/// What the image's referrers say about its SBOM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SbomState {
    /// An attached SBOM names the lock the image's label names.
    Matches,
    /// SBOMs are attached, none for the image's lock (or the image has no lock label).
    Mismatch,
    /// No CycloneDX artifact refers to the image.
    None,
}

impl SbomState {
    /// `matches`, `mismatch`, `none`: the CSS class and the JSON value.
    pub fn as_str(self) -> &'static str {
        match self {
            SbomState::Matches => "matches",
            SbomState::Mismatch => "mismatch",
            SbomState::None => "none",
        }
    }
}

/// The SBOM state of one image, with the artifact that decided it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SbomStatus {
    pub state: SbomState,
    /// The matching artifact's manifest digest (else the newest-listed SBOM's), if any.
    pub artifact: Option<Digest>,
    /// That artifact's `io.fave.lock.sha256`.
    pub lock_sha256: Option<String>,
    /// How many CycloneDX artifacts refer to the image.
    pub count: usize,
}

/// The SBOM state of an image labelled `image_lock` (its `io.fave.lock.sha256`), whose referrers are
/// `referrers`. The last matching SBOM in the list wins: the referrers tag appends.
pub fn sbom_status(referrers: &[Descriptor], image_lock: Option<&str>) -> SbomStatus {
    let sboms: Vec<&Descriptor> = referrers
        .iter()
        .filter(|descriptor| descriptor.artifact_type.as_deref() == Some(SBOM_MEDIA_TYPE))
        .collect();
    let lock_of = |descriptor: &Descriptor| descriptor.annotations.get(LOCK_SHA256).cloned();
    let matching = image_lock.and_then(|image_lock| {
        sboms.iter().rev().find(|descriptor| {
            lock_of(descriptor).is_some_and(|lock| is_built_from(&lock, image_lock))
        })
    });
    let (state, shown) = match (matching, sboms.last()) {
        (Some(found), _) => (SbomState::Matches, Some(*found)),
        (None, Some(last)) => (SbomState::Mismatch, Some(*last)),
        (None, None) => (SbomState::None, None),
    };
    SbomStatus {
        state,
        artifact: shown.map(|descriptor| descriptor.digest.clone()),
        lock_sha256: shown.and_then(lock_of),
        count: sboms.len(),
    }
}

/// The lock an image was built from: what every platform's `io.fave.lock.sha256` names (read as
/// [`lock_sha256_of`] reads it), when they all carry one and agree.
pub fn image_lock(platforms: &[PlatformImage]) -> Option<String> {
    let mut labels = platforms.iter().map(|platform| {
        platform
            .labels
            .get(LOCK_SHA256)
            .map(|value| lock_sha256_of(value))
    });
    let first = labels.next()??;
    labels
        .all(|label| label.as_deref() == Some(first.as_str()))
        .then_some(first)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn referrer(artifact_type: &str, lock: Option<&str>, n: u8) -> Descriptor {
        Descriptor {
            media_type: crate::registry::OCI_MANIFEST.into(),
            digest: Digest::sha256_of(&[n]),
            size: 1,
            platform: None,
            artifact_type: Some(artifact_type.into()),
            annotations: lock
                .map(|lock| BTreeMap::from([(LOCK_SHA256.to_string(), lock.to_string())]))
                .unwrap_or_default(),
        }
    }

    #[test]
    fn an_sbom_matches_the_lock_the_image_was_built_from() {
        let (lock, old) = ("ab".repeat(32), "cd".repeat(32));
        let signature = referrer("application/vnd.dev.cosign.artifact.sig.v1+json", None, 0);
        let new_sbom = referrer(SBOM_MEDIA_TYPE, Some(&lock), 1);
        let old_sbom = referrer(SBOM_MEDIA_TYPE, Some(&old), 2);
        let state =
            |referrers: &[Descriptor], label: Option<&str>| sbom_status(referrers, label).state;
        assert_eq!(state(&[], Some(&lock)), SbomState::None);
        assert_eq!(
            state(std::slice::from_ref(&signature), Some(&lock)),
            SbomState::None
        );
        let both = [signature.clone(), new_sbom.clone(), old_sbom.clone()];
        let status = sbom_status(&both, Some(&format!("sha256:{}", lock.to_uppercase())));
        assert_eq!(status.state, SbomState::Matches);
        assert_eq!(status.artifact, Some(new_sbom.digest.clone()));
        assert_eq!(status.count, 2);
        assert_eq!(
            state(std::slice::from_ref(&old_sbom), Some(&lock)),
            SbomState::Mismatch
        );
        assert_eq!(state(&both, None), SbomState::Mismatch);
    }
}
