//! Problems of a single input requirement, found without resolving: no such project or version, no
//! wheel, requires-python, cutoff, yanks, bad metadata.

use std::collections::BTreeMap;
use std::fmt::Write;

use jiff::Timestamp;
use pep440_rs::Version;
use pep508_rs::Requirement;
use version_ranges::Ranges;

use super::{Code, DiagnoseContext, Edit, Fix, Problem, suggest};
use crate::requirements::{InputRequirement, RequirementsInput};
use crate::resolve::{
    Incompatibility, NoSolution, ResolveError, Resolver, Unusable, VersionMap, cpython_of,
    requirement_range, summarize_wheel_tags, wheels_only_for,
};
use crate::tags::{DistFilename, PythonVersion};

/// A problem of one requirement on one target, before grouping targets.
#[derive(Debug, Clone)]
struct Finding {
    kind: Code,
    summary: String,
    details: Vec<String>,
    fixes: Vec<Fix>,
}

/// Lines checked at once: each may fetch a page, a metadata file or build an sdist, and one slow line
/// (a first build takes seconds) must not hold up the others.
const CONCURRENT_LINES: usize = 8;

/// The problems of the input's lines, each alone, and whether the time budget ran out before every
/// line was checked (then the problems are those of the lines that were).
pub struct LineProblems {
    pub problems: Vec<Problem>,
    pub timed_out: bool,
}

/// Classify every input requirement on every target it applies to, lines concurrently, problems in
/// input order.
pub async fn find(
    resolver: &Resolver,
    input: &RequirementsInput,
    context: &DiagnoseContext,
) -> Result<LineProblems, ResolveError> {
    use futures::StreamExt;
    let mut checks = futures::stream::iter(&input.requirements)
        .map(|requirement| line_problems(resolver, requirement, context))
        .buffered(CONCURRENT_LINES);
    let mut found = LineProblems {
        problems: Vec::new(),
        timed_out: false,
    };
    while let Some(result) = checks.next().await {
        match result {
            Ok(problems) => {
                super::warm_fixes(resolver, &problems);
                found.problems.extend(problems);
            }
            Err(ResolveError::TimedOut) => found.timed_out = true,
            Err(other) => return Err(other),
        }
    }
    Ok(found)
}

/// The problems of one input line, one per distinct finding, with the targets it holds on.
async fn line_problems(
    resolver: &Resolver,
    requirement: &InputRequirement,
    context: &DiagnoseContext,
) -> Result<Vec<Problem>, ResolveError> {
    let mut grouped: Vec<(Finding, Vec<String>)> = Vec::new();
    for (index, target) in resolver.targets().iter().enumerate() {
        if !requirement
            .requirement
            .marker
            .evaluate(&target.markers, &[])
        {
            continue;
        }
        let Some(finding) = classify(resolver, index, requirement).await? else {
            continue;
        };
        match grouped
            .iter_mut()
            .find(|(existing, _)| existing.summary == finding.summary)
        {
            Some((_, targets)) => targets.push(target.oci.clone()),
            None => grouped.push((finding, vec![target.oci.clone()])),
        }
    }
    let mut problems = Vec::new();
    for (mut finding, targets) in grouped {
        if finding.kind == Code::NoSuchProject {
            did_you_mean(resolver, requirement, &mut finding).await;
        }
        if finding.kind == Code::NoMatchingWheel {
            finding.fixes.push(remove_fix(requirement));
            let range = requirement_range(&requirement.requirement);
            let wheels_of = (&requirement.requirement.name, &range);
            if let Some(fix) = move_fix(resolver, requirement, context, wheels_of).await? {
                finding.fixes.push(fix);
            }
        }
        problems.push(Problem {
            kind: finding.kind,
            packages: vec![requirement.requirement.name.clone()],
            locations: vec![requirement.location.clone()],
            requirements: vec![requirement.text.clone()],
            targets,
            summary: finding.summary,
            details: finding.details,
            fixes: finding.fixes,
            modules: Vec::new(),
            not_confirmed: Vec::new(),
        });
    }
    Ok(problems)
}

