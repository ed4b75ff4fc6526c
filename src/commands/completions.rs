//! `lbc completions SHELL`: shell completions.

use clap::CommandFactory;

use crate::cli::Cli;
use crate::error::Error;

pub fn run(shell: clap_complete::Shell) -> Result<(), Error> {
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "lbc", &mut std::io::stdout());
    Ok(())
}
