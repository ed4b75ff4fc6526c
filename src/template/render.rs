//! Rendering a template into memory: `.jinja` files through minijinja (undefined
//! variables are errors, the suffix is dropped), other files byte for byte, path names
//! rendered too. Every resulting path is checked: absolute paths, `..`, `.git` and links
//! that point outside the destination are rejected, so a template cannot write outside
//! the directory it generates.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::suggest_dns_label;
use crate::error::Error;
use crate::template::manifest::covers;
use crate::template::provenance;
use crate::template::source::{Content, Template};

pub const SUFFIX: &str = ".jinja";

/// One file to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutFile {
    /// Relative to the destination, `/`-separated, checked.
    pub path: String,
    pub content: OutContent,
    /// The template file it came from (empty for files lbc adds itself).
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutContent {
    File { bytes: Vec<u8>, executable: bool },
    Link { target: String },
}

impl OutContent {
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn len(&self) -> usize {
        match self {
            OutContent::File { bytes, .. } => bytes.len(),
            OutContent::Link { target } => target.len(),
        }
    }
}

/// The minijinja environment every template renders with.
pub fn environment() -> minijinja::Environment<'static> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.set_keep_trailing_newline(true);
    // Values are escaped for the kind of file they land in (issue #9), so that a
    // variable cannot add a table to lbc.toml or a key to a YAML file.
    env.set_auto_escape_callback(|name| {
        let name = name.strip_suffix(SUFFIX).unwrap_or(name);
        match name.rsplit_once('.').map(|(_, ext)| ext) {
            Some("toml") => minijinja::AutoEscape::Custom("toml"),
            Some("json") => minijinja::AutoEscape::Custom("json"),
            Some("yaml" | "yml") => minijinja::AutoEscape::Custom("yaml"),
            Some("html" | "htm") => minijinja::AutoEscape::Html,
            _ => minijinja::AutoEscape::None,
        }
    });
    env.set_formatter(format_value);
    env.add_filter("dns_label", |s: String| suggest_dns_label(&s));
    env.add_filter("snake_case", |s: String| words(&s).join("_"));
    env.add_filter("pascal_case", |s: String| {
        words(&s)
            .iter()
            .map(|w| {
                let mut c = w.chars();
                match c.next() {
                    Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
                    None => String::new(),
                }
            })
            .collect::<String>()
    });
    env
}

/// Write one `{{ value }}`: strings are escaped for the file's kind (see
/// [`escape_for`]); numbers, booleans and values marked safe (`| tojson`) as they are.
fn format_value(
    out: &mut minijinja::Output,
    state: &minijinja::State,
    value: &minijinja::Value,
) -> Result<(), minijinja::Error> {
    let minijinja::AutoEscape::Custom(kind) = state.auto_escape() else {
        return minijinja::escape_formatter(out, state, value);
    };
    let text = match value.as_str() {
        Some(s) if !value.is_safe() => escape_for(kind, s)
            .map_err(|why| minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, why))?,
        _ => value.to_string(),
    };
    out.write_str(&text)
        .map_err(|e| minijinja::Error::new(minijinja::ErrorKind::WriteFailure, e.to_string()))
}

/// A string value as it may appear in a file of this kind:
/// - TOML: escaped for a basic string (`\\`, `\"`, `'` and control characters as
///   `\uXXXX`): inside "..." it reads back as the value; elsewhere it cannot start a
///   new line, table or string;
/// - JSON: escaped for a JSON string (inside "...");
/// - YAML: refused unless it is a safe plain scalar (YAML's meaning depends on where
///   the value sits, so lbc does not guess): the template can write `{{ x | tojson }}`,
///   a quoted JSON string that YAML reads as the value.
pub fn escape_for(kind: &str, s: &str) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    match kind {
        "toml" | "json" => {
            for c in s.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '"' => out.push_str("\\\""),
                    '\'' if kind == "toml" => out.push_str("\\u0027"),
                    c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
                    c => out.push(c),
                }
            }
            Ok(out)
        }
        "yaml" => {
            let plain = !s.is_empty()
                && !s.starts_with(|c: char| "-?:,[]{}#&*!|>'\"%@` ".contains(c))
                && !s.ends_with([' ', ':'])
                && !s.contains(": ")
                && !s.contains(" #")
                && s.chars().all(|c| {
                    !c.is_control() && !matches!(c, '"' | '\'' | '\\' | '{' | '}' | '[' | ']')
                });
            if plain {
                Ok(s.to_owned())
            } else {
                Err(format!(
                    "the value `{}` cannot be written into a YAML file as it is (quotes, ': ', ' #', brackets or a leading indicator would change the file's structure); write `| tojson` after the variable in the template to quote it",
                    crate::validate::excerpt(s)
                ))
            }
        }
        other => Err(format!("no escaping rules for `{other}` files")),
    }
}

/// Lowercase ASCII words of `s` (split on anything that is not a letter or digit).
fn words(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect()
}

