//! The wheel installer on real wheels (the fixtures' six, idna and packaging; jsonpointer and wheel from
//! PyPI in the live test, whose scripts then run), on a hand-made wheel with every `.data` scheme, and on
//! hostile wheels, which must be refused with nothing written outside the environment.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;

use super::super::installer::Installer;
use super::*;
use crate::index::zip::tests::build_zip_with_modes;

const SIX: &[u8] = include_bytes!("../../tests/fixtures/wheels/six-1.16.0-py2.py3-none-any.whl");
const IDNA: &[u8] = include_bytes!("../../tests/fixtures/wheels/idna-3.10-py3-none-any.whl");
const PACKAGING: &[u8] =
    include_bytes!("../../tests/fixtures/wheels/packaging-24.2-py3-none-any.whl");

/// A folder holding an environment (`env/`, with a venv's `bin/python` link to an interpreter outside
/// it and its `lib64` link), `wheels/`, and `outside/` with one file that must never change.
struct Sandbox {
    dir: tempfile::TempDir,
}

const SENTINEL: &str = "outside/interpreter";

impl Sandbox {
    fn new() -> Sandbox {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("outside")).unwrap();
        std::fs::write(root.join(SENTINEL), "the base interpreter").unwrap();
        std::fs::create_dir_all(root.join("env/bin")).unwrap();
        std::fs::create_dir_all(root.join("env/lib/python3.11/site-packages")).unwrap();
        std::os::unix::fs::symlink(root.join(SENTINEL), root.join("env/bin/python")).unwrap();
        std::os::unix::fs::symlink(root.join("outside"), root.join("env/lib64")).unwrap();
        Sandbox { dir }
    }

    fn layout(&self) -> Layout {
        Layout::venv(&self.dir.path().join("env"), "3.11".parse().unwrap())
    }

    fn site(&self) -> std::path::PathBuf {
        self.layout().site_packages
    }

    /// Write `bytes` as the wheel `filename` next to the environment and install it.
    fn install(
        &self,
        installer: &mut Installer,
        filename: &str,
        bytes: &[u8],
    ) -> Result<Installed, InstallError> {
        let folder = self.dir.path().join("wheels");
        std::fs::create_dir_all(&folder).unwrap();
        let path = folder.join(filename);
        std::fs::write(&path, bytes).unwrap();
        installer.install(&path, filename)
    }

    /// Nothing but the sentinel outside the environment, unchanged.
    fn assert_outside_untouched(&self) {
        let outside: Vec<_> = std::fs::read_dir(self.dir.path().join("outside"))
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(outside, ["interpreter"], "files appeared outside the env");
        assert_eq!(
            std::fs::read_to_string(self.dir.path().join(SENTINEL)).unwrap(),
            "the base interpreter"
        );
        let beside: Vec<String> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        let mut beside = beside;
        beside.sort();
        assert_eq!(beside, ["env", "outside", "wheels"]);
    }

    /// Every file below the environment's site-packages, relative to it.
    fn site_files(&self) -> Vec<String> {
        let mut files = Vec::new();
        let mut stack = vec![self.site()];
        while let Some(folder) = stack.pop() {
            for entry in std::fs::read_dir(&folder).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    let relative = path.strip_prefix(self.site()).unwrap();
                    files.push(relative.to_string_lossy().into_owned());
                }
            }
        }
        files.sort();
        files
    }
}

/// `(path, hash)` of each line of a RECORD that has a hash.
fn record_hashes(record: &str) -> Vec<(String, String)> {
    record
        .lines()
        .filter_map(|line| {
            let mut fields = line.split(',');
            let path = fields.next()?.to_string();
            let hash = fields.next()?.strip_prefix("sha256=")?.to_string();
            Some((path, hash))
        })
        .collect()
}

/// The wheel's own RECORD, read with the same zip reader.
fn wheel_record(bytes: &[u8], dist_info: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.whl");
    std::fs::write(&path, bytes).unwrap();
    let entries = zip_file::read_directory(&mut File::open(&path).unwrap()).unwrap();
    let entry = entries
        .iter()
        .find(|entry| entry.name == format!("{dist_info}/RECORD"))
        .unwrap();
    String::from_utf8(read_entry(&path, entry).unwrap()).unwrap()
}

