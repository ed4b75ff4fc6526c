//! `lbc schema`: the JSON Schema of lbc.toml.

use crate::config;
use crate::error::Error;
use crate::ui;

/// The JSON Schema, as committed in `docs/lbc.schema.json`.
pub fn schema_text() -> String {
    let mut s = serde_json::to_string_pretty(&config::json_schema()).expect("serializable");
    s.push('\n');
    s
}

pub fn run() -> Result<(), Error> {
    ui::data(&schema_text());
    Ok(())
}