/// Evaluate a condition (`when`) over the context.
pub fn eval_bool(
    env: &minijinja::Environment,
    expr: &str,
    ctx: &BTreeMap<String, minijinja::Value>,
) -> Result<bool, minijinja::Error> {
    let e = env.compile_expression(expr)?;
    Ok(e.eval(ctx)?.is_true())
}

fn bad(template: &Template, message: String, hint: Option<String>) -> Error {
    Error::usage(
        format!(
            "template `{}` ({}): {message}",
            template.manifest.template.name,
            template.origin.source()
        ),
        hint,
    )
}

/// What to suggest for a render error.
fn render_hint(e: &minijinja::Error) -> String {
    match e.kind() {
        minijinja::ErrorKind::UndefinedError => "every variable a .jinja file uses must be declared in template.toml (or be a built-in: dir_name, template)".into(),
        minijinja::ErrorKind::UnknownFilter | minijinja::ErrorKind::UnknownFunction | minijinja::ErrorKind::UnknownTest => "templates have minijinja's built-in filters and tests, plus the filters dns_label, snake_case and pascal_case".into(),
        minijinja::ErrorKind::SyntaxError => "literal `{{` or `{%` in a .jinja file: wrap them in {% raw %}...{% endraw %}, or drop the .jinja suffix to copy the file as it is".into(),
        _ => "see docs/templates.md".into(),
    }
}

/// The line of `text` where a render error happened, to show with the message.
fn error_line(e: &minijinja::Error, text: &str) -> String {
    match e.line() {
        Some(n) if n > 0 => match text.lines().nth(n - 1) {
            Some(l) => format!("\n  {n} | {}", l.trim_end()),
            None => String::new(),
        },
        _ => String::new(),
    }
}

