//! An sdist whose PEP 517 build failed while its metadata was read (ad hoc runs build sdists, as uv
//! does). uv stops there with the build's error; here it is one problem of the report: the release, the
//! input line that pulls it in (with the chain), the build log's last lines, and checked fixes: another
//! release of the package, or wheels only (`--no-build`).

use pep440_rs::Version;
use pep508_rs::PackageName;
use version_ranges::Ranges;

use super::depth::{DeadEnd, Step, repin};
use super::unit::pin_edit;
use super::working::Working;
use super::{Code, Combined, DiagnoseContext, Diagnosis, Edit, Fix, NotConfirmed, Problem};
use crate::index::IndexError;
use crate::requirements::{InputRequirement, Location, RequirementsInput};
use crate::resolve::{
    Incompatibility, NoSolution, Resolution, ResolveError, Resolver, Via, requirement_range,
};
use crate::sdist::SdistError;

/// Lines of the build log a report shows, and the characters kept of each.
const LOG_LINES: usize = 6;
const LOG_WIDTH: usize = 150;
/// The width of the log's last line where a report quotes it inside a sentence.
const SHORT_WIDTH: usize = 80;

/// A failed sdist build, as the resolver met it.
#[derive(Debug, Clone)]
pub struct BuildFailure {
    pub filename: String,
    pub package: PackageName,
    pub version: Option<Version>,
    pub log_tail: String,
}

impl BuildFailure {
    /// The build log's last line, cut to a readable width: the error, usually.
    pub fn last_line(&self) -> String {
        let line = log_lines(&self.log_tail)
            .pop()
            .map(|line| line.trim_start_matches("  | ").to_string())
            .unwrap_or_default();
        if line.chars().count() > SHORT_WIDTH {
            let cut: String = line.chars().take(SHORT_WIDTH).collect();
            format!("{cut}…")
        } else {
            line
        }
    }
}

/// The failed build `error` stands for, if it is one.
pub fn build_failure(error: &ResolveError) -> Option<BuildFailure> {
    let ResolveError::Index(index) = error else {
        return None;
    };
    let IndexError::Sdist(sdist) = index.as_ref() else {
        return None;
    };
    let SdistError::Build {
        filename, log_tail, ..
    } = sdist.as_ref()
    else {
        return None;
    };
    // `name-version.tar.gz`: versions hold no `-`, legacy names may.
    let stem = filename
        .strip_suffix(".tar.gz")
        .or_else(|| filename.strip_suffix(".zip"))
        .or_else(|| filename.strip_suffix(".tar.bz2"))
        .unwrap_or(filename);
    let (name, version) = stem.rsplit_once('-').unwrap_or((stem, ""));
    Some(BuildFailure {
        filename: filename.clone(),
        package: PackageName::new(name.to_string()).ok()?,
        version: version.parse().ok(),
        log_tail: log_tail.clone(),
    })
}

/// Whether the input itself needs the release whose build failed, not only a diagnosis trial: it
/// stops at that build, or one of its lines pins that very release (the line-by-line check reads an
/// exact pin's metadata before any resolve reaches it, and a missing project elsewhere can make the
/// resolve fail before it does).
pub async fn input_needs(
    resolver: &Resolver,
    input: &RequirementsInput,
    failure: &BuildFailure,
) -> bool {
    let pinned = failure.version.as_ref().is_some_and(|version| {
        input.requirements.iter().any(|line| {
            line.requirement.name == failure.package
                && requirement_range(&line.requirement).as_singleton() == Some(version)
        })
    });
    pinned
        || matches!(
            resolver.resolve(input).await,
            Err(ref again) if build_failure(again).is_some()
        )
}

