//! A requirement and a constraint (`-c`) that admit no common version: the resolver intersects the
//! constraint into the requirement before PubGrub sees it, so its proof only says "no version left";
//! this check names both lines, as uv does ("you require zeroconf==0.149.16 and zeroconf==0.132.2").

use pep440_rs::Version;

use super::unit::replace_fix;
use super::{Problem, ProblemKind};
use crate::requirements::{InputRequirement, RequirementsInput};
use crate::resolve::{ResolveError, Resolver, requirement_range};

/// Every input line whose range shares no version with the constraints on the same package (on some
/// target), with the two fixes: follow the constraint, or change the constraint to the requirement.
pub async fn find(
    resolver: &Resolver,
    input: &RequirementsInput,
) -> Result<Vec<Problem>, ResolveError> {
    let mut problems = Vec::new();
    for requirement in &input.requirements {
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
            continue;
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
        problems.push(Problem {
            kind: ProblemKind::Conflict,
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
        });
    }
    Ok(problems)
}

async fn newest_final(
    resolver: &Resolver,
    name: &pep508_rs::PackageName,
    range: &version_ranges::Ranges<Version>,
) -> Result<Option<Version>, ResolveError> {
    Ok(resolver
        .versions(0, name)
        .await?
        .and_then(|map| map.best(range, false).cloned()))
}
