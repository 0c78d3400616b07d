//! Tests of the zip reader on real wheels, a hand-made stored zip, a ZIP64 rewrite, and damaged bytes.

use super::*;

pub(crate) const IDNA: &[u8] =
    include_bytes!("../../tests/fixtures/wheels/idna-3.10-py3-none-any.whl");
pub(crate) const IDNA_METADATA: &[u8] =
    include_bytes!("../../tests/fixtures/wheels/idna-3.10-py3-none-any.whl.metadata");
pub(crate) const STORED: &[u8] =
    include_bytes!("../../tests/fixtures/zips/stored-demo-1.0-py3-none-any.whl");

/// Read METADATA from a whole zip in memory with the pure functions only.
fn metadata_of(zip: &[u8], wheel_filename: &str) -> Result<Vec<u8>, ZipError> {
    let (_, mut record) = find_end_record(zip)?;
    if let Some(offset) = record.zip64_record_offset {
        let start = usize::try_from(offset).map_err(|_| ZipError::Truncated("test"))?;
        apply_zip64_record(
            &mut record,
            zip.get(start..).ok_or(ZipError::Truncated("test"))?,
        )?;
    }
    check_directory_bounds(&record, zip.len() as u64)?;
    let start = record.directory_offset as usize;
    let entries = parse_directory(&zip[start..start + record.directory_len as usize])?;
    let entry = find_metadata(&entries, wheel_filename)?;
    check_entry(entry)?;
    let header = zip
        .get(entry.local_header_offset as usize..)
        .ok_or(ZipError::Truncated("test"))?;
    let data_start = local_header_len(header)? as usize;
    let data = header
        .get(data_start..data_start + entry.compressed_len as usize)
        .ok_or(ZipError::Truncated("test"))?;
    extract(entry, data)
}

/// A zip of `(name, bytes, deflate)` entries, written the way wheel builders do (local headers, data,
/// central directory, end record), so that readers read what they read in real wheels.
pub(crate) fn build_zip(entries: &[(&str, &[u8], bool)]) -> Vec<u8> {
    let with_modes: Vec<(&str, &[u8], bool, u32)> = entries
        .iter()
        .map(|(name, content, deflate)| (*name, *content, *deflate, 0o100_644))
        .collect();
    build_zip_with_modes(&with_modes)
}

/// [`build_zip`] with each entry's Unix mode (`0o100755` for an executable) in its external attributes.
pub(crate) fn build_zip_with_modes(entries: &[(&str, &[u8], bool, u32)]) -> Vec<u8> {
    use std::io::Write;
    let mut out = Vec::new();
    let mut directory = Vec::new();
    for (name, content, deflate, mode) in entries {
        let data = if *deflate {
            let mut encoder =
                flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
            encoder.write_all(content).unwrap();
            encoder.finish().unwrap()
        } else {
            content.to_vec()
        };
        let mut crc = flate2::Crc::new();
        crc.update(content);
        let method: u16 = if *deflate { 8 } else { 0 };
        let offset = out.len() as u32;
        let fields = |out: &mut Vec<u8>| {
            out.extend(method.to_le_bytes());
            out.extend([0; 4]); // time, date
            out.extend(crc.sum().to_le_bytes());
            out.extend((data.len() as u32).to_le_bytes());
            out.extend((content.len() as u32).to_le_bytes());
            out.extend((name.len() as u16).to_le_bytes());
            out.extend(0_u16.to_le_bytes()); // extra field
        };
        out.extend(LOCAL_HEADER_SIGNATURE.to_le_bytes());
        out.extend([20, 0, 0, 0]); // version needed, flags
        fields(&mut out);
        out.extend(name.as_bytes());
        out.extend(&data);
        directory.extend(CENTRAL_HEADER_SIGNATURE.to_le_bytes());
        directory.extend([20, 3, 20, 0, 0, 0]); // made by (Unix), needed, flags
        fields(&mut directory);
        directory.extend([0; 6]); // comment length, disk, internal attributes
        directory.extend((mode << 16).to_le_bytes()); // external attributes
        directory.extend(offset.to_le_bytes());
        directory.extend(name.as_bytes());
    }
    let directory_offset = out.len() as u32;
    out.extend(&directory);
    out.extend(EOCD_SIGNATURE.to_le_bytes());
    out.extend([0; 4]);
    out.extend((entries.len() as u16).to_le_bytes());
    out.extend((entries.len() as u16).to_le_bytes());
    out.extend((directory.len() as u32).to_le_bytes());
    out.extend(directory_offset.to_le_bytes());
    out.extend([0; 2]);
    out
}

