//! The index client against a local index serving real wheels (`tests/support/index_server.rs`), and once
//! against live PyPI.

mod support;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use fave_lock::index::{
    CoreMetadata, DistFile, IndexClient, IndexError, IndexSettings, PartialError, PartialWheel,
    ProjectPage, ProjectResponse,
};
use pep508_rs::PackageName;
use support::index_server::{
    IndexServer, IndexServerBuilder, PageFormat, RangeLie, Wheel, client_settings as settings,
};

const SIX: &str = "six-1.16.0-py2.py3-none-any.whl";
const SIX_SHA256: &str = "8abb2f1d86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e0254";
/// 70 KB: bigger than the client's first 64 KiB range read.
const IDNA: &str = "idna-3.10-py3-none-any.whl";
const PACKAGING: &str = "packaging-24.2-py3-none-any.whl";

fn client(server: &IndexServer, cache_dir: &Path) -> IndexClient {
    IndexClient::new(settings(&server.url(), cache_dir)).unwrap()
}

fn name(name: &str) -> PackageName {
    PackageName::from_str(name).unwrap()
}

async fn page(client: &IndexClient, project: &str) -> Arc<ProjectPage> {
    match client.project(&name(project)).await.unwrap() {
        ProjectResponse::Found(page) => page,
        ProjectResponse::NotFound => panic!("`{project}` not found"),
    }
}

fn file(page: &ProjectPage, filename: &str) -> DistFile {
    page.files
        .iter()
        .find(|file| file.filename() == filename)
        .unwrap()
        .to_dist_file()
}

fn counter(client: &IndexClient) -> (u64, u64) {
    let stats = &client.stats;
    (
        stats.requests.load(Ordering::Relaxed),
        stats.cache_hits.load(Ordering::Relaxed),
    )
}

/// The paths the server saw, in order.
/// Each request's path, `Range` header and status, in order.
fn path_range_status(server: &IndexServer) -> Vec<(String, Option<String>, u16)> {
    server
        .requests()
        .into_iter()
        .map(|request| (request.path, request.range, request.status))
        .collect()
}

fn paths(server: &IndexServer) -> Vec<String> {
    server
        .requests()
        .into_iter()
        .map(|request| request.path)
        .collect()
}

fn assert_packaging(metadata: &CoreMetadata) {
    assert_eq!(metadata.name, "packaging");
    assert_eq!(metadata.version, "24.2");
    assert_eq!(metadata.requires_python.as_deref(), Some(">=3.8"));
    assert_eq!(metadata.classifiers.len(), 16);
}

#[tokio::test]
async fn json_page_lists_every_field() {
    let server = IndexServer::builder()
        .wheel(
            Wheel::fixture(SIX)
                .upload_time("2021-05-05T14:18:17.123456Z")
                .requires_python(">=2.7, !=3.0.*"),
        )
        .wheel(Wheel::fixture(IDNA).yanked("").advertise_metadata())
        .start();
    let cache = tempfile::tempdir().unwrap();
    let client = client(&server, cache.path());
    let six = page(&client, "six").await;
    assert_eq!(six.name, name("six"));
    assert_eq!(
        six.files.to_dist_files(),
        [DistFile {
            filename: SIX.to_string(),
            url: server.file_url(SIX),
            sha256: Some(SIX_SHA256.to_string()),
            size: Some(11053),
            upload_time: Some("2021-05-05T14:18:17.123456Z".parse().unwrap()),
            requires_python: Some(">=2.7, !=3.0.*".to_string()),
            yanked: None,
            core_metadata: false,
        }]
    );
    let idna = page(&client, "IDNA").await;
    assert_eq!(
        idna.files.get(0).unwrap().to_dist_file().yanked.as_deref(),
        Some("")
    );
    assert!(idna.files.get(0).unwrap().to_dist_file().core_metadata);
    let requests = server.requests();
    assert_eq!(paths(&server), ["/simple/six/", "/simple/idna/"]);
    assert_eq!(
        requests[0].accept.as_deref(),
        Some("application/vnd.pypi.simple.v1+json, text/html;q=0.1")
    );
}

