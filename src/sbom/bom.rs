//! The CycloneDX model of one image: built from the lock, the packages' core metadata, the plan's
//! facts and any OS packages, with nothing that depends on the machine or the clock (unless a
//! timestamp is asked for).
//!
//! One `library` component per locked release (name and version): vulnerability scanners and license
//! tools match components by purl name and version, so one component per wheel would list numpy twice
//! and count its license twice. Each artifact still has an identity of its own: the library component
//! nests one `file` component per wheel or sdist of the lock (CycloneDX's `components` inside a
//! component), each with its SHA-256, a purl with the `file_name` qualifier, its download URL as a
//! `distribution` reference and the platforms that install it, so numpy's x86_64 and aarch64 wheels
//! are both described.

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
use pep440_rs::Version;
use pep508_rs::PackageName;

use super::package_url::PackageUrl;
use super::plan_facts::tag_of;
use super::system::SystemPackage;
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
    // One component per purl: a package handed over twice must not give two equal bom-refs.
    let system: BTreeMap<String, &SystemPackage> = input
        .system_packages
        .iter()
        .map(|package| (package.bom_ref(), package))
        .collect();
    for package in system.values() {
        components.push(package.component()?);
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
        dependencies: Some(dependencies(input, &tags)),
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
    let mut purl = PackageUrl {
        kind: "docker",
        namespace: namespace.map(str::to_string),
        name: short_name.to_string(),
        version: Some(version.to_string()),
        qualifiers: BTreeMap::new(),
    };
    if let Some(digest) = &input.plan.base_digest {
        purl.version = Some(digest.clone());
        if let Some(tag) = &tag {
            purl = purl.with_qualifier("tag", tag);
        }
        let hex = digest.trim_start_matches("sha256:");
        component.hashes = Some(Hashes(vec![sha256_hash(hex)]));
    }
    component.purl = Some(purl_value(&purl)?);
    component.properties = Some(Properties(vec![Property::new(
        "fave-lock:role",
        "base-image",
    )]));
    Ok(component)
}

/// What names a locked package in the SBOM: its project name as its own metadata spells it (dots and
/// case kept, as cyclonedx-py reads it from the installed METADATA) and the purl made from that.
struct PackageIdentity {
    name: String,
    purl: PackageUrl,
}

impl PackageIdentity {
    /// The metadata's `Name` when it is this package's name (it always is for a sound wheel), else the
    /// lock's normalised name (no metadata: an sdist, or a lying wheel).
    fn of(input: &SbomInput<'_>, package: &LockedPackage, tags: &[Tags]) -> PackageIdentity {
        let spelled = input
            .metadata
            .get(&chosen_file(package, tags).url)
            .map(|metadata| metadata.name.trim())
            .filter(|name| PackageName::from_str(name).is_ok_and(|name| name == package.name));
        let name = spelled.map_or_else(|| package.name.to_string(), str::to_string);
        let purl = PackageUrl::pypi(&name, &package.version.to_string());
        PackageIdentity { name, purl }
    }

    /// The bom-ref: the purl, unique per locked package (the lock merges same name and version).
    fn bom_ref(&self) -> String {
        self.purl.to_string()
    }
}

/// One locked release: a `library` component (name, version, purl, licenses, platforms) holding one
/// `file` component per wheel or sdist of the lock.
fn package_component(
    input: &SbomInput<'_>,
    package: &LockedPackage,
    tags: &[Tags],
) -> Result<Component, SbomError> {
    let lock = input.lock;
    let identity = PackageIdentity::of(input, package, tags);
    let version = package.version.to_string();
    let mut component = Component::new(
        Classification::Library,
        &identity.name,
        &version,
        Some(identity.bom_ref()),
    );
    component.purl = Some(purl_value(&identity.purl)?);
    component.licenses = input
        .metadata
        .get(&chosen_file(package, tags).url)
        .and_then(|metadata| license::licenses(metadata));
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
    let files = package
        .files
        .iter()
        .map(|file| file_component(&identity, &version, file, package, tags, lock))
        .collect::<Result<Vec<_>, _>>()?;
    component.components = Some(Components(files));
    Ok(component)
}

/// One wheel or sdist of a package: its own identity (file name, SHA-256, purl with the `file_name`
/// qualifier that purl-spec's `pypi` type defines), where it is downloaded from, and the platforms that
/// install it.
fn file_component(
    identity: &PackageIdentity,
    version: &str,
    file: &DistFile,
    package: &LockedPackage,
    tags: &[Tags],
    lock: &Lock,
) -> Result<Component, SbomError> {
    let purl = identity
        .purl
        .clone()
        .with_qualifier("file_name", &file.filename);
    let mut component = Component::new(
        Classification::File,
        &file.filename,
        version,
        Some(purl.to_string()),
    );
    component.purl = Some(purl_value(&purl)?);
    if let Some(sha256) = &file.sha256 {
        component.hashes = Some(Hashes(vec![sha256_hash(sha256)]));
    }
    component.external_references = Some(ExternalReferences(vec![ExternalReference::new(
        ExternalReferenceType::Distribution,
        Uri::new(&file.url),
    )]));
    let properties = package
        .targets
        .iter()
        .filter(|&&index| {
            tags.get(index)
                .is_some_and(|tags| file_for_target(package, tags).filename == file.filename)
        })
        .filter_map(|&index| lock.context.targets.get(index))
        .map(|target| Property::new("fave-lock:platform", &target.platform.to_string()))
        .collect();
    component.properties = Some(Properties(properties));
    Ok(component)
}