/// Rewrite a zip (without comment) to end in ZIP64 records, with the EOCD fields saturated as a ZIP64 writer
/// leaves them.
pub(crate) fn to_zip64(zip: &[u8]) -> Vec<u8> {
    let (_, record) = find_end_record(zip).unwrap();
    let mut out = zip[..(record.directory_offset + record.directory_len) as usize].to_vec();
    let record_offset = out.len() as u64;
    out.extend(ZIP64_EOCD_SIGNATURE.to_le_bytes());
    out.extend(44_u64.to_le_bytes());
    out.extend([45, 0, 45, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    out.extend(record.entries.to_le_bytes());
    out.extend(record.entries.to_le_bytes());
    out.extend(record.directory_len.to_le_bytes());
    out.extend(record.directory_offset.to_le_bytes());
    out.extend(ZIP64_LOCATOR_SIGNATURE.to_le_bytes());
    out.extend(0_u32.to_le_bytes());
    out.extend(record_offset.to_le_bytes());
    out.extend(1_u32.to_le_bytes());
    out.extend(EOCD_SIGNATURE.to_le_bytes());
    out.extend([0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
    out.extend([0xff; 8]);
    out.extend([0, 0]);
    out
}

#[test]
fn reads_a_real_wheel_directory() {
    let (_, record) = find_end_record(IDNA).unwrap();
    assert_eq!(record.entries, 13);
    assert_eq!(record.zip64_record_offset, None);
    assert_eq!(
        record.directory_offset + record.directory_len,
        IDNA.len() as u64 - EOCD_LEN as u64
    );
    let start = record.directory_offset as usize;
    let entries = parse_directory(&IDNA[start..start + record.directory_len as usize]).unwrap();
    assert_eq!(entries.len(), 13);
    let metadata = find_metadata(&entries, "idna-3.10-py3-none-any.whl").unwrap();
    assert_eq!(metadata.name, "idna-3.10.dist-info/METADATA");
    assert_eq!(metadata.method, 8);
    assert_eq!(metadata.uncompressed_len, 10158);
    assert_eq!(metadata.compressed_len, 3910);
    assert_eq!(
        metadata_of(IDNA, "idna-3.10-py3-none-any.whl").unwrap(),
        IDNA_METADATA
    );
}

#[test]
fn reads_stored_entries_behind_a_comment_and_skips_nested_dist_info() {
    let metadata = metadata_of(STORED, "stored_demo-1.0-py3-none-any.whl").unwrap();
    assert_eq!(
        metadata,
        b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\nRequires-Dist: six>=1.0\n"
    );
}

#[test]
fn reads_zip64_end_records() {
    let zip64 = to_zip64(IDNA);
    let (_, record) = find_end_record(&zip64).unwrap();
    assert!(record.zip64_record_offset.is_some());
    assert_eq!(record.entries, 0xffff);
    assert_eq!(
        metadata_of(&zip64, "idna-3.10-py3-none-any.whl").unwrap(),
        IDNA_METADATA
    );
}

#[test]
fn applies_zip64_extra_fields() {
    let mut entry = Entry {
        name: "x".to_string(),
        flags: 0,
        method: 0,
        crc32: 0,
        compressed_len: 5,
        uncompressed_len: u64::from(u32::MAX),
        local_header_offset: u64::from(u32::MAX),
        unix_mode: 0,
    };
    let mut extra = vec![0x0a, 0x00, 0x04, 0x00, 1, 2, 3, 4]; // an NTFS-like field first
    extra.extend([0x01, 0x00, 16, 0]);
    extra.extend((5_u64 << 32).to_le_bytes());
    extra.extend((6_u64 << 32).to_le_bytes());
    apply_zip64_extra(&mut entry, &extra, [u32::MAX, 5, u32::MAX]).unwrap();
    assert_eq!(
        (
            entry.uncompressed_len,
            entry.compressed_len,
            entry.local_header_offset
        ),
        (5 << 32, 5, 6 << 32)
    );
    assert_eq!(
        apply_zip64_extra(&mut entry, &extra[..10], [u32::MAX, 5, 5]),
        Err(ZipError::Truncated("ZIP64 extra field"))
    );
}

#[test]
fn chooses_the_dist_info_matching_the_wheel_name() {
    let entry = |name: &str| Entry {
        name: name.to_string(),
        flags: 0,
        method: 0,
        crc32: 0,
        compressed_len: 0,
        uncompressed_len: 0,
        local_header_offset: 0,
        unix_mode: 0,
    };
    let entries = [
        entry("a/b.dist-info/METADATA"),
        entry("Other-1.dist-info/METADATA"),
        entry("my.pkg-2.0.dist-info/METADATA"),
    ];
    assert_eq!(
        find_metadata(&entries, "my_pkg-2.0-py3-none-any.whl")
            .unwrap()
            .name,
        "my.pkg-2.0.dist-info/METADATA"
    );
    assert!(matches!(
        find_metadata(&entries, "zzz-1-py3-none-any.whl"),
        Err(ZipError::AmbiguousMetadata(_))
    ));
    assert_eq!(find_metadata(&entries[..1], "x"), Err(ZipError::NoMetadata));
    assert_eq!(
        find_metadata(&[entry(".dist-info/METADATA")], "x"),
        Err(ZipError::NoMetadata)
    );
}

#[test]
fn rejects_lies_about_sizes_and_checksums() {
    let (_, record) = find_end_record(STORED).unwrap();
    let start = record.directory_offset as usize;
    let entries = parse_directory(&STORED[start..start + record.directory_len as usize]).unwrap();
    let mut entry = find_metadata(&entries, "demo-1.0-py3-none-any.whl")
        .unwrap()
        .clone();
    let data = b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\nRequires-Dist: six>=1.0\n";
    assert!(extract(&entry, data).is_ok());
    assert_eq!(
        extract(&entry, b"Metadata-Version: 2.1\nName: evil"),
        Err(ZipError::Checksum(entry.name.clone()))
    );
    entry.method = 8;
    assert!(matches!(
        extract(&entry, data),
        Err(ZipError::Inflate { .. })
    ));
    entry.method = 12;
    assert!(matches!(
        extract(&entry, data),
        Err(ZipError::Method { method: 12, .. })
    ));
    entry.method = 0;
    entry.uncompressed_len = 1 << 40;
    assert!(matches!(
        extract(&entry, data),
        Err(ZipError::TooLarge { .. })
    ));
    entry.flags = 1;
    assert!(matches!(extract(&entry, data), Err(ZipError::Encrypted(_))));
    let bounds = EndRecord {
        entries: 1,
        directory_len: u64::MAX,
        directory_offset: 10,
        zip64_record_offset: None,
    };
    assert!(matches!(
        check_directory_bounds(&bounds, 100),
        Err(ZipError::DirectoryBounds { .. })
    ));
}

#[test]
fn survives_truncation_and_corruption() {
    // Every cut of the small zips; a sample of the real wheel's (each cut rescans up to 64 KiB).
    for (zip, step) in [(IDNA, 211), (STORED, 1), (&to_zip64(STORED), 1)] {
        for cut in (0..zip.len()).step_by(step) {
            // Either a clean error or, for cuts that keep the whole directory, success: never a panic.
            let _ = metadata_of(&zip[..cut], "x-1-py3-none-any.whl");
            let _ = find_end_record(&zip[cut..]);
        }
    }
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    for _ in 0..3000 {
        let mut zip = STORED.to_vec();
        for _ in 0..4 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let index = (state % zip.len() as u64) as usize;
            zip[index] = (state >> 32) as u8;
        }
        let _ = metadata_of(&zip, "demo-1.0-py3-none-any.whl");
    }
}

/// `find_metadata_in` keeps only the candidates, and must answer as `find_metadata` over every entry:
/// the same entry, the same error for none, several or a damaged directory.
#[test]
fn finding_metadata_in_the_directory_bytes_matches_the_full_parse() {
    let several = build_zip(&[
        ("a/b.dist-info/METADATA", b"nested", false),
        ("Other-1.dist-info/METADATA", b"other", true),
        ("my.pkg-2.0.dist-info/METADATA", b"mine", false),
        ("my/pkg.py", b"", false),
    ]);
    let none = build_zip(&[("pkg/__init__.py", b"", false)]);
    let directory = |zip: &[u8]| {
        let (_, record) = find_end_record(zip).unwrap();
        let start = record.directory_offset as usize;
        zip[start..start + record.directory_len as usize].to_vec()
    };
    let mut cases = Vec::new();
    for (zip, wheel) in [
        (IDNA, "idna-3.10-py3-none-any.whl"),
        (STORED, "demo-1.0-py3-none-any.whl"),
        (&several, "my_pkg-2.0-py3-none-any.whl"),
        (&several, "zzz-1-py3-none-any.whl"),
        (&none, "pkg-1-py3-none-any.whl"),
    ] {
        let bytes = directory(zip);
        for cut in [bytes.len(), bytes.len() - 1, bytes.len() / 2, 47] {
            cases.push((bytes[..cut].to_vec(), wheel));
        }
        let mut corrupt = bytes.clone();
        corrupt[0] ^= 0xff;
        cases.push((corrupt, wheel));
    }
    for (bytes, wheel) in &cases {
        let full =
            parse_directory(bytes).and_then(|entries| find_metadata(&entries, wheel).cloned());
        assert_eq!(
            find_metadata_in(bytes, wheel),
            full,
            "{wheel}, {} bytes",
            bytes.len()
        );
    }
    let picked = find_metadata_in(&directory(&several), "my_pkg-2.0-py3-none-any.whl").unwrap();
    assert_eq!(picked.name, "my.pkg-2.0.dist-info/METADATA");
}
