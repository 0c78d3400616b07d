//! A requirement and a constraint (`-c`) that admit no common version: the resolver intersects the
//! constraint into the requirement before PubGrub sees it, so its proof only says "no version left";
//! this check names both lines, as uv does ("you require zeroconf==0.149.16 and zeroconf==0.132.2"),
//! whether the requirement is an input line or a dependency's.

use pep440_rs::Version;
use version_ranges::Ranges;

use super::conflict::declared_requirement;
use super::unit::replace_fix;
use super::working::Working;
use super::{Code, Problem};
use crate::requirements::{InputRequirement, RequirementsInput};
use crate::resolve::{Incompatibility, NoSolution, ResolveError, Resolver, requirement_range};

/// Every input line whose range shares no version with the constraints on the same package (on some
/// target), with the two fixes: follow the constraint, or change the constraint to the requirement.
pub async fn find(
    resolver: &Resolver,
    input: &RequirementsInput,
) -> Result<Vec<Problem>, ResolveError> {
    let mut problems = Vec::new();
    for requirement in &input.requirements {
        problems.extend(against_constraints(resolver, input, requirement).await?);
    }
    Ok(problems)
}

/// The input line on `name` (as the working input has it) against the constraints.
async fn line_against_constraints(
    resolver: &Resolver,
    working: &Working,
    name: &pep508_rs::PackageName,
) -> Result<Option<Problem>, ResolveError> {
    let input = working.input();
    for line in input
        .requirements
        .iter()
        .filter(|line| &line.requirement.name == name)
    {
        if let Some(mut problem) = against_constraints(resolver, input, line).await? {
            if let Some(written) = working.original_text(&line.location) {
                problem.details.push(format!(
                    "the line as an earlier problem's first fix changed it; the input says `{written}`"
                ));
            }
            return Ok(Some(problem));
        }
    }
    Ok(None)
}

/// `requirement` against the constraints on its package, on every target it applies to.
async fn against_constraints(
    resolver: &Resolver,
    input: &RequirementsInput,
    requirement: &InputRequirement,
) -> Result<Option<Problem>, ResolveError> {
    let name = &requirement.requirement.name;
    let mut targets = Vec::new();
    let mut clashing: Option<&InputRequirement> = None;
    for target in resolver.targets() {
        let applies =
            |line: &InputRequirement| line.requirement.marker.evaluate(&target.markers, &[]);
        if !applies(requirement) {
            continue;
        }
        let wanted = requirement_range(&requirement.requirement);
        let found = input.constraints.iter().find(|constraint| {
            &constraint.requirement.name == name
                && applies(constraint)
                && wanted
                    .intersection(&requirement_range(&constraint.requirement))
                    .is_empty()
        });
        if let Some(constraint) = found {
            clashing.get_or_insert(constraint);
            targets.push(target.oci.clone());
        }
    }
    let Some(constraint) = clashing else {
        return Ok(None);
    };
    let mut fixes = Vec::new();
    let allowed = requirement_range(&constraint.requirement);
    if let Some(version) = newest_final(resolver, name, &allowed).await? {
        fixes.push(replace_fix(
            requirement,
            &version,
            format!("use {name} {version}, the release the constraint allows"),
        ));
    }
    let wanted = requirement_range(&requirement.requirement);
    if let Some(version) = newest_final(resolver, name, &wanted).await? {
        fixes.push(replace_fix(
            constraint,
            &version,
            format!(
                "change the constraint to {name} {version}, the release the requirement asks for"
            ),
        ));
    }
    Ok(Some(Problem {
        kind: Code::Conflict,
        packages: vec![name.clone()],
        locations: vec![requirement.location.clone(), constraint.location.clone()],
        requirements: vec![requirement.text.clone(), constraint.text.clone()],
        targets,
        summary: format!(
            "`{}` is required, but the constraint `{}` allows no version of it",
            requirement.text, constraint.text
        ),
        // The "at" line names both places, the requirement first.
        details: Vec::new(),
        fixes,
        modules: Vec::new(),
        not_confirmed: Vec::new(),
    }))
}

async fn newest_final(
    resolver: &Resolver,
    name: &pep508_rs::PackageName,
    range: &Ranges<Version>,
) -> Result<Option<Version>, ResolveError> {
    Ok(resolver
        .versions(0, name)
        .await?
        .and_then(|map| map.best(range, false).cloned()))
}

/// A dependency's requirement that a constraint empties (`aiohttp-asyncmdnsresolver 0.2.0` requires
/// `zeroconf>=0.142.0`, the constraint says `zeroconf==0.132.2`), found in PubGrub's proof: a conflict
/// between the input line that pulls the dependent in and the constraint line, with the fix of moving
/// the constraint to the newest release the dependent accepts (checked later).
pub async fn explain(
    resolver: &Resolver,
    working: &Working,
    failure: &NoSolution,
) -> Result<Option<Problem>, ResolveError> {
    let first = &failure.failures[0];
    let input = working.input();
    for fact in &first.incompatibilities {
        let Incompatibility::Dependency {
            from,
            from_range,
            to,
            to_range,
            ..
        } = fact
        else {
            continue;
        };
        if !to_range.is_empty() {
            continue;
        }
        let Some(from) = from else {
            // An input line emptied by a constraint: a line an earlier fix changed (the input's own
            // lines were compared with the constraints first).
            if let Some(problem) = line_against_constraints(resolver, working, to).await? {
                return Ok(Some(problem));
            }
            continue;
        };
        let Some(constraint) = input
            .constraints
            .iter()
            .find(|line| &line.requirement.name == to)
        else {
            continue;
        };
        let Some(head) = input
            .requirements
            .iter()
            .find(|line| &line.requirement.name == from)
        else {
            continue;
        };
        let version = match from_range.as_singleton() {
            Some(version) => Some(version.clone()),
            None => newest_final(resolver, from, from_range).await?,
        };
        let Some(version) = version else {
            continue;
        };
        let Some(declared) = declared_requirement(resolver, from, &version, to, &[]).await? else {
            continue;
        };
        let mut fixes = Vec::new();
        // The new constraint must also fit the input's own lines on the package, if any.
        let wanted = input
            .requirements
            .iter()
            .filter(|line| &line.requirement.name == to)
            .fold(Ranges::full(), |range, line| {
                range.intersection(&requirement_range(&line.requirement))
            });
        if let Ok(requirement) = crate::requirements::pep508::parse_requirement(&declared)
            && let Some(fitting) = newest_final(
                resolver,
                to,
                &requirement_range(&requirement).intersection(&wanted),
            )
            .await?
        {
            fixes.push(replace_fix(
                constraint,
                &fitting,
                format!("change the constraint to {to} {fitting}, the newest release {from} {version} accepts"),
            ));
        }
        return Ok(Some(Problem {
            kind: Code::Conflict,
            packages: vec![from.clone(), to.clone()],
            locations: vec![head.location.clone(), constraint.location.clone()],
            requirements: vec![head.text.clone(), constraint.text.clone()],
            targets: first.targets.clone(),
            summary: format!(
                "{} requires `{declared}`, but the constraint `{}` allows no such version",
                if from_range.as_singleton().is_some() && head.requirement.name == *from {
                    format!("`{}`", head.text)
                } else {
                    format!("`{}` → {from} {version}", head.text)
                },
                constraint.text
            ),
            details: Vec::new(),
            fixes,
            modules: Vec::new(),
            not_confirmed: Vec::new(),
        }));
    }
    Ok(None)
}
