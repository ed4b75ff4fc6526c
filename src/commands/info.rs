//! Verbs that only print: `config`, `schema`, `catalog`, `completions`, `man`.

use clap::CommandFactory;

use crate::catalog::Catalog;
use crate::cli::Cli;
use crate::config::{self, Loaded};
use crate::error::Error;
use crate::settings::Settings;
use crate::ui;

pub fn config(settings: &Settings, project: &Loaded) -> Result<(), Error> {
    if settings.json {
        ui::print_json(&serde_json::json!({
            "file": project.path,
            "root": project.root,
            "config": project.config,
        }));
    } else {
        let text = toml::to_string_pretty(&project.config)
            .map_err(|e| Error::failed(format!("could not render the configuration: {e}"), None))?;
        ui::data(&format!(
            "# effective configuration of {} (defaults filled in)\n{text}",
            project.path.display()
        ));
    }
    Ok(())
}

/// The JSON Schema, as committed in `docs/lbc.schema.json`.
pub fn schema_text() -> String {
    let mut s = serde_json::to_string_pretty(&config::json_schema()).expect("serializable");
    s.push('\n');
    s
}

pub fn schema() -> Result<(), Error> {
    ui::data(&schema_text());
    Ok(())
}

pub fn catalog(settings: &Settings) -> Result<(), Error> {
    let cat = Catalog::load()?;
    if settings.json {
        ui::print_json(&serde_json::json!({
            "file": cat.file,
            "images": cat.entries.values().collect::<Vec<_>>(),
        }));
    } else {
        let width = cat.entries.keys().map(String::len).max().unwrap_or(0);
        let mut out = String::new();
        for e in cat.entries.values() {
            out.push_str(&format!("{:width$}  {}  ({})\n", e.name, e.image, e.source));
        }
        ui::data(&out);
    }
    Ok(())
}

// Both render into memory first: clap_complete panics on a write error, and a reader
// that stops early (`lbc man | head`) is no error (issue #9).
pub fn completions(shell: clap_complete::Shell) -> Result<(), Error> {
    let mut cmd = Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "lbc", &mut buf);
    ui::data_bytes(&buf);
    Ok(())
}

pub fn man() -> Result<(), Error> {
    let cmd = Cli::command();
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd)
        .render(&mut buf)
        .map_err(|e| Error::failed(format!("could not render the manual page: {e}"), None))?;
    ui::data_bytes(&buf);
    Ok(())
}
