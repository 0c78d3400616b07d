//! The plan in the forms build tools take: `--build-arg`/`--label` flags for a shell, and a docker
//! buildx bake file.

use std::collections::BTreeMap;

use serde::Serialize;

use super::error::PlanError;
use super::label;
use super::model::BuildPlan;

/// `--build-arg 'NAME=value'` flags, shell-quoted, one per line joined by ` \` continuations, so the
/// text works pasted into a shell and in `eval "buildah bud $(fave-lock plan IMAGE --format build-args) …"`
/// or `eval "args=($(…))"`.
pub fn build_arg_flags(plan: &BuildPlan) -> String {
    flags("--build-arg", &plan.build_args)
}

/// `--label 'key=value'` flags, shell-quoted, joined like [`build_arg_flags`].
pub fn label_flags(plan: &BuildPlan) -> String {
    flags("--label", &plan.labels)
}

fn flags(flag: &str, values: &BTreeMap<String, String>) -> String {
    let lines: Vec<String> = values
        .iter()
        .map(|(key, value)| format!("{flag} {}", shell_quote(&format!("{key}={value}"))))
        .collect();
    if lines.is_empty() {
        String::new()
    } else {
        format!("{}\n", lines.join(" \\\n"))
    }
}

/// `text` as one word for a POSIX shell: as is when it has only characters no shell treats
/// specially, else in single quotes (a `'` inside becomes `'\''`).
pub fn shell_quote(text: &str) -> String {
    let is_plain = |byte: u8| byte.is_ascii_alphanumeric() || b"_-+=:,./@%".contains(&byte);
    if !text.is_empty() && text.bytes().all(is_plain) {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

impl BuildPlan {
    /// The plan with `org.opencontainers.image.revision` and the `REVISION` build arg set: the commit
    /// is known at build time only, so the committed plan has neither.
    ///
    /// # Errors
    ///
    /// [`PlanError::BadRevision`] for text that cannot be a commit id.
    pub fn with_revision(mut self, revision: &str) -> Result<BuildPlan, PlanError> {
        let valid = !revision.is_empty()
            && revision.len() <= 128
            && revision
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || b"._-".contains(&byte));
        if !valid {
            return Err(PlanError::BadRevision {
                revision: revision.to_string(),
            });
        }
        for map in [&mut self.labels, &mut self.annotations] {
            map.insert(label::REVISION.to_string(), revision.to_string());
        }
        self.build_args
            .insert("REVISION".to_string(), revision.to_string());
        Ok(self)
    }
}

/// A docker buildx bake file: JSON with fields in alphabetical order (see [`BuildPlan`]).
#[derive(Serialize)]
struct Bake {
    group: BTreeMap<String, Group>,
    target: BTreeMap<String, Target>,
}

#[derive(Serialize)]
struct Group {
    targets: Vec<String>,
}

#[derive(Serialize)]
struct Target {
    /// `key=value`, applied to the image manifest.
    annotations: Vec<String>,
    args: BTreeMap<String, String>,
    /// Relative to the directory bake runs in: the repository root.
    context: String,
    /// Relative to the context.
    dockerfile: String,
    labels: BTreeMap<String, String>,
    platforms: Vec<String>,
    tags: Vec<String>,
}

/// The bake file for `plan`: one target named after the image, in the `default` group. Run from the
/// repository root after copying the plan's `context_files` into the context.
pub fn bake_json(plan: &BuildPlan) -> String {
    let dockerfile = plan
        .dockerfile
        .strip_prefix(&format!("{}/", plan.context))
        .unwrap_or(&plan.dockerfile)
        .to_string();
    let target = Target {
        annotations: plan
            .annotations
            .iter()
            .map(|(key, value)| format!("{key}={value}"))
            .collect(),
        args: plan.build_args.clone(),
        context: plan.context.clone(),
        dockerfile,
        labels: plan.labels.clone(),
        platforms: plan.platforms.clone(),
        tags: plan.tags.clone(),
    };
    let bake = Bake {
        group: BTreeMap::from([(
            "default".to_string(),
            Group {
                targets: vec![plan.image.clone()],
            },
        )]),
        target: BTreeMap::from([(plan.image.clone(), target)]),
    };
    let mut text = serde_json::to_string_pretty(&bake).unwrap_or_default();
    text.push('\n');
    text
}