/// Offer the projects a missing one was likely meant to be (`pstuil` → `psutil`), each as a fix that
/// renames the line, checked like every fix; or say that none was found among the names tried.
async fn did_you_mean(resolver: &Resolver, requirement: &InputRequirement, finding: &mut Finding) {
    let suggestions = suggest::suggest(resolver, &requirement.requirement.name).await;
    let names: Vec<String> = suggestions
        .found
        .iter()
        .map(|suggestion| format!("`{}`", suggestion.name))
        .collect();
    if names.is_empty() {
        finding.details.push(format!(
            "no project with a similar name is on the index either ({} similar names tried)",
            suggestions.tried
        ));
        return;
    }
    let _ = write!(finding.summary, "; did you mean {}?", names.join(" or "));
    finding.fixes.extend(
        suggestions
            .found
            .iter()
            .map(|suggestion| suggest::rename_fix(requirement, suggestion)),
    );
}

async fn classify(
    resolver: &Resolver,
    target: usize,
    input: &InputRequirement,
) -> Result<Option<Finding>, ResolveError> {
    let requirement = &input.requirement;
    let name = &requirement.name;
    let range = requirement_range(requirement);
    let Some(map) = resolver.versions(target, name).await? else {
        return Ok(Some(finding(
            Code::NoSuchProject,
            format!("`{name}` is not on the index"),
            vec![],
        )));
    };
    if let Some(version) = map.best(&range, true) {
        return invalid_metadata(resolver, &map, &range, version, input).await;
    }
    let yanked: Vec<&Version> = map
        .usable
        .iter()
        .filter(|(v, c)| range.contains(*v) && c.yanked.is_some())
        .map(|(v, _)| v)
        .collect();
    if let Some(newest) = yanked.last() {
        let fix = replace_fix(
            input,
            newest,
            format!(
                "pin the yanked release {newest} exactly (PEP 592 allows an exact pin; fave-lock warns)"
            ),
        );
        return Ok(Some(Finding {
            kind: Code::OnlyYanked,
            summary: format!(
                "`{}`: only yanked releases match ({})",
                input.text,
                join(&yanked)
            ),
            details: vec![],
            fixes: vec![fix],
        }));
    }
    if let Some((version, reason)) = map.best_unusable(&range) {
        return Ok(Some(
            unusable(resolver, &map, &range, version, reason, input).await?,
        ));
    }
    no_such_version(resolver, &map, &range, input)
        .await
        .map(Some)
}

/// An exact pin whose metadata does not parse cannot be resolved; say which field is bad.
async fn invalid_metadata(
    resolver: &Resolver,
    map: &VersionMap,
    range: &Ranges<Version>,
    version: &Version,
    input: &InputRequirement,
) -> Result<Option<Finding>, ResolveError> {
    let requirement = &input.requirement;
    let (Some(_), Some(chosen)) = (range.as_singleton(), map.usable.get(version)) else {
        return Ok(None);
    };
    let Err(invalid) = resolver.requires_dist(chosen.metadata_file()).await? else {
        return Ok(None);
    };
    let name = &requirement.name;
    let mut fixes = Vec::new();
    for (candidate, entry) in map
        .usable
        .iter()
        .rev()
        .filter(|(v, c)| *v != version && c.yanked.is_none())
        .take(12)
    {
        if resolver.requires_dist(entry.metadata_file()).await?.is_ok() {
            fixes.push(replace_fix(
                input,
                candidate,
                format!("use {name} {candidate}, the newest release whose metadata parses"),
            ));
            break;
        }
    }
    Ok(Some(Finding {
        kind: Code::InvalidMetadata,
        summary: format!(
            "{name} {version} has invalid metadata: Requires-Dist `{}`",
            invalid.text
        ),
        details: vec![format!(
            "the field does not parse as PEP 508: {}",
            invalid.message
        )],
        fixes,
    }))
}

