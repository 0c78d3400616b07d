//! Core metadata from a source tree by PEP 517, as pip and uv get it: a virtual environment on a
//! CPython of the target's version with the `[build-system] requires` installed into it (PEP 518;
//! setuptools' legacy backend when the tree has no `pyproject.toml`; made once per requirement set and
//! shared, see `env.rs`), then the backend's
//! `get_requires_for_build_wheel` and `prepare_metadata_for_build_wheel` hooks, or `build_wheel` for a
//! backend without the latter.
//!
//! Build requirements come from the run's index, as wheels fave-lock resolves and unpacks itself (pip
//! when that cannot be, see `env.rs`): the build runs the project's code (its `setup.py`), exactly as
//! `pip install` of the sdist would.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncReadExt;

use pep440_rs::Version;

use super::env::Environments;
use crate::tags::{Platform, PythonVersion};

/// The PEP 517 hook runner, written into each build folder.
const HOOKS: &str = include_str!("hooks.py");
/// Lines of the build log shown when a build fails.
const LOG_TAIL_LINES: usize = 25;

/// What a build needs from the run.
#[derive(Clone)]
pub struct BuildContext {
    /// The interpreter to build with (see [`find_python`]).
    pub python: Python,
    /// Where the environments with the build requirements come from.
    pub environments: Environments,
    /// The whole build's deadline.
    pub timeout: Duration,
}

/// `[build-system]` of a source tree, with PEP 517's defaults for a tree that has none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildSystem {
    pub requires: Vec<String>,
    pub backend: String,
    pub backend_path: Vec<String>,
}

impl BuildSystem {
    /// Setuptools' legacy backend and PEP 517's default requirement for it.
    pub fn legacy() -> BuildSystem {
        BuildSystem {
            requires: vec!["setuptools>=40.8.0".to_string()],
            backend: "setuptools.build_meta:__legacy__".to_string(),
            backend_path: Vec::new(),
        }
    }

