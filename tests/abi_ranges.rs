//! The numpy ABI check's range reads, against the test index serving a real wheel with extension
//! modules (numba 0.68.1 for x86_64, from the base image's lock: 14 modules, 4 built against numpy 2.x,
//! 3.8 MB; taken from the shared test cache, else downloaded from PyPI once). Only the modules (and the
//! zip's directory) cross the wire and the report is the whole wheel's; a server that ignores `Range`
//! gets the whole download; zips that lie end in the whole download's answer or a clear error, never a
//! panic or a different report.

mod support;

use std::path::PathBuf;

use fave_lock::abi::{self, AbiOptions, ModuleAbi, ModuleClass, Scan, ScanSource};
use fave_lock::index::{DistFile, IndexClient};
use fave_lock::verify::{Lookup, WheelCache};
use sha2::{Digest, Sha256};
use support::index_server::{
    IndexServer, IndexServerBuilder, RangeLie, Wheel, client_settings as settings,
};

const NUMBA: &str = "numba-0.68.1-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl";
const NUMBA_URL: &str = "https://files.pythonhosted.org/packages/cc/0c/7cfda35338753113a01e8ba5b9e7736c5c66e6af3e548b5cdb16ffb75f6a/numba-0.68.1-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl";
const NUMBA_SHA256: &str = "58fe7a3810261cf13797d8aa94c018cfe91e1e8adf634df60eb60ef834f9367b";
const NUMBA_LEN: u64 = 3_836_514;

fn dist_file(filename: &str, url: &str, bytes: &[u8]) -> DistFile {
    DistFile {
        filename: filename.to_string(),
        url: url.to_string(),
        sha256: Some(hex::encode(Sha256::digest(bytes))),
        size: Some(bytes.len() as u64),
        upload_time: None,
        requires_python: None,
        yanked: None,
        core_metadata: false,
    }
}

/// numba's real wheel: from the live tests' shared cache, else from PyPI (then kept there).
async fn numba() -> Vec<u8> {
    let cache_dir = support::live::repo().join(".cache/fave-lock");
    let wheels = WheelCache::new(&cache_dir);
    if let Lookup::Hit(path) = wheels.lookup(NUMBA_SHA256, Some(NUMBA_LEN), true).unwrap() {
        return std::fs::read(path).unwrap();
    }
    let client = IndexClient::new(settings("https://pypi.org/simple", &cache_dir)).unwrap();
    let mut file = dist_file(NUMBA, NUMBA_URL, b"");
    file.sha256 = Some(NUMBA_SHA256.to_string());
    file.size = Some(NUMBA_LEN);
    let downloaded = client
        .download(&file, &wheels.temp_dir(), &|_| {})
        .await
        .unwrap();
    assert_eq!(downloaded.sha256, NUMBA_SHA256);
    std::fs::read(wheels.store(downloaded).unwrap()).unwrap()
}

/// The whole wheel scanned on disk: what the check reports after a whole download.
fn scanned_whole(bytes: &[u8]) -> Vec<ModuleAbi> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(NUMBA);
    std::fs::write(&path, bytes).unwrap();
    abi::scan_wheels(&[path], 2).pop().unwrap().unwrap()
}

/// One check of `bytes` served as numba's wheel, from an empty cache.
struct Served {
    scan: Scan,
    /// Body bytes the server sent for the wheel.
    served: u64,
    /// Range requests the wheel got.
    ranges: usize,
    cache: PathBuf,
    _dir: tempfile::TempDir,
}

impl Served {
    /// The error with the cache folder (part of the wheel's path) left out.
    fn error(&self) -> Option<String> {
        let cache = self.cache.display().to_string();
        self.scan
            .error
            .as_ref()
            .map(|e| e.replace(&cache, "[CACHE]"))
    }
}

/// Serve `bytes` (with `Range` honoured or not) and run the check over them; `size` is what the lock
/// says the file's size is.
async fn check(bytes: &[u8], honour_ranges: bool, size: Option<u64>) -> Served {
    check_with(bytes, size, |server| server.ranges(honour_ranges)).await
}

