//! Operating-system packages of the image (Debian's `.deb`s installed by `apt-get`), as SBOM components.
//!
//! The SBOM only describes them; locking them (which versions, which `.deb` hashes) is the apt lock's
//! job. Whoever knows the locked packages hands them to the renderer as [`SystemPackage`] values
//! (`SbomInput::system_packages`), and each becomes a `library` component with a `pkg:deb` purl and the
//! `.deb`'s SHA-256, depended on by the image.

use std::collections::BTreeMap;

use cyclonedx_bom::external_models::uri::Uri;
use cyclonedx_bom::models::component::{Classification, Component};
use cyclonedx_bom::models::external_reference::{
    ExternalReference, ExternalReferenceType, ExternalReferences,
};
use cyclonedx_bom::models::hash::Hashes;
use cyclonedx_bom::models::property::{Properties, Property};

use super::SbomError;
use super::bom::{purl_value, sha256_hash};
use super::package_url::PackageUrl;
use crate::apt::{AptLock, DebLicenses};

/// One installed OS package, as a distribution's archive ships it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SystemPackage {
    /// The purl namespace: the vendor of the archive (`debian`).
    pub vendor: String,
    /// The release it comes from, as the purl `distro` qualifier (`debian-12` for bookworm).
    pub distro: String,
    /// Binary package name (`ffmpeg`).
    pub name: String,
    /// The exact version, epoch included (`7:5.1.6-0+deb12u1`).
    pub version: String,
    /// Debian architecture (`amd64`, `arm64`, `all`).
    pub arch: String,
    /// Lower-case hex SHA-256 of the `.deb`.
    pub sha256: String,
    /// Where the `.deb` was downloaded from, when known.
    pub url: Option<String>,
    /// Asked for by the config's `apt-packages` (the image depends on it directly), rather than pulled
    /// in by another package.
    pub requested: bool,
    /// Names of the packages of the same architecture it depends on (the apt lock's `depends`).
    pub depends: Vec<String>,
    /// What its copyright file says (see [`crate::apt::licenses`]); `None` when not read.
    pub licenses: Option<DebLicenses>,
}

impl SystemPackage {
    /// Every `.deb` of an apt lock, one component per package and architecture (an image built for
    /// amd64 and arm64 installs two different files), with the licenses of `licenses` (by name and
    /// version).
    pub fn from_apt_lock(
        lock: &AptLock,
        licenses: &BTreeMap<(String, String), DebLicenses>,
    ) -> Vec<SystemPackage> {
        let codename = lock
            .suites
            .first()
            .map(|suite| suite.name.split('-').next().unwrap_or_default())
            .unwrap_or_default();
        let distro = debian_distro(codename);
        let mut packages: Vec<SystemPackage> = lock
            .packages
            .iter()
            .map(|deb| SystemPackage {
                vendor: "debian".to_string(),
                distro: distro.clone(),
                name: deb.name.clone(),
                version: deb.version.clone(),
                arch: deb.architecture.clone(),
                sha256: deb.sha256.clone(),
                url: deb.url(lock),
                requested: lock.requested.contains(&deb.name),
                depends: deb.depends.clone(),
                licenses: licenses
                    .get(&(deb.name.clone(), deb.version.clone()))
                    .cloned(),
            })
            .collect();
        packages.sort();
        packages.dedup();
        packages
    }

    /// `pkg:deb/debian/ffmpeg@7:5.1.6-0%2Bdeb12u1?arch=amd64&distro=debian-12` (purl-spec's `deb` type).
    pub fn purl(&self) -> PackageUrl {
        PackageUrl {
            kind: "deb",
            namespace: Some(self.vendor.to_lowercase()),
            name: self.name.to_lowercase(),
            version: Some(self.version.clone()),
            qualifiers: Default::default(),
        }
        .with_qualifier("arch", &self.arch)
        .with_qualifier("distro", &self.distro)
    }

    /// The component's bom-ref: its purl, unique per name, version and architecture.
    pub fn bom_ref(&self) -> String {
        self.purl().to_string()
    }

    /// The CycloneDX component.
    pub(crate) fn component(&self) -> Result<Component, SbomError> {
        let mut component = Component::new(
            Classification::Library,
            &self.name,
            &self.version,
            Some(self.bom_ref()),
        );
        component.purl = Some(purl_value(&self.purl())?);
        component.hashes = Some(Hashes(vec![sha256_hash(&self.sha256)]));
        component.licenses = self
            .licenses
            .as_ref()
            .and_then(super::deb_license::licenses);
        if let Some(url) = &self.url {
            component.external_references = Some(ExternalReferences(vec![ExternalReference::new(
                ExternalReferenceType::Distribution,
                Uri::new(url),
            )]));
        }
        let mut properties = vec![
            Property::new("fave-lock:role", "system-package"),
            Property::new("fave-lock:arch", &self.arch),
        ];
        if let Some(licenses) = &self.licenses {
            // Says why a package has no license: its copyright file is prose (or absent), not a gap.
            let format = if licenses.machine_readable {
                "machine-readable"
            } else {
                "not machine-readable"
            };
            properties.push(Property::new("fave-lock:copyright-file", format));
        }
        component.properties = Some(Properties(properties));
        Ok(component)
    }
}