/// The file the package's metadata (and so its license and spelled name) is read from: the one the
/// first target that installs the package uses.
pub(crate) fn chosen_file<'a>(package: &'a LockedPackage, tags: &[Tags]) -> &'a DistFile {
    let first_target = package.targets.first().and_then(|&index| tags.get(index));
    match first_target {
        Some(tags) => file_for_target(package, tags),
        // A locked package has at least one file (the lock reader and the resolver both insist).
        None => &package.files[0],
    }
}

/// The file a target installs: the best wheel for its tags, else the package's sdist (the first file
/// that is no wheel), else its first file.
fn file_for_target<'a>(package: &'a LockedPackage, tags: &Tags) -> &'a DistFile {
    let best_wheel = package
        .files
        .iter()
        .filter_map(|file| {
            let wheel = WheelFilename::from_str(&file.filename).ok()?;
            let fit = tags.compatibility(&wheel);
            fit.is_compatible().then_some((fit, file))
        })
        .max_by_key(|(fit, _)| *fit)
        .map(|(_, file)| file);
    best_wheel
        .or_else(|| {
            package
                .files
                .iter()
                .find(|file| WheelFilename::from_str(&file.filename).is_err())
        })
        .unwrap_or(&package.files[0])
}

/// The dependency graph: each package's dependencies (on a shared target), each system package's (of
/// its architecture, from the apt lock), and the image's direct dependencies: the base image, the
/// system packages the config asked for and the requirements its input files declare (`# via -r`).
/// A lock that does not record which requirements were declared (no `requirements.txt` beside it) falls
/// back to the packages nothing else depends on, plus any only reachable through a cycle.
fn dependencies(input: &SbomInput<'_>, tags: &[Tags]) -> Dependencies {
    let lock = input.lock;
    let refs: BTreeMap<(&PackageName, &Version), String> = lock
        .packages
        .iter()
        .map(|package| {
            let identity = PackageIdentity::of(input, package, tags);
            ((&package.name, &package.version), identity.bom_ref())
        })
        .collect();
    let reference = |package: &LockedPackage| refs[&(&package.name, &package.version)].clone();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut depended_on = BTreeSet::new();
    for package in &lock.packages {
        let mut edges = BTreeSet::new();
        for dependency in &package.dependencies {
            for other in lock.packages.iter().filter(|other| {
                &other.name == dependency && !other.targets.is_disjoint(&package.targets)
            }) {
                edges.insert(reference(other));
                depended_on.insert(reference(other));
            }
        }
        graph.insert(reference(package), edges);
    }
    let declared = lock.declared();
    let mut direct: BTreeSet<String> = if declared.is_empty() {
        let roots: BTreeSet<String> = graph
            .keys()
            .filter(|node| !depended_on.contains(*node))
            .cloned()
            .collect();
        with_unreached(&graph, roots)
    } else {
        lock.packages
            .iter()
            .filter(|package| declared.contains(&package.name))
            .map(reference)
            .collect()
    };
    direct.insert(BASE_REF.to_string());
    let system = system_graph(input.system_packages);
    direct.extend(system.direct);
    let mut list = vec![
        Dependency {
            dependency_ref: image_ref(lock),
            dependencies: direct.into_iter().collect(),
        },
        Dependency {
            dependency_ref: BASE_REF.to_string(),
            dependencies: Vec::new(),
        },
    ];
    list.extend(
        graph
            .into_iter()
            .chain(system.graph)
            .map(|(node, edges)| Dependency {
                dependency_ref: node,
                dependencies: edges.into_iter().collect(),
            }),
    );
    Dependencies(list)
}

/// The Debian packages' own graph (from the apt lock's `depends`, per architecture) and the ones the
/// image depends on directly: those the config asked for, plus any nothing asked for reaches (all of
/// them for a lock written without `depends`).
struct SystemGraph {
    graph: BTreeMap<String, BTreeSet<String>>,
    direct: BTreeSet<String>,
}

fn system_graph(packages: &[SystemPackage]) -> SystemGraph {
    let refs: BTreeMap<(&str, &str), String> = packages
        .iter()
        .map(|package| {
            (
                (package.name.as_str(), package.arch.as_str()),
                package.bom_ref(),
            )
        })
        .collect();
    let graph: BTreeMap<String, BTreeSet<String>> = packages
        .iter()
        .map(|package| {
            let edges = package
                .depends
                .iter()
                .filter_map(|name| refs.get(&(name.as_str(), package.arch.as_str())))
                .cloned()
                .collect();
            (package.bom_ref(), edges)
        })
        .collect();
    let requested: BTreeSet<String> = packages
        .iter()
        .filter(|package| package.requested)
        .map(SystemPackage::bom_ref)
        .collect();
    let direct = with_unreached(&graph, requested);
    SystemGraph { graph, direct }
}

/// `roots` and, in order, each node of `graph` they do not reach (so nothing is left unreachable, a
/// cycle included).
fn with_unreached(
    graph: &BTreeMap<String, BTreeSet<String>>,
    mut roots: BTreeSet<String>,
) -> BTreeSet<String> {
    let mut reached = reachable(graph, &roots);
    for node in graph.keys() {
        if !reached.contains(node) {
            roots.insert(node.clone());
            reached = reachable(graph, &roots);
        }
    }
    roots
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

/// The purl as `cyclonedx-bom`'s type; [`PackageUrl`] did the encoding, this only wraps the text.
pub(crate) fn purl_value(purl: &PackageUrl) -> Result<Purl, SbomError> {
    let text = purl.to_string();
    Purl::from_str(&text)
        .map_err(|()| SbomError::Render(format!("cannot use the package URL `{text}`")))
}

pub(crate) fn sha256_hash(hex: &str) -> Hash {
    Hash {
        alg: HashAlgorithm::SHA_256,
        content: HashValue(hex.to_ascii_lowercase()),
    }
}
