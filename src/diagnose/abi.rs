//! Problems the numpy ABI check finds in a lock that resolved: a wheel whose extension modules were
//! built against numpy 1.x headers, locked with numpy ≥ 2. Each gets the fixes a person would try, each
//! checked by resolving again and scanning the new lock: the lowest release of the package built against
//! numpy 2.x, and `numpy<2`.

use std::collections::{BTreeMap, BTreeSet};

use pep440_rs::{Operator, Version};
use pep508_rs::{PackageName, Requirement, VersionOrUrl};

use super::conflict::declared_requirement;
use super::unit::pinned_line;
use super::working::Working;
use super::{Code, Combined, Diagnosis, Edit, Fix, Problem, describe_differences};
use crate::abi::{self, AbiError, AbiOptions, AbiProblem, AbiReport, ModuleClass, numpy_name};
use crate::index::DistFile;
use crate::lock::{Lock, LockContext};
use crate::requirements::{InputRequirement, RequirementsInput};
use crate::resolve::{Resolution, ResolveError, Resolver};

/// Why the ABI diagnosis stopped.
#[derive(Debug, thiserror::Error)]
pub enum AbiDiagnoseError {
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    #[error(transparent)]
    Abi(#[from] AbiError),
}

/// Everything a fix check needs besides the resolver.
pub struct AbiDiagnoseContext<'a> {
    /// The context of the lock that was checked; trial locks reuse it.
    pub lock: &'a LockContext,
    pub options: &'a AbiOptions,
}

/// The most module paths named in a problem's details before "and N more".
const SHOWN_MODULES: usize = 4;

/// Explain every problem of `report` (the ABI check of `input`'s lock), with checked fixes.
pub async fn diagnose_abi(
    resolver: &Resolver,
    input: &RequirementsInput,
    report: &AbiReport,
    context: &AbiDiagnoseContext<'_>,
) -> Result<Diagnosis, AbiDiagnoseError> {
    let mut by_package: BTreeMap<(PackageName, Version), Vec<&AbiProblem>> = BTreeMap::new();
    for problem in &report.problems {
        by_package
            .entry((problem.package.clone(), problem.version.clone()))
            .or_default()
            .push(problem);
    }
    let mut problems = Vec::new();
    for ((name, version), wheels) in by_package {
        let mut problem = describe(resolver, input, &name, &version, &wheels).await?;
        let mut fixes = Vec::new();
        if let Some(fix) = raise_fix(resolver, input, &name, &version, &wheels, context).await? {
            fixes.push(fix);
        }
        if let Some(fix) = numpy_below_2_fix(resolver, input, &name, context).await? {
            fixes.push(fix);
        }
        describe_differences(&mut fixes);
        problem.fixes = fixes;
        problems.push(problem);
    }
    let combined = combined(resolver, input, &problems, context).await?;
    Ok(Diagnosis {
        problems,
        combined: Some(combined),
        input: input.files.first().cloned(),
        incomplete: Vec::new(),
        not_applied: Vec::new(),
    })
}

/// The problem without its fixes: which modules, why metadata let it through.
async fn describe(
    resolver: &Resolver,
    input: &RequirementsInput,
    name: &PackageName,
    version: &Version,
    wheels: &[&AbiProblem],
) -> Result<Problem, AbiDiagnoseError> {
    let numpy = &wheels[0].numpy;
    let modules: BTreeSet<&str> = wheels
        .iter()
        .flat_map(|wheel| wheel.modules.iter().map(String::as_str))
        .collect();
    let targets: BTreeSet<&str> = wheels
        .iter()
        .flat_map(|wheel| wheel.targets.iter().map(String::as_str))
        .collect();
    let line = input_line(input, name);
    let mut details = Vec::new();
    let shown: Vec<&str> = modules.iter().copied().take(SHOWN_MODULES).collect();
    let more = modules.len().saturating_sub(SHOWN_MODULES);
    details.push(format!(
        "{}{}",
        shown.join(", "),
        if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        }
    ));
    for wheel in wheels {
        details.push(format!("in {}", wheel.filename));
    }
    if let Some(declared) =
        declared_requirement(resolver, name, version, &numpy_name(), &[]).await?
    {
        details.push(format!(
            "{name} {version} declares `{declared}`, so every resolver pairs it with numpy {numpy}; the binaries say otherwise"
        ));
    }
    details.push(
        "with numpy ≥ 2, `import` fails with `numpy.dtype size changed, may indicate binary incompatibility` or `module compiled against API version`"
            .to_string(),
    );
    Ok(Problem {
        kind: Code::NumpyAbi,
        packages: vec![name.clone()],
        locations: line.map(|l| vec![l.location.clone()]).unwrap_or_default(),
        requirements: line.map(|l| vec![l.text.clone()]).unwrap_or_default(),
        targets: targets.into_iter().map(str::to_string).collect(),
        summary: format!(
            "{name} {version}: {} extension module{} built against numpy 1.x headers, but the lock installs numpy {numpy}",
            modules.len(),
            if modules.len() == 1 { " was" } else { "s were" },
        ),
        details,
        fixes: Vec::new(),
        modules: wheels
            .iter()
            .map(|wheel| (wheel.filename.clone(), wheel.modules.clone()))
            .collect(),
        not_confirmed: Vec::new(),
    })
}

