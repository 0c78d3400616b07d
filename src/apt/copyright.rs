//! What a `.deb` says about its licenses: the `usr/share/doc/<package>/copyright` file inside it, read
//! as Debian's machine-readable copyright format (DEP-5). The SBOM maps the short names to SPDX.
//!
//! ```text
//! .deb (ar) ─▶ data.tar.{xz,gz} ─▶ usr/share/doc/<package>/copyright ─▶ License: short names
//!                                   └▶ usr/share/doc/<package> → <other>: the other package's file
//! ```
//!
//! The file is per source package and so the same on every architecture; the caller reads one `.deb`
//! per package and version. A copyright file that is not machine-readable (older packages write prose)
//! names no license here: guessing from prose is how SBOMs come to list the wrong license.

use std::io::Read;

/// The copyright file's place in a package, as its `.deb` holds it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CopyrightFile {
    /// The file's text.
    Text(String),
    /// The package's doc folder is a link to another package's (policy 12.5 allows it for a package
    /// of the same source it depends on): that package's file applies.
    LinkedTo(String),
    /// No copyright file in the package.
    Missing,
}

/// A `.deb` that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum DebError {
    #[error("not an ar archive (a .deb starts with `!<arch>`)")]
    NotAr,
    #[error("the ar member `{0}` runs past the end of the file")]
    Truncated(String),
    #[error("no data.tar member")]
    NoData,
    #[error("data member `{0}` is compressed in a way fave-lock does not read")]
    Compression(String),
    #[error("reading `{member}`: {source}")]
    Read {
        member: String,
        #[source]
        source: std::io::Error,
    },
}

/// Decompressed bytes read from one `.deb` at most: the largest Debian packages inflate to a few
/// hundred MB, and a bomb must not fill the memory.
const MAX_DATA_BYTES: u64 = 4 * 1024 * 1024 * 1024;
/// A copyright file larger than this is no copyright file.
const MAX_COPYRIGHT_BYTES: u64 = 4 * 1024 * 1024;

/// The copyright file of `package` inside the `.deb` `bytes`.
///
/// # Errors
///
/// [`DebError`] for a file that is no `.deb` or whose data cannot be decompressed.
pub fn copyright_in_deb(bytes: &[u8], package: &str) -> Result<CopyrightFile, DebError> {
    let (member, data) = data_member(bytes)?;
    let reader: Box<dyn Read + '_> = if member.ends_with(".xz") {
        Box::new(xz2::read::XzDecoder::new(data))
    } else if member.ends_with(".gz") {
        Box::new(flate2::read::GzDecoder::new(data))
    } else if member == "data.tar" {
        Box::new(data)
    } else {
        return Err(DebError::Compression(member));
    };
    let read_error = |source| DebError::Read {
        member: member.clone(),
        source,
    };
    let doc_dir = format!("usr/share/doc/{package}");
    let wanted = format!("{doc_dir}/copyright");
    let mut archive = tar::Archive::new(reader.take(MAX_DATA_BYTES));
    for entry in archive.entries().map_err(read_error)? {
        let mut entry = entry.map_err(read_error)?;
        let path = entry.path().map_err(read_error)?;
        let path = path.to_string_lossy();
        let path = path.trim_start_matches("./").trim_end_matches('/');
        if path == wanted && entry.header().entry_type().is_file() {
            let mut text = String::new();
            (&mut entry)
                .take(MAX_COPYRIGHT_BYTES)
                .read_to_string(&mut text)
                .map_err(read_error)?;
            return Ok(CopyrightFile::Text(text));
        }
        if path == doc_dir && entry.header().entry_type().is_symlink() {
            let target = entry.link_name().map_err(read_error)?.unwrap_or_default();
            let other = target
                .to_string_lossy()
                .trim_end_matches('/')
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_string();
            return Ok(CopyrightFile::LinkedTo(other));
        }
    }
    Ok(CopyrightFile::Missing)
}

/// The name and bytes of the `data.tar*` member of an ar archive.
fn data_member(bytes: &[u8]) -> Result<(String, &[u8]), DebError> {
    let mut rest = bytes.strip_prefix(b"!<arch>\n").ok_or(DebError::NotAr)?;
    while rest.len() >= 60 {
        let (header, body) = rest.split_at(60);
        let name = String::from_utf8_lossy(&header[..16])
            .trim_end()
            .trim_end_matches('/')
            .to_string();
        let size: usize = String::from_utf8_lossy(&header[48..58])
            .trim()
            .parse()
            .map_err(|_| DebError::Truncated(name.clone()))?;
        let content = body
            .get(..size)
            .ok_or_else(|| DebError::Truncated(name.clone()))?;
        if name.starts_with("data.tar") {
            return Ok((name, content));
        }
        // Members start on even offsets.
        rest = body.get(size + size % 2..).unwrap_or_default();
    }
    Err(DebError::NoData)
}

/// What a copyright file says about licenses.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct DebLicenses {
    /// Written in the machine-readable format (DEP-5); prose says nothing here.
    pub machine_readable: bool,
    /// The distinct `License:` short names (`GPL-2+`, `BSD-3-clause and Expat`), in file order.
    pub names: Vec<String>,
}

