//! A Debian `Packages` index (deb822 stanzas, one per binary package) and the relation fields of a
//! stanza (`Depends`, `Pre-Depends`, `Provides`): `a (>= 1.0) | b:any, c`.
//!
//! Only the fields the lock needs are kept; unknown fields and continuation lines of others (a long
//! `Description`) are skipped. A stanza without `Package`, `Version`, `Filename`, `Size` or `SHA256`
//! cannot be locked and is an error naming it, since the index is signed data that should not have one.

use std::fmt;

use super::version::DebVersion;

/// A version operator of a relation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Less,
    LessEq,
    Eq,
    GreaterEq,
    Greater,
}

impl Op {
    fn parse(text: &str) -> Option<Op> {
        Some(match text {
            "<<" => Op::Less,
            // `<` and `>` are deprecated spellings of `<=` and `>=` (deb-control(5)).
            "<=" | "<" => Op::LessEq,
            "=" => Op::Eq,
            ">=" | ">" => Op::GreaterEq,
            ">>" => Op::Greater,
            _ => return None,
        })
    }

    /// Whether `version` satisfies `op bound`.
    pub fn holds(self, version: &DebVersion, bound: &DebVersion) -> bool {
        match self {
            Op::Less => version < bound,
            Op::LessEq => version <= bound,
            Op::Eq => version == bound,
            Op::GreaterEq => version >= bound,
            Op::Greater => version > bound,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Op::Less => "<<",
            Op::LessEq => "<=",
            Op::Eq => "=",
            Op::GreaterEq => ">=",
            Op::Greater => ">>",
        }
    }
}

/// One alternative of a relation: `name[:arch] [(op version)]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    pub name: String,
    /// `any`, `native` or an architecture; `None` without a qualifier.
    pub arch: Option<String>,
    pub constraint: Option<(Op, DebVersion)>,
}

impl Relation {
    /// Whether a package of `version` satisfies the version part.
    pub fn accepts(&self, version: &DebVersion) -> bool {
        self.constraint
            .as_ref()
            .is_none_or(|(op, bound)| op.holds(version, bound))
    }
}

impl fmt::Display for Relation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let Some(arch) = &self.arch {
            write!(f, ":{arch}")?;
        }
        if let Some((op, version)) = &self.constraint {
            write!(f, " ({} {version})", op.as_str())?;
        }
        Ok(())
    }
}

/// A relation field: a conjunction of disjunctions (`a | b, c`).
pub type Relations = Vec<Vec<Relation>>;

/// One binary package stanza.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stanza {
    pub package: String,
    pub version: DebVersion,
    pub architecture: String,
    /// `Pre-Depends` and `Depends` as written: parsed when the resolver reaches the package
    /// ([`Stanza::dependencies`]), since it visits a few hundred of the index's ~60,000 stanzas.
    pre_depends: String,
    depends: String,
    pub provides: Vec<Relation>,
    /// Path of the `.deb` below the archive's base URL (`pool/main/…`).
    pub filename: String,
    pub size: u64,
    pub sha256: String,
    /// `Priority: required` or `Essential: yes`: part of every Debian system.
    pub essential: bool,
}

impl Stanza {
    /// `Pre-Depends`, then `Depends`: the groups that must hold before the package is installed.
    ///
    /// # Errors
    ///
    /// [`ParseError::BadField`] for a relation that does not parse.
    pub fn dependencies(&self) -> Result<Relations, ParseError> {
        let mut groups = Vec::new();
        for (field, text) in [
            ("Pre-Depends", &self.pre_depends),
            ("Depends", &self.depends),
        ] {
            groups.extend(
                parse_relations(text).map_err(|message| ParseError::BadField {
                    stanza: self.package.clone(),
                    field,
                    message,
                })?,
            );
        }
        Ok(groups)
    }
}

/// Why an index or a relation does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("stanza {stanza}: no `{field}` field")]
    MissingField { stanza: String, field: &'static str },
    #[error("stanza {stanza}: `{field}` is invalid: {message}")]
    BadField {
        stanza: String,
        field: &'static str,
        message: String,
    },
}

