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
}