impl DebLicenses {
    /// Read a copyright file.
    pub fn parse(text: &str) -> DebLicenses {
        let paragraphs = paragraphs(text);
        let Some(header) = paragraphs.first() else {
            return DebLicenses::default();
        };
        let format = field(header, "Format");
        if !format.is_some_and(|f| f.contains("copyright-format") || f.contains("dep5")) {
            return DebLicenses::default();
        }
        let mut names: Vec<String> = Vec::new();
        for paragraph in &paragraphs {
            if let Some(name) = field(paragraph, "License")
                && !name.is_empty()
                && !names.iter().any(|seen| seen == name)
            {
                names.push(name.to_string());
            }
        }
        DebLicenses {
            machine_readable: true,
            names,
        }
    }
}

/// deb822 paragraphs: lines between blank (or whitespace-only) lines.
fn paragraphs(text: &str) -> Vec<Vec<&str>> {
    let mut paragraphs = vec![Vec::new()];
    for line in text.lines() {
        if line.trim().is_empty() {
            paragraphs.push(Vec::new());
        } else if let Some(last) = paragraphs.last_mut() {
            last.push(line);
        }
    }
    paragraphs.retain(|paragraph| !paragraph.is_empty());
    paragraphs
}

/// The first line of `key`'s value in one paragraph (case-insensitive key, as deb822 has it).
fn field<'a>(paragraph: &[&'a str], key: &str) -> Option<&'a str> {
    paragraph.iter().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        (!line.starts_with([' ', '\t']) && name.trim().eq_ignore_ascii_case(key))
            .then(|| value.trim())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_machine_readable_file_lists_each_license_once_and_prose_lists_none() {
        let dep5 = "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\
                    Upstream-Name: demo\n\n\
                    Files: *\nCopyright: 2020 A\nLicense: GPL-2+\n\n\
                    Files: debian/*\nCopyright: 2021 B\nLicense: GPL-2+\n\n\
                    Files: lib/*\nCopyright: 2021 C\nLicense: Expat\n\n\
                    License: GPL-2+\n On Debian systems ...\n";
        let licenses = DebLicenses::parse(dep5);
        assert!(licenses.machine_readable);
        assert_eq!(licenses.names, ["GPL-2+", "Expat"]);
        let prose = "This package was debianized by someone.\n\nIt is under the GPL.\n";
        assert_eq!(DebLicenses::parse(prose), DebLicenses::default());
    }

    /// An ar archive of `members`, as `dpkg-deb` lays one out.
    fn ar(members: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = b"!<arch>\n".to_vec();
        for (name, data) in members {
            out.extend(
                format!(
                    "{name:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
                    0,
                    0,
                    0,
                    100644,
                    data.len()
                )
                .as_bytes(),
            );
            out.extend(*data);
            if data.len() % 2 == 1 {
                out.push(b'\n');
            }
        }
        out
    }

    fn tar_gz(entries: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        for (path, link, data) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_mode(0o644);
            match link {
                Some(target) => {
                    header.set_entry_type(tar::EntryType::Symlink);
                    header.set_size(0);
                    builder.append_link(&mut header, path, target).unwrap();
                }
                None => {
                    header.set_size(data.len() as u64);
                    builder.append_data(&mut header, path, *data).unwrap();
                }
            }
        }
        builder.into_inner().unwrap().finish().unwrap()
    }

    #[test]
    fn the_copyright_file_or_the_doc_link_is_found_in_the_data_member() {
        let data = tar_gz(&[
            ("./usr/lib/libdemo.so.1", None, b"\x7fELF"),
            ("./usr/share/doc/demo/copyright", None, b"Format: dep5\n"),
            ("./usr/share/doc/demo-dev", Some("demo"), b""),
        ]);
        let deb = ar(&[
            ("debian-binary", b"2.0\n"),
            ("control.tar.xz", b"x"),
            ("data.tar.gz", &data),
        ]);
        assert_eq!(
            copyright_in_deb(&deb, "demo").unwrap(),
            CopyrightFile::Text("Format: dep5\n".to_string())
        );
        assert_eq!(
            copyright_in_deb(&deb, "demo-dev").unwrap(),
            CopyrightFile::LinkedTo("demo".to_string())
        );
        assert_eq!(
            copyright_in_deb(&deb, "other").unwrap(),
            CopyrightFile::Missing
        );
        assert!(matches!(
            copyright_in_deb(b"garbage", "demo"),
            Err(DebError::NotAr)
        ));
        let cut = &deb[..deb.len() - 10];
        assert!(matches!(
            copyright_in_deb(cut, "demo"),
            Err(DebError::Truncated(_))
        ));
        let zstd = ar(&[("debian-binary", b"2.0\n"), ("data.tar.zst", b"x")]);
        assert!(matches!(
            copyright_in_deb(&zstd, "demo"),
            Err(DebError::Compression(_))
        ));
    }
}