/// Parse a relation field's value.
///
/// # Errors
///
/// A message for an alternative that is not `name[:arch] [(op version)]`.
pub fn parse_relations(text: &str) -> Result<Relations, String> {
    text.split(',')
        .map(str::trim)
        .filter(|group| !group.is_empty())
        .map(|group| group.split('|').map(parse_relation).collect())
        .collect()
}

fn parse_relation(text: &str) -> Result<Relation, String> {
    let text = text.trim();
    // Build profiles (`<!nocheck>`) and arch restrictions (`[amd64]`) appear only in source
    // packages' build relations, never in a binary package's fields: refuse rather than misread.
    if text.contains(['[', '<']) && !text.contains('(') {
        return Err(format!("`{text}`: build restrictions in a binary relation"));
    }
    let (head, constraint) = match text.split_once('(') {
        Some((head, rest)) => {
            let inner = rest
                .strip_suffix(')')
                .ok_or_else(|| format!("`{text}`: no closing `)`"))?
                .trim();
            let split = inner
                .find(|c: char| !"<>=".contains(c))
                .ok_or_else(|| format!("`{text}`: no version"))?;
            let (op, version) = inner.split_at(split);
            let op = Op::parse(op.trim()).ok_or_else(|| format!("`{text}`: unknown operator"))?;
            let version: DebVersion = version.trim().parse().map_err(|e| format!("{e}"))?;
            (head.trim(), Some((op, version)))
        }
        None => (text, None),
    };
    let (name, arch) = match head.split_once(':') {
        Some((name, arch)) => (name, Some(arch.to_string())),
        None => (head, None),
    };
    let valid = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c);
    if name.is_empty() || !name.chars().all(valid) {
        return Err(format!("`{text}`: `{name}` is not a package name"));
    }
    Ok(Relation {
        name: name.to_string(),
        arch,
        constraint,
    })
}

/// Parse a whole `Packages` file.
///
/// # Errors
///
/// The first stanza that misses a needed field or has one that does not parse.
pub fn parse_packages(text: &str) -> Result<Vec<Stanza>, ParseError> {
    let mut stanzas = Vec::new();
    for block in text.split("\n\n") {
        if block.trim().is_empty() {
            continue;
        }
        stanzas.push(parse_stanza(block)?);
    }
    Ok(stanzas)
}

/// The fields this module reads, in one pass over the stanza's lines (continuation lines dropped: none
/// of these fields has any). Debian indices are ~60,000 stanzas, so one pass, not one per field.
const FIELDS: [&str; 11] = [
    "Package",
    "Version",
    "Architecture",
    "Depends",
    "Pre-Depends",
    "Provides",
    "Filename",
    "Size",
    "SHA256",
    "Essential",
    "Priority",
];