#[tokio::test]
async fn html_pages_are_read_when_json_is_not_offered() {
    let server = IndexServer::builder()
        .wheel(
            Wheel::fixture(IDNA)
                .yanked("bad <release> & more")
                .requires_python(">=3.6"),
        )
        .wheel(Wheel::fixture(SIX).yanked(""))
        .format(PageFormat::Html)
        .start();
    let cache = tempfile::tempdir().unwrap();
    let client = client(&server, cache.path());
    let idna = page(&client, "idna").await;
    let entry = file(&idna, IDNA);
    assert_eq!(entry.url, server.file_url(IDNA));
    assert_eq!(entry.requires_python.as_deref(), Some(">=3.6"));
    assert_eq!(entry.yanked.as_deref(), Some("bad <release> & more"));
    assert_eq!(
        entry.sha256.as_deref(),
        Some("946d195a0d259cbba61165e88e65941f16e9b36ea6ddb97f00452bae8b1287d3")
    );
    assert_eq!(entry.size, None);
    assert_eq!(
        file(&*page(&client, "six").await, SIX).yanked.as_deref(),
        Some("")
    );
    // The HTML page's metadata is read like any other.
    let metadata = client.metadata(&entry).await.unwrap();
    assert_eq!(
        (metadata.name.as_str(), metadata.version.as_str()),
        ("idna", "3.10")
    );
}

#[tokio::test]
async fn metadata_comes_from_the_pep_658_file_the_page_advertises() {
    let server = IndexServer::builder()
        .wheel(Wheel::fixture(SIX).advertise_metadata())
        .start();
    let cache = tempfile::tempdir().unwrap();
    let client = client(&server, cache.path());
    let six = page(&client, "six").await;
    server.clear_requests();
    let metadata = client
        .metadata(&six.files.get(0).unwrap().to_dist_file())
        .await
        .unwrap();
    assert_eq!(metadata.name, "six");
    assert_eq!(metadata.version, "1.16.0");
    assert_eq!(
        metadata.requires_python.as_deref(),
        Some(">=2.7, !=3.0.*, !=3.1.*, !=3.2.*")
    );
    assert_eq!(metadata.license.as_deref(), Some("MIT"));
    assert!(metadata.requires_dist.is_empty());
    // Advertised on the page: that file, and nothing else fetched.
    assert!(six.files.get(0).unwrap().to_dist_file().core_metadata);
    assert_eq!(paths(&server), [format!("/files/{SIX}.metadata")]);
}

/// PyPI as served here lists no `core-metadata` yet serves most `.metadata` files, slowly when its CDN
/// has not cached them and with a 404 for recent uploads; a suffix range of the wheel answers at once.
/// So, whether or not the server has the file, an unadvertised `.metadata` file is not asked for while
/// the server answers ranges.
#[tokio::test]
async fn metadata_comes_from_range_reads_when_the_page_advertises_no_metadata_file() {
    for serve_metadata_files in [false, true] {
        let server = IndexServer::builder()
            .wheel(Wheel::fixture(IDNA))
            .metadata_files(serve_metadata_files)
            .start();
        let cache = tempfile::tempdir().unwrap();
        let client = client(&server, cache.path());
        let idna = page(&client, "idna").await;
        assert!(!idna.files.get(0).unwrap().to_dist_file().core_metadata);
        server.clear_requests();
        let bytes_before = client.stats.bytes.load(Ordering::Relaxed);
        let metadata = client
            .metadata(&idna.files.get(0).unwrap().to_dist_file())
            .await
            .unwrap();
        assert_eq!(
            (metadata.name.as_str(), metadata.version.as_str()),
            ("idna", "3.10")
        );
        assert_eq!(metadata.requires_python.as_deref(), Some(">=3.6"));
        assert_eq!(metadata.requires_dist.len(), 4);
        assert_eq!(
            metadata.requires_dist[0],
            "ruff >= 0.6.2 ; extra == \"all\""
        );
        assert_eq!(metadata.provides_extra, ["all"]);
        // One suffix range holds directory and METADATA: idna's 70 KB wheel is small enough to be
        // read whole (larger wheels get a 64 KiB tail first; see `range_tests.rs`).
        let size = idna.files.get(0).unwrap().to_dist_file().size.unwrap();
        assert_eq!(
            path_range_status(&server),
            [(
                format!("/files/{IDNA}"),
                Some(format!("bytes=-{size}")),
                206
            )]
        );
        assert_eq!(
            client.stats.bytes.load(Ordering::Relaxed) - bytes_before,
            size
        );
    }
}

