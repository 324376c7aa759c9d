//! The summary table rank 0 prints at the end.

use ndarray::Axis;

use crate::results::Results;

/// The median of the measured values (NaN: not measured); `None` when none was.
pub(crate) fn median(values: Vec<f64>) -> Option<f64> {
    let mut values: Vec<f64> = values.into_iter().filter(|v| !v.is_nan()).collect();
    values.sort_by(|a, b| a.total_cmp(b));
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(values[n / 2]),
        _ => Some((values[n / 2 - 1] + values[n / 2]) / 2.0),
    }
}

/// Seconds with 4 decimals, `-` when not measured.
fn seconds(value: f64) -> String {
    if value.is_nan() {
        "-".to_string()
    } else {
        format!("{value:.4}")
    }
}

fn show(value: f64) -> String {
    if value.is_nan() {
        "-".to_string()
    } else {
        format!("{value:.2e}")
    }
}

/// One row per (data size, chunk size) that ran: median seconds and the verification.
pub fn summary(results: &Results) -> String {
    let mut out = format!(
        "{:>6} {:>6} {:>9} {:>9} {:>9} {:>9} {:>12} {:>12}\n",
        "data", "chunk", "load s", "3D s", "3x1D s", "delete s", "|3D-3x1D|", "|3D-ref|"
    );
    for (i, &ds) in results.data_sizes.iter().enumerate() {
        for (j, &cs) in results.chunk_sizes.iter().enumerate() {
            if cs > ds {
                continue;
            }
            let cell = results.times.index_axis(Axis(0), i);
            let cell = cell.index_axis(Axis(0), j);
            let med = |k: usize| {
                median(
                    cell.index_axis(Axis(0), k)
                        .iter()
                        .map(|&t| t as f64)
                        .collect(),
                )
                .unwrap_or(f64::NAN)
            };
            let delete = median(
                results
                    .delete
                    .index_axis(Axis(0), i)
                    .index_axis(Axis(0), j)
                    .iter()
                    .map(|&t| t as f64)
                    .collect(),
            )
            .unwrap_or(f64::NAN);
            out.push_str(&format!(
                "{:>6} {:>6} {:>9} {:>9} {:>9} {:>9} {:>12} {:>12}\n",
                ds,
                cs,
                seconds(med(0)),
                seconds(med(1)),
                seconds(med(2)),
                seconds(delete),
                show(results.verify[[i, j, 0]]),
                show(results.verify[[i, j, 1]])
            ));
        }
    }
    out
}
