//! `template.toml`: what a template declares (a public contract, documented in
//! `docs/templates.md`): `[template]` name and version, `[variables.NAME]` in the order
//! they are asked, and `[[files]]` rules that include files only when a condition holds.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::config::render_at;
use crate::error::Error;

pub const FILE_NAME: &str = "template.toml";

/// Names a template cannot declare: lbc provides them to every template.
pub const BUILTIN_NAMES: &[&str] = &["dir_name", "template"];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    template: TemplateInfo,
    #[serde(default)]
    variables: BTreeMap<String, Variable>,
    #[serde(default)]
    files: Vec<FileRule>,
}

/// `[template]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateInfo {
    /// A short name (`python`, `acme-service`).
    pub name: String,
    /// The template's own version; recorded in the provenance of every generated repository.
    pub version: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Paths of the template that are never generated (its own README, tests...).
    /// `template.toml` is always excluded.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Files this version renamed, old path to new path (as generated, after rendering):
    /// `lbc upgrade` moves a repository's local edits along. Renames it does not declare
    /// are still found by content.
    #[serde(default)]
    pub renames: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VarType {
    #[default]
    String,
    Bool,
    Integer,
    Choice,
}

impl VarType {
    pub fn as_str(self) -> &'static str {
        match self {
            VarType::String => "string",
            VarType::Bool => "bool",
            VarType::Integer => "integer",
            VarType::Choice => "choice",
        }
    }
}

/// `[variables.NAME]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variable {
    #[serde(rename = "type", default)]
    pub kind: VarType,
    /// The default; a string default is itself a template over the earlier variables
    /// (`"registry.example.com/{{ name }}"`).
    #[serde(default)]
    pub default: Option<toml::Value>,
    /// The question asked on a terminal (default: the variable's name).
    #[serde(default)]
    pub prompt: Option<String>,
    /// One line shown by `lbc init --list` and in errors.
    #[serde(default)]
    pub help: Option<String>,
    /// The allowed values of a `choice`.
    #[serde(default)]
    pub choices: Vec<String>,
    /// A regular expression the whole value must match (strings and choices).
    #[serde(default)]
    pub pattern: Option<String>,
    /// Ask only when this expression over earlier variables is true; otherwise the
    /// default is taken.
    #[serde(default)]
    pub when: Option<String>,
    #[serde(skip)]
    pub name: String,
}

impl Variable {
    /// `when = "false"`: a value the template fixes (a built-in stack filling in its
    /// family's Dockerfile). Never asked, refused by `--set`, not listed by `lbc init
    /// --list`, and not recorded in the provenance, so that `lbc upgrade` renders every
    /// version with that version's own value.
    pub fn is_fixed(&self) -> bool {
        self.when.as_deref().map(str::trim) == Some("false")
    }
}

/// `[[files]]`: the listed paths are generated only when `when` is true.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRule {
    /// Paths in the template (a file, or a directory and everything below it), as
    /// written in the template, without the `.jinja` suffix.
    pub paths: Vec<String>,
    /// A minijinja expression over the variables (`ci == "gitlab"`, `monitoring`).
    pub when: String,
}

/// A parsed, validated `template.toml`.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub template: TemplateInfo,
    /// In declaration order: that is the order they are asked and resolved in.
    pub variables: Vec<Variable>,
    pub files: Vec<FileRule>,
}

impl Manifest {
    pub fn variable(&self, name: &str) -> Option<&Variable> {
        self.variables.iter().find(|v| v.name == name)
    }

