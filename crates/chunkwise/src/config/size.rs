//! Byte sizes as people write them: `4294967296`, `4*1024*1024*1024`, `4GiB`, `512MB`, `1.5 GB`.

/// Parses a size; `Err` holds what was expected.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let expected = || {
        format!(
            "\"{trimmed}\" is not a size; expected bytes as an integer, a product like 4*1024*1024*1024, \
             or a number with a unit like 4GiB, 512MB, 1.5GB"
        )
    };
    if trimmed.is_empty() {
        return Err(expected());
    }
    if trimmed.contains('*') {
        return trimmed.split('*').try_fold(1u64, |acc, factor| {
            let factor: u64 = factor.trim().parse().map_err(|_| expected())?;
            acc.checked_mul(factor)
                .ok_or_else(|| format!("\"{trimmed}\" overflows 64 bits"))
        });
    }
    let split = trimmed
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(trimmed.len());
    let (number, unit) = (trimmed[..split].trim(), trimmed[split..].trim());
    let multiplier: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1000,
        "m" | "mb" => 1000_u64.pow(2),
        "g" | "gb" => 1000_u64.pow(3),
        "t" | "tb" => 1000_u64.pow(4),
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        _ => return Err(expected()),
    };
    if let Ok(whole) = number.parse::<u64>() {
        return whole
            .checked_mul(multiplier)
            .ok_or_else(|| format!("\"{trimmed}\" overflows 64 bits"));
    }
    let value: f64 = number.parse().map_err(|_| expected())?;
    if !value.is_finite() || value < 0.0 {
        return Err(expected());
    }
    let bytes = value * multiplier as f64;
    if bytes > u64::MAX as f64 {
        return Err(format!("\"{trimmed}\" overflows 64 bits"));
    }
    Ok(bytes.round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4294967296"), Ok(4 << 30));
        assert_eq!(parse_size("4*1024*1024*1024"), Ok(4 << 30));
        assert_eq!(parse_size("4GiB"), Ok(4 << 30));
        assert_eq!(parse_size("512MB"), Ok(512_000_000));
        assert_eq!(parse_size(" 1.5 GB "), Ok(1_500_000_000));
        assert_eq!(parse_size("256mib"), Ok(256 << 20));
        for bad in ["", "4 GiBs", "-1", "four", "4**2", "1e400GB"] {
            let err = parse_size(bad).unwrap_err();
            assert!(
                err.contains(bad.trim()) || err.contains("overflows"),
                "{bad}: {err}"
            );
        }
        assert!(parse_size("99999999999*99999999999")
            .unwrap_err()
            .contains("overflows"));
    }
}
