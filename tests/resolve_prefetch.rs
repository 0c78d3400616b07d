//! Fetching ahead while the solver walks down a package: once a release is rejected, the metadata of the
//! releases the solver would offer next is requested before it asks (issue 16), never an sdist's, and
//! the answer is the one a solver without prefetch gives. Against a local index serving real wheel bytes
//! (`tests/support/index_server.rs`).

mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fave_lock::index::{IndexClient, IndexSettings};
use fave_lock::resolve::{ResolveOptions, Resolver, SdistPolicy, Target};
use fave_lock::tags::{Arch, Platform, PythonVersion};
use support::index_server::{IndexServer, Wheel};

fn metadata(name: &str, version: &str, requires: &[&str]) -> String {
    let mut text = format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n");
    for requirement in requires {
        text.push_str(&format!("Requires-Dist: {requirement}\n"));
    }
    text
}

fn release(name: &str, version: &str, requires: &[&str]) -> Wheel {
    Wheel::posing_as(
        &format!("{name}-{version}-py3-none-any.whl"),
        &metadata(name, version, requires),
    )
    .upload_time("2024-01-01T00:00:00Z")
}

/// An sdist-only release whose PKG-INFO is PEP 643 static: its metadata needs no build (its setup.py
/// refuses one).
fn static_sdist(name: &str, version: &str, requires: &[&str]) -> Wheel {
    let pkg_info =
        metadata(name, version, requires).replace("Metadata-Version: 2.1", "Metadata-Version: 2.2");
    Wheel::sdist(
        &format!("{name}-{version}.tar.gz"),
        &[
            ("PKG-INFO", pkg_info.as_str()),
            ("setup.py", "raise SystemExit('no build expected')\n"),
        ],
    )
    .upload_time("2024-01-01T00:00:00Z")
}

fn target() -> Target {
    let python = PythonVersion {
        major: 3,
        minor: 11,
    };
    Target::new(
        "linux/amd64",
        python,
        Platform::new(Arch::X86_64, (2, 36)).unwrap(),
    )
}

/// A resolver on `server` for [`target`], sdists allowed, caching under `cache`.
fn resolver(server: &IndexServer, cache: &Path) -> Resolver {
    let client = IndexClient::new(IndexSettings {
        index_url: server.url(),
        cache_dir: cache.to_path_buf(),
        concurrency: 4,
        ..IndexSettings::default()
    })
    .unwrap();
    let options = ResolveOptions {
        allow_sdist: SdistPolicy::all(),
        ..ResolveOptions::default()
    };
    Resolver::new(Arc::new(client), vec![target()], options)
}

/// The wheels whose METADATA the server was asked for (a range read of the wheel, as the index lists
/// no `.metadata` files), by path.
fn metadata_requests(server: &IndexServer) -> Vec<String> {
    server
        .requests()
        .into_iter()
        .filter(|request| request.range.is_some() && request.path.ends_with(".whl"))
        .map(|request| request.path)
        .collect()
}

