//! A package's license for the SBOM, from its core metadata, as SPDX wherever the metadata allows, in
//! this order:
//!
//! 1. PEP 639 `License-Expression`, an SPDX expression by definition (used when it parses strictly);
//! 2. the legacy free-text `License` field, only when it is exactly an SPDX identifier or a strictly
//!    valid SPDX expression (`MIT`, `MIT OR Apache-2.0`);
//! 3. the `License ::` trove classifiers, mapped to SPDX identifiers by the table in [`spdx_id`];
//! 4. otherwise a license *name*: the `License` text when it reads as a license's name, else the
//!    classifiers' own names.
//!
//! fave-lock does not guess an identifier from prose: `Apache 2.0` or `BSD 3-Clause License` in the
//! `License` field stay names. Nor does it keep prose that names no license: many projects paste a
//! copyright line or the whole license text into `License` (numpy's is "Copyright (c) 2005-2024, NumPy
//! Developers." and the BSD text), which is no license name; such text is dropped in favour of the
//! classifiers, or shortened to a title line that names a license.

use cyclonedx_bom::external_models::spdx::{SpdxExpression, SpdxIdentifier};
use cyclonedx_bom::models::license::{License, LicenseChoice, Licenses};

use crate::index::CoreMetadata;

/// The longest text taken as a license name; longer text is prose, not a name.
const MAX_NAME_CHARS: usize = 80;

/// The licenses `metadata` declares, or `None` when it declares none that can be named.
pub fn licenses(metadata: &CoreMetadata) -> Option<Licenses> {
    if let Some(expression) = declared(metadata.license_expression.as_deref())
        && is_spdx_expression(expression)
    {
        return Some(Licenses(vec![LicenseChoice::expression(expression)]));
    }
    let text = declared(metadata.license.as_deref());
    if let Some(text) = text
        && let Some(choice) = spdx_from_text(text)
    {
        return Some(Licenses(vec![choice]));
    }
    let classifiers = classifier_licenses(&metadata.classifiers);
    let any_spdx = classifiers
        .iter()
        .any(|classifier| matches!(classifier, ClassifierLicense::Spdx(_)));
    let choices: Vec<LicenseChoice> = if any_spdx {
        classifiers.iter().map(ClassifierLicense::choice).collect()
    } else if let Some(name) = text.and_then(license_name) {
        vec![LicenseChoice::license(&name)]
    } else {
        classifiers.iter().map(ClassifierLicense::choice).collect()
    };
    (!choices.is_empty()).then_some(Licenses(choices))
}

/// Whether `metadata` declares a license that the SBOM records (for tests and reports).
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

/// Whether `text` is an SPDX expression by the strict grammar (no `/` for OR, no lower-case `or`).
fn is_spdx_expression(text: &str) -> bool {
    !text.contains('\n') && SpdxExpression::try_from(text.to_string()).is_ok()
}

/// The legacy `License` field as SPDX, when it is exactly an identifier or a strict expression.
fn spdx_from_text(text: &str) -> Option<LicenseChoice> {
    if SpdxIdentifier::try_from(text.to_string()).is_ok() {
        return Some(LicenseChoice::License(License::license_id(text)));
    }
    is_spdx_expression(text).then(|| LicenseChoice::expression(text))
}

/// The `License` text as a license's name: a short single line, or the title line of a pasted license
/// text (`BSD 3-Clause License` above the text itself); `None` for a copyright line or other prose.
fn license_name(text: &str) -> Option<String> {
    let mut lines = text.lines().map(str::trim).filter(|line| !line.is_empty());
    let first = lines.next()?;
    let is_single_line = lines.next().is_none();
    let lower = first.to_lowercase();
    let is_copyright = lower.starts_with("copyright")
        || lower.contains("(c)")
        || first.contains('©')
        || lower.contains("all rights reserved");
    let names_a_license = lower.contains("licen") || lower.contains("gpl");
    let fits = first.chars().count() <= MAX_NAME_CHARS && !is_copyright;
    (fits && (is_single_line || names_a_license)).then(|| first.to_string())
}

/// What one `License ::` classifier says.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ClassifierLicense {
    /// An SPDX identifier the classifier names unambiguously.
    Spdx(&'static str),
    /// The classifier's own name of a license family or an unlisted license (`BSD License`).
    Named(String),
}

impl ClassifierLicense {
    fn choice(&self) -> LicenseChoice {
        match self {
            ClassifierLicense::Spdx(id) => LicenseChoice::License(License::license_id(id)),
            ClassifierLicense::Named(name) => LicenseChoice::license(name),
        }
    }
}

