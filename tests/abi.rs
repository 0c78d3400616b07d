//! The numpy ABI check against ground truth: real wheels from live PyPI, installed by real pip into a
//! real CPython 3.11 venv, imported. pandas 1.5.3 with numpy 2.1.3 resolves everywhere and fails at
//! import; fave-lock must refuse that lock and offer fixes that do import. The base image's lock must
//! pass with no false positive, and the Python 3.9 image must hold numpy below 2 for deepspeech.

use std::path::Path;
use std::process::{Command, Output};

mod support;

use support::live::{fave_lock, new_venv, pip_install_lock, repo};

const EXCLUDE_NEWER: &str = "2026-11-01T00:00:00Z";

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `fave-lock resolve` of an ad hoc input for CPython `python` on x86_64, writing `requirements.txt`
/// beside it (or the `-o` in `extra`); extra flags appended.
fn resolve(dir: &Path, python: &str, extra: &[&str]) -> Output {
    let output = if extra.contains(&"-o") {
        &[][..]
    } else {
        &["-o", "requirements.txt"][..]
    };
    let mut cmd = fave_lock();
    cmd.current_dir(dir).args([
        "resolve",
        "-r",
        "requirements.in",
        "--python-version",
        python,
        "--python-platform",
        "x86_64-manylinux_2_36",
        "--exclude-newer",
        EXCLUDE_NEWER,
    ]);
    cmd.args(output).args(extra);
    cmd.output().expect("fave-lock runs")
}

/// Install `lock` with pip (`--require-hashes`, wheels only) into a fresh Python 3.11 venv under `dir`
/// and try `import module` there.
fn install_and_import(dir: &Path, lock: &Path, module: &str) -> Output {
    let py = new_venv(dir);
    pip_install_lock(&py, lock);
    Command::new(&py)
        .args(["-c", &format!("import {module}")])
        .output()
        .expect("python runs")
}

/// A project folder whose `requirements.in` is `input`.
fn project_with(input: &str) -> tempfile::TempDir {
    let project = tempfile::tempdir().unwrap();
    std::fs::write(project.path().join("requirements.in"), input).unwrap();
    project
}

/// `fave-lock abi PATH --format json` run in `dir`.
fn abi_json(dir: &Path, path: &str) -> Output {
    fave_lock()
        .current_dir(dir)
        .args(["abi", path, "--format", "json"])
        .output()
        .expect("fave-lock runs")
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(out)))
}

