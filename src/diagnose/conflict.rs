//! Explaining a conflict PubGrub proved: which two requirements disagree, through which chain, and
//! which single change of an input line makes the disagreement go away.

use std::collections::BTreeMap;

use pep440_rs::Version;
use pep508_rs::{PackageName, Requirement};
use version_ranges::Ranges;

use super::unit::{constrained, pin_edit, pinned_releases};
use super::working::Working;
use super::{Code, DiagnoseContext, Edit, Fix, Problem};
use crate::requirements::InputRequirement;
use crate::resolve::{Incompatibility, NoSolution, ResolveError, Resolver, requirement_range};

/// The most versions tried when searching for a release that removes a conflict.
const MAX_TRIALS: usize = 16;

/// A dependency edge of the proof: `from` (the input when `None`) requires `to` in `range`.
#[derive(Debug, Clone)]
struct Edge {
    from: Option<PackageName>,
    from_range: Ranges<Version>,
    to: PackageName,
    range: Ranges<Version>,
}

/// Two edges into the same package whose ranges do not meet.
#[derive(Debug, Clone)]
struct Clash {
    package: PackageName,
    left: Edge,
    right: Edge,
}

/// Explain the first failing target's conflict, with candidate fixes (checked later).
pub async fn explain(
    resolver: &Resolver,
    working: &Working,
    failure: &NoSolution,
    _context: &DiagnoseContext,
) -> Result<Option<Problem>, ResolveError> {
    let first = &failure.failures[0];
    let edges: Vec<Edge> = first
        .incompatibilities
        .iter()
        .filter_map(|fact| match fact {
            Incompatibility::Dependency {
                from,
                from_range,
                to,
                to_range,
                extra: None,
                ..
            } => Some(Edge {
                from: from.clone(),
                from_range: from_range.clone(),
                to: to.clone(),
                range: to_range.clone(),
            }),
            _ => None,
        })
        .collect();
    let Some(clash) = find_clash(&edges) else {
        return Ok(None);
    };
    let chain_left = chain(&edges, &clash.left);
    let chain_right = chain(&edges, &clash.right);
    // The input lines involved: the head of each chain, and the clashing package itself when the input
    // pins it directly.
    let direct = clash.right.from.is_none().then_some(&clash.package);
    let mut heads: Vec<&InputRequirement> = Vec::new();
    for name in [chain_left.first(), chain_right.first(), direct]
        .into_iter()
        .flatten()
    {
        if let Some(found) = working
            .input()
            .requirements
            .iter()
            .find(|r| &r.requirement.name == name)
            && !heads.iter().any(|h| h.location == found.location)
        {
            heads.push(found);
        }
    }
    let mut problem = Problem {
        kind: Code::Conflict,
        packages: vec![],
        locations: heads.iter().map(|r| r.location.clone()).collect(),
        requirements: heads.iter().map(|r| r.text.clone()).collect(),
        targets: first.targets.clone(),
        summary: String::new(),
        details: vec![],
        fixes: vec![],
        modules: Vec::new(),
        not_confirmed: Vec::new(),
    };
    problem.packages = heads.iter().map(|r| r.requirement.name.clone()).collect();
    if !problem.packages.contains(&clash.package) {
        problem.packages.push(clash.package.clone());
    }
    problem.summary = summary(resolver, working, &clash, &chain_left, &chain_right).await?;
    for (edge, path) in [(&clash.left, &chain_left), (&clash.right, &chain_right)] {
        if path.len() > 1 || edge.from.is_some() {
            let mut names: Vec<String> = path.iter().map(ToString::to_string).collect();
            names.push(clash.package.to_string());
            problem
                .details
                .push(format!("chain: {}", names.join(" → ")));
        }
    }
    problem.fixes = fixes(resolver, working, &clash, &heads).await?;
    Ok(Some(problem))
}

/// Prefer a clash with an input requirement on one side: that is the line a user edits.
fn find_clash(edges: &[Edge]) -> Option<Clash> {
    let mut found: Option<Clash> = None;
    for (i, left) in edges.iter().enumerate() {
        for right in &edges[i + 1..] {
            if left.to != right.to || !left.range.intersection(&right.range).is_empty() {
                continue;
            }
            // Two releases of one package (or of its extra) cannot both be chosen: `psycopg[c] 3.0`
            // needing psycopg-c 3.0 and `psycopg[c] 3.0.1` needing psycopg-c 3.0.1 is PubGrub trying
            // one release after another, not two requirements that disagree.
            if left.from.is_some()
                && left.from == right.from
                && left.from_range.intersection(&right.from_range).is_empty()
            {
                continue;
            }
            let (left, right) = if right.from.is_none() {
                (left, right)
            } else {
                (right, left)
            };
            let clash = Clash {
                package: left.to.clone(),
                left: left.clone(),
                right: right.clone(),
            };
            if right.from.is_none() {
                return Some(clash);
            }
            found.get_or_insert(clash);
        }
    }
    found
}

