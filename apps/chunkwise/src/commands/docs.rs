//! `completions` and `man`: shell completion scripts and man pages generated from the clap
//! definitions, so they always match the options.

use std::path::Path;

use anyhow::{Context, Result};
use clap::CommandFactory;

use crate::cli::Cli;

/// Prints the completion script of `shell` on stdout.
pub fn completions(shell: clap_complete::Shell) {
    let mut command = Cli::command();
    clap_complete::generate(shell, &mut command, "chunkwise", &mut std::io::stdout());
}

/// Writes `chunkwise.1` and a page per command (`chunkwise-import.1`, `chunkwise-filter-gaussian.1`,
/// …) into `dir`.
///
/// # Errors
/// When `dir` cannot be made or a page cannot be written.
pub fn man(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot make {}", dir.display()))?;
    let command = Cli::command();
    clap_mangen::generate_to(command, dir)
        .with_context(|| format!("cannot write the man pages into {}", dir.display()))?;
    println!("man pages written to {}", dir.display());
    Ok(())
}