fn hash_of(path: &Path) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(
        std::fs::read(path).unwrap_or_else(|error| panic!("{}: {error}", path.display())),
    ))
}

#[test]
fn real_wheels_land_in_site_packages_byte_for_byte_with_installer_and_record() {
    let sandbox = Sandbox::new();
    let mut installer = Installer::new(sandbox.layout());
    for (filename, bytes, dist_info) in [
        (
            "six-1.16.0-py2.py3-none-any.whl",
            SIX,
            "six-1.16.0.dist-info",
        ),
        ("idna-3.10-py3-none-any.whl", IDNA, "idna-3.10.dist-info"),
        (
            "packaging-24.2-py3-none-any.whl",
            PACKAGING,
            "packaging-24.2.dist-info",
        ),
    ] {
        let installed = sandbox.install(&mut installer, filename, bytes).unwrap();
        assert_eq!(installed.dist_info, dist_info);
        // Every file the wheel's own RECORD lists is installed with the hash it lists.
        let theirs = record_hashes(&wheel_record(bytes, dist_info));
        assert!(theirs.len() > 3, "{filename}: {theirs:?}");
        for (path, hash) in &theirs {
            assert_eq!(&hash_of(&sandbox.site().join(path)), hash, "{path}");
        }
        // Ours lists the same files and hashes, plus INSTALLER, then itself without a hash.
        let record =
            std::fs::read_to_string(sandbox.site().join(dist_info).join("RECORD")).unwrap();
        let mut ours = record_hashes(&record);
        let installer_line = format!("{dist_info}/INSTALLER");
        assert_eq!(
            ours.iter()
                .find(|(path, _)| path == &installer_line)
                .map(|(_, hash)| hash.clone()),
            Some(hash_of(&sandbox.site().join(&installer_line)))
        );
        ours.retain(|(path, _)| path != &installer_line);
        ours.sort();
        let mut theirs = theirs;
        theirs.sort();
        assert_eq!(ours, theirs, "{filename}");
        assert!(
            record.ends_with(&format!("{dist_info}/RECORD,,\n")),
            "{record}"
        );
        assert_eq!(
            std::fs::read_to_string(sandbox.site().join(&installer_line)).unwrap(),
            "fave-lock\n"
        );
        assert_eq!(installed.files.len(), ours.len() + 2);
    }
    assert!(sandbox.site_files().contains(&"six.py".to_string()));
    assert!(
        sandbox
            .site_files()
            .contains(&"packaging/_musllinux.py".to_string())
    );
    // Plain modules are not executable; nothing went outside.
    let mode = std::fs::metadata(sandbox.site().join("six.py"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o111, 0, "{mode:o}");
    sandbox.assert_outside_untouched();
}

/// A wheel with every `.data` scheme and an entry point, as setuptools and flit write them.
fn demo_wheel(extra: &[(&str, &[u8], bool, u32)]) -> Vec<u8> {
    let mut entries: Vec<(&str, &[u8], bool, u32)> = vec![
        ("demo/__init__.py", b"def main():\n    return 3\n", true, 0o100_644),
        (
            "demo-1.0.data/purelib/demo_extra.py",
            b"X = 1\n",
            true,
            0o100_644,
        ),
        (
            "demo-1.0.data/scripts/demo-tool",
            b"#!python\nimport demo\nprint(demo.main())\n",
            true,
            0o100_644,
        ),
        (
            "demo-1.0.data/scripts/plain.sh",
            b"#!/bin/sh\necho plain\n",
            false,
            0o100_644,
        ),
        ("demo-1.0.data/headers/demo.h", b"int demo;\n", true, 0o100_644),
        (
            "demo-1.0.data/data/share/demo/notes.txt",
            b"notes\n",
            true,
            0o100_644,
        ),
        (
            "demo-1.0.data/data/bin/demo-binary",
            b"\x7fELF...",
            false,
            0o100_755,
        ),
        (
            "demo-1.0.dist-info/METADATA",
            b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n",
            true,
            0o100_644,
        ),
        (
            "demo-1.0.dist-info/WHEEL",
            b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
            true,
            0o100_644,
        ),
        (
            "demo-1.0.dist-info/entry_points.txt",
            b"[console_scripts]\ndemo-run = demo:main\n\n[gui_scripts]\ndemo-gui = demo:main [gui]\n\n[demo.plugins]\nx = demo:main\n",
            true,
            0o100_644,
        ),
        ("demo-1.0.dist-info/RECORD", b"", true, 0o100_644),
    ];
    entries.extend_from_slice(extra);
    build_zip_with_modes(&entries)
}

#[test]
fn each_data_scheme_and_entry_point_goes_to_its_place() {
    let sandbox = Sandbox::new();
    let layout = sandbox.layout();
    let mut installer = Installer::new(layout.clone());
    sandbox
        .install(
            &mut installer,
            "demo-1.0-py3-none-any.whl",
            &demo_wheel(&[]),
        )
        .unwrap();
    let root = &layout.root;
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let python = root.join("bin/python").display().to_string();
    // `#!python` names the environment's interpreter; another `#!` line is kept; both run.
    let tool = std::fs::read_to_string(root.join("bin/demo-tool")).unwrap();
    assert_eq!(
        tool,
        format!("#!{python}\nimport demo\nprint(demo.main())\n")
    );
    assert_eq!(
        std::fs::read_to_string(root.join("bin/plain.sh")).unwrap(),
        "#!/bin/sh\necho plain\n"
    );
    // Console and GUI scripts become launchers; other entry point groups do not.
    for script in ["demo-run", "demo-gui"] {
        let launcher = std::fs::read_to_string(root.join("bin").join(script)).unwrap();
        assert!(
            launcher.starts_with(&format!("#!{python}\n"))
                && launcher.contains("from demo import main\n")
                && launcher.contains("sys.exit(main())"),
            "{launcher}"
        );
    }
    assert!(!root.join("bin/x").exists());
    for script in ["demo-tool", "plain.sh", "demo-run", "demo-gui"] {
        assert_eq!(mode(&root.join("bin").join(script)), 0o755, "{script}");
    }
    // A data file keeps its executable bit; others get none.
    assert_eq!(mode(&root.join("bin/demo-binary")), 0o755);
    assert_eq!(mode(&root.join("share/demo/notes.txt")), 0o644);
    assert_eq!(
        std::fs::read_to_string(root.join("include/site/python3.11/demo/demo.h")).unwrap(),
        "int demo;\n"
    );
    assert_eq!(
        sandbox.site_files(),
        [
            "demo-1.0.dist-info/INSTALLER",
            "demo-1.0.dist-info/METADATA",
            "demo-1.0.dist-info/RECORD",
            "demo-1.0.dist-info/WHEEL",
            "demo-1.0.dist-info/entry_points.txt",
            "demo/__init__.py",
            "demo_extra.py",
        ]
    );
    // RECORD names what lies outside site-packages relative to it.
    let record = std::fs::read_to_string(sandbox.site().join("demo-1.0.dist-info/RECORD")).unwrap();
    for path in [
        "../../../bin/demo-tool",
        "../../../bin/demo-run",
        "../../../share/demo/notes.txt",
        "../../../include/site/python3.11/demo/demo.h",
        "demo_extra.py",
    ] {
        let line = record
            .lines()
            .find(|line| line.starts_with(&format!("{path},sha256=")))
            .unwrap_or_else(|| panic!("{path} in:\n{record}"));
        let hash = line
            .split(',')
            .nth(1)
            .unwrap()
            .strip_prefix("sha256=")
            .unwrap();
        assert_eq!(
            hash,
            hash_of(&sandbox.site().join(path)),
            "{path}: the hash of the file as installed"
        );
    }
    // A second wheel shipping a file the first wrote replaces it (pip does too).
    let other = build_zip_with_modes(&[
        (
            "demo/__init__.py",
            b"def main():\n    return 4\n",
            true,
            0o100_644,
        ),
        (
            "other-2.0.dist-info/METADATA",
            b"Metadata-Version: 2.1\nName: other\nVersion: 2.0\n",
            true,
            0o100_644,
        ),
        (
            "other-2.0.dist-info/WHEEL",
            b"Wheel-Version: 1.0\n",
            true,
            0o100_644,
        ),
    ]);
    sandbox
        .install(&mut installer, "other-2.0-py3-none-any.whl", &other)
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(sandbox.site().join("demo/__init__.py")).unwrap(),
        "def main():\n    return 4\n"
    );
    sandbox.assert_outside_untouched();
}