/// The packages from the input down to the edge's source: `[librosa, numba]` for numba → numpy.
fn chain(edges: &[Edge], edge: &Edge) -> Vec<PackageName> {
    let mut path = Vec::new();
    let mut current = edge.from.clone();
    while let Some(name) = current {
        if path.contains(&name) || path.len() > 16 {
            break;
        }
        path.push(name.clone());
        current = edges
            .iter()
            .find(|e| e.to == name)
            .and_then(|e| e.from.clone());
    }
    path.reverse();
    path
}

async fn summary(
    resolver: &Resolver,
    working: &Working,
    clash: &Clash,
    chain_left: &[PackageName],
    chain_right: &[PackageName],
) -> Result<String, ResolveError> {
    let left = side(resolver, working, &clash.left, chain_left).await?;
    let right = side(resolver, working, &clash.right, chain_right).await?;
    Ok(format!("{left}, but {right}"))
}

/// One side of a clash in words: "`scipy==1.11.4` requires `numpy<1.28.0,>=1.21.6`" or "`numpy==2.1.3` is pinned".
async fn side(
    resolver: &Resolver,
    working: &Working,
    edge: &Edge,
    path: &[PackageName],
) -> Result<String, ResolveError> {
    let Some(from) = &edge.from else {
        let text = working
            .input()
            .requirements
            .iter()
            .find(|r| r.requirement.name == edge.to)
            .map_or_else(|| format!("{} {}", edge.to, edge.range), |r| r.text.clone());
        return Ok(format!("`{text}` is pinned"));
    };
    let version = match edge.from_range.as_singleton() {
        Some(version) => Some(version.clone()),
        None => highest_in(resolver, from, &edge.from_range).await?,
    };
    let declared = match &version {
        Some(version) => declared_requirement(resolver, from, version, &edge.to, &[]).await?,
        None => None,
    };
    let declared = declared.unwrap_or_else(|| format!("{} {}", edge.to, edge.range));
    let subject = match (&version, path.first()) {
        (Some(version), Some(head)) if head != from => {
            let head_text = input_text(working, head);
            format!("`{head_text}` → {from} {version}")
        }
        (Some(version), _) => match input_text_opt(working, from) {
            Some(text) if edge.from_range.as_singleton().is_some() => format!("`{text}`"),
            _ => format!("{from} {version}"),
        },
        (None, _) => format!("{from} {}", edge.from_range),
    };
    Ok(format!("{subject} requires `{declared}`"))
}

fn input_text(working: &Working, name: &PackageName) -> String {
    input_text_opt(working, name).unwrap_or_else(|| name.to_string())
}

fn input_text_opt(working: &Working, name: &PackageName) -> Option<String> {
    working
        .input()
        .requirements
        .iter()
        .find(|r| &r.requirement.name == name)
        .map(|r| r.text.clone())
}

async fn highest_in(
    resolver: &Resolver,
    name: &PackageName,
    range: &Ranges<Version>,
) -> Result<Option<Version>, ResolveError> {
    Ok(resolver
        .versions(0, name)
        .await?
        .and_then(|map| map.best(range, true).cloned()))
}

/// The `Requires-Dist` entry of `name version` on `dependency` that applies to the first target, as
/// the package wrote it (markers cut).
pub(super) async fn declared_requirement(
    resolver: &Resolver,
    name: &PackageName,
    version: &Version,
    dependency: &PackageName,
    extras: &[pep508_rs::ExtraName],
) -> Result<Option<String>, ResolveError> {
    let Some(map) = resolver.versions(0, name).await? else {
        return Ok(None);
    };
    let Some(candidate) = map.usable.get(version) else {
        return Ok(None);
    };
    let metadata = resolver.core_metadata(candidate.metadata_file()).await?;
    let markers = &resolver.targets()[0].markers;
    Ok(metadata.requires_dist.iter().find_map(|text| {
        let parsed: Requirement = crate::requirements::pep508::parse_requirement(text).ok()?;
        (&parsed.name == dependency && parsed.evaluate_markers(markers, extras)).then(|| {
            text.split(';')
                .next()
                .unwrap_or(text)
                .trim()
                .replace(' ', "")
        })
    }))
}

/// Candidate fixes: raise each input line at the head of a chain to the lowest release that removes the
/// clash, and move a directly pinned package to the highest release the other side accepts.
async fn fixes(
    resolver: &Resolver,
    working: &Working,
    clash: &Clash,
    heads: &[&InputRequirement],
) -> Result<Vec<Fix>, ResolveError> {
    let mut fixes = Vec::new();
    let pinned = |edge: &Edge| edge.from.is_none();
    for head in heads {
        if head.requirement.name == clash.package && pinned(&clash.right) {
            continue;
        }
        if let Some(fix) = raise(resolver, working, clash, head).await? {
            fixes.push(fix);
        }
    }
    if pinned(&clash.right)
        && let Some(head) = heads.iter().find(|r| r.requirement.name == clash.package)
        && let Some(fix) = fit(resolver, working, clash, head).await?
    {
        fixes.push(fix);
    }
    Ok(fixes)
}

