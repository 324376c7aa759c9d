//! Greyscale PNGs of 2-D slices, each scaled from its own minimum (black) to maximum (white).

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use anyhow::{Context, Result};
use ndarray::ArrayView2;

/// Writes `slice` as an 8-bit greyscale PNG. A constant slice (e.g. a zero difference) is black.
pub fn write_png(path: &Path, slice: ArrayView2<'_, f64>) -> Result<()> {
    let (height, width) = slice.dim();
    let low = slice.iter().copied().fold(f64::INFINITY, f64::min);
    let high = slice.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let range = high - low;
    let pixels: Vec<u8> = slice
        .iter()
        .map(|&v| {
            if range > 0.0 && range.is_finite() {
                ((v - low) / range * 255.0).round() as u8
            } else {
                0
            }
        })
        .collect();
    // Under a temporary name, renamed when whole: a failure never leaves half an image over
    // an earlier run's.
    crate::cells::replace_atomically(path, |temp| encode(temp, width, height, &pixels))
}

/// Encodes 8-bit greyscale `pixels` as a PNG file at `path`.
fn encode(path: &Path, width: usize, height: usize, pixels: &[u8]) -> Result<()> {
    let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut encoder = png::Encoder::new(BufWriter::new(file), width as u32, height as u32);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder
        .write_header()
        .with_context(|| format!("cannot write {}", path.display()))?;
    writer
        .write_image_data(pixels)
        .with_context(|| format!("cannot write {}", path.display()))?;
    writer
        .finish()
        .with_context(|| format!("cannot finish {}", path.display()))?;
    Ok(())
}
