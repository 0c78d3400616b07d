//! `locks/<image>/sbom.cdx.json`: the image's software bill of materials, CycloneDX 1.5 JSON written
//! through the `cyclonedx-bom` crate, from the [`Lock`] (never from a resolution, so `resolve` and
//! `fave-lock sbom` on the committed lock give the same bytes).
//!
//! ```text
//! Lock ─┬─ fetch_metadata (IndexClient::metadata, disk-cached) ─▶ license.rs, spelled names
//!       ├─ requirements.txt beside it (`# via -r`: the declared requirements, when read from disk)
//!       ├─ plan_facts.rs (build-plan.json: base image digest, image tag)
//!       ├─ system.rs (OS packages, when someone hands them over)
//!       └─▶ bom.rs (package_url.rs) ─▶ JSON without serial ─sha256─▶ UUID ─▶ JSON with serial
//! ```
//!
//! Deterministic: no timestamp unless one is given, and the serial number is a UUID (version 8, RFC 9562)
//! made from the SHA-256 of the BOM's own JSON without the serial. It is derived from the whole content
//! rather than from the lock alone, because the SBOM also holds licenses and the base image digest: a
//! changed digest must give a different serial, and identical content always gives the same one.
//!
//! What `cyclonedx-bom` 0.8 cannot express cleanly: it writes spec 1.3 to 1.5 only (no 1.6), and its
//! `Purl::new` takes no qualifiers, so purls are written by `package_url.rs` and wrapped.

mod bom;
mod deb_license;
mod license;
mod package_url;
mod plan_facts;
mod system;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cyclonedx_bom::models::bom::UrnUuid;
use futures::{StreamExt, TryStreamExt};
use jiff::Timestamp;
use sha2::{Digest, Sha256};

pub use license::{declares_license, licenses};
pub use package_url::{PackageUrl, pypi_purl_name};
pub use plan_facts::PlanFacts;
pub use system::SystemPackage;

use crate::index::{CoreMetadata, IndexClient, IndexError};
use crate::lock::Lock;

/// File name of the SBOM inside the image's lock folder.
pub const SBOM_FILE: &str = "sbom.cdx.json";

/// File name of the pip lock whose `# via` comments say which requirements the input declared.
const REQUIREMENTS_FILE: &str = "requirements.txt";

/// Why an SBOM cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum SbomError {
    /// A package's core metadata (for its license) could not be fetched.
    #[error("cannot get the metadata of `{file}` for its license")]
    Metadata {
        file: String,
        #[source]
        source: IndexError,
    },
    /// The build plan or the `requirements.txt` beside the lock exists but cannot be read.
    #[error("cannot read `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The build plan is not what `plan` writes.
    #[error("{}: {message}", path.display())]
    BuildPlan { path: PathBuf, message: String },
    /// The `apt.lock` beside the SBOM does not parse (the error names the file and the fix).
    #[error(transparent)]
    AptLock(Box<crate::apt::AptError>),
    /// The licenses of the Debian packages cannot be read (a `.deb` cannot be fetched, is not the
    /// locked one, or cannot be read).
    #[error("cannot read the licenses of the Debian packages")]
    DebianLicenses(#[source] Box<crate::apt::AptError>),
    /// `cyclonedx-bom` refused the model (a bug, or a value no CycloneDX field accepts).
    #[error("cannot write the CycloneDX document: {0}")]
    Render(String),
}

impl SbomError {
    /// Whether this is an integrity failure (exit 3): a `.deb` that is not the locked one.
    pub fn is_integrity(&self) -> bool {
        matches!(self, SbomError::DebianLicenses(error) if error.is_integrity())
    }
}

/// Where to write an image's SBOM, and whether to stamp it with a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SbomOutput {
    /// `locks/<image>/sbom.cdx.json`.
    pub path: PathBuf,
    /// `metadata.timestamp`; `None` keeps the file byte-identical run to run.
    pub timestamp: Option<Timestamp>,
}

impl SbomOutput {
    /// The build plan beside the SBOM, which may hold the base image digest.
    pub fn plan_path(&self) -> PathBuf {
        self.path.with_file_name(crate::plan::PLAN_FILE)
    }

    /// The apt lock beside the SBOM: the image's Debian packages, when it installs any.
    pub fn apt_lock_path(&self) -> PathBuf {
        self.path.with_file_name(crate::apt::APT_LOCK_FILE)
    }

    /// The `requirements.txt` beside the SBOM, written from the same lock.
    pub fn requirements_path(&self) -> PathBuf {
        self.path.with_file_name(REQUIREMENTS_FILE)
    }
}

/// Everything an SBOM is made from.
#[derive(Debug, Clone, Copy)]
pub struct SbomInput<'a> {
    pub lock: &'a Lock,
    /// Core metadata by file URL (see [`fetch_metadata`]); a package whose file is missing here gets no
    /// license.
    pub metadata: &'a BTreeMap<String, Arc<CoreMetadata>>,
    pub plan: &'a PlanFacts,
    /// OS packages installed in the image (from the apt lock); empty when not known.
    pub system_packages: &'a [SystemPackage],
    pub timestamp: Option<Timestamp>,
}

/// The CycloneDX 1.5 JSON document, with a final newline.
pub fn cyclonedx_json(input: &SbomInput<'_>) -> Result<String, SbomError> {
    let mut bom = bom::build(input)?;
    let unnumbered = to_json(bom.clone())?;
    bom.serial_number = Some(serial_number(unnumbered.as_bytes()));
    to_json(bom)
}

