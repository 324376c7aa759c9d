//! Plots of the timings against chunk size, one series per data size: the load, the 3D
//! convolution and the three 1D passes (median with min–max whiskers over the repetitions), and
//! the speed-up of the 3D convolution over the three 1D passes.
//!
//! Chunk sizes are powers of two or near them, so the x axis is log₂ with a tick at every tested
//! size; times that span more than a decade get a log₁₀ y axis. Series are shifted a little
//! sideways so that whiskers of different data sizes never overlap, and the legend sits to the
//! right of the data.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use ndarray::Axis;
use plotters::coord::ranged1d::{KeyPointHint, Ranged, ValueFormatter};
use plotters::prelude::*;

use crate::report::median;
use crate::results::Results;

/// Width and height of every plot, pixels.
const SIZE: (u32, u32) = (1100, 650);

/// Width of the legend column right of the data.
const LEGEND: u32 = 180;

/// Sideways shift between neighbouring series, in log₂ units of chunk size.
const SHIFT: f64 = 0.06;

/// Writes the plots into `out`; returns their paths.
///
/// # Errors
/// No font, or a plot that cannot be drawn or written.
pub fn write_plots(out: &Path, backend: &str, results: &Results) -> Result<Vec<PathBuf>> {
    crate::fonts::register_sans()?;
    let ranks = results.ranks;
    let mut written = Vec::new();
    for (kind, title, file) in [
        (1, "3D Gaussian (all axes per chunk, with halo)", "plot_3d"),
        (2, "three 1D Gaussian passes (z, y, x)", "plot_3x1d"),
        (0, "load (generate and store)", "plot_load"),
    ] {
        let path = out.join(format!("{file}_{backend}_{ranks}.png"));
        let series = time_series(results, kind);
        let title = format!("{title}: {backend}, {ranks} rank(s)");
        draw_to(&path, |temp| {
            draw(
                temp,
                &title,
                "seconds (median, whiskers min–max)",
                &series,
                results,
                None,
            )
        })?;
        written.push(path);
    }
    let path = out.join(format!("plot_speedup_{backend}_{ranks}.png"));
    let series = speedup_series(results);
    let title = format!("3D against three 1D passes: {backend}, {ranks} rank(s)");
    draw_to(&path, |temp| {
        draw(
            temp,
            &title,
            "speed-up: 3×1D time / 3D time (medians)",
            &series,
            results,
            Some(1.0),
        )
    })?;
    written.push(path);
    Ok(written)
}

/// Draws under a temporary name and renames when whole.
fn draw_to(path: &Path, draw: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    crate::cells::replace_atomically(path, draw)
        .with_context(|| format!("cannot draw {}", path.display()))
}

/// One point: (chunk size, low, middle, high).
type Point = (f64, f64, f64, f64);

/// Per data size, the points of the cells that were measured.
type Series = Vec<(usize, Vec<Point>)>;

/// The measured values of one cell and kind (NaN: not measured).
fn measured(results: &Results, i: usize, j: usize, kind: usize) -> Vec<f64> {
    results
        .times
        .index_axis(Axis(0), i)
        .index_axis(Axis(0), j)
        .index_axis(Axis(0), kind)
        .iter()
        .map(|&t| t as f64)
        .filter(|t| t.is_finite())
        .collect()
}

fn time_series(results: &Results, kind: usize) -> Series {
    let mut series = Vec::new();
    for (i, &ds) in results.data_sizes.iter().enumerate() {
        let points: Vec<Point> = results
            .chunk_sizes
            .iter()
            .enumerate()
            .filter_map(|(j, &cs)| {
                let values = measured(results, i, j, kind);
                let low = values.iter().copied().reduce(f64::min)?;
                let high = values.iter().copied().reduce(f64::max)?;
                Some((cs as f64, low, median(values)?, high))
            })
            .collect();
        if !points.is_empty() {
            series.push((ds, points));
        }
    }
    series
}

/// Median 3×1D time over median 3D time per cell (no whiskers).
fn speedup_series(results: &Results) -> Series {
    let mut series = Vec::new();
    for (i, &ds) in results.data_sizes.iter().enumerate() {
        let points: Vec<Point> = results
            .chunk_sizes
            .iter()
            .enumerate()
            .filter_map(|(j, &cs)| {
                let three_d = median(measured(results, i, j, 1))?;
                let one_d = median(measured(results, i, j, 2))?;
                (three_d > 0.0).then(|| {
                    let ratio = one_d / three_d;
                    (cs as f64, ratio, ratio, ratio)
                })
            })
            .collect();
        if !points.is_empty() {
            series.push((ds, points));
        }
    }
    series
}