/// [`check`] against a server `configure` sets up.
async fn check_with(
    bytes: &[u8],
    size: Option<u64>,
    configure: impl FnOnce(IndexServerBuilder) -> IndexServerBuilder,
) -> Served {
    let server = configure(IndexServer::builder().wheel(Wheel::from_bytes(
        NUMBA,
        bytes.to_vec(),
        Vec::new(),
    )))
    .start();
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let client = IndexClient::new(settings(&server.url(), &cache)).unwrap();
    let mut file = dist_file(NUMBA, &server.file_url(NUMBA), bytes);
    file.size = size;
    let options = AbiOptions::new(&cache);
    let mut scans = abi::scan_dist_files(&client, &[&file], &options)
        .await
        .unwrap();
    let path = format!("/files/{NUMBA}");
    let ranges = server
        .requests()
        .iter()
        .filter(|request| request.path == path && request.status == 206)
        .count();
    Served {
        scan: scans.pop().unwrap(),
        served: server.bytes_served(NUMBA),
        ranges,
        cache,
        _dir: dir,
    }
}

#[tokio::test]
#[ignore = "live: downloads numba's wheel from PyPI unless .cache/fave-lock has it"]
async fn range_reads_fetch_only_the_modules_and_report_what_the_whole_wheel_does() {
    let bytes = numba().await;
    let whole = scanned_whole(&bytes);
    assert!(whole.iter().any(|m| m.class == ModuleClass::NumpyV2));
    assert!(whole.iter().any(|m| m.class == ModuleClass::None));

    let served = check(&bytes, true, Some(NUMBA_LEN)).await;
    assert_eq!(served.scan.modules, whole);
    assert_eq!(served.scan.error, None);
    let Some(ScanSource::Ranges { fetched, len }) = served.scan.source else {
        panic!("not read by ranges: {:?}", served.scan.source);
    };
    assert_eq!((fetched, len), (served.served, NUMBA_LEN));
    // numba's modules are about a third of its bytes; the rest never crossed the wire.
    assert!(fetched < NUMBA_LEN / 2, "{fetched} of {NUMBA_LEN} bytes");
    assert!(served.ranges >= 2, "{} range requests", served.ranges);
    // The copy was temporary and nothing unhashed went into the wheel cache.
    assert!(
        !WheelCache::new(&served.cache)
            .path(NUMBA_SHA256)
            .unwrap()
            .exists()
    );
}

#[tokio::test]
#[ignore = "live: downloads numba's wheel from PyPI unless .cache/fave-lock has it"]
async fn a_server_that_ignores_range_gets_the_whole_download_and_the_same_report() {
    let bytes = numba().await;
    let served = check(&bytes, false, Some(NUMBA_LEN)).await;
    assert_eq!(served.scan.modules, scanned_whole(&bytes));
    assert_eq!(served.scan.error, None);
    assert_eq!(
        served.scan.source,
        Some(ScanSource::Download { len: NUMBA_LEN })
    );
    assert_eq!(served.ranges, 0);
    // Downloaded whole, hash-checked, and kept for verify.
    assert!(
        WheelCache::new(&served.cache)
            .path(NUMBA_SHA256)
            .unwrap()
            .exists()
    );
}

/// Where numba's zip keeps things, to make it lie.
struct Layout {
    /// The EOCD record's offset.
    end_record: usize,
    /// Each central directory entry's offset and name.
    entries: Vec<(usize, String)>,
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())
}

fn u16_at(bytes: &[u8], at: usize) -> usize {
    usize::from(u16::from_le_bytes(bytes[at..at + 2].try_into().unwrap()))
}

fn layout(bytes: &[u8]) -> Layout {
    let end_record = (0..bytes.len() - 21)
        .rev()
        .find(|&at| u32_at(bytes, at) == 0x0605_4b50)
        .unwrap();
    let mut at = u32_at(bytes, end_record + 16) as usize;
    let mut entries = Vec::new();
    while u32_at(bytes, at) == 0x0201_4b50 {
        let name_len = u16_at(bytes, at + 28);
        let name = String::from_utf8_lossy(&bytes[at + 46..at + 46 + name_len]).into_owned();
        entries.push((at, name));
        at += 46 + name_len + u16_at(bytes, at + 30) + u16_at(bytes, at + 32);
    }
    Layout {
        end_record,
        entries,
    }
}

/// numba's bytes with the `u32` at `at` replaced by `value`.
fn patched(bytes: &[u8], at: usize, value: u32) -> Vec<u8> {
    let mut bytes = bytes.to_vec();
    bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
    bytes
}

