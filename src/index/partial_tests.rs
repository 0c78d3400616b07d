//! Tests of the span arithmetic on a real wheel, its ZIP64 rewrite and lying directories.

use super::*;
use crate::index::range::SliceSource;
use crate::index::zip::tests::{IDNA, to_zip64};

async fn directory_of(bytes: &[u8]) -> Directory {
    match super::super::range::read_directory(&mut SliceSource(bytes), TAIL_LEN).await {
        Ok(directory) => directory,
        Err(ReadError::Zip(error)) => panic!("{error}"),
        Err(_) => panic!("a slice always reads"),
    }
}

fn is_python(name: &str) -> bool {
    name.ends_with(".py")
}

#[tokio::test]
async fn each_span_covers_its_entry_up_to_the_next_one() {
    let directory = directory_of(IDNA).await;
    let spans = spans(&directory, &is_python).unwrap();
    let python: Vec<&Entry> = directory
        .entries
        .iter()
        .filter(|entry| is_python(&entry.name))
        .collect();
    assert_eq!(spans.len(), python.len());
    assert!(!spans.is_empty());
    for ((start, end), entry) in spans.iter().zip(&python) {
        let header = &IDNA[*start as usize..];
        let data_end = start + local_header_len(header) + entry.compressed_len;
        assert_eq!(*start, entry.local_header_offset);
        // The whole entry, and nothing of the next one (idna's entries have no data descriptor).
        assert_eq!(*end, data_end, "{}", entry.name);
    }
    // idna's Python files are its whole body: coalesced they are one request short of the directory.
    let merged = coalesce(spans);
    assert_eq!(merged, [(0, merged[0].1)]);
    assert!(merged[0].1 <= directory.directory_offset);
}

fn local_header_len(bytes: &[u8]) -> u64 {
    crate::index::zip::local_header_len(bytes).unwrap()
}

#[tokio::test]
async fn zip64_records_give_the_same_spans() {
    let plain = directory_of(IDNA).await;
    let zip64 = to_zip64(IDNA);
    let rewritten = directory_of(&zip64).await;
    assert_eq!(rewritten.entries, plain.entries);
    assert_eq!(rewritten.directory_offset, plain.directory_offset);
    assert_eq!(
        spans(&rewritten, &is_python).unwrap(),
        spans(&plain, &is_python).unwrap()
    );
}

#[tokio::test]
async fn lying_entries_stay_inside_the_file() {
    let mut directory = directory_of(IDNA).await;
    let last = directory.entries.len() - 1;
    // An entry claiming 4 GB of data ends where the next entry (or the directory) starts.
    directory.entries[0].compressed_len = u64::from(u32::MAX);
    let first = spans(&directory, &|name| name == directory.entries[0].name).unwrap();
    assert!(first[0].1 <= directory.directory_offset, "{first:?}");
    // An entry whose header would sit in or past the central directory is an error, not a read.
    directory.entries[last].local_header_offset = directory.file_len + 1000;
    let name = directory.entries[last].name.clone();
    assert_eq!(
        spans(&directory, &|entry| entry == name),
        Err(ZipError::Truncated("local file header"))
    );
}

#[test]
fn neighbours_merge_up_to_a_limit() {
    let gap = MAX_GAP;
    // Sorted first; a span within `gap` of the previous one joins it.
    assert_eq!(
        coalesce(vec![(200, 300), (0, 100), (300 + gap, 350 + gap)]),
        [(0, 350 + gap)]
    );
    // Farther apart: separate requests. Overlapping: one.
    assert_eq!(
        coalesce(vec![(0, 10), (10 + gap + 1, 20 + gap)]),
        [(0, 10), (10 + gap + 1, 20 + gap)]
    );
    assert_eq!(coalesce(vec![(0, 50), (20, 40)]), [(0, 50)]);
    // Past the merged limit a new request starts, and one big span stays whole.
    let big = MAX_MERGED_LEN;
    assert_eq!(
        coalesce(vec![(0, big), (big, big + 10), (big + 10, 3 * big)]),
        [(0, big), (big, big + 10), (big + 10, 3 * big)]
    );
}