/// A small wheel is read whole by the first range request: its METADATA may sit at the start of the
/// zip (pdm-backend writes it first), where a 64 KiB tail would need a second round trip.
#[tokio::test]
async fn a_small_wheel_is_read_whole_in_one_request() {
    let padding = vec![b'x'; 150 << 10];
    let wheel = Wheel::posing_as_with(
        "early-1.0-py3-none-any.whl",
        "Metadata-Version: 2.1\nName: early\nVersion: 1.0\nRequires-Dist: six\n",
        &[("early/data.bin", &padding)],
    );
    let size = wheel.bytes.len();
    let server = IndexServer::builder().wheel(wheel).start();
    let cache = tempfile::tempdir().unwrap();
    let client = client(&server, cache.path());
    let early = page(&client, "early").await;
    server.clear_requests();
    let metadata = client
        .metadata(&early.files.get(0).unwrap().to_dist_file())
        .await
        .unwrap();
    assert_eq!(metadata.requires_dist, ["six"]);
    assert_eq!(
        path_range_status(&server),
        [(
            "/files/early-1.0-py3-none-any.whl".to_string(),
            Some(format!("bytes=-{size}")),
            206
        )]
    );
}

/// Without ranges, an unadvertised `.metadata` file is worth one request before the whole wheel.
#[tokio::test]
async fn without_ranges_metadata_comes_from_the_metadata_file_or_a_full_download() {
    let wheel = format!("/files/{PACKAGING}");
    let suffix = Some("bytes=-65536".to_string());
    for serve_metadata_files in [false, true] {
        let server = IndexServer::builder()
            .wheel(Wheel::fixture(PACKAGING))
            .metadata_files(serve_metadata_files)
            .ranges(false)
            .start();
        let cache = tempfile::tempdir().unwrap();
        let client = client(&server, cache.path());
        let packaging = page(&client, "packaging").await;
        server.clear_requests();
        assert_packaging(
            &client
                .metadata(&packaging.files.get(0).unwrap().to_dist_file())
                .await
                .unwrap(),
        );
        let metadata_file = (format!("{wheel}.metadata"), None, 404);
        let expected = if serve_metadata_files {
            vec![
                (wheel.clone(), suffix.clone(), 200),
                (metadata_file.0, None, 200),
            ]
        } else {
            vec![
                (wheel.clone(), suffix.clone(), 200),
                metadata_file,
                (wheel.clone(), None, 200),
            ]
        };
        assert_eq!(path_range_status(&server), expected);
        // The temporary download is gone.
        let downloads = cache.path().join("downloads");
        assert_eq!(std::fs::read_dir(downloads).map_or(0, |dir| dir.count()), 0);
    }
}

