//! `lbc man`: the manual page.

use clap::CommandFactory;

use crate::cli::Cli;
use crate::error::Error;

pub fn run() -> Result<(), Error> {
    clap_mangen::Man::new(Cli::command())
        .render(&mut std::io::stdout())
        .map_err(|e| Error::failed(format!("could not write the manual page: {e}"), None))
}