#[test]
fn hostile_wheels_are_refused_and_write_nothing_outside_the_environment() {
    let cases: [(&str, &[u8], u32); 9] = [
        ("../escaped.py", b"x", 0o100_644),
        ("demo/../../../../outside/escaped.py", b"x", 0o100_644),
        ("/tmp/fave-lock-absolute-escape.py", b"x", 0o100_644),
        ("..\\escaped.py", b"x", 0o100_644),
        ("demo-1.0.data/data/../../escaped.py", b"x", 0o100_644),
        ("demo-1.0.data/secret/x.py", b"x", 0o100_644),
        ("demo-1.0.data/scripts", b"x", 0o100_644),
        // A symbolic link entry, pointing outside.
        ("demo/link", b"../../../../outside", 0o120_777),
        ("./demo/dot.py", b"x", 0o100_644),
    ];
    for (name, content, mode) in cases {
        let sandbox = Sandbox::new();
        let mut installer = Installer::new(sandbox.layout());
        // The hostile entry comes last: nothing of the wheel is written before every name passed.
        let wheel = demo_wheel(&[(name, content, true, mode)]);
        let error = sandbox
            .install(&mut installer, "demo-1.0-py3-none-any.whl", &wheel)
            .unwrap_err();
        assert!(
            matches!(&error, InstallError::UnsafeEntry { entry, .. } if entry == name),
            "{name}: {error:?}"
        );
        assert!(error.to_string().contains(name), "{error}");
        assert_eq!(sandbox.site_files(), Vec::<String>::new(), "{name}");
        assert!(!Path::new("/tmp/fave-lock-absolute-escape.py").exists());
        sandbox.assert_outside_untouched();
    }
}

