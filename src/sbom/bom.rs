//! The CycloneDX model of one image: built from the lock, the packages' core metadata and the plan's
//! facts, with nothing that depends on the machine or the clock (unless a timestamp is asked for).
//!
//! One component per locked package (name and version), not one per wheel. Vulnerability scanners and
//! license tools match components by purl name and version, so one component per wheel would list
//! numpy twice and count its license twice. The component's purl and hash name the wheel of the first
//! target that installs the package (x86_64 for the base image); every wheel of the package, that one
//! included, is an external reference of type `distribution` with its URL, SHA-256 and target, so no
//! artifact goes unrecorded.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use cyclonedx_bom::external_models::date_time::DateTime;
use cyclonedx_bom::external_models::uri::{Purl, Uri};
use cyclonedx_bom::models::bom::{Bom, SpecVersion};
use cyclonedx_bom::models::component::{Classification, Component, Components};
use cyclonedx_bom::models::dependency::{Dependencies, Dependency};
use cyclonedx_bom::models::external_reference::{
    ExternalReference, ExternalReferenceType, ExternalReferences,
};
use cyclonedx_bom::models::hash::{Hash, HashAlgorithm, HashValue, Hashes};
use cyclonedx_bom::models::metadata::Metadata;
use cyclonedx_bom::models::property::{Properties, Property};
use cyclonedx_bom::models::tool::Tools;
use purl::GenericPurlBuilder;

use super::plan_facts::tag_of;
use super::{SbomError, SbomInput, license};
use crate::index::DistFile;
use crate::lock::{Lock, LockedPackage};
use crate::tags::{Tags, WheelFilename};

/// The bom-ref of the image (`metadata.component`).
fn image_ref(lock: &Lock) -> String {
    format!("image:{}", lock.context.image)
}

/// The bom-ref of the base image component.
const BASE_REF: &str = "base-image";

/// The whole BOM, without a serial number (the caller derives it from this BOM's bytes).
pub(crate) fn build(input: &SbomInput<'_>) -> Result<Bom, SbomError> {
    let lock = input.lock;
    let tags = lock.context.tags();
    let mut components = vec![base_image_component(input)?];
    for package in &lock.packages {
        components.push(package_component(input, package, &tags)?);
    }
    let metadata = Metadata {
        timestamp: input
            .timestamp
            .map(|time| {
                DateTime::try_from(time.to_string())
                    .map_err(|error| SbomError::Render(error.to_string()))
            })
            .transpose()?,
        tools: Some(Tools::Object {
            services: None,
            components: Some(Components(vec![Component::new(
                Classification::Application,
                "fave-lock",
                env!("CARGO_PKG_VERSION"),
                None,
            )])),
        }),
        component: Some(image_component(input)),
        ..Metadata::default()
    };
    Ok(Bom {
        spec_version: SpecVersion::V1_5,
        version: 1,
        serial_number: None,
        metadata: Some(metadata),
        components: Some(Components(components)),
        dependencies: Some(dependencies(lock)?),
        ..Bom::default()
    })
}

/// `metadata.component`: the image itself.
fn image_component(input: &SbomInput<'_>) -> Component {
    let context = &input.lock.context;
    let version = input.plan.image_version.as_deref().unwrap_or("unversioned");
    let mut component = Component::new(
        Classification::Container,
        &context.image,
        version,
        Some(image_ref(input.lock)),
    );
    let mut properties = vec![
        Property::new("fave-lock:python", &context.python.to_string()),
        Property::new("fave-lock:input-hash", &context.input_hash),
        Property::new("fave-lock:index-url", &context.index_url),
    ];
    if let Some(cutoff) = context.exclude_newer {
        properties.push(Property::new(
            "fave-lock:exclude-newer",
            &cutoff.to_string(),
        ));
    }
    for target in &context.targets {
        properties.push(Property::new(
            "fave-lock:platform",
            &format!("{} {}", target.oci, target.platform),
        ));
    }
    component.properties = Some(Properties(properties));
    component
}

