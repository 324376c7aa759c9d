//! `chunkwise`: create, inspect, import, export and write chunked datasets from the shell.
//!
//! The CLI is a thin front end over the `chunkwise` crate's public API: it parses arguments,
//! opens a connection (store + engine), calls the dataset API, and prints. Every error is one
//! line on stderr and a non-zero exit status. Under `mpiexec … --engine mpi` only rank 0 prints.

// The doc comments of the options are the `--help` text (clap), where `<out>` names a value.
#![allow(rustdoc::invalid_html_tags)]

mod agree;
mod cli;
mod commands;
mod connect;
mod h5file;
mod parse;

use std::io::Write;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

/// Freed chunk buffers are kept for the next chunk (within the budget's room), instead of
/// being faulted in again page by page.
#[global_allocator]
static ALLOCATOR: chunkwise::tuning::KeepLargeBlocks = chunkwise::tuning::KeepLargeBlocks;

/// Values that look like negative numbers (`--shape -5`, `--value -1.5`) are taken as values
/// (then checked like any other) instead of as unknown options, in every subcommand.
fn negatives_are_values(command: clap::Command) -> clap::Command {
    command
        .allow_negative_numbers(true)
        .mut_subcommands(negatives_are_values)
}

fn main() -> ExitCode {
    // A closed pipe (`chunkwise ls | head -1`) ends the process quietly, as with other tools.
    // SAFETY: restoring the default action of SIGPIPE before any thread is started.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let matches = negatives_are_values(cli::Cli::command()).get_matches();
    let cli = match cli::Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    // SIGINT/SIGTERM/SIGHUP fail the running operation, which then cleans up as on any error.
    if let Err(error) = chunkwise::interrupt::install() {
        eprintln!("chunkwise: error: {error}");
        return ExitCode::FAILURE;
    }
    let config = match connect::config(&cli.global) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("chunkwise: error: {error:#}");
            return ExitCode::FAILURE;
        }
    };
    if let cli::Command::Config(cli::ConfigCommand::Show) = cli.command {
        return match commands::config_show(&config) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("chunkwise: error: {error:#}");
                ExitCode::FAILURE
            }
        };
    }
    let engine = match connect::engine(&cli.global, &config) {
        Ok(engine) => engine,
        Err(error) => {
            eprintln!("chunkwise: error: {error:#}");
            return ExitCode::FAILURE;
        }
    };
    let conn = match connect::connect(&cli.global, &config, engine.clone()) {
        Ok(conn) => conn,
        Err(error) => {
            // Every rank reaches the same verdict on the store: rank 0 reports it.
            if engine.is_root() {
                eprintln!("chunkwise: error: {error:#}");
            }
            return ExitCode::FAILURE;
        }
    };
    drop(engine);
    let (rank, size) = (conn.rank(), conn.size());
    let result = commands::run(&conn, &config, cli.command);
    let Err(error) = result else {
        return ExitCode::SUCCESS;
    };
    let agreed = agree::is_agreed(&error);
    let prefix = if size > 1 && rank != 0 {
        format!("rank {rank}: ")
    } else {
        String::new()
    };
    if rank == 0 || !agreed {
        // One write, so lines of different ranks do not interleave.
        let line = format!("chunkwise: error: {prefix}{error:#}\n");
        let _ = std::io::stderr().write_all(line.as_bytes());
    }
    if !agreed && size > 1 {
        // The other ranks may be waiting for this one: end now and let mpiexec end the job.
        std::process::exit(1);
    }
    // Every rank holds the error: keep them all until rank 0 has printed it, since mpiexec ends
    // the job as soon as one rank exits with a failure.
    let _ = conn.engine().barrier();
    failure_code()
}

/// The exit status of a failed command: 128 + the signal's number when a signal ended it (as
/// shells and schedulers expect), else 1.
fn failure_code() -> ExitCode {
    match chunkwise::interrupt::received() {
        Some(signal) => ExitCode::from(u8::try_from(128 + signal).unwrap_or(1)),
        None => ExitCode::FAILURE,
    }
}
