//! Ending an application run: each failure printed once, on one line, with the exit status
//! shells and schedulers expect.

use std::io::Write;
use std::process::ExitCode;

use chunkwise::Engine;

use crate::agree::is_agreed;

/// Reports `outcome` of a run on `engine` as `PROGRAM: error: …` and gives the exit status: an
/// agreed failure is printed by rank 0 alone, after which every rank waits at a barrier until
/// it has (a launcher ends the job when the first rank fails); any other failure is printed by
/// its rank (prefixed `rank N:` when there are several), which then exits at once, so the
/// launcher ends the job instead of leaving the others waiting. A run ended by a signal exits
/// with 128 + its number.
pub fn exit_code(program: &str, engine: &dyn Engine, outcome: anyhow::Result<()>) -> ExitCode {
    let Err(error) = outcome else {
        return ExitCode::SUCCESS;
    };
    let (rank, size) = (engine.rank(), engine.size());
    let agreed = size == 1 || is_agreed(&error);
    if rank == 0 || !agreed {
        let prefix = if size > 1 && rank != 0 {
            format!("rank {rank}: ")
        } else {
            String::new()
        };
        // One write, so lines of different ranks do not interleave.
        let line = format!("{program}: error: {prefix}{error:#}\n");
        let _ = std::io::stderr().write_all(line.as_bytes());
    }
    if !agreed {
        // The other ranks may be waiting for this one.
        std::process::exit(1);
    }
    let _ = engine.barrier();
    match chunkwise::interrupt::received() {
        Some(signal) => ExitCode::from(u8::try_from(128 + signal).unwrap_or(1)),
        None => ExitCode::FAILURE,
    }
}

/// Parses the command line into `T`; a usage error (an unknown option, a bad value) is printed
/// as one line `PROGRAM: error: … ; expected one of …` and the process exits with status 2, as
/// clap does; `--help` and `--version` print and exit 0.
pub fn parse_args<T: clap::FromArgMatches>(program: &str, command: clap::Command) -> T {
    let parsed = command
        .try_get_matches()
        .and_then(|matches| T::from_arg_matches(&matches));
    match parsed {
        Ok(value) => value,
        Err(error) => match usage_error_line(program, &error) {
            Some(line) => {
                eprintln!("{line}");
                std::process::exit(2);
            }
            None => error.exit(),
        },
    }
}

/// The one-line form of a usage error; `None` for `--help` and `--version`, which are not
/// errors.
pub fn usage_error_line(program: &str, error: &clap::Error) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if matches!(
        error.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        return None;
    }
    let rendered = error.render().to_string();
    let first = rendered.lines().next().unwrap_or("invalid arguments");
    let first = first.strip_prefix("error: ").unwrap_or(first);
    let expected = match error.get(ContextKind::ValidValue) {
        Some(ContextValue::Strings(values)) if !values.is_empty() => {
            format!("; expected one of {}", values.join(", "))
        }
        _ => String::new(),
    };
    Some(format!(
        "{program}: error: {first}{expected} (see {program} --help)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, clap::Parser)]
    struct Args {
        #[arg(long, value_enum)]
        mode: crate::BoundaryMode,
    }

    #[test]
    fn a_bad_value_is_one_line_naming_it_and_the_choices() {
        use clap::CommandFactory;
        let error = Args::command()
            .try_get_matches_from(["prog", "--mode", "edge"])
            .unwrap_err();
        let line = usage_error_line("prog", &error).unwrap();
        assert_eq!(
            line,
            "prog: error: invalid value 'edge' for '--mode <MODE>'; expected one of reflect, mirror, nearest, constant, wrap (see prog --help)"
        );
        let help = Args::command()
            .try_get_matches_from(["prog", "--help"])
            .unwrap_err();
        assert_eq!(usage_error_line("prog", &help), None);
    }
}