    /// Read `pyproject.toml` at `source`; without one (or without `build-backend`), setuptools'
    /// legacy backend, as pip and uv do.
    pub fn read(source: &Path) -> Result<BuildSystem, String> {
        let legacy = BuildSystem::legacy;
        let Ok(text) = std::fs::read_to_string(source.join("pyproject.toml")) else {
            return Ok(legacy());
        };
        let document: toml_edit::DocumentMut = text
            .parse()
            .map_err(|error| format!("pyproject.toml does not parse: {error}"))?;
        let Some(table) = document.get("build-system") else {
            return Ok(legacy());
        };
        let strings = |key: &str| -> Vec<String> {
            table
                .get(key)
                .and_then(|item| item.as_array())
                .map(|array| {
                    array
                        .iter()
                        .filter_map(|value| value.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        let requires = strings("requires");
        match table.get("build-backend").and_then(|item| item.as_str()) {
            Some(backend) => Ok(BuildSystem {
                requires,
                backend: backend.to_string(),
                backend_path: strings("backend-path"),
            }),
            // PEP 517: `requires` without a backend means the legacy setuptools path with those
            // requirements.
            None => Ok(BuildSystem {
                requires: if requires.is_empty() {
                    legacy().requires
                } else {
                    requires
                },
                ..legacy()
            }),
        }
    }
}

/// A CPython found on this machine for builds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Python {
    /// The interpreter itself (`sys.executable`): a pyenv shim costs a shell script per start.
    pub executable: PathBuf,
    /// The pip wheel its `ensurepip` would install. pip runs from the wheel itself, so a build's
    /// environment is made without pip: `ensurepip` byte-compiles all of pip into every environment,
    /// which took 9 of a build's 12 s here.
    pub pip_wheel: Option<PathBuf>,
    /// What the wheels of a build environment must fit; `None` when the probe could not tell (no
    /// glibc, an architecture without manylinux wheels): pip then installs the build requirements.
    pub host: Option<Host>,
}

/// The interpreter's exact version and this machine's platform, as a build environment's wheels must
/// fit them (pip's `packaging.tags` asks the same of the running interpreter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// `X.Y` of the interpreter, for tags and the venv's `lib/pythonX.Y`.
    pub python: PythonVersion,
    /// `X.Y.Z` of the interpreter, for the `python_full_version` marker.
    pub full_version: Version,
    /// The machine's architecture and glibc.
    pub platform: Platform,
}

impl Python {
    /// How to run pip for an environment made from this interpreter: from the wheel (a zip on
    /// `sys.path` runs), else the environment's own.
    pub(super) fn pip_argv(&self) -> Vec<std::ffi::OsString> {
        match &self.pip_wheel {
            Some(wheel) => vec![wheel.join("pip").into_os_string()],
            None => vec!["-m".into(), "pip".into()],
        }
    }
}

/// Prints what [`Python`] holds, one item per line (the version line first; then the executable, the
/// pip wheel, and what [`Host`] is read from: `X.Y.Z`, `platform.machine()`, `glibc X.Y`).
const PROBE: &str = r#"
import glob, os, platform, sys, sysconfig
print('%d.%d' % sys.version_info[:2], platform.python_implementation())
print(sys.executable)
folders = [sysconfig.get_config_var('WHEEL_PKG_DIR') or '', '/usr/share/python-wheels']
try:
    import ensurepip
    folders.insert(0, os.path.join(os.path.dirname(ensurepip.__file__), '_bundled'))
except ImportError:
    pass
wheels = [w for folder in folders if folder for w in sorted(glob.glob(os.path.join(folder, 'pip-*.whl')))]
print(wheels[0] if wheels else '')
print('%d.%d.%d' % sys.version_info[:3])
print(platform.machine())
try:
    print(os.confstr('CS_GNU_LIBC_VERSION') or '')
except (ValueError, OSError):
    print('')
"#;

/// A CPython `major.minor` on this machine: `$FAVE_LOCK_PYTHON`, then `pythonX.Y`, `python3` and
/// `python` on `PATH`, each asked for its version.
pub async fn find_python(version: PythonVersion) -> Option<Python> {
    let mut candidates: Vec<PathBuf> = std::env::var_os("FAVE_LOCK_PYTHON")
        .map(PathBuf::from)
        .into_iter()
        .collect();
    let names = [
        format!("python{version}"),
        "python3".into(),
        "python".into(),
    ];
    for folder in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
        candidates.extend(names.iter().map(|name| folder.join(name)));
    }
    let wanted = format!("{version} CPython");
    for candidate in candidates.into_iter().filter(|path| path.is_file()) {
        let output = tokio::process::Command::new(&candidate)
            .args(["-c", PROBE])
            .stdin(Stdio::null())
            .output()
            .await;
        let Ok(output) = output else { continue };
        if let Some(python) = parse_probe(
            &candidate,
            &String::from_utf8_lossy(&output.stdout),
            &wanted,
        ) {
            return Some(python);
        }
    }
    None
}

/// [`PROBE`]'s answer from `candidate`, when it is the `wanted` version.
fn parse_probe(candidate: &Path, stdout: &str, wanted: &str) -> Option<Python> {
    let mut lines = stdout.lines().map(str::trim);
    if lines.next()? != wanted {
        return None;
    }
    let executable = lines
        .next()
        .map(PathBuf::from)
        .filter(|path| path.is_absolute() && path.is_file())
        .unwrap_or_else(|| candidate.to_path_buf());
    let pip_wheel = lines
        .next()
        .map(PathBuf::from)
        .filter(|path| path.is_absolute() && path.is_file());
    let (full, machine, libc) = (lines.next(), lines.next(), lines.next());
    let host = parse_host(wanted, full, machine, libc);
    Some(Python {
        executable,
        pip_wheel,
        host,
    })
}

/// [`Host`] from the probe's last three lines, when they describe a glibc Linux on an architecture
/// with manylinux wheels, and an `X.Y.Z` of the `wanted` version.
fn parse_host(
    wanted: &str,
    full: Option<&str>,
    machine: Option<&str>,
    libc: Option<&str>,
) -> Option<Host> {
    let numbers: Vec<u64> = full?
        .split('.')
        .map(|part| {
            let digits = !part.is_empty() && part.bytes().all(|byte| byte.is_ascii_digit());
            if digits { part.parse().ok() } else { None }
        })
        .collect::<Option<_>>()?;
    let [major, minor, _] = numbers[..] else {
        return None;
    };
    if !wanted.starts_with(&format!("{major}.{minor} ")) {
        return None;
    }
    let python: PythonVersion = format!("{major}.{minor}").parse().ok()?;
    let glibc = libc?.strip_prefix("glibc ")?.replace('.', "_");
    let platform: Platform = format!("{}-manylinux_{glibc}", machine?).parse().ok()?;
    Some(Host {
        python,
        full_version: Version::new(numbers),
        platform,
    })
}

/// The METADATA bytes of the source tree at `source`, built in `work` (an empty folder).
pub async fn metadata(
    context: &BuildContext,
    source: &Path,
    work: &Path,
) -> Result<Vec<u8>, BuildFailure> {
    let mut log = String::new();
    let deadline = tokio::time::timeout(context.timeout, async {
        let system =
            BuildSystem::read(source).map_err(|message| BuildFailure::new(&message, ""))?;
        let out = work.join("out");
        std::fs::create_dir_all(&out).map_err(|error| BuildFailure::io(&error))?;
        let hooks = work.join("hooks.py");
        std::fs::write(&hooks, HOOKS).map_err(|error| BuildFailure::io(&error))?;
        let environments = &context.environments;
        let env = environments
            .get(&context.python, &system.requires, &mut log)
            .await?;
        let backend_path = serde_json::to_string(&system.backend_path).unwrap_or_default();
        let hook = |name: &'static str, out: &Path| {
            [
                hooks.as_os_str().to_owned(),
                name.into(),
                source.as_os_str().to_owned(),
                out.as_os_str().to_owned(),
                system.backend.clone().into(),
                backend_path.clone().into(),
            ]
        };
        // One process for both hooks when the backend asks for nothing on top (hooks.py).
        let together = run(
            &mut log,
            &env.join("bin/python"),
            &hook("requires+metadata", &out),
        )
        .await;
        let extra: Vec<String> = match read_answer(&out, "requires.json") {
            Ok(extra) => extra,
            Err(unanswered) => return Err(together.err().unwrap_or(unanswered)),
        };
        let out = if together.is_ok() && extra.is_empty() {
            out
        } else {
            let env = if extra.is_empty() {
                // PEP 517 asks frontends for a fresh process per hook, so that a backend may change
                // process-wide state: a metadata hook that failed after the requires hook in the same
                // process gets its own, with an empty output folder.
                log.push_str(
                    "# the metadata hook failed in the requires hook's process: again, alone\n",
                );
                env
            } else {
                // What the backend asks for on top gets an environment of its own: the shared one
                // stays as its key says.
                let all: Vec<String> = system.requires.iter().chain(&extra).cloned().collect();
                environments.get(&context.python, &all, &mut log).await?
            };
            let fresh = work.join("out-alone");
            std::fs::create_dir_all(&fresh).map_err(|error| BuildFailure::io(&error))?;
            run(&mut log, &env.join("bin/python"), &hook("metadata", &fresh)).await?;
            fresh
        };
        let result: serde_json::Map<String, serde_json::Value> = read_answer(&out, "result.json")?;
        if let Some(folder) = result.get("dist-info").and_then(|value| value.as_str()) {
            return std::fs::read(out.join(folder).join("METADATA"))
                .map_err(|error| BuildFailure::io(&error));
        }
        let wheel = result
            .get("wheel")
            .and_then(|value| value.as_str())
            .ok_or_else(|| BuildFailure::new("the backend answered neither hook", ""))?;
        crate::index::wheel_metadata_bytes(&out.join(wheel), wheel)
            .await
            .map_err(|error| BuildFailure::new(&format!("the built wheel: {error}"), ""))
    });
    match deadline.await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(mut failure)) => {
            failure.log_tail = tail(&log);
            Err(failure)
        }
        Err(_) => Err(BuildFailure::new(
            &format!(
                "the build did not finish in {} s",
                context.timeout.as_secs()
            ),
            &tail(&log),
        )),
    }
}

