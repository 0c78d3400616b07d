//! The Debian half of the lock against the real archive (deb.debian.org, bookworm, -updates and
//! -security): the image's packages resolve with their closure, the locked `.deb`s are the bytes the
//! lock says, dpkg agrees with our version order, a security update and a dropped version are
//! reported, and a tampered `InRelease` is refused with exit 3.
//!
//! Needs network access to deb.debian.org, and Debian's `gpgv`, `debian-archive-keyring` and `dpkg`
//! (scripts/setup/test-env.sh installs the first two).

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

use sha2::{Digest as _, Sha256};

use fave_lock::apt::{self, AptLock, ArchiveClient, DebVersion, Suite, Universe};
use fave_lock::check::{Code, Severity, check_apt_archive};
use support::demo;
use support::project::{Project, text};

const BASE_PACKAGES: [&str; 4] = ["ffmpeg", "libgl1", "libglib2.0-0", "libsndfile1"];

fn suites() -> Vec<Suite> {
    apt::suites(&fave_lock::config::AptConfig::default())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn get(url: &str) -> Vec<u8> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let response = reqwest::get(url).await.unwrap();
    assert!(
        response.status().is_success(),
        "{url}: {}",
        response.status()
    );
    response.bytes().await.unwrap().to_vec()
}

/// fave-base's packages locked for amd64 from the live archive.
fn lock_base_packages(
    runtime: &tokio::runtime::Runtime,
    client: &ArchiveClient,
) -> (Vec<String>, AptLock) {
    let requested: Vec<String> = BASE_PACKAGES.iter().map(ToString::to_string).collect();
    let lock = runtime
        .block_on(apt::lock(
            client,
            "fave-base",
            &suites(),
            &requested,
            &["amd64"],
        ))
        .unwrap();
    (requested, lock)
}

/// Resolve the image's packages for amd64, then download the three smallest `.deb`s and compare
/// their bytes with the lock; the same universe serves the version-order and security checks.
#[test]
#[ignore = "live: needs deb.debian.org, gpgv and dpkg; scripts/test.sh runs it"]
fn base_image_packages_lock_with_their_real_hashes() {
    let cache = tempfile::tempdir().unwrap();
    let runtime = runtime();
    let client = ArchiveClient::new(cache.path(), false).unwrap();
    let (requested, lock) = lock_base_packages(&runtime, &client);
    let names: Vec<&str> = lock.packages.iter().map(|p| p.name.as_str()).collect();
    for name in BASE_PACKAGES {
        assert!(names.contains(&name), "{name} not locked");
    }
    // The base system is left out: libc6 (through essential packages) and dpkg (essential).
    assert!(
        !names.contains(&"libc6") && !names.contains(&"dpkg"),
        "{names:?}"
    );
    // The libraries ffmpeg links, libavcodec among them.
    assert!(names.contains(&"libavcodec59"), "{names:?}");
    assert!(
        lock.packages.iter().any(|p| p.suite == "bookworm-security"),
        "no package from -security"
    );
    let mut smallest = lock.packages.clone();
    smallest.sort_by_key(|p| p.size);
    for deb in smallest.iter().take(3) {
        let url = deb.url(&lock).unwrap();
        let bytes = runtime.block_on(get(&url));
        assert_eq!(bytes.len() as u64, deb.size, "{url}");
        assert_eq!(hex::encode(Sha256::digest(&bytes)), deb.sha256, "{url}");
    }

    // Offline, from what this run cached: the same lock.
    let offline = ArchiveClient::new(cache.path(), true).unwrap();
    let again = runtime
        .block_on(apt::lock(
            &offline,
            "fave-base",
            &suites(),
            &requested,
            &["amd64"],
        ))
        .unwrap();
    assert_eq!(again, lock);

    let universe = runtime
        .block_on(apt::universe(&offline, &suites(), "amd64"))
        .unwrap();
    versions_order_as_dpkg_does(&universe);
    security_updates_are_stale(&lock, &universe);
}