fn input_line<'a>(
    input: &'a RequirementsInput,
    name: &PackageName,
) -> Option<&'a InputRequirement> {
    input
        .requirements
        .iter()
        .find(|requirement| &requirement.requirement.name == name)
}

fn is_exact_pin(requirement: &Requirement) -> bool {
    matches!(
        &requirement.version_or_url,
        Some(VersionOrUrl::VersionSpecifier(specifiers))
            if specifiers.iter().any(|s| matches!(s.operator(), Operator::Equal | Operator::ExactEqual))
    )
}

/// Fix 1: the lowest later release whose wheels for the affected targets have no module built against
/// numpy 1.x. Releases are probed by binary search (once a project builds against numpy 2 it keeps
/// doing so), each probe downloading one wheel per target.
async fn raise_fix(
    resolver: &Resolver,
    input: &RequirementsInput,
    name: &PackageName,
    version: &Version,
    wheels: &[&AbiProblem],
    context: &AbiDiagnoseContext<'_>,
) -> Result<Option<Fix>, AbiDiagnoseError> {
    let affected: BTreeSet<usize> = wheels
        .iter()
        .flat_map(|wheel| &wheel.targets)
        .filter_map(|oci| context.lock.targets.iter().position(|t| &t.oci == oci))
        .collect();
    // Versions later than the locked one that every affected target can install, with their files.
    let mut candidates: Option<BTreeMap<Version, Vec<DistFile>>> = None;
    for &target in &affected {
        let Some(versions) = resolver.versions(target, name).await? else {
            return Ok(None);
        };
        let here: BTreeMap<Version, DistFile> = versions
            .usable
            .iter()
            .filter(|(v, c)| *v > version && !v.any_prerelease() && c.yanked.is_none())
            .filter(|(_, c)| c.file.filename.ends_with(".whl"))
            .map(|(v, c)| (v.clone(), c.file.clone()))
            .collect();
        candidates = Some(match candidates {
            None => here.into_iter().map(|(v, f)| (v, vec![f])).collect(),
            Some(mut so_far) => {
                so_far.retain(|v, _| here.contains_key(v));
                for (v, files) in &mut so_far {
                    files.push(here[v].clone());
                }
                so_far
            }
        });
    }
    let candidates: Vec<(Version, Vec<DistFile>)> =
        candidates.unwrap_or_default().into_iter().collect();
    let Some(last) = candidates.last() else {
        return Ok(None);
    };
    if !built_for_numpy_2(resolver, &last.1, context.options).await? {
        return Ok(None);
    }
    let (mut low, mut high) = (0, candidates.len() - 1);
    while low < high {
        let middle = (low + high) / 2;
        if built_for_numpy_2(resolver, &candidates[middle].1, context.options).await? {
            high = middle;
        } else {
            low = middle + 1;
        }
    }
    let target = &candidates[low].0;
    let (edit, how) = match input_line(input, name) {
        Some(line) => (
            Edit {
                location: Some(line.location.clone()),
                original: Some(line.text.clone()),
                replacement: Some(pinned_line(&line.requirement, target)),
            },
            "raise",
        ),
        None => (
            Edit {
                location: None,
                original: None,
                replacement: Some(format!("{name}>={target}")),
            },
            "require",
        ),
    };
    let fix = Fix {
        summary: format!(
            "{how} {name} to {target}, its first release built against numpy 2.x headers; numpy stays at 2"
        ),
        edits: vec![edit],
        also_changes: Vec::new(),
        config: None,
        resolution: None,
        allow_sdist: Vec::new(),
        left_out: Vec::new(),
    };
    check(resolver, input, fix, Some(name), context).await
}

/// Whether every file has only modules that numpy 2 can load (and could be read).
async fn built_for_numpy_2(
    resolver: &Resolver,
    files: &[DistFile],
    options: &AbiOptions,
) -> Result<bool, AbiDiagnoseError> {
    let files: Vec<&DistFile> = files.iter().collect();
    let scans = abi::scan_dist_files(&resolver.client(), &files, options).await?;
    Ok(scans.iter().all(|scan| {
        scan.error.is_none() && !scan.modules.iter().any(|m| m.class == ModuleClass::NumpyV1)
    }))
}

