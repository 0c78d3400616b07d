//! An image to lock, from its config (or ad hoc flags) to the files its lock consists of. The CLI and
//! `check` (and through it the server's check) call this, so they cannot disagree about what a lock
//! should contain.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use jiff::Timestamp;

use crate::abi::{AbiError, AbiOptions, AbiReport};
use crate::apt::{APT_LOCK_FILE, AptError, AptLock, ArchiveClient, Suite};
use crate::config::{Config, ImageConfig};
use crate::diagnose::{
    self, AbiDiagnoseContext, AbiDiagnoseError, DiagnoseContext, Diagnosis, Phase,
};
use crate::index::{IndexClient, IndexSettings};
use crate::lock::{
    Lock, LockContext, LockTarget, input_hash, input_part_hashes, pylock_toml, requirements_txt,
};
use crate::plan::{PlanError, PlanSettings};
use crate::requirements::{self, RequirementsError, RequirementsInput};
use crate::resolve::{
    Resolution, ResolveError, ResolveOptions, Resolver, SdistPolicy, Target, Via,
};
use crate::sbom::{SBOM_FILE, SbomError, SbomOutput};
use crate::tags::{Platform, PythonVersion};
use crate::verify::{VerifyError, hash_unhashed};

/// Everything needed to lock one image.
#[derive(Debug, Clone)]
pub struct ImageJob {
    pub name: String,
    /// The folder the config's paths are relative to (empty for ad hoc runs and a config in the
    /// current folder). Paths written into the lock are relative to it, so a lock does not depend on the
    /// folder `resolve` ran from.
    pub root: PathBuf,
    pub python: PythonVersion,
    /// `(oci name, platform)` pairs.
    pub platforms: Vec<(String, Platform)>,
    /// The requirements input, as a path the user would type.
    pub requirements: PathBuf,
    /// Where to write requirements.txt; `None` when not asked for (ad hoc to stdout, or pylock only).
    pub requirements_txt: Option<PathBuf>,
    /// Where to write pylock.toml; `None` when not asked for.
    pub pylock_toml: Option<PathBuf>,
    pub index_url: String,
    pub exclude_newer: Option<Timestamp>,
    pub allow_sdist: SdistPolicy,
    /// Canonical config text that feeds the input hash.
    pub canonical_config: String,
    /// The regenerating command for the header.
    pub command: String,
    /// The build plan written beside the lock (`build-plan.json`, `docker-bake.json`); `None` for ad
    /// hoc runs and for images without `base-image`.
    pub plan: Option<PlanSettings>,
    /// The CycloneDX SBOM written beside the lock; `None` for ad hoc runs.
    pub sbom: Option<SbomOutput>,
    /// What to do with a file the index lists without a sha256: `true` (ad hoc, as pip-compile does)
    /// downloads and hashes it; `false` (the config's images, whose index must vouch for every file)
    /// refuses the lock.
    pub hash_unhashed: bool,
    /// The Debian packages locked into `apt.lock` beside the lock; `None` for ad hoc runs and for
    /// images without `base-image` or `apt-packages`.
    pub apt: Option<AptJob>,
}

/// The Debian half of an image's lock: what to resolve, from where, into which file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AptJob {
    /// The config's `apt-packages`.
    pub requested: Vec<String>,
    /// The suites to resolve from, in priority order.
    pub suites: Vec<Suite>,
    /// Debian architectures of the image's platforms, in the config's order.
    pub architectures: Vec<String>,
    /// `locks/<image>/apt.lock`.
    pub path: PathBuf,
}

impl AptJob {
    /// The job for `image` of `config`, when it installs Debian packages into a built image.
    pub fn from_config(config: &Config, image: &ImageConfig) -> Option<AptJob> {
        if image.build.base_image.is_none() || image.build.apt_packages.is_empty() {
            return None;
        }
        let mut architectures: Vec<String> = Vec::new();
        for platform in &image.platforms {
            if let Some(arch) = crate::apt::debian_arch(&platform.oci)
                && !architectures.iter().any(|seen| seen == arch)
            {
                architectures.push(arch.to_string());
            }
        }
        Some(AptJob {
            requested: image.build.apt_packages.clone(),
            suites: crate::apt::suites(&config.apt),
            architectures,
            path: config_path(config, &image.output).join(APT_LOCK_FILE),
        })
    }

    /// Resolve and render `apt.lock`, from the archive (or, offline, from the cache).
    ///
    /// # Errors
    ///
    /// [`AptError`]: network, signature, hash or resolution failures.
    pub async fn lock(&self, image: &str, settings: &IndexSettings) -> Result<AptLock, AptError> {
        let client = ArchiveClient::new(&settings.cache_dir, settings.offline)?;
        let archs: Vec<&str> = self.architectures.iter().map(String::as_str).collect();
        crate::apt::lock(&client, image, &self.suites, &self.requested, &archs).await
    }
}