/// The lowest release of `head` above its pin that removes the clash.
async fn raise(
    resolver: &Resolver,
    working: &Working,
    clash: &Clash,
    head: &InputRequirement,
) -> Result<Option<Fix>, ResolveError> {
    let name = &head.requirement.name;
    let Some((current, map)) = pinned_releases(resolver, head).await? else {
        return Ok(None);
    };
    let direct = clash.left.from.as_ref() == Some(name);
    let other = &clash.right.range;
    let mut trials = 0;
    let allowed = constrained(working.input(), name);
    for (version, candidate) in map.usable.range(current.clone()..) {
        if *version == current
            || version.any_prerelease()
            || candidate.yanked.is_some()
            || !allowed.contains(version)
        {
            continue;
        }
        if direct && !accepts(resolver, candidate.metadata_file(), &clash.package, other).await? {
            continue;
        }
        if trials == MAX_TRIALS {
            break;
        }
        trials += 1;
        let edit = pin_edit(head, version);
        if removes(resolver, working, &edit, clash).await? {
            let what = match clash.right.range.as_singleton() {
                Some(pin) => format!("accepts {} {pin}", clash.package),
                None => format!("fits {} {}", clash.package, clash.right.range),
            };
            return Ok(Some(Fix::edits(
                format!(
                    "raise {name} to {version}, the lowest release that {what} and has a wheel for the target"
                ),
                vec![edit],
            )));
        }
    }
    Ok(None)
}

/// The highest release of the directly pinned package that the other side accepts.
async fn fit(
    resolver: &Resolver,
    working: &Working,
    clash: &Clash,
    head: &InputRequirement,
) -> Result<Option<Fix>, ResolveError> {
    let name = &head.requirement.name;
    let Some(map) = resolver.versions(0, name).await? else {
        return Ok(None);
    };
    let accepted = &clash.left.range;
    let mut trials = 0;
    for (version, candidate) in map.usable.iter().rev() {
        if !accepted.contains(version) || version.any_prerelease() || candidate.yanked.is_some() {
            continue;
        }
        if trials == MAX_TRIALS {
            break;
        }
        trials += 1;
        let edit = pin_edit(head, version);
        if removes(resolver, working, &edit, clash).await? {
            let by = match (&clash.left.from, clash.left.from_range.as_singleton()) {
                (Some(from), Some(at)) => format!("{from} {at}"),
                (Some(from), None) => from.to_string(),
                (None, _) => "the input".to_string(),
            };
            let direction = if requirement_range(&head.requirement)
                .as_singleton()
                .is_some_and(|pin| pin < version)
            {
                "raise"
            } else {
                "lower"
            };
            return Ok(Some(Fix::edits(
                format!("{direction} {name} to {version}, the highest release {by} accepts"),
                vec![edit],
            )));
        }
    }
    Ok(None)
}

/// Whether `file`'s requirement on `dependency` admits some version in `range`.
async fn accepts(
    resolver: &Resolver,
    file: &crate::index::DistFile,
    dependency: &PackageName,
    range: &Ranges<Version>,
) -> Result<bool, ResolveError> {
    let Ok(requirements) = resolver.requires_dist(file).await? else {
        return Ok(false);
    };
    let env = &resolver.targets()[0].markers;
    Ok(requirements
        .iter()
        .filter(|r| &r.name == dependency && r.marker.evaluate(env, &[]))
        .all(|r| !requirement_range(r).intersection(range).is_empty()))
}

/// Whether applying `edit` makes this clash go away (another problem may remain; that is checked later).
async fn removes(
    resolver: &Resolver,
    working: &Working,
    edit: &Edit,
    clash: &Clash,
) -> Result<bool, ResolveError> {
    match working.resolve_with(resolver, edit).await {
        Ok(_) => Ok(true),
        Err(ResolveError::NoSolution(failure)) => {
            let edges: BTreeMap<_, _> = failure.failures[0]
                .incompatibilities
                .iter()
                .filter_map(|fact| match fact {
                    Incompatibility::Dependency { from, to, .. } => {
                        Some(((from.clone(), to.clone()), ()))
                    }
                    _ => None,
                })
                .collect();
            let same = edges.contains_key(&(clash.left.from.clone(), clash.package.clone()))
                && edges.contains_key(&(clash.right.from.clone(), clash.package.clone()));
            Ok(!same)
        }
        Err(other) => Err(other),
    }
}
