//! Registry checks: has the base image's tag moved away from the digest the build plan pins (base
//! drift), was the image published under the plan's tags built from the current lock, and does it
//! carry that lock's SBOM (`fave-lock attach`)?
//!
//! Pure: the caller reads the registry and passes what it saw.

use crate::attach::{SbomState, SbomStatus};
use crate::plan::BuildPlan;
use crate::plan::label::{freshness, is_built_from};

use super::finding::{Code, Finding, Severity, resolve_command};

/// What the registry says now.
#[derive(Debug, Clone, Default)]
pub struct RegistryObservation {
    /// The digest the base image's tag points to now; `None` when it was not asked.
    pub base_digest: Option<String>,
    /// Each platform image published under one of the plan's tags.
    pub published: Vec<PublishedImage>,
    /// The SBOMs attached to each tag the plan publishes.
    pub sboms: Vec<PublishedSbom>,
}

/// The SBOM state of one published tag.
#[derive(Debug, Clone)]
pub struct PublishedSbom {
    /// The full reference (`ghcr.io/org/fave-base:0.1`).
    pub reference: String,
    /// The lock every platform's label names, when they agree.
    pub image_lock: Option<String>,
    pub status: SbomStatus,
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
        severity: Severity::of(code),
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
        // The dashboard's judgement of one platform; an image without the label is not known to be
        // from this lock, which the badge shows as unknown and a gate cannot pass.
        if !freshness(&[image.lock_sha256.as_deref()], Some(lock_sha256)).is_fresh() {
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
    for sbom in &observed.sboms {
        let from_current_lock = sbom
            .image_lock
            .as_deref()
            .is_some_and(|label| is_built_from(label, lock_sha256));
        // An image from another lock is `not-rebuilt`: its fix comes first, then the attach.
        if !from_current_lock || sbom.status.state == SbomState::Matches {
            continue;
        }
        let reason = match (sbom.status.count, &sbom.status.lock_sha256) {
            (0, _) => format!("`{}` has no SBOM attached in the registry", sbom.reference),
            (count, lock) => format!(
                "`{}` has {count} SBOM(s) attached, none of its lock {lock_sha256} (the latest names {})",
                sbom.reference,
                lock.as_deref().unwrap_or("no lock")
            ),
        };
        findings.push(finding(
            Code::SbomMissing,
            reason,
            format!("fave-lock attach {} {}", plan.image, sbom.reference),
        ));
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
            sboms: Vec::new(),
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
            sboms: Vec::new(),
        };
        assert!(check_registry(&plan(Some("sha256:aa")), "abc", &same).is_empty());
        // A plan without a pinned digest has nothing to drift from.
        assert!(check_registry(&plan(None), "abc", &same).is_empty());
        let moved = RegistryObservation {
            base_digest: Some("sha256:bb".into()),
            published: vec![published(None)],
            sboms: Vec::new(),
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

    #[test]
    fn a_current_image_without_its_sbom() {
        let lock = "ab".repeat(32);
        let tagged =
            |image_lock: Option<&str>, state: SbomState, count: usize| RegistryObservation {
                base_digest: None,
                published: Vec::new(),
                sboms: vec![PublishedSbom {
                    reference: "ghcr.io/fave-project/fave-base:0.1".into(),
                    image_lock: image_lock.map(str::to_string),
                    status: SbomStatus {
                        state,
                        artifact: None,
                        lock_sha256: (count > 0).then(|| "cd".repeat(32)),
                        count,
                    },
                }],
            };
        let findings = |observed: RegistryObservation| -> Vec<String> {
            check_registry(&plan(None), &lock, &observed)
                .iter()
                .map(|f| format!("{} {}; fix: {}", f.code, f.reason, f.fix))
                .collect()
        };
        assert_eq!(
            findings(tagged(Some(&lock), SbomState::None, 0)),
            [
                "sbom-missing `ghcr.io/fave-project/fave-base:0.1` has no SBOM attached in the registry; fix: fave-lock attach fave-base ghcr.io/fave-project/fave-base:0.1"
            ]
        );
        assert_eq!(
            findings(tagged(Some(&lock), SbomState::Mismatch, 1))[0],
            format!(
                "sbom-missing `ghcr.io/fave-project/fave-base:0.1` has 1 SBOM(s) attached, none of its lock {lock} (the latest names {}); fix: fave-lock attach fave-base ghcr.io/fave-project/fave-base:0.1",
                "cd".repeat(32)
            )
        );
        assert!(findings(tagged(Some(&lock), SbomState::Matches, 1)).is_empty());
        // Not built from the current lock: `not-rebuilt` says so, with the fix that comes first.
        assert!(findings(tagged(Some(&"cd".repeat(32)), SbomState::None, 0)).is_empty());
        assert!(findings(tagged(None, SbomState::None, 0)).is_empty());
    }
}
