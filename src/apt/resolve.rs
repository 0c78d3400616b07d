//! The dependency closure of the requested packages for one architecture, choosing as apt does:
//!
//! - each package's candidate is its highest version across the suites (so a newer version in
//!   `-security` or `-updates` wins over the release's);
//! - a `Depends`/`Pre-Depends` group already satisfied by a chosen or base package adds nothing; else
//!   its first alternative that can be satisfied is installed (the real package when its candidate
//!   fits the version constraint, else a package that `Provides` it, with a fitting provided version
//!   for a versioned relation);
//! - `:any` and `:native` qualifiers name this architecture (the image installs one architecture).
//!
//! The base image is left out: packages that are `Essential: yes` or `Priority: required`, with their
//! dependency closure, are on every Debian system (debootstrap's minbase, which debian:bookworm-slim
//! and so python:3.11-slim start from), so the image has them. It has more (python:3.11-slim adds
//! ca-certificates, netbase, tzdata and a few libraries), but which ones cannot be known from the
//! archive; locking one of those is harmless (apt keeps or upgrades it to the locked version). The
//! base counts as installed, at the suites' candidate version, for satisfying dependencies. Recommends, Conflicts and Breaks are not followed: the
//! image installs with `--no-install-recommends`, and the archive's one suite set is co-installable
//! for the packages it ships.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::packages::{Relation, Stanza};

/// One package version from one suite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub stanza: Stanza,
    /// The suite it is from (`bookworm-security`).
    pub suite: String,
}

/// Every package of the suites for one architecture.
#[derive(Debug, Clone, Default)]
pub struct Universe {
    /// Name → its versions, highest first.
    versions: BTreeMap<String, Vec<Candidate>>,
    /// Virtual name → `(provider, provided version)` for every version of every package.
    providers: BTreeMap<String, Vec<(String, Option<super::DebVersion>)>>,
}

impl Universe {
    /// The universe of `indices`, each `(suite, stanzas)`; later suites win ties.
    pub fn new(indices: Vec<(String, Vec<Stanza>)>) -> Universe {
        let mut universe = Universe::default();
        for (suite, stanzas) in indices {
            for stanza in stanzas {
                universe
                    .versions
                    .entry(stanza.package.clone())
                    .or_default()
                    .push(Candidate {
                        stanza,
                        suite: suite.clone(),
                    });
            }
        }
        for list in universe.versions.values_mut() {
            // Stable: of two equal versions the later suite's stays last, then comes first.
            list.sort_by(|a, b| a.stanza.version.cmp(&b.stanza.version));
            list.reverse();
        }
        for list in universe.versions.values() {
            let Some(top) = list.first() else { continue };
            for provided in &top.stanza.provides {
                let version = provided.constraint.as_ref().map(|(_, v)| v.clone());
                universe
                    .providers
                    .entry(provided.name.clone())
                    .or_default()
                    .push((top.stanza.package.clone(), version));
            }
        }
        universe
    }

    /// The candidate apt would install: the highest version.
    pub fn candidate(&self, name: &str) -> Option<&Candidate> {
        self.versions.get(name)?.first()
    }

    /// Every version of `name` the suites serve, highest first.
    pub fn versions(&self, name: &str) -> &[Candidate] {
        self.versions.get(name).map_or(&[], Vec::as_slice)
    }
}

/// A resolved closure for one architecture.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Closure {
    /// Name → the chosen candidate, without base packages.
    pub packages: BTreeMap<String, Candidate>,
    /// Name → the packages of the closure that satisfy its `Pre-Depends` and `Depends` (a provider
    /// where a virtual name was asked for); edges into the base system are left out with it.
    pub depends: BTreeMap<String, BTreeSet<String>>,
}

/// The closure of `requested` in `universe` for `arch`, without the base system.
///
/// # Errors
///
/// A message naming the first dependency (with the chain of packages that need it) that no package
/// of the suites satisfies, or a requested name no suite has.
pub fn resolve(universe: &Universe, requested: &[String], arch: &str) -> Result<Closure, String> {
    let mut state = State {
        universe,
        arch,
        chosen: BTreeMap::new(),
        depends: BTreeMap::new(),
    };
    // The base system first, as debootstrap's minbase variant (what debian:bookworm-slim and so
    // python:3.11-slim are made with) installs it: every required and essential package, with its
    // dependencies (libc6 is `Priority: optional`, yet every image has it through them).
    let roots: Vec<String> = universe
        .versions
        .iter()
        .filter(|(_, list)| list.first().is_some_and(|c| c.stanza.essential))
        .map(|(name, _)| name.clone())
        .collect();
    close(&mut state, &roots).map_err(|error| format!("the base system: {error}"))?;
    let base: BTreeSet<String> = state.chosen.keys().cloned().collect();
    close(&mut state, requested)?;
    let packages: BTreeMap<String, Candidate> = state
        .chosen
        .into_iter()
        .filter(|(name, _)| !base.contains(name))
        .collect();
    let depends = state
        .depends
        .into_iter()
        .filter(|(name, _)| packages.contains_key(name))
        .map(|(name, targets)| {
            let targets = targets
                .into_iter()
                .filter(|target| packages.contains_key(target) && *target != name)
                .collect();
            (name, targets)
        })
        .collect();
    Ok(Closure { packages, depends })
}

