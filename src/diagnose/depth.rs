//! Problems below the input lines: a dependency, one or more levels down, with no release the target
//! can install (sdist only where sdists are not allowed, no wheel for this Python, requires-python,
//! uploaded after the cutoff, no release in the range asked for). Found among the facts of PubGrub's
//! proof, reported at the input line that pulls it in, with the chain from that line, and with fixes
//! at the level the user controls: drop the extra, change the top-level pin, allow that sdist, move
//! the line to an image on an older Python.

use std::collections::{BTreeSet, VecDeque};
use std::fmt::Write;
use std::ops::Bound;

use pep440_rs::Version;
use pep508_rs::{ExtraName, PackageName, Requirement, VersionOrUrl};
use version_ranges::Ranges;

use super::conflict::declared_requirement;
use super::unit::{constrained, move_fix, pin_edit, pinned_releases};
use super::working::Working;
use super::{Code, DiagnoseContext, Edit, Fix, Problem};
use crate::requirements::InputRequirement;
use crate::resolve::{
    Incompatibility, NoSolution, ResolveError, Resolver, Unusable, wheels_only_for,
};

/// The most releases of the top-level package tried in each direction when looking for one whose
/// closure installs.
const MAX_TRIALS: usize = 4;
/// The most releases in each direction whose metadata is read to skip hopeless trials.
const MAX_READS: usize = 16;
/// Releases named one by one before the list is shortened to "first … last (N releases)".
const MAX_LISTED: usize = 3;

/// A dependency fact of the proof: `from` (the input when `None`, through `from_extra`) in `from_range`
/// requires `to` in `range`.
#[derive(Debug, Clone)]
pub(super) struct Step {
    pub(super) from: Option<PackageName>,
    pub(super) from_extra: Option<ExtraName>,
    pub(super) from_range: Ranges<Version>,
    pub(super) to: PackageName,
    pub(super) range: Ranges<Version>,
}

/// A dependency with no installable release, and how the input reaches it.
pub(super) struct DeadEnd {
    pub(super) package: PackageName,
    /// The steps from the input to `package`, the first one from the input.
    pub(super) path: Vec<Step>,
    /// The releases asked for, none installable.
    pub(super) wanted: Ranges<Version>,
}

/// Explain the first failing target's proof as a dependency below an input line that cannot install,
/// with candidate fixes (checked later). `None` when the proof holds no such dependency.
pub async fn explain(
    resolver: &Resolver,
    working: &Working,
    failure: &NoSolution,
    context: &DiagnoseContext,
) -> Result<Option<Problem>, ResolveError> {
    let first = &failure.failures[0];
    let steps = steps(&first.incompatibilities);
    let input_names: BTreeSet<&PackageName> = working
        .input()
        .requirements
        .iter()
        .map(|r| &r.requirement.name)
        .collect();
    let mut seen = BTreeSet::new();
    for fact in &first.incompatibilities {
        let package = match fact {
            Incompatibility::Unavailable { package, .. }
            | Incompatibility::NoVersions { package, .. } => package,
            Incompatibility::Dependency { .. } => continue,
        };
        // An input line's own releases are the per-line check's business (unit.rs).
        if input_names.contains(package) || !seen.insert(package.clone()) {
            continue;
        }
        let Some(dead) = dead_end(resolver, &steps, package).await? else {
            continue;
        };
        let Some(head) = working
            .input()
            .requirements
            .iter()
            .find(|r| r.requirement.name == dead.path[0].to)
        else {
            continue;
        };
        let mut problem = describe(resolver, working, context, &dead, head).await?;
        problem.targets = first.targets.clone();
        return Ok(Some(problem));
    }
    Ok(None)
}

