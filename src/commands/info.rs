//! Verbs that only print: `config`, `schema`, `catalog`, `completions`, `man`.

use clap::CommandFactory;

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

/// `lbc catalog`: see [`super::catalog::list`].
pub fn catalog(settings: &Settings) -> Result<(), Error> {
    super::catalog::list(settings)
}

pub fn completions(shell: clap_complete::Shell) -> Result<(), Error> {
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "lbc", &mut std::io::stdout());
    Ok(())
}

pub fn man() -> Result<(), Error> {
    let cmd = Cli::command();
    clap_mangen::Man::new(cmd)
        .render(&mut std::io::stdout())
        .map_err(|e| Error::failed(format!("could not write the manual page: {e}"), None))
}