/// Install `roots` and their dependencies into `state`.
fn close(state: &mut State<'_>, roots: &[String]) -> Result<(), String> {
    let arch = state.arch;
    let mut queue: VecDeque<(String, Vec<String>)> = VecDeque::new();
    for name in roots {
        let relation = Relation {
            name: name.clone(),
            arch: None,
            constraint: None,
        };
        if state.satisfier(&relation).is_some() {
            continue;
        }
        let chosen = state
            .installable(&relation)
            .ok_or_else(|| format!("no suite has a package `{name}` for {arch}"))?;
        if state.choose(&chosen) {
            queue.push_back((chosen, Vec::new()));
        }
    }
    while let Some((name, mut chain)) = queue.pop_front() {
        chain.push(name.clone());
        let groups = state.chosen[&name]
            .stanza
            .dependencies()
            .map_err(|error| format!("{}: {error}", chain.join(" → ")))?;
        for group in &groups {
            if let Some(satisfier) = group.iter().find_map(|relation| state.satisfier(relation)) {
                state
                    .depends
                    .entry(name.clone())
                    .or_default()
                    .insert(satisfier);
                continue;
            }
            let Some(next) = group
                .iter()
                .find_map(|relation| state.installable(relation))
            else {
                let text: Vec<String> = group.iter().map(ToString::to_string).collect();
                return Err(format!(
                    "{} depends on `{}`, which no package of the suites satisfies",
                    chain.join(" → "),
                    text.join(" | ")
                ));
            };
            state
                .depends
                .entry(name.clone())
                .or_default()
                .insert(next.clone());
            if state.choose(&next) {
                queue.push_back((next, chain.clone()));
            }
        }
    }
    Ok(())
}

struct State<'a> {
    universe: &'a Universe,
    arch: &'a str,
    /// Installed so far: the base system, then the requested packages' closure.
    chosen: BTreeMap<String, Candidate>,
    /// Name → what satisfied each of its dependency groups.
    depends: BTreeMap<String, BTreeSet<String>>,
}

impl State<'_> {
    /// Whether the architecture qualifier can name this image's packages.
    fn arch_fits(&self, relation: &Relation) -> bool {
        relation
            .arch
            .as_deref()
            .is_none_or(|arch| matches!(arch, "any" | "native") || arch == self.arch)
    }

    /// The installed package that satisfies `relation`: itself at a fitting version, or the first
    /// installed provider by name.
    fn satisfier(&self, relation: &Relation) -> Option<String> {
        if !self.arch_fits(relation) {
            return None;
        }
        if self
            .chosen
            .get(&relation.name)
            .is_some_and(|c| relation.accepts(&c.stanza.version))
        {
            return Some(relation.name.clone());
        }
        self.chosen
            .iter()
            .find(|(_, c)| {
                c.stanza.provides.iter().any(|provided| {
                    provided.name == relation.name
                        && provides_fitting(relation, provided.constraint.as_ref().map(|(_, v)| v))
                })
            })
            .map(|(name, _)| name.clone())
    }

    /// The package to install for `relation`, if any: the real one, else the first provider by name.
    fn installable(&self, relation: &Relation) -> Option<String> {
        if !self.arch_fits(relation) {
            return None;
        }
        if let Some(candidate) = self.universe.candidate(&relation.name)
            && relation.accepts(&candidate.stanza.version)
        {
            return Some(relation.name.clone());
        }
        // The first provider by name: deterministic where apt would ask the user to pick.
        self.universe
            .providers
            .get(&relation.name)?
            .iter()
            .filter(|(_, version)| provides_fitting(relation, version.as_ref()))
            .map(|(provider, _)| provider)
            .min()
            .cloned()
    }

    /// Install `name`'s candidate; `false` when it was already installed.
    fn choose(&mut self, name: &str) -> bool {
        if self.chosen.contains_key(name) {
            return false;
        }
        let Some(candidate) = self.universe.candidate(name) else {
            return false;
        };
        self.chosen.insert(name.to_string(), candidate.clone());
        true
    }
}

