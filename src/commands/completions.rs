//! `lbc completions SHELL`: shell completions.

use clap::CommandFactory;

use crate::cli::Cli;
use crate::error::Error;
use crate::ui;

/// Rendered into memory first: clap_complete panics on a write error, and a reader that
/// stops early (`lbc completions bash | head`) is no error (issue #9).
pub fn run(shell: clap_complete::Shell) -> Result<(), Error> {
    let mut cmd = Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "lbc", &mut buf);
    ui::data_bytes(&buf);
    Ok(())
}
