//! Turning PubGrub's derivation tree into a report a platform engineer can act on.

use std::fmt;

use pubgrub::{DefaultStringReporter, DerivationTree, Reporter};
use version_ranges::Ranges;

use super::Target;
use super::package::PubGrubPackage;
use pep440_rs::Version;

/// Why one target failed.
#[derive(Debug, Clone)]
pub struct TargetFailure {
    /// The targets that failed for this same reason (`linux/amd64`).
    pub targets: Vec<String>,
    /// The explanation, one derivation step a line.
    pub report: String,
}

/// The requirements cannot be satisfied on one or more targets.
#[derive(Debug, Clone)]
pub struct NoSolution {
    pub failures: Vec<TargetFailure>,
}

impl NoSolution {
    /// Merge failures with the same explanation, so two platforms failing alike read as one problem.
    pub fn new(failures: Vec<TargetFailure>) -> NoSolution {
        let mut merged: Vec<TargetFailure> = Vec::new();
        for failure in failures {
            match merged
                .iter_mut()
                .find(|existing| existing.report == failure.report)
            {
                Some(existing) => existing.targets.extend(failure.targets),
                None => merged.push(failure),
            }
        }
        NoSolution { failures: merged }
    }
}

pub(super) fn failure(
    target: &Target,
    tree: DerivationTree<PubGrubPackage, Ranges<Version>, String>,
) -> TargetFailure {
    TargetFailure {
        targets: vec![target.oci.clone()],
        report: DefaultStringReporter::report(&tree),
    }
}

impl fmt::Display for NoSolution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the requirements cannot be resolved")?;
        for failure in &self.failures {
            write!(f, "\n\non {}:\n", failure.targets.join(", "))?;
            for line in failure.report.lines() {
                writeln!(f, "  {line}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for NoSolution {}