#[test]
fn a_wheel_cannot_write_through_the_environment_s_links() {
    // Through the venv's `bin/python` (a link to the base interpreter) and its `lib64` (a link to a
    // folder): a conflict, and the interpreter and folder behind the links are unchanged.
    for (name, blocked) in [
        ("demo-1.0.data/data/bin/python", "bin/python"),
        ("demo-1.0.data/scripts/python", "bin/python"),
        ("demo-1.0.data/data/lib64/evil.py", "lib64"),
    ] {
        let sandbox = Sandbox::new();
        let layout = sandbox.layout();
        let mut installer = Installer::new(layout.clone());
        let wheel = demo_wheel(&[(name, b"#!/bin/sh\necho owned\n", true, 0o100_755)]);
        let error = sandbox
            .install(&mut installer, "demo-1.0-py3-none-any.whl", &wheel)
            .unwrap_err();
        assert!(
            matches!(&error, InstallError::Conflict { path, .. } if *path == layout.root.join(blocked)),
            "{name}: {error:?}"
        );
        sandbox.assert_outside_untouched();
    }
}

#[test]
fn a_damaged_or_foreign_wheel_is_a_typed_error() {
    let sandbox = Sandbox::new();
    let mut installer = Installer::new(sandbox.layout());
    // The central directory promises more bytes than the entry has.
    let mut lying = demo_wheel(&[]);
    let (_, record) = zip::find_end_record(&lying).unwrap();
    let size_field = record.directory_offset as usize + 24;
    let declared = u32::from_le_bytes(lying[size_field..size_field + 4].try_into().unwrap());
    lying[size_field..size_field + 4].copy_from_slice(&(declared + 7).to_le_bytes());
    let error = sandbox
        .install(&mut installer, "demo-1.0-py3-none-any.whl", &lying)
        .unwrap_err();
    assert!(matches!(error, InstallError::Read { .. }), "{error:?}");
    let not_a_zip = sandbox
        .install(
            &mut installer,
            "demo-1.0-py3-none-any.whl",
            b"PK\x03\x04 no zip",
        )
        .unwrap_err();
    assert!(
        matches!(not_a_zip, InstallError::Read { .. }),
        "{not_a_zip:?}"
    );
    let future = build_zip_with_modes(&[
        (
            "demo-1.0.dist-info/METADATA",
            b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n",
            true,
            0o100_644,
        ),
        (
            "demo-1.0.dist-info/WHEEL",
            b"Wheel-Version: 2.0\n",
            true,
            0o100_644,
        ),
    ]);
    let error = sandbox
        .install(&mut installer, "demo-1.0-py3-none-any.whl", &future)
        .unwrap_err();
    assert!(
        matches!(&error, InstallError::Invalid { reason, .. } if reason.contains("Wheel-Version `2.0`")),
        "{error:?}"
    );
    let bad_name = sandbox
        .install(&mut installer, "not-a-wheel.zip", &demo_wheel(&[]))
        .unwrap_err();
    assert!(
        matches!(bad_name, InstallError::Invalid { .. }),
        "{bad_name:?}"
    );
    sandbox.assert_outside_untouched();
}

