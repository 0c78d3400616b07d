//! Turning PubGrub's derivation tree into data (for the diagnosis) and text (for people).

use std::fmt;

use pep440_rs::Version;
use pep508_rs::{ExtraName, PackageName};
use pubgrub::{DefaultStringReporter, DerivationTree, External, Reporter};
use version_ranges::Ranges;

use super::Target;
use super::package::PubGrubPackage;

/// A fact PubGrub used to prove there is no solution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incompatibility {
    /// No release of `package` in `range` exists on the index.
    NoVersions {
        package: PackageName,
        range: Ranges<Version>,
    },
    /// Releases of `package` in `range` exist but cannot be used, for `reason`.
    Unavailable {
        package: PackageName,
        range: Ranges<Version>,
        reason: String,
    },
    /// `from` (the input when `None`) in `from_range` requires `to` (with `extra`) in `to_range`.
    Dependency {
        from: Option<PackageName>,
        /// The extra of `from` whose requirement this is (`psycopg[c]` → psycopg-c), if any.
        from_extra: Option<ExtraName>,
        from_range: Ranges<Version>,
        to: PackageName,
        extra: Option<ExtraName>,
        to_range: Ranges<Version>,
    },
}

/// Why one target failed.
#[derive(Debug, Clone)]
pub struct TargetFailure {
    /// The targets that failed for this same reason (`linux/amd64`).
    pub targets: Vec<String>,
    /// The explanation, one derivation step a line.
    pub report: String,
    /// The external facts of the proof, deduplicated, in the order PubGrub met them.
    pub incompatibilities: Vec<Incompatibility>,
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

type Tree = DerivationTree<PubGrubPackage, Ranges<Version>, String>;

pub(super) fn failure(target: &Target, tree: &Tree) -> TargetFailure {
    let mut incompatibilities = Vec::new();
    collect(tree, &mut incompatibilities);
    TargetFailure {
        targets: vec![target.oci.clone()],
        report: DefaultStringReporter::report_with_formatter(tree, &super::wording::Wording),
        incompatibilities,
    }
}

fn collect(tree: &Tree, out: &mut Vec<Incompatibility>) {
    match tree {
        DerivationTree::Derived(derived) => {
            collect(&derived.cause1, out);
            collect(&derived.cause2, out);
        }
        DerivationTree::External(external) => {
            if let Some(fact) = convert(external)
                && !out.contains(&fact)
            {
                out.push(fact);
            }
        }
    }
}

fn convert(
    external: &External<PubGrubPackage, Ranges<Version>, String>,
) -> Option<Incompatibility> {
    match external {
        External::NotRoot(..) => None,
        External::NoVersions(package, range) => Some(Incompatibility::NoVersions {
            package: package.name()?.clone(),
            range: range.clone(),
        }),
        External::Custom(package, range, reason) => Some(Incompatibility::Unavailable {
            package: package.name()?.clone(),
            range: range.clone(),
            reason: reason.clone(),
        }),
        External::FromDependencyOf(from, from_range, to, to_range) => {
            let (to_name, extra) = match to {
                PubGrubPackage::Root => return None,
                PubGrubPackage::Package(name) => (name.clone(), None),
                PubGrubPackage::Extra(name, extra) => (name.clone(), Some(extra.clone())),
            };
            let from_extra = match from {
                PubGrubPackage::Extra(_, extra) => Some(extra.clone()),
                _ => None,
            };
            Some(Incompatibility::Dependency {
                from: from.name().cloned(),
                from_extra,
                from_range: from_range.clone(),
                to: to_name,
                extra,
                to_range: to_range.clone(),
            })
        }
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
