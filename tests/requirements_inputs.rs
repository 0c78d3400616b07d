//! Requirement files as users write them, read by the real binary against a local index of real wheels
//! (six, idna, packaging) and, for parity, by pip's own requirements-file parser and by `uv pip compile`
//! from the tools venv (`FAVE_LOCK_TEST_VENV`, set up by `scripts/setup/test-env.sh`; the tests fail,
//! never skip, without it).
//!
//! `tests/fixtures/requirements/accepted/` holds files pip and uv both accept: fave-lock must lock each
//! to the same packages uv does. `refused/` holds files fave-lock refuses or that used to crash or hang
//! it: each must end with exit 1 or 2 and a message naming the file and line, within a deadline.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::demo::{self, IDNA, PACKAGING, SIX, SIX_SHA256};
use support::index_server::{IndexServer, Wheel};
use support::live::tool;
use support::project::{EXCLUDE_NEWER, text};

/// Longer than any of these runs takes (well under a second each), short enough to catch a hang.
const DEADLINE: Duration = Duration::from_secs(60);

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/requirements")
}

fn accepted() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(fixtures().join("accepted"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".in"))
        .collect();
    names.sort();
    names
}

/// Run `cmd` with its output in files under `dir`; fail the test if it runs past [`DEADLINE`].
fn run_with_deadline(cmd: &mut Command, dir: &Path) -> Output {
    let stdout = dir.join("stdout");
    let stderr = dir.join("stderr");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout).unwrap())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .expect("the command starts");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > DEADLINE {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("{cmd:?} still running after {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: std::fs::read(stdout).unwrap(),
        stderr: std::fs::read(stderr).unwrap(),
    }
}

/// `fave-lock resolve -r INPUT` (ad hoc, CPython 3.11 on x86_64) against `server`, run in the fixtures
/// folder so that messages name `accepted/x.in`; the lock goes to `dir/requirements.txt`.
fn resolve(server: &IndexServer, input: &str, dir: &Path, extra: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_fave-lock"));
    cmd.current_dir(fixtures())
        .env_remove("FAVE_LOCK_INDEX_URL")
        .env("FAVE_LOCK_CACHE_DIR", dir.join("cache"))
        .args(["resolve", "-r", input, "--python-version", "3.11"])
        .args(["--python-platform", "x86_64-manylinux_2_36"])
        .args([
            "--exclude-newer",
            EXCLUDE_NEWER,
            "--index-url",
            &server.url(),
        ])
        .arg("-o")
        .arg(dir.join("requirements.txt"))
        .args(extra);
    run_with_deadline(&mut cmd, dir)
}

/// `name==version` of every package in a requirements.txt.
fn pins(lock: &str) -> BTreeSet<String> {
    lock.lines()
        .filter(|line| line.starts_with(|c: char| c.is_ascii_alphanumeric()))
        .map(|line| line.split_whitespace().next().unwrap().to_string())
        .collect()
}

