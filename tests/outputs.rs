//! Output paths that are not regular files: `resolve -o` onto a character device, a FIFO, `-` and a
//! symlink, and the config's lock folder holding symlinks. Only a regular file (or a missing path) may be
//! replaced by rename; a device stays a device, a link stays a link (as pip-compile and uv write).
//!
//! The device test makes its own node of /dev/null's device (1, 3) in a temp folder, so a regression
//! cannot break the machine's /dev/null; it needs root (as CI and containers run), so a bare `cargo test`
//! lists it as ignored and `scripts/test.sh` runs it (failing, and saying why, when not root).

mod support;

use std::os::unix::fs::FileTypeExt;
use std::path::Path;
use std::process::{Command, Output};

use support::demo::{self, SIX_SHA256};
use support::project::{Project, ad_hoc_resolve, text};

fn resolve_to(dir: &Path, index_url: &str, output: &Path) -> Output {
    ad_hoc_resolve(dir, index_url, output, &[])
}

fn project_dir(requirements: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("requirements.in"), requirements).unwrap();
    dir
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

#[test]
#[ignore = "root: makes a device node; scripts/test.sh runs it as root (CI)"]
fn a_character_device_stays_a_device() {
    assert!(
        is_root(),
        "this test makes a device node and needs root, as CI runs (`sudo cargo test --test outputs`)"
    );
    let server = demo::index();
    let dir = project_dir("six\n");
    let null = dir.path().join("null");
    let name = std::ffi::CString::new(null.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path; (1, 3) is the kernel's null device.
    let made = unsafe { libc::mknod(name.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 3)) };
    assert_eq!(made, 0, "mknod: {}", std::io::Error::last_os_error());
    let out = resolve_to(dir.path(), &server.url(), &null);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let kind = std::fs::symlink_metadata(&null).unwrap().file_type();
    assert!(kind.is_char_device(), "the device was replaced: {kind:?}");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|entry| entry.file_name())
        .filter(|name| name.to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_fifo_receives_the_lock() {
    let server = demo::index();
    let dir = project_dir("six\n");
    let fifo = dir.path().join("lock.fifo");
    let name = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o644) }, 0);
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
    };
    let out = resolve_to(dir.path(), &server.url(), &fifo);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let received = reader.join().unwrap();
    assert!(received.contains("six==1.16.0"), "{received}");
    assert!(received.contains(SIX_SHA256), "{received}");
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo()
    );
}

#[test]
fn a_dash_writes_to_stdout() {
    let server = demo::index();
    let dir = project_dir("six\n");
    let out = resolve_to(dir.path(), &server.url(), Path::new("-"));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("six==1.16.0") && stdout.contains(SIX_SHA256),
        "{stdout}"
    );
    assert!(!dir.path().join("-").exists(), "no file named `-`");
}

#[test]
fn a_symlinked_output_stays_a_link_and_its_target_gets_the_lock() {
    let server = demo::index();
    let dir = project_dir("six\n");
    std::fs::create_dir(dir.path().join("shared")).unwrap();
    std::fs::write(dir.path().join("shared/lock.txt"), "old\n").unwrap();
    let link = dir.path().join("out.txt");
    std::os::unix::fs::symlink("shared/lock.txt", &link).unwrap();
    let out = resolve_to(dir.path(), &server.url(), &link);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let lock = std::fs::read_to_string(dir.path().join("shared/lock.txt")).unwrap();
    assert!(lock.contains(SIX_SHA256), "{lock}");
}

#[test]
fn the_config_lock_folder_keeps_its_symlinks() {
    let server = demo::index();
    let project = Project::new(&server.url(), "six\n");
    let elsewhere = project.root().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::create_dir_all(project.lock_dir()).unwrap();
    for name in ["requirements.txt", "pylock.toml"] {
        std::os::unix::fs::symlink(elsewhere.join(name), project.lock_dir().join(name)).unwrap();
    }
    let out = project.run(&["resolve", "-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    for name in ["requirements.txt", "pylock.toml"] {
        let path = project.lock_dir().join(name);
        assert!(
            std::fs::symlink_metadata(&path)
                .unwrap()
                .file_type()
                .is_symlink(),
            "{name}"
        );
        let contents = std::fs::read_to_string(elsewhere.join(name)).unwrap();
        assert!(contents.contains(SIX_SHA256), "{name}: {contents}");
    }
}

#[test]
fn a_directory_as_output_is_an_error_naming_it() {
    let server = demo::index();
    let dir = project_dir("six\n");
    std::fs::create_dir(dir.path().join("out")).unwrap();
    let out = resolve_to(dir.path(), &server.url(), &dir.path().join("out"));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("out") && stderr.contains("directory"),
        "{stderr}"
    );
}

#[test]
fn a_panic_is_an_internal_error_with_exit_2_and_files_stay_untouched() {
    let server = demo::index();
    let project = demo::resolved(&server, "six\n");
    std::fs::write(project.root().join("requirements.in"), "six\nidna\n").unwrap();
    let before = project.lock_files();
    let out = Command::new(env!("CARGO_BIN_EXE_fave-lock"))
        .args(["resolve", "-q"])
        .current_dir(project.root())
        .env("FAVE_LOCK_CACHE_DIR", project.cache_dir())
        .env("FAVE_LOCK_FAULT", "panic-before-commit")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("internal error"), "{stderr}");
    assert_eq!(project.lock_files(), before);
    let leftovers: Vec<_> = std::fs::read_dir(project.lock_dir())
        .unwrap()
        .flatten()
        .filter(|entry| entry.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
