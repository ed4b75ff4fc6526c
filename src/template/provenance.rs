//! `.lbc/template.toml`: where a repository's scaffolding came from, committed with the
//! repository (unlike `.lbc/state/`, which is git-ignored scratch). `lbc upgrade` reads it
//! to re-render the recorded version with the recorded answers and compare.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::template::{Answers, Origin, Template};

/// Relative to the repository root.
pub const PATH: &str = ".lbc/template.toml";

const HEADER: &str =
    "# Written by `lbc init`: the template this repository was generated from, and the\n\
# answers given. `lbc upgrade` re-renders it from here. Commit this file.\n";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provenance {
    pub template: Recorded,
    #[serde(default)]
    pub answers: BTreeMap<String, toml::Value>,
    /// Files of the template that the repository already had when `lbc init --adopt`
    /// adopted it: they stay the repository's own, and `lbc upgrade` never touches them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kept: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recorded {
    /// `builtin:STACK`, a directory path, or a git URL (without credentials).
    pub source: String,
    /// `builtin`, `directory` or `git`.
    pub kind: String,
    pub name: String,
    pub version: String,
    /// Git: the tag, branch or commit asked for.
    #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// The commit SHA (git) or `sha256:` of the template's content.
    pub identity: String,
}

impl Provenance {
    pub fn new(template: &Template, answers: &Answers) -> Self {
        let reference = match &template.origin {
            Origin::Git { reference, .. } => Some(reference.clone()),
            _ => None,
        };
        Provenance {
            template: Recorded {
                source: template.origin.source(),
                kind: template.origin.kind().to_owned(),
                name: template.manifest.template.name.clone(),
                version: template.manifest.template.version.clone(),
                reference,
                identity: template.identity.clone(),
            },
            answers: answers
                .shown()
                .map(|(k, v)| (k.clone(), v.to_toml()))
                .collect(),
            kept: Vec::new(),
        }
    }

    /// Whether `path` is a file the repository had before it was adopted.
    pub fn keeps(&self, path: &str) -> bool {
        self.kept.iter().any(|k| k == path)
    }

    /// The file's text: same provenance, same bytes.
    pub fn to_text(&self) -> String {
        let body = toml::to_string(self).expect("provenance serializes");
        format!("{HEADER}\n{body}")
    }

    /// Read the provenance of the repository at `root`, if it has one.
    pub fn load(root: &Path) -> Result<Option<Self>, Error> {
        let path = root.join(PATH);
        let raw = match fs_err::read_to_string(&path) {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(crate::fsutil::io_err(&path, e)),
        };
        Self::parse(&path, &raw).map(Some)
    }

    /// Parse the text of `.lbc/template.toml` (`path` names it in errors).
    pub fn parse(path: &Path, raw: &str) -> Result<Self, Error> {
        toml::from_str(raw).map_err(|e| Error::Config {
            rendered: crate::config::render_at(path, raw, e.span(), e.message().trim()),
            hint: Some("this file is written by `lbc init`; restore it from git".into()),
        })
    }
}
