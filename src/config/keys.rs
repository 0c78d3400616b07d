//! The keys each table accepts, and the "did you mean" suggestion for a misspelt one.

/// Keys at the top level of `fave-lock.toml`.
pub(super) const TOP_LEVEL_KEYS: &[&str] = &["index-url", "exclude-newer", "apt", "image"];

/// Keys of an `[[image]]` table.
pub(super) const IMAGE_KEYS: &[&str] = &[
    "name",
    "python-version",
    "requirements",
    "output",
    "registry",
    "registry-insecure",
    "allow-sdist",
    "platforms",
    "base-image",
    "tags",
    "apt-packages",
    "labels",
];

/// Keys of one entry of an image's `platforms`.
pub(super) const PLATFORM_KEYS: &[&str] = &["platform", "manylinux"];

/// The allowed key closest to `key`, if it is close enough to be a plausible typo.
///
/// `_` and `-` count as the same and case is ignored, because `python_version` (Python's spelling) and
/// `Python-Version` are the likeliest slips; beyond that, up to a third of the key's length may differ.
pub(super) fn closest<'a>(key: &str, allowed: &[&'a str]) -> Option<&'a str> {
    let normalized = normalize(key);
    let budget = (normalized.chars().count() / 3).max(1);
    allowed
        .iter()
        .map(|candidate| {
            (
                crate::typo::distance(&normalized, &normalize(candidate)),
                *candidate,
            )
        })
        .filter(|(distance, _)| *distance <= budget)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

fn normalize(key: &str) -> String {
    key.to_lowercase().replace('_', "-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(
            closest("python_version", IMAGE_KEYS),
            Some("python-version")
        );
        assert_eq!(closest("plaftorms", IMAGE_KEYS), Some("platforms"));
        assert_eq!(closest("allow_sdists", IMAGE_KEYS), Some("allow-sdist"));
        assert_eq!(closest("images", TOP_LEVEL_KEYS), Some("image"));
        assert_eq!(closest("wheels", IMAGE_KEYS), None);
    }
}