fn steps(facts: &[Incompatibility]) -> Vec<Step> {
    facts
        .iter()
        .filter_map(|fact| match fact {
            Incompatibility::Dependency {
                from,
                from_extra,
                from_range,
                to,
                to_range,
                ..
            } => Some(Step {
                from: from.clone(),
                from_extra: from_extra.clone(),
                from_range: from_range.clone(),
                to: to.clone(),
                range: to_range.clone(),
            }),
            _ => None,
        })
        .collect()
}

/// `package` as a dead end: the requirements on it that no release satisfies on the target, and the
/// shortest path from the input to one of them.
async fn dead_end(
    resolver: &Resolver,
    steps: &[Step],
    package: &PackageName,
) -> Result<Option<DeadEnd>, ResolveError> {
    let map = resolver.versions(0, package).await?;
    let installs = |range: &Ranges<Version>| {
        map.as_ref()
            .is_some_and(|map| map.best(range, true).is_some())
    };
    let mut dead: Vec<&Step> = steps
        .iter()
        .filter(|step| &step.to == package && step.from.is_some() && !installs(&step.range))
        .collect();
    // Newest source release first: the chain then shows what the user would get today.
    let top = |step: &Step| match step.from_range.bounding_range() {
        Some((_, Bound::Included(version) | Bound::Excluded(version))) => Some(version.clone()),
        _ => None,
    };
    dead.sort_by_key(|step| std::cmp::Reverse(top(step)));
    if dead.is_empty() {
        return Ok(None);
    }
    let wanted = dead
        .iter()
        .fold(Ranges::empty(), |all, step| all.union(&step.range));
    // Breadth first, from the dead end up to the input: the shortest chain reads best.
    let mut queue: VecDeque<(PackageName, Vec<Step>)> = dead
        .iter()
        .filter_map(|step| Some((step.from.clone()?, vec![(*step).clone()])))
        .collect();
    let mut visited: BTreeSet<PackageName> = BTreeSet::from([package.clone()]);
    while let Some((name, path)) = queue.pop_front() {
        if !visited.insert(name.clone()) || path.len() > 8 {
            continue;
        }
        for step in steps.iter().filter(|step| step.to == name) {
            let mut longer = Vec::with_capacity(path.len() + 1);
            longer.push(step.clone());
            longer.extend(path.iter().cloned());
            match &step.from {
                None => {
                    return Ok(Some(DeadEnd {
                        package: package.clone(),
                        path: longer,
                        wanted,
                    }));
                }
                Some(from) => queue.push_back((from.clone(), longer)),
            }
        }
    }
    Ok(None)
}

