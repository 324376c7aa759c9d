//! Plots of time against chunk size, one line per data size, median with min–max whiskers over
//! the repetitions: one PNG for the 3D convolution, one for the three 1D passes, one for loads.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use ndarray::Axis;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

use crate::results::Results;

const FONT_PATHS: [&str; 2] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
];

/// Registers a system font for the labels (plotters draws none without one).
fn register_sans() -> Result<()> {
    let path = FONT_PATHS.iter().find(|p| Path::new(p).exists()).ok_or_else(|| {
        anyhow!("no DejaVuSans.ttf found (looked in {FONT_PATHS:?}); install fonts-dejavu-core for the plots")
    })?;
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {path}"))?;
    register_font(
        "sans-serif",
        FontStyle::Normal,
        Box::leak(bytes.into_boxed_slice()),
    )
    .map_err(|_| anyhow!("{path} is not a usable font"))
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// Writes the plots into `out`; returns their paths.
pub fn write_plots(out: &Path, backend: &str, results: &Results) -> Result<Vec<PathBuf>> {
    register_sans()?;
    let ranks = results.ranks;
    let mut written = Vec::new();
    for (kind, title, file) in [
        (1, "3D Gaussian (all axes per chunk, with halo)", "plot_3d"),
        (2, "three 1D Gaussian passes (z, y, x)", "plot_3x1d"),
        (0, "load (generate and store)", "plot_load"),
    ] {
        let path = out.join(format!("{file}_{backend}_{ranks}.png"));
        // Drawn under a temporary name and renamed when whole.
        crate::cells::replace_atomically(&path, |temp| {
            draw(
                temp,
                &format!("{title}: {backend}, {ranks} rank(s)"),
                kind,
                results,
            )
        })
        .with_context(|| format!("cannot draw {}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

/// (chunk size, min, median, max) of one cell.
type Whisker = (f64, f64, f64, f64);

fn draw(path: &Path, title: &str, kind: usize, results: &Results) -> Result<()> {
    // Per data size: (chunk size, min, median, max) of the cells that ran.
    let mut series: Vec<(usize, Vec<Whisker>)> = Vec::new();
    for (i, &ds) in results.data_sizes.iter().enumerate() {
        let mut points = Vec::new();
        for (j, &cs) in results.chunk_sizes.iter().enumerate() {
            if cs > ds {
                continue;
            }
            let mut times: Vec<f64> = results
                .times
                .index_axis(Axis(0), i)
                .index_axis(Axis(0), j)
                .index_axis(Axis(0), kind)
                .iter()
                .map(|&t| t as f64)
                .filter(|t| !t.is_nan())
                .collect();
            // Not measured (a cell that has not run).
            if times.is_empty() {
                continue;
            }
            let low = times.iter().copied().fold(f64::INFINITY, f64::min);
            let high = times.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            points.push((cs as f64, low, median(&mut times), high));
        }
        if !points.is_empty() {
            series.push((ds, points));
        }
    }
    let x_max = results.chunk_sizes.iter().copied().max().unwrap_or(1) as f64 * 1.1;
    let y_max = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|q| q.3))
        .fold(0.0, f64::max)
        .max(1e-6)
        * 1.1;

    let root = BitMapBackend::new(path, (900, 600)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..x_max, 0.0..y_max)
        .map_err(|e| anyhow!("{e}"))?;
    chart
        .configure_mesh()
        .x_desc("chunk size (edge length)")
        .y_desc("seconds (median, min–max)")
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    for (k, (ds, points)) in series.iter().enumerate() {
        let color = Palette99::pick(k).to_rgba();
        chart
            .draw_series(LineSeries::new(
                points.iter().map(|p| (p.0, p.2)),
                color.stroke_width(2),
            ))
            .map_err(|e| anyhow!("{e}"))?
            .label(format!("data {ds}³"))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        chart
            .draw_series(
                points
                    .iter()
                    .map(|p| ErrorBar::new_vertical(p.0, p.1, p.2, p.3, color.filled(), 8)),
            )
            .map_err(|e| anyhow!("{e}"))?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    root.present().map_err(|e| anyhow!("{e}"))?;
    Ok(())
}