async fn unusable(
    resolver: &Resolver,
    map: &VersionMap,
    range: &Ranges<Version>,
    version: &Version,
    reason: &Unusable,
    input: &InputRequirement,
) -> Result<Finding, ResolveError> {
    let name = &input.requirement.name;
    let target = &resolver.targets()[0];
    // A final release, as pip and uv would pick: proposing `tensorflow 2.22.0rc0` as a fix would pin
    // a pre-release the user never asked for (unless pre-releases are all there is).
    let not_yanked = || map.usable.iter().rev().filter(|(_, c)| c.yanked.is_none());
    let newest_usable = not_yanked()
        .find(|(v, _)| !v.any_prerelease())
        .or_else(|| not_yanked().next())
        .map(|(v, _)| v.clone());
    let mut fixes = Vec::new();
    let mut details = Vec::new();
    let kind = match reason {
        Unusable::NoWheel {
            wheel_tags,
            has_sdist,
            ..
        } => {
            if wheel_tags.is_empty() {
                details.push(format!("{name} {version} has no wheels"));
            } else {
                details.push(format!(
                    "wheels of {name} {version}: {}",
                    summarize_wheel_tags(wheel_tags)
                ));
            }
            details.push(if *has_sdist {
                "an sdist exists, but sdists are not allowed here (`allow-sdist` in fave-lock.toml; ad hoc, without `--no-build`, it is built)"
                    .to_string()
            } else {
                "no sdist".to_string()
            });
            match &newest_usable {
                Some(usable) => {
                    details.push(format!(
                        "{name} {usable} is the newest release with a wheel for this target"
                    ));
                    fixes.push(replace_fix(
                        input,
                        usable,
                        format!(
                            "use {name} {usable}, the newest release with a wheel for this target"
                        ),
                    ));
                }
                None => details.push(format!(
                    "no release of {name} has a wheel for CPython {} on {}",
                    target.python, target.platform
                )),
            }
            Code::NoMatchingWheel
        }
        Unusable::RequiresPython { specifiers } => {
            details.push(format!(
                "{name} {version} requires Python {specifiers}; the image runs CPython {}",
                target.python
            ));
            if let Some(usable) = &newest_usable {
                fixes.push(replace_fix(
                    input,
                    usable,
                    format!(
                        "use {name} {usable}, the newest release that supports CPython {}",
                        target.python
                    ),
                ));
            }
            Code::RequiresPython
        }
        Unusable::NewerThanCutoff { earliest } => {
            let cutoff = resolver
                .options()
                .exclude_newer
                .map(|t| t.to_string())
                .unwrap_or_default();
            details.push(format!(
                "{name} {version} was first uploaded {}, after exclude-newer {cutoff}",
                day(*earliest)
            ));
            if let Some(usable) = newest_usable.as_ref().filter(|v| !range.contains(*v)) {
                fixes.push(replace_fix(
                    input,
                    usable,
                    format!("use {name} {usable}, the newest release before the cutoff"),
                ));
            }
            details.push(format!(
                "or move exclude-newer in fave-lock.toml past {}",
                day(*earliest)
            ));
            Code::NewerThanCutoff
        }
        Unusable::NoFileWithHash { .. } => {
            if !input.hashes.is_empty() {
                let given: Vec<String> = input
                    .hashes
                    .iter()
                    .map(|hash| format!("sha256:{}…", &hash[..hash.len().min(12)]))
                    .collect();
                details.push(format!(
                    "`--hash` at {}: {}",
                    input.location,
                    given.join(", ")
                ));
            }
            details.push(format!(
                "none of the files of {name} {version} has one of these hashes, so pip's \
                 hash-checking mode would refuse them too"
            ));
            Code::InputHashMismatch
        }
    };
    let summary = match reason {
        Unusable::NoWheel {
            wheel_tags,
            has_sdist,
            ..
        } => format!(
            "`{}`: no wheel for CPython {} on {}{}{}",
            input.text,
            target.python,
            target.platform,
            wheels_only_for(wheel_tags, target.python)
                .map(|only| format!(" ({only})"))
                .unwrap_or_default(),
            if *has_sdist {
                "; an sdist exists but sdists are not allowed here"
            } else {
                ", and no sdist"
            },
        ),
        other => format!("`{}`: {other}", input.text),
    };
    Ok(Finding {
        kind,
        summary,
        details,
        fixes,
    })
}

