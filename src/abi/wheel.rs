//! Read a wheel's extension modules straight out of the zip, one stream per module, and classify each,
//! with every core busy: the work items are modules (largest first), not wheels, because one big module
//! (opencv's) would otherwise be the whole run's tail.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::classify::{ModuleClass, classify_reader};
use crate::index::zip::{Entry, ZipError};
use crate::index::zip_file::{self, ZipFileError};

/// One extension module and what it was built against.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ModuleAbi {
    /// The module's path inside the wheel.
    pub path: String,
    pub class: ModuleClass,
}

/// Why a wheel could not be scanned.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("cannot read `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{}` is not a readable wheel: {message}", path.display())]
    Zip { path: PathBuf, message: String },
    #[error("`{module}` in `{}` does not inflate: {source}", path.display())]
    Inflate {
        path: PathBuf,
        module: String,
        #[source]
        source: std::io::Error,
    },
}

impl ScanError {
    fn io(path: &Path) -> impl Fn(std::io::Error) -> ScanError + Copy + '_ {
        move |source| ScanError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    fn zip(path: &Path) -> impl Fn(ZipError) -> ScanError + Copy + '_ {
        move |source| ScanError::Zip {
            path: path.to_path_buf(),
            message: source.to_string(),
        }
    }

    fn file(path: &Path) -> impl Fn(ZipFileError) -> ScanError + Copy + '_ {
        move |error| match error {
            ZipFileError::Io(source) => ScanError::io(path)(source),
            ZipFileError::Zip(source) => ScanError::zip(path)(source),
        }
    }
}

/// The largest extension module fave-lock inflates; torch's biggest is about 1 GB.
const MAX_MODULE_LEN: u64 = 4 << 30;

/// Whether a zip entry is a compiled extension module. auditwheel's vendored libraries (`*.libs/`) are
/// not modules and never contain the numpy C API, so they are skipped: in opencv they are most of the
/// bytes.
pub fn is_extension_module(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    let is_binary = lower.ends_with(".so") || lower.ends_with(".pyd");
    is_binary
        && !name
            .split('/')
            .rev()
            .skip(1)
            .any(|folder| folder.ends_with(".libs"))
}

/// The central directory of the wheel at `path`.
fn read_directory(path: &Path) -> Result<Vec<Entry>, ScanError> {
    let mut file = File::open(path).map_err(ScanError::io(path))?;
    zip_file::read_directory(&mut file).map_err(ScanError::file(path))
}

/// Inflate one module as a stream and classify it; the module is never whole in memory.
fn classify_entry(path: &Path, entry: &Entry) -> Result<ModuleClass, ScanError> {
    if entry.flags & 1 != 0 {
        return Err(ScanError::zip(path)(ZipError::Encrypted(
            entry.name.clone(),
        )));
    }
    if entry.uncompressed_len > MAX_MODULE_LEN {
        return Err(ScanError::zip(path)(ZipError::TooLarge {
            what: "extension module",
            len: entry.uncompressed_len,
            limit: MAX_MODULE_LEN,
        }));
    }
    let file = File::open(path).map_err(ScanError::io(path))?;
    let reader = zip_file::entry_reader(file, entry).map_err(ScanError::file(path))?;
    let inflate_error = |source| ScanError::Inflate {
        path: path.to_path_buf(),
        module: entry.name.clone(),
        source,
    };
    let (class, read) = classify_counting(reader);
    let class = class.map_err(inflate_error)?;
    // A 2.x marker ends the read early; any other answer read it all, so its length must be the
    // declared one (the wheel's hash was checked, but `abi` also reads wheels nobody checked).
    if class != ModuleClass::NumpyV2 && read != entry.uncompressed_len {
        return Err(ScanError::zip(path)(ZipError::Checksum(entry.name.clone())));
    }
    Ok(class)
}

/// Classify, and count the bytes read.
fn classify_counting(reader: impl Read) -> (std::io::Result<ModuleClass>, u64) {
    let mut counting = Counting {
        inner: reader,
        read: 0,
    };
    let class = classify_reader(&mut counting);
    (class, counting.read)
}

struct Counting<R> {
    inner: R,
    read: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.read += read as u64;
        Ok(read)
    }
}