/// What `uv pip compile` locks `input` to, from the fixture wheels only (offline).
fn uv_pins(input: &str) -> Result<BTreeSet<String>, String> {
    let wheels = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/wheels");
    let out = tool("uv")
        .current_dir(fixtures())
        .args([
            "pip",
            "compile",
            "--no-config",
            "--offline",
            "--no-index",
            "--quiet",
        ])
        .arg("--find-links")
        .arg(&wheels)
        .args([
            "--python-version",
            "3.11",
            "--no-header",
            "--no-annotate",
            input,
        ])
        .output()
        .expect("uv runs");
    if out.status.success() {
        Ok(pins(&String::from_utf8_lossy(&out.stdout)))
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// pip's own parser (`pip._internal.req.req_file.parse_requirements`) on each of `inputs`: per file,
/// the requirement strings and their `--hash` values, or pip's error.
fn pip_parse(inputs: &[&str]) -> serde_json::Value {
    const SCRIPT: &str = r#"
import json, sys
from pip._internal.network.session import PipSession
from pip._internal.req.req_file import parse_requirements
out = {}
for path in sys.argv[1:]:
    try:
        out[path] = {"ok": [
            {"requirement": r.requirement, "hashes": r.options.get("hashes", {}).get("sha256", [])}
            for r in parse_requirements(path, session=PipSession())
        ]}
    except BaseException as error:
        out[path] = {"error": f"{type(error).__name__}: {error}"}
print(json.dumps(out))
"#;
    let out = tool("python")
        .current_dir(fixtures())
        .env("PIP_CONFIG_FILE", "/dev/null")
        .args(["-c", SCRIPT])
        .args(inputs)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
#[ignore = "python: compares with uv and pip from the tools venv; scripts/test.sh runs it"]
fn every_accepted_file_locks_as_uv_locks_it_and_pip_parses_it() {
    let server = demo::index();
    let names = accepted();
    assert!(names.len() >= 10, "{names:?}");
    let paths: Vec<String> = names
        .iter()
        .map(|name| format!("accepted/{name}"))
        .collect();
    let pip = pip_parse(&paths.iter().map(String::as_str).collect::<Vec<_>>());
    for path in &paths {
        assert!(
            pip[path]["ok"].is_array(),
            "pip refuses {path}: {}",
            pip[path]
        );
        let uv = uv_pins(path).unwrap_or_else(|error| panic!("uv refuses {path}: {error}"));
        let dir = tempfile::tempdir().unwrap();
        let out = resolve(&server, path, dir.path(), &["-q"]);
        assert_eq!(out.status.code(), Some(0), "{path}: {}", text(&out));
        let lock = std::fs::read_to_string(dir.path().join("requirements.txt")).unwrap();
        assert_eq!(
            pins(&lock),
            uv,
            "{path}: fave-lock and uv lock different packages"
        );
        assert!(!uv.is_empty(), "{path}");
    }
}

#[test]
#[ignore = "python: compares with uv and pip from the tools venv; scripts/test.sh runs it"]
fn hashes_on_input_lines_restrict_the_files_as_in_pip() {
    let server = demo::index();
    let pip = pip_parse(&["accepted/hashes.in"]);
    let six_hashes = &pip["accepted/hashes.in"]["ok"][0]["hashes"];
    assert!(
        six_hashes.as_array().unwrap().contains(&SIX_SHA256.into()),
        "{pip}"
    );
    let dir = tempfile::tempdir().unwrap();
    let out = resolve(&server, "accepted/hashes.in", dir.path(), &["-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let lock = std::fs::read_to_string(dir.path().join("requirements.txt")).unwrap();
    assert!(
        lock.contains(&format!("--hash=sha256:{SIX_SHA256}")),
        "{lock}"
    );

    // No file has the hash: pip's hash-checking mode would refuse every file, and so does the lock.
    let out = resolve(&server, "refused/wrong-hash.in", dir.path(), &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(stderr.contains("--hash"), "{}", text(&out));
    assert!(stderr.contains("refused/wrong-hash.in:2"), "{}", text(&out));
}

#[test]
fn options_that_change_nothing_are_accepted_with_a_warning_naming_the_line() {
    let server = demo::index();
    let dir = tempfile::tempdir().unwrap();
    let out = resolve(&server, "accepted/options.in", dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for expected in [
        "warning: accepted/options.in:2: `--prefer-binary` changes nothing: fave-lock installs wheels only",
        "warning: accepted/options.in:3: `--trusted-host example.org` is ignored: fave-lock always checks the index's TLS certificate",
        "warning: accepted/options.in:4: `--use-feature fast-deps` is ignored: pip feature flags do not change the lock",
        "warning: accepted/options.in:7: `--no-binary :none:` changes nothing: fave-lock installs wheels",
    ] {
        assert!(
            stderr.contains(expected),
            "missing {expected:?} in\n{stderr}"
        );
    }
    let quiet = resolve(&server, "accepted/options.in", dir.path(), &["-q"]);
    assert_eq!(quiet.status.code(), Some(0), "{}", text(&quiet));
    assert!(
        !String::from_utf8_lossy(&quiet.stderr).contains("warning"),
        "{}",
        text(&quiet)
    );
}

#[test]
fn no_binary_is_refused_with_the_reason() {
    assert_fixture_refused(
        "refused/no-binary.in",
        "refused/no-binary.in:2: `--no-binary :all:` cannot be honoured: the image installs wheels only",
    );
}

/// six's real wheel, whose bytes stand in for test projects' wheels (only pages and `.metadata` files
/// are read while resolving).
fn six_bytes() -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/wheels")
            .join(SIX),
    )
    .unwrap()
}

/// An index with `demo` 1.0 and 2.0rc1 (six's wheel bytes under demo's names: only the page and the
/// `.metadata` files are read).
fn prerelease_index() -> IndexServer {
    let bytes = six_bytes();
    let wheel = |version: &str| {
        let metadata = format!("Metadata-Version: 2.1\nName: demo\nVersion: {version}\n");
        Wheel::from_bytes(
            &format!("demo-{version}-py3-none-any.whl"),
            bytes.clone(),
            metadata.into_bytes(),
        )
        .advertise_metadata()
        .upload_time("2024-01-01T00:00:00Z")
    };
    IndexServer::builder()
        .wheel(wheel("1.0"))
        .wheel(wheel("2.0rc1"))
        .start()
}

#[test]
fn pre_in_the_file_allows_pre_releases() {
    let server = prerelease_index();
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, contents: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, contents).unwrap();
        path.to_string_lossy().into_owned()
    };
    let plain = write("plain.in", "demo\n");
    let pre = write("pre.in", "--pre\ndemo\n");
    let out = resolve(&server, &plain, dir.path(), &["-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let lock = std::fs::read_to_string(dir.path().join("requirements.txt")).unwrap();
    assert_eq!(pins(&lock), BTreeSet::from(["demo==1.0".to_string()]));
    let out = resolve(&server, &pre, dir.path(), &["-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let lock = std::fs::read_to_string(dir.path().join("requirements.txt")).unwrap();
    assert_eq!(pins(&lock), BTreeSet::from(["demo==2.0rc1".to_string()]));
}

/// Resolve the fixture `input` against the demo index and assert a clean refusal with `message`.
fn assert_fixture_refused(input: &str, message: &str) {
    let server = demo::index();
    let dir = tempfile::tempdir().unwrap();
    assert_refused(&resolve(&server, input, dir.path(), &[]), message);
}

/// Assert `out` is a clean refusal: exit 2, no panic, and `message` on stderr.
fn assert_refused(out: &Output, message: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{}", text(out));
    assert!(!stderr.contains("panicked"), "{}", text(out));
    assert!(
        stderr.contains(message),
        "missing {message:?}:\n{}",
        text(out)
    );
}

#[test]
fn a_string_compared_with_tilde_equal_is_an_error_at_its_line_not_a_panic() {
    assert_fixture_refused(
        "refused/tilde-string-marker.in",
        "refused/tilde-string-marker.in:3: invalid requirement `idna ; '2.7.0' ~= os_name`: marker \
         `'2.7.0' ~= os_name` compares a string with `~=`",
    );
}

#[test]
fn a_marker_nested_100000_deep_is_an_error_at_its_line_not_a_stack_overflow() {
    let server = demo::index();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("deep.in");
    let marker = format!(
        "{}os_name == 'posix'{}",
        "(".repeat(100_000),
        ")".repeat(100_000)
    );
    std::fs::write(&input, format!("six\nidna ; {marker}\n")).unwrap();
    let out = resolve(&server, input.to_str().unwrap(), dir.path(), &[]);
    assert_refused(&out, &format!("{}:2: invalid requirement", input.display()));
    assert_refused(&out, "parentheses nest more than 32 deep");
}

#[test]
fn an_include_of_dev_zero_is_refused_at_once() {
    let server = demo::index();
    let dir = tempfile::tempdir().unwrap();
    let out = resolve(&server, "refused/dev-zero.in", dir.path(), &[]);
    assert_refused(
        &out,
        "refused/dev-zero.in:3: cannot read included file `/dev/zero`\n  caused by: it is a \
         character device, not a regular file",
    );
    // The same for the top-level file and the config.
    let out = resolve(&server, "/dev/zero", dir.path(), &[]);
    assert_refused(&out, "cannot read `/dev/zero`");
    let mut config = Command::new(env!("CARGO_BIN_EXE_fave-lock"));
    config.args(["resolve", "--config", "/dev/zero"]);
    let out = run_with_deadline(&mut config, dir.path());
    assert_refused(&out, "cannot read `/dev/zero`");
    // And every other file a command reads: a lock (verify, abi, sbom), a plan's lock files.
    for args in [
        &["verify", "--lock", "/dev/zero"][..],
        &["abi", "/dev/zero"],
    ] {
        let mut command = Command::new(env!("CARGO_BIN_EXE_fave-lock"));
        command.args(args);
        let out = run_with_deadline(&mut command, dir.path());
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("/dev/zero") && stderr.contains("not a regular file"),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
#[ignore = "python: compares with uv and pip from the tools venv; scripts/test.sh runs it"]
fn bytes_that_are_not_utf8_are_an_error_at_their_line() {
    assert_fixture_refused(
        "refused/latin1.in",
        "refused/latin1.in:3: byte 0xE9 is not UTF-8; save the file as UTF-8",
    );
    // uv refuses it too; pip only falls back to the locale's encoding.
    assert!(uv_pins("refused/latin1.in").is_err());
}

#[test]
fn includes_nested_too_deep_are_refused_with_the_chain() {
    let server = demo::index();
    let dir = tempfile::tempdir().unwrap();
    for level in 0..100 {
        let text = format!("six\n-r level{}.in\n", level + 1);
        std::fs::write(dir.path().join(format!("level{level}.in")), text).unwrap();
    }
    let top = dir.path().join("level0.in");
    let out = resolve(&server, top.to_str().unwrap(), dir.path(), &[]);
    let folder = dir.path().display();
    assert_refused(
        &out,
        &format!(
            "{folder}/level31.in:2: includes nest more than 32 deep: `{folder}/level0.in` -> \
             `{folder}/level1.in` ->"
        ),
    );
}

#[test]
fn requires_dist_from_the_index_goes_through_the_same_guard() {
    let bytes = six_bytes();
    let metadata = "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n\
                    Requires-Dist: six ; '2.7.0' ~= os_name\n";
    let server = IndexServer::builder()
        .wheel(Wheel::fixture(SIX).upload_time("2021-05-05T14:18:17Z"))
        .wheel(Wheel::fixture(IDNA).upload_time("2024-09-15T18:07:37Z"))
        .wheel(Wheel::fixture(PACKAGING).upload_time("2024-11-08T09:47:44Z"))
        .wheel(
            Wheel::from_bytes("demo-1.0-py3-none-any.whl", bytes, metadata.into())
                .advertise_metadata()
                .upload_time("2024-01-01T00:00:00Z"),
        )
        .start();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("requirements.in");
    std::fs::write(&input, "demo\n").unwrap();
    let out = resolve(&server, input.to_str().unwrap(), dir.path(), &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // An index's bad metadata makes that release unusable (exit 1, the diagnosis says why), never a
    // panic (exit 101).
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(!stderr.contains("panicked"), "{}", text(&out));
    assert!(stderr.contains("'2.7.0' ~= os_name"), "{}", text(&out));
}

#[test]
fn an_index_url_line_must_name_the_index_in_use() {
    let server = demo::index();
    let dir = tempfile::tempdir().unwrap();
    let same = dir.path().join("same.in");
    std::fs::write(&same, format!("--index-url={}/\nsix\n", server.url())).unwrap();
    let out = resolve(&server, same.to_str().unwrap(), dir.path(), &["-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let other = dir.path().join("other.in");
    std::fs::write(&other, "six\n-i https://mirror.invalid/simple\n").unwrap();
    let out = resolve(&server, other.to_str().unwrap(), dir.path(), &[]);
    assert_refused(
        &out,
        &format!(
            "{}:2: `-i https://mirror.invalid/simple` is not the index fave-lock resolves from",
            other.display()
        ),
    );
}
