//! The input being diagnosed, with fixes applied to a copy, so each trial resolution starts from the
//! user's file and a known set of edits.

use pep508_rs::Requirement;

use super::{Edit, Problem};
use crate::requirements::{InputRequirement, Location, RequirementsInput};

/// The user's input with some edits applied.
#[derive(Debug, Clone)]
pub struct Working {
    current: RequirementsInput,
}

impl Working {
    pub fn new(input: RequirementsInput) -> Working {
        Working { current: input }
    }

    pub fn input(&self) -> &RequirementsInput {
        &self.current
    }

    /// Apply a problem's first fix, or, when it has none, drop the requirements it involves so the rest
    /// of the input can still be diagnosed.
    pub fn apply_first(&mut self, problem: &Problem) {
        match problem.fixes.first() {
            Some(fix) => self.apply(&fix.edits),
            None => {
                let removals: Vec<Edit> = problem
                    .locations
                    .iter()
                    .map(|location| Edit {
                        location: Some(location.clone()),
                        original: None,
                        replacement: None,
                    })
                    .collect();
                self.apply(&removals);
            }
        }
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

    fn replace(&mut self, location: &Location, replacement: Option<(&str, Requirement)>) {
        let Some(index) = self
            .current
            .requirements
            .iter()
            .position(|r| &r.location == location)
        else {
            return;
        };
        match replacement {
            Some((text, requirement)) => {
                let entry = &mut self.current.requirements[index];
                entry.requirement = requirement;
                entry.text = text.to_string();
            }
            None => {
                self.current.requirements.remove(index);
            }
        }
    }
}