/// The base image, pinned by digest when the plan knows it.
fn base_image_component(input: &SbomInput<'_>) -> Result<Component, SbomError> {
    let reference = input
        .plan
        .base_image
        .clone()
        .unwrap_or_else(|| format!("python:{}-slim", input.lock.context.python));
    let name = reference.split('@').next().unwrap_or(&reference);
    let tag = tag_of(name);
    let repository = match &tag {
        Some(tag) => name.strip_suffix(&format!(":{tag}")).unwrap_or(name),
        None => name,
    };
    let version = tag.as_deref().unwrap_or("latest");
    let mut component = Component::new(
        Classification::Container,
        repository,
        version,
        Some(BASE_REF.to_string()),
    );
    // purl-spec's docker type: the version is the digest when pinned, else the tag.
    let (namespace, short_name) = match repository.rsplit_once('/') {
        Some((namespace, short_name)) => (Some(namespace), short_name),
        None => (None, repository),
    };
    let mut purl = GenericPurlBuilder::new("docker".to_string(), short_name);
    if let Some(namespace) = namespace {
        purl = purl.with_namespace(namespace);
    }
    if let Some(digest) = &input.plan.base_digest {
        purl = purl.with_version(digest.as_str());
        if let Some(tag) = &tag {
            purl = purl
                .with_qualifier("tag", tag.as_str())
                .map_err(purl_error)?;
        }
        let hex = digest.trim_start_matches("sha256:");
        component.hashes = Some(Hashes(vec![sha256_hash(hex)]));
    } else {
        purl = purl.with_version(version);
    }
    component.purl = Some(purl_value(purl)?);
    component.properties = Some(Properties(vec![Property::new(
        "fave-lock:role",
        "base-image",
    )]));
    Ok(component)
}

/// One locked package.
fn package_component(
    input: &SbomInput<'_>,
    package: &LockedPackage,
    tags: &[Tags],
) -> Result<Component, SbomError> {
    let lock = input.lock;
    let chosen = chosen_file(package, tags);
    let mut component = Component::new(
        Classification::Library,
        package.name.as_ref(),
        &package.version.to_string(),
        Some(package_ref(package)?),
    );
    let purl = pypi_purl(package)
        .with_qualifier("file_name", chosen.filename.as_str())
        .map_err(purl_error)?;
    component.purl = Some(purl_value(purl)?);
    if let Some(sha256) = &chosen.sha256 {
        component.hashes = Some(Hashes(vec![sha256_hash(sha256)]));
    }
    component.licenses = input
        .metadata
        .get(&chosen.url)
        .and_then(|metadata| license::licenses(metadata));
    let references = package
        .files
        .iter()
        .map(|file| distribution(file, package, tags, lock))
        .collect();
    component.external_references = Some(ExternalReferences(references));
    let mut properties = Vec::new();
    if let Some(marker) = lock.marker(package) {
        properties.push(Property::new("fave-lock:marker", &marker));
    }
    for &target in &package.targets {
        if let Some(target) = lock.context.targets.get(target) {
            properties.push(Property::new(
                "fave-lock:platform",
                &target.platform.to_string(),
            ));
        }
    }
    if let Some(requires_python) = &package.requires_python {
        properties.push(Property::new("fave-lock:requires-python", requires_python));
    }
    component.properties = Some(Properties(properties));
    Ok(component)
}

/// The file the component stands for: the best wheel for the first target that installs the package,
/// else its first file (an sdist).
pub(crate) fn chosen_file<'a>(package: &'a LockedPackage, tags: &[Tags]) -> &'a DistFile {
    let first_target = package.targets.first().and_then(|&index| tags.get(index));
    let best_wheel = first_target.and_then(|tags| {
        package
            .files
            .iter()
            .filter_map(|file| {
                let wheel = WheelFilename::from_str(&file.filename).ok()?;
                let fit = tags.compatibility(&wheel);
                fit.is_compatible().then_some((fit, file))
            })
            .max_by_key(|(fit, _)| *fit)
            .map(|(_, file)| file)
    });
    // A locked package has at least one file (the lock reader and the resolver both insist).
    best_wheel.unwrap_or_else(|| &package.files[0])
}