#[test]
fn entry_points_are_read_strictly_because_they_become_code() {
    let scripts = console_scripts(
        "[console_scripts]\nwheel = wheel._commands:main\n a-b = pkg.sub:obj.attr [extra]\n\
         [other]\nignored = x:y\n",
    )
    .unwrap();
    assert_eq!(
        scripts,
        [
            Script {
                name: "wheel".into(),
                module: "wheel._commands".into(),
                attribute: "main".into()
            },
            Script {
                name: "a-b".into(),
                module: "pkg.sub".into(),
                attribute: "obj.attr".into()
            },
        ]
    );
    for bad in [
        "evil = os:system('rm -rf /')",
        "../up = a:b",
        "x = a;import os:b",
        "x = a",
        "nameonly",
        "x = 1a:b",
    ] {
        let text = format!("[console_scripts]\n{bad}\n");
        assert!(console_scripts(&text).is_err(), "{bad}");
    }
    let launcher = launcher(Path::new("/e/bin/python"), &scripts[1]);
    assert!(
        launcher.starts_with("#!/e/bin/python\n")
            && launcher.contains("from pkg.sub import obj\n")
            && launcher.contains("sys.exit(obj.attr())"),
        "{launcher}"
    );
}

#[test]
fn a_long_or_spaced_interpreter_path_runs_through_sh() {
    assert_eq!(shebang(Path::new("/e/bin/python")), "#!/e/bin/python\n");
    let spaced = shebang(Path::new("/my envs/bin/python"));
    assert!(
        spaced.starts_with("#!/bin/sh\n'''exec' '/my envs/bin/python' \"$0\" \"$@\"\n"),
        "{spaced}"
    );
    let long = format!("/{}/bin/python", "x".repeat(130));
    assert!(shebang(Path::new(&long)).starts_with("#!/bin/sh\n"));
}

#[test]
fn record_paths_are_relative_to_site_packages_and_quoted_when_needed() {
    let site = Path::new("lib/python3.11/site-packages");
    assert_eq!(
        relative_path(Path::new("lib/python3.11/site-packages/a/b.py"), site),
        "a/b.py"
    );
    assert_eq!(
        relative_path(Path::new("bin/tool"), site),
        "../../../bin/tool"
    );
    assert_eq!(csv_field("a,b.py"), "\"a,b.py\"");
    assert_eq!(csv_field("say \"hi\".txt"), "\"say \"\"hi\"\".txt\"");
}

