//! Compatibility diagnosis: when an input cannot be resolved, find every independent problem in one run,
//! each tied to its input line and platforms, each with fixes that were checked by resolving again.
//!
//! The loop: classify each input requirement on its own (no such version, no wheel, requires-python,
//! cutoff, yanks, metadata); replace each such problem by its first fix; then resolve, explain the
//! conflict PubGrub proves, replace it by its first fix, and resolve again, until the input resolves.
//! Every fix is then checked with the other problems' first fixes applied (or, when those undo it, with
//! their lines left out), and one checked fix per problem together.

mod abi;
mod apply;
mod build;
mod conflict;
mod constraint;
mod depth;
mod render;
mod suggest;
mod unit;
mod working;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pep508_rs::PackageName;

pub use abi::{AbiDiagnoseContext, AbiDiagnoseError, diagnose_abi};
pub use apply::{ApplyError, apply_fixes};
pub use build::{BuildFailure, build_failure};
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
        Code::BuildFailed => "an sdist failed to build",
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

impl Edit {
    /// Remove the line at `location`.
    pub(crate) fn removal(location: &Location) -> Edit {
        Edit {
            location: Some(location.clone()),
            original: None,
            replacement: None,
        }
    }
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
    /// The (1-based) problems whose input lines were left out when this fix was checked, because it
    /// does not resolve together with their first fixes; empty when it was checked with them.
    pub left_out: Vec<usize>,
}

/// A proposed fix the diagnosis could not confirm, and why: it is shown, never applied.
#[derive(Debug, Clone)]
pub struct NotConfirmed {
    pub fix: Fix,
    pub why: String,
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
            left_out: Vec::new(),
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
    /// Fixes proposed but not confirmed by a resolution (they did not resolve, or the time budget ran
    /// out first), each with the reason.
    pub not_confirmed: Vec<NotConfirmed>,
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
    /// Fixes `--apply-fixes` did not write because each would undo a fix an earlier `--apply-fixes`
    /// wrote on the same line (two fixes that clash would otherwise alternate run after run): why.
    pub not_applied: Vec<String>,
}