/// Why a build failed, with the end of its log.
#[derive(Debug, Clone)]
pub struct BuildFailure {
    pub message: String,
    pub log_tail: String,
}

impl BuildFailure {
    pub(super) fn new(message: &str, log_tail: &str) -> BuildFailure {
        BuildFailure {
            message: message.to_string(),
            log_tail: log_tail.to_string(),
        }
    }

    pub(super) fn io(error: &std::io::Error) -> BuildFailure {
        BuildFailure::new(&format!("the build folder: {error}"), "")
    }
}

/// `pip install REQUIREMENTS` into the build environment; nothing when there are none.
pub(super) async fn install(
    log: &mut String,
    python: &Path,
    pip: &[std::ffi::OsString],
    index_url: &str,
    requirements: &[String],
) -> Result<(), BuildFailure> {
    if requirements.is_empty() {
        return Ok(());
    }
    let mut args: Vec<std::ffi::OsString> = pip.to_vec();
    args.extend(
        [
            "install",
            "--disable-pip-version-check",
            "--no-input",
            "--quiet",
            "--index-url",
            index_url,
            "--",
        ]
        .iter()
        .map(Into::into),
    );
    args.extend(requirements.iter().map(Into::into));
    run(log, python, &args).await
}

/// Run `program ARGS`, appending its output to `log`; a non-zero exit is a failure naming the step.
pub(super) async fn run(
    log: &mut String,
    program: &Path,
    args: &[impl AsRef<std::ffi::OsStr>],
) -> Result<(), BuildFailure> {
    let shown: Vec<String> = args
        .iter()
        .map(|arg| arg.as_ref().to_string_lossy().into_owned())
        .collect();
    log.push_str(&format!("$ {} {}\n", program.display(), shown.join(" ")));
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // The build sees neither the user's site-packages nor a PYTHONPATH: what it imports is what
        // its environment installed.
        .env("PYTHONNOUSERSITE", "1")
        .env_remove("PYTHONPATH")
        .env("PIP_NO_INPUT", "1")
        .kill_on_drop(true)
        .spawn()
        .map_err(|error| {
            BuildFailure::new(&format!("cannot run {}: {error}", program.display()), "")
        })?;
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let mut out_pipe = child.stdout.take();
    let mut err_pipe = child.stderr.take();
    let read_out = async {
        if let Some(pipe) = &mut out_pipe {
            let _ = pipe.read_to_end(&mut stdout).await;
        }
    };
    let read_err = async {
        if let Some(pipe) = &mut err_pipe {
            let _ = pipe.read_to_end(&mut stderr).await;
        }
    };
    tokio::join!(read_out, read_err);
    let status = child
        .wait()
        .await
        .map_err(|error| BuildFailure::new(&format!("waiting for the build: {error}"), ""))?;
    log.push_str(&String::from_utf8_lossy(&stdout));
    log.push_str(&String::from_utf8_lossy(&stderr));
    if status.success() {
        Ok(())
    } else {
        Err(BuildFailure::new(
            &format!(
                "`{} {}` failed ({status})",
                program.display(),
                shown.join(" ")
            ),
            "",
        ))
    }
}