/// A resolved image and the text of each output file.
#[derive(Debug, Clone)]
pub struct LockedImage {
    pub job: ImageJob,
    pub resolution: Resolution,
    pub lock: Lock,
    /// `(path, contents)` for each output.
    pub outputs: Vec<(PathBuf, String)>,
}

/// Why an image could not be locked.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error(transparent)]
    Requirements(#[from] RequirementsError),
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Sbom(#[from] SbomError),
    #[error("the numpy ABI check of `{image}` failed")]
    Abi {
        image: String,
        #[source]
        source: AbiDiagnoseError,
    },
    /// Files the index lists without a sha256, in a lock that must be pinned by the index's hashes.
    #[error(
        "the index lists no sha256 for {} of `{image}`: its lock cannot pin them; serve hashes from the \
         index (PEP 503 `#sha256=` fragments, PEP 691 `hashes`), or lock with `-r`, which downloads and \
         hashes such files",
        files.iter().map(|file| format!("`{file}`")).collect::<Vec<_>>().join(", ")
    )]
    MissingHash { image: String, files: Vec<String> },
    /// A file the index lists without a hash could not be downloaded to hash it.
    #[error(transparent)]
    Hash(#[from] VerifyError),
    /// The image's Debian packages cannot be locked.
    #[error("the Debian packages of `{image}` cannot be locked")]
    Apt {
        image: String,
        #[source]
        source: AptError,
    },
}

/// Join a config-relative path without a leading `./`, so that messages show paths as written.
/// `path` relative to `root` when it lies below it (an empty root or another path: `path` itself).
fn relative_to<'a>(root: &Path, path: &'a Path) -> &'a Path {
    if root.as_os_str().is_empty() {
        return path;
    }
    path.strip_prefix(root).unwrap_or(path)
}

pub fn config_path(config: &Config, relative: &Path) -> PathBuf {
    if config.root.as_os_str().is_empty() || config.root == Path::new(".") {
        relative.to_path_buf()
    } else {
        config.root.join(relative)
    }
}

impl ImageJob {
    /// The job for one `[[image]]` of the config; `index_url`/`exclude_newer` are the effective values
    /// after command-line overrides.
    pub fn from_config(
        config: &Config,
        image: &ImageConfig,
        index_url: &str,
        exclude_newer: Option<Timestamp>,
        requirements_txt: Option<PathBuf>,
    ) -> ImageJob {
        let output = config_path(config, &image.output);
        let requirements_txt = requirements_txt.unwrap_or_else(|| output.join("requirements.txt"));
        let root = config.root.clone();
        // As run from the config's folder, whichever folder it was run from.
        let relative = |path: &Path| relative_to(&root, path).to_path_buf();
        let mut command = String::from("fave-lock resolve");
        let config_file = relative(&config.path);
        if config_file != Path::new("fave-lock.toml") {
            command.push_str(&format!(" --config={}", config_file.display()));
        }
        command.push_str(&format!(
            " --image={} --output-file={}",
            image.name,
            relative(&requirements_txt).display()
        ));
        ImageJob {
            name: image.name.clone(),
            root: root.clone(),
            python: image.python_version,
            platforms: image
                .platforms
                .iter()
                .map(|p| (p.oci.clone(), p.platform))
                .collect(),
            requirements: config_path(config, &image.requirements),
            requirements_txt: Some(requirements_txt),
            pylock_toml: Some(output.join("pylock.toml")),
            index_url: index_url.to_string(),
            exclude_newer,
            allow_sdist: SdistPolicy {
                all: image.allow_all_sdists,
                ..SdistPolicy::only(image.allow_sdist.iter().cloned())
            },
            canonical_config: image.canonical.clone(),
            command,
            plan: PlanSettings::from_config(config, image),
            sbom: Some(SbomOutput {
                path: output.join(SBOM_FILE),
                timestamp: None,
            }),
            hash_unhashed: false,
            apt: AptJob::from_config(config, image),
        }
    }

    /// The image's requirements, checked against the index it resolves from.
    pub fn read_input(&self) -> Result<RequirementsInput, RequirementsError> {
        let input = requirements::read(&self.requirements)?;
        input.check_index_url(&self.index_url)?;
        Ok(input)
    }

    /// A resolver for this image's targets and policy, with `input`'s own options (`--pre`, `--hash`,
    /// `--only-binary`) applied.
    pub fn resolver(&self, client: Arc<IndexClient>, input: &RequirementsInput) -> Resolver {
        let targets: Vec<Target> = self
            .platforms
            .iter()
            .map(|(oci, platform)| Target::new(oci, self.python, *platform))
            .collect();
        Resolver::new(client, targets, self.resolve_options(input))
    }