/// `top` 1.9 needs `pin==2` while the input pins `pin==1`, so the solver rejects 1.9 and settles on 1.8.
/// Rejecting 1.9 makes it fetch ahead: 1.7, 1.5 and 1.4 (and, through the crawl, 1.5's dependency), none
/// of which the solver itself asks about; 1.6 is an sdist only and is neither fetched nor built.
#[test]
fn a_rejected_release_makes_the_next_ones_be_fetched_ahead_but_never_an_sdist() {
    let mut builder = IndexServer::builder()
        .wheel(release("pin", "1", &[]))
        .wheel(release("pin", "2", &[]))
        .wheel(release("later", "3", &[]))
        .wheel(release("top", "1.9", &["pin==2"]))
        .wheel(release("top", "1.8", &[]))
        .wheel(release("top", "1.7", &[]))
        .wheel(
            Wheel::sdist(
                "top-1.6.tar.gz",
                &[("setup.py", "raise SystemExit('no build expected')\n")],
            )
            .upload_time("2024-01-01T00:00:00Z"),
        )
        .wheel(release("top", "1.5", &["later"]));
    for version in ["1.4", "1.3", "1.2"] {
        builder = builder.wheel(release("top", version, &[]));
    }
    let server = builder.start();
    let cache = tempfile::tempdir().unwrap();
    let input = fave_lock::requirements::parse_str("pin==1\ntop\n", Path::new("r.in")).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let resolution = runtime
        .block_on(resolver(&server, cache.path()).resolve(&input))
        .unwrap();
    let chosen: Vec<String> = resolution.targets[0]
        .packages
        .values()
        .map(|package| format!("{}=={}", package.name, package.version))
        .collect();
    assert_eq!(chosen, ["pin==1", "top==1.8"]);

    // The fetches ahead run in the background: wait for them (they are not needed for the answer).
    let expected = [
        "/files/top-1.7-py3-none-any.whl",
        "/files/top-1.5-py3-none-any.whl",
        "/files/top-1.4-py3-none-any.whl",
        "/files/later-3-py3-none-any.whl",
    ];
    let give_up = Instant::now() + Duration::from_secs(60);
    while !expected
        .iter()
        .all(|path| metadata_requests(&server).iter().any(|seen| seen == path))
    {
        assert!(
            Instant::now() < give_up,
            "fetched ahead: {:?}",
            metadata_requests(&server)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let requested = metadata_requests(&server);
    // The window is the next four usable releases: 1.3 is past it.
    for never in ["top-1.3", "top-1.2", "top-1.6"] {
        assert!(
            !requested.iter().any(|path| path.contains(never)),
            "{never} in {requested:?}"
        );
    }
    assert!(
        !server
            .requests()
            .iter()
            .any(|request| request.path.contains("top-1.6.tar.gz")),
        "the sdist is never fetched speculatively: {:?}",
        server.requests()
    );
}

/// A diagnosis warms each fix's requirement before checking it: the release the requirement picks is
/// fetched with no resolve asked for, its dependencies crawled, and an sdist release (which a guess never
/// touches) is fetched too, since the check that follows will need its metadata. Here its PKG-INFO is
/// PEP 643 static, so the metadata comes without a build.
#[test]
fn warming_a_requirement_fetches_its_release_even_an_sdist_and_its_dependencies() {
    let server = IndexServer::builder()
        .wheel(release("top", "1.0", &["later"]))
        .wheel(release("top", "2.0", &[]))
        .wheel(release("later", "3", &[]))
        .wheel(static_sdist("solo", "1.0", &["later"]))
        .start();
    let cache = tempfile::tempdir().unwrap();
    let resolver = resolver(&server, cache.path());
    let seen = |path: &str| server.requests().iter().any(|request| request.path == path);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        for line in ["top==1.0", "solo"] {
            resolver.warm(&line.parse().unwrap());
        }
        let expected = [
            "/files/top-1.0-py3-none-any.whl",
            "/files/later-3-py3-none-any.whl",
            "/files/solo-1.0.tar.gz",
        ];
        let give_up = Instant::now() + Duration::from_secs(60);
        while !expected.iter().all(|path| seen(path)) {
            assert!(Instant::now() < give_up, "warmed: {:?}", server.requests());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    // Only the release the requirement picks: not the newer one `top==1.0` excludes.
    assert!(
        !seen("/files/top-2.0-py3-none-any.whl"),
        "{:?}",
        server.requests()
    );
}

/// A crawl that meets a dependency's release only an sdist gives never builds it, but a build is then
/// likely: the environment most builds use (setuptools' legacy default, `setuptools>=40.8.0`) is made
/// ahead. Here no build follows at all (the sdist's PKG-INFO is PEP 643 static), so the ready environment
/// in the cache can only come from that preparation. The local index's "setuptools" is a wheel posing as
/// it.
#[test]
#[ignore = "python: makes a venv with CPython 3.11; scripts/test.sh runs it"]
fn meeting_an_sdist_prepares_the_common_build_environment_ahead() {
    let server = IndexServer::builder()
        .wheel(release("setuptools", "80.0", &[]))
        .wheel(release("top", "1", &["solo"]))
        .wheel(static_sdist("solo", "1.0", &[]))
        .start();
    let cache = tempfile::tempdir().unwrap();
    let input = fave_lock::requirements::parse_str("top\n", Path::new("r.in")).unwrap();
    let envs = cache.path().join("sdist-metadata-v1/envs");
    let ready = || {
        std::fs::read_dir(&envs).into_iter().flatten().any(|entry| {
            std::fs::read_to_string(entry.unwrap().path().join("fave-lock-ready"))
                .is_ok_and(|requirements| requirements == "setuptools>=40.8.0")
        })
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let resolution = resolver(&server, cache.path())
            .resolve(&input)
            .await
            .unwrap();
        assert_eq!(resolution.targets[0].packages.len(), 2);
        let give_up = Instant::now() + Duration::from_secs(120);
        while !ready() {
            assert!(Instant::now() < give_up, "no environment in {envs:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    // No build ran: the metadata came from the PKG-INFO.
    let built = std::fs::read_dir(cache.path().join("sdist-metadata-v1"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".metadata"))
        .count();
    assert_eq!(built, 0);
}

/// An input line's best release (for a pin, its only one) is fetched from the start, an sdist's
/// included, rather than when the solver reaches it: here the solver never does (it decides `aaa` first,
/// being pinned, and fails there), and both sdists are fetched all the same. A dependency's sdist
/// (`deep`, which `top` needs) stays a guess that is never touched.
#[test]
fn input_lines_have_their_best_release_fetched_from_the_start_even_an_sdist() {
    let server = IndexServer::builder()
        .wheel(release("aaa", "1", &[]))
        .wheel(static_sdist("solo", "1.0", &[]))
        .wheel(static_sdist("later", "3", &[]))
        .wheel(release("top", "1", &["deep"]))
        .wheel(static_sdist("deep", "2", &[]))
        .start();
    let cache = tempfile::tempdir().unwrap();
    let input = fave_lock::requirements::parse_str(
        "aaa==99\nsolo==1.0\nlater>=2\ntop\n",
        Path::new("r.in"),
    )
    .unwrap();
    let seen = |path: &str| server.requests().iter().any(|request| request.path == path);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let failed = resolver(&server, cache.path()).resolve(&input).await;
        assert!(failed.is_err(), "aaa 99 does not exist");
        let give_up = Instant::now() + Duration::from_secs(60);
        let expected = [
            "/files/solo-1.0.tar.gz",
            "/files/later-3.tar.gz",
            "/files/top-1-py3-none-any.whl",
        ];
        while !expected.iter().all(|path| seen(path)) {
            assert!(Instant::now() < give_up, "{:?}", server.requests());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    assert!(!seen("/files/deep-2.tar.gz"), "{:?}", server.requests());
}