/// Two small real wheels from PyPI fetched through the client and wheel cache (hash-checked), unpacked
/// into a real venv of CPython 3.11: jsonpointer's `.data/scripts/jsonpointer` and wheel's console
/// script run, and the packages import. A second fetch reads the cache.
#[tokio::test]
#[ignore = "live: needs PyPI and CPython 3.11; scripts/test.sh runs it"]
async fn live_pypi_wheels_install_into_a_venv_and_their_scripts_run() {
    use crate::index::{DistFile, IndexClient, IndexSettings};
    use std::sync::atomic::Ordering;

    let python = super::super::find_python("3.11".parse().unwrap())
        .await
        .expect("CPython 3.11");
    let dir = tempfile::tempdir().unwrap();
    let client = IndexClient::new(IndexSettings {
        cache_dir: dir.path().join("cache"),
        ..IndexSettings::default()
    })
    .unwrap();
    let file = |filename: &str, url: &str, sha256: &str, size: u64| DistFile {
        filename: filename.into(),
        url: url.into(),
        sha256: Some(sha256.into()),
        size: Some(size),
        upload_time: None,
        requires_python: None,
        yanked: None,
        core_metadata: false,
    };
    let wheels = [
        file(
            "jsonpointer-3.9-py3-none-any.whl",
            "https://files.pythonhosted.org/packages/fa/ab/476598b87ea0b15c6ed8bdc75c162f52667cfc9df36a15a35f166a0e4cae/jsonpointer-3.9-py3-none-any.whl",
            "a2768328a37c58749b58a3fffd36843e161eeef4c7064832911c865f80bcaded",
            10255,
        ),
        file(
            "wheel-0.45.1-py3-none-any.whl",
            "https://files.pythonhosted.org/packages/0b/2c/87f3254fd8ffd29e4c02732eee68a83a1d3c346ae39bc6822dcbcb697f2b/wheel-0.45.1-py3-none-any.whl",
            "708e7481cc80179af0e556bbf0cc00b8444c7321e2700b8d8580231d13017248",
            72494,
        ),
    ];
    let env = dir.path().join("env");
    let made = std::process::Command::new(&python.executable)
        .args(["-m", "venv", "--without-pip"])
        .arg(&env)
        .status()
        .unwrap();
    assert!(made.success());
    let mut installer = Installer::new(Layout::venv(&env, "3.11".parse().unwrap()));
    for wheel in &wheels {
        let path = super::super::requires::fetch(&client, wheel).await.unwrap();
        installer.install(&path, &wheel.filename).unwrap();
    }
    let requests = client.stats.requests.load(Ordering::Relaxed);
    for wheel in &wheels {
        super::super::requires::fetch(&client, wheel).await.unwrap();
    }
    assert_eq!(
        client.stats.requests.load(Ordering::Relaxed),
        requests,
        "the second fetch reads the wheel cache"
    );
    let run = |program: &str, args: &[&str]| {
        let out = std::process::Command::new(env.join("bin").join(program))
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{program}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    std::fs::write(dir.path().join("doc.json"), r#"{"a": {"b": [10, 20]}}"#).unwrap();
    assert_eq!(
        run("jsonpointer", &["-p", "/a/b/1", "doc.json"]).trim(),
        "20"
    );
    assert_eq!(run("wheel", &["version"]).trim(), "wheel 0.45.1");
    let imported = run(
        "python",
        &[
            "-c",
            "import jsonpointer, wheel, sys; print(jsonpointer.__file__.startswith(sys.prefix), wheel.__version__)",
        ],
    );
    assert_eq!(imported.trim(), "True 0.45.1");
    // pip sees both as installed by fave-lock.
    let installer_of = |dist_info: &str| {
        std::fs::read_to_string(
            env.join("lib/python3.11/site-packages")
                .join(dist_info)
                .join("INSTALLER"),
        )
        .unwrap()
    };
    assert_eq!(installer_of("jsonpointer-3.9.dist-info"), "fave-lock\n");
    assert_eq!(installer_of("wheel-0.45.1.dist-info"), "fave-lock\n");
}

/// Every path below the environment (symbolic links not followed) ─▶ its mode and its bytes (a link's
/// target).
fn tree(root: &Path) -> BTreeMap<String, (u32, Vec<u8>)> {
    let mut tree = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let relative = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let content = if meta.file_type().is_symlink() {
                std::fs::read_link(&path)
                    .unwrap()
                    .into_os_string()
                    .into_encoded_bytes()
            } else if meta.is_dir() {
                stack.push(path);
                Vec::new()
            } else {
                std::fs::read(&path).unwrap()
            };
            tree.insert(relative, (meta.permissions().mode() & 0o7777, content));
        }
    }
    tree
}

/// A wheel of many small files in a few folders (more than one worker's slice), one of them shipped
/// twice (the later entry is the one installed) and one shared with [`demo_wheel`]; and a script.
fn many_files_wheel() -> Vec<u8> {
    let contents: Vec<(String, Vec<u8>)> = (0..1300)
        .map(|index| {
            (
                format!("many/part{}/module_{index}.py", index % 7),
                format!("VALUE = {index}\n")
                    .repeat(index % 50 + 1)
                    .into_bytes(),
            )
        })
        .collect();
    let mut entries: Vec<(&str, &[u8], bool, u32)> = contents
        .iter()
        .map(|(name, bytes)| (name.as_str(), bytes.as_slice(), true, 0o100_644))
        .collect();
    entries.extend_from_slice(&[
        (
            "many/part3/module_3.py",
            b"SHIPPED = 'twice'\n",
            true,
            0o100_644,
        ),
        (
            "demo/__init__.py",
            b"def main():\n    return 5\n",
            false,
            0o100_644,
        ),
        (
            "many-1.0.data/scripts/many-tool",
            b"#!python\nprint(1)\n",
            true,
            0o100_644,
        ),
        (
            "many-1.0.dist-info/METADATA",
            b"Metadata-Version: 2.1\nName: many\nVersion: 1.0\n",
            true,
            0o100_644,
        ),
        (
            "many-1.0.dist-info/WHEEL",
            b"Wheel-Version: 1.0\n",
            true,
            0o100_644,
        ),
    ]);
    build_zip_with_modes(&entries)
}

