//! Rewriting `lbc.toml` to the newest schema with toml_edit, so that comments, key order
//! and formatting stay as the user wrote them. Reading never needs this (older schemas
//! are migrated in memory by `config`); `lbc upgrade` makes it permanent.

use std::path::Path;

use toml_edit::{value, DocumentMut, Item};

use crate::config::CURRENT_SCHEMA;
use crate::error::Error;

/// The rewritten text and one line per change, or `None` when already current.
pub fn migrate(path: &Path, raw: &str) -> Result<Option<(String, Vec<String>)>, Error> {
    let mut doc: DocumentMut = raw
        .parse()
        .map_err(|e: toml_edit::TomlError| Error::Config {
            rendered: crate::config::render_at(path, raw, e.span(), e.message().trim()),
            hint: None,
        })?;
    let declared = match doc.get("schema").and_then(Item::as_integer) {
        Some(n) if n > 0 => n as u32,
        Some(_) => return Ok(None),
        None => CURRENT_SCHEMA,
    };
    if declared >= CURRENT_SCHEMA {
        return Ok(None);
    }
    let mut changes = Vec::new();
    let mut schema = declared;
    while schema < CURRENT_SCHEMA {
        match schema {
            1 => one_to_two(&mut doc, &mut changes),
            _ => unreachable!("every schema below CURRENT_SCHEMA has a migration"),
        }
        schema += 1;
    }
    // Keep the value's own decoration (a trailing comment on the line).
    if let Some(v) = doc.get_mut("schema").and_then(Item::as_value_mut) {
        let decor = v.decor().clone();
        *v = toml_edit::Value::from(i64::from(CURRENT_SCHEMA));
        *v.decor_mut() = decor;
    } else {
        doc["schema"] = value(i64::from(CURRENT_SCHEMA));
    }
    changes.push(format!("schema = {declared} -> schema = {CURRENT_SCHEMA}"));
    Ok(Some((doc.to_string(), changes)))
}

/// Schema 1 -> 2: schema 1 read an environment without `kind` as kubernetes; schema 2
/// infers the kind from the keys. Writing `kind = "kubernetes"` keeps the meaning.
fn one_to_two(doc: &mut DocumentMut, changes: &mut Vec<String>) {
    let Some(envs) = doc.get_mut("env").and_then(Item::as_table_like_mut) else {
        return;
    };
    for (name, item) in envs.iter_mut() {
        let Some(table) = item.as_table_like_mut() else {
            continue;
        };
        if table.get("kind").is_none() {
            table.insert("kind", value("kubernetes"));
            changes.push(format!(
                "[env.{}] kind = \"kubernetes\" (schema 1's default, now written out)",
                name.get()
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_to_two_keeps_comments_and_order() {
        let raw = "# my service\nschema = 1 # the format\n\n[project]\nname = \"x\" # name\n\n[env.local]\nkind = \"docker\"\nport = 8080\n\n# staging cluster\n[env.staging]\ncontext = \"s\" # ctx\nnamespace = \"n\"\n";
        let (out, changes) = migrate(Path::new("lbc.toml"), raw).unwrap().unwrap();
        assert_eq!(
            out,
            "# my service\nschema = 2 # the format\n\n[project]\nname = \"x\" # name\n\n[env.local]\nkind = \"docker\"\nport = 8080\n\n# staging cluster\n[env.staging]\ncontext = \"s\" # ctx\nnamespace = \"n\"\nkind = \"kubernetes\"\n"
        );
        assert_eq!(changes.len(), 2);
        let loaded = crate::config::parse(Path::new("lbc.toml"), &out).unwrap();
        assert_eq!(loaded.declared_schema, 2);
        assert_eq!(
            loaded.config.env["staging"].kind,
            crate::config::EnvKind::Kubernetes
        );
    }

    #[test]
    fn current_files_are_left_alone() {
        assert!(migrate(
            Path::new("lbc.toml"),
            "schema = 2\n[project]\nname = \"x\"\n"
        )
        .unwrap()
        .is_none());
        assert!(migrate(Path::new("lbc.toml"), "[project]\nname = \"x\"\n")
            .unwrap()
            .is_none());
    }

    #[test]
    fn inline_environment_tables_are_migrated_too() {
        let raw = "schema = 1\n[project]\nname = \"x\"\n[env]\nqa = { context = \"c\" }\n";
        let (out, _) = migrate(Path::new("lbc.toml"), raw).unwrap().unwrap();
        let qa = out.lines().find(|l| l.starts_with("qa = {")).unwrap();
        assert!(
            qa.contains("context = \"c\"") && qa.contains("kind = \"kubernetes\""),
            "{out}"
        );
    }
}
