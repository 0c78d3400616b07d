//! The labels a built image carries, spelled once, and the one answer to "was this image built from
//! this lock?" that `fave-lock check`, the dashboard's tag badge and the SBOM attached in the registry
//! all use.

/// `org.opencontainers.image.title`.
pub const TITLE: &str = "org.opencontainers.image.title";
/// `org.opencontainers.image.description`.
pub const DESCRIPTION: &str = "org.opencontainers.image.description";
/// `org.opencontainers.image.version`: the first tag the plan publishes.
pub const VERSION: &str = "org.opencontainers.image.version";
/// `org.opencontainers.image.source`.
pub const SOURCE: &str = "org.opencontainers.image.source";
/// `org.opencontainers.image.revision`: the commit being built (`fave-lock plan --revision`).
pub const REVISION: &str = "org.opencontainers.image.revision";
/// `org.opencontainers.image.base.name`: the base image, fully qualified.
pub const BASE_NAME: &str = "org.opencontainers.image.base.name";
/// `org.opencontainers.image.base.digest`: the digest the plan pins the base image to.
pub const BASE_DIGEST: &str = "org.opencontainers.image.base.digest";
/// sha256 of the image's `requirements.txt`: any built image traces back to its lock.
pub const LOCK_SHA256: &str = "io.fave.lock.sha256";
/// The lock's input hash: which config and inputs produced it.
pub const LOCK_INPUT_HASH: &str = "io.fave.lock.input-hash";

/// The lock sha256 a [`LOCK_SHA256`] value names, in the form `sha256sum` prints: a value may carry the
/// algorithm prefix (`sha256:…`), surrounding space or uppercase hex (a label written by hand, or by
/// another tool), and still name the same lock.
pub fn lock_sha256_of(value: &str) -> String {
    let value = value.trim();
    value
        .strip_prefix("sha256:")
        .unwrap_or(value)
        .to_ascii_lowercase()
}

/// Whether an image (or an artifact) whose [`LOCK_SHA256`] label is `value` was made from the lock whose
/// `requirements.txt` has the sha256 `lock_sha256` (either may carry a `sha256:` prefix).
pub fn is_built_from(value: &str, lock_sha256: &str) -> bool {
    let value = lock_sha256_of(value);
    !value.is_empty() && value == lock_sha256_of(lock_sha256)
}

/// An image's freshness against the current lock, judged from the [`LOCK_SHA256`] label of each of its
/// platform images: the one judgement behind the dashboard's tag badge and `fave-lock check` (whose
/// card in `/api/check` is the same run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Freshness {
    /// Every platform carries a label naming the current lock.
    Fresh,
    /// A platform was built from another lock: this label's (normalised by [`lock_sha256_of`]).
    Stale { built_from: String },
    /// There is no current lock to compare with.
    NoCurrentLock,
    /// No platform carries a label (an image not built by this pipeline, or no platform at all).
    Unlabelled,
    /// Some platforms carry the current lock's label and the others none.
    PartlyUnlabelled,
}

impl Freshness {
    /// Whether the image is known to be built from the current lock.
    pub fn is_fresh(&self) -> bool {
        *self == Freshness::Fresh
    }
}

/// Judge an image whose platforms carry these [`LOCK_SHA256`] labels (`None`: the platform has none)
/// against the current lock's `requirements.txt` sha256. A platform from another lock makes the image
/// stale even when others carry no label.
pub fn freshness(labels: &[Option<&str>], lock_sha256: Option<&str>) -> Freshness {
    let Some(current) = lock_sha256 else {
        return Freshness::NoCurrentLock;
    };
    if labels.iter().all(Option::is_none) {
        return Freshness::Unlabelled;
    }
    if let Some(other) = labels
        .iter()
        .flatten()
        .find(|label| !is_built_from(label, current))
    {
        return Freshness::Stale {
            built_from: lock_sha256_of(other),
        };
    }
    if labels.iter().any(Option::is_none) {
        return Freshness::PartlyUnlabelled;
    }
    Freshness::Fresh
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 14: the dashboard normalised the label while `check` compared it literally, so the same
    /// image could be fresh on the tag badge and not rebuilt in the check card.
    #[test]
    fn the_label_is_read_one_way() {
        let lock = "ab".repeat(32);
        for same in [
            lock.clone(),
            format!("sha256:{lock}"),
            lock.to_uppercase(),
            format!(" sha256:{} ", lock.to_uppercase()),
        ] {
            assert!(is_built_from(&same, &lock), "{same}");
            assert_eq!(lock_sha256_of(&same), lock);
        }
        assert!(is_built_from(&lock, &format!("sha256:{lock}")));
        for other in [
            "cd".repeat(32),
            String::new(),
            "sha256:".into(),
            "SHA256:ab".into(),
        ] {
            assert!(!is_built_from(&other, &lock), "{other}");
        }
        assert!(!is_built_from("", ""));
    }

    #[test]
    fn an_image_is_fresh_only_when_every_platform_names_the_lock() {
        let lock = "ab".repeat(32);
        let prefixed = format!("sha256:{}", lock.to_uppercase());
        let other = "CD".repeat(32);
        let current = Some(lock.as_str());
        assert_eq!(
            freshness(&[Some(&lock), Some(&prefixed)], current),
            Freshness::Fresh
        );
        assert_eq!(
            freshness(&[Some(&lock), Some(&other), None], current),
            Freshness::Stale {
                built_from: "cd".repeat(32)
            }
        );
        assert_eq!(freshness(&[None], current), Freshness::Unlabelled);
        assert_eq!(freshness(&[], current), Freshness::Unlabelled);
        assert_eq!(
            freshness(&[Some(&lock), None], current),
            Freshness::PartlyUnlabelled
        );
        assert_eq!(freshness(&[Some(&lock)], None), Freshness::NoCurrentLock);
    }
}
