//! Tests of the range walk over bytes in memory, counting what it reads.

use reqwest::header::HeaderValue;

use super::*;
use crate::index::zip::tests::{IDNA, IDNA_METADATA, STORED, to_zip64};

/// A file in memory that records every read as `(offset, len)`; the tail read is `(u64::MAX, len)`.
struct MemorySource {
    bytes: Vec<u8>,
    reads: Vec<(u64, u64)>,
}

impl MemorySource {
    fn new(bytes: &[u8]) -> MemorySource {
        MemorySource {
            bytes: bytes.to_vec(),
            reads: Vec::new(),
        }
    }

    fn bytes_read(&self) -> u64 {
        self.reads.iter().map(|(_, len)| len).sum()
    }
}

impl ByteSource for MemorySource {
    async fn tail(&mut self, len: u64) -> Result<(u64, Vec<u8>), ReadError> {
        self.reads
            .push((u64::MAX, len.min(self.bytes.len() as u64)));
        SliceSource(&self.bytes).tail(len).await
    }

    async fn read(&mut self, offset: u64, len: u64) -> Result<Vec<u8>, ReadError> {
        self.reads.push((offset, len));
        SliceSource(&self.bytes).read(offset, len).await
    }
}

#[tokio::test]
async fn one_read_when_the_tail_holds_everything() {
    let mut source = MemorySource::new(IDNA);
    let metadata = read_metadata(&mut source, "idna-3.10-py3-none-any.whl", TAIL_LEN)
        .await
        .unwrap();
    assert_eq!(metadata, IDNA_METADATA);
    // METADATA's local header and data sit near the end, inside the 64 KiB tail.
    assert_eq!(source.reads, [(u64::MAX, TAIL_LEN)]);
}

#[tokio::test]
async fn short_tails_grow_back_to_the_directory_and_the_entry() {
    let mut source = MemorySource::new(IDNA);
    let metadata = read_metadata(&mut source, "idna-3.10-py3-none-any.whl", 64)
        .await
        .unwrap();
    assert_eq!(metadata, IDNA_METADATA);
    assert_eq!(source.reads.len(), 3, "{:?}", source.reads);
    assert!(source.bytes_read() < 8 << 10, "{:?}", source.reads);
}

#[tokio::test]
async fn reads_zip64_and_long_comments() {
    for tail_len in [30, 64, TAIL_LEN] {
        let mut source = MemorySource::new(&to_zip64(IDNA));
        let metadata = read_metadata(&mut source, "idna-3.10-py3-none-any.whl", tail_len)
            .await
            .unwrap();
        assert_eq!(metadata, IDNA_METADATA, "tail {tail_len}");
    }
    // The stored fixture ends in a 20-byte comment: a 30-byte tail cannot hold the EOCD record.
    let mut source = MemorySource::new(STORED);
    let metadata = read_metadata(&mut source, "demo-1.0-py3-none-any.whl", 30)
        .await
        .unwrap();
    assert!(metadata.starts_with(b"Metadata-Version: 2.1\nName: demo\n"));
}

#[tokio::test]
async fn a_directory_far_before_the_end_record_is_read_on_its_own() {
    let (_, record) = zip::find_end_record(IDNA).unwrap();
    let directory_end = (record.directory_offset + record.directory_len) as usize;
    let mut padded = IDNA[..directory_end].to_vec();
    padded.extend(vec![0; 200_000]);
    padded.extend(&IDNA[IDNA.len() - EOCD_LEN..]);
    let mut source = MemorySource::new(&padded);
    let metadata = read_metadata(&mut source, "idna-3.10-py3-none-any.whl", TAIL_LEN)
        .await
        .unwrap();
    assert_eq!(metadata, IDNA_METADATA);
    assert_eq!(
        source.reads[1],
        (record.directory_offset, record.directory_len)
    );
    assert!(source.bytes_read() < 80_000, "{:?}", source.reads);
}