/// A provided name satisfies an unversioned relation; a versioned one only with a provided version
/// that fits (Debian policy 7.5).
fn provides_fitting(relation: &Relation, provided: Option<&super::DebVersion>) -> bool {
    match (&relation.constraint, provided) {
        (None, _) => true,
        (Some(_), Some(version)) => relation.accepts(version),
        (Some(_), None) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apt::packages::parse_packages;

    fn universe() -> Universe {
        let stanzas = parse_packages(include_str!("testdata/Packages")).unwrap();
        Universe::new(vec![("bookworm".to_string(), stanzas)])
    }

    fn names(closure: &Closure) -> Vec<&str> {
        closure.packages.keys().map(String::as_str).collect()
    }

    #[test]
    fn closes_over_depends_without_the_base() {
        let closure = resolve(&universe(), &["libsndfile1".to_string()], "amd64").unwrap();
        assert_eq!(
            names(&closure),
            [
                "libflac12",
                "libmp3lame0",
                "libmpg123-0",
                "libogg0",
                "libopus0",
                "libsndfile1",
                "libvorbis0a",
                "libvorbisenc2"
            ]
        );
        // Edges as the Depends lines say, without libc6 (base).
        let edges = |name: &str| -> Vec<&str> {
            closure
                .depends
                .get(name)
                .map_or(Vec::new(), |set| set.iter().map(String::as_str).collect())
        };
        assert_eq!(
            edges("libsndfile1"),
            [
                "libflac12",
                "libmp3lame0",
                "libmpg123-0",
                "libogg0",
                "libopus0",
                "libvorbis0a",
                "libvorbisenc2"
            ]
        );
        assert_eq!(edges("libvorbisenc2"), ["libvorbis0a"]);
        assert!(
            closure
                .depends
                .keys()
                .all(|name| closure.packages.contains_key(name))
        );
        // libc6 is `Priority: optional`, but an essential package depends on it: base.
        for package in closure.packages.values() {
            assert!(
                !package.stanza.essential,
                "{} is base",
                package.stanza.package
            );
        }
    }

    #[test]
    fn alternatives_already_satisfied_by_the_base_add_nothing() {
        // ca-certificates: `debconf (>= 0.5) | debconf-2.0`; debconf is Priority: required.
        let closure = resolve(&universe(), &["ca-certificates".to_string()], "amd64").unwrap();
        assert!(closure.packages.contains_key("openssl"));
        assert!(!closure.packages.contains_key("debconf"));
    }

    #[test]
    fn virtual_and_alternatives_pick_as_apt_does() {
        // A stand-in that depends on a virtual name only a base package provides, then on an
        // alternative whose first choice does not exist, then on a version no suite has.
        let extra = "Package: demo\nVersion: 1.0\nArchitecture: amd64\nDepends: debconf-2.0, no-such-package | libogg0 (>= 1.3), libopus0:any\n\
                     Filename: pool/demo.deb\nSize: 1\nSHA256: 0000000000000000000000000000000000000000000000000000000000000000\n";
        let broken = "Package: broken\nVersion: 1.0\nArchitecture: amd64\nDepends: libogg0 (>= 99)\n\
                      Filename: pool/broken.deb\nSize: 1\nSHA256: 0000000000000000000000000000000000000000000000000000000000000000\n";
        let mut stanzas = parse_packages(include_str!("testdata/Packages")).unwrap();
        stanzas.extend(parse_packages(&format!("{extra}\n{broken}")).unwrap());
        let universe = Universe::new(vec![("bookworm".to_string(), stanzas)]);
        let closure = resolve(&universe, &["demo".to_string()], "amd64").unwrap();
        assert_eq!(names(&closure), ["demo", "libogg0", "libopus0"]);
        // debconf-2.0 is provided by a base package: no edge; the alternative's second choice is one.
        assert_eq!(
            closure.depends["demo"].iter().collect::<Vec<_>>(),
            ["libogg0", "libopus0"]
        );
        let error = resolve(&universe, &["broken".to_string()], "amd64").unwrap_err();
        assert_eq!(
            error,
            "broken depends on `libogg0 (>= 99)`, which no package of the suites satisfies"
        );
        assert!(resolve(&universe, &["nope".to_string()], "amd64").is_err());
        // Requested by its virtual name: the provider is installed.
        let direct = resolve(&universe, &["debconf-2.0".to_string()], "amd64").unwrap();
        assert!(
            direct.packages.is_empty(),
            "debconf is base: {:?}",
            names(&direct)
        );
    }

    #[test]
    fn newer_suites_win() {
        let base = parse_packages(include_str!("testdata/Packages")).unwrap();
        let mut newer: Vec<Stanza> = base
            .iter()
            .filter(|s| s.package == "libogg0")
            .cloned()
            .collect();
        newer[0].version = format!("{}+deb12u1", newer[0].version).parse().unwrap();
        let universe = Universe::new(vec![
            ("bookworm".to_string(), base),
            ("bookworm-security".to_string(), newer),
        ]);
        let closure = resolve(&universe, &["libsndfile1".to_string()], "amd64").unwrap();
        assert_eq!(closure.packages["libogg0"].suite, "bookworm-security");
        assert_eq!(closure.packages["libopus0"].suite, "bookworm");
    }
}