    fn resolve_options(&self, input: &RequirementsInput) -> ResolveOptions {
        ResolveOptions {
            exclude_newer: self.exclude_newer,
            allow_sdist: self.allow_sdist.clone(),
            ..ResolveOptions::default()
        }
        .with_input(input)
    }

    /// Explain why this image's input does not resolve, within `budget` (see
    /// [`DiagnoseContext::budget`]), telling `phase` what it is doing.
    /// `resolver` is the one whose resolve failed: what it fetched and built is reused.
    pub async fn diagnose(
        &self,
        resolver: &Resolver,
        input: &RequirementsInput,
        budget: Option<std::time::Duration>,
        phase: Phase,
    ) -> Result<Diagnosis, ImageError> {
        let context = DiagnoseContext {
            budget,
            phase,
            image: self.name.clone(),
            options: self.resolve_options(input),
            requirements_path: self.requirements.clone(),
            // Only an ad hoc job has no config to record.
            ad_hoc: self.canonical_config.is_empty(),
        };
        Ok(diagnose::diagnose(resolver, input, &context).await?)
    }

    /// The report of the numpy ABI check of a lock this job produced (the pipeline starts the check
    /// as soon as the lock is known), and when it found problems, their diagnosis with checked fixes.
    pub async fn diagnose_abi(
        &self,
        client: Arc<IndexClient>,
        locked: &LockedImage,
        report: Result<AbiReport, AbiError>,
        options: &AbiOptions,
    ) -> Result<(AbiReport, Option<Diagnosis>), ImageError> {
        let abi_error = |source: AbiDiagnoseError| ImageError::Abi {
            image: self.name.clone(),
            source,
        };
        let report = report.map_err(|error| abi_error(error.into()))?;
        if report.problems.is_empty() {
            return Ok((report, None));
        }
        let input = self.read_input()?;
        let context = AbiDiagnoseContext {
            lock: &locked.lock.context,
            options,
        };
        let diagnosis =
            diagnose::diagnose_abi(&self.resolver(client, &input), &input, &report, &context)
                .await
                .map_err(abi_error)?;
        Ok((report, Some(diagnosis)))
    }

    /// Read the input, resolve every platform and render the outputs. Writes nothing.
    pub async fn lock(&self, client: Arc<IndexClient>) -> Result<LockedImage, ImageError> {
        let input = self.read_input()?;
        self.lock_with(&self.resolver(client, &input), &input).await
    }

    /// [`ImageJob::lock`] of `input` (this job's, as read) with `resolver` (this job's for it), which
    /// the caller keeps for a diagnosis when the resolve fails.
    pub async fn lock_with(
        &self,
        resolver: &Resolver,
        input: &RequirementsInput,
    ) -> Result<LockedImage, ImageError> {
        let client = resolver.client();
        let offline = client.settings().offline;
        let mut resolution = resolver.resolve(input).await?;
        self.pin_unhashed(&client, &mut resolution).await?;
        let context = LockContext {
            image: self.name.clone(),
            python: self.python,
            targets: self
                .platforms
                .iter()
                .map(|(oci, platform)| LockTarget {
                    oci: oci.clone(),
                    platform: *platform,
                })
                .collect(),
            index_url: self.index_url.clone(),
            exclude_newer: self.exclude_newer,
            input_hash: self.input_hash(input)?,
            inputs: self.input_hashes(input)?,
            command: self.command.clone(),
        };
        let mut lock = Lock::new(&resolution, context);
        for package in &mut lock.packages {
            package.via = std::mem::take(&mut package.via)
                .into_iter()
                .map(|via| match via {
                    Via::Input(path) => Via::Input(relative_to(&self.root, &path).to_path_buf()),
                    other => other,
                })
                .collect();
        }
        let mut outputs = Vec::new();
        if let Some(path) = &self.requirements_txt {
            outputs.push((path.clone(), requirements_txt(&lock)));
        }
        if let Some(path) = &self.pylock_toml {
            outputs.push((path.clone(), pylock_toml(&lock)));
        }
        // Before the plan, which hashes it and installs its versions.
        let mut plan_settings = self.plan.clone();
        if let Some(apt) = &self.apt {
            let apt_lock = apt
                .lock(&self.name, client.settings())
                .await
                .map_err(|source| ImageError::Apt {
                    image: self.name.clone(),
                    source,
                })?;
            if let Some(plan) = &mut plan_settings {
                let archs: Vec<&str> = apt.architectures.iter().map(String::as_str).collect();
                plan.apt_pins = Some(apt_lock.install_args(&archs));
                plan.apt_sources = Some(apt_lock.sources());
            }
            outputs.push((apt.path.clone(), apt_lock.to_toml()));
        }
        // The plan hashes every lock file exactly as written, and the SBOM records the plan's base
        // image digest: plan once for the SBOM, then again (same base image) with the SBOM hashed in.
        let mut base_image = None;
        if let Some(plan) = &plan_settings {
            let (base, warnings) = plan.pin_base_image_from_registry(offline).await;
            resolution.warnings.extend(warnings);
            plan.replace_files(&lock, &mut outputs, base.clone())?;
            base_image = Some(base);
        }
        // After the plan, whose base image digest it records.
        if let Some(sbom) = &self.sbom {
            let text = crate::sbom::render_for_lock(&client, &lock, sbom, &outputs).await?;
            outputs.push((sbom.path.clone(), text));
        }
        if let (Some(plan), Some(base)) = (&plan_settings, base_image) {
            plan.replace_files(&lock, &mut outputs, base)?;
        }
        Ok(LockedImage {
            job: self.clone(),
            resolution,
            lock,
            outputs,
        })
    }