/// The wheels of [`parallel_installs_write_what_installing_in_order_writes`], in their order.
fn set_of_wheels() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("six-1.16.0-py2.py3-none-any.whl", SIX.to_vec()),
        ("demo-1.0-py3-none-any.whl", demo_wheel(&[])),
        ("idna-3.10-py3-none-any.whl", IDNA.to_vec()),
        ("many-1.0-py3-none-any.whl", many_files_wheel()),
        ("packaging-24.2-py3-none-any.whl", PACKAGING.to_vec()),
    ]
}

impl Sandbox {
    /// The environment made anew (as `Sandbox::new` makes it), for another install at the same paths.
    fn reset_env(&self) {
        let root = self.dir.path();
        std::fs::remove_dir_all(root.join("env")).unwrap();
        std::fs::create_dir_all(root.join("env/bin")).unwrap();
        std::fs::create_dir_all(root.join("env/lib/python3.11/site-packages")).unwrap();
        std::os::unix::fs::symlink(root.join(SENTINEL), root.join("env/bin/python")).unwrap();
        std::os::unix::fs::symlink(root.join("outside"), root.join("env/lib64")).unwrap();
    }

    /// Write the wheels into `wheels/` and add them to `installer` in `arrival` order (indices into
    /// `wheels`, each the wheel's place in the set), then wait.
    fn install_all(
        &self,
        installer: &mut Installer,
        wheels: &[(&str, Vec<u8>)],
        arrival: &[usize],
    ) -> Result<Vec<Installed>, InstallError> {
        let folder = self.dir.path().join("wheels");
        std::fs::create_dir_all(&folder).unwrap();
        for &order in arrival {
            let (filename, bytes) = &wheels[order];
            let path = folder.join(filename);
            std::fs::write(&path, bytes).unwrap();
            installer.add(order, path, filename);
        }
        installer.wait()
    }
}

#[test]
fn parallel_installs_write_what_installing_in_order_writes() {
    let sandbox = Sandbox::new();
    let wheels = set_of_wheels();
    let mut serial = Installer::with_workers(sandbox.layout(), 1);
    let in_order: Vec<Installed> = wheels
        .iter()
        .map(|(filename, bytes)| sandbox.install(&mut serial, filename, bytes).unwrap())
        .collect();
    let expected = tree(&sandbox.layout().root);
    // The later entry of the one shipped twice, the later wheel's file of the one shared, and each
    // RECORD with its own wheel's hash of the shared file.
    let site = sandbox.site();
    assert_eq!(
        std::fs::read_to_string(site.join("many/part3/module_3.py")).unwrap(),
        "SHIPPED = 'twice'\n"
    );
    assert_eq!(
        std::fs::read_to_string(site.join("demo/__init__.py")).unwrap(),
        "def main():\n    return 5\n"
    );
    let demo_record = std::fs::read_to_string(site.join("demo-1.0.dist-info/RECORD")).unwrap();
    let many_record = std::fs::read_to_string(site.join("many-1.0.dist-info/RECORD")).unwrap();
    let hash_in = |record: &str| {
        record_hashes(record)
            .into_iter()
            .find(|(path, _)| path == "demo/__init__.py")
            .map(|(_, hash)| hash)
            .unwrap()
    };
    assert_eq!(
        hash_in(&many_record),
        hash_of(&site.join("demo/__init__.py"))
    );
    assert_ne!(hash_in(&demo_record), hash_in(&many_record));
    assert!(expected.len() > 1300, "{}", expected.len());

    // All at once, arriving in several orders, with several workers: the same tree, byte for byte,
    // mode for mode, RECORD for RECORD, and the same report of what went where.
    for arrival in [[0, 1, 2, 3, 4], [4, 3, 2, 1, 0], [3, 1, 4, 0, 2]] {
        for workers in [2, 4] {
            sandbox.reset_env();
            let mut installer = Installer::with_workers(sandbox.layout(), workers);
            let installed = sandbox
                .install_all(&mut installer, &wheels, &arrival)
                .unwrap();
            assert_eq!(installed, in_order, "{arrival:?} {workers}");
            let got = tree(&sandbox.layout().root);
            assert_eq!(
                got.keys().collect::<Vec<_>>(),
                expected.keys().collect::<Vec<_>>(),
                "{arrival:?} {workers}"
            );
            for (path, (mode, bytes)) in &expected {
                assert_eq!(got[path].0, *mode, "{path}: {arrival:?} {workers}");
                assert!(got[path].1 == *bytes, "{path}: {arrival:?} {workers}");
            }
            sandbox.assert_outside_untouched();
        }
    }
}