/// Fetch the core metadata of each package's chosen file (the one its component stands for), by URL.
/// Cheap after a resolve: the index client keeps metadata on disk.
pub async fn fetch_metadata(
    client: &Arc<IndexClient>,
    lock: &Lock,
) -> Result<BTreeMap<String, Arc<CoreMetadata>>, SbomError> {
    let tags = lock.context.tags();
    let files: Vec<_> = lock
        .packages
        .iter()
        .map(|package| bom::chosen_file(package, &tags))
        // Owned: a stream over borrowed files makes this future not provably `Send` for every lifetime,
        // which a server task (the lock check runs `resolve` in `tokio::spawn`) needs.
        .cloned()
        .collect();
    let python = lock.context.python;
    futures::stream::iter(files)
        .map(|file| async move {
            let metadata_error = |source| SbomError::Metadata {
                file: file.filename.clone(),
                source,
            };
            // An sdist's metadata is its PKG-INFO or what its build gave: the resolve that locked it
            // cached either, by the sdist's sha256.
            let metadata = if crate::sdist::is_sdist(&file.filename) {
                let settings = crate::sdist::SdistSettings::new(python);
                let bytes = crate::sdist::metadata(client, &file, &settings)
                    .await
                    .map_err(|error| metadata_error(IndexError::Sdist(Box::new(error))))?;
                crate::index::parse_metadata(&bytes)
                    .map(Arc::new)
                    .map_err(|message| {
                        metadata_error(IndexError::Malformed {
                            url: file.url.clone(),
                            message,
                        })
                    })?
            } else {
                client.metadata(&file).await.map_err(metadata_error)?
            };
            Ok::<_, SbomError>((file.url.clone(), metadata))
        })
        .buffer_unordered(16)
        .try_collect()
        .await
}

/// Everything `resolve` and `fave-lock sbom` do: metadata, plan facts and the Debian packages (from
/// the build plan and `apt.lock` beside `output`: as `staged` holds them when they are being written in
/// the same run, else as on disk), the declared requirements (from the lock, or for a lock read from
/// `pylock.toml` from the `requirements.txt` beside `output`), the document.
pub async fn render_for_lock(
    client: &Arc<IndexClient>,
    lock: &Lock,
    output: &SbomOutput,
    staged: &[(PathBuf, String)],
) -> Result<String, SbomError> {
    let restored;
    let lock = if lock.packages.iter().all(|package| package.via.is_empty()) {
        restored = with_via_from(lock, &output.requirements_path())?;
        &restored
    } else {
        lock
    };
    let metadata = fetch_metadata(client, lock).await?;
    let staged_text = |path: &Path| {
        staged
            .iter()
            .find(|(staged, _)| staged == path)
            .map(|(_, text)| text.as_str())
    };
    let plan_path = output.plan_path();
    let plan = match staged_text(&plan_path) {
        Some(text) => PlanFacts::from_json(text).map_err(|message| SbomError::BuildPlan {
            path: plan_path.clone(),
            message,
        })?,
        None => PlanFacts::read(&plan_path)?,
    };
    let apt_path = output.apt_lock_path();
    let apt_text = match staged_text(&apt_path) {
        Some(text) => Some(text.to_string()),
        None => read_if_present(&apt_path)?,
    };
    let system_packages = match apt_text {
        Some(text) => {
            let apt = crate::apt::AptLock::parse(&text, &apt_path)
                .map_err(|error| SbomError::AptLock(Box::new(error)))?;
            let settings = client.settings();
            let licenses = async {
                let archive =
                    crate::apt::ArchiveClient::new(&settings.cache_dir, settings.offline)?;
                crate::apt::licenses(&archive, &apt, &apt_path).await
            }
            .await
            .map_err(|error| SbomError::DebianLicenses(Box::new(error)))?;
            SystemPackage::from_apt_lock(&apt, &licenses)
        }
        None => Vec::new(),
    };
    cyclonedx_json(&SbomInput {
        lock,
        metadata: &metadata,
        plan: &plan,
        system_packages: &system_packages,
        timestamp: output.timestamp,
    })
}

/// The text of the file at `path`, `None` when there is none.
fn read_if_present(path: &Path) -> Result<Option<String>, SbomError> {
    crate::fs::read_optional_input(path).map_err(|source| SbomError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// `lock` with each package's `via` read from the `requirements.txt` at `path`; unchanged when there is
/// none (the SBOM then says less about which requirements were declared).
fn with_via_from(lock: &Lock, path: &Path) -> Result<Lock, SbomError> {
    let mut lock = lock.clone();
    if let Some(text) = read_if_present(path)? {
        lock.restore_via(&text);
    }
    Ok(lock)
}

/// The SBOM path of an image whose lock folder is `lock_dir`.
pub fn sbom_path(lock_dir: &Path) -> PathBuf {
    lock_dir.join(SBOM_FILE)
}

fn to_json(bom: cyclonedx_bom::models::bom::Bom) -> Result<String, SbomError> {
    let mut bytes = Vec::new();
    bom.output_as_json_v1_5(&mut bytes)
        .map_err(|error| SbomError::Render(error.to_string()))?;
    let mut text =
        String::from_utf8(bytes).map_err(|error| SbomError::Render(error.to_string()))?;
    text.push('\n');
    Ok(text)
}

/// `urn:uuid:` + a version 8 UUID from the first 16 bytes of the SHA-256 of `content` (RFC 9562 §5.8
/// allows any custom bytes; the version and variant bits are set over them).
fn serial_number(content: &[u8]) -> UrnUuid {
    let digest = Sha256::digest(content);
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    UrnUuid::from(uuid::Uuid::new_v8(bytes))
}

#[cfg(test)]
mod tests;
