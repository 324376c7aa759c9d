//! The font of the plots and images (plotters draws no text without one registered).

use std::path::Path;
use std::sync::OnceLock;

use anyhow::{anyhow, Result};
use plotters::style::{register_font, FontStyle};

const FONT_PATHS: [&str; 2] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
];

/// Registers DejaVu Sans as "sans-serif", once per process.
///
/// # Errors
/// No DejaVuSans.ttf installed, or not a usable font.
pub fn register_sans() -> Result<()> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            let path = FONT_PATHS
                .iter()
                .find(|p| Path::new(p).exists())
                .ok_or_else(|| {
                    format!("no DejaVuSans.ttf found (looked in {FONT_PATHS:?}); install fonts-dejavu-core for the plots")
                })?;
            let bytes = std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?;
            register_font(
                "sans-serif",
                FontStyle::Normal,
                Box::leak(bytes.into_boxed_slice()),
            )
            .map_err(|_| format!("{path} is not a usable font"))
        })
        .clone()
        .map_err(|e| anyhow!(e))
}