#[tokio::test]
async fn damaged_files_fail_cleanly() {
    for cut in (0..IDNA.len()).step_by(499) {
        for tail_len in [64, TAIL_LEN] {
            let mut source = MemorySource::new(&IDNA[..cut]);
            assert!(
                read_metadata(&mut source, "idna-3.10-py3-none-any.whl", tail_len)
                    .await
                    .is_err()
            );
        }
    }
    let mut source = MemorySource::new(b"");
    assert!(matches!(
        read_metadata(&mut source, "x", TAIL_LEN).await,
        Err(ReadError::Zip(ZipError::NoEndRecord))
    ));
}

#[test]
fn parses_content_range() {
    let parse = |value: &str| {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_RANGE, HeaderValue::from_str(value).unwrap());
        content_range(&headers)
    };
    assert_eq!(
        parse("bytes 100-199/1000"),
        Some(ContentRange {
            first: 100,
            last: 199,
            total: Some(1000)
        })
    );
    assert_eq!(parse("bytes 0-0/*").map(|range| range.total), Some(None));
    for bad in [
        "bytes 5-4/10",
        "items 0-1/2",
        "bytes 0-1",
        "bytes a-b/c",
        "bytes */10",
        "",
    ] {
        assert_eq!(parse(bad), None, "{bad}");
    }
}

/// Bytes read from PyPI for one big wheel's METADATA through ranges, against the wheel's size. Run with
/// `cargo test --lib live_range_read -- --ignored --nocapture`; set `FAVE_LOCK_BIG_WHEEL` to a wheel URL.
#[tokio::test]
#[ignore = "live: reads a wheel's METADATA from PyPI through ranges; scripts/test.sh runs it"]
async fn live_range_read() {
    use std::sync::Arc;
    use std::sync::atomic::Ordering;

    let url = std::env::var("FAVE_LOCK_BIG_WHEEL").unwrap_or_else(|_| {
        "https://files.pythonhosted.org/packages/56/be/76eaa36c9cd032d3b01b001e2c5a05943df75f26211f68fae79e62f87734/\
         torch-2.9.1-cp311-cp311-manylinux_2_28_x86_64.whl"
            .to_string()
    });
    let url = Url::parse(&url).unwrap();
    let filename = url
        .path_segments()
        .unwrap()
        .next_back()
        .unwrap()
        .to_string();
    let stats = Arc::new(crate::index::IndexStats::default());
    let http = Http::new(4, stats.clone()).unwrap();
    let start = std::time::Instant::now();
    let mut ranges = HttpRanges {
        http: &http,
        url: &url,
    };
    let metadata = read_metadata(&mut ranges, &filename, TAIL_LEN)
        .await
        .unwrap();
    let head = String::from_utf8_lossy(&metadata[..metadata.len().min(80)]).into_owned();
    println!(
        "{filename}: METADATA {} bytes in {:?}; {} requests, {} bytes read; starts {head:?}",
        metadata.len(),
        start.elapsed(),
        stats.requests.load(Ordering::Relaxed),
        stats.bytes.load(Ordering::Relaxed),
    );
    // Where PyPI has a PEP 658 file, it must be byte-for-byte what the range walk found.
    let pep658 = reqwest::get(format!("{url}.metadata")).await.unwrap();
    if pep658.status().is_success() {
        assert_eq!(pep658.bytes().await.unwrap().as_ref(), metadata.as_slice());
        println!("matches the `.metadata` file");
    }
}

/// A window grown back holds exactly its bytes: a plain extend doubled the allocation of every
/// directory read (a torch wheel's is 2 MB, and a diagnosis reads dozens at once).
#[tokio::test]
async fn a_grown_window_allocates_only_its_bytes() {
    let mut source = MemorySource::new(IDNA);
    let (file_len, tail) = source.tail(64).await.unwrap();
    let mut window = Window {
        start: file_len - tail.len() as u64,
        bytes: tail,
    };
    window.extend_to(&mut source, 1000).await.unwrap();
    assert_eq!(window.bytes.len() as u64, file_len - 1000);
    assert_eq!(window.bytes.capacity(), window.bytes.len());
    assert_eq!(window.get(1000, 10), Some(&IDNA[1000..1010]));
}
