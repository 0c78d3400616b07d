//! Registry checks: has the base image's tag moved away from the digest the build plan pins (base
//! drift), and was the image published under the plan's tags built from the current lock?
//!
//! Pure: the caller reads the registry and passes what it saw.

use crate::plan::BuildPlan;
use crate::plan::label::is_built_from;

use super::finding::{Code, Finding, Severity, resolve_command};

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
        let built_from_lock = image
            .lock_sha256
            .as_deref()
            .is_some_and(|label| is_built_from(label, lock_sha256));
        if !built_from_lock {
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

    /// Issue 14: the dashboard's badge reads `sha256:ABC…` as the lock `abc…`; so does the check now.
    #[test]
    fn a_prefixed_uppercase_label_is_the_same_lock() {
        let lock = "ab".repeat(32);
        let labelled = |label: String| RegistryObservation {
            base_digest: None,
            published: vec![published(Some(&label))],
        };
        let same = labelled(format!("sha256:{}", lock.to_uppercase()));
        assert!(check_registry(&plan(None), &lock, &same).is_empty());
        let other = labelled(format!("sha256:{}", "cd".repeat(32)));
        let findings = check_registry(&plan(None), &lock, &other);
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].code, Code::NotRebuilt);
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