fn read_answer<T: serde::de::DeserializeOwned>(out: &Path, name: &str) -> Result<T, BuildFailure> {
    let text = std::fs::read(out.join(name)).map_err(|error| BuildFailure::io(&error))?;
    serde_json::from_slice(&text)
        .map_err(|error| BuildFailure::new(&format!("the hook's answer: {error}"), ""))
}

/// The last [`LOG_TAIL_LINES`] lines of `log`.
fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_system_defaults_follow_pep_517() {
        let dir = tempfile::tempdir().unwrap();
        let legacy = BuildSystem::read(dir.path()).unwrap();
        assert_eq!(legacy.backend, "setuptools.build_meta:__legacy__");
        assert_eq!(legacy.requires, ["setuptools>=40.8.0"]);
        std::fs::write(
            dir.path().join("pyproject.toml"),
            "[build-system]\nrequires = [\"setuptools>=61\", \"cython\"]\n",
        )
        .unwrap();
        let requires_only = BuildSystem::read(dir.path()).unwrap();
        assert_eq!(requires_only.requires, ["setuptools>=61", "cython"]);
        assert_eq!(requires_only.backend, "setuptools.build_meta:__legacy__");
        std::fs::write(
            dir.path().join("pyproject.toml"),
            "[build-system]\nrequires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"\nbackend-path = [\".\"]\n",
        )
        .unwrap();
        let hatch = BuildSystem::read(dir.path()).unwrap();
        assert_eq!(
            (hatch.backend.as_str(), hatch.backend_path.as_slice()),
            ("hatchling.build", &[".".to_string()][..])
        );
        std::fs::write(dir.path().join("pyproject.toml"), "[build-system\n").unwrap();
        assert!(BuildSystem::read(dir.path()).is_err());
    }

    #[test]
    fn the_log_tail_keeps_the_last_lines() {
        let log: String = (1..=40).map(|n| format!("line {n}\n")).collect();
        let tail = tail(&log);
        assert!(
            tail.starts_with("line 16\n") && tail.ends_with("line 40"),
            "{tail}"
        );
    }

    #[test]
    fn the_probe_gives_the_real_interpreter_and_the_pip_wheel() {
        let folder = tempfile::tempdir().unwrap();
        let real = folder.path().join("python3.11");
        let wheel = folder.path().join("pip-23.2.1-py3-none-any.whl");
        std::fs::write(&real, "").unwrap();
        std::fs::write(&wheel, "").unwrap();
        let shim = Path::new("/shims/python3.11");
        let answer = format!(
            "3.11 CPython\n{}\n{}\n3.11.7\nx86_64\nglibc 2.36\n",
            real.display(),
            wheel.display()
        );
        assert_eq!(
            parse_probe(shim, &answer, "3.11 CPython"),
            Some(Python {
                executable: real.clone(),
                pip_wheel: Some(wheel),
                host: Some(Host {
                    python: "3.11".parse().unwrap(),
                    full_version: Version::new([3, 11, 7]),
                    platform: "x86_64-manylinux_2_36".parse().unwrap(),
                }),
            })
        );
        // No bundled pip: the environment gets its own through ensurepip.
        let answer = format!("3.11 CPython\n{}\n\n", real.display());
        assert_eq!(
            parse_probe(shim, &answer, "3.11 CPython")
                .unwrap()
                .pip_wheel,
            None
        );
        // No host a wheel can be chosen for (musl, another architecture, an odd version): no host,
        // so pip installs the build requirements.
        for host_lines in [
            "3.11.7\nx86_64\n\n",
            "3.11.7\nriscv64\nglibc 2.36\n",
            "3.11.7+\nx86_64\nglibc 2.36\n",
            "3.12.1\nx86_64\nglibc 2.36\n",
            "3.11.7\naarch64\nglibc 2.5\n",
        ] {
            let answer = format!("3.11 CPython\n{}\n\n{host_lines}", real.display());
            let python = parse_probe(shim, &answer, "3.11 CPython").unwrap();
            assert_eq!(python.host, None, "{host_lines:?}");
        }
        // Another version, or an answer that is not a probe's, is no match; a missing executable line
        // keeps the candidate.
        assert_eq!(parse_probe(shim, "3.12 CPython\n", "3.11 CPython"), None);
        assert_eq!(parse_probe(shim, "", "3.11 CPython"), None);
        assert_eq!(
            parse_probe(shim, "3.11 CPython\n", "3.11 CPython")
                .unwrap()
                .executable,
            shim
        );
    }
}