async fn describe(
    resolver: &Resolver,
    working: &Working,
    context: &DiagnoseContext,
    dead: &DeadEnd,
    head: &InputRequirement,
) -> Result<Problem, ResolveError> {
    let target = &resolver.targets()[0];
    let package = &dead.package;
    let map = resolver.versions(0, package).await?;
    let asked: Vec<(&Version, &Unusable)> = map
        .as_deref()
        .map(|map| {
            map.unusable
                .iter()
                .filter(|(version, _)| dead.wanted.contains(*version))
                .collect()
        })
        .unwrap_or_default();
    // No release installs at all: describe the package's final releases before the cutoff (the
    // proof names only those PubGrub happened to visit) and say "at every release".
    let settled = |(version, reason): &(&Version, &Unusable)| {
        !version.any_prerelease() && !matches!(reason, Unusable::NewerThanCutoff { .. })
    };
    let every = map.as_deref().is_some_and(|map| {
        map.usable.is_empty() && map.unusable.iter().any(|entry| settled(&entry))
    });
    let releases: Vec<(&Version, &Unusable)> = match map.as_deref() {
        Some(map) if every => map.unusable.iter().filter(settled).collect(),
        _ => asked.clone(),
    };
    let newest = releases.last().map(|(_, reason)| *reason);
    let (kind, reason) = match newest {
        None => (
            Code::NoSuchVersion,
            match map {
                None => "not on the index".to_string(),
                Some(_) => "no release in the range asked for".to_string(),
            },
        ),
        Some(reason) => (
            kind_of(reason),
            reason_text(reason, target, &releases, every),
        ),
    };
    let names: Vec<String> = dead.path[1..]
        .iter()
        .map(|step| step.to.to_string())
        .collect();
    let listed = if every || releases.is_empty() {
        String::new()
    } else {
        format!(" {}", list_versions(&releases))
    };
    let summary = format!("`{}` → {}{listed}: {reason}", head.text, names.join(" → "));
    let mut details = vec![format!(
        "chain: {} ({}) → {}",
        head.text,
        head.location,
        names.join(" → ")
    )];
    if let Some(written) = working.original_text(&head.location) {
        details.push(format!(
            "the line as an earlier problem's first fix changed it; the input says `{written}`"
        ));
    }
    for step in &dead.path[1..] {
        if let Some(line) = step_line(resolver, step).await? {
            details.push(line);
        }
    }
    if !releases.is_empty() && !every {
        details.push(format!(
            "releases of {package} in the range asked for: {}; none installs here",
            list_versions(&releases),
        ));
    }
    let mut fixes = Vec::new();
    if let Some(fix) = drop_extra(head, &dead.path) {
        fixes.push(fix);
    }
    fixes.extend(repin(resolver, working, head, dead).await?);
    let older_python = asked.iter().any(|(_, reason)| {
        matches!(reason, Unusable::NoWheel { wheel_tags, .. } if !wheel_tags.is_empty())
    });
    if older_python
        && let Some(fix) = move_fix(resolver, head, context, (package, &dead.wanted)).await?
    {
        fixes.push(fix);
    }
    // Allowing the sdist helps when the releases asked for all have one.
    let sdists = !asked.is_empty()
        && asked.iter().all(|(_, reason)| {
            matches!(
                reason,
                Unusable::NoWheel {
                    has_sdist: true,
                    ..
                }
            )
        });
    if sdists {
        fixes.push(allow_sdist(package, context));
    }
    Ok(Problem {
        kind,
        packages: vec![head.requirement.name.clone(), package.clone()],
        locations: vec![head.location.clone()],
        requirements: vec![head.text.clone()],
        targets: Vec::new(),
        summary,
        details,
        fixes,
        modules: Vec::new(),
        not_confirmed: Vec::new(),
    })
}

fn kind_of(reason: &Unusable) -> Code {
    match reason {
        Unusable::NoWheel { .. } => Code::NoMatchingWheel,
        Unusable::RequiresPython { .. } => Code::RequiresPython,
        Unusable::NewerThanCutoff { .. } => Code::NewerThanCutoff,
        Unusable::NoFileWithHash { .. } => Code::InputHashMismatch,
    }
}

/// Why the releases do not install, in a few words.
fn reason_text(
    reason: &Unusable,
    target: &crate::resolve::Target,
    releases: &[(&Version, &Unusable)],
    every: bool,
) -> String {
    let at = if every {
        if releases.len() == 1 {
            " (its only release)"
        } else {
            " at every release"
        }
    } else {
        ""
    };
    match reason {
        Unusable::NoWheel {
            wheel_tags,
            has_sdist,
            ..
        } => {
            let sdist_only = releases.iter().all(|(_, reason)| {
                matches!(reason, Unusable::NoWheel { wheel_tags, has_sdist: true, .. } if wheel_tags.is_empty())
            });
            if sdist_only {
                return format!("sdist only{at}, and sdists are not allowed here");
            }
            let span = wheels_only_for(wheel_tags, target.python)
                .map(|only| format!(" ({only})"))
                .unwrap_or_default();
            let sdist = if *has_sdist {
                "; an sdist exists but sdists are not allowed here"
            } else {
                ", and no sdist"
            };
            format!(
                "no wheel for CPython {} on {}{at}{span}{sdist}",
                target.python, target.platform
            )
        }
        other => format!("{other}{at}"),
    }
}

