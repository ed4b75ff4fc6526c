//! Resolving a template's variables, in the order `template.toml` declares them: a
//! `--set` value wins; otherwise, on a terminal, the user is asked (the default shown);
//! off a terminal or with `--yes`, the default is taken. Every value is checked against
//! its type, `choices` and `pattern`, whichever way it came.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::Error;
use crate::template::manifest::{VarType, Variable};
use crate::template::render;
use crate::template::Template;

/// A variable's value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Value {
    Str(String),
    Bool(bool),
    Int(i64),
}

impl Value {
    pub fn to_jinja(&self) -> minijinja::Value {
        match self {
            Value::Str(s) => minijinja::Value::from(s.clone()),
            Value::Bool(b) => minijinja::Value::from(*b),
            Value::Int(i) => minijinja::Value::from(*i),
        }
    }
    pub fn to_toml(&self) -> toml::Value {
        match self {
            Value::Str(s) => toml::Value::String(s.clone()),
            Value::Bool(b) => toml::Value::Boolean(*b),
            Value::Int(i) => toml::Value::Integer(*i),
        }
    }
    pub fn display(&self) -> String {
        match self {
            Value::Str(s) => s.clone(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
        }
    }
}

/// The resolved variables, in declaration order.
#[derive(Debug, Clone, Default)]
pub struct Answers {
    pub values: Vec<(String, Value)>,
    /// The variables the template fixes (`when = "false"`): not shown as answers, not
    /// recorded in the provenance (see `Variable::is_fixed`).
    pub fixed: Vec<String>,
}

impl Answers {
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }
    /// The answers to show and record: all but the values the template fixes.
    pub fn shown(&self) -> impl Iterator<Item = &(String, Value)> {
        self.values.iter().filter(|(k, _)| !self.fixed.contains(k))
    }
    pub fn to_json(&self) -> serde_json::Value {
        let map: serde_json::Map<String, serde_json::Value> = self
            .shown()
            .map(|(k, v)| (k.clone(), serde_json::to_value(v).expect("serializable")))
            .collect();
        serde_json::Value::Object(map)
    }
}

/// What the caller knows before resolving.
pub struct Inputs<'a> {
    /// `--set KEY=VALUE` (and `--name`), in command-line order.
    pub set: &'a [(String, String)],
    /// Ask on the terminal for what is not set.
    pub interactive: bool,
    /// The base name of the destination directory (the `dir_name` built-in).
    pub dir_name: String,
}

/// The rendering context: the built-ins and the answers so far.
pub fn context(
    template: &Template,
    dir_name: &str,
    answers: &Answers,
) -> BTreeMap<String, minijinja::Value> {
    let mut ctx = BTreeMap::new();
    ctx.insert("dir_name".to_owned(), minijinja::Value::from(dir_name));
    let mut info = BTreeMap::new();
    info.insert("name", template.manifest.template.name.clone());
    info.insert("version", template.manifest.template.version.clone());
    ctx.insert(
        "template".to_owned(),
        minijinja::Value::from_serialize(&info),
    );
    for (k, v) in &answers.values {
        ctx.insert(k.clone(), v.to_jinja());
    }
    ctx
}

/// Resolve every variable of `template`.
pub fn resolve(template: &Template, inputs: &Inputs) -> Result<Answers, Error> {
    let manifest = &template.manifest;
    for (key, _) in inputs.set {
        if manifest.variable(key).is_none() {
            let known: Vec<&str> = manifest.variables.iter().map(|v| v.name.as_str()).collect();
            return Err(Error::usage(
                format!(
                    "template `{}` has no variable `{key}`",
                    manifest.template.name
                ),
                Some(if known.is_empty() {
                    "this template declares no variables".to_owned()
                } else {
                    format!(
                        "its variables: {} (`lbc init --list` describes the built-in ones)",
                        known.join(", ")
                    )
                }),
            ));
        }
    }
    for (key, _) in inputs.set {
        if manifest.variable(key).is_some_and(Variable::is_fixed) {
            return Err(Error::usage(
                format!(
                    "variable `{key}` of template `{}` is fixed by the template (`when = \"false\"`): it cannot be set",
                    manifest.template.name
                ),
                Some(
                    "edit the generated file instead (`lbc upgrade` keeps local edits)"
                        .to_owned(),
                ),
            ));
        }
    }
    let env = render::environment();
    let mut answers = Answers::default();
    for var in &manifest.variables {
        let ctx = context(template, &inputs.dir_name, &answers);
        let given = inputs
            .set
            .iter()
            .rev()
            .find(|(k, _)| *k == var.name)
            .map(|(_, v)| v.as_str());
        let active = match &var.when {
            Some(expr) => render::eval_bool(&env, expr, &ctx).map_err(|e| {
                template_error(template, &format!("`when` of variable `{}`", var.name), &e)
            })?,
            None => true,
        };
        let default = default_of(template, &env, var, &ctx)?;
        if var.is_fixed() {
            answers.fixed.push(var.name.clone());
        }
        let value = if let Some(text) = given {
            parse(var, text).map_err(|why| bad_value(var, text, &why))?
        } else if !active {
            default.unwrap_or_else(|| zero(var))
        } else if inputs.interactive {
            ask(var, default.as_ref())?
        } else {
            match default {
                Some(d) => {
                    check(var, &d).map_err(|why| {
                        Error::usage(
                            format!(
                                "the default of `{}` (`{}`) is not valid: {why}",
                                var.name,
                                d.display()
                            ),
                            Some(format!("pass --set {}=VALUE", var.name)),
                        )
                    })?;
                    d
                }
                None => {
                    return Err(Error::usage(
                        format!(
                            "variable `{}` has no default, and lbc cannot ask for it here",
                            var.name
                        ),
                        Some(format!(
                            "pass --set {}=VALUE{}",
                            var.name,
                            var.help
                                .as_ref()
                                .map(|h| format!(" ({h})"))
                                .unwrap_or_default()
                        )),
                    ))
                }
            }
        };
        answers.values.push((var.name.clone(), value));
    }
    Ok(answers)
}

