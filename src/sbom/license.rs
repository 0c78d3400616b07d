//! A package's license for the SBOM, from its core metadata, in the order the packaging specifications
//! rank the fields: PEP 639 `License-Expression` (an SPDX expression by definition), else the legacy
//! free-text `License` field, else the `License ::` trove classifiers.
//!
//! Free text stays a *named* license (CycloneDX `license.name`) unless it is exactly an SPDX identifier
//! or a strictly valid SPDX expression; fave-lock does not guess an identifier from prose. A classifier maps to an SPDX identifier only when
//! the classifier names one license and version unambiguously (`MIT License`, `GNU General Public
//! License v3 (GPLv3)`); `BSD License` or `Apache Software License` name a family, so they stay named.

use cyclonedx_bom::external_models::normalized_string::NormalizedString;
use cyclonedx_bom::external_models::spdx::{SpdxExpression, SpdxIdentifier};
use cyclonedx_bom::models::attached_text::AttachedText;
use cyclonedx_bom::models::license::{License, LicenseChoice, Licenses};

use crate::index::CoreMetadata;

/// The longest `License` value used as a license name as is; longer or multi-line values (whole license
/// texts) are named by their first line and attached as text.
const MAX_NAME_LEN: usize = 100;

/// The licenses `metadata` declares, or `None` when it declares none.
pub fn licenses(metadata: &CoreMetadata) -> Option<Licenses> {
    if let Some(expression) = declared(metadata.license_expression.as_deref()) {
        return Some(Licenses(vec![LicenseChoice::expression(expression)]));
    }
    if let Some(text) = declared(metadata.license.as_deref()) {
        return Some(Licenses(vec![from_text(text)]));
    }
    let mut choices: Vec<LicenseChoice> = Vec::new();
    for classifier in &metadata.classifiers {
        let Some(license) = from_classifier(classifier) else {
            continue;
        };
        let choice = LicenseChoice::License(license);
        if !choices.contains(&choice) {
            choices.push(choice);
        }
    }
    (!choices.is_empty()).then_some(Licenses(choices))
}

/// Whether `metadata` declares a license in any of the three places (for tests and reports).
pub fn declares_license(metadata: &CoreMetadata) -> bool {
    licenses(metadata).is_some()
}

/// A field's value when it says something: not empty, not the `UNKNOWN` that old setuptools wrote.
fn declared(value: Option<&str>) -> Option<&str> {
    let value = value?.trim();
    let meaningless = value.is_empty()
        || value.eq_ignore_ascii_case("unknown")
        || value.eq_ignore_ascii_case("none");
    (!meaningless).then_some(value)
}

/// The legacy `License` field: an SPDX identifier or expression when it is exactly one (`MIT`,
/// `MIT OR Apache-2.0`, parsed strictly), else a named license.
fn from_text(text: &str) -> LicenseChoice {
    if SpdxIdentifier::try_from(text.to_string()).is_ok() {
        return LicenseChoice::License(License::license_id(text));
    }
    if !text.contains('\n') && SpdxExpression::try_from(text.to_string()).is_ok() {
        return LicenseChoice::expression(text);
    }
    let first_line = text.lines().next().unwrap_or_default().trim();
    if !text.contains('\n') && text.chars().count() <= MAX_NAME_LEN {
        return LicenseChoice::license(text);
    }
    let mut name: String = first_line.chars().take(MAX_NAME_LEN).collect();
    if first_line.chars().count() > MAX_NAME_LEN {
        name.push('…');
    }
    let mut license = License::named_license(&name);
    license.text = Some(AttachedText {
        content_type: Some(NormalizedString::new("text/plain")),
        encoding: None,
        content: text.to_string(),
    });
    LicenseChoice::License(license)
}

/// A `License :: …` classifier: an SPDX identifier when the mapping is unambiguous, else named by the
/// classifier's last part. `None` for non-license classifiers and the bare `License :: OSI Approved`.
fn from_classifier(classifier: &str) -> Option<License> {
    let rest = classifier.strip_prefix("License ::")?.trim();
    let parts: Vec<&str> = rest.split("::").map(str::trim).collect();
    if parts == ["OSI Approved"] || parts.iter().any(|part| part.is_empty()) {
        return None;
    }
    let name = parts.last()?;
    Some(match spdx_id(name) {
        Some(id) => License::license_id(id),
        None => License::named_license(name),
    })
}