/// A wheel `name` 1.0 with one file `entry` (`x = 1`, of zip mode `mode`) besides its metadata.
fn named_wheel(name: &str, entry: &str, mode: u32) -> Vec<u8> {
    let metadata = format!("{name}-1.0.dist-info/METADATA");
    let wheel_file = format!("{name}-1.0.dist-info/WHEEL");
    let metadata_text = format!("Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n");
    build_zip_with_modes(&[
        (entry, b"x = 1\n", true, mode),
        (&metadata, metadata_text.as_bytes(), true, 0o100_644),
        (&wheel_file, b"Wheel-Version: 1.0\n", true, 0o100_644),
    ])
}

#[test]
fn a_file_and_a_folder_on_one_path_conflict_for_the_later_wheel_in_any_arrival_order() {
    let wheel = |name: &str, entry: &str| named_wheel(name, entry, 0o100_644);
    // The file first, then the folder; the folder first, then the file.
    for (first, second) in [("clash", "clash/inner.py"), ("clash/inner.py", "clash")] {
        let wheels = vec![
            ("alpha-1.0-py3-none-any.whl", wheel("alpha", first)),
            ("beta-1.0-py3-none-any.whl", wheel("beta", second)),
        ];
        let sandbox = Sandbox::new();
        let mut serial = Installer::with_workers(sandbox.layout(), 1);
        sandbox
            .install(&mut serial, wheels[0].0, &wheels[0].1)
            .unwrap();
        let expected = sandbox
            .install(&mut serial, wheels[1].0, &wheels[1].1)
            .unwrap_err();
        assert!(
            matches!(&expected, InstallError::Conflict { wheel, path }
                if wheel == "beta-1.0-py3-none-any.whl" && *path == sandbox.site().join("clash")),
            "{expected:?}"
        );
        for arrival in [[0, 1], [1, 0]] {
            for _ in 0..5 {
                sandbox.reset_env();
                let mut installer = Installer::with_workers(sandbox.layout(), 2);
                let error = sandbox
                    .install_all(&mut installer, &wheels, &arrival)
                    .unwrap_err();
                assert_eq!(error.to_string(), expected.to_string(), "{arrival:?}");
                sandbox.assert_outside_untouched();
            }
        }
    }
}

#[test]
fn of_several_failures_the_first_in_order_is_reported() {
    // The second wheel is refused (unsafe) and the fourth would write over the venv's `bin/python`;
    // whatever arrives first, the report is the second's, as when installing in order.
    let unsafe_wheel = demo_wheel(&[("../escaped.py", b"x", true, 0o100_644)]);
    let over_python = named_wheel("owner", "owner-1.0.data/scripts/python", 0o100_755);
    let wheels = vec![
        ("six-1.16.0-py2.py3-none-any.whl", SIX.to_vec()),
        ("demo-1.0-py3-none-any.whl", unsafe_wheel),
        ("idna-3.10-py3-none-any.whl", IDNA.to_vec()),
        ("owner-1.0-py3-none-any.whl", over_python),
    ];
    for arrival in [[0, 1, 2, 3], [3, 2, 1, 0]] {
        let sandbox = Sandbox::new();
        let mut installer = Installer::with_workers(sandbox.layout(), 2);
        let error = sandbox
            .install_all(&mut installer, &wheels, &arrival)
            .unwrap_err();
        assert!(
            matches!(&error, InstallError::UnsafeEntry { entry, .. } if entry == "../escaped.py"),
            "{arrival:?}: {error:?}"
        );
        sandbox.assert_outside_untouched();
    }
}
