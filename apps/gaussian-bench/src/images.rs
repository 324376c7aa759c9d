//! Images of the centre slices: the input and the two outputs on one colour scale (viridis)
//! with a colour bar, the difference of the outputs on a scale of its own, symmetric about 0.
//!
//! Slices of small data are a few dozen pixels across, too small to see: each is enlarged by a
//! whole factor (nearest neighbour, so every element stays a square) to at least
//! [`MIN_PIXELS`] across.

use std::path::Path;

use anyhow::{anyhow, Result};
use ndarray::ArrayView2;
use plotters::prelude::*;

/// The least width and height of an image's slice, pixels.
pub const MIN_PIXELS: usize = 256;

/// Room around the slice: the title above, the colour bar and its labels to the right.
const TITLE: u32 = 44;
const MARGIN: u32 = 12;
const BAR: u32 = 22;
const LABELS: u32 = 110;

/// The whole factor a `height × width` slice is enlarged by.
pub fn scale_factor(height: usize, width: usize) -> usize {
    let smaller = height.min(width).max(1);
    MIN_PIXELS.div_ceil(smaller).max(1)
}

/// The colour scale of an image: values from `low` (dark) to `high` (bright), or a
/// blue–white–red scale about 0 for differences.
#[derive(Debug, Clone, Copy)]
pub struct ColourScale {
    pub low: f64,
    pub high: f64,
    pub diverging: bool,
}

impl ColourScale {
    /// One scale for several slices: their joint minimum to maximum.
    pub fn joint(slices: &[ArrayView2<'_, f64>]) -> ColourScale {
        let (low, high) = slices
            .iter()
            .flat_map(|s| s.iter().copied())
            .filter(|v| v.is_finite())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
                (l.min(v), h.max(v))
            });
        let (low, high) = if low.is_finite() {
            (low, high)
        } else {
            (0.0, 1.0)
        };
        ColourScale {
            low,
            high,
            diverging: false,
        }
    }

    /// A scale symmetric about 0 reaching the largest |value| (±1 when every value is 0).
    pub fn about_zero(slice: ArrayView2<'_, f64>) -> ColourScale {
        let reach = slice
            .iter()
            .copied()
            .filter(|v| v.is_finite())
            .fold(0.0f64, |m, v| m.max(v.abs()));
        let reach = if reach > 0.0 { reach } else { 1.0 };
        ColourScale {
            low: -reach,
            high: reach,
            diverging: true,
        }
    }

    fn colour(&self, value: f64) -> RGBColor {
        let span = self.high - self.low;
        let t = if span > 0.0 && value.is_finite() {
            ((value - self.low) / span).clamp(0.0, 1.0)
        } else {
            0.5
        };
        if self.diverging {
            // Blue (−) through white (0) to red (+).
            let (r, g, b) = if t < 0.5 {
                let s = t * 2.0;
                (s, s, 1.0)
            } else {
                let s = (1.0 - t) * 2.0;
                (1.0, s, s)
            };
            RGBColor(
                (r * 255.0).round() as u8,
                (g * 255.0).round() as u8,
                (b * 255.0).round() as u8,
            )
        } else {
            ViridisRGB::get_color(t)
        }
    }
}