fn template_error(template: &Template, what: &str, e: &minijinja::Error) -> Error {
    Error::usage(
        format!(
            "template `{}`: {what} does not render: {e}",
            template.manifest.template.name
        ),
        Some("this is a defect of the template (see docs/templates.md)".into()),
    )
}

fn default_of(
    template: &Template,
    env: &minijinja::Environment,
    var: &Variable,
    ctx: &BTreeMap<String, minijinja::Value>,
) -> Result<Option<Value>, Error> {
    Ok(match &var.default {
        None => None,
        Some(toml::Value::String(s)) => {
            let text = if s.contains("{{") || s.contains("{%") {
                env.render_str(s, ctx).map_err(|e| {
                    template_error(template, &format!("the default of `{}`", var.name), &e)
                })?
            } else {
                s.clone()
            };
            Some(Value::Str(text))
        }
        Some(toml::Value::Boolean(b)) => Some(Value::Bool(*b)),
        Some(toml::Value::Integer(i)) => Some(Value::Int(*i)),
        Some(_) => None,
    })
}

fn zero(var: &Variable) -> Value {
    match var.kind {
        VarType::String => Value::Str(String::new()),
        VarType::Bool => Value::Bool(false),
        VarType::Integer => Value::Int(0),
        VarType::Choice => Value::Str(var.choices.first().cloned().unwrap_or_default()),
    }
}

/// Parse a value given as text (`--set`, a prompt) by the variable's type, then check it.
pub fn parse(var: &Variable, text: &str) -> Result<Value, String> {
    let value = match var.kind {
        VarType::String | VarType::Choice => Value::Str(text.to_owned()),
        VarType::Bool => match text.to_ascii_lowercase().as_str() {
            "true" | "yes" | "y" | "1" | "on" => Value::Bool(true),
            "false" | "no" | "n" | "0" | "off" => Value::Bool(false),
            _ => return Err("expected a boolean (true or false)".into()),
        },
        VarType::Integer => Value::Int(
            text.trim()
                .parse()
                .map_err(|_| "expected an integer".to_owned())?,
        ),
    };
    check(var, &value)?;
    Ok(value)
}

/// Check a value against `choices` and `pattern`.
pub fn check(var: &Variable, value: &Value) -> Result<(), String> {
    if let Value::Str(s) = value {
        // Variables are one-line answers; a newline is how a value would smuggle a new
        // TOML table, YAML key or Dockerfile instruction into a generated file (issue #9).
        if s.chars().any(char::is_control) {
            return Err("it contains a control character (a newline, a tab, ...): variables hold one line of text".into());
        }
        if var.kind == VarType::Choice && !var.choices.iter().any(|c| c == s) {
            return Err(format!("expected one of: {}", var.choices.join(", ")));
        }
        if let Some(p) = &var.pattern {
            // Anchored: the whole value must match.
            let re = regex::Regex::new(&format!("^(?:{p})$")).map_err(|e| e.to_string())?;
            if !re.is_match(s) {
                return Err(format!("it must match the pattern `{p}`"));
            }
        }
    }
    Ok(())
}

fn bad_value(var: &Variable, text: &str, why: &str) -> Error {
    Error::usage(
        format!(
            "bad value for `{}`: `{}`: {why}",
            var.name,
            crate::validate::excerpt(text)
        ),
        Some(match &var.help {
            Some(h) => format!("{}: {h}", var.name),
            None => format!("`{}` is a {}", var.name, var.kind.as_str()),
        }),
    )
}

fn ask(var: &Variable, default: Option<&Value>) -> Result<Value, Error> {
    let prompt = var.prompt.clone().unwrap_or_else(|| var.name.clone());
    let interrupted = |_| Error::Interrupted;
    match var.kind {
        VarType::Bool => {
            let d = matches!(default, Some(Value::Bool(true)));
            let yes = dialoguer::Confirm::new()
                .with_prompt(prompt)
                .default(d)
                .interact()
                .map_err(interrupted)?;
            Ok(Value::Bool(yes))
        }
        VarType::Choice => {
            let idx = match default {
                Some(Value::Str(s)) => var.choices.iter().position(|c| c == s).unwrap_or(0),
                _ => 0,
            };
            let i = dialoguer::Select::new()
                .with_prompt(prompt)
                .items(&var.choices)
                .default(idx)
                .interact()
                .map_err(interrupted)?;
            Ok(Value::Str(var.choices[i].clone()))
        }
        VarType::String | VarType::Integer => {
            let v = var.clone();
            let mut input = dialoguer::Input::<String>::new()
                .with_prompt(prompt)
                .allow_empty(var.kind == VarType::String && default.is_none())
                .validate_with(move |s: &String| parse(&v, s).map(|_| ()));
            if let Some(d) = default {
                input = input.default(d.display());
            }
            let text = input.interact_text().map_err(interrupted)?;
            parse(var, &text).map_err(|why| bad_value(var, &text, &why))
        }
    }
}