async fn no_such_version(
    resolver: &Resolver,
    map: &VersionMap,
    range: &Ranges<Version>,
    input: &InputRequirement,
) -> Result<Finding, ResolveError> {
    let name = &input.requirement.name;
    let uploads = upload_days(resolver, name).await?;
    let nearest = nearest(&uploads, range);
    let listed: Vec<String> = nearest
        .iter()
        .map(|v| match uploads.get(v).copied().flatten() {
            Some(uploaded) => format!("{v} ({})", day(uploaded)),
            None => v.to_string(),
        })
        .collect();
    let summary = if listed.is_empty() {
        format!(
            "`{}`: no such release, and {name} has no releases",
            input.text
        )
    } else {
        format!(
            "`{}`: no such release; the nearest are {}",
            input.text,
            listed.join(" and ")
        )
    };
    let fixes = nearest
        .iter()
        .filter(|v| map.usable.get(v).is_some_and(|c| c.yanked.is_none()))
        .map(|v| {
            replace_fix(
                input,
                v,
                format!("use {name} {v}, the nearest existing release"),
            )
        })
        .collect();
    Ok(finding(Code::NoSuchVersion, summary, vec![]).with_fixes(fixes))
}

/// Releases nearest to what the range asks for: those that extend a pinned version (`4.10.0` →
/// `4.10.0.84`), newest first, else the closest below and above.
fn nearest(
    uploads: &BTreeMap<Version, Option<Timestamp>>,
    range: &Ranges<Version>,
) -> Vec<Version> {
    let anchor = match range.as_singleton() {
        Some(version) => version.clone(),
        None => match range.bounding_range() {
            Some((std::ops::Bound::Included(v) | std::ops::Bound::Excluded(v), _)) => v.clone(),
            _ => return uploads.keys().rev().take(2).cloned().collect(),
        },
    };
    let release = anchor.release();
    let mut extending: Vec<Version> = uploads
        .keys()
        .filter(|v| {
            v.release().len() > release.len()
                && v.release().starts_with(release)
                && !v.any_prerelease()
        })
        .cloned()
        .collect();
    if !extending.is_empty() {
        extending.reverse();
        extending.truncate(2);
        return extending;
    }
    let below = uploads
        .keys()
        .rev()
        .find(|v| **v < anchor && !v.any_prerelease())
        .cloned();
    let above = uploads
        .keys()
        .find(|v| **v > anchor && !v.any_prerelease())
        .cloned();
    below.into_iter().chain(above).collect()
}