/// The distinct licenses of the `License ::` classifiers, in their order; the bare
/// `License :: OSI Approved` and non-license classifiers say nothing.
fn classifier_licenses(classifiers: &[String]) -> Vec<ClassifierLicense> {
    let mut licenses = Vec::new();
    for classifier in classifiers {
        let Some(rest) = classifier.strip_prefix("License ::") else {
            continue;
        };
        let parts: Vec<&str> = rest.split("::").map(str::trim).collect();
        if parts == ["OSI Approved"] || parts.iter().any(|part| part.is_empty()) {
            continue;
        }
        let Some(name) = parts.last() else {
            continue;
        };
        let license = match spdx_id(name) {
            Some(id) => ClassifierLicense::Spdx(id),
            None => ClassifierLicense::Named((*name).to_string()),
        };
        if !licenses.contains(&license) {
            licenses.push(license);
        }
    }
    licenses
}

/// The SPDX identifier of a trove classifier's license (its last part), where the classifier leaves no
/// real doubt about the license and its version.
///
/// Deliberately absent, because they name a family: `BSD License` (2- or 3-clause; numba is
/// BSD-2-Clause, numpy BSD-3-Clause), `GNU Lesser General Public License v2 (LGPLv2)` (2.0 or 2.1),
/// `Academic Free License (AFL)`, `Artistic License`, `GNU Free Documentation License (FDL)`,
/// `Zope Public License`, `Apple Public Source License`, `Public Domain`. One judgment call: `Apache
/// Software License` is read as Apache-2.0, since Apache 2.0 replaced 1.1 in 2004 and every package of
/// the base image under that classifier says "Apache 2.0" or "Apache-2.0" in its `License` field.
fn spdx_id(classifier_name: &str) -> Option<&'static str> {
    Some(match classifier_name {
        "MIT License" => "MIT",
        "MIT No Attribution License (MIT-0)" => "MIT-0",
        "Apache Software License" | "Apache Software License 2.0 (Apache-2.0)" => "Apache-2.0",
        "Zero-Clause BSD (0BSD)" => "0BSD",
        "ISC License (ISCL)" => "ISC",
        "Python Software Foundation License" => "PSF-2.0",
        "Python License (CNRI Python License)" => "CNRI-Python",
        "Mozilla Public License 1.0 (MPL)" => "MPL-1.0",
        "Mozilla Public License 1.1 (MPL 1.1)" => "MPL-1.1",
        "Mozilla Public License 2.0 (MPL 2.0)" => "MPL-2.0",
        "The Unlicense (Unlicense)" => "Unlicense",
        "CC0 1.0 Universal (CC0 1.0) Public Domain Dedication" => "CC0-1.0",
        "Boost Software License 1.0 (BSL-1.0)" => "BSL-1.0",
        "zlib/libpng License" => "Zlib",
        "Eclipse Public License 1.0 (EPL-1.0)" => "EPL-1.0",
        "Eclipse Public License 2.0 (EPL-2.0)" => "EPL-2.0",
        "European Union Public Licence 1.0 (EUPL 1.0)" => "EUPL-1.0",
        "European Union Public Licence 1.1 (EUPL 1.1)" => "EUPL-1.1",
        "European Union Public Licence 1.2 (EUPL 1.2)" => "EUPL-1.2",
        "Historical Permission Notice and Disclaimer (HPND)" => "HPND",
        "Universal Permissive License (UPL)" => "UPL-1.0",
        "Blue Oak Model License (BlueOak-1.0.0)" => "BlueOak-1.0.0",
        "Mulan Permissive Software License v2 (MulanPSL-2.0)" => "MulanPSL-2.0",
        "PostgreSQL License" => "PostgreSQL",
        "SIL Open Font License 1.1 (OFL-1.1)" => "OFL-1.1",
        "Open Software License 3.0 (OSL-3.0)" => "OSL-3.0",
        "Common Development and Distribution License 1.0 (CDDL-1.0)" => "CDDL-1.0",
        "Common Public License" => "CPL-1.0",
        "Microsoft Public License" => "MS-PL",
        "Microsoft Reciprocal License" => "MS-RL",
        "Sleepycat License" => "Sleepycat",
        "W3C License" => "W3C",
        "CeCILL-B Free Software License Agreement (CECILL-B)" => "CECILL-B",
        "CeCILL-C Free Software License Agreement (CECILL-C)" => "CECILL-C",
        "CEA CNRS Inria Logiciel Libre License, version 2.1 (CeCILL-2.1)" => "CECILL-2.1",
        "GNU General Public License v2 (GPLv2)" => "GPL-2.0-only",
        "GNU General Public License v2 or later (GPLv2+)" => "GPL-2.0-or-later",
        "GNU General Public License v3 (GPLv3)" => "GPL-3.0-only",
        "GNU General Public License v3 or later (GPLv3+)" => "GPL-3.0-or-later",
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
    const BSD: &str = "License :: OSI Approved :: BSD License";
    const APACHE: &str = "License :: OSI Approved :: Apache Software License";

    #[test]
    fn the_expression_wins_then_an_spdx_text_then_classifiers() {
        let all = metadata(Some("BSD-3-Clause OR MIT"), Some("BSD"), &[MIT]);
        assert_eq!(shown(&all), ["expression:BSD-3-Clause OR MIT"]);
        assert_eq!(
            shown(&metadata(None, Some("Apache-2.0"), &[MIT])),
            ["id:Apache-2.0"]
        );
        assert_eq!(
            shown(&metadata(None, Some("MIT OR Apache-2.0"), &[])),
            ["expression:MIT OR Apache-2.0"]
        );
        // Free text that is no SPDX identifier gives way to the classifiers (boto3, onnxruntime).
        assert_eq!(
            shown(&metadata(None, Some("Apache License 2.0"), &[APACHE])),
            ["id:Apache-2.0"]
        );
        assert_eq!(
            shown(&metadata(None, Some("MIT License"), &[MIT])),
            ["id:MIT"]
        );
        assert_eq!(shown(&metadata(None, Some("UNKNOWN"), &[MIT])), ["id:MIT"]);
        // An expression that does not parse is no expression: the next source speaks.
        assert_eq!(
            shown(&metadata(Some("MIT/Apache 2"), None, &[MIT])),
            ["id:MIT"]
        );
        assert_eq!(shown(&metadata(Some(" "), None, &[])), Vec::<String>::new());
        assert!(!declares_license(&metadata(
            None,
            None,
            &["Programming Language :: Python"]
        )));
    }

    #[test]
    fn classifiers_map_only_when_unambiguous() {
        let classifiers = [
            MIT,
            BSD,
            "License :: OSI Approved",
            "License :: OSI Approved :: GNU Lesser General Public License v3 or later (LGPLv3+)",
            "License :: CC0 1.0 Universal (CC0 1.0) Public Domain Dedication",
            "License :: Public Domain",
            MIT,
        ];
        assert_eq!(
            shown(&metadata(None, None, &classifiers)),
            [
                "id:MIT",
                "name:BSD License",
                "id:LGPL-3.0-or-later",
                "id:CC0-1.0",
                "name:Public Domain"
            ]
        );
        // python-dateutil: "Dual License" and both classifiers.
        assert_eq!(
            shown(&metadata(None, Some("Dual License"), &[BSD, APACHE])),
            ["name:BSD License", "id:Apache-2.0"]
        );
    }

    #[test]
    fn a_name_is_a_license_name_never_a_copyright_line() {
        // numpy and scipy: a copyright line and the BSD text in `License`, the BSD classifier.
        let numpy =
            "Copyright (c) 2005-2024, NumPy Developers.\nAll rights reserved.\n\nRedistribution …";
        assert_eq!(
            shown(&metadata(None, Some(numpy), &[BSD])),
            ["name:BSD License"]
        );
        assert_eq!(
            shown(&metadata(None, Some(numpy), &[])),
            Vec::<String>::new()
        );
        // Without a mapped classifier, a real name in `License` beats the family's classifier name.
        assert_eq!(
            shown(&metadata(None, Some("BSD 3-Clause License"), &[BSD])),
            ["name:BSD 3-Clause License"]
        );
        assert_eq!(
            shown(&metadata(None, Some("3-Clause BSD License"), &[])),
            ["name:3-Clause BSD License"]
        );
        // A pasted license text is named by its title line, when it has one.
        let titled = "BSD 3-Clause License\n\nCopyright (c) 2020, someone\nRedistribution …";
        assert_eq!(
            shown(&metadata(None, Some(titled), &[])),
            ["name:BSD 3-Clause License"]
        );
        let untitled =
            "Permission is hereby granted, free of charge, to any person\nobtaining a copy";
        assert_eq!(
            shown(&metadata(None, Some(untitled), &[])),
            Vec::<String>::new()
        );
        let prose = "x".repeat(MAX_NAME_CHARS + 1);
        assert_eq!(
            shown(&metadata(None, Some(&prose), &[])),
            Vec::<String>::new()
        );
        assert_eq!(
            shown(&metadata(None, Some("© 2024 Someone"), &[])),
            Vec::<String>::new()
        );
    }
}