/// `4.9, 4.9.1, 4.9.2` or `3.0 … 3.3.6 (14 releases)`.
fn list_versions(releases: &[(&Version, &Unusable)]) -> String {
    if releases.len() <= MAX_LISTED {
        return releases
            .iter()
            .map(|(version, _)| version.to_string())
            .collect::<Vec<_>>()
            .join(", ");
    }
    format!(
        "{} … {} ({} releases)",
        releases[0].0,
        releases[releases.len() - 1].0,
        releases.len()
    )
}

/// "psycopg[c] 3.3.6 requires `psycopg-c==3.3.6`", as the package wrote it, for the highest release
/// of the step's source the proof names.
async fn step_line(resolver: &Resolver, step: &Step) -> Result<Option<String>, ResolveError> {
    let Some(from) = &step.from else {
        return Ok(None);
    };
    let version = match step.from_range.as_singleton() {
        Some(version) => Some(version.clone()),
        None => resolver
            .versions(0, from)
            .await?
            .and_then(|map| map.best(&step.from_range, true).cloned()),
    };
    let Some(version) = version else {
        return Ok(None);
    };
    let extras: Vec<ExtraName> = step.from_extra.iter().cloned().collect();
    let declared = declared_requirement(resolver, from, &version, &step.to, &extras)
        .await?
        .unwrap_or_else(|| format!("{} {}", step.to, step.range));
    let subject = match &step.from_extra {
        Some(extra) => format!("{from}[{extra}] {version}"),
        None => format!("{from} {version}"),
    };
    Ok(Some(format!("{subject} requires `{declared}`")))
}

/// When the input line reaches the dead end through one of its extras, the line without it.
fn drop_extra(head: &InputRequirement, path: &[Step]) -> Option<Fix> {
    let extra = path
        .get(1)
        .filter(|step| step.from.as_ref() == Some(&head.requirement.name))
        .and_then(|step| step.from_extra.clone())
        .filter(|extra| head.requirement.extras.contains(extra))?;
    let line = without_extra(&head.requirement, &extra);
    let summary = format!(
        "drop the `{extra}` extra: `{line}` does not pull in {}",
        path.last()
            .map_or_else(String::new, |step| step.to.to_string())
    );
    let edit = Edit {
        location: Some(head.location.clone()),
        original: Some(head.text.clone()),
        replacement: Some(line),
    };
    Some(Fix::edits(summary, vec![edit]))
}

/// `requirement` as a line without `extra`, keeping its specifiers and markers.
fn without_extra(requirement: &Requirement, extra: &ExtraName) -> String {
    let mut line = requirement.name.to_string();
    let kept: Vec<String> = requirement
        .extras
        .iter()
        .filter(|other| *other != extra)
        .map(ToString::to_string)
        .collect();
    if !kept.is_empty() {
        let _ = write!(line, "[{}]", kept.join(","));
    }
    if let Some(VersionOrUrl::VersionSpecifier(specifiers)) = &requirement.version_or_url {
        let _ = write!(line, "{specifiers}");
    }
    if let Some(marker) = requirement.marker.contents() {
        let _ = write!(line, " ; {marker}");
    }
    line
}