/// The earliest upload of each release on the index.
async fn upload_days(
    resolver: &Resolver,
    name: &pep508_rs::PackageName,
) -> Result<BTreeMap<Version, Option<Timestamp>>, ResolveError> {
    let mut uploads: BTreeMap<Version, Option<Timestamp>> = BTreeMap::new();
    if let Some(page) = resolver.page(name).await? {
        for file in page.files.iter() {
            let version = match DistFilename::parse(file.filename(), &page.name) {
                Some(DistFilename::Wheel(wheel)) => wheel.version,
                Some(DistFilename::Sdist(sdist)) => sdist.version,
                None => continue,
            };
            let entry = uploads.entry(version).or_insert(file.upload_time());
            *entry = match (*entry, file.upload_time()) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
    }
    Ok(uploads)
}

/// "Move it to a second image": the highest CPython with a wheel for the releases `wheels_of` names
/// (the input line's own, or those of the dependency that has no wheel here), checked by resolving the
/// input requirement alone there.
pub(super) async fn move_fix(
    resolver: &Resolver,
    input: &InputRequirement,
    context: &DiagnoseContext,
    wheels_of: (&pep508_rs::PackageName, &Ranges<Version>),
) -> Result<Option<Fix>, ResolveError> {
    let name = &input.requirement.name;
    let (wheel_package, range) = wheels_of;
    let Some(page) = resolver.page(wheel_package).await? else {
        return Ok(None);
    };
    let mut pythons: Vec<PythonVersion> = page
        .files
        .iter()
        .filter_map(
            |file| match DistFilename::parse(file.filename(), &page.name) {
                Some(DistFilename::Wheel(wheel)) if range.contains(&wheel.version) => {
                    Some(wheel.python_tags().map(str::to_string).collect::<Vec<_>>())
                }
                _ => None,
            },
        )
        .flatten()
        .filter_map(|tag| cpython_of(&tag))
        .collect();
    pythons.sort();
    pythons.dedup();
    for python in pythons.into_iter().rev() {
        let targets: Vec<_> = resolver
            .targets()
            .iter()
            .map(|t| super::other_python_target(t, python))
            .collect();
        let mut platforms = Vec::new();
        for target in targets {
            let single = resolver.for_targets(vec![target.clone()]);
            let alone = RequirementsInput {
                requirements: vec![input.clone()],
                ..RequirementsInput::default()
            };
            if single.resolve(&alone).await.is_ok() {
                platforms.push(target);
            }
        }
        if platforms.is_empty() {
            continue;
        }
        let image = format!("{}-{}", context.image, name);
        let mut config = String::new();
        let _ = writeln!(config, "[[image]]");
        let _ = writeln!(config, "name = \"{image}\"");
        let _ = writeln!(config, "python-version = \"{python}\"");
        let _ = writeln!(
            config,
            "requirements = \"{}\"",
            sibling_path(&context.requirements_path, &image)
        );
        let _ = writeln!(config, "output = \"locks/{image}\"");
        let entries: Vec<String> = platforms
            .iter()
            .map(|t| {
                format!(
                    "{{ platform = \"{}\", manylinux = \"{}_{}\" }}",
                    t.oci, t.platform.glibc.0, t.platform.glibc.1
                )
            })
            .collect();
        let _ = writeln!(config, "platforms = [{}]", entries.join(", "));
        let oci: Vec<&str> = platforms.iter().map(|t| t.oci.as_str()).collect();
        return Ok(Some(Fix {
            summary: format!(
                "move `{}` to a second image on Python {python} ({}), where it resolves: put it in {} and add to fave-lock.toml:",
                input.text,
                oci.join(", "),
                sibling_path(&context.requirements_path, &image)
            ),
            edits: vec![Edit {
                location: Some(input.location.clone()),
                original: Some(input.text.clone()),
                replacement: None,
            }],
            also_changes: vec![],
            config: Some(config),
            resolution: None,
            allow_sdist: Vec::new(),
            left_out: Vec::new(),
        }));
    }
    Ok(None)
}

fn sibling_path(requirements: &std::path::Path, image: &str) -> String {
    let parent = requirements
        .parent()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    if parent.is_empty() {
        format!("{image}.in")
    } else {
        format!("{parent}/{image}.in")
    }
}

fn remove_fix(input: &InputRequirement) -> Fix {
    Fix {
        summary: format!("remove `{}` from this image", input.text),
        edits: vec![Edit {
            location: Some(input.location.clone()),
            original: Some(input.text.clone()),
            replacement: None,
        }],
        also_changes: vec![],
        config: None,
        resolution: None,
        allow_sdist: Vec::new(),
        left_out: Vec::new(),
    }
}

/// Pin the line `input` to `version` (a requirement or a constraint line).
pub(super) fn replace_fix(input: &InputRequirement, version: &Version, summary: String) -> Fix {
    Fix::edits(summary, vec![pin_edit(input, version)])
}

/// The edit that pins `line` to `version`, keeping its extras and markers.
pub(super) fn pin_edit(line: &InputRequirement, version: &Version) -> Edit {
    Edit {
        location: Some(line.location.clone()),
        original: Some(line.text.clone()),
        replacement: Some(pinned_line(&line.requirement, version)),
    }
}

/// The versions of `name` the input's constraints (`-c`) allow: a fix must not pin outside them.
pub(super) fn constrained(
    input: &RequirementsInput,
    name: &pep508_rs::PackageName,
) -> Ranges<Version> {
    input
        .constraints
        .iter()
        .filter(|line| &line.requirement.name == name)
        .fold(Ranges::full(), |range, line| {
            range.intersection(&requirement_range(&line.requirement))
        })
}

/// An exactly pinned input line's version and its package's releases; `None` for a range or an
/// unknown project.
pub(super) async fn pinned_releases(
    resolver: &Resolver,
    line: &InputRequirement,
) -> Result<Option<(Version, std::sync::Arc<VersionMap>)>, ResolveError> {
    let Some(current) = requirement_range(&line.requirement).as_singleton().cloned() else {
        return Ok(None);
    };
    Ok(resolver
        .versions(0, &line.requirement.name)
        .await?
        .map(|map| (current, map)))
}

/// `requirement` pinned to `version`, keeping its extras and markers.
pub(super) fn pinned_line(requirement: &Requirement, version: &Version) -> String {
    let mut line = requirement.name.to_string();
    if !requirement.extras.is_empty() {
        let extras: Vec<String> = requirement.extras.iter().map(ToString::to_string).collect();
        let _ = write!(line, "[{}]", extras.join(","));
    }
    let _ = write!(line, "=={version}");
    if let Some(marker) = requirement.marker.contents() {
        let _ = write!(line, " ; {marker}");
    }
    line
}

fn finding(kind: Code, summary: String, details: Vec<String>) -> Finding {
    Finding {
        kind,
        summary,
        details,
        fixes: vec![],
    }
}

impl Finding {
    fn with_fixes(mut self, fixes: Vec<Fix>) -> Finding {
        self.fixes = fixes;
        self
    }
}

pub(super) fn day(timestamp: Timestamp) -> String {
    timestamp.strftime("%Y-%m-%d").to_string()
}

fn join(versions: &[&Version]) -> String {
    versions
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The longest line of an `[unexplained]` derivation; longer ones are wrapped at a space.
const MAX_LINE: usize = 190;

/// A failure the diagnosis could not classify: PubGrub's proof in words (see resolve's wording),
/// wrapped to readable lines, at the input lines the proof starts from.
pub fn unexplained(failure: &NoSolution, input: &RequirementsInput) -> Problem {
    let first = &failure.failures[0];
    let named: Vec<&InputRequirement> = input
        .requirements
        .iter()
        .filter(|line| {
            first.incompatibilities.iter().any(|fact| {
                matches!(fact, Incompatibility::Dependency { from: None, to, .. }
                    if *to == line.requirement.name)
            })
        })
        .collect();
    Problem {
        kind: Code::Unexplained,
        packages: named.iter().map(|r| r.requirement.name.clone()).collect(),
        locations: named.iter().map(|r| r.location.clone()).collect(),
        requirements: named.iter().map(|r| r.text.clone()).collect(),
        targets: first.targets.clone(),
        summary: "the remaining requirements have no solution".to_string(),
        details: first.report.lines().flat_map(wrap).collect(),
        fixes: vec![],
        modules: Vec::new(),
        not_confirmed: Vec::new(),
    }
}

/// `line` cut at spaces into pieces of at most [`MAX_LINE`] characters (a longer word stays whole).
fn wrap(line: &str) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut current = String::new();
    for word in line.split(' ') {
        if !current.is_empty() && current.chars().count() + 1 + word.chars().count() > MAX_LINE {
            pieces.push(std::mem::take(&mut current));
            current.push_str("  ");
        } else if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(word);
    }
    pieces.push(current);
    pieces
}