/// Render every file of `template` with `ctx` into memory, sorted by path.
pub fn render(
    template: &Template,
    ctx: &BTreeMap<String, minijinja::Value>,
) -> Result<Vec<OutFile>, Error> {
    let env = environment();
    let manifest = &template.manifest;
    // Evaluate each [[files]] condition once.
    let mut rules = Vec::new();
    for (i, rule) in manifest.files.iter().enumerate() {
        let on = eval_bool(&env, &rule.when, ctx).map_err(|e| {
            bad(
                template,
                format!(
                    "`when = {:?}` of [[files]] rule {} does not evaluate: {e}",
                    rule.when,
                    i + 1
                ),
                None,
            )
        })?;
        rules.push((rule, on));
    }
    let mut out: Vec<OutFile> = Vec::new();
    for file in &template.files {
        if manifest
            .template
            .exclude
            .iter()
            .any(|p| covers(p, &file.path))
        {
            continue;
        }
        let (logical, rendered) = match file.path.strip_suffix(SUFFIX) {
            Some(stem) if !stem.is_empty() && !stem.ends_with('/') => (stem.to_owned(), true),
            _ => (file.path.clone(), false),
        };
        if rules
            .iter()
            .any(|(rule, on)| !on && rule.paths.iter().any(|p| covers(p, &logical)))
        {
            continue;
        }
        let path_text = if logical.contains("{{") || logical.contains("{%") {
            env.render_str(&logical, ctx).map_err(|e| {
                bad(
                    template,
                    format!("the path `{}` does not render: {e}", file.path),
                    None,
                )
            })?
        } else {
            logical.clone()
        };
        let Some(path) = check_path(template, &file.path, &path_text)? else {
            continue; // an empty path component: skipped on purpose
        };
        let content = match &file.content {
            Content::Link { target } => {
                check_link(template, &path, target)?;
                OutContent::Link {
                    target: target.clone(),
                }
            }
            Content::File { bytes, executable } if rendered => {
                let text = std::str::from_utf8(bytes).map_err(|_| {
                    bad(
                        template,
                        format!("`{}` ends in .jinja but is not UTF-8 text", file.path),
                        Some("drop the .jinja suffix to copy it byte for byte".into()),
                    )
                })?;
                let rendered = env.render_named_str(&file.path, text, ctx).map_err(|e| {
                    bad(
                        template,
                        format!("{e}{}", error_line(&e, text)),
                        Some(render_hint(&e)),
                    )
                })?;
                OutContent::File {
                    bytes: rendered.into_bytes(),
                    executable: *executable,
                }
            }
            Content::File { bytes, executable } => OutContent::File {
                bytes: bytes.clone(),
                executable: *executable,
            },
        };
        out.push(OutFile {
            path,
            content,
            source: file.path.clone(),
        });
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    // Two template files rendering to one path, or a file where another needs a directory.
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    let mut dirs: BTreeSet<String> = BTreeSet::new();
    for f in &out {
        if let Some(other) = seen.insert(&f.path, &f.source) {
            return Err(bad(
                template,
                format!("`{other}` and `{}` both generate `{}`", f.source, f.path),
                None,
            ));
        }
        let mut prefix = String::new();
        for comp in f
            .path
            .split('/')
            .collect::<Vec<_>>()
            .split_last()
            .map(|x| x.1)
            .unwrap_or(&[])
        {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(comp);
            dirs.insert(prefix.clone());
        }
    }
    if let Some(f) = out.iter().find(|f| dirs.contains(&f.path)) {
        return Err(bad(
            template,
            format!(
                "`{}` is generated both as a file and as a directory",
                f.path
            ),
            None,
        ));
    }
    Ok(out)
}

/// Check a rendered path: `None` when a component is empty (the file is skipped).
fn check_path(template: &Template, source: &str, rendered: &str) -> Result<Option<String>, Error> {
    let escape = |why: &str| {
        bad(
            template,
            format!("`{source}` renders to `{rendered}`, {why}"),
            Some("a template may only write inside the directory it generates".into()),
        )
    };
    if rendered.starts_with('/') || rendered.starts_with('\\') {
        return Err(escape("an absolute path"));
    }
    if rendered.contains('\0') {
        return Err(escape("which holds a NUL byte"));
    }
    let mut parts = Vec::new();
    let mut empty = false;
    for comp in rendered.split('/') {
        match comp {
            "" => empty = true,
            "." => {}
            ".." => return Err(escape("which escapes the destination with `..`")),
            c if c.eq_ignore_ascii_case(".git") => {
                return Err(escape("inside .git, which a template may not write"))
            }
            c => parts.push(c),
        }
    }
    if empty || parts.is_empty() {
        return Ok(None);
    }
    let path = parts.join("/");
    if path == provenance::PATH {
        return Err(escape("which lbc writes itself (the provenance)"));
    }
    Ok(Some(path))
}

/// A link may only point inside the destination, by a relative path.
fn check_link(template: &Template, path: &str, target: &str) -> Result<(), Error> {
    let escape = || {
        bad(
            template,
            format!("`{path}` is a link to `{target}`, outside the generated directory"),
            Some("links in a template must be relative and stay inside it".into()),
        )
    };
    if target.starts_with('/') || target.is_empty() {
        return Err(escape());
    }
    let mut depth: Vec<&str> = path.split('/').collect();
    depth.pop();
    for comp in target.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                if depth.pop().is_none() {
                    return Err(escape());
                }
            }
            c => depth.push(c),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters() {
        let env = environment();
        let r = env
            .render_str(
                "{{ 'My Service_2' | dns_label }} {{ 'my-svc' | snake_case }} {{ 'my-svc' | pascal_case }}",
                BTreeMap::<String, minijinja::Value>::new(),
            )
            .unwrap();
        assert_eq!(r, "my-service-2 my_svc MySvc");
    }

    #[test]
    fn strict_undefined_and_trailing_newline() {
        let env = environment();
        let ctx = BTreeMap::<String, minijinja::Value>::new();
        assert!(env.render_str("{{ nope }}", &ctx).is_err());
        assert_eq!(env.render_str("a\n", &ctx).unwrap(), "a\n");
        assert_eq!(env.render_str("<&>", &ctx).unwrap(), "<&>");
    }

    /// Issue #9: a variable cannot add a table to lbc.toml or a key to YAML.
    #[test]
    fn values_are_escaped_for_the_file_kind() {
        let env = environment();
        let mut ctx = BTreeMap::<String, minijinja::Value>::new();
        let evil = "prod\"\n[tasks.pwn]\nrun = 'x'";
        ctx.insert("v".into(), minijinja::Value::from(evil));
        let toml_text = env
            .render_named_str("lbc.toml.jinja", "context = \"{{ v }}\"\n", &ctx)
            .unwrap();
        let parsed: toml::Table = toml::from_str(&toml_text).unwrap();
        assert_eq!(parsed["context"].as_str(), Some(evil));
        assert_eq!(parsed.len(), 1, "{toml_text}");
        let json_text = env
            .render_named_str("package.json.jinja", "{\"n\": \"{{ v }}\"}", &ctx)
            .unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&json_text).unwrap();
        assert_eq!(parsed["n"].as_str(), Some(evil));
        let err = env
            .render_named_str("values.yaml.jinja", "k: {{ v }}\n", &ctx)
            .unwrap_err();
        assert!(err.to_string().contains("tojson"), "{err}");
        let quoted = env
            .render_named_str("values.yaml.jinja", "k: {{ v | tojson }}\n", &ctx)
            .unwrap();
        assert!(quoted.starts_with("k: \"prod"), "{quoted}");
        ctx.insert(
            "v".into(),
            minijinja::Value::from("hello-world.example.com/x:1"),
        );
        let plain = env
            .render_named_str("values.yaml.jinja", "k: {{ v }}\n", &ctx)
            .unwrap();
        assert_eq!(plain, "k: hello-world.example.com/x:1\n");
    }
}