/// The report of an input that needs the failed build and may have other problems besides: the build
/// is one problem, and the rest of the input (without the build's lines, with that package's sdists
/// refused) is diagnosed for the others, so that one run names them all instead of one per run. The
/// build's fixes are then checked again with the others' first fixes applied, and the combination
/// counts them. `builds_left` bounds how many more failed builds are stepped around this way.
pub async fn diagnose_with_rest(
    resolver: &Resolver,
    input: &RequirementsInput,
    context: &DiagnoseContext,
    failure: &BuildFailure,
    builds_left: usize,
) -> Result<Diagnosis, ResolveError> {
    let started = std::time::Instant::now();
    let alone = diagnose(resolver, input, context, failure).await?;
    let Some(lines) = alone.problems.first().map(|p| p.locations.clone()) else {
        return Ok(alone);
    };
    if builds_left == 0 {
        return Ok(alone);
    }
    let refusing = resolver.refusing_sdists_of(std::slice::from_ref(&failure.package));
    // Other input lines that need the failed package are the same problem, not others: set them aside
    // too and look again (a few times at most), so the rest's problems are independent of the build.
    let mut set_aside = lines;
    let mut also_needed: Vec<(Location, String)> = Vec::new();
    let mut rest = None;
    for pass in 1..=REST_PASSES {
        let mut rest_input = Working::new(input.clone());
        rest_input.apply(&set_aside.iter().map(Edit::removal).collect::<Vec<_>>());
        // The common case costs one resolve: without the build's lines, the rest resolves.
        if !matches!(
            refusing.resolve(rest_input.input()).await,
            Err(ResolveError::NoSolution(_))
        ) {
            break;
        }
        let rest_context = DiagnoseContext {
            budget: context
                .budget
                .map(|budget| budget.saturating_sub(started.elapsed())),
            ..context.clone()
        };
        let found = Box::pin(super::diagnose_builds_left(
            &refusing,
            rest_input.input(),
            &rest_context,
            builds_left - 1,
        ))
        .await?;
        let behind: Vec<(Location, String)> = found
            .problems
            .iter()
            .filter(|problem| problem.packages.contains(&failure.package))
            .flat_map(|problem| {
                problem
                    .locations
                    .iter()
                    .cloned()
                    .zip(problem.requirements.iter().cloned())
            })
            .filter(|(location, _)| !set_aside.contains(location))
            .collect();
        if behind.is_empty() || pass == REST_PASSES {
            rest = Some(found);
            break;
        }
        set_aside.extend(behind.iter().map(|(location, _)| location.clone()));
        also_needed.extend(behind);
    }
    let Some(rest) = rest.filter(|rest| !rest.problems.is_empty()) else {
        return Ok(with_lines_needing(alone, &also_needed));
    };
    let mut fixed = Working::new(input.clone());
    for problem in &rest.problems {
        fixed.apply_first(problem);
    }
    let in_context = diagnose(resolver, fixed.input(), context, failure).await?;
    let mut in_context = with_lines_needing(in_context, &also_needed);
    if in_context.problems.is_empty() {
        return Ok(with_lines_needing(alone, &also_needed));
    }
    let build = in_context.problems.remove(0);
    Ok(merge(rest, build, in_context.incomplete))
}

/// How many times the rest of an input is diagnosed, each time with more lines set aside that need
/// the failed package too.
const REST_PASSES: usize = 3;
/// Other input lines that need the failed package, named in the build problem's details.
const NAMED_LINES: usize = 4;

/// The build problem of `diagnosis` with the other input lines that need the failed package among its
/// lines, and a detail naming a few of them.
fn with_lines_needing(mut diagnosis: Diagnosis, lines: &[(Location, String)]) -> Diagnosis {
    let Some(problem) = diagnosis.problems.first_mut().filter(|_| !lines.is_empty()) else {
        return diagnosis;
    };
    for (location, text) in lines {
        problem.locations.push(location.clone());
        problem.requirements.push(text.clone());
    }
    let named: Vec<String> = lines
        .iter()
        .take(NAMED_LINES)
        .map(|(location, text)| format!("`{text}` (line {})", location.line))
        .collect();
    let more = lines.len().saturating_sub(NAMED_LINES);
    problem.details.insert(
        0,
        format!(
            "also needed by {}{}",
            named.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        ),
    );
    diagnosis
}

/// The rest's problems, then the build's (numbered last, so the rest's numbers stay as they were);
/// the combination of first fixes extended with the build's first fix, which was checked with the
/// rest's first fixes applied.
fn merge(rest: Diagnosis, build: Problem, incomplete: Vec<String>) -> Diagnosis {
    let number = rest.problems.len() + 1;
    let checked = build.fixes.first().and_then(|fix| fix.resolution.as_ref());
    let all_unfixed = rest.problems.iter().all(|p| p.fixes.is_empty())
        && !rest.problems.iter().any(|p| p.kind == Code::Unexplained)
        && rest.incomplete.is_empty();
    let combined = match (rest.combined, checked) {
        (Some(mut combined), Some(resolution)) if combined.resolves => {
            combined.fixes += 1;
            combined.packages = super::package_count(resolution);
            Some(combined)
        }
        (Some(mut combined), _) => {
            combined.left_out.push(number);
            Some(combined)
        }
        // The rest had no checked fix to combine: the build's fix was checked with their lines left out.
        (None, Some(resolution)) if all_unfixed => Some(Combined {
            resolves: true,
            fixes: 1,
            packages: super::package_count(resolution),
            left_out: (1..number).collect(),
            clashes: Vec::new(),
        }),
        (None, _) => None,
    };
    let mut problems = rest.problems;
    problems.push(build);
    Diagnosis {
        problems,
        combined,
        input: rest.input,
        incomplete: rest.incomplete.into_iter().chain(incomplete).collect(),
        not_applied: Vec::new(),
    }
}

