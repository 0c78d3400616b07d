//! Compatibility diagnosis: when an input cannot be resolved, find every independent problem in one run,
//! each tied to its input line and platforms, each with fixes that were checked by resolving again.
//!
//! The loop: classify each input requirement on its own (no such version, no wheel, requires-python,
//! cutoff, yanks, metadata); replace each such problem by its first fix; then resolve, explain the
//! conflict PubGrub proves, replace it by its first fix, and resolve again, until the input resolves.
//! Every fix is then checked with the other problems' first fixes applied, and all first fixes together.

mod abi;
mod apply;
mod conflict;
mod constraint;
mod depth;
mod render;
mod unit;
mod working;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pep508_rs::PackageName;

pub use abi::{AbiDiagnoseContext, AbiDiagnoseError, diagnose_abi};
pub use apply::{ApplyError, apply_fixes};
pub use render::{render_json, render_text};

use crate::finding::Code;
use crate::requirements::{Location, RequirementsInput};
use crate::resolve::{Resolution, ResolveError, ResolveOptions, Resolver, Target};
use crate::tags::PythonVersion;
use working::Working;

/// A short human title of a problem of `kind`.
pub(crate) fn title(kind: Code) -> &'static str {
    match kind {
        Code::NoSuchProject => "no such project",
        Code::NoSuchVersion => "no such version",
        Code::NoMatchingWheel => "no wheel for this Python, ABI or platform",
        Code::RequiresPython => "requires-python excludes the target",
        Code::Conflict => "two requirements conflict",
        Code::NewerThanCutoff => "all matching releases are newer than exclude-newer",
        Code::OnlyYanked => "only yanked releases match",
        Code::InputHashMismatch => "no file matches the input's `--hash` values",
        Code::InvalidMetadata => "invalid metadata",
        Code::NumpyAbi => "built against numpy 1.x, locked with numpy 2",
        Code::Unexplained => "no solution",
        // Not a diagnosis code: the vocabulary's own line.
        other => other.description(),
    }
}

/// One change to the requirements input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    /// The line changed; `None` to add a new line at the end of the input.
    pub location: Option<Location>,
    /// The requirement as written there.
    pub original: Option<String>,
    /// The exact replacement line; `None` removes the requirement.
    pub replacement: Option<String>,
}

/// A fix that was checked by resolving with it.
#[derive(Debug, Clone)]
pub struct Fix {
    /// What the fix does and why this version.
    pub summary: String,
    pub edits: Vec<Edit>,
    /// Packages whose locked version differs from the other fix of the same problem.
    pub also_changes: Vec<String>,
    /// A config snippet the fix needs (a second image), if any.
    pub config: Option<String>,
    /// Packages in the resolution with this fix.
    pub resolution: Option<Resolution>,
    /// Packages whose sdist the fix allows (`--allow-sdist`, `allow-sdist` in fave-lock.toml): a change
    /// of policy rather than of an input line, checked with a resolver that allows them.
    pub allow_sdist: Vec<PackageName>,
}

impl Fix {
    /// A fix that changes input lines, to be checked.
    pub(crate) fn edits(summary: String, edits: Vec<Edit>) -> Fix {
        Fix {
            summary,
            edits,
            also_changes: vec![],
            config: None,
            resolution: None,
            allow_sdist: Vec::new(),
        }
    }
}

/// One independent reason the input cannot be resolved.
#[derive(Debug, Clone)]
pub struct Problem {
    pub kind: Code,
    pub packages: Vec<PackageName>,
    /// The input lines involved.
    pub locations: Vec<Location>,
    /// The requirement lines as written, matching `locations`.
    pub requirements: Vec<String>,
    /// OCI platforms affected.
    pub targets: Vec<String>,
    pub summary: String,
    pub details: Vec<String>,
    /// Checked fixes, best first; empty when none could be checked.
    pub fixes: Vec<Fix>,
    /// For a numpy ABI problem: each wheel and its modules built against numpy 1.x headers (the text
    /// names a few; the JSON has them all).
    pub modules: Vec<(String, Vec<String>)>,
}

/// The outcome of diagnosing an input.
#[derive(Debug, Clone)]
pub struct Diagnosis {
    pub problems: Vec<Problem>,
    /// Whether all first fixes together resolve, and to how many packages.
    pub combined: Option<Combined>,
    /// The top-level requirements file, where fixes that add a requirement go.
    pub input: Option<std::path::PathBuf>,
    /// What the time budget cut short (more problems not looked for, fixes not checked); empty when
    /// the diagnosis is complete.
    pub incomplete: Vec<String>,
}