/// Scan every extension module of every wheel in `paths` on up to `threads` threads. One result per
/// wheel, in order; a wheel's modules are sorted by path.
pub fn scan_wheels(paths: &[PathBuf], threads: usize) -> Vec<Result<Vec<ModuleAbi>, ScanError>> {
    let mut results: Vec<Result<Vec<ModuleAbi>, ScanError>> = Vec::with_capacity(paths.len());
    let mut work: Vec<(usize, Entry)> = Vec::new();
    for (index, path) in paths.iter().enumerate() {
        match read_directory(path) {
            Ok(entries) => {
                work.extend(
                    entries
                        .into_iter()
                        .filter(|entry| is_extension_module(&entry.name))
                        .map(|entry| (index, entry)),
                );
                results.push(Ok(Vec::new()));
            }
            Err(error) => results.push(Err(error)),
        }
    }
    work.sort_by_key(|(_, entry)| std::cmp::Reverse(entry.compressed_len));
    let next = AtomicUsize::new(0);
    let results = Mutex::new(results);
    let workers = threads.clamp(1, work.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let item = next.fetch_add(1, Ordering::Relaxed);
                    let Some((index, entry)) = work.get(item) else {
                        break;
                    };
                    let outcome = classify_entry(&paths[*index], entry);
                    // A poisoned lock means another worker panicked; its panic is re-raised by the scope.
                    let Ok(mut results) = results.lock() else {
                        break;
                    };
                    match (&mut results[*index], outcome) {
                        (Ok(modules), Ok(class)) => modules.push(ModuleAbi {
                            path: entry.name.clone(),
                            class,
                        }),
                        (slot @ Ok(_), Err(error)) => *slot = Err(error),
                        (Err(_), _) => {}
                    }
                }
            });
        }
    });
    let mut results = results
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    for modules in results.iter_mut().flatten() {
        modules.sort_by(|a, b| a.path.cmp(&b.path));
    }
    results
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::zip::tests::build_zip as zip;

    #[test]
    fn scans_stored_and_deflated_modules_and_skips_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        // Marker strings padded with enough filler to span several inflate and search chunks.
        let filler = vec![b'.'; 300_000];
        let v1 = [
            &filler[..],
            b"\0numpy.core._multiarray_umath\0",
            &filler[..],
        ]
        .concat();
        let v2 = [
            &filler[..],
            b"numpy._core._multiarray_umath\0numpy.core._multiarray_umath",
        ]
        .concat();
        let wheel = dir
            .path()
            .join("demo-1.0-cp311-cp311-manylinux_2_17_x86_64.whl");
        std::fs::write(
            &wheel,
            zip(&[
                ("demo/__init__.py", b"import numpy", true),
                ("demo/_old.cpython-311-x86_64-linux-gnu.so", &v1, true),
                ("demo/_new.cpython-311-x86_64-linux-gnu.so", &v2, false),
                ("demo/_plain.abi3.so", b"\x7fELF PyInit__plain", true),
                // A vendored library is not scanned, even with a marker inside.
                ("demo.libs/libfoo-1234.so", &v1, true),
                ("demo-1.0.dist-info/METADATA", b"Name: demo", true),
            ]),
        )
        .unwrap();
        let damaged = dir.path().join("damaged-1.0-py3-none-any.whl");
        std::fs::write(&damaged, b"PK\x03\x04 not really a zip").unwrap();
        let missing = dir.path().join("missing-1.0-py3-none-any.whl");

        let results = scan_wheels(&[wheel, damaged, missing], 3);
        let modules = results[0].as_ref().unwrap();
        let classes: Vec<(&str, ModuleClass)> =
            modules.iter().map(|m| (m.path.as_str(), m.class)).collect();
        assert_eq!(
            classes,
            [
                (
                    "demo/_new.cpython-311-x86_64-linux-gnu.so",
                    ModuleClass::NumpyV2
                ),
                (
                    "demo/_old.cpython-311-x86_64-linux-gnu.so",
                    ModuleClass::NumpyV1
                ),
                ("demo/_plain.abi3.so", ModuleClass::None),
            ]
        );
        assert_error(&results[1], |e| matches!(e, ScanError::Zip { .. }));
        assert_error(&results[2], |e| matches!(e, ScanError::Io { .. }));
    }

    #[test]
    fn a_module_that_lies_about_its_size_or_does_not_inflate_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let content = [b'x'; 5000];
        // The central directory claims 100 bytes more than the module has.
        let mut lying = zip(&[("demo/_x.so", &content, true)]);
        let directory =
            u32::from_le_bytes(lying[lying.len() - 6..lying.len() - 2].try_into().unwrap());
        let field = directory as usize + 24;
        lying[field..field + 4].copy_from_slice(&(content.len() as u32 + 100).to_le_bytes());
        // Deflate data replaced by bytes that are no deflate stream.
        let mut garbage = zip(&[("demo/_x.so", &content, true)]);
        let data = 30 + "demo/_x.so".len();
        garbage[data..data + 8].copy_from_slice(&[0xff; 8]);
        let paths: Vec<PathBuf> = [("lying", lying), ("garbage", garbage)]
            .into_iter()
            .map(|(name, bytes)| {
                let path = dir.path().join(format!("{name}-1.0-py3-none-any.whl"));
                std::fs::write(&path, bytes).unwrap();
                path
            })
            .collect();
        let results = scan_wheels(&paths, 2);
        assert_error(&results[0], |e| matches!(e, ScanError::Zip { .. }));
        assert_error(&results[1], |e| matches!(e, ScanError::Inflate { .. }));
    }

    fn assert_error(result: &Result<Vec<ModuleAbi>, ScanError>, expected: fn(&ScanError) -> bool) {
        assert!(result.as_ref().is_err_and(expected), "{result:?}");
    }

    #[test]
    fn extension_modules_exclude_vendored_libraries() {
        assert!(is_extension_module(
            "pandas/_libs/algos.cpython-311-x86_64-linux-gnu.so"
        ));
        assert!(is_extension_module(
            "deepspeech/_impl.cpython-39-x86_64-linux-gnu.so"
        ));
        assert!(is_extension_module("pkg/_speedups.abi3.so"));
        assert!(is_extension_module("pkg/_win.cp311-win_amd64.PYD"));
        assert!(!is_extension_module(
            "scipy.libs/libopenblasp-r0-23e5df77.3.21.dev.so"
        ));
        assert!(!is_extension_module("numpy/.libs/libgfortran.so"));
        assert!(!is_extension_module("pandas/_libs/algos.pyx"));
        assert!(!is_extension_module(
            "opencv_python_headless.libs/libavcodec-9aae2a9b.so.59.37.100"
        ));
    }
}