/// The report of a run whose resolve stopped at `failure`.
pub async fn diagnose(
    resolver: &Resolver,
    input: &RequirementsInput,
    context: &DiagnoseContext,
    failure: &BuildFailure,
) -> Result<Diagnosis, ResolveError> {
    let name = &failure.package;
    let release = match &failure.version {
        Some(version) => format!("{name} {version}"),
        None => failure.filename.clone(),
    };
    let direct = input
        .requirements
        .iter()
        .find(|line| &line.requirement.name == name);
    let mut fixes = Vec::new();
    let mut not_confirmed = Vec::new();
    let mut chain_from = None;
    super::set_phase(
        &context.phase,
        format!("checking another release than {release}"),
    );
    // Without the failed release the input may still not resolve: its proof then shows the chain.
    let mut proof = None;
    if let Some(fix) = other_release(resolver, input, failure, direct, &release, &mut proof).await?
    {
        match fix {
            Ok(fix) => {
                chain_from = fix.resolution.clone();
                fixes.push(fix);
            }
            Err(unconfirmed) => not_confirmed.push(unconfirmed),
        }
    }
    super::set_phase(&context.phase, "checking wheels only".to_string());
    match wheels_only(resolver, input, context).await? {
        Ok(fix) => {
            chain_from = chain_from.or_else(|| fix.resolution.clone());
            fixes.push(fix);
        }
        Err(unconfirmed) => not_confirmed.push(unconfirmed),
    }
    let path = match (&chain_from, &proof) {
        (Some(resolution), _) => path_to(resolution, name),
        (None, Some(proof)) => path_in_proof(proof, name),
        (None, None) => None,
    };
    let head = direct.or_else(|| {
        let top = path.as_ref()?.first()?;
        input
            .requirements
            .iter()
            .find(|r| &r.requirement.name == top)
    });
    // A dependency's build: a release of the input line whose closure avoids the failed release,
    // found with that package's sdists refused (so the trials do not stop at the same build).
    if let (Some(head), Some(path)) = (head, &path)
        && &head.requirement.name != name
        && path.first() == Some(&head.requirement.name)
    {
        super::set_phase(
            &context.phase,
            format!("checking other releases of {}", head.requirement.name),
        );
        match repin_head(resolver, input, head, path, name).await {
            Ok(Some(Ok(fix))) => fixes.insert(0, fix),
            Ok(Some(Err(unconfirmed))) => not_confirmed.insert(0, unconfirmed),
            Ok(None) => {}
            Err(ResolveError::TimedOut) => {}
            Err(error) if build_failure(&error).is_some() => {}
            Err(error) => return Err(error),
        }
    }
    let mut details = Vec::new();
    if let (Some(head), Some(path)) = (head, &path)
        && &head.requirement.name != name
        && path.first() == Some(&head.requirement.name)
    {
        let mut chain: Vec<String> = path.iter().map(ToString::to_string).collect();
        chain[0] = format!("{} ({})", head.text, head.location);
        details.push(format!("chain: {}", chain.join(" → ")));
    }
    details.push(format!(
        "the PEP 517 build of `{}` (to read its metadata) failed; the log's last lines:",
        failure.filename
    ));
    details.extend(log_lines(&failure.log_tail));
    let summary = match head {
        Some(head) if &head.requirement.name == name => {
            format!("`{}`: the sdist of {release} failed to build", head.text)
        }
        Some(head) => format!("`{}` → {release}: its sdist failed to build", head.text),
        None => format!("{release}: its sdist failed to build"),
    };
    let combined = fixes.first().map(|fix| Combined {
        resolves: true,
        fixes: 1,
        packages: fix.resolution.as_ref().map_or(0, super::package_count),
        left_out: Vec::new(),
        clashes: Vec::new(),
    });
    Ok(Diagnosis {
        problems: vec![Problem {
            kind: Code::BuildFailed,
            packages: vec![name.clone()],
            locations: head.map(|h| h.location.clone()).into_iter().collect(),
            requirements: head.map(|h| h.text.clone()).into_iter().collect(),
            targets: resolver.targets().iter().map(|t| t.oci.clone()).collect(),
            summary,
            details,
            fixes,
            modules: Vec::new(),
            not_confirmed,
        }],
        combined,
        input: input.files.first().cloned(),
        incomplete: Vec::new(),
        not_applied: Vec::new(),
    })
}