fn fields(block: &str) -> [Option<&str>; FIELDS.len()] {
    let mut values = [None; FIELDS.len()];
    for line in block.lines() {
        if line.starts_with([' ', '\t']) {
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        if let Some(index) = FIELDS
            .iter()
            .position(|field| field.eq_ignore_ascii_case(key))
        {
            values[index] = Some(value.trim());
        }
    }
    values
}

fn parse_stanza(block: &str) -> Result<Stanza, ParseError> {
    let values = fields(block);
    let get = |field: &str| {
        FIELDS
            .iter()
            .position(|known| *known == field)
            .and_then(|index| values[index])
    };
    let stanza = get("Package").unwrap_or("?").to_string();
    let need = |field: &'static str| {
        get(field).ok_or_else(|| ParseError::MissingField {
            stanza: stanza.clone(),
            field,
        })
    };
    let bad = |field: &'static str, message: String| ParseError::BadField {
        stanza: stanza.clone(),
        field,
        message,
    };
    let package = need("Package")?.to_string();
    let version: DebVersion = need("Version")?
        .parse()
        .map_err(|e: super::version::VersionError| bad("Version", e.to_string()))?;
    let relations = |field: &'static str| {
        get(field)
            .map_or_else(|| Ok(Vec::new()), parse_relations)
            .map_err(|message| bad(field, message))
    };
    let provides = relations("Provides")?
        .into_iter()
        .map(|mut group| {
            if group.len() == 1 {
                Ok(group.remove(0))
            } else {
                Err(bad("Provides", "alternatives in Provides".to_string()))
            }
        })
        .collect::<Result<_, _>>()?;
    let sha256 = need("SHA256")?.to_ascii_lowercase();
    if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad("SHA256", format!("`{sha256}` is not a sha256")));
    }
    Ok(Stanza {
        version,
        architecture: need("Architecture")?.to_string(),
        pre_depends: get("Pre-Depends").unwrap_or_default().to_string(),
        depends: get("Depends").unwrap_or_default().to_string(),
        provides,
        filename: need("Filename")?.to_string(),
        size: need("Size")?
            .parse()
            .map_err(|_| bad("Size", "not a number".to_string()))?,
        sha256,
        essential: get("Essential") == Some("yes") || get("Priority") == Some("required"),
        package,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Real stanzas from bookworm's main/binary-amd64/Packages (descriptions shortened).
    pub(crate) const STANZAS: &str = include_str!("testdata/Packages");

    #[test]
    fn parses_real_stanzas() {
        let stanzas = parse_packages(STANZAS).unwrap();
        let sndfile = stanzas.iter().find(|s| s.package == "libsndfile1").unwrap();
        assert_eq!(sndfile.architecture, "amd64");
        assert!(
            sndfile
                .filename
                .starts_with("pool/main/libs/libsndfile/libsndfile1_")
        );
        assert!(sndfile.size > 0);
        assert!(!sndfile.essential);
        let groups = sndfile.dependencies().unwrap();
        let names: Vec<&str> = groups.iter().map(|group| group[0].name.as_str()).collect();
        assert!(names.contains(&"libc6"), "{names:?}");
        let dpkg = stanzas.iter().find(|s| s.package == "dpkg").unwrap();
        assert!(dpkg.essential, "dpkg is Essential: yes");
        let libc = stanzas.iter().find(|s| s.package == "libc6").unwrap();
        assert!(
            !libc.essential,
            "libc6 is Priority: optional since bookworm"
        );
    }

    #[test]
    fn parses_relations() {
        let relations = parse_relations(
            "libc6 (>= 2.34), debconf (>= 0.5) | debconf-2.0, perl:any, foo (<< 2~)",
        )
        .unwrap();
        assert_eq!(relations.len(), 4);
        assert_eq!(relations[1].len(), 2);
        assert_eq!(relations[1][1].name, "debconf-2.0");
        assert_eq!(relations[2][0].arch.as_deref(), Some("any"));
        let (op, bound) = relations[3][0].constraint.clone().unwrap();
        assert_eq!(op, Op::Less);
        assert!(relations[3][0].accepts(&"1.9".parse().unwrap()));
        assert!(!relations[3][0].accepts(&"2".parse().unwrap()));
        assert_eq!(bound.as_str(), "2~");
        assert_eq!(relations[0][0].to_string(), "libc6 (>= 2.34)");
        for bad in ["libc6 (>= 2.34", "Libc6", "foo (~ 1)", "foo ()"] {
            assert!(parse_relations(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn refuses_stanzas_that_cannot_be_locked() {
        let missing =
            "Package: foo\nVersion: 1.0\nArchitecture: all\nFilename: pool/f/foo.deb\nSize: 1\n";
        assert_eq!(
            parse_packages(missing).unwrap_err().to_string(),
            "stanza foo: no `SHA256` field"
        );
        let bad_hash = format!("{missing}SHA256: 12\n");
        assert!(parse_packages(&bad_hash).is_err());
        let bad_depends = format!(
            "{missing}SHA256: {}\nDepends: libc6 (>= 2.34\n",
            "0".repeat(64)
        );
        let stanzas = parse_packages(&bad_depends).unwrap();
        assert_eq!(
            stanzas[0].dependencies().unwrap_err().to_string(),
            "stanza foo: `Depends` is invalid: `libc6 (>= 2.34`: no closing `)`"
        );
    }
}
