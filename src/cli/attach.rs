//! `fave-lock attach IMAGE REFERENCE`: push the image's SBOM (`locks/<image>/sbom.cdx.json`) to the
//! registry as an OCI 1.1 artifact referring to the image `REFERENCE` names.

use anyhow::Context;
use jiff::Timestamp;

use fave_lock::attach::{AttachError, attach, read_local};
use fave_lock::config;
use fave_lock::image::ImageJob;
use fave_lock::registry::{CredentialStore, ReferrersSource, RegistryClient, RegistryOptions};

use super::{ExitStatus, Format};

/// `fave-lock attach`.
#[derive(Debug, Clone, clap::Args)]
pub struct AttachArgs {
    /// The image, by its name in the config: its SBOM and lock are read from its lock folder.
    #[arg(value_name = "IMAGE")]
    pub image: String,
    /// The pushed image to attach the SBOM to: `HOST[:PORT]/PATH:TAG` or `…@sha256:…`; the SBOM
    /// refers to the manifest (or multi-platform index) it names.
    #[arg(value_name = "REFERENCE")]
    pub reference: String,
    #[command(flatten)]
    pub config: super::args::ConfigArg,
    /// The artifact's `org.opencontainers.image.created` (RFC 3339, a date, or `now`, the default). The
    /// same SBOM attached with the same time is the same artifact, listed once: a CI job can repeat
    /// its attach step without piling up copies.
    #[arg(long, value_name = "TIMESTAMP")]
    pub created: Option<String>,
    /// What to print on stdout: a line, or the result as JSON.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

pub async fn run(args: &AttachArgs) -> anyhow::Result<ExitStatus> {
    let created = match &args.created {
        Some(text) => super::sbom::parse_sbom_timestamp(text).context("--created")?,
        None => Timestamp::now(),
    };
    let config = config::load(&args.config.path)?;
    let image = super::selected_images(&config, std::slice::from_ref(&args.image))?[0];
    let index_url = config.effective_index_url(None);
    let job = ImageJob::from_config(&config, image, &index_url, config.exclude_newer, None);
    let sbom =
        read_local(&job).with_context(|| format!("cannot attach the SBOM of `{}`", args.image))?;
    let client = RegistryClient::new(RegistryOptions {
        insecure: super::check::insecure_registries(&config),
        credentials: CredentialStore::from_environment(),
        ..RegistryOptions::default()
    })?;
    let attached = attach(&client, &args.reference, &sbom, created).await?;
    match args.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&attached).unwrap_or_default()
        ),
        Format::Text => println!(
            "Attached {} to {} as {} (listed by the registry's {})",
            sbom.path.display(),
            attached.subject,
            attached.artifact,
            match attached.listed_in {
                ReferrersSource::Api => "referrers API".to_string(),
                ReferrersSource::TagSchema => format!(
                    "referrers tag {}",
                    attached
                        .subject
                        .rsplit_once('@')
                        .map_or(String::new(), |(_, digest)| digest.replacen(':', "-", 1))
                ),
            }
        ),
    }
    Ok(ExitStatus::Success)
}

/// Whether `error` is an attach integrity failure (exit 3).
pub fn is_integrity(error: &anyhow::Error) -> bool {
    error
        .downcast_ref::<AttachError>()
        .is_some_and(AttachError::is_integrity)
}