/// Another release of the package, whose metadata needs no failing build: the line pinned to it
/// when the input names the package, else a line keeping it off the failed release.
async fn other_release(
    resolver: &Resolver,
    input: &RequirementsInput,
    failure: &BuildFailure,
    direct: Option<&InputRequirement>,
    release: &str,
    proof: &mut Option<NoSolution>,
) -> Result<Option<Result<Fix, NotConfirmed>>, ResolveError> {
    let name = &failure.package;
    let Some(version) = &failure.version else {
        return Ok(None);
    };
    let avoid = format!("{name}!={version}");
    let mut trial = Working::new(input.clone());
    trial.apply(&[Edit {
        location: direct.map(|line| line.location.clone()),
        original: direct.map(|line| line.text.clone()),
        replacement: Some(avoid.clone()),
    }]);
    let fix = match resolver.resolve(trial.input()).await {
        Ok(resolution) => match (direct, locked_version(&resolution, name)) {
            (Some(line), Some(other)) => {
                let mut fix = Fix::edits(
                    format!("use {name} {other} instead of {release}, whose build fails"),
                    vec![pin_edit(line, &other)],
                );
                let mut pinned = Working::new(input.clone());
                pinned.apply(&fix.edits);
                match resolver.resolve(pinned.input()).await {
                    Ok(resolution) => {
                        fix.resolution = Some(resolution);
                        Ok(fix)
                    }
                    Err(ResolveError::TimedOut) => Err(NotConfirmed {
                        fix,
                        why: "not checked: the time budget ran out first".to_string(),
                    }),
                    Err(error) => Err(NotConfirmed {
                        fix,
                        why: why_not(&error),
                    }),
                }
            }
            _ => {
                let mut fix = Fix::edits(
                    format!("keep {name} off {version}, whose build fails: add `{avoid}`"),
                    vec![Edit {
                        location: None,
                        original: None,
                        replacement: Some(avoid),
                    }],
                );
                fix.resolution = Some(resolution);
                Ok(fix)
            }
        },
        Err(error) => {
            *proof = match error {
                ResolveError::NoSolution(ref no_solution) => Some(no_solution.as_ref().clone()),
                _ => None,
            };
            Err(NotConfirmed {
                fix: Fix::edits(
                    format!("use another release of {name}: add `{avoid}`"),
                    Vec::new(),
                ),
                why: why_not(&error),
            })
        }
    };
    Ok(Some(fix))
}

/// Raise (else lower) the pinned input line `head` to a release whose dependencies no longer reach
/// the failed package, checked by resolving with the fix applied. When the input still does not
/// resolve for another reason, the fix is returned unconfirmed, saying so.
async fn repin_head(
    resolver: &Resolver,
    input: &RequirementsInput,
    head: &InputRequirement,
    path: &[PackageName],
    name: &PackageName,
) -> Result<Option<Result<Fix, NotConfirmed>>, ResolveError> {
    let refusing = resolver.refusing_sdists_of(std::slice::from_ref(name));
    let steps = std::iter::once(None)
        .chain(path.iter().map(Some))
        .zip(path.iter())
        .map(|(from, to)| Step {
            from: from.cloned(),
            from_extra: None,
            from_range: Ranges::full(),
            to: to.clone(),
            range: Ranges::full(),
        })
        .collect();
    let dead = DeadEnd {
        package: name.clone(),
        path: steps,
        wanted: Ranges::full(),
    };
    let working = Working::new(input.clone());
    let Some(mut fix) = repin(&refusing, &working, head, &dead).await? else {
        return Ok(None);
    };
    let mut fixed = working.clone();
    fixed.apply(&fix.edits);
    match resolver.resolve(fixed.input()).await {
        Ok(resolution) => {
            fix.resolution = Some(resolution);
            Ok(Some(Ok(fix)))
        }
        Err(ResolveError::NoSolution(_)) => Ok(Some(Err(NotConfirmed {
            fix,
            why: format!(
                "it avoids {name}'s failed build, but the input does not resolve for another reason: apply it and run again"
            ),
        }))),
        Err(error) => Err(error),
    }
}