    /// Make sure every file of `resolution` has a sha256 before a lock is built from it: hash the files
    /// the index gave none for, or refuse them (see [`ImageJob::hash_unhashed`]).
    async fn pin_unhashed(
        &self,
        client: &IndexClient,
        resolution: &mut Resolution,
    ) -> Result<(), ImageError> {
        if self.hash_unhashed {
            let hashed = hash_unhashed(client, resolution).await?;
            if !hashed.is_empty() {
                resolution.warnings.push(format!(
                    "the index lists no sha256 for {}: downloaded them and pinned the hash of their bytes",
                    hashed.join(", ")
                ));
            }
            return Ok(());
        }
        let mut files: Vec<String> = resolution
            .targets
            .iter()
            .flat_map(|target| target.packages.values())
            .filter(|package| package.file.sha256.is_none())
            .map(|package| package.file.filename.clone())
            .collect();
        files.sort();
        files.dedup();
        if files.is_empty() {
            Ok(())
        } else {
            Err(ImageError::MissingHash {
                image: self.name.clone(),
                files,
            })
        }
    }

    /// Hash of the config section, the effective index and cutoff, the platforms and every input file.
    pub fn input_hash(&self, input: &RequirementsInput) -> Result<String, RequirementsError> {
        let parts = self.input_parts(input)?;
        Ok(input_hash(
            parts
                .iter()
                .map(|(name, bytes)| (name.as_str(), bytes.as_slice())),
        ))
    }

    /// The sha256 of each part of [`ImageJob::input_hash`], by part name.
    pub fn input_hashes(
        &self,
        input: &RequirementsInput,
    ) -> Result<std::collections::BTreeMap<String, String>, RequirementsError> {
        let parts = self.input_parts(input)?;
        Ok(input_part_hashes(
            parts
                .iter()
                .map(|(name, bytes)| (name.as_str(), bytes.as_slice())),
        ))
    }

    /// The named parts the input hash is made of, in order: `settings` (image, Python, platforms,
    /// index, cutoff, sdist policy), `config` (the image's canonical config section) and one
    /// `file <path>` per input file.
    fn input_parts(
        &self,
        input: &RequirementsInput,
    ) -> Result<Vec<(String, Vec<u8>)>, RequirementsError> {
        let mut contents = Vec::new();
        for path in &input.files {
            let bytes = crate::fs::read_input(path).map_err(|source| RequirementsError::Io {
                path: path.clone(),
                source: source.into(),
            })?;
            let shown = relative_to(&self.root, path);
            contents.push((format!("file {}", shown.display()), bytes));
        }
        let platforms: Vec<String> = self
            .platforms
            .iter()
            .map(|(oci, p)| format!("{oci}={p}"))
            .collect();
        let settings = format!(
            "image={}\npython={}\nplatforms={}\nindex-url={}\nexclude-newer={}\nallow-sdist={}\n",
            self.name,
            self.python,
            platforms.join(","),
            self.index_url,
            self.exclude_newer
                .map(|t| t.to_string())
                .unwrap_or_default(),
            // The list's Debug form, as before `all` existed, so existing locks keep their hash.
            if self.allow_sdist.all {
                "all".to_string()
            } else {
                format!(
                    "{:?}",
                    self.allow_sdist
                        .packages
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                )
            },
        );
        let mut parts = vec![
            ("settings".to_string(), settings.into_bytes()),
            (
                "config".to_string(),
                self.canonical_config.clone().into_bytes(),
            ),
        ];
        parts.extend(contents);
        Ok(parts)
    }
}