/// An axis in transformed units (log₂ or log₁₀ of the value, or the value) with ticks at
/// given points and labels in the original units.
#[derive(Clone)]
struct Scale {
    range: std::ops::Range<f64>,
    ticks: Vec<f64>,
    log: Option<f64>,
}

impl Scale {
    fn to_axis(&self, value: f64) -> f64 {
        match self.log {
            Some(base) => value.log(base),
            None => value,
        }
    }

    fn label(&self, at: f64) -> String {
        let value = match self.log {
            Some(base) => base.powf(at),
            None => at,
        };
        number(value)
    }
}

impl Ranged for Scale {
    type FormatOption = plotters::coord::ranged1d::NoDefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let span = self.range.end - self.range.start;
        let fraction = if span > 0.0 {
            (value - self.range.start) / span
        } else {
            0.5
        };
        limit.0 + (fraction * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, _hint: Hint) -> Vec<f64> {
        self.ticks.clone()
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.range.clone()
    }
}

impl ValueFormatter<f64> for Scale {
    fn format_ext(&self, value: &f64) -> String {
        self.label(*value)
    }
}

/// A number as people write it: 32, 0.25, 1.5e-3.
fn number(value: f64) -> String {
    if value == 0.0 {
        return "0".into();
    }
    let magnitude = value.abs();
    if (1e-4..1e5).contains(&magnitude) {
        let text = format!("{value:.6}");
        let text = text.trim_end_matches('0').trim_end_matches('.');
        text.to_string()
    } else {
        format!("{value:.0e}")
    }
}

/// The x axis: log₂ of the chunk sizes, a tick at each.
fn x_scale(results: &Results) -> Scale {
    let sizes: Vec<f64> = results.chunk_sizes.iter().map(|&c| c as f64).collect();
    let low = sizes.iter().copied().fold(f64::INFINITY, f64::min).max(1.0);
    let high = sizes
        .iter()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max)
        .max(low);
    let (low, high) = (low.log2(), high.log2());
    let pad = ((high - low) * 0.06).max(0.25);
    Scale {
        range: (low - pad)..(high + pad),
        ticks: sizes.iter().map(|s| s.log2()).collect(),
        log: Some(2.0),
    }
}

/// The y axis for values in `low..=high`: log₁₀ when they span more than a decade, else linear
/// from 0 (or from `reference` when given); ticks at 1, 2, 5 × a power of ten.
fn y_scale(low: f64, high: f64, reference: Option<f64>) -> Scale {
    let high = high.max(low).max(1e-9);
    let low = low.max(1e-12);
    if high / low > 10.0 {
        let (a, b) = (low.log10().floor(), high.log10().ceil());
        let mut ticks = Vec::new();
        let mut decade = a;
        while decade <= b {
            for m in [1.0f64, 2.0, 5.0] {
                let value = m * 10f64.powf(decade);
                if value >= low * 0.9 && value <= high * 1.1 {
                    ticks.push(value.log10());
                }
            }
            decade += 1.0;
        }
        let (lo, hi) = (low.log10(), high.log10());
        let pad = (hi - lo) * 0.05;
        return Scale {
            range: (lo - pad)..(hi + pad),
            ticks,
            log: Some(10.0),
        };
    }
    let top = high.max(reference.unwrap_or(0.0)) * 1.1;
    let step = nice_step(top / 6.0);
    let ticks = (0..)
        .map(|k| k as f64 * step)
        .take_while(|&v| v <= top)
        .collect();
    Scale {
        range: 0.0..top,
        ticks,
        log: None,
    }
}

/// 1, 2 or 5 × a power of ten, at least `rough`.
fn nice_step(rough: f64) -> f64 {
    let power = 10f64.powf(rough.max(1e-12).log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|&s| s >= rough)
        .unwrap_or(10.0 * power)
}