#[test]
#[ignore = "live: needs PyPI and CPython 3.11 (pip installs, imports); scripts/test.sh runs it"]
fn pandas_built_for_numpy_1_is_refused_with_fixes_that_import() {
    let project = project_with("pandas==1.5.3\nnumpy==2.1.3\n");
    let input = project.path().join("requirements.in");

    // Ground truth: the lock every resolver writes installs, and `import pandas` fails.
    let out = resolve(project.path(), "3.11", &["--no-check-abi"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let venv = tempfile::tempdir().unwrap();
    let lock = project.path().join("requirements.txt");
    let import = install_and_import(venv.path(), &lock, "pandas");
    assert!(!import.status.success(), "{}", text(&import));
    assert!(
        String::from_utf8_lossy(&import.stderr).contains("numpy.dtype size changed"),
        "{}",
        text(&import)
    );

    // fave-lock refuses it: exit 1, the previous lock untouched, every module counted, both fixes.
    std::fs::write(&lock, "# the previous lock\n").unwrap();
    let out = resolve(project.path(), "3.11", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let report = String::from_utf8_lossy(&out.stderr);
    for expected in [
        "the requirements resolve, but the lock fails the numpy ABI check: 1 problem",
        "[numpy-abi] pandas 1.5.3: 37 extension modules were built against numpy 1.x headers, but the lock installs numpy 2.1.3",
        "at requirements.in:1; on linux/amd64",
        "pandas/_libs/algos.cpython-311-x86_64-linux-gnu.so",
        "fix (checked): raise pandas to 2.2.2, its first release built against numpy 2.x headers",
        "pandas==1.5.3  →  pandas==2.2.2",
        "fix (checked): hold numpy below 2",
        "numpy==2.1.3  →  numpy==1.26.4",
    ] {
        assert!(
            report.contains(expected),
            "missing `{expected}` in\n{report}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(&lock).unwrap(),
        "# the previous lock\n"
    );

    let out = resolve(project.path(), "3.11", &["--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let report = json(&out);
    let problem = &report["images"][0]["diagnosis"]["problems"][0];
    assert_eq!(problem["kind"], "numpy-abi", "{report:#}");
    assert_eq!(problem["fixes"].as_array().unwrap().len(), 2, "{report:#}");
    let wheel = &problem["wheels"][0];
    assert_eq!(
        wheel["filename"],
        "pandas-1.5.3-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
    );
    assert_eq!(
        wheel["numpy-1.x-modules"].as_array().unwrap().len(),
        37,
        "{report:#}"
    );

    // The first fix, applied, gives a lock that fave-lock accepts and that imports.
    let out = resolve(project.path(), "3.11", &["--apply-fixes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let fixed = std::fs::read_to_string(&input).unwrap();
    assert!(fixed.contains("\npandas==2.2.2\n"), "{fixed}");
    let venv = tempfile::tempdir().unwrap();
    let import = install_and_import(venv.path(), &lock, "pandas");
    assert!(import.status.success(), "{}", text(&import));
}

#[test]
#[ignore = "live: needs PyPI and CPython 3.11 (pip installs, imports); scripts/test.sh runs it"]
fn pandas_built_for_numpy_2_passes_and_imports() {
    let project = project_with("pandas==2.2.3\nnumpy==2.1.3\n");
    let out = resolve(project.path(), "3.11", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let venv = tempfile::tempdir().unwrap();
    let import = install_and_import(
        venv.path(),
        &project.path().join("requirements.txt"),
        "pandas",
    );
    assert!(import.status.success(), "{}", text(&import));

    // The per-module view of the same lock, as pylock.toml: every numpy-using module is a 2.x one.
    let out = resolve(project.path(), "3.11", &["-o", "pylock.toml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = abi_json(project.path(), "pylock.toml");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report = &json(&out)[0];
    assert_eq!(report["counts"]["numpy-1.x"], 0, "{report:#}");
    assert_eq!(report["counts"]["numpy-2.x"], 37, "{report:#}");
    assert_eq!(
        report["problems"].as_array().unwrap().len(),
        0,
        "{report:#}"
    );
}

/// pybind11 modules look the array API up at run time: scipy 1.14.1 has two, and they load with numpy 2.
#[test]
#[ignore = "live: needs PyPI and CPython 3.11 (pip installs, imports); scripts/test.sh runs it"]
fn scipy_pybind11_modules_are_not_flagged() {
    let project = project_with("scipy==1.14.1\nnumpy==2.1.3\n");
    let out = resolve(project.path(), "3.11", &["-o", "pylock.toml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = abi_json(project.path(), "pylock.toml");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report = &json(&out)[0];
    let runtime: Vec<&str> = report["wheels"][0]["modules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|module| module["class"] == "runtime")
        .map(|module| module["path"].as_str().unwrap())
        .collect();
    assert_eq!(runtime.len(), 2, "{runtime:?}");
    assert!(
        runtime.iter().any(|path| path.contains("pypocketfft")),
        "{runtime:?}"
    );
    assert_eq!(report["counts"]["numpy-1.x"], 0, "{report:#}");

    let out = resolve(project.path(), "3.11", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let venv = tempfile::tempdir().unwrap();
    let lock = project.path().join("requirements.txt");
    let import = install_and_import(
        venv.path(),
        &lock,
        "scipy.fft, scipy.io; scipy.fft.fft([1.0, 2.0])",
    );
    assert!(import.status.success(), "{}", text(&import));
}

#[test]
#[ignore = "live: needs PyPI and CPython 3.11 (pip installs, imports); scripts/test.sh runs it"]
fn the_base_image_lock_has_no_false_positive() {
    let out = abi_json(repo(), "locks/fave-base");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report = &json(&out)[0];
    assert_eq!(
        report["problems"].as_array().unwrap().len(),
        0,
        "{report:#}"
    );
    let counts = &report["counts"];
    assert_eq!(counts["numpy-1.x"], 0, "{counts}");
    // scipy alone has ~100 modules built against numpy 2.x and two pybind11 ones, per architecture.
    assert!(counts["numpy-2.x"].as_u64().unwrap() > 200, "{counts}");
    assert!(counts["runtime"].as_u64().unwrap() >= 4, "{counts}");
    let wheels = report["wheels"].as_array().unwrap();
    assert!(wheels.iter().all(|w| w["error"].is_null()), "{report:#}");
    let pocketfft = wheels
        .iter()
        .filter(|w| w["package"] == "scipy")
        .flat_map(|w| w["modules"].as_array().unwrap())
        .find(|m| {
            m["path"]
                .as_str()
                .unwrap()
                .starts_with("scipy/fft/_pocketfft/pypocketfft")
        })
        .expect("scipy's pocketfft module");
    assert_eq!(pocketfft["class"], "runtime");

    // The second run answers from the result cache.
    let out = abi_json(repo(), "locks/fave-base");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report = &json(&out)[0];
    let wheels = report["wheels"].as_array().unwrap();
    assert!(wheels.iter().all(|w| w["cached"] == true), "{report:#}");
}

#[test]
#[ignore = "live: needs PyPI and CPython 3.11 (pip installs, imports); scripts/test.sh runs it"]
fn deepspeech_needs_numpy_below_2_and_the_stt_lock_has_it() {
    let project = project_with("deepspeech==0.9.3\n");
    let out = resolve(project.path(), "3.9", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let report = String::from_utf8_lossy(&out.stderr);
    for expected in [
        "[numpy-abi] deepspeech 0.9.3: 1 extension module was built against numpy 1.x headers, but the lock installs numpy 2.0.2",
        "deepspeech/_impl.cpython-39-x86_64-linux-gnu.so",
        "fix (checked): hold numpy below 2",
        "add: numpy<2",
    ] {
        assert!(
            report.contains(expected),
            "missing `{expected}` in\n{report}"
        );
    }
    // No deepspeech release was built against numpy 2, so raising it is not offered.
    assert!(!report.contains("raise deepspeech"), "{report}");

    // The committed fave-stt lock holds numpy below 2: its one numpy-1.x module is no problem there.
    let committed =
        std::fs::read_to_string(repo().join("locks/fave-stt/requirements.txt")).unwrap();
    assert!(committed.contains("\nnumpy==1."), "{committed}");
    let out = fave_lock()
        .current_dir(repo())
        .args(["verify", "fave-stt", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let abi = &json(&out)["images"][0]["abi"];
    assert_eq!(abi["modules"]["numpy-1.x"], 1, "{abi}");
    assert_eq!(abi["problems"].as_array().unwrap().len(), 0, "{abi}");

    // Offline with nothing cached the answer is incomplete: an error, never "no problem".
    let empty = tempfile::tempdir().unwrap();
    let out = fave_lock()
        .current_dir(repo())
        .args(["abi", "locks/fave-stt", "--offline", "--cache-dir"])
        .arg(empty.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(printed.contains("not checked"), "{printed}");
    assert!(!printed.contains("no numpy ABI problem"), "{printed}");
}
