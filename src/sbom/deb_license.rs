//! A Debian package's licenses for the SBOM: the short names of its machine-readable copyright file
//! (`crate::apt::DebLicenses`) as SPDX where Debian's names have an SPDX equivalent, else by name.

use cyclonedx_bom::external_models::spdx::{SpdxExpression, SpdxIdentifier};
use cyclonedx_bom::models::license::{License, LicenseChoice, Licenses};

use crate::apt::DebLicenses;

/// The component's licenses: one SPDX expression (the conjunction of every name: each part of the
/// package is under its own license) when every name maps, else one license per single name (its
/// SPDX identifier where it has one, else Debian's name). `None` for a file that names none.
pub fn licenses(debian: &DebLicenses) -> Option<Licenses> {
    if debian.names.is_empty() {
        return None;
    }
    let mapped: Option<Vec<String>> = debian
        .names
        .iter()
        .map(|name| spdx_of_debian(name))
        .collect();
    if let Some(parts) = mapped {
        let expression = match parts.as_slice() {
            [one] => one.clone(),
            many => many
                .iter()
                .map(|part| parenthesized(part))
                .collect::<Vec<_>>()
                .join(" AND "),
        };
        if SpdxIdentifier::try_from(expression.clone()).is_ok() {
            return Some(Licenses(vec![LicenseChoice::License(License::license_id(
                &expression,
            ))]));
        }
        return Some(Licenses(vec![LicenseChoice::expression(&expression)]));
    }
    // Not all of it is SPDX: list each license once, compound names taken apart (the list says which
    // licenses apply, as other SBOM tools list Debian's).
    let mut atoms: Vec<&str> = Vec::new();
    for name in &debian.names {
        for atom in atoms_of(name) {
            if !atoms.contains(&atom) {
                atoms.push(atom);
            }
        }
    }
    let mut choices: Vec<LicenseChoice> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for atom in atoms {
        let choice = match spdx_of_name(atom) {
            Some(id) if SpdxIdentifier::try_from(id.clone()).is_ok() => {
                if seen.contains(&id) {
                    continue;
                }
                seen.push(id.clone());
                LicenseChoice::License(License::license_id(&id))
            }
            _ => LicenseChoice::license(atom),
        };
        choices.push(choice);
    }
    Some(Licenses(choices))
}

/// The single names of a DEP-5 license field (`LGPL-2.1+, and BSD-3-clause or Expat` → three).
fn atoms_of(field: &str) -> Vec<&str> {
    field
        .split(',')
        .flat_map(|clause| clause.split(" or "))
        .flat_map(|part| part.split(" and "))
        .map(|atom| {
            let atom = atom.trim();
            atom.strip_prefix("and ").unwrap_or(atom).trim()
        })
        .filter(|atom| !atom.is_empty())
        .collect()
}

fn parenthesized(expression: &str) -> String {
    if expression.contains(' ') {
        format!("({expression})")
    } else {
        expression.to_string()
    }
}

/// A DEP-5 license field (`GPL-2+ or Artistic`, `LGPL-2.1+, and BSD-3-clause`) as an SPDX expression,
/// when every short name in it has one. DEP-5 forbids mixing `and` and `or` without a comma; the comma
/// binds loosest and means `and`.
pub fn spdx_of_debian(field: &str) -> Option<String> {
    let clauses: Vec<String> = field
        .split(',')
        .map(|clause| {
            let clause = clause.trim();
            let clause = clause.strip_prefix("and ").unwrap_or(clause).trim();
            spdx_of_clause(clause)
        })
        .collect::<Option<_>>()?;
    let expression = if clauses.len() == 1 {
        clauses.into_iter().next()?
    } else {
        clauses
            .iter()
            .map(|clause| parenthesized(clause))
            .collect::<Vec<_>>()
            .join(" AND ")
    };
    SpdxExpression::try_from(expression.clone())
        .is_ok()
        .then_some(expression)
}

/// One clause: names joined by a single kind of operator.
fn spdx_of_clause(clause: &str) -> Option<String> {
    for (debian, spdx) in [(" or ", " OR "), (" and ", " AND ")] {
        if clause.contains(debian) {
            let names: Vec<String> = clause
                .split(debian)
                .map(|name| spdx_of_name(name.trim()).map(|id| parenthesized(&id)))
                .collect::<Option<_>>()?;
            return Some(names.join(spdx));
        }
    }
    spdx_of_name(clause)
}

/// One Debian short name as an SPDX identifier. `with <exception>` is kept only for an exception SPDX
/// lists under that name.
fn spdx_of_name(name: &str) -> Option<String> {
    if let Some((license, exception)) = name.split_once(" with ") {
        let exception = exception.trim().trim_end_matches(" exception").trim();
        let id = spdx_of_name(license.trim())?;
        let expression = format!("{id} WITH {exception}");
        return SpdxExpression::try_from(expression.clone())
            .is_ok()
            .then_some(expression);
    }
    if let Some(id) = debian_short_name(name) {
        return Some(id);
    }
    SpdxIdentifier::try_from(name.to_string())
        .is_ok()
        .then(|| name.to_string())
}

