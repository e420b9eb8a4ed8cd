//! Loading a framework: TOML parsed into typed rules, then every cross
//! reference and every rule checked, all problems reported at once with the
//! file and line.
//!
//! In: a file, a shipped framework's id, or text. Out: a [`Framework`] or a
//! [`FrameworkError`] listing every problem.

use std::path::{Path, PathBuf};

use super::{Framework, Outcome, Problem};
use crate::triangulate::rules::Checker;

/// Problems found while loading a framework.
#[derive(Debug, thiserror::Error)]
pub struct FrameworkError {
    pub path: PathBuf,
    pub issues: Vec<(Option<usize>, String)>,
}

impl std::fmt::Display for FrameworkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "framework {} is not valid:", self.path.display())?;
        for (line, msg) in &self.issues {
            match line {
                Some(l) => write!(f, "\n  {}:{l}: {msg}", self.path.display())?,
                None => write!(f, "\n  {}: {msg}", self.path.display())?,
            }
        }
        Ok(())
    }
}

impl Framework {
    pub fn load(path: &Path) -> Result<Framework, FrameworkError> {
        let text = std::fs::read_to_string(path).map_err(|e| FrameworkError {
            path: path.to_path_buf(),
            issues: vec![(None, format!("cannot read: {e}"))],
        })?;
        Self::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Framework, FrameworkError> {
        let mut fw: Framework = toml::from_str(text).map_err(|e| FrameworkError {
            path: path.to_path_buf(),
            issues: vec![(
                e.span().map(|s| text[..s.start].matches('\n').count() + 1),
                e.message().to_string(),
            )],
        })?;
        fw.path = path.to_path_buf();
        let line_of = |needle: &str| {
            text.lines()
                .position(|l| l.contains(&format!("\"{needle}\"")))
                .map(|i| i + 1)
        };
        let mut issues = Vec::new();
        let problem_ids: Vec<&str> = fw.problems.iter().map(|p| p.id.as_str()).collect();
        let mut seen = std::collections::HashSet::new();
        for p in &fw.problems {
            if !seen.insert(p.id.clone()) {
                issues.push((
                    line_of(&p.id),
                    format!("problem id '{}' is used twice", p.id),
                ));
            }
            for i in &p.indicators {
                if !seen.insert(i.id.clone()) {
                    issues.push((line_of(&i.id), format!("id '{}' is used twice", i.id)));
                }
                Checker::new(&fw, &i.id, line_of(&i.id), &mut issues).rule(&i.rule);
            }
        }
        for o in &fw.outcomes {
            if !seen.insert(o.id.clone()) {
                issues.push((
                    line_of(&o.id),
                    format!("outcome id '{}' is used twice", o.id),
                ));
            }
            if !problem_ids.contains(&o.problem.as_str()) {
                issues.push((
                    line_of(&o.id),
                    format!("outcome {}: problem '{}' is not defined", o.id, o.problem),
                ));
            }
            for a in &o.also_evidences {
                if !problem_ids.contains(&a.as_str()) {
                    issues.push((
                        line_of(&o.id),
                        format!("outcome {}: also_evidences '{a}' is not a problem id", o.id),
                    ));
                }
            }
            if o.wording.trim().is_empty() {
                issues.push((
                    line_of(&o.id),
                    format!("outcome {}: wording is empty", o.id),
                ));
            }
            Checker::new(&fw, &o.id, line_of(&o.id), &mut issues).rule(&o.rule);
        }
        if !issues.is_empty() {
            return Err(FrameworkError {
                path: path.to_path_buf(),
                issues,
            });
        }
        Ok(fw)
    }

    pub fn outcome(&self, id: &str) -> Option<&Outcome> {
        self.outcomes.iter().find(|o| o.id == id)
    }

    pub fn problem(&self, id: &str) -> Option<&Problem> {
        self.problems.iter().find(|p| p.id == id)
    }
}

/// The frameworks shipped in `frameworks/`, compiled into the binary so
/// `framework = "sunderland"` works without a file.
pub const BUILTIN: &[(&str, &str)] = &[
    (
        "sunderland",
        include_str!("../../frameworks/sunderland.toml"),
    ),
    (
        "south-tyneside",
        include_str!("../../frameworks/south-tyneside.toml"),
    ),
    ("bristol", include_str!("../../frameworks/bristol.toml")),
    ("cumbria", include_str!("../../frameworks/cumbria.toml")),
    ("leicester", include_str!("../../frameworks/leicester.toml")),
];

impl Framework {
    /// A shipped framework by id.
    pub fn builtin(id: &str) -> Option<Result<Framework, FrameworkError>> {
        BUILTIN
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(i, text)| Self::parse(Path::new(&format!("frameworks/{i}.toml")), text))
    }

    /// Every shipped framework.
    pub fn all_builtin() -> Vec<Framework> {
        BUILTIN
            .iter()
            .filter_map(|(i, _)| Self::builtin(i).and_then(Result::ok))
            .collect()
    }

    /// A file if `spec` names one, otherwise a shipped framework's id.
    pub fn resolve(spec: &Path) -> Result<Framework, FrameworkError> {
        if spec.is_file() {
            return Self::load(spec);
        }
        let id = spec.to_str().unwrap_or("");
        Self::builtin(id).unwrap_or_else(|| {
            Err(FrameworkError {
                path: spec.to_path_buf(),
                issues: vec![(
                    None,
                    format!(
                        "no such file, and not a shipped framework ({})",
                        BUILTIN
                            .iter()
                            .map(|(i, _)| *i)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )],
            })
        })
    }
}
