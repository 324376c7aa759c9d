//! `chunkwise`: create, inspect, import, export and write chunked datasets from the shell.
//!
//! The CLI is a thin front end over the `chunkwise` crate's public API: it parses arguments,
//! opens a connection (store + engine), calls the dataset API, and prints. Every error is one
//! line on stderr and a non-zero exit status. Under `mpiexec … --engine mpi` only rank 0 prints.

// The doc comments of the options are the `--help` text (clap), where `<out>` names a value.
#![allow(rustdoc::invalid_html_tags)]

mod cli;
mod commands;
mod connect;
mod h5file;
mod parse;

use std::process::ExitCode;

use clap::CommandFactory;

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
    let cli: cli::Cli =
        chunkwise_frontend::parse_args("chunkwise", negatives_are_values(cli::Cli::command()));
    // Generated from the definitions above: no configuration, store or engine needed.
    match &cli.command {
        cli::Command::Completions { shell } => {
            commands::docs::completions(*shell);
            return ExitCode::SUCCESS;
        }
        cli::Command::Man { dir } => {
            return match commands::docs::man(dir) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("chunkwise: error: {error:#}");
                    ExitCode::FAILURE
                }
            };
        }
        _ => {}
    }
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
    if let cli::Command::Config(cli::ConfigCommand::Show { json }) = cli.command {
        return match commands::config_show(&config, json) {
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
    let copies_elsewhere = matches!(
        cli.command,
        cli::Command::Copy {
            to_store: Some(_),
            ..
        }
    );
    let conn = match connect::connect(&cli.global, &config, engine.clone(), copies_elsewhere) {
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
    let mode = if cli.global.quiet {
        chunkwise_frontend::ProgressMode::Never
    } else {
        cli.global.progress
    };
    let display = chunkwise_frontend::ProgressDisplay::start(&conn, mode);
    let result = connect::location(&cli.global, &config)
        .and_then(|location| commands::run(&conn, &config, &cli.global, &location, cli.command));
    drop(display);
    chunkwise_frontend::exit_code("chunkwise", conn.engine().as_ref(), result)
}
