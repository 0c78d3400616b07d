//! PubGrub's derivation in fave-lock's words. pubgrub's default text names the root by its debug form
//! ("the requirements 0"), glues an unavailable release's reason after "are unavailable" ("... are
//! unavailable has no wheels") and prints a range union in full, however many releases it spans. This
//! formatter says "the input", gives the reason as one clause, and shortens long unions.

use pep440_rs::Version;
use pubgrub::{Derived, External, Map, ReportFormatter, Term};
use version_ranges::Ranges;

use super::package::PubGrubPackage;

type Ext = External<PubGrubPackage, Ranges<Version>, String>;
type Terms = Map<PubGrubPackage, Term<Ranges<Version>>>;
type Der = Derived<PubGrubPackage, Ranges<Version>, String>;

/// More intervals than this in a range union are shortened to the first and last.
const MAX_INTERVALS: usize = 3;

/// The formatter; stateless.
pub(super) struct Wording;

/// A range as text, a long union shortened: `>=1.0, <1.1 | … | >2.0 (9 intervals)`.
pub fn range_text(range: &Ranges<Version>) -> String {
    if range.is_empty() {
        return "(no version)".to_string();
    }
    let full = range.to_string();
    let parts: Vec<&str> = full.split(" | ").collect();
    if parts.len() <= MAX_INTERVALS {
        return full;
    }
    format!(
        "{} | … | {} ({} intervals)",
        parts[0],
        parts[parts.len() - 1],
        parts.len()
    )
}

fn node(package: &PubGrubPackage, range: &Ranges<Version>) -> String {
    match package {
        PubGrubPackage::Root => "the input".to_string(),
        _ if *range == Ranges::full() => package.to_string(),
        _ => format!("{package} {}", range_text(range)),
    }
}

impl Wording {
    fn term(package: &PubGrubPackage, term: &Term<Ranges<Version>>) -> String {
        match term {
            Term::Positive(range) => node(package, range),
            Term::Negative(range) => format!("not {}", node(package, range)),
        }
    }
}

impl ReportFormatter<PubGrubPackage, Ranges<Version>, String> for Wording {
    type Output = String;

    fn format_external(&self, external: &Ext) -> String {
        match external {
            External::NotRoot(package, version) => {
                format!("the resolution starts from {package} {version}")
            }
            External::NoVersions(package, range) => {
                if range.is_empty() {
                    format!("no release of {package} is left once the constraints apply")
                } else {
                    format!("no release of {package} matches {}", range_text(range))
                }
            }
            External::Custom(package, range, reason) => {
                format!("{} {reason}", node(package, range))
            }
            External::FromDependencyOf(from, from_range, to, to_range) => {
                let object = if to_range.is_empty() {
                    format!("{to}, but no version of it is left once the constraints apply")
                } else {
                    node(to, to_range)
                };
                format!("{} requires {object}", node(from, from_range))
            }
        }
    }

    fn format_terms(&self, terms: &Terms) -> String {
        let terms: Vec<_> = terms.iter().collect();
        match terms.as_slice() {
            [] => "there is no solution".to_string(),
            [(PubGrubPackage::Root, Term::Positive(_))] => {
                "the input cannot be resolved".to_string()
            }
            [(package, Term::Positive(range))] => {
                format!("{} cannot be used", node(package, range))
            }
            [(package, Term::Negative(range))] => format!("{} is needed", node(package, range)),
            [(p1, Term::Positive(r1)), (p2, Term::Negative(r2))]
            | [(p2, Term::Negative(r2)), (p1, Term::Positive(r1))] => {
                format!("{} requires {}", node(p1, r1), node(p2, r2))
            }
            slice => {
                let parts: Vec<String> = slice
                    .iter()
                    .map(|(package, term)| Wording::term(package, term))
                    .collect();
                format!("{} cannot all hold", parts.join(", "))
            }
        }
    }

    fn explain_both_external(&self, first: &Ext, second: &Ext, terms: &Terms) -> String {
        format!(
            "Because {} and {}, {}.",
            self.format_external(first),
            self.format_external(second),
            self.format_terms(terms)
        )
    }

    fn explain_both_ref(
        &self,
        first_id: usize,
        first: &Der,
        second_id: usize,
        second: &Der,
        terms: &Terms,
    ) -> String {
        format!(
            "Because {} ({first_id}) and {} ({second_id}), {}.",
            self.format_terms(&first.terms),
            self.format_terms(&second.terms),
            self.format_terms(terms)
        )
    }

    fn explain_ref_and_external(
        &self,
        id: usize,
        derived: &Der,
        external: &Ext,
        terms: &Terms,
    ) -> String {
        format!(
            "Because {} ({id}) and {}, {}.",
            self.format_terms(&derived.terms),
            self.format_external(external),
            self.format_terms(terms)
        )
    }

    fn and_explain_external(&self, external: &Ext, terms: &Terms) -> String {
        format!(
            "And because {}, {}.",
            self.format_external(external),
            self.format_terms(terms)
        )
    }

    fn and_explain_ref(&self, id: usize, derived: &Der, terms: &Terms) -> String {
        format!(
            "And because {} ({id}), {}.",
            self.format_terms(&derived.terms),
            self.format_terms(terms)
        )
    }

    fn and_explain_prior_and_external(&self, prior: &Ext, external: &Ext, terms: &Terms) -> String {
        format!(
            "And because {} and {}, {}.",
            self.format_external(prior),
            self.format_external(external),
            self.format_terms(terms)
        )
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn version(text: &str) -> Version {
        Version::from_str(text).unwrap()
    }

    #[test]
    fn an_unavailable_release_reads_as_one_clause_and_the_root_as_the_input() {
        let name = pep508_rs::PackageName::from_str("psycopg-c").unwrap();
        let unavailable = External::Custom(
            PubGrubPackage::Package(name.clone()),
            Ranges::singleton(version("3.3.5")),
            "has no wheels; only an sdist".to_string(),
        );
        assert_eq!(
            Wording.format_external(&unavailable),
            "psycopg-c 3.3.5 has no wheels; only an sdist"
        );
        let emptied = External::FromDependencyOf(
            PubGrubPackage::Root,
            Ranges::singleton(version("0")),
            PubGrubPackage::Package(name),
            Ranges::empty(),
        );
        let text = Wording.format_external(&emptied);
        assert_eq!(
            text,
            "the input requires psycopg-c, but no version of it is left once the constraints apply"
        );
        assert!(!text.contains('∅') && !text.contains("requirements 0"));
    }

    #[test]
    fn a_long_union_is_shortened_to_its_ends() {
        let mut range = Ranges::empty();
        for minor in 0..6 {
            range = range.union(&Ranges::singleton(version(&format!("4.{minor}"))));
        }
        let text = range_text(&range);
        assert!(text.contains("(6 intervals)"), "{text}");
        assert!(text.contains("4.0") && text.contains("4.5"), "{text}");
        assert!(!text.contains("4.3"), "{text}");
    }
}