#[tokio::test]
#[ignore = "live: downloads numba's wheel from PyPI unless .cache/fave-lock has it"]
async fn lying_zips_end_as_the_whole_download_does_without_a_panic() {
    let bytes = numba().await;
    let layout = layout(&bytes);
    let directory_len = u32_at(&bytes, layout.end_record + 12);
    let (module, _) = layout
        .entries
        .iter()
        .find(|(_, name)| abi::is_extension_module(name))
        .unwrap();
    let cases = [
        // The EOCD record claims a central directory 10 bytes short: its last entry is truncated.
        (
            "truncated directory",
            patched(&bytes, layout.end_record + 12, directory_len - 10),
        ),
        // A 4 GB central directory: refused before anything is allocated or fetched.
        (
            "4 GB directory",
            patched(&bytes, layout.end_record + 12, u32::MAX - 16),
        ),
        // A module whose local header would be past the end of the file.
        (
            "offset past the end",
            patched(&bytes, module + 42, bytes.len() as u32 + 4096),
        ),
        // A module claiming nearly 4 GB of compressed data: its span stops at the next entry.
        (
            "huge compressed size",
            patched(&bytes, module + 20, u32::MAX - 16),
        ),
    ];
    for (case, lying) in cases {
        let ranged = check(&lying, true, Some(lying.len() as u64)).await;
        let whole = check(&lying, false, Some(lying.len() as u64)).await;
        assert_eq!(ranged.scan.modules, whole.scan.modules, "{case}");
        assert_eq!(ranged.error(), whole.error(), "{case}");
        // Never more than a range read's first tail plus the whole file.
        assert!(
            ranged.served <= lying.len() as u64 + (64 << 10),
            "{case}: {} bytes",
            ranged.served
        );
        // Every lie but the huge size is caught on the range path, which then downloads the wheel.
        let fell_back = matches!(ranged.scan.source, Some(ScanSource::Download { .. }));
        assert_eq!(fell_back, case != "huge compressed size", "{case}");
        // Only the huge size still scans (the module's deflate stream ends where it really does).
        assert_eq!(
            ranged.scan.error.is_some(),
            case != "huge compressed size",
            "{case}: {:?}",
            ranged.scan.error
        );
    }
}

#[tokio::test]
#[ignore = "live: downloads numba's wheel from PyPI unless .cache/fave-lock has it"]
async fn lying_range_answers_end_in_the_whole_download_and_the_same_report() {
    let bytes = numba().await;
    let whole = scanned_whole(&bytes);
    let len = bytes.len() as u64;
    let layout = layout(&bytes);
    let entries = u64::from(u32_at(&bytes, layout.end_record + 16));
    // Each lie told to every range (the directory's reads first), or only to the modules' reads.
    for before in [len, entries] {
        for lie in RangeLie::ALL {
            let case = format!("{lie:?} before byte {before}");
            let served = check_with(&bytes, Some(len), |server| {
                server.lie_to_ranges(lie, before)
            })
            .await;
            assert_eq!(served.scan.modules, whole, "{case}");
            assert_eq!(served.scan.error, None, "{case}");
            assert_eq!(
                served.scan.source,
                Some(ScanSource::Download { len }),
                "{case}"
            );
            // The range reads stopped at the lie: at most the wheel twice (a 200 the client stops
            // reading, counted whole here, then the download).
            assert!(served.served <= 2 * len, "{case}: {} bytes", served.served);
        }
    }
}

#[tokio::test]
#[ignore = "live: downloads numba's wheel from PyPI unless .cache/fave-lock has it"]
async fn a_size_other_than_the_locks_falls_back_to_the_hash_checked_download() {
    let bytes = numba().await;
    let served = check(&bytes, true, Some(NUMBA_LEN + 1)).await;
    assert_eq!(served.scan.modules, scanned_whole(&bytes));
    assert_eq!(
        served.scan.source,
        Some(ScanSource::Download { len: NUMBA_LEN })
    );
}