/// The purl `distro` qualifier of a Debian release: `debian-<major>` for the releases whose number is
/// known (as Syft and Trivy write it), else the codename itself (purl-spec's own `deb` example uses one).
fn debian_distro(codename: &str) -> String {
    const RELEASES: &[(&str, &str)] = &[
        ("buster", "10"),
        ("bullseye", "11"),
        ("bookworm", "12"),
        ("trixie", "13"),
        ("forky", "14"),
    ];
    match RELEASES.iter().find(|(name, _)| *name == codename) {
        Some((_, number)) => format!("debian-{number}"),
        None => codename.to_string(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A Debian package as the apt lock would hand it over (shared with the renderer's tests).
    pub(crate) fn ffmpeg() -> SystemPackage {
        ffmpeg_depending_on(&[])
    }

    /// ffmpeg as requested by the config, depending on `depends`.
    pub(crate) fn ffmpeg_depending_on(depends: &[&str]) -> SystemPackage {
        SystemPackage {
            vendor: "debian".to_string(),
            distro: "debian-12".to_string(),
            name: "ffmpeg".to_string(),
            version: "7:5.1.6-0+deb12u1".to_string(),
            arch: "amd64".to_string(),
            sha256: "AB".repeat(32),
            url: Some(
                "http://deb.debian.org/debian/pool/main/f/ffmpeg/ffmpeg_5.1.6-0+deb12u1_amd64.deb"
                    .to_string(),
            ),
            requested: true,
            depends: depends.iter().map(ToString::to_string).collect(),
            licenses: Some(DebLicenses {
                machine_readable: true,
                names: vec!["GPL-2+".to_string(), "LGPL-2.1+".to_string()],
            }),
        }
    }

    #[test]
    fn an_apt_lock_gives_one_component_per_package_and_architecture() {
        use crate::apt::{LockedDeb, Suite};
        let suite = |name: &str, archive: &str| Suite {
            name: name.to_string(),
            archive: archive.to_string(),
            check_valid_until: true,
        };
        let deb = |name: &str, version: &str, arch: &str, suite: &str, file: &str| LockedDeb {
            name: name.to_string(),
            version: version.to_string(),
            architecture: arch.to_string(),
            suite: suite.to_string(),
            filename: file.to_string(),
            size: 10,
            sha256: format!("{:0>64}", arch.len()),
            depends: Vec::new(),
        };
        let lock = AptLock {
            image: "img".to_string(),
            requested: vec!["ffmpeg".to_string()],
            suites: vec![
                suite("bookworm", "http://deb.debian.org/debian"),
                suite("bookworm-security", "http://deb.debian.org/debian-security"),
            ],
            packages: vec![
                deb(
                    "ffmpeg",
                    "7:5.1.6-0+deb12u1",
                    "amd64",
                    "bookworm-security",
                    "pool/f/a.deb",
                ),
                deb(
                    "ffmpeg",
                    "7:5.1.6-0+deb12u1",
                    "arm64",
                    "bookworm-security",
                    "pool/f/b.deb",
                ),
                deb(
                    "tzdata",
                    "2024a-0+deb12u1",
                    "amd64",
                    "bookworm",
                    "pool/t/t.deb",
                ),
            ],
        };
        let packages = SystemPackage::from_apt_lock(&lock, &BTreeMap::new());
        let purls: Vec<String> = packages.iter().map(|p| p.purl().to_string()).collect();
        assert_eq!(
            purls,
            [
                "pkg:deb/debian/ffmpeg@7:5.1.6-0%2Bdeb12u1?arch=amd64&distro=debian-12",
                "pkg:deb/debian/ffmpeg@7:5.1.6-0%2Bdeb12u1?arch=arm64&distro=debian-12",
                "pkg:deb/debian/tzdata@2024a-0%2Bdeb12u1?arch=amd64&distro=debian-12",
            ]
        );
        assert_eq!(
            packages[1].url.as_deref(),
            Some("http://deb.debian.org/debian-security/pool/f/b.deb")
        );
        assert_eq!(packages[2].sha256, format!("{:0>64}", 5));
    }

    #[test]
    fn an_unknown_release_keeps_its_codename_as_distro() {
        assert_eq!(debian_distro("bookworm"), "debian-12");
        assert_eq!(debian_distro("sid"), "sid");
    }

    #[test]
    fn the_purl_follows_the_deb_type() {
        assert_eq!(
            ffmpeg().purl().to_string(),
            "pkg:deb/debian/ffmpeg@7:5.1.6-0%2Bdeb12u1?arch=amd64&distro=debian-12"
        );
    }
}
