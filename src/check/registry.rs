//! Registry checks: has the base image's tag moved away from the digest the build plan pins (base
//! drift), and was the image published under the plan's tags built from the current lock?
//!
//! Pure: the caller reads the registry and passes what it saw.

use crate::plan::BuildPlan;

use super::finding::{Code, Finding, Severity, resolve_command};

/// The label carrying the sha256 of the `requirements.txt` an image was built from.
pub const LOCK_LABEL: &str = "io.fave.lock.sha256";

/// What the registry says now.
#[derive(Debug, Clone, Default)]
pub struct RegistryObservation {
    /// The digest the base image's tag points to now; `None` when it was not asked.
    pub base_digest: Option<String>,
    /// Each platform image published under one of the plan's tags.
    pub published: Vec<PublishedImage>,
}

/// One platform's image under a published tag.
#[derive(Debug, Clone)]
pub struct PublishedImage {
    /// The full reference (`ghcr.io/org/fave-base:0.1`).
    pub reference: String,
    /// `linux/amd64`.
    pub platform: String,
    /// Its `io.fave.lock.sha256` label, if any.
    pub lock_sha256: Option<String>,
}

/// Compare the plan and the current lock with what the registry says.
pub fn check_registry(
    plan: &BuildPlan,
    lock_sha256: &str,
    observed: &RegistryObservation,
) -> Vec<Finding> {
    let finding = |code: Code, reason: String, fix: String| Finding {
        code,
        severity: Severity::Stale,
        image: plan.image.clone(),
        package: None,
        version: None,
        reason,
        fix,
        location: None,
    };
    let mut findings = Vec::new();
    if let (Some(pinned), Some(now)) = (&plan.base_image.digest, &observed.base_digest)
        && pinned != now
    {
        findings.push(finding(
            Code::BaseDrift,
            format!(
                "base image `{}` now points to {now}; the build plan pins {pinned}",
                plan.base_image.name
            ),
            resolve_command(&plan.image),
        ));
    }
    for image in &observed.published {
        if image.lock_sha256.as_deref() != Some(lock_sha256) {
            findings.push(finding(
                Code::NotRebuilt,
                format!(
                    "`{}` ({}) was built from lock sha256 {}; the current lock is {lock_sha256}",
                    image.reference,
                    image.platform,
                    image.lock_sha256.as_deref().unwrap_or("(no label)")
                ),
                format!(
                    "rebuild and push `{}` from the current lock",
                    image.reference
                ),
            ));
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(digest: Option<&str>) -> BuildPlan {
        let mut plan =
            BuildPlan::from_json(include_str!("../../locks/fave-base/build-plan.json")).unwrap();
        plan.base_image.digest = digest.map(str::to_string);
        plan
    }

    fn published(label: Option<&str>) -> PublishedImage {
        PublishedImage {
            reference: "ghcr.io/fave-project/fave-base:0.1".into(),
            platform: "linux/amd64".into(),
            lock_sha256: label.map(str::to_string),
        }
    }

    #[test]
    fn base_drift_and_not_rebuilt() {
        let same = RegistryObservation {
            base_digest: Some("sha256:aa".into()),
            published: vec![published(Some("abc"))],
        };
        assert!(check_registry(&plan(Some("sha256:aa")), "abc", &same).is_empty());
        // A plan without a pinned digest has nothing to drift from.
        assert!(check_registry(&plan(None), "abc", &same).is_empty());
        let moved = RegistryObservation {
            base_digest: Some("sha256:bb".into()),
            published: vec![published(None)],
        };
        let findings: Vec<String> = check_registry(&plan(Some("sha256:aa")), "abc", &moved)
            .iter()
            .map(|f| format!("{} {}; fix: {}", f.code, f.reason, f.fix))
            .collect();
        assert_eq!(
            findings,
            [
                "base-drift base image `python:3.11-slim` now points to sha256:bb; the build plan pins sha256:aa; fix: fave-lock resolve --image=fave-base",
                "not-rebuilt `ghcr.io/fave-project/fave-base:0.1` (linux/amd64) was built from lock sha256 (no label); the current lock is abc; fix: rebuild and push `ghcr.io/fave-project/fave-base:0.1` from the current lock",
            ]
        );
    }
}