/// Raise (else lower) a pinned input line to the nearest final release whose closure no longer reaches
/// the dead end; each candidate is tried by resolving. When the dead end is a direct dependency, the
/// releases that still require it in a range with nothing installable are skipped by their metadata
/// first, so the trials go to releases that can help.
pub(super) async fn repin(
    resolver: &Resolver,
    working: &Working,
    head: &InputRequirement,
    dead: &DeadEnd,
) -> Result<Option<Fix>, ResolveError> {
    let name = &head.requirement.name;
    let Some((current, map)) = pinned_releases(resolver, head).await? else {
        return Ok(None);
    };
    let allowed = constrained(working.input(), name);
    let finals = |(version, candidate): &(&Version, &crate::resolve::Candidate)| {
        !version.any_prerelease() && candidate.yanked.is_none() && allowed.contains(version)
    };
    let above: Vec<(&Version, &crate::resolve::Candidate)> = map
        .usable
        .iter()
        .filter(|(version, _)| **version > current)
        .filter(finals)
        .take(MAX_READS)
        .collect();
    let below: Vec<(&Version, &crate::resolve::Candidate)> = map
        .usable
        .iter()
        .rev()
        .filter(|(version, _)| **version < current)
        .filter(finals)
        .take(MAX_READS)
        .collect();
    // `head` → package directly: the step's extras decide which requirement applies.
    let direct = (dead.path.len() == 2).then(|| &dead.path[1]);
    for (direction, versions) in [("raise", above), ("lower", below)] {
        let mut trials = 0;
        for (version, candidate) in versions {
            if let Some(step) = direct
                && still_dead(resolver, candidate, step).await?
            {
                continue;
            }
            if trials == MAX_TRIALS {
                break;
            }
            trials += 1;
            let edit = pin_edit(head, version);
            if avoids(resolver, working, &edit, &dead.package).await? {
                return Ok(Some(Fix::edits(
                    format!(
                        "{direction} {name} to {version}, the nearest release whose dependencies install here"
                    ),
                    vec![edit],
                )));
            }
        }
    }
    Ok(None)
}

/// Whether this release of the step's source still requires the step's target only in a range where
/// nothing installs (an unreadable requirement list counts as "no help").
async fn still_dead(
    resolver: &Resolver,
    candidate: &crate::resolve::Candidate,
    step: &Step,
) -> Result<bool, ResolveError> {
    let Ok(requirements) = resolver.requires_dist(candidate.metadata_file()).await? else {
        return Ok(true);
    };
    let markers = &resolver.targets()[0].markers;
    let extras: Vec<ExtraName> = step.from_extra.iter().cloned().collect();
    let Some(map) = resolver.versions(0, &step.to).await? else {
        return Ok(false);
    };
    Ok(requirements
        .iter()
        .filter(|r| r.name == step.to && r.marker.evaluate(markers, &extras))
        .any(|r| {
            map.best(&crate::resolve::requirement_range(r), true)
                .is_none()
        }))
}

/// Whether the input with `edit` applied no longer runs into `package` (another problem may remain:
/// that is checked with the other fixes later).
async fn avoids(
    resolver: &Resolver,
    working: &Working,
    edit: &Edit,
    package: &PackageName,
) -> Result<bool, ResolveError> {
    match working.resolve_with(resolver, edit).await {
        Ok(_) => Ok(true),
        Err(ResolveError::NoSolution(failure)) => Ok(!failure.failures.iter().any(|target| {
            target.incompatibilities.iter().any(|fact| {
                matches!(fact,
                    Incompatibility::Unavailable { package: p, .. }
                    | Incompatibility::NoVersions { package: p, .. } if p == package)
            })
        })),
        Err(other) => Err(other),
    }
}

/// Allow `package`'s sdist: a flag ad hoc, a config line for an image.
fn allow_sdist(package: &PackageName, context: &DiagnoseContext) -> Fix {
    let (summary, config) = if context.ad_hoc {
        (
            format!(
                "allow {package}'s sdist (it is built): run again with `--allow-sdist {package}`"
            ),
            None,
        )
    } else {
        (
            format!(
                "allow {package}'s sdist (it is built in the image's builder stage): in fave-lock.toml, image `{}`:",
                context.image
            ),
            Some(format!("allow-sdist = [\"{package}\"]\n")),
        )
    };
    Fix {
        summary,
        edits: Vec::new(),
        also_changes: vec![],
        config,
        resolution: None,
        allow_sdist: vec![package.clone()],
        left_out: Vec::new(),
    }
}
