//! `lbc config`: the effective configuration, defaults filled in.

use crate::config::Loaded;
use crate::error::Error;
use crate::settings::Settings;
use crate::ui;

pub fn run(settings: &Settings, project: &Loaded) -> Result<(), Error> {
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