#[tokio::test]
async fn a_full_download_with_another_hash_is_refused() {
    let listed = "0".repeat(64);
    let server = IndexServer::builder()
        .wheel(Wheel::fixture(SIX).sha256(&listed))
        .metadata_files(false)
        .ranges(false)
        .start();
    let cache = tempfile::tempdir().unwrap();
    let client = client(&server, cache.path());
    let six = page(&client, "six").await;
    match client
        .metadata(&six.files.get(0).unwrap().to_dist_file())
        .await
    {
        Err(IndexError::HashMismatch {
            expected, actual, ..
        }) => {
            assert_eq!(
                (expected.as_str(), actual.as_str()),
                (listed.as_str(), SIX_SHA256)
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn damaged_wheels_are_errors() {
    let bytes = std::fs::read(fixture(PACKAGING)).unwrap();
    let truncated = Wheel::from_bytes(
        "broken-1.0-py3-none-any.whl",
        bytes[..40_000].to_vec(),
        Vec::new(),
    );
    let server = IndexServer::builder()
        .wheel(truncated)
        .metadata_files(false)
        .start();
    let cache = tempfile::tempdir().unwrap();
    let client = client(&server, cache.path());
    let broken = page(&client, "broken").await;
    let error = client
        .metadata(&broken.files.get(0).unwrap().to_dist_file())
        .await
        .unwrap_err();
    assert!(matches!(error, IndexError::Malformed { .. }), "{error:?}");
}

/// `u32` at `at`, little-endian, as zip records store it.
fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())
}

/// Where a zip's central directory starts (the EOCD record's field): the entries lie before it.
fn directory_offset(bytes: &[u8]) -> u64 {
    let end_record = (0..bytes.len() - 21)
        .rev()
        .find(|&at| u32_at(bytes, at) == 0x0605_4b50)
        .unwrap();
    u64::from(u32_at(bytes, end_record + 16))
}

/// The name of the zip's first entry, from its local header at offset 0.
fn first_entry_name(bytes: &[u8]) -> String {
    let name_len = usize::from(u16::from_le_bytes([bytes[26], bytes[27]]));
    String::from_utf8(bytes[30..30 + name_len].to_vec()).unwrap()
}

/// A partial copy of idna's wheel (the entries `wanted` picks) from a server `configure` sets up,
/// with the server for its log and the folder the copy is in.
async fn idna_entries(
    configure: impl FnOnce(IndexServerBuilder) -> IndexServerBuilder,
    wanted: &(dyn Fn(&str) -> bool + Sync),
) -> (
    Result<PartialWheel, PartialError>,
    IndexServer,
    tempfile::TempDir,
) {
    let server = configure(IndexServer::builder().wheel(Wheel::fixture(IDNA))).start();
    let cache = tempfile::tempdir().unwrap();
    let client = client(&server, cache.path());
    let idna = page(&client, "idna").await;
    server.clear_requests();
    let copy = client
        .fetch_entries(
            &idna.files.get(0).unwrap().to_dist_file(),
            &cache.path().join("partial"),
            wanted,
        )
        .await;
    (copy, server, cache)
}

#[tokio::test]
async fn chosen_entries_come_by_ranges_into_a_sparse_copy_at_their_offsets() {
    let bytes = std::fs::read(fixture(IDNA)).unwrap();
    let len = bytes.len() as u64;
    // Every entry: the copy is the wheel, byte for byte.
    let (copy, server, _dir) = idna_entries(|server| server, &|_| true).await;
    let copy = copy.unwrap();
    assert_eq!(std::fs::read(copy.file.path()).unwrap(), bytes);
    assert_eq!((copy.len, copy.fetched), (len, server.bytes_served(IDNA)));
    assert!(
        server
            .requests()
            .iter()
            .all(|request| request.status == 206)
    );

    // The first entry only: the tail read (idna's directory) and that entry's bytes, the rest holes.
    let first = first_entry_name(&bytes);
    let (copy, server, _dir) = idna_entries(|server| server, &|name| name == first).await;
    let copy = copy.unwrap();
    let copied = std::fs::read(copy.file.path()).unwrap();
    assert_eq!(copied.len(), bytes.len());
    let tail = bytes.len() - 65536;
    assert_eq!(copied[tail..], bytes[tail..]);
    assert!(copied[..tail] != bytes[..tail]);
    // The entry (its header, name and first data bytes) is where the wheel has it.
    assert_eq!(copied[..200], bytes[..200]);
    assert_eq!(copy.fetched, server.bytes_served(IDNA));
    assert!(copy.fetched < len, "{} of {len} bytes", copy.fetched);
    let ranges: Vec<Option<String>> = server.requests().into_iter().map(|r| r.range).collect();
    assert_eq!(ranges.len(), 2, "{ranges:?}");
    assert_eq!(ranges[0].as_deref(), Some("bytes=-65536"));
    assert!(ranges[1].as_deref().unwrap().starts_with("bytes=0-"));
}

#[tokio::test]
async fn ranges_refused_or_lied_about_are_typed_errors() {
    let bytes = std::fs::read(fixture(IDNA)).unwrap();
    let len = bytes.len() as u64;
    // The tail read's first byte: before it lie the first Python files, read from offset 0 on.
    let entries = len - 65536;
    assert!(entries < directory_offset(&bytes));
    let is_python = |name: &str| name.ends_with(".py");
    let (copy, _server, _dir) = idna_entries(|server| server.ranges(false), &is_python).await;
    assert!(
        matches!(copy, Err(PartialError::Unsupported { .. })),
        "{copy:?}"
    );
    // Each lie, told to every range (the directory's reads first) or to the entries' reads only.
    for before in [len, entries] {
        for lie in RangeLie::ALL {
            let case = format!("{lie:?} before byte {before}");
            let (copy, server, _dir) =
                idna_entries(|server| server.lie_to_ranges(lie, before), &is_python).await;
            match (lie, copy) {
                (RangeLie::WholeFile, Err(PartialError::Unsupported { .. })) => {}
                (
                    RangeLie::ShiftedContentRange | RangeLie::ShortBody,
                    Err(PartialError::Index(IndexError::Malformed { .. })),
                ) => {}
                // Wrong bytes under right headers: the directory does not parse...
                (RangeLie::ShiftedBody, Err(PartialError::Zip { .. })) if before == len => {}
                // ...but an entry's bytes cannot be told from the real ones without the wheel's
                // hash: the copy is advisory, and its reader finds the local headers misplaced.
                (RangeLie::ShiftedBody, Ok(copy)) if before == entries => {
                    let copied = std::fs::read(copy.file.path()).unwrap();
                    assert!(copied[..200] == bytes[1..=200], "{case}");
                }
                (_, other) => panic!("{case}: {other:?}"),
            }
            // A lie is not retried: the tail read and the one for the entries, at most the file's
            // length each.
            assert!(server.requests().len() <= 2, "{case}");
            assert!(server.bytes_served(IDNA) <= 2 * len, "{case}");
        }
    }
}

#[tokio::test]
async fn a_missing_project_is_not_found() {
    let server = IndexServer::builder().wheel(Wheel::fixture(SIX)).start();
    let cache = tempfile::tempdir().unwrap();
    let client = client(&server, cache.path());
    assert!(matches!(
        client.project(&name("nope")).await.unwrap(),
        ProjectResponse::NotFound
    ));
    assert_eq!(counter(&client), (1, 0));
}

#[tokio::test]
async fn transient_failures_are_retried_and_client_errors_are_not() {
    // Advertised, so the metadata below is asked for as a `.metadata` file first.
    let server = IndexServer::builder()
        .wheel(Wheel::fixture(SIX).advertise_metadata())
        .start();
    let cache = tempfile::tempdir().unwrap();
    let client = client(&server, cache.path());
    server.fail_next(1, 503);
    page(&client, "six").await;
    assert_eq!(client.stats.retries.load(Ordering::Relaxed), 1);
    assert_eq!(
        server
            .requests()
            .iter()
            .map(|request| request.status)
            .collect::<Vec<_>>(),
        [503, 200]
    );

    // A connection closed without an answer is retried too.
    server.clear_requests();
    server.drop_next(2);
    let fresh = IndexClient::new(IndexSettings {
        refresh: true,
        ..settings(&server.url(), cache.path())
    })
    .unwrap();
    page(&fresh, "six").await;
    assert_eq!(fresh.stats.retries.load(Ordering::Relaxed), 2);
    let statuses: Vec<u16> = server
        .requests()
        .iter()
        .map(|request| request.status)
        .collect();
    assert_eq!(statuses, [0, 0, 200]);

    server.clear_requests();
    server.fail_next(1, 403);
    let six = page(&client, "six").await; // from the cache
    let error = client
        .metadata(&six.files.get(0).unwrap().to_dist_file())
        .await;
    // A 4xx on the `.metadata` file just means "no such file": the client moves on to range reads.
    assert_eq!(error.unwrap().name, "six");

    let client = IndexClient::new(IndexSettings {
        refresh: true,
        ..settings(&server.url(), cache.path())
    })
    .unwrap();
    server.clear_requests();
    server.fail_next(1, 403);
    let error = client.project(&name("six")).await.unwrap_err();
    assert!(
        matches!(error, IndexError::Status { status: 403, .. }),
        "{error:?}"
    );
    assert_eq!(server.requests().len(), 1);

    server.fail_next(4, 503);
    let started = Instant::now();
    let error = client.project(&name("six")).await.unwrap_err();
    assert!(
        matches!(error, IndexError::Status { status: 503, .. }),
        "{error:?}"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(700),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn pages_and_metadata_are_cached() {
    let server = IndexServer::builder().wheel(Wheel::fixture(SIX)).start();
    let cache = tempfile::tempdir().unwrap();
    let client = client(&server, cache.path());
    let first = page(&client, "six").await;
    client
        .metadata(&first.files.get(0).unwrap().to_dist_file())
        .await
        .unwrap();
    assert_eq!(counter(&client), (2, 0));
    let second = page(&client, "six").await;
    client
        .metadata(&second.files.get(0).unwrap().to_dist_file())
        .await
        .unwrap();
    assert_eq!(counter(&client), (2, 2));
    assert_eq!(first, second);

    // Another client (another run) with the same cache folder.
    let again = self::client(&server, cache.path());
    page(&again, "six").await;
    assert_eq!(counter(&again), (0, 1));

    // `refresh` fetches the page again, but metadata stays cached.
    let refresh = IndexClient::new(IndexSettings {
        refresh: true,
        ..settings(&server.url(), cache.path())
    })
    .unwrap();
    refresh
        .metadata(
            &page(&refresh, "six")
                .await
                .files
                .get(0)
                .unwrap()
                .to_dist_file(),
        )
        .await
        .unwrap();
    assert_eq!(counter(&refresh), (1, 1));

    // A stale page is fetched again, and sees the index's news.
    server.yank(SIX, Some("oops"));
    let stale = IndexClient::new(IndexSettings {
        page_ttl: Duration::ZERO,
        ..settings(&server.url(), cache.path())
    })
    .unwrap();
    assert_eq!(
        page(&stale, "six")
            .await
            .files
            .get(0)
            .unwrap()
            .to_dist_file()
            .yanked
            .as_deref(),
        Some("oops")
    );
    assert_eq!(counter(&stale), (1, 0));
}

#[tokio::test]
async fn offline_answers_from_the_cache_or_fails() {
    let server = IndexServer::builder()
        .wheel(Wheel::fixture(SIX))
        .wheel(Wheel::fixture(IDNA))
        .start();
    let cache = tempfile::tempdir().unwrap();
    let online = client(&server, cache.path());
    let six = page(&online, "six").await;
    online
        .metadata(&six.files.get(0).unwrap().to_dist_file())
        .await
        .unwrap();
    server.clear_requests();

    let offline = IndexClient::new(IndexSettings {
        offline: true,
        page_ttl: Duration::ZERO, // any age will do offline
        ..settings(&server.url(), cache.path())
    })
    .unwrap();
    assert_eq!(page(&offline, "six").await, six);
    assert_eq!(
        offline
            .metadata(&six.files.get(0).unwrap().to_dist_file())
            .await
            .unwrap()
            .name,
        "six"
    );
    let error = offline.project(&name("idna")).await.unwrap_err();
    assert!(
        matches!(&error, IndexError::Offline { what } if what.contains("`idna`")),
        "{error:?}"
    );
    let mut idna = six.files.get(0).unwrap().to_dist_file();
    idna.url = server.file_url(IDNA);
    assert!(matches!(
        offline.metadata(&idna).await,
        Err(IndexError::Offline { .. })
    ));
    assert!(server.requests().is_empty());
    assert_eq!(counter(&offline), (0, 2));
}

#[tokio::test]
async fn corrupt_cache_entries_are_misses() {
    let server = IndexServer::builder().wheel(Wheel::fixture(SIX)).start();
    let cache = tempfile::tempdir().unwrap();
    let first = client(&server, cache.path());
    let six = page(&first, "six").await;
    first
        .metadata(&six.files.get(0).unwrap().to_dist_file())
        .await
        .unwrap();
    let entries = files_under(cache.path());
    assert_eq!(entries.len(), 2, "{entries:?}");
    for (index, entry) in entries.iter().enumerate() {
        let garbage: &[u8] = if index == 0 {
            b"{\"index_url\": \"truncat"
        } else {
            b"\xff\xfe\x00"
        };
        std::fs::write(entry, garbage).unwrap();
    }
    let second = client(&server, cache.path());
    assert_eq!(page(&second, "six").await, six);
    assert_eq!(
        second
            .metadata(&six.files.get(0).unwrap().to_dist_file())
            .await
            .unwrap()
            .name,
        "six"
    );
    assert_eq!(counter(&second), (2, 0));
    // The entries were rewritten whole.
    let third = client(&server, cache.path());
    page(&third, "six").await;
    third
        .metadata(&six.files.get(0).unwrap().to_dist_file())
        .await
        .unwrap();
    assert_eq!(counter(&third), (0, 2));
}

#[tokio::test]
async fn concurrent_requests_share_one_client() {
    let server = IndexServer::builder()
        .wheel(Wheel::fixture(SIX))
        .wheel(Wheel::fixture(IDNA))
        .wheel(Wheel::fixture(PACKAGING))
        .metadata_files(false)
        .start();
    let cache = tempfile::tempdir().unwrap();
    let client = Arc::new(
        IndexClient::new(IndexSettings {
            concurrency: 2,
            ..settings(&server.url(), cache.path())
        })
        .unwrap(),
    );
    let tasks: Vec<_> = ["six", "idna", "packaging"]
        .into_iter()
        .map(|project| {
            let client = client.clone();
            tokio::spawn(async move {
                let page = page(&client, project).await;
                client
                    .metadata(&page.files.get(0).unwrap().to_dist_file())
                    .await
                    .unwrap()
                    .name
                    .clone()
            })
        })
        .collect();
    let mut names = Vec::new();
    for task in tasks {
        names.push(task.await.unwrap());
    }
    assert_eq!(names, ["six", "idna", "packaging"]);
}

/// Live PyPI: `six`'s page and the metadata of its 1.16.0 wheel. Set `FAVE_LOCK_NO_NETWORK` to skip.
#[tokio::test]
#[ignore = "live: needs PyPI; scripts/test.sh runs it"]
async fn live_pypi_six() {
    if std::env::var_os("FAVE_LOCK_NO_NETWORK").is_some() {
        return;
    }
    let cache = tempfile::tempdir().unwrap();
    let client = IndexClient::new(settings("https://pypi.org/simple", cache.path())).unwrap();
    let six = page(&client, "six").await;
    let wheel = file(&six, SIX);
    assert_eq!(wheel.sha256.as_deref(), Some(SIX_SHA256));
    assert_eq!(wheel.size, Some(11053));
    assert!(
        wheel
            .url
            .starts_with("https://files.pythonhosted.org/packages/")
    );
    assert!(wheel.upload_time.is_some());
    let metadata = client.metadata(&wheel).await.unwrap();
    assert_eq!(metadata.name, "six");
    assert_eq!(metadata.version, "1.16.0");
    assert_eq!(
        metadata.requires_python.as_deref(),
        Some(">=2.7, !=3.0.*, !=3.1.*, !=3.2.*")
    );
    assert!(
        metadata
            .classifiers
            .iter()
            .any(|classifier| classifier == "License :: OSI Approved :: MIT License")
    );
}

/// Cold and warm `project("numpy")` against PyPI. Run with
/// `cargo test --release --test index measure_numpy -- --ignored --nocapture`.
#[tokio::test]
#[ignore = "measure: times numpy's page from PyPI, cold and warm; scripts/test.sh skips measure_*"]
async fn measure_numpy() {
    let cache = tempfile::tempdir().unwrap();
    let settings = settings("https://pypi.org/simple", cache.path());
    let cold = IndexClient::new(settings.clone()).unwrap();
    let started = Instant::now();
    let numpy = page(&cold, "numpy").await;
    let cold_time = started.elapsed();
    let bytes = cold.stats.bytes.load(Ordering::Relaxed);
    let warm = IndexClient::new(settings).unwrap();
    let mut warm_times = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        assert_eq!(page(&warm, "numpy").await.files.len(), numpy.files.len());
        warm_times.push(started.elapsed());
    }
    let entry = files_under(cache.path()).into_iter().next().unwrap();
    println!(
        "numpy: {} files, {bytes} bytes fetched; cold {cold_time:?}; warm (disk cache, {} bytes) {warm_times:?}",
        numpy.files.len(),
        std::fs::metadata(entry).unwrap().len()
    );
}

fn fixture(filename: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/wheels")
        .join(filename)
}

/// Every file under `dir`, sorted.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path)
            } else {
                files.push(path)
            }
        }
    }
    files.sort();
    files
}