/// Writes `slice` as a PNG with `title` above it and a colour bar labelled in the data's units
/// (`note` under the bar's labels, e.g. that every value is 0).
///
/// # Errors
/// No font, or the image cannot be drawn or written.
pub fn write_image(
    path: &Path,
    title: &str,
    slice: ArrayView2<'_, f64>,
    scale: ColourScale,
    note: Option<&str>,
) -> Result<()> {
    crate::fonts::register_sans()?;
    let (height, width) = slice.dim();
    let factor = scale_factor(height, width);
    let (w, h) = ((width * factor) as u32, (height * factor) as u32);
    let size = (MARGIN + w + MARGIN + BAR + LABELS, TITLE + h + MARGIN);
    // Under a temporary name, renamed when whole: a failure never leaves half an image over
    // an earlier run's.
    crate::cells::replace_atomically(path, |temp| {
        let root = BitMapBackend::new(temp, size).into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
        root.draw(&Text::new(
            title.to_string(),
            (MARGIN as i32, 10),
            ("sans-serif", 22).into_font(),
        ))
        .map_err(|e| anyhow!("{e}"))?;
        let image = root.margin(TITLE, MARGIN, MARGIN, MARGIN + BAR + LABELS);
        for ((row, column), &value) in slice.indexed_iter() {
            let colour = scale.colour(value);
            let (x, y) = ((column * factor) as i32, (row * factor) as i32);
            let f = factor as i32;
            image
                .draw(&Rectangle::new([(x, y), (x + f, y + f)], colour.filled()))
                .map_err(|e| anyhow!("{e}"))?;
        }
        // The colour bar: top is `high`, bottom `low`, with five labels.
        let left = (MARGIN + w + MARGIN) as i32;
        let top = TITLE as i32;
        let bar_height = h as i32;
        for y in 0..bar_height {
            let value = scale.high
                - (scale.high - scale.low) * f64::from(y) / f64::from(bar_height.max(2) - 1);
            root.draw(&Rectangle::new(
                [(left, top + y), (left + BAR as i32, top + y + 1)],
                scale.colour(value).filled(),
            ))
            .map_err(|e| anyhow!("{e}"))?;
        }
        // A frame, so that a white image (a zero difference) is seen as one.
        root.draw(&Rectangle::new(
            [
                (MARGIN as i32 - 1, top - 1),
                (MARGIN as i32 + w as i32, top + h as i32),
            ],
            BLACK.stroke_width(1),
        ))
        .map_err(|e| anyhow!("{e}"))?;
        root.draw(&Rectangle::new(
            [(left, top), (left + BAR as i32, top + bar_height)],
            BLACK.stroke_width(1),
        ))
        .map_err(|e| anyhow!("{e}"))?;
        let font = ("sans-serif", 16).into_font();
        for k in 0..5 {
            let fraction = f64::from(k) / 4.0;
            let value = scale.high - (scale.high - scale.low) * fraction;
            let y = top + (fraction * f64::from(bar_height - 1)).round() as i32;
            root.draw(&PathElement::new(
                vec![(left + BAR as i32, y), (left + BAR as i32 + 5, y)],
                BLACK,
            ))
            .map_err(|e| anyhow!("{e}"))?;
            root.draw(&Text::new(
                label(value, scale.high - scale.low),
                (left + BAR as i32 + 8, y - 8),
                font.clone(),
            ))
            .map_err(|e| anyhow!("{e}"))?;
        }
        if let Some(note) = note {
            root.draw(&Text::new(
                note.to_string(),
                (MARGIN as i32 + 8, top + bar_height / 2 - 9),
                ("sans-serif", 18).into_font().color(&BLACK),
            ))
            .map_err(|e| anyhow!("{e}"))?;
        }
        root.present().map_err(|e| anyhow!("{e}"))?;
        Ok(())
    })
}

/// A colour-bar label with as many digits as the scale's span needs.
fn label(value: f64, span: f64) -> String {
    if value == 0.0 {
        return "0".into();
    }
    if span.abs() < 1e-3 || value.abs() >= 1e4 {
        return format!("{value:.2e}");
    }
    let digits = (2.0 - span.abs().log10().floor()).clamp(0.0, 6.0) as usize;
    format!("{value:.digits$}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_slices_grow_by_a_whole_factor_to_256_pixels() {
        assert_eq!(scale_factor(32, 32), 8);
        assert_eq!(scale_factor(48, 48), 6);
        assert_eq!(scale_factor(100, 300), 3);
        assert_eq!(scale_factor(512, 512), 1);
    }

    #[test]
    fn one_scale_for_the_slices_and_one_about_zero_for_differences() {
        let a = ndarray::arr2(&[[0.0, 1.0], [2.0, 3.0]]);
        let b = ndarray::arr2(&[[-1.0, 0.5], [0.5, 0.5]]);
        let joint = ColourScale::joint(&[a.view(), b.view()]);
        assert_eq!((joint.low, joint.high), (-1.0, 3.0));
        let zero = ColourScale::about_zero(ndarray::Array2::zeros((2, 2)).view());
        assert_eq!((zero.low, zero.high), (-1.0, 1.0));
        assert_eq!(zero.colour(0.0), RGBColor(255, 255, 255));
        let diff = ColourScale::about_zero(b.view());
        assert_eq!((diff.low, diff.high), (-1.0, 1.0));
        assert_eq!(diff.colour(-1.0), RGBColor(0, 0, 255));
        assert_eq!(diff.colour(1.0), RGBColor(255, 0, 0));
    }

    #[test]
    fn labels_have_the_digits_the_span_needs() {
        assert_eq!(label(0.25, 1.0), "0.25");
        assert_eq!(label(0.748, 0.996), "0.748");
        assert_eq!(label(25.0, 100.0), "25");
        assert_eq!(label(3e-7, 6e-7), "3.00e-7");
    }
}
