//! The input being diagnosed, with fixes applied to a copy, so each trial resolution starts from the
//! user's file and a known set of edits.

use pep508_rs::Requirement;

use super::{Edit, Problem};
use crate::requirements::{InputRequirement, Location, RequirementsInput};
use crate::resolve::{Resolution, ResolveError, Resolver};

/// The user's input with some edits applied.
#[derive(Debug, Clone)]
pub struct Working {
    current: RequirementsInput,
    /// The lines as the user wrote them, to tell a changed line from the input's.
    original: Vec<InputRequirement>,
}

impl Working {
    pub fn new(input: RequirementsInput) -> Working {
        Working {
            original: input.requirements.clone(),
            current: input,
        }
    }

    /// The text the user wrote at `location`, when an earlier fix has changed that line.
    pub fn original_text(&self, location: &Location) -> Option<&str> {
        let now = self
            .current
            .requirements
            .iter()
            .find(|r| &r.location == location)?;
        self.original
            .iter()
            .find(|r| &r.location == location && r.text != now.text)
            .map(|r| r.text.as_str())
    }

    pub fn input(&self) -> &RequirementsInput {
        &self.current
    }

    /// Apply a problem's first fix, or, when it has none, drop the requirements it involves so the rest
    /// of the input can still be diagnosed.
    /// A first fix that changes the sdist policy rather than a line counts as none here: the lines stay
    /// out while the rest is diagnosed (its own check uses a resolver with that policy).
    pub fn apply_first(&mut self, problem: &Problem) {
        match problem
            .fixes
            .first()
            .filter(|fix| fix.allow_sdist.is_empty())
        {
            Some(fix) => self.apply(&fix.edits),
            None => {
                let removals: Vec<Edit> = problem.locations.iter().map(Edit::removal).collect();
                self.apply(&removals);
            }
        }
    }

    /// Resolve this input with one more edit applied (a candidate fix's trial).
    pub async fn resolve_with(
        &self,
        resolver: &Resolver,
        edit: &Edit,
    ) -> Result<Resolution, ResolveError> {
        let mut trial = self.clone();
        trial.apply(std::slice::from_ref(edit));
        resolver.resolve(trial.input()).await
    }

    /// Apply edits; an edit whose replacement does not parse is ignored (it cannot have been checked).
    pub fn apply(&mut self, edits: &[Edit]) {
        for edit in edits {
            let replacement = edit.replacement.as_deref().and_then(|text| {
                crate::requirements::pep508::parse_requirement(text)
                    .ok()
                    .map(|r| (text, r))
            });
            match (&edit.location, replacement) {
                (Some(location), replacement) => self.replace(location, replacement),
                (None, Some((text, requirement))) => {
                    let path = self.current.files.first().cloned().unwrap_or_default();
                    self.current.requirements.push(InputRequirement {
                        requirement,
                        location: Location { path, line: 0 },
                        text: text.to_string(),
                        hashes: Vec::new(),
                    });
                }
                (None, None) => {}
            }
        }
    }

    /// Replace or remove the line at `location`: a requirement, or else a constraint (`-c`).
    fn replace(&mut self, location: &Location, replacement: Option<(&str, Requirement)>) {
        let current = &mut self.current;
        for lines in [&mut current.requirements, &mut current.constraints] {
            let Some(index) = lines.iter().position(|r| &r.location == location) else {
                continue;
            };
            match replacement {
                Some((text, requirement)) => {
                    let entry = &mut lines[index];
                    entry.requirement = requirement;
                    entry.text = text.to_string();
                }
                None => {
                    lines.remove(index);
                }
            }
            return;
        }
    }
}