    /// Parse `template.toml`; `path` names it in messages.
    pub fn parse(path: &Path, raw: &str) -> Result<Manifest, Error> {
        let bad = |span: Option<std::ops::Range<usize>>, message: &str, hint: Option<String>| {
            Error::Config {
                rendered: render_at(path, raw, span, message),
                hint,
            }
        };
        let parsed: Raw = toml::from_str(raw).map_err(|e| {
            bad(
                e.span(),
                e.message().trim(),
                Some("see docs/templates.md for the format of template.toml".into()),
            )
        })?;
        // The order of `[variables.*]` tables matters (later defaults use earlier
        // answers); serde's map loses it, the document keeps it.
        let doc = toml_edit::ImDocument::parse(raw.to_owned())
            .map_err(|e| bad(e.span(), e.message().trim(), None))?;
        let order: Vec<String> = doc
            .get("variables")
            .and_then(|v| v.as_table_like())
            .map(|t| t.iter().map(|(k, _)| k.to_owned()).collect())
            .unwrap_or_default();
        let span_of = |keys: &[&str]| -> Option<std::ops::Range<usize>> {
            let mut item = doc.as_item();
            let mut best = None;
            for k in keys {
                match item.get(k) {
                    Some(next) => {
                        if let Some(s) = next.span() {
                            best = Some(s);
                        }
                        item = next;
                    }
                    None => break,
                }
            }
            best
        };

        let info = parsed.template;
        if info.name.trim().is_empty() {
            return Err(bad(
                span_of(&["template", "name"]),
                "the template's name is empty",
                None,
            ));
        }
        if info.version.trim().is_empty() || info.version.chars().any(char::is_whitespace) {
            return Err(bad(
                span_of(&["template", "version"]),
                "the template's version must be non-empty and without spaces",
                Some("use a version like `1.0.0`".into()),
            ));
        }
        let mut variables = Vec::new();
        let mut vars = parsed.variables;
        let ident = regex::Regex::new("^[a-z_][a-z0-9_]*$").expect("valid regex");
        for name in order {
            let Some(mut v) = vars.remove(&name) else {
                continue;
            };
            v.name = name.clone();
            let here = |key: &str| span_of(&["variables", &name, key]);
            if !ident.is_match(&name) {
                return Err(bad(
                    span_of(&["variables", &name]),
                    &format!("variable name `{name}` is not valid"),
                    Some("use lowercase letters, digits and '_', starting with a letter".into()),
                ));
            }
            if BUILTIN_NAMES.contains(&name.as_str()) {
                return Err(bad(
                    span_of(&["variables", &name]),
                    &format!("`{name}` is provided by lbc and cannot be declared"),
                    Some(format!("reserved names: {}", BUILTIN_NAMES.join(", "))),
                ));
            }
            if let Some(p) = &v.pattern {
                if let Err(e) = regex::Regex::new(p) {
                    return Err(bad(
                        here("pattern"),
                        &format!("`pattern` of `{name}` is not a regular expression: {e}"),
                        None,
                    ));
                }
                if !matches!(v.kind, VarType::String | VarType::Choice) {
                    return Err(bad(
                        here("pattern"),
                        &format!(
                            "`pattern` applies to strings, and `{name}` is {}",
                            v.kind.as_str()
                        ),
                        None,
                    ));
                }
            }
            match v.kind {
                VarType::Choice if v.choices.is_empty() => {
                    return Err(bad(
                        span_of(&["variables", &name]),
                        &format!("choice variable `{name}` has no `choices`"),
                        Some("add `choices = [\"a\", \"b\"]`".into()),
                    ));
                }
                VarType::Choice => {}
                _ if !v.choices.is_empty() => {
                    return Err(bad(
                        here("choices"),
                        &format!(
                            "`choices` applies to choice variables, and `{name}` is {}",
                            v.kind.as_str()
                        ),
                        Some("set `type = \"choice\"`".into()),
                    ));
                }
                _ => {}
            }
            if let Some(d) = &v.default {
                let ok = match v.kind {
                    VarType::String => d.is_str(),
                    VarType::Bool => d.is_bool(),
                    VarType::Integer => d.is_integer(),
                    VarType::Choice => d
                        .as_str()
                        .is_some_and(|s| v.choices.iter().any(|c| c == s) || s.contains("{{")),
                };
                if !ok {
                    return Err(bad(
                        here("default"),
                        &format!(
                            "the default of `{name}` does not fit its type ({}{})",
                            v.kind.as_str(),
                            if v.kind == VarType::Choice {
                                format!(": one of {}", v.choices.join(", "))
                            } else {
                                String::new()
                            }
                        ),
                        None,
                    ));
                }
            }
            variables.push(v);
        }
        for rule in &parsed.files {
            if rule.paths.is_empty() {
                return Err(bad(
                    span_of(&["files"]),
                    "a [[files]] rule lists no `paths`",
                    None,
                ));
            }
        }
        Ok(Manifest {
            template: info,
            variables,
            files: parsed.files,
        })
    }
}

/// Does a rule's path (a file, or a directory prefix) cover `rel`?
pub fn covers(rule_path: &str, rel: &str) -> bool {
    let p = rule_path.trim_matches('/');
    rel == p || (rel.len() > p.len() && rel.starts_with(p) && rel.as_bytes()[p.len()] == b'/')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Manifest, Error> {
        Manifest::parse(Path::new("/t/template.toml"), s)
    }

    #[test]
    fn keeps_declaration_order() {
        let m = parse(
            "[template]\nname = \"t\"\nversion = \"1\"\n[variables.zeta]\n[variables.alpha]\ntype = \"bool\"\ndefault = true\n",
        )
        .unwrap();
        let names: Vec<_> = m.variables.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["zeta", "alpha"]);
    }

    #[test]
    fn errors_point_at_the_line() {
        let err = parse(
            "[template]\nname = \"t\"\nversion = \"1\"\n[variables.x]\ntype = \"integer\"\ndefault = \"a\"\n",
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("/t/template.toml:6:"), "{text}");
        let err =
            parse("[template]\nname = \"t\"\nversion = \"1\"\n[variables.x]\ntyp = \"bool\"\n")
                .unwrap_err();
        assert!(err.to_string().contains("unknown field `typ`"), "{err}");
        let err =
            parse("[template]\nname = \"t\"\nversion = \"1\"\n[variables.x]\npattern = \"(\"\n")
                .unwrap_err();
        assert!(
            err.to_string().contains("not a regular expression"),
            "{err}"
        );
    }

    #[test]
    fn rule_paths_cover_files_and_directories() {
        assert!(covers(".github", ".github/workflows/lbc.yml"));
        assert!(covers("Jenkinsfile", "Jenkinsfile"));
        assert!(!covers("Jenkins", "Jenkinsfile"));
        assert!(covers("deploy/chart/", "deploy/chart/values.yaml"));
    }
}