/// Our order against `dpkg --compare-versions` on a few hundred real versions: neighbours in each
/// package's version list (across suites), and versions of different packages.
fn versions_order_as_dpkg_does(universe: &Universe) {
    let mut versions: Vec<String> = Vec::new();
    for name in [
        "ffmpeg",
        "libc6",
        "libssl3",
        "openssl",
        "linux-image-amd64",
        "tzdata",
        "libx11-6",
        "perl",
        "python3.11",
        "libglib2.0-0",
        "libtiff6",
        "libxml2",
        "curl",
        "libjpeg62-turbo",
        "systemd",
        "libgl1-mesa-dri",
        "libllvm15",
        "libx264-164",
        "libusb-1.0-0",
        "xkb-data",
    ] {
        versions.extend(
            universe
                .versions(name)
                .iter()
                .map(|c| c.stanza.version.to_string()),
        );
    }
    versions.extend(
        [
            "1.0~rc1",
            "1.0",
            "1:0.9",
            "1.0+b1",
            "1.0-1~bpo12+1",
            "2:0.164.3095+gitbaee400-3",
        ]
        .map(String::from),
    );
    versions.sort();
    versions.dedup();
    let mut pairs = Vec::new();
    for (i, a) in versions.iter().enumerate() {
        for b in versions.iter().skip(i + 1).step_by(2) {
            pairs.push((a.clone(), b.clone()));
        }
    }
    assert!(pairs.len() >= 300, "only {} pairs", pairs.len());
    for (a, b) in &pairs {
        let ours = a
            .parse::<DebVersion>()
            .unwrap()
            .cmp(&b.parse::<DebVersion>().unwrap());
        let dpkg_less = Command::new("dpkg")
            .args(["--compare-versions", a, "lt", b])
            .status()
            .expect("run dpkg")
            .success();
        let dpkg_equal = Command::new("dpkg")
            .args(["--compare-versions", a, "eq", b])
            .status()
            .unwrap()
            .success();
        let dpkg = match (dpkg_less, dpkg_equal) {
            (true, _) => std::cmp::Ordering::Less,
            (false, true) => std::cmp::Ordering::Equal,
            (false, false) => std::cmp::Ordering::Greater,
        };
        assert_eq!(ours, dpkg, "{a} vs {b}");
    }
}

/// A locked package moved back to the release's version, where -security has a newer one: the check
/// reports the security update as stale.
fn security_updates_are_stale(lock: &AptLock, universe: &Universe) {
    let (mut deb, older) = lock
        .packages
        .iter()
        .filter(|p| p.suite == "bookworm-security")
        .find_map(|p| {
            let locked: DebVersion = p.version.parse().ok()?;
            let release = universe
                .versions(&p.name)
                .iter()
                .find(|c| c.suite == "bookworm" && c.stanza.version < locked)?;
            Some((p.clone(), release.clone()))
        })
        .expect("a locked package that -security updated");
    deb.version = older.stanza.version.to_string();
    deb.sha256.clone_from(&older.stanza.sha256);
    deb.suite = "bookworm".to_string();
    let stale = AptLock {
        packages: vec![deb.clone()],
        ..lock.clone()
    };
    let universes = BTreeMap::from([("amd64".to_string(), universe.clone())]);
    let findings = check_apt_archive("fave-base", &stale, &universes, "bookworm-security");
    assert!(
        findings.iter().any(|f| f.code == Code::SecurityUpdate
            && f.severity == Severity::Stale
            && f.package.as_deref() == Some(deb.name.as_str())
            && f.reason.contains("security update")),
        "{findings:?}"
    );
    let fresh = check_apt_archive("fave-base", lock, &universes, "bookworm-security");
    assert!(
        fresh.iter().all(|f| f.severity == Severity::Info),
        "a fresh lock is fresh: {fresh:?}"
    );
}