/// An external reference for one of the package's files, naming the targets it serves.
fn distribution(
    file: &DistFile,
    package: &LockedPackage,
    tags: &[Tags],
    lock: &Lock,
) -> ExternalReference {
    let mut reference =
        ExternalReference::new(ExternalReferenceType::Distribution, Uri::new(&file.url));
    let serves: Vec<String> = match WheelFilename::from_str(&file.filename) {
        Ok(wheel) => package
            .targets
            .iter()
            .filter(|&&index| {
                tags.get(index)
                    .is_some_and(|tags| tags.compatibility(&wheel).is_compatible())
            })
            .filter_map(|&index| lock.context.targets.get(index))
            .map(|target| target.platform.to_string())
            .collect(),
        Err(_) => vec!["sdist".to_string()],
    };
    reference.comment = Some(format!("{} ({})", file.filename, serves.join(", ")));
    if let Some(sha256) = &file.sha256 {
        reference.hashes = Some(Hashes(vec![sha256_hash(sha256)]));
    }
    reference
}

/// Each package's dependencies (on a shared target), and the image's: the base image and every package
/// nothing else depends on, plus any package only reachable through a cycle, so that the graph reaches
/// every component from the image.
fn dependencies(lock: &Lock) -> Result<Dependencies, SbomError> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut depended_on = BTreeSet::new();
    for package in &lock.packages {
        let mut refs = BTreeSet::new();
        for dependency in &package.dependencies {
            for other in lock.packages.iter().filter(|other| {
                &other.name == dependency && !other.targets.is_disjoint(&package.targets)
            }) {
                refs.insert(package_ref(other)?);
                depended_on.insert(package_ref(other)?);
            }
        }
        graph.insert(package_ref(package)?, refs);
    }
    let mut roots: BTreeSet<String> = graph
        .keys()
        .filter(|reference| !depended_on.contains(*reference))
        .cloned()
        .collect();
    let mut reached = reachable(&graph, &roots);
    for reference in graph.keys() {
        if !reached.contains(reference) {
            roots.insert(reference.clone());
            reached = reachable(&graph, &roots);
        }
    }
    roots.insert(BASE_REF.to_string());
    let mut list = vec![
        Dependency {
            dependency_ref: image_ref(lock),
            dependencies: roots.into_iter().collect(),
        },
        Dependency {
            dependency_ref: BASE_REF.to_string(),
            dependencies: Vec::new(),
        },
    ];
    list.extend(graph.into_iter().map(|(reference, refs)| Dependency {
        dependency_ref: reference,
        dependencies: refs.into_iter().collect(),
    }));
    Ok(Dependencies(list))
}

/// Every node reachable from `roots`, roots included.
fn reachable(
    graph: &BTreeMap<String, BTreeSet<String>>,
    roots: &BTreeSet<String>,
) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut stack: Vec<&String> = roots.iter().collect();
    while let Some(node) = stack.pop() {
        if seen.insert(node.clone()) {
            stack.extend(graph.get(node).into_iter().flatten());
        }
    }
    seen
}

/// `pkg:pypi/<name>@<version>`, unique per locked package, used as its bom-ref.
fn package_ref(package: &LockedPackage) -> Result<String, SbomError> {
    Ok(purl_value(pypi_purl(package))?.to_string())
}

fn pypi_purl(package: &LockedPackage) -> GenericPurlBuilder<String> {
    GenericPurlBuilder::new("pypi".to_string(), package.name.as_ref())
        .with_version(package.version.to_string())
}

fn purl_value(builder: GenericPurlBuilder<String>) -> Result<Purl, SbomError> {
    let purl = builder.build().map_err(purl_error)?;
    // The builder above did the checking and encoding; `Purl::from_str` only wraps the text.
    Purl::from_str(&purl.to_string()).map_err(|()| purl_error("rejected"))
}

fn purl_error(error: impl std::fmt::Display) -> SbomError {
    SbomError::Render(format!("cannot build a package URL: {error}"))
}

fn sha256_hash(hex: &str) -> Hash {
    Hash {
        alg: HashAlgorithm::SHA_256,
        content: HashValue(hex.to_ascii_lowercase()),
    }
}