fn draw(
    path: &Path,
    title: &str,
    y_label: &str,
    series: &Series,
    results: &Results,
    reference: Option<f64>,
) -> Result<()> {
    let root = BitMapBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
    let (plot_area, legend_area) = root.split_horizontally(SIZE.0 - LEGEND);
    let values = series
        .iter()
        .flat_map(|(_, points)| points.iter().flat_map(|p| [p.1, p.3]));
    let (low, high) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
        (l.min(v), h.max(v))
    });
    let (low, high) = if low.is_finite() {
        (low, high)
    } else {
        (0.0, 1.0)
    };
    let x = x_scale(results);
    let y = y_scale(low, high, reference);
    let mut chart = ChartBuilder::on(&plot_area)
        .caption(title, ("sans-serif", 26))
        .margin(20)
        .x_label_area_size(60)
        .y_label_area_size(90)
        .build_cartesian_2d(x.clone(), y.clone())
        .map_err(|e| anyhow!("{e}"))?;
    chart
        .configure_mesh()
        .x_desc("chunk size (edge length, log₂ scale)")
        .y_desc(if y.log.is_some() {
            format!("{y_label}, log scale")
        } else {
            y_label.to_string()
        })
        .label_style(("sans-serif", 18))
        .axis_desc_style(("sans-serif", 20))
        .light_line_style(WHITE)
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    if let Some(level) = reference {
        let at = y.to_axis(level);
        chart
            .draw_series(LineSeries::new(
                [(x.range.start, at), (x.range.end, at)],
                BLACK.mix(0.5).stroke_width(1),
            ))
            .map_err(|e| anyhow!("{e}"))?;
    }
    let count = series.len() as f64;
    let mut legend = Vec::new();
    for (k, (ds, points)) in series.iter().enumerate() {
        let color = Palette99::pick(k).to_rgba();
        // Centred on the tick: series k of n shifted by (k − (n−1)/2) · SHIFT.
        let shift = (k as f64 - (count - 1.0) / 2.0) * SHIFT;
        let at = |p: &Point| (x.to_axis(p.0) + shift, y.to_axis(p.2));
        chart
            .draw_series(LineSeries::new(
                points.iter().map(at),
                color.stroke_width(3),
            ))
            .map_err(|e| anyhow!("{e}"))?;
        chart
            .draw_series(points.iter().map(|p| {
                ErrorBar::new_vertical(
                    x.to_axis(p.0) + shift,
                    y.to_axis(p.1),
                    y.to_axis(p.2),
                    y.to_axis(p.3),
                    color.stroke_width(2),
                    10,
                )
            }))
            .map_err(|e| anyhow!("{e}"))?;
        chart
            .draw_series(points.iter().map(|p| Circle::new(at(p), 4, color.filled())))
            .map_err(|e| anyhow!("{e}"))?;
        legend.push((format!("data {ds}³"), color));
    }
    // The legend, right of the plot.
    let style = ("sans-serif", 20).into_font();
    for (k, (label, color)) in legend.iter().enumerate() {
        let y = 90 + 34 * k as i32;
        legend_area
            .draw(&PathElement::new(
                vec![(10, y), (50, y)],
                color.stroke_width(3),
            ))
            .map_err(|e| anyhow!("{e}"))?;
        legend_area
            .draw(&Text::new(label.clone(), (60, y - 10), style.clone()))
            .map_err(|e| anyhow!("{e}"))?;
    }
    root.present().map_err(|e| anyhow!("{e}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_the_chunk_sizes_and_labels_read_as_numbers() {
        let results = Results::new(&[256], &[32, 64, 128], 1, 1);
        let x = x_scale(&results);
        let labels: Vec<String> = x.ticks.iter().map(|&t| x.label(t)).collect();
        assert_eq!(labels, ["32", "64", "128"]);
        assert!(x.range.start < 5.0 && x.range.end > 7.0);
    }

    #[test]
    fn times_spanning_a_decade_get_a_log_axis() {
        let log = y_scale(0.002, 0.5, None);
        assert_eq!(log.log, Some(10.0));
        let labels: Vec<String> = log.ticks.iter().map(|&t| log.label(t)).collect();
        assert_eq!(
            labels,
            ["0.002", "0.005", "0.01", "0.02", "0.05", "0.1", "0.2", "0.5"]
        );
        assert_eq!(number(0.0005), "0.0005");
        assert_eq!(number(2e-6), "2e-6");
        assert_eq!(number(128.0), "128");
        let linear = y_scale(0.1, 0.5, None);
        assert_eq!(linear.log, None);
        assert_eq!(linear.ticks.first(), Some(&0.0));
        // The reference line (a speed-up of 1) is always in view.
        let speedup = y_scale(0.2, 0.6, Some(1.0));
        assert!(speedup.range.end > 1.0);
    }
}