/// The check of all first fixes together.
#[derive(Debug, Clone)]
pub struct Combined {
    pub resolves: bool,
    pub fixes: usize,
    pub packages: usize,
}

/// What the diagnosis needs besides the resolver: enough to check a fix on another Python.
#[derive(Debug, Clone)]
pub struct DiagnoseContext {
    pub image: String,
    pub options: ResolveOptions,
    /// The requirements input as the user names it, for config snippets.
    pub requirements_path: std::path::PathBuf,
    /// How long the whole diagnosis may take; `None` for no limit. When it runs out, the problems
    /// found so far are reported and [`Diagnosis::incomplete`] says what was not done.
    pub budget: Option<Duration>,
    /// What the diagnosis is doing now, for a progress display (the CLI's spinner reads it).
    pub phase: Phase,
    /// An ad hoc run (`resolve -r`): fixes name command-line flags instead of fave-lock.toml keys.
    pub ad_hoc: bool,
}

/// Hears the diagnosis's current step in words ("checking 2 fix(es) of problem 1 of 3"): the CLI
/// shows it in its spinner, or prints it where stderr is a log.
#[derive(Clone)]
pub struct Phase(Arc<dyn Fn(&str) + Send + Sync>);

impl Phase {
    pub fn new(listener: impl Fn(&str) + Send + Sync + 'static) -> Phase {
        Phase(Arc::new(listener))
    }
}

impl Default for Phase {
    /// Nobody listens.
    fn default() -> Phase {
        Phase::new(|_| {})
    }
}

impl fmt::Debug for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Phase")
    }
}

fn set_phase(phase: &Phase, text: String) {
    (phase.0)(&text);
}

impl Diagnosis {
    /// Whether every problem is one the numpy ABI check found in a lock that resolved.
    pub fn is_abi_only(&self) -> bool {
        !self.problems.is_empty()
            && self
                .problems
                .iter()
                .all(|problem| problem.kind == Code::NumpyAbi)
    }
}

impl fmt::Display for Diagnosis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&render_text(self))
    }
}

/// The most rounds of "resolve, explain a conflict, fix it" before giving up on finding more.
const MAX_ROUNDS: usize = 8;