/// A project whose image also installs `apt` packages, with `[apt]` lines `apt_table`.
fn apt_project(server: &support::index_server::IndexServer, apt_table: &str) -> Project {
    let extra =
        format!("base-image = \"python:3.11-slim\"\napt-packages = [\"libogg0\"]\n\n{apt_table}");
    Project::with_image(&server.url(), "six\n", "demo", &extra)
}

/// Resolve writes apt.lock (from the live archive) and the plan pins it; check is fresh, then reports a
/// version the archive no longer serves as stale; resolve --offline works from the cache.
#[test]
#[ignore = "live: needs deb.debian.org, gpgv and dpkg; scripts/test.sh runs it"]
fn resolve_locks_and_check_reports_a_dropped_version() {
    let server = demo::index();
    let project = apt_project(&server, "");
    let out = project.run(&["resolve", "-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let path = project.lock_dir().join("apt.lock");
    let lock = AptLock::parse(&std::fs::read_to_string(&path).unwrap(), &path).unwrap();
    assert_eq!(lock.architectures(), ["amd64", "arm64"]);
    let ogg: Vec<_> = lock
        .packages
        .iter()
        .filter(|p| p.name == "libogg0")
        .collect();
    assert_eq!(ogg.len(), 2, "{lock:?}");
    let plan = std::fs::read_to_string(project.lock_dir().join("build-plan.json")).unwrap();
    assert!(
        plan.contains(&format!("libogg0={}", ogg[0].version)),
        "the plan installs the locked version: {plan}"
    );
    assert!(plan.contains("locks/demo/apt.lock"), "{plan}");

    let out = project.run(&["check", "--no-registry"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let out = project.run(&["resolve", "-q", "--offline"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), lock.to_toml());

    let gone = lock.to_toml().replace(
        &format!("version = \"{}\"", ogg[0].version),
        "version = \"1.3.4-0.1\"",
    );
    std::fs::write(&path, gone).unwrap();
    let out = project.run(&["check", "--no-registry", "--no-diff"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("[not-on-index]")
            && stdout.contains("libogg0 1.3.4-0.1 is no longer served")
            && stdout.contains("fave-lock resolve --image=demo"),
        "{}",
        text(&out)
    );
}

/// A loopback archive serving the real InRelease files with one hex digit of a signed sha256 changed:
/// resolve refuses them (exit 3) and writes nothing.
#[test]
#[ignore = "live: needs deb.debian.org, gpgv and dpkg; scripts/test.sh runs it"]
fn a_tampered_inrelease_is_refused() {
    let runtime = runtime();
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for suite in suites() {
        let real = runtime.block_on(get(&suite.dists_url("InRelease")));
        let text = String::from_utf8(real.clone()).unwrap();
        let line = text
            .lines()
            .find(|line| line.ends_with("main/binary-amd64/Packages.xz") && line.len() > 70)
            .unwrap();
        let digit = if line.as_bytes()[1] == b'0' { "1" } else { "0" };
        let tampered_line = format!(" {digit}{}", &line[2..]);
        let tampered = text.replacen(line, &tampered_line, 1);
        assert_ne!(tampered, text);
        // The pristine bytes verify, so the refusal below is about the change alone.
        assert!(
            apt::verify(&real, "real", Path::new(apt::DEBIAN_KEYRING)).is_ok(),
            "{suite:?}"
        );
        let error = apt::verify(
            tampered.as_bytes(),
            "tampered",
            Path::new(apt::DEBIAN_KEYRING),
        )
        .unwrap_err();
        assert!(error.is_integrity(), "{error}");
        let prefix = if suite.name.ends_with("-security") {
            "debian-security"
        } else {
            "debian"
        };
        files.insert(
            format!("/{prefix}/dists/{}/InRelease", suite.name),
            tampered.into_bytes(),
        );
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || serve(&listener, &files));
    let server = demo::index();
    let project = apt_project(
        &server,
        &format!(
            "[apt]\narchive = \"http://127.0.0.1:{port}/debian\"\nsecurity = \"http://127.0.0.1:{port}/debian-security\"\n"
        ),
    );
    let out = project.run(&["resolve", "-q"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("does not verify with the Debian archive keyring"),
        "{}",
        text(&out)
    );
    assert!(project.lock_files().is_empty(), "nothing is written");
}

/// A minimal HTTP/1.0 server for `files` (404 for anything else), one connection at a time.
fn serve(listener: &TcpListener, files: &BTreeMap<String, Vec<u8>>) {
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        let mut request = String::new();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        if reader.read_line(&mut request).is_err() {
            continue;
        }
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).map_or(true, |n| n == 0) || header == "\r\n" {
                break;
            }
        }
        let path = request.split_whitespace().nth(1).unwrap_or_default();
        let (status, body) = match files.get(path) {
            Some(body) => ("200 OK", body.as_slice()),
            None => ("404 Not Found", b"not found".as_slice()),
        };
        let head = format!(
            "HTTP/1.0 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let _ = stream.write_all(head.as_bytes());
        let _ = stream.write_all(body);
    }
}

/// apt itself, with its own lists of the same suites, on the base system (what it installs for the
/// essential and required packages on an empty system) installs exactly our closure, same versions.
#[test]
#[ignore = "live: needs deb.debian.org, gpgv and dpkg; scripts/test.sh runs it"]
fn the_closure_is_what_apt_installs_beyond_the_base_system() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for sub in ["lists/partial", "cache/archives/partial", "parts", "prefs"] {
        std::fs::create_dir_all(root.join(sub)).unwrap();
    }
    let sources: String = suites()
        .iter()
        .map(|suite| format!("deb [arch=amd64] {} {} main\n", suite.archive, suite.name))
        .collect();
    std::fs::write(root.join("sources.list"), sources).unwrap();
    std::fs::write(root.join("status"), "").unwrap();
    let options: Vec<String> = [
        ("Dir::Etc::SourceList", root.join("sources.list")),
        ("Dir::Etc::SourceParts", root.join("parts")),
        ("Dir::Etc::PreferencesParts", root.join("prefs")),
        ("Dir::State::Lists", root.join("lists")),
        ("Dir::State::status", root.join("status")),
        ("Dir::Cache", root.join("cache")),
    ]
    .iter()
    .map(|(key, path)| format!("-o{key}={}", path.display()))
    .chain([
        "-oAPT::Architecture=amd64".to_string(),
        "-oDebug::NoLocking=1".to_string(),
        // Plain lists to read the base system's stanzas from (Docker-made hosts compress them).
        "-oAcquire::GzipIndexes=false".to_string(),
    ])
    .collect();
    // One of apt's programs on these lists: its stdout, or a panic with its stderr.
    let run_apt = |program: &str, args: &[&str], names: &[String]| -> String {
        let out = Command::new(program)
            .args(&options)
            .args(args)
            .args(names)
            .output()
            .unwrap_or_else(|error| panic!("run {program}: {error}"));
        assert!(
            out.status.success(),
            "{program}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    run_apt("apt-get", &["update", "-qq"], &[]);
    let simulate = |names: &[String]| -> BTreeMap<String, String> {
        run_apt(
            "apt-get",
            &["install", "-s", "--no-install-recommends"],
            names,
        )
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("Inst ")?;
            let (name, rest) = rest.split_once(" (")?;
            Some((
                name.to_string(),
                rest.split_whitespace().next()?.to_string(),
            ))
        })
        .collect()
    };

    let cache = tempfile::tempdir().unwrap();
    let runtime = runtime();
    let client = ArchiveClient::new(cache.path(), false).unwrap();
    let (requested, lock) = lock_base_packages(&runtime, &client);
    let ours: BTreeMap<String, String> = lock
        .packages
        .iter()
        .map(|p| (p.name.clone(), p.version.clone()))
        .collect();
    let universe = runtime
        .block_on(apt::universe(&client, &suites(), "amd64"))
        .unwrap();
    let stanzas = runtime
        .block_on(client.packages(
            &suites()[0],
            &runtime.block_on(client.release(&suites()[0])).unwrap(),
            "amd64",
        ))
        .unwrap();
    let essential: Vec<String> = stanzas
        .iter()
        .filter(|s| {
            universe
                .candidate(&s.package)
                .is_some_and(|c| c.stanza.essential)
        })
        .map(|s| s.package.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    // The base system as apt installs it on an empty system, then marked installed: the image's start.
    let base = simulate(&essential);
    let mut status = String::new();
    for entry in std::fs::read_dir(root.join("lists")).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.ends_with("_Packages") {
            continue;
        }
        let text = std::fs::read_to_string(entry.path()).unwrap();
        for stanza in text.split("\n\n") {
            let field = |key: &str| {
                stanza
                    .lines()
                    .find_map(|line| line.strip_prefix(key))
                    .map(str::trim)
            };
            if let (Some(package), Some(version)) = (field("Package:"), field("Version:"))
                && base.get(package).is_some_and(|v| v == version)
                && !status.contains(&format!("Package: {package}\n"))
            {
                let (first, rest) = stanza.split_once('\n').unwrap();
                status.push_str(&format!(
                    "{first}\nStatus: install ok installed\n{rest}\n\n"
                ));
            }
        }
    }
    std::fs::write(root.join("status"), &status).unwrap();
    let apt = simulate(&requested);
    assert_eq!(
        apt, ours,
        "apt on the base system installs exactly the locked packages and versions"
    );
    eprintln!(
        "apt installs {} packages on the base system ({} packages): the {} locked",
        apt.len(),
        base.len(),
        ours.len()
    );

    // The lock's dependency edges against `apt-cache depends` on the same lists: every edge is one of
    // the package's Depends or Pre-Depends (directly or as a provider of a virtual name), and every
    // dependency without alternatives that names a locked package is an edge.
    let names: Vec<String> = lock
        .packages
        .iter()
        .filter(|p| p.architecture == "amd64")
        .map(|p| p.name.clone())
        .collect();
    let listing = apt_cache_depends(&run_apt(
        "apt-cache",
        &[
            "depends",
            "--no-recommends",
            "--no-suggests",
            "--no-conflicts",
            "--no-breaks",
            "--no-replaces",
            "--no-enhances",
        ],
        &names,
    ));
    let mut edges = 0;
    for package in lock.packages.iter().filter(|p| p.architecture == "amd64") {
        let groups = listing
            .get(&package.name)
            .unwrap_or_else(|| panic!("apt-cache lists no {}", package.name));
        for target in &package.depends {
            assert!(
                groups
                    .iter()
                    .flatten()
                    .any(|(name, providers)| name == target || providers.contains(target)),
                "{} → {target} is no dependency apt knows: {groups:?}",
                package.name
            );
            edges += 1;
        }
        for group in groups.iter().filter(|group| group.len() == 1) {
            let (name, _) = &group[0];
            if ours.contains_key(name) {
                assert!(
                    package.depends.contains(name),
                    "{} depends on locked {name}, the lock has no edge",
                    package.name
                );
            }
        }
    }
    assert!(edges > 200, "only {edges} edges");
    eprintln!("{edges} dependency edges, each one apt-cache lists");
}

/// Alternatives of one dependency, each with the providers apt lists for it.
type DependencyGroup = Vec<(String, Vec<String>)>;

/// `apt-cache depends` output: package → its dependency groups (alternatives together), each
/// alternative with the providers apt lists under a virtual name.
fn apt_cache_depends(text: &str) -> BTreeMap<String, Vec<DependencyGroup>> {
    let mut listing: BTreeMap<String, Vec<DependencyGroup>> = BTreeMap::new();
    let mut current: Option<String> = None;
    let mut open_group = false;
    for line in text.lines() {
        if !line.starts_with(' ') {
            current = Some(line.trim().to_string());
            listing.entry(line.trim().to_string()).or_default();
            open_group = false;
            continue;
        }
        let Some(package) = &current else { continue };
        let groups = listing.get_mut(package).unwrap();
        let trimmed = line.trim_start();
        let alternative = trimmed.starts_with('|');
        let field = trimmed.trim_start_matches('|');
        if let Some(rest) = field
            .strip_prefix("Depends:")
            .or_else(|| field.strip_prefix("PreDepends:"))
        {
            let name = rest.trim().trim_start_matches('<').trim_end_matches('>');
            let name = name.split(':').next().unwrap_or(name).to_string();
            if open_group {
                groups.last_mut().unwrap().push((name, Vec::new()));
            } else {
                groups.push(vec![(name, Vec::new())]);
            }
            open_group = alternative;
        } else if line.starts_with("    ")
            && let Some(last) = groups.last_mut().and_then(|group| group.last_mut())
        {
            last.1
                .push(trimmed.split(':').next().unwrap_or(trimmed).to_string());
        }
    }
    listing
}

/// The licenses the SBOM gives each Debian package are what python-debian (Debian's own deb822
/// library) reads in the same copyright file: machine-readable or not, and the same `License:` names.
#[test]
#[ignore = "live: needs deb.debian.org and python-debian in the tools venv; scripts/test.sh runs it"]
fn copyright_licenses_are_what_python_debian_reads() {
    let Some(venv) = std::env::var_os("FAVE_LOCK_TEST_VENV") else {
        panic!("FAVE_LOCK_TEST_VENV is not set: run with scripts/test.sh (it has python-debian)");
    };
    let python = Path::new(&venv).join("bin/python");
    let cache = tempfile::tempdir().unwrap();
    let runtime = runtime();
    let client = ArchiveClient::new(cache.path(), false).unwrap();
    let (_, lock) = lock_base_packages(&runtime, &client);
    let lock_path = Path::new("apt.lock");
    let ours = runtime
        .block_on(apt::licenses(&client, &lock, lock_path))
        .unwrap();
    assert_eq!(ours.len(), lock.packages.len(), "one entry per package");

    // Each copyright file as the cache now holds it, for python-debian.
    let texts = tempfile::tempdir().unwrap();
    for deb in &lock.packages {
        let file = runtime
            .block_on(client.copyright(&deb.url(&lock).unwrap(), deb))
            .unwrap();
        if let apt::CopyrightFile::Text(text) = file {
            std::fs::write(texts.path().join(&deb.name), text).unwrap();
        }
    }
    let script = r#"
import json, os, sys, warnings
from debian import copyright
warnings.simplefilter("ignore")
out = {}
for name in sorted(os.listdir(sys.argv[1])):
    with open(os.path.join(sys.argv[1], name), encoding="utf-8", errors="replace") as f:
        try:
            c = copyright.Copyright(f, strict=False)
        except copyright.NotMachineReadableError:
            out[name] = None
            continue
    names = []
    paragraphs = [c.header] + list(c.all_files_paragraphs()) + list(c.all_license_paragraphs())
    for p in paragraphs:
        lic = p.license
        if lic is not None and lic.synopsis and lic.synopsis not in names:
            names.append(lic.synopsis)
    out[name] = sorted(names)
print(json.dumps(out))
"#;
    let out = Command::new(&python)
        .args(["-c", script])
        .arg(texts.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs: BTreeMap<String, Option<Vec<String>>> =
        serde_json::from_slice(&out.stdout).unwrap();
    let mut machine_readable = 0;
    for ((name, _), licenses) in &ours {
        let Some(reading) = theirs.get(name) else {
            // Linked to another package's doc folder, or no file: nothing for python-debian to read.
            assert!(licenses.names.is_empty(), "{name}: {licenses:?}");
            continue;
        };
        let mut names = licenses.names.clone();
        names.sort();
        match reading {
            Some(expected) => {
                assert!(licenses.machine_readable, "{name}: python-debian reads it");
                assert_eq!(&names, expected, "{name}");
                machine_readable += 1;
            }
            None => assert!(
                !licenses.machine_readable,
                "{name}: python-debian refuses it"
            ),
        }
    }
    assert!(
        machine_readable >= 100,
        "only {machine_readable} machine-readable files"
    );
    eprintln!(
        "{machine_readable} of {} copyright files machine-readable, each read as python-debian reads it",
        ours.len()
    );
}

/// A release past its `Valid-Until`, properly signed, is refused when fetched (a mirror replaying an
/// old release hides security updates; exit class integrity, as apt refuses it), unless the suite is a
/// snapshot archive's (`check-valid-until = false`); one still valid is read. Signed here with a key
/// made by gpg for the test, verified by gpgv with that key as the keyring.
#[test]
#[ignore = "tools: needs gpg and gpgv; scripts/test.sh runs it"]
fn an_expired_release_is_refused_unless_valid_until_is_off() {
    let home = tempfile::tempdir().unwrap();
    let gpg = |args: &[&str], input: Option<&[u8]>| -> Vec<u8> {
        let mut child = Command::new("gpg")
            .arg("--homedir")
            .arg(home.path())
            .args([
                "--batch",
                "--quiet",
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                "",
            ])
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run gpg (Debian's gnupg)");
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input.unwrap_or_default()).unwrap();
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "gpg {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    gpg(
        &[
            "--quick-gen-key",
            "fave-lock test <test@example.invalid>",
            "ed25519",
            "sign",
            "never",
        ],
        None,
    );
    let keyring = home.path().join("test-keyring.gpg");
    std::fs::write(&keyring, gpg(&["--export"], None)).unwrap();
    let release = |valid_until: &str| -> Vec<u8> {
        let text = format!(
            "Origin: Debian\nCodename: bookworm-security\nDate: Sat, 01 Jul 2023 00:00:00 UTC\n\
             Valid-Until: {valid_until}\nSHA256:\n {} 10 main/binary-amd64/Packages.xz\n",
            "ab".repeat(32)
        );
        gpg(&["--clearsign"], Some(text.as_bytes()))
    };
    let mut files = BTreeMap::new();
    files.insert(
        "/old/dists/bookworm-security/InRelease".to_string(),
        release("Sat, 08 Jul 2023 00:00:00 UTC"),
    );
    files.insert(
        "/fresh/dists/bookworm-security/InRelease".to_string(),
        release("Fri, 01 Jan 2100 00:00:00 UTC"),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || serve(&listener, &files));
    let suite = |archive: &str, check_valid_until: bool| Suite {
        name: "bookworm-security".to_string(),
        archive: format!("http://127.0.0.1:{port}/{archive}"),
        check_valid_until,
    };
    let cache = tempfile::tempdir().unwrap();
    let client = ArchiveClient::new(cache.path(), false)
        .unwrap()
        .with_keyring(keyring);
    let runtime = runtime();
    let error = runtime
        .block_on(client.release(&suite("old", true)))
        .unwrap_err();
    assert!(error.is_integrity(), "{error}");
    let message = error.to_string();
    assert!(
        message.contains("2023-07-08T00:00:00Z") && message.contains("check-valid-until = false"),
        "{message}"
    );
    let snapshot = runtime
        .block_on(client.release(&suite("old", false)))
        .unwrap();
    assert_eq!(
        snapshot.valid_until,
        Some("2023-07-08T00:00:00Z".parse().unwrap())
    );
    assert!(
        runtime
            .block_on(client.release(&suite("fresh", true)))
            .is_ok()
    );
}
