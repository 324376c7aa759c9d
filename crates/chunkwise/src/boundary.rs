//! Boundary modes: which element of an array stands for an index outside it.
//!
//! The semantics are scipy.ndimage's `mode`, for any distance from the array (the extension
//! repeats as scipy's does when a halo is wider than the axis):
//!
//! | mode | extension of `a b c d` |
//! |---|---|
//! | `reflect` (default) | `d c b a \| a b c d \| d c b a` (half-sample symmetric) |
//! | `mirror` | `d c b \| a b c d \| c b a` (whole-sample symmetric) |
//! | `nearest` | `a a a a \| a b c d \| d d d d` |
//! | `constant` | `k k k k \| a b c d \| k k k k` (k = the constant, `cval`) |
//! | `wrap` | `a b c d \| a b c d \| a b c d` (periodic) |

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// How values outside an array are made up.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Boundary {
    /// Half-sample symmetric: `d c b a | a b c d | d c b a`.
    #[default]
    Reflect,
    /// Whole-sample symmetric: `d c b | a b c d | c b a`.
    Mirror,
    /// The edge value repeated.
    Nearest,
    /// A constant (scipy's `cval`).
    Constant(f64),
    /// Periodic.
    Wrap,
}

impl Boundary {
    /// The index inside `0..n` whose value stands at index `i` (any integer), or `None` when
    /// the value is the constant.
    pub fn source(self, i: isize, n: usize) -> Option<usize> {
        let n_signed = n as isize;
        if (0..n_signed).contains(&i) {
            return Some(i as usize);
        }
        match self {
            Boundary::Constant(_) => None,
            Boundary::Nearest => Some(i.clamp(0, n_signed - 1) as usize),
            Boundary::Wrap => Some(i.rem_euclid(n_signed) as usize),
            Boundary::Reflect => {
                let period = 2 * n_signed;
                let j = i.rem_euclid(period);
                Some(if j < n_signed { j } else { period - 1 - j } as usize)
            }
            Boundary::Mirror => {
                if n == 1 {
                    return Some(0);
                }
                let period = 2 * n_signed - 2;
                let j = i.rem_euclid(period);
                Some(if j < n_signed { j } else { period - j } as usize)
            }
        }
    }

    /// The mode's name as scipy spells it.
    pub fn name(&self) -> &'static str {
        match self {
            Boundary::Reflect => "reflect",
            Boundary::Mirror => "mirror",
            Boundary::Nearest => "nearest",
            Boundary::Constant(_) => "constant",
            Boundary::Wrap => "wrap",
        }
    }

    /// The mode of `name` with `cval` for `constant`.
    ///
    /// # Errors
    /// [`Error::InvalidSetting`] naming the value and the five modes.
    pub fn parse(name: &str, cval: f64) -> Result<Self> {
        match name.trim() {
            "reflect" => Ok(Boundary::Reflect),
            "mirror" => Ok(Boundary::Mirror),
            "nearest" => Ok(Boundary::Nearest),
            "constant" => Ok(Boundary::Constant(cval)),
            "wrap" => Ok(Boundary::Wrap),
            other => Err(Error::InvalidSetting {
                name: "mode".into(),
                value: other.into(),
                expected: "expected reflect, mirror, nearest, constant or wrap".into(),
            }),
        }
    }
}

impl FromStr for Boundary {
    type Err = Error;
    /// Parses a mode name; `constant` gets the constant 0.
    fn from_str(name: &str) -> Result<Self> {
        Boundary::parse(name, 0.0)
    }
}

impl fmt::Display for Boundary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Boundary::Constant(cval) => write!(f, "constant({cval})"),
            other => f.write_str(other.name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn extend(mode: Boundary, n: usize, lo: isize, hi: isize) -> Vec<Option<usize>> {
        (lo..hi).map(|i| mode.source(i, n)).collect()
    }

    #[test]
    fn matches_scipy_extensions() {
        let s = |v: &[usize]| v.iter().map(|&x| Some(x)).collect::<Vec<_>>();
        // a b c d = 0 1 2 3, extended by 4 on each side.
        assert_eq!(
            extend(Boundary::Reflect, 4, -4, 8),
            s(&[3, 2, 1, 0, 0, 1, 2, 3, 3, 2, 1, 0])
        );
        assert_eq!(
            extend(Boundary::Mirror, 4, -3, 7),
            s(&[3, 2, 1, 0, 1, 2, 3, 2, 1, 0])
        );
        assert_eq!(
            extend(Boundary::Nearest, 4, -2, 6),
            s(&[0, 0, 0, 1, 2, 3, 3, 3])
        );
        assert_eq!(
            extend(Boundary::Wrap, 4, -5, 9),
            s(&[3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0])
        );
        assert_eq!(
            extend(Boundary::Constant(1.0), 2, -1, 3),
            vec![None, Some(0), Some(1), None]
        );
    }

    #[test]
    fn halos_wider_than_the_axis_keep_repeating() {
        // reflect has period 2n, mirror 2n-2.
        assert_eq!(Boundary::Reflect.source(-7, 3), Some(0));
        assert_eq!(Boundary::Reflect.source(9, 3), Some(2));
        assert_eq!(Boundary::Mirror.source(-5, 3), Some(1));
        assert_eq!(Boundary::Mirror.source(6, 3), Some(2));
        assert_eq!(Boundary::Mirror.source(-3, 1), Some(0));
    }

    #[test]
    fn parses_names() {
        assert_eq!("wrap".parse::<Boundary>().unwrap(), Boundary::Wrap);
        assert_eq!(
            Boundary::parse("constant", 2.5).unwrap(),
            Boundary::Constant(2.5)
        );
        let err = "edge".parse::<Boundary>().unwrap_err().to_string();
        assert!(
            err.contains("edge") && err.contains("reflect, mirror"),
            "{err}"
        );
    }
}