/// Refuse sdists altogether, as `--no-build` (or an image without `allow-sdist`) does.
async fn wheels_only(
    resolver: &Resolver,
    input: &RequirementsInput,
    context: &DiagnoseContext,
) -> Result<Result<Fix, NotConfirmed>, ResolveError> {
    let summary = if context.ad_hoc {
        "install wheels only: run again with `--no-build`".to_string()
    } else {
        format!(
            "install wheels only: remove `allow-sdist` from image `{}` in fave-lock.toml",
            context.image
        )
    };
    let mut fix = Fix::edits(summary, Vec::new());
    match resolver.refusing_sdists().resolve(input).await {
        Ok(resolution) => {
            fix.resolution = Some(resolution);
            Ok(Ok(fix))
        }
        Err(error) => Ok(Err(NotConfirmed {
            fix,
            why: why_not(&error),
        })),
    }
}

/// Why a trial did not resolve, in a few words (the full report would be another diagnosis).
fn why_not(error: &ResolveError) -> String {
    match error {
        ResolveError::TimedOut => "not checked: the time budget ran out first".to_string(),
        ResolveError::NoSolution(_) => "it does not resolve: run with it to see why".to_string(),
        other => match build_failure(other) {
            Some(failure) => format!(
                "it does not resolve: the sdist `{}` fails to build too",
                failure.filename
            ),
            None => "it does not resolve: the index or a download failed".to_string(),
        },
    }
}

fn locked_version(resolution: &Resolution, name: &PackageName) -> Option<Version> {
    resolution
        .targets
        .iter()
        .find_map(|target| target.packages.values().find(|p| &p.name == name))
        .map(|package| package.version.clone())
}

/// The shortest path from a package the input names to `name`, by breadth-first search over `via`.
fn path_to(resolution: &Resolution, name: &PackageName) -> Option<Vec<PackageName>> {
    let target = resolution.targets.first()?;
    let by_name = |wanted: &PackageName| target.packages.values().find(|p| &p.name == wanted);
    let mut queue = std::collections::VecDeque::from([vec![name.clone()]]);
    let mut seen = std::collections::BTreeSet::from([name.clone()]);
    while let Some(path) = queue.pop_front() {
        let package = by_name(&path[0])?;
        if package.via.iter().any(|via| matches!(via, Via::Input(_))) {
            return Some(path);
        }
        for via in &package.via {
            if let Via::Package(parent) = via
                && seen.insert(parent.clone())
            {
                let mut longer = vec![parent.clone()];
                longer.extend(path.iter().cloned());
                queue.push_back(longer);
            }
        }
    }
    None
}

/// The shortest path from the input to `name` along the dependency facts of a proof.
fn path_in_proof(proof: &NoSolution, name: &PackageName) -> Option<Vec<PackageName>> {
    let facts = &proof.failures.first()?.incompatibilities;
    let mut queue = std::collections::VecDeque::from([vec![name.clone()]]);
    let mut seen = std::collections::BTreeSet::from([name.clone()]);
    while let Some(path) = queue.pop_front() {
        for fact in facts {
            let Incompatibility::Dependency { from, to, .. } = fact else {
                continue;
            };
            if to != &path[0] {
                continue;
            }
            // The package's own line in the trial's input (the added `name!=version`) is no chain.
            let Some(from) = from else {
                if path.len() > 1 {
                    return Some(path);
                }
                continue;
            };
            if seen.insert(from.clone()) {
                let mut longer = vec![from.clone()];
                longer.extend(path.iter().cloned());
                queue.push_back(longer);
            }
        }
    }
    None
}

/// The build log's last lines that are not the commands fave-lock ran (whose temporary paths say
/// nothing), each cut to a readable width.
fn log_lines(log_tail: &str) -> Vec<String> {
    let lines: Vec<&str> = log_tail
        .lines()
        .map(str::trim_end)
        // Carets under a traceback's code and blank lines say nothing on their own.
        .filter(|line| line.chars().any(char::is_alphanumeric) && !line.starts_with("$ "))
        .collect();
    lines[lines.len().saturating_sub(LOG_LINES)..]
        .iter()
        .map(|line| {
            let line = line.trim_start();
            if line.chars().count() > LOG_WIDTH {
                let cut: String = line.chars().take(LOG_WIDTH).collect();
                format!("  | {cut}…")
            } else {
                format!("  | {line}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::log_lines;

    #[test]
    fn the_log_keeps_its_last_lines_without_the_commands_and_cut_to_width() {
        let long = "x".repeat(400);
        let log = format!(
            "$ /tmp/env/bin/python -m pip install setuptools\nrunning egg_info\n{long}\nError: could not determine PostgreSQL version from '15.18'\n"
        );
        let lines = log_lines(&log);
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert_eq!(lines[0], "  | running egg_info");
        assert!(lines[1].chars().count() < 160, "{}", lines[1]);
        assert_eq!(
            lines[2],
            "  | Error: could not determine PostgreSQL version from '15.18'"
        );
    }
}
