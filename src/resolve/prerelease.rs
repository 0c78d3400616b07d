//! A pre-release nobody asked for: [`VersionMap::best`](super::VersionMap::best) takes one only when no
//! final release in range can be used, which usually means every final release needs a dependency that
//! cannot install here (hydra-core 1.3.x needs antlr4-python3-runtime 4.9.*, sdist only, so 1.4.0rc3
//! is chosen). The lock is valid, but the user should hear why it holds a pre-release.

use std::collections::{BTreeMap, BTreeSet};

use pep508_rs::{PackageName, Requirement, VersionOrUrl};

use super::fetch::{Fetcher, requirement_range};
use super::{ResolveError, ResolvedPackage, Unusable};
use crate::requirements::RequirementsInput;

/// One warning per chosen pre-release that no requirement asks for, naming the dependency that rules
/// out the newest final release when there is one.
pub(super) async fn notes(
    fetcher: &Fetcher,
    index: usize,
    packages: &BTreeMap<PackageName, ResolvedPackage>,
    input: &RequirementsInput,
) -> Result<Vec<String>, ResolveError> {
    if fetcher.options().prereleases {
        return Ok(Vec::new());
    }
    let mut asked: BTreeSet<PackageName> = input
        .requirements
        .iter()
        .chain(&input.constraints)
        .map(|line| &line.requirement)
        .filter(|requirement| names_prerelease(requirement))
        .map(|requirement| requirement.name.clone())
        .collect();
    for package in packages.values() {
        if let Ok(requirements) = &metadata_of(fetcher, index, package).await?.requires_dist {
            asked.extend(
                requirements
                    .iter()
                    .filter(|requirement| names_prerelease(requirement))
                    .map(|requirement| requirement.name.clone()),
            );
        }
    }
    let target = fetcher.target(index);
    let mut notes = Vec::new();
    for package in packages.values() {
        let name = &package.name;
        if !package.version.any_prerelease() || asked.contains(name) {
            continue;
        }
        let Some(map) = fetcher
            .versions(index, name)
            .await
            .map_err(ResolveError::Index)?
        else {
            continue;
        };
        let newest_final =
            map.usable.iter().rev().find(|(version, candidate)| {
                !version.any_prerelease() && candidate.yanked.is_none()
            });
        let Some((final_version, candidate)) = newest_final else {
            // Only pre-releases install here: nothing more to say than the version itself.
            continue;
        };
        let mut cause = String::new();
        let metadata = fetcher
            .metadata(candidate.metadata_file())
            .await
            .map_err(ResolveError::Index)?;
        if let Ok(requirements) = &metadata.requires_dist {
            for requirement in requirements
                .iter()
                .filter(|r| r.marker.evaluate(&target.markers, &[]))
            {
                let dependency = fetcher
                    .versions(index, &requirement.name)
                    .await
                    .map_err(ResolveError::Index)?;
                let range = requirement_range(requirement);
                let why = match dependency.as_deref() {
                    None => Some("is not on the index".to_string()),
                    Some(map) if map.best(&range, true).is_none() => {
                        Some(map.best_unusable(&range).map_or(
                            "has no release in that range".to_string(),
                            |(v, reason)| match reason {
                                Unusable::NoWheel {
                                    wheel_tags,
                                    has_sdist: true,
                                    ..
                                } if wheel_tags.is_empty() => format!("{v} is sdist only"),
                                other => format!("{v} {other}"),
                            },
                        ))
                    }
                    Some(_) => None,
                };
                if let Some(why) = why {
                    let declared = requirement.to_string();
                    let declared = declared.split(';').next().unwrap_or_default().trim();
                    cause = format!(
                        ": {name} {final_version} requires `{declared}`, and {} {why}",
                        requirement.name
                    );
                    break;
                }
            }
        }
        let on = if fetcher.targets().len() > 1 {
            format!(" on {}", target.oci)
        } else {
            String::new()
        };
        notes.push(format!(
            "{name}=={} is a pre-release, chosen because no final release fits{on}{cause}",
            package.version
        ));
    }
    Ok(notes)
}

fn names_prerelease(requirement: &Requirement) -> bool {
    matches!(&requirement.version_or_url, Some(VersionOrUrl::VersionSpecifier(specifiers))
        if specifiers.iter().any(|s| s.version().any_prerelease()))
}

async fn metadata_of(
    fetcher: &Fetcher,
    index: usize,
    package: &ResolvedPackage,
) -> Result<std::sync::Arc<super::fetch::Metadata>, ResolveError> {
    let map = fetcher
        .versions(index, &package.name)
        .await
        .map_err(ResolveError::Index)?;
    let file = map
        .as_deref()
        .and_then(|map| map.usable.get(&package.version))
        .map_or(&package.file, |candidate| candidate.metadata_file())
        .clone();
    fetcher.metadata(&file).await.map_err(ResolveError::Index)
}
