//! `filter gaussian`: the exact chunked Gaussian of chunkwise-ndimage on a stored dataset.

use anyhow::{bail, Result};
use chunkwise::Connection;
use chunkwise_ndimage::{gaussian_filter1d_dataset, gaussian_filter_dataset, Sigma};

use crate::cli::FilterCommand;
use chunkwise_frontend::agree;

/// Runs a filter command (collective).
pub fn filter(conn: &Connection, command: FilterCommand) -> Result<()> {
    match command {
        FilterCommand::Gaussian {
            source,
            destination,
            sigma,
            truncate,
            mode,
            cval,
            axis,
        } => {
            let sigma = agree(conn, parse(&sigma, axis))?;
            let mode = mode.boundary(cval);
            let input = conn.dataset(&source)?;
            match (axis, sigma) {
                (Some(axis), Sigma::Scalar(s)) => {
                    gaussian_filter1d_dataset(&input, &destination, s, axis, mode, truncate)?;
                }
                (None, sigma) => {
                    gaussian_filter_dataset(&input, &destination, sigma, mode, truncate)?;
                }
                (Some(_), Sigma::PerAxis(_)) => {
                    unreachable!("parse refuses per-axis sigmas with --axis")
                }
            }
            Ok(())
        }
    }
}

fn parse(sigma: &str, axis: Option<usize>) -> Result<Sigma> {
    let values = sigma
        .split(',')
        .map(|part| {
            part.trim().parse::<f64>().map_err(|_| {
                anyhow::anyhow!(
                    "--sigma \"{sigma}\" has \"{}\"; expected numbers like 1.5 or 1.5,1.5,0",
                    part.trim()
                )
            })
        })
        .collect::<Result<Vec<f64>>>()?;
    let sigma = match values.as_slice() {
        [one] => Sigma::Scalar(*one),
        _ if axis.is_some() => {
            bail!("--axis filters one axis: give one --sigma value, not \"{sigma}\"")
        }
        _ => Sigma::PerAxis(values),
    };
    Ok(sigma)
}
