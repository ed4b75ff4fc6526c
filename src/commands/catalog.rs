//! `lbc catalog`: the base-image catalogue in effect.

use crate::error::Error;
use crate::settings::Settings;
use crate::ui;

pub fn run(settings: &Settings) -> Result<(), Error> {
    let cat = settings.catalog()?;
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