/// `resolve`'s check gets a head start (issue 16): the wheel of a release that depends on numpy is read
/// as soon as the solver tries it, before the resolve ends, and the report is the one the check gives
/// when it runs after the lock, from nothing. The index holds back the page of `zlate`, which the solver
/// decides after numba: the resolve cannot end before the test lets it, and the test lets it only once
/// numba's modules were asked for. Without the head start they are asked for only after the resolve, and
/// the test fails (after a minute) instead.
#[test]
#[ignore = "live: downloads numba's wheel from PyPI unless .cache/fave-lock has it"]
fn the_check_reads_a_tried_wheel_before_the_resolve_ends_and_reports_as_after_it() {
    use fave_lock::image::ImageJob;
    use fave_lock::pipeline::{self, Outcome, PipelineOptions, Silent};
    use fave_lock::tags::{Arch, Platform, PythonVersion};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let bytes = runtime.block_on(numba());
    let metadata = |name: &str, version: &str, requires: &[&str]| {
        let mut text = format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n");
        for requirement in requires {
            text.push_str(&format!("Requires-Dist: {requirement}\n"));
        }
        text
    };
    let server = IndexServer::builder()
        .wheel(
            Wheel::from_bytes(
                NUMBA,
                bytes.clone(),
                metadata("numba", "0.68.1", &["numpy>=2"]).into_bytes(),
            )
            // The graph is the test's, not the real wheel's METADATA: read from the `.metadata` file.
            .advertise_metadata(),
        )
        .wheel(Wheel::posing_as(
            "numpy-2.1.0-py3-none-any.whl",
            &metadata("numpy", "2.1.0", &[]),
        ))
        .wheel(Wheel::posing_as(
            "zlate-1.0-py3-none-any.whl",
            &metadata("zlate", "1.0", &[]),
        ))
        .start();
    let held = "/simple/zlate/";
    server.hold(held);
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("requirements.in");
    std::fs::write(&input, "numba\nzlate\n").unwrap();
    let platform = Platform::new(Arch::X86_64, (2, 36)).unwrap();
    let job = ImageJob {
        name: "head-start".to_string(),
        root: PathBuf::new(),
        python: PythonVersion {
            major: 3,
            minor: 11,
        },
        platforms: vec![(platform.oci().to_string(), platform)],
        requirements: input,
        requirements_txt: None,
        pylock_toml: None,
        index_url: server.url(),
        exclude_newer: None,
        allow_sdist: fave_lock::resolve::SdistPolicy::default(),
        canonical_config: String::new(),
        command: String::new(),
        plan: None,
        sbom: None,
        hash_unhashed: true,
        apt: None,
    };
    let cache = dir.path().join("cache");
    let client = Arc::new(IndexClient::new(settings(&server.url(), &cache)).unwrap());
    let options = PipelineOptions {
        abi: Some(AbiOptions::new(&cache)),
        ..PipelineOptions::default()
    };
    // The resolve waits on `zlate`'s page; numba's modules are read meanwhile. Released either way, so
    // that a failing run ends.
    let wheel = format!("/files/{NUMBA}");
    let (outcome, read_while_held) = std::thread::scope(|scope| {
        let watcher = scope.spawn(|| {
            let give_up = Instant::now() + Duration::from_secs(60);
            let read = loop {
                let read = server
                    .requests()
                    .iter()
                    .any(|request| request.path == wheel && request.status == 206);
                if read || Instant::now() >= give_up {
                    break read;
                }
                std::thread::sleep(Duration::from_millis(20));
            };
            server.release(held);
            read
        });
        let outcome = runtime.block_on(pipeline::run(&[job], &client, &options, &Silent));
        (outcome, watcher.join().unwrap())
    });
    assert!(
        read_while_held,
        "numba's wheel was not read while the resolve waited: {:?}",
        server.arrived()
    );
    let outcome = outcome.unwrap();
    let Outcome::Locked(locked) = outcome else {
        panic!("{outcome:?}");
    };
    let early = &locked.abi["head-start"];
    assert_eq!(early.wheels.len(), 1);
    assert!(early.problems.is_empty());
    let read_during_run = server
        .requests()
        .iter()
        .filter(|request| request.path == wheel)
        .count();

    // The check after the lock, from an empty cache: the same report, and the head start did not make
    // the run read the wheel twice.
    server.clear_requests();
    let cache = dir.path().join("cache-after");
    let client = IndexClient::new(settings(&server.url(), &cache)).unwrap();
    let lock = &locked.images[0].lock;
    let after = runtime
        .block_on(abi::check_lock(&client, lock, &AbiOptions::new(&cache)))
        .unwrap();
    assert_eq!(
        serde_json::to_value(early).unwrap(),
        serde_json::to_value(&after).unwrap()
    );
    let read_after = server
        .requests()
        .iter()
        .filter(|request| request.path == wheel)
        .count();
    assert_eq!(read_during_run, read_after);
}
