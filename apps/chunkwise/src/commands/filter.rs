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
            if !input.dtype().is_float() {
                bail!("{}", convert_first(&source, input.dtype()));
            }
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

/// The refusal of a filter on integer data, with the command that converts it.
fn convert_first(name: &str, dtype: chunkwise::DType) -> String {
    use chunkwise::cast::can_cast_safely;
    use chunkwise::DType;
    let float = if can_cast_safely(dtype, DType::F32) {
        DType::F32
    } else {
        DType::F64
    };
    format!(
        "dataset \"{name}\" holds {dtype}, and the Gaussian filters work on f32 and f64 data; \
         convert it first: chunkwise copy {name} {name}_{float} --dtype {float}"
    )
}