/// The check of all first fixes together.
#[derive(Debug, Clone)]
pub struct Combined {
    pub resolves: bool,
    pub fixes: usize,
    pub packages: usize,
    /// The (1-based) problems whose lines were left out of the combination: they have no checked
    /// fix, or every checked fix changes a line that an earlier problem's fix changes otherwise.
    pub left_out: Vec<usize>,
    /// Why each problem left out for a clash was: which line two fixes want differently.
    pub clashes: Vec<String>,
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

/// Find every problem of `input`, with checked fixes. Call it after a resolution failed: with no
/// solution, or at an sdist whose build failed (then that build is the one problem reported).
pub async fn diagnose(
    resolver: &Resolver,
    input: &RequirementsInput,
    context: &DiagnoseContext,
) -> Result<Diagnosis, ResolveError> {
    diagnose_builds_left(resolver, input, context, MAX_FAILED_BUILDS).await
}

/// [`diagnose`], where at most `builds_left` more failed builds the input needs are each reported and
/// stepped around to look for the input's other problems (see [`build::diagnose_with_rest`]).
pub(crate) async fn diagnose_builds_left(
    resolver: &Resolver,
    input: &RequirementsInput,
    context: &DiagnoseContext,
    builds_left: usize,
) -> Result<Diagnosis, ResolveError> {
    let mut resolver = resolver.clone();
    let mut failed_builds: Vec<BuildFailure> = Vec::new();
    loop {
        let error = match diagnose_input(&resolver, input, context).await {
            Ok(mut diagnosis) => {
                // Builds that failed in a trial: the fixes that needed them were not considered.
                for failure in &failed_builds {
                    diagnosis.incomplete.push(format!(
                        "the sdist `{}` failed to build, so no fix uses it ({})",
                        failure.filename,
                        failure.last_line()
                    ));
                }
                return Ok(diagnosis);
            }
            Err(error) => error,
        };
        let Some(failure) = build_failure(&error) else {
            return Err(error);
        };
        // The input itself needs this build (the fetches are shared, so this costs no new build):
        // that build is one problem to report, and the rest of the input is looked at for others.
        if build::input_needs(&resolver, input, &failure).await {
            let resolver = match context.budget {
                Some(budget) => resolver.with_deadline(Instant::now() + budget),
                None => resolver.clone(),
            };
            return build::diagnose_with_rest(&resolver, input, context, &failure, builds_left)
                .await;
        }
        // Only a trial (a candidate fix's release) needed it: look again without that sdist.
        if failed_builds.len() >= MAX_FAILED_BUILDS
            || failed_builds.iter().any(|f| f.package == failure.package)
        {
            return Err(error);
        }
        resolver = resolver.refusing_sdists_of(std::slice::from_ref(&failure.package));
        failed_builds.push(failure);
    }
}

/// Sdists whose failed build in a trial the diagnosis steps around before giving up.
const MAX_FAILED_BUILDS: usize = 3;

async fn diagnose_input(
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
    // Comparing lines with constraints needs pages only and no build: done beside the line checks (so
    // that the releases its fixes pin are warmed early), and worth it even when a slow line used up the
    // budget.
    let constraints = async {
        let found = constraint::find(resolver, input).await;
        if let Ok(found) = &found {
            warm_fixes(resolver, found);
        }
        found
    };
    let (lines, constraints) = futures::join!(unit::find(resolver, input, context), constraints);
    let lines = lines?;
    let mut problems = lines.problems;
    if lines.timed_out {
        incomplete.push(out_of_time("while checking the input lines one by one"));
    }
    match constraints {
        Ok(found) => problems.extend(found),
        Err(ResolveError::TimedOut) => {
            incomplete.push(out_of_time(
                "while comparing the input lines with the constraints",
            ));
        }
        Err(other) => return Err(other),
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
                warm_fixes(resolver, std::slice::from_ref(&problem));
                working.apply_first(&problem);
                problems.push(problem);
            }
            Ok(None) => match explain_below(resolver, &working, &failure, context).await {
                Ok(Some(problem)) if problems.iter().any(|p| p.summary == problem.summary) => {
                    break;
                }
                Ok(Some(problem)) => {
                    warm_fixes(resolver, std::slice::from_ref(&problem));
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
        let (left_out, clashes) = choose_compatible_fixes(&mut problems);
        let mut all = Working::new(input.clone());
        let mut sdists = Vec::new();
        let mut edited = Vec::new();
        let chosen = problems
            .iter()
            .enumerate()
            .filter(|(index, _)| !left_out.contains(&(index + 1)))
            .filter_map(|(_, problem)| problem.fixes.first());
        for first in chosen {
            all.apply(&first.edits);
            edited.extend(first.edits.iter().filter_map(|e| e.location.clone()));
            sdists.extend(first.allow_sdist.iter().cloned());
        }
        // A problem left out keeps none of its lines, except those another problem's fix sets.
        let removals: Vec<Edit> = left_out
            .iter()
            .flat_map(|number| &problems[number - 1].locations)
            .filter(|location| !edited.contains(location))
            .map(Edit::removal)
            .collect();
        all.apply(&removals);
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
                    fixes: problems.len() - left_out.len(),
                    packages: result.as_ref().map(package_count).unwrap_or(0),
                    left_out,
                    clashes,
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
        not_applied: Vec::new(),
    })
}

/// Start fetching what checking `problems`' fixes will need (every fix is checked by resolving with
/// it, and the next round resolves with the first ones): each release a fix pins, built if it is an
/// sdist, and its dependencies. The round trips and builds then overlap the rest of the diagnosis
/// rather than follow it one check after another.
pub(super) fn warm_fixes(resolver: &Resolver, problems: &[Problem]) {
    let fixes = problems.iter().flat_map(|problem| &problem.fixes);
    // A fix that allows an sdist is checked by a resolver with another policy, whose memo this is not.
    for fix in fixes.filter(|fix| fix.allow_sdist.is_empty()) {
        let lines = fix
            .edits
            .iter()
            .filter_map(|edit| edit.replacement.as_deref());
        for requirement in
            lines.filter_map(|text| crate::requirements::pep508::parse_requirement(text).ok())
        {
            resolver.warm(&requirement);
        }
    }
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

/// Keep only the fixes that resolve, and say what each changes compared with the problem's other fix.
/// A fix is checked with the other problems' first fixes applied; when it does not resolve so (two
/// problems' first fixes can undo each other: raise a pin, lower it back), it is checked again with
/// the other problems' lines left out, which tells whether it fixes its own problem, and says so. A
/// fix neither check confirms moves to [`Problem::not_confirmed`] with the reason. Returns the
/// (1-based) problems whose fixes the time budget left unchecked.
async fn check_fixes(
    resolver: &Resolver,
    problems: &mut [Problem],
    input: &RequirementsInput,
    phase: &Phase,
) -> Result<Vec<usize>, ResolveError> {
    let mut unchecked = Vec::new();
    let count = problems.len();
    // Fixes are numbered across all problems, so the progress line says how far the checking is.
    let all_fixes: usize = problems.iter().map(|p| p.fixes.len()).sum();
    let mut numbered = 0;
    for index in 0..count {
        let mut with_firsts = Working::new(input.clone());
        for (other_index, other) in problems.iter().enumerate() {
            if other_index != index {
                with_firsts.apply_first(other);
            }
        }
        let (apart, left_out) = others_left_out(problems, index, input);
        let first_number = numbered + 1;
        numbered += problems[index].fixes.len();
        // The trials are independent: run them together (the solver threads use every core).
        let trials = std::mem::take(&mut problems[index].fixes)
            .into_iter()
            .enumerate()
            .map(|(number, mut fix)| {
                let (with_firsts, apart, left_out) = (&with_firsts, &apart, &left_out);
                async move {
                    set_phase(
                        phase,
                        format!(
                            "checking fix {} of {all_fixes} (problem {} of {count})",
                            first_number + number,
                            index + 1
                        ),
                    );
                    if fix.resolution.is_some() {
                        return Checked::Kept(fix);
                    }
                    match trial(resolver, with_firsts, &fix).await {
                        Trial::Resolved(resolution) => {
                            fix.resolution = Some(resolution);
                            return Checked::Kept(fix);
                        }
                        Trial::TimedOut => return Checked::TimedOut(fix),
                        Trial::Failed if left_out.is_empty() => {
                            return Checked::Failed(fix, "it does not resolve".to_string());
                        }
                        Trial::Failed => {}
                    }
                    match trial(resolver, apart, &fix).await {
                        Trial::Resolved(resolution) => {
                            fix.resolution = Some(resolution);
                            fix.left_out.clone_from(left_out);
                            Checked::Kept(fix)
                        }
                        Trial::TimedOut => Checked::TimedOut(fix),
                        Trial::Failed => {
                            let why = format!(
                                "it does not resolve, neither with the other problems' first fixes nor with the lines of problem{} {} left out",
                                if left_out.len() == 1 { "" } else { "s" },
                                number_list(left_out)
                            );
                            Checked::Failed(fix, why)
                        }
                    }
                }
            });
        let outcomes = futures::future::join_all(trials).await;
        let mut kept: Vec<Fix> = Vec::new();
        let mut timed_out = false;
        for outcome in outcomes {
            match outcome {
                Checked::Kept(fix) => kept.push(fix),
                Checked::Failed(fix, why) => {
                    problems[index]
                        .not_confirmed
                        .push(NotConfirmed { fix, why });
                }
                Checked::TimedOut(fix) => {
                    timed_out = true;
                    problems[index].not_confirmed.push(NotConfirmed {
                        fix,
                        why: "not checked: the time budget ran out first".to_string(),
                    });
                }
            }
        }
        if timed_out {
            unchecked.push(index + 1);
        }
        // Knock-on changes compare like with like: fixes checked on the same base.
        if kept
            .windows(2)
            .all(|pair| pair[0].left_out == pair[1].left_out)
        {
            describe_differences(&mut kept);
        }
        problems[index].fixes = kept;
    }
    Ok(unchecked)
}

/// What became of one fix's check.
enum Checked {
    Kept(Fix),
    Failed(Fix, String),
    TimedOut(Fix),
}

enum Trial {
    Resolved(Resolution),
    Failed,
    TimedOut,
}

/// Resolve `base` with `fix` applied, with a resolver that allows the sdists the fix allows.
async fn trial(resolver: &Resolver, base: &Working, fix: &Fix) -> Trial {
    let mut input = base.clone();
    input.apply(&fix.edits);
    let checker = if fix.allow_sdist.is_empty() {
        resolver.clone()
    } else {
        resolver.allowing_sdists(&fix.allow_sdist)
    };
    match checker.resolve(input.input()).await {
        Ok(resolution) => Trial::Resolved(resolution),
        Err(ResolveError::TimedOut) => Trial::TimedOut,
        // A build cut off by the budget fails as an index error.
        Err(_) if checker.out_of_time() => Trial::TimedOut,
        Err(_) => Trial::Failed,
    }
}

/// The input without the lines of every problem but `index` (its own lines stay, even when another
/// problem names them too), and the (1-based) problems that lost a line.
fn others_left_out(
    problems: &[Problem],
    index: usize,
    input: &RequirementsInput,
) -> (Working, Vec<usize>) {
    let own = &problems[index].locations;
    let mut removals = Vec::new();
    let mut numbers = Vec::new();
    for (other_index, other) in problems.iter().enumerate() {
        if other_index == index {
            continue;
        }
        let lines: Vec<&Location> = other
            .locations
            .iter()
            .filter(|location| !own.contains(location))
            .collect();
        if !lines.is_empty() {
            numbers.push(other_index + 1);
        }
        removals.extend(lines.into_iter().map(Edit::removal));
    }
    let mut working = Working::new(input.clone());
    working.apply(&removals);
    (working, numbers)
}

/// Put first, in each problem, a checked fix that does not change a line an earlier problem's chosen
/// fix changes otherwise (two fixes that set one line two ways cannot both be applied). Returns the
/// (1-based) problems left out of the combination (no checked fix, or only clashing ones) and a
/// sentence for each clash.
fn choose_compatible_fixes(problems: &mut [Problem]) -> (Vec<usize>, Vec<String>) {
    // Each line a chosen fix edits: its new text (`None`: removed) and the problem that chose it.
    let mut taken: Vec<(Location, Option<String>, usize)> = Vec::new();
    let mut left_out = Vec::new();
    let mut clashes = Vec::new();
    for (index, problem) in problems.iter_mut().enumerate() {
        let clash_of = |fix: &Fix| {
            fix.edits.iter().find_map(|edit| {
                let location = edit.location.as_ref()?;
                taken
                    .iter()
                    .find(|(line, text, _)| line == location && *text != edit.replacement)
                    .map(|(_, text, other)| (edit.clone(), text.clone(), *other))
            })
        };
        let Some(first) = problem.fixes.first() else {
            left_out.push(index + 1);
            continue;
        };
        let first_clash = clash_of(first);
        let Some(position) = problem.fixes.iter().position(|fix| clash_of(fix).is_none()) else {
            left_out.push(index + 1);
            if let Some((edit, theirs, other)) = first_clash {
                let place = edit
                    .location
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                clashes.push(format!(
                    "problem {} is left out: its fix makes {place} {}, problem {other}'s fix {}",
                    index + 1,
                    line_text(edit.replacement.as_deref()),
                    line_text(theirs.as_deref()),
                ));
            }
            continue;
        };
        let chosen = problem.fixes.remove(position);
        problem.fixes.insert(0, chosen);
        for edit in &problem.fixes[0].edits {
            if let Some(location) = &edit.location {
                taken.push((location.clone(), edit.replacement.clone(), index + 1));
            }
        }
    }
    (left_out, clashes)
}

fn line_text(replacement: Option<&str>) -> String {
    match replacement {
        Some(text) => format!("`{text}`"),
        None => "removed".to_string(),
    }
}

/// `1, 2, 4–9` from sorted 1-based numbers: one short line however many problems ran out of time.
pub(crate) fn number_list(numbers: &[usize]) -> String {
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
