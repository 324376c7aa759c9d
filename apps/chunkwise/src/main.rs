//! `chunkwise`: create, inspect, import, export and write chunked datasets from the shell.
//!
//! The CLI is a thin front end over the `chunkwise` crate's public API: it parses arguments,
//! opens a connection (store + engine), calls the dataset API, and prints. Every error is one
//! line on stderr and a non-zero exit status.

mod cli;
mod commands;
mod connect;
mod h5file;
mod parse;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("chunkwise: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