/// Find every problem of `input`, with checked fixes. Call it after a resolution failed.
pub async fn diagnose(
    resolver: &Resolver,
    input: &RequirementsInput,
    context: &DiagnoseContext,
) -> Result<Diagnosis, ResolveError> {
    let resolver = &match context.budget {
        Some(budget) => resolver.with_deadline(Instant::now() + budget),
        None => resolver.clone(),
    };
    let out_of_time = |what: &str| {
        let budget = context.budget.unwrap_or_default().as_secs_f64();
        format!("the time budget ({budget:.0} s, --diagnose-timeout) ran out {what}")
    };
    let mut incomplete = Vec::new();
    let mut working = Working::new(input.clone());
    set_phase(
        &context.phase,
        format!("checking {} input lines", input.requirements.len()),
    );
    let mut problems = match unit::find(resolver, input, context).await {
        Ok(problems) => problems,
        Err(ResolveError::TimedOut) => {
            incomplete.push(out_of_time("while checking the input lines one by one"));
            Vec::new()
        }
        Err(other) => return Err(other),
    };
    if incomplete.is_empty() {
        match constraint::find(resolver, input).await {
            Ok(found) => problems.extend(found),
            Err(ResolveError::TimedOut) => {
                incomplete.push(out_of_time(
                    "while comparing the input lines with the constraints",
                ));
            }
            Err(other) => return Err(other),
        }
    }
    for problem in &problems {
        working.apply_first(problem);
    }
    let mut unexplained = None;
    for round in 1..=MAX_ROUNDS {
        if !incomplete.is_empty() {
            break;
        }
        set_phase(
            &context.phase,
            format!(
                "resolving with {} problem(s) set aside (round {round})",
                problems.len()
            ),
        );
        let failure = match resolver.resolve(working.input()).await {
            Ok(_) => break,
            Err(ResolveError::NoSolution(no_solution)) => no_solution,
            Err(ResolveError::TimedOut) => {
                incomplete.push(out_of_time("while looking for more problems"));
                break;
            }
            Err(other) => return Err(other),
        };
        set_phase(
            &context.phase,
            format!("explaining a conflict (problem {})", problems.len() + 1),
        );
        match conflict::explain(resolver, &working, &failure, context).await {
            // The same problem again means the first fixes undo each other (raise one pin, then lower
            // it back): reporting it once is enough, and looking further would only repeat it.
            Ok(Some(problem)) if problems.iter().any(|p| p.summary == problem.summary) => break,
            Ok(Some(problem)) => {
                working.apply_first(&problem);
                problems.push(problem);
            }
            Ok(None) => match explain_below(resolver, &working, &failure, context).await {
                Ok(Some(problem)) if problems.iter().any(|p| p.summary == problem.summary) => {
                    break;
                }
                Ok(Some(problem)) => {
                    working.apply_first(&problem);
                    problems.push(problem);
                }
                Ok(None) => {
                    unexplained = Some(unit::unexplained(&failure, working.input()));
                    break;
                }
                Err(ResolveError::TimedOut) => {
                    incomplete.push(out_of_time(
                        "while explaining a dependency below an input line",
                    ));
                    break;
                }
                Err(other) => return Err(other),
            },
            Err(ResolveError::TimedOut) => {
                incomplete.push(out_of_time("while explaining a conflict"));
                break;
            }
            Err(other) => return Err(other),
        }
    }
    let unchecked = check_fixes(resolver, &mut problems, input, &context.phase).await?;
    if !unchecked.is_empty() {
        let plural = if unchecked.len() == 1 { "" } else { "s" };
        incomplete.push(out_of_time(&format!(
            "before the fixes of problem{plural} {} were checked",
            number_list(&unchecked)
        )));
    }
    let mut combined = None;
    let with_fixes = problems.iter().filter(|p| !p.fixes.is_empty()).count();
    // With no checked fix there is nothing to combine (each problem says that none could be checked).
    if unexplained.is_none() && incomplete.is_empty() && with_fixes > 0 {
        set_phase(
            &context.phase,
            "checking all first fixes together".to_string(),
        );
        let mut all = Working::new(input.clone());
        let mut sdists = Vec::new();
        for first in problems.iter().filter_map(|p| p.fixes.first()) {
            all.apply(&first.edits);
            sdists.extend(first.allow_sdist.iter().cloned());
        }
        let checker = if sdists.is_empty() {
            resolver.clone()
        } else {
            resolver.allowing_sdists(&sdists)
        };
        match checker.resolve(all.input()).await {
            Err(ResolveError::TimedOut) => {
                incomplete.push(out_of_time("before all first fixes were checked together"));
            }
            result => {
                combined = Some(Combined {
                    resolves: result.is_ok(),
                    fixes: with_fixes,
                    packages: result.as_ref().map(package_count).unwrap_or(0),
                });
            }
        }
    }
    problems.extend(unexplained);
    Ok(Diagnosis {
        problems,
        combined,
        input: input.files.first().cloned(),
        incomplete,
    })
}

/// A failure that is no clash between two requirements: a constraint that empties a dependency's
/// requirement, else a dependency below an input line that cannot install.
async fn explain_below(
    resolver: &Resolver,
    working: &Working,
    failure: &crate::resolve::NoSolution,
    context: &DiagnoseContext,
) -> Result<Option<Problem>, ResolveError> {
    if let Some(problem) = constraint::explain(resolver, working, failure).await? {
        return Ok(Some(problem));
    }
    depth::explain(resolver, working, failure, context).await
}

