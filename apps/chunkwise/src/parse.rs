//! Parsing of the CLI's own value formats (shapes). Selections, dtypes and values are parsed by
//! the chunkwise crate.

use anyhow::{bail, Result};

/// Parses `"100,100,100"` (spaces allowed) into a shape.
pub fn shape(option: &str, text: &str) -> Result<Vec<usize>> {
    let parts: Vec<&str> = text.split(',').map(str::trim).collect();
    if parts.iter().all(|p| p.is_empty()) {
        bail!("{option} \"{text}\" is empty; expected comma-separated positive integers like 100,100,100");
    }
    parts
        .iter()
        .map(|part| match part.parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => bail!(
                "{option} \"{text}\" has \"{part}\"; expected comma-separated positive integers like 100,100,100"
            ),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert_eq!(shape("--shape", "100, 20,3").unwrap(), vec![100, 20, 3]);
        let err = shape("--shape", "4x5").unwrap_err().to_string();
        assert!(err.contains("has \"4x5\""), "{err}");
        let err = shape("--shape", "10,-1").unwrap_err().to_string();
        assert!(err.contains("\"-1\"") && err.contains("--shape"), "{err}");
        assert!(shape("--chunks", "").is_err());
        assert!(shape("--chunks", "0").is_err());
    }
}