/// The SPDX identifier of a trove classifier's license name, where the classifier leaves no doubt about
/// the license and its version.
fn spdx_id(classifier_name: &str) -> Option<&'static str> {
    Some(match classifier_name {
        "MIT License" => "MIT",
        "MIT No Attribution License (MIT-0)" => "MIT-0",
        "ISC License (ISCL)" => "ISC",
        "Python Software Foundation License" => "PSF-2.0",
        "Mozilla Public License 2.0 (MPL 2.0)" => "MPL-2.0",
        "Mozilla Public License 1.1 (MPL 1.1)" => "MPL-1.1",
        "The Unlicense (Unlicense)" => "Unlicense",
        "Boost Software License 1.0 (BSL-1.0)" => "BSL-1.0",
        "Eclipse Public License 2.0 (EPL-2.0)" => "EPL-2.0",
        "Historical Permission Notice and Disclaimer (HPND)" => "HPND",
        "Universal Permissive License (UPL)" => "UPL-1.0",
        "Apache Software License 2.0 (Apache-2.0)" => "Apache-2.0",
        "GNU General Public License v2 (GPLv2)" => "GPL-2.0-only",
        "GNU General Public License v2 or later (GPLv2+)" => "GPL-2.0-or-later",
        "GNU General Public License v3 (GPLv3)" => "GPL-3.0-only",
        "GNU General Public License v3 or later (GPLv3+)" => "GPL-3.0-or-later",
        "GNU Lesser General Public License v2 (LGPLv2)" => "LGPL-2.0-only",
        "GNU Lesser General Public License v2 or later (LGPLv2+)" => "LGPL-2.0-or-later",
        "GNU Lesser General Public License v3 (LGPLv3)" => "LGPL-3.0-only",
        "GNU Lesser General Public License v3 or later (LGPLv3+)" => "LGPL-3.0-or-later",
        "GNU Affero General Public License v3" => "AGPL-3.0-only",
        "GNU Affero General Public License v3 or later (AGPLv3+)" => "AGPL-3.0-or-later",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use cyclonedx_bom::models::license::LicenseIdentifier;

    use super::*;

    fn metadata(
        expression: Option<&str>,
        license: Option<&str>,
        classifiers: &[&str],
    ) -> CoreMetadata {
        CoreMetadata {
            name: "demo".to_string(),
            version: "1.0".to_string(),
            license_expression: expression.map(str::to_string),
            license: license.map(str::to_string),
            classifiers: classifiers.iter().map(|c| (*c).to_string()).collect(),
            ..CoreMetadata::default()
        }
    }

    /// Each license as `id:X`, `name:X` or `expression:X`, for short assertions.
    fn shown(metadata: &CoreMetadata) -> Vec<String> {
        let Some(Licenses(choices)) = licenses(metadata) else {
            return Vec::new();
        };
        choices
            .iter()
            .map(|choice| match choice {
                LicenseChoice::Expression(expression) => format!("expression:{expression}"),
                LicenseChoice::License(license) => match &license.license_identifier {
                    LicenseIdentifier::SpdxId(id) => format!("id:{id}"),
                    LicenseIdentifier::Name(name) => format!("name:{name}"),
                },
            })
            .collect()
    }

    const MIT: &str = "License :: OSI Approved :: MIT License";

    #[test]
    fn the_expression_wins_then_the_text_then_classifiers() {
        let all = metadata(Some("BSD-3-Clause OR MIT"), Some("BSD"), &[MIT]);
        assert_eq!(shown(&all), ["expression:BSD-3-Clause OR MIT"]);
        assert_eq!(shown(&metadata(None, Some("BSD"), &[MIT])), ["name:BSD"]);
        assert_eq!(
            shown(&metadata(None, Some("Apache-2.0"), &[])),
            ["id:Apache-2.0"]
        );
        assert_eq!(
            shown(&metadata(None, Some("MIT OR Apache-2.0"), &[])),
            ["expression:MIT OR Apache-2.0"]
        );
        assert_eq!(
            shown(&metadata(None, Some("MIT License"), &[])),
            ["name:MIT License"]
        );
        assert_eq!(shown(&metadata(None, Some("UNKNOWN"), &[MIT])), ["id:MIT"]);
        assert_eq!(shown(&metadata(Some(" "), None, &[])), Vec::<String>::new());
        assert!(!declares_license(&metadata(
            None,
            None,
            &["Programming Language :: Python"]
        )));
    }

    #[test]
    fn classifiers_map_only_when_obvious() {
        let classifiers = [
            MIT,
            "License :: OSI Approved :: BSD License",
            "License :: OSI Approved",
            "License :: OSI Approved :: GNU Lesser General Public License v3 or later (LGPLv3+)",
            "License :: Public Domain",
            MIT,
        ];
        assert_eq!(
            shown(&metadata(None, None, &classifiers)),
            [
                "id:MIT",
                "name:BSD License",
                "id:LGPL-3.0-or-later",
                "name:Public Domain"
            ]
        );
    }

    #[test]
    fn a_whole_license_text_is_named_by_its_first_line_and_attached() {
        let text =
            "Copyright (c) 2005, NumPy Developers.\nAll rights reserved.\n\nRedistribution …";
        let Some(Licenses(choices)) = licenses(&metadata(None, Some(text), &[])) else {
            panic!("no license");
        };
        let LicenseChoice::License(license) = &choices[0] else {
            panic!("not a license: {choices:?}");
        };
        assert_eq!(
            license.license_identifier,
            LicenseIdentifier::Name(NormalizedString::new(
                "Copyright (c) 2005, NumPy Developers."
            ))
        );
        assert_eq!(
            license.text.as_ref().map(|t| t.content.as_str()),
            Some(text)
        );
    }
}