/// Keep only the fixes that resolve with the other problems' first fixes applied, and say what each
/// changes compared with the problem's other fix. Returns the (1-based) problems whose fixes the time
/// budget left unchecked; those keep no fix, since an unchecked fix is not printed as one.
async fn check_fixes(
    resolver: &Resolver,
    problems: &mut [Problem],
    input: &RequirementsInput,
    phase: &Phase,
) -> Result<Vec<usize>, ResolveError> {
    let mut unchecked = Vec::new();
    let count = problems.len();
    for index in 0..count {
        set_phase(
            phase,
            format!(
                "checking {} fix(es) of problem {} of {count}",
                problems[index].fixes.len(),
                index + 1
            ),
        );
        let mut base = Working::new(input.clone());
        for (other_index, other) in problems.iter().enumerate() {
            if other_index != index {
                base.apply_first(other);
            }
        }
        // The trials are independent: run them together (the solver threads use every core).
        let trials = std::mem::take(&mut problems[index].fixes)
            .into_iter()
            .map(|mut fix| {
                let base = &base;
                async move {
                    let mut timed_out = false;
                    if fix.resolution.is_none() {
                        let mut trial = base.clone();
                        trial.apply(&fix.edits);
                        let checker = if fix.allow_sdist.is_empty() {
                            resolver.clone()
                        } else {
                            resolver.allowing_sdists(&fix.allow_sdist)
                        };
                        match checker.resolve(trial.input()).await {
                            Ok(resolution) => fix.resolution = Some(resolution),
                            Err(ResolveError::TimedOut) => timed_out = true,
                            // A build cut off by the budget fails as an index error.
                            Err(_) if checker.out_of_time() => timed_out = true,
                            Err(_) => {}
                        }
                    }
                    (fix, timed_out)
                }
            });
        let outcomes = futures::future::join_all(trials).await;
        if outcomes.iter().any(|(_, timed_out)| *timed_out) {
            unchecked.push(index + 1);
        }
        let mut kept: Vec<Fix> = outcomes
            .into_iter()
            .map(|(fix, _)| fix)
            .filter(|fix| fix.resolution.is_some())
            .collect();
        describe_differences(&mut kept);
        problems[index].fixes = kept;
    }
    Ok(unchecked)
}

/// `1, 2, 4–9` from sorted 1-based numbers: one short line however many problems ran out of time.
fn number_list(numbers: &[usize]) -> String {
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for &number in numbers {
        match runs.last_mut() {
            Some((_, end)) if *end + 1 == number => *end = number,
            _ => runs.push((number, number)),
        }
    }
    runs.iter()
        .map(|&(start, end)| match end - start {
            0 => start.to_string(),
            1 => format!("{start}, {end}"),
            _ => format!("{start}–{end}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn describe_differences(fixes: &mut [Fix]) {
    if fixes.len() < 2 {
        return;
    }
    let versions: Vec<BTreeMap<String, String>> = fixes
        .iter()
        .map(|fix| fix.resolution.as_ref().map(versions_of).unwrap_or_default())
        .collect();
    // Packages any of the fixes edits differ by design; report only the knock-on changes.
    let edited: Vec<String> = fixes
        .iter()
        .flat_map(|fix| &fix.edits)
        .filter_map(|edit| edit.replacement.as_deref().or(edit.original.as_deref()))
        .filter_map(|text| {
            text.split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '_' || c == '.'))
                .next()
        })
        .map(|name| name.to_lowercase().replace('_', "-"))
        .collect();
    for (index, fix) in fixes.iter_mut().enumerate() {
        let other = &versions[if index == 0 { 1 } else { 0 }];
        let own = &versions[index];
        let changed = own
            .iter()
            .filter(|(name, _)| !edited.contains(name))
            .filter_map(|(name, version)| match other.get(name) {
                Some(theirs) if theirs != version => Some(format!("{name} {theirs} → {version}")),
                None => Some(format!("{name} {version} (added)")),
                _ => None,
            });
        let removed = other
            .keys()
            .filter(|name| !own.contains_key(*name) && !edited.contains(name))
            .map(|name| format!("{name} (removed)"));
        fix.also_changes = changed.chain(removed).collect();
        if fix.also_changes.is_empty() {
            fix.also_changes.push("nothing else".to_string());
        }
    }
}

/// `name → version` over every target (platform-specific pins joined).
fn versions_of(resolution: &Resolution) -> BTreeMap<String, String> {
    let mut versions: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for target in &resolution.targets {
        for package in target.packages.values() {
            let entry = versions.entry(package.name.to_string()).or_default();
            let version = package.version.to_string();
            if !entry.contains(&version) {
                entry.push(version);
            }
        }
    }
    versions
        .into_iter()
        .map(|(name, list)| (name, list.join("/")))
        .collect()
}

fn package_count(resolution: &Resolution) -> usize {
    versions_of(resolution).len()
}

/// A target on another Python, for checking the "move it to a second image" fix.
pub(crate) fn other_python_target(target: &Target, python: PythonVersion) -> Target {
    Target::new(&target.oci, python, target.platform)
}

#[cfg(test)]
mod tests {
    use super::number_list;

    #[test]
    fn problem_numbers_are_listed_as_runs() {
        assert_eq!(number_list(&[3]), "3");
        assert_eq!(number_list(&[1, 2, 4, 8, 9, 10, 11, 12]), "1, 2, 4, 8–12");
    }
}