/// Fix 2: keep the package and hold numpy below 2. A pinned numpy line stays pinned, to the version the
/// trial resolution picks.
async fn numpy_below_2_fix(
    resolver: &Resolver,
    input: &RequirementsInput,
    name: &PackageName,
    context: &AbiDiagnoseContext<'_>,
) -> Result<Option<Fix>, AbiDiagnoseError> {
    let numpy = numpy_name();
    let line = input_line(input, &numpy);
    let below_2 = |location: Option<&InputRequirement>| Edit {
        location: location.map(|l| l.location.clone()),
        original: location.map(|l| l.text.clone()),
        replacement: Some("numpy<2".to_string()),
    };
    let mut edit = below_2(line);
    if let Some(line) = line.filter(|line| is_exact_pin(&line.requirement)) {
        let Some(resolution) = resolve_with(resolver, input, std::slice::from_ref(&edit)).await?
        else {
            return Ok(None);
        };
        let Some(chosen) = locked_version(&resolution, &numpy) else {
            return Ok(None);
        };
        edit.replacement = Some(pinned_line(&line.requirement, &chosen));
    }
    let fix = Fix {
        summary: format!(
            "hold numpy below 2, which {name}'s modules were built for; the image then runs numpy 1.x"
        ),
        edits: vec![edit],
        also_changes: Vec::new(),
        config: None,
        resolution: None,
        allow_sdist: Vec::new(),
        left_out: Vec::new(),
    };
    check(resolver, input, fix, None, context).await
}

fn locked_version(resolution: &Resolution, name: &PackageName) -> Option<Version> {
    resolution
        .targets
        .iter()
        .filter_map(|target| target.packages.get(name))
        .map(|package| package.version.clone())
        .max()
}

/// Keep `fix` when the input with it resolves and the new lock's ABI check passes: for `package`
/// when given (other packages may have problems of their own), else entirely.
async fn check(
    resolver: &Resolver,
    input: &RequirementsInput,
    mut fix: Fix,
    package: Option<&PackageName>,
    context: &AbiDiagnoseContext<'_>,
) -> Result<Option<Fix>, AbiDiagnoseError> {
    let Some(resolution) = resolve_with(resolver, input, &fix.edits).await? else {
        return Ok(None);
    };
    let report = scan(resolver, &resolution, context).await?;
    let clean = match package {
        Some(name) => !report.problems.iter().any(|p| &p.package == name),
        None => report.problems.is_empty(),
    };
    if !clean {
        return Ok(None);
    }
    fix.resolution = Some(resolution);
    Ok(Some(fix))
}

/// Resolve `input` with `edits` applied; `None` when it does not resolve.
async fn resolve_with(
    resolver: &Resolver,
    input: &RequirementsInput,
    edits: &[Edit],
) -> Result<Option<Resolution>, ResolveError> {
    let mut trial = Working::new(input.clone());
    trial.apply(edits);
    match resolver.resolve(trial.input()).await {
        Ok(resolution) => Ok(Some(resolution)),
        Err(ResolveError::NoSolution(_)) => Ok(None),
        Err(other) => Err(other),
    }
}

/// The ABI check of the lock a trial resolution would write.
async fn scan(
    resolver: &Resolver,
    resolution: &Resolution,
    context: &AbiDiagnoseContext<'_>,
) -> Result<AbiReport, AbiError> {
    let lock = Lock::new(resolution, context.lock.clone());
    abi::check_lock(&resolver.client(), &lock, context.options).await
}

/// All first fixes together: do they resolve, and does the result pass the ABI check?
async fn combined(
    resolver: &Resolver,
    input: &RequirementsInput,
    problems: &[Problem],
    context: &AbiDiagnoseContext<'_>,
) -> Result<Combined, AbiDiagnoseError> {
    let with_fixes: Vec<&Problem> = problems.iter().filter(|p| !p.fixes.is_empty()).collect();
    let edits: Vec<Edit> = with_fixes
        .iter()
        .flat_map(|problem| problem.fixes[0].edits.iter().cloned())
        .collect();
    let Some(resolution) = resolve_with(resolver, input, &edits).await? else {
        return Ok(Combined {
            resolves: false,
            fixes: with_fixes.len(),
            packages: 0,
            left_out: Vec::new(),
            clashes: Vec::new(),
        });
    };
    let report = scan(resolver, &resolution, context).await?;
    Ok(Combined {
        resolves: report.problems.is_empty(),
        fixes: with_fixes.len(),
        packages: super::package_count(&resolution),
        left_out: Vec::new(),
        clashes: Vec::new(),
    })
}
