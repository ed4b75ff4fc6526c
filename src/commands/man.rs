//! `lbc man`: the manual page.

use clap::CommandFactory;

use crate::cli::Cli;
use crate::error::Error;
use crate::ui;

/// Rendered into memory first, so that `lbc man | head` ends quietly (issue #9).
pub fn run() -> Result<(), Error> {
    let mut buf = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut buf)
        .map_err(|e| Error::failed(format!("could not render the manual page: {e}"), None))?;
    ui::data_bytes(&buf);
    Ok(())
}