/// Debian's own short names (copyright-format 1.0, "License specification") that SPDX spells
/// differently; versions as `-2`, `-2.1`, `-2+` or `-2.0+`.
fn debian_short_name(name: &str) -> Option<String> {
    const SAME_MEANING: &[(&str, &str)] = &[
        ("expat", "MIT"),
        ("bsd-2-clause", "BSD-2-Clause"),
        ("bsd-3-clause", "BSD-3-Clause"),
        ("bsd-4-clause", "BSD-4-Clause"),
        ("zlib", "Zlib"),
        ("isc", "ISC"),
        ("cc0", "CC0-1.0"),
        ("cc0-1.0", "CC0-1.0"),
        ("apache-2", "Apache-2.0"),
        ("apache-2.0", "Apache-2.0"),
        ("mpl-1.1", "MPL-1.1"),
        ("mpl-2.0", "MPL-2.0"),
        ("artistic", "Artistic-1.0-Perl"),
        ("perl", "Artistic-1.0-Perl OR GPL-1.0-or-later"),
        ("openssl", "OpenSSL"),
        ("curl", "curl"),
        ("x11", "X11"),
        ("mit", "MIT"),
        ("ftl", "FTL"),
        ("libpng", "Libpng"),
        ("libpng-2.0", "libpng-2.0"),
        ("ijg", "IJG"),
        ("bsl-1.0", "BSL-1.0"),
        ("unicode-dfs-2016", "Unicode-DFS-2016"),
        ("sgi-b-2.0", "SGI-B-2.0"),
    ];
    let lower = name.to_ascii_lowercase();
    if let Some((_, spdx)) = SAME_MEANING.iter().find(|(debian, _)| *debian == lower) {
        return Some((*spdx).to_string());
    }
    // The GNU family: GPL-2, GPL-2+, LGPL-2.1+, AGPL-3, GFDL-1.3+ (optionally with `.0`).
    for family in ["LGPL", "AGPL", "GFDL", "GPL"] {
        let Some(version) = lower.strip_prefix(&format!("{}-", family.to_ascii_lowercase())) else {
            continue;
        };
        let (version, or_later) = match version.strip_suffix('+') {
            Some(version) => (version, true),
            None => (version, false),
        };
        let version = match version {
            "1" | "1.0" => "1.0",
            "2" | "2.0" => "2.0",
            "2.1" => "2.1",
            "3" | "3.0" => "3.0",
            "1.1" => "1.1",
            "1.2" => "1.2",
            "1.3" => "1.3",
            _ => return None,
        };
        let suffix = if or_later { "or-later" } else { "only" };
        let id = format!("{family}-{version}-{suffix}");
        return SpdxIdentifier::try_from(id.clone()).is_ok().then_some(id);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_names_become_spdx_where_spdx_has_them() {
        let cases = [
            ("GPL-2+", Some("GPL-2.0-or-later")),
            ("GPL-2", Some("GPL-2.0-only")),
            ("LGPL-2.1+", Some("LGPL-2.1-or-later")),
            ("LGPL-2.0+", Some("LGPL-2.0-or-later")),
            ("Expat", Some("MIT")),
            ("BSD-3-clause", Some("BSD-3-Clause")),
            ("Zlib", Some("Zlib")),
            ("Apache-2.0", Some("Apache-2.0")),
            (
                "GPL-2+ or Artistic",
                Some("GPL-2.0-or-later OR Artistic-1.0-Perl"),
            ),
            (
                "LGPL-2.1+, and BSD-3-clause or Expat",
                Some("LGPL-2.1-or-later AND (BSD-3-Clause OR MIT)"),
            ),
            (
                "GPL-3+ with Autoconf-exception-3.0",
                Some("GPL-3.0-or-later WITH Autoconf-exception-3.0"),
            ),
            ("GPL-2+ with OpenSSL exception", None),
            ("public-domain", None),
            ("other", None),
            ("GPL-7", None),
            (
                "Perl and Expat",
                Some("(Artistic-1.0-Perl OR GPL-1.0-or-later) AND MIT"),
            ),
        ];
        for (debian, spdx) in cases {
            assert_eq!(spdx_of_debian(debian).as_deref(), spdx, "{debian}");
        }
    }

    #[test]
    fn a_package_is_one_expression_when_every_name_maps_else_one_license_per_name() {
        let names = |names: &[&str]| DebLicenses {
            machine_readable: true,
            names: names.iter().map(ToString::to_string).collect(),
        };
        let shown = |licenses: Option<Licenses>| -> Vec<String> {
            licenses
                .map(|l| l.0)
                .unwrap_or_default()
                .into_iter()
                .map(|choice| match choice {
                    LicenseChoice::Expression(e) => format!("expression {e}"),
                    LicenseChoice::License(l) => format!("{:?}", l.license_identifier),
                })
                .collect()
        };
        assert_eq!(
            shown(licenses(&names(&["GPL-2+", "Expat"]))),
            ["expression GPL-2.0-or-later AND MIT"]
        );
        assert_eq!(shown(licenses(&names(&["Expat"]))).len(), 1);
        let mixed = shown(licenses(&names(&[
            "GPL-2+",
            "public-domain",
            "LGPL-2.1+ and Sundry",
            "GPL-2.0+ or BSL",
        ])));
        assert_eq!(mixed.len(), 5, "{mixed:?}");
        assert!(mixed[0].contains("GPL-2.0-or-later"), "{mixed:?}");
        assert!(mixed[1].contains("public-domain"), "{mixed:?}");
        assert!(mixed[2].contains("LGPL-2.1-or-later"), "{mixed:?}");
        assert!(mixed[3].contains("Sundry"), "{mixed:?}");
        assert!(mixed[4].contains("BSL"), "{mixed:?}");
        assert!(licenses(&DebLicenses::default()).is_none());
    }
}
