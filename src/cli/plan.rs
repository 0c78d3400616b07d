//! `fave-lock plan IMAGE`: print the image's build plan (written by `resolve`) as JSON, `--build-arg`
//! flags or `--label` flags, after checking the lock files still match it.

use anyhow::Context;
use clap::ValueEnum;

use fave_lock::config;
use fave_lock::plan::{
    BuildPlan, PlanSettings, bake_json, build_arg_flags, label_flags, read_checked,
};

use super::ExitStatus;

/// `fave-lock plan`.
#[derive(Debug, Clone, clap::Args)]
pub struct PlanArgs {
    /// The image, by its name in the config.
    #[arg(value_name = "IMAGE")]
    pub image: String,
    #[command(flatten)]
    pub config: super::args::ConfigArg,
    /// What to print.
    #[arg(long, value_enum, default_value_t = PlanFormat::Json)]
    pub format: PlanFormat,
    /// The commit being built: adds the `org.opencontainers.image.revision` label and the `REVISION`
    /// build arg, which the committed plan cannot hold.
    #[arg(long, value_name = "COMMIT")]
    pub revision: Option<String>,
}

/// Output forms of `fave-lock plan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    /// The plan as in `build-plan.json`.
    Json,
    /// `--build-arg 'NAME=value'` lines, shell-quoted: `eval "args=($(fave-lock plan IMAGE --format build-args))"`.
    BuildArgs,
    /// `--label 'key=value'` lines, shell-quoted.
    Labels,
    /// The docker buildx bake file, as in `docker-bake.json`.
    Bake,
}

pub fn run(args: &PlanArgs) -> anyhow::Result<ExitStatus> {
    let config = config::load(&args.config.path)?;
    let Some(image) = config.images.iter().find(|image| image.name == args.image) else {
        let known: Vec<&str> = config
            .images
            .iter()
            .map(|image| image.name.as_str())
            .collect();
        usage_error!(
            "no image `{}` in {} (images: {})",
            args.image,
            args.config.path.display(),
            known.join(", ")
        );
    };
    let Some(settings) = PlanSettings::from_config(&config, image) else {
        usage_error!(
            "image `{}` has no `base-image` in {}, so it has no build plan",
            args.image,
            args.config.path.display()
        );
    };
    let mut plan: BuildPlan = read_checked(&settings)?;
    if let Some(revision) = &args.revision {
        plan = plan.with_revision(revision).context("--revision")?;
    }
    let text = match args.format {
        PlanFormat::Json => plan.to_json(),
        PlanFormat::BuildArgs => build_arg_flags(&plan),
        PlanFormat::Labels => label_flags(&plan),
        PlanFormat::Bake => bake_json(&plan),
    };
    print!("{text}");
    Ok(ExitStatus::Success)
}
