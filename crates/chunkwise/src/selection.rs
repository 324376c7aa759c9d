//! numpy-like selections: parsing `"10:50, :, -1"`, building them in Rust, and resolving them
//! against a shape into a [`Region`] plus the axes that integer indices drop.
//!
//! Semantics follow numpy basic indexing with positive steps: an integer selects one index
//! (negative counts from the end) and drops its axis; `start:stop:step` clips to the axis as numpy
//! does; `:` takes the axis whole; one `...` stands for as many `:` as needed; missing trailing
//! axes are `:`. Parsing lives here and nowhere else.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::region::{AxisSlice, Region};

/// One item of a selection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SliceItem {
    /// One index; negative counts from the end. Drops the axis.
    Index(isize),
    /// `start:stop:step`, each bound optional, step > 0.
    Slice {
        start: Option<isize>,
        stop: Option<isize>,
        step: isize,
    },
    /// `...`: as many whole axes as needed.
    Ellipsis,
}

impl SliceItem {
    /// `:` — the whole axis.
    pub fn full() -> Self {
        SliceItem::Slice {
            start: None,
            stop: None,
            step: 1,
        }
    }

    /// `start:stop`.
    pub fn range(start: isize, stop: isize) -> Self {
        SliceItem::Slice {
            start: Some(start),
            stop: Some(stop),
            step: 1,
        }
    }

    /// `start:stop:step` with optional bounds.
    pub fn slice(start: Option<isize>, stop: Option<isize>, step: isize) -> Self {
        SliceItem::Slice { start, stop, step }
    }
}

impl From<isize> for SliceItem {
    fn from(index: isize) -> Self {
        SliceItem::Index(index)
    }
}

impl From<std::ops::Range<isize>> for SliceItem {
    fn from(range: std::ops::Range<isize>) -> Self {
        SliceItem::range(range.start, range.end)
    }
}

impl From<std::ops::RangeFull> for SliceItem {
    fn from(_: std::ops::RangeFull) -> Self {
        SliceItem::full()
    }
}

impl fmt::Display for SliceItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bound = |b: &Option<isize>| b.map(|v| v.to_string()).unwrap_or_default();
        match self {
            SliceItem::Index(i) => write!(f, "{i}"),
            SliceItem::Ellipsis => f.write_str("..."),
            SliceItem::Slice {
                start,
                stop,
                step: 1,
            } => {
                write!(f, "{}:{}", bound(start), bound(stop))
            }
            SliceItem::Slice { start, stop, step } => {
                write!(f, "{}:{}:{step}", bound(start), bound(stop))
            }
        }
    }
}

/// A numpy-like selection: a list of [`SliceItem`]s.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Selection {
    items: Vec<SliceItem>,
}

/// A selection resolved against a shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The selected elements, one slice per dataset axis.
    pub region: Region,
    /// Axes selected by an integer: absent from the output.
    pub dropped: Vec<bool>,
}

impl Resolved {
    /// Shape of the result as numpy gives it (integer-selected axes removed).
    pub fn output_shape(&self) -> Vec<usize> {
        self.region
            .axes()
            .iter()
            .zip(&self.dropped)
            .filter(|(_, &dropped)| !dropped)
            .map(|(axis, _)| axis.count)
            .collect()
    }
}

impl Selection {
    /// Everything (`...`).
    pub fn all() -> Self {
        Selection { items: Vec::new() }
    }

    /// A selection from its items.
    pub fn new(items: impl IntoIterator<Item = SliceItem>) -> Self {
        Selection {
            items: items.into_iter().collect(),
        }
    }

    /// The items.
    pub fn items(&self) -> &[SliceItem] {
        &self.items
    }

    /// Parses numpy index syntax, e.g. `"10:50, :, -1"`, `"..., 0"`, `"::2"`; optional
    /// surrounding brackets; an empty string selects everything.
    ///
    /// # Errors
    /// [`Error::Selection`] naming the text and the item that does not parse.
    pub fn parse(text: &str) -> Result<Self> {
        let err = |problem: String| Error::Selection {
            selection: text.to_string(),
            problem,
        };
        let mut body = text.trim();
        if let Some(inner) = body.strip_prefix('[').and_then(|b| b.strip_suffix(']')) {
            body = inner.trim();
        }
        if body.is_empty() {
            // An empty string is most often an unset shell variable: refused rather than
            // taken as the whole dataset (numpy's `a[()]`), which would rewrite all of it.
            return Err(err(
                "is empty; expected one item per axis such as \"0:10, :, 5\", or \":\" or \"...\" for the whole dataset".into(),
            ));
        }
        // One trailing comma is numpy's one-item tuple: "5," is "5".
        let body = body.strip_suffix(',').map_or(body, str::trim_end);
        let mut items = Vec::new();
        for (position, raw) in body.split(',').enumerate() {
            let item = raw.trim();
            if item.is_empty() {
                return Err(err(format!(
                    "has an empty item at position {position}; expected an integer, a slice like 1:10:2, : or ..."
                )));
            }
            items.push(
                parse_item(item)
                    .map_err(|problem| err(format!("{problem} at position {position}")))?,
            );
        }
        Ok(Selection { items })
    }

    /// Resolves against `shape`: expands `...`, applies numpy's clipping, checks indices.
    ///
    /// # Errors
    /// [`Error::Selection`] for more than one `...`, more indices than axes, an index out of
    /// range, or a step that is not positive; the message names the axis and the value.
    pub fn resolve(&self, shape: &[usize]) -> Result<Resolved> {
        let err = |problem: String| Error::Selection {
            selection: self.to_string(),
            problem,
        };
        let ellipses = self
            .items
            .iter()
            .filter(|i| matches!(i, SliceItem::Ellipsis))
            .count();
        if ellipses > 1 {
            return Err(err(format!("has {ellipses} '...'; expected at most one")));
        }
        let explicit = self.items.len() - ellipses;
        if explicit > shape.len() {
            return Err(err(format!(
                "has {explicit} indices but the dataset has {} axes",
                shape.len()
            )));
        }
        let full = SliceItem::full();
        let mut expanded: Vec<SliceItem> = Vec::with_capacity(shape.len());
        for item in &self.items {
            match item {
                SliceItem::Ellipsis => {
                    expanded.extend(std::iter::repeat_n(full, shape.len() - explicit))
                }
                other => expanded.push(*other),
            }
        }
        expanded.resize(shape.len(), full);

        let mut axes = Vec::with_capacity(shape.len());
        let mut dropped = Vec::with_capacity(shape.len());
        for (axis, (item, &n)) in expanded.iter().zip(shape).enumerate() {
            let n_signed = isize::try_from(n)
                .map_err(|_| err(format!("axis {axis} of length {n} is too long to index")))?;
            match *item {
                SliceItem::Index(i) => {
                    let index = if i < 0 { i + n_signed } else { i };
                    if index < 0 || index >= n_signed {
                        return Err(err(format!("is out of range on axis {axis} (size {n})")));
                    }
                    axes.push(AxisSlice {
                        start: index as usize,
                        step: 1,
                        count: 1,
                    });
                    dropped.push(true);
                }
                SliceItem::Slice { start, stop, step } => {
                    if step <= 0 {
                        return Err(err(format!(
                            "has step {step} on axis {axis}; expected a step > 0"
                        )));
                    }
                    let clip = |bound: Option<isize>, default: isize| -> usize {
                        let value = match bound {
                            None => default,
                            Some(b) if b < 0 => (b + n_signed).max(0),
                            Some(b) => b.min(n_signed),
                        };
                        value as usize
                    };
                    let lo = clip(start, 0);
                    let hi = clip(stop, n_signed);
                    let step = step as usize;
                    let count = if hi > lo { (hi - lo).div_ceil(step) } else { 0 };
                    axes.push(AxisSlice {
                        start: if count > 0 { lo } else { lo.min(n) },
                        step,
                        count,
                    });
                    dropped.push(false);
                }
                SliceItem::Ellipsis => unreachable!("expanded above"),
            }
        }
        Ok(Resolved {
            region: Region::new(axes),
            dropped,
        })
    }
}

fn parse_index(text: &str) -> std::result::Result<isize, String> {
    text.trim()
        .parse::<isize>()
        .map_err(|_| format!("\"{}\" is not an integer", text.trim()))
}

fn parse_item(item: &str) -> std::result::Result<SliceItem, String> {
    if item == "..." {
        return Ok(SliceItem::Ellipsis);
    }
    if !item.contains(':') {
        return parse_index(item).map(SliceItem::Index);
    }
    let parts: Vec<&str> = item.split(':').collect();
    if parts.len() > 3 {
        return Err(format!("\"{item}\" has more than two ':'"));
    }
    let bound = |text: &str| -> std::result::Result<Option<isize>, String> {
        if text.trim().is_empty() {
            Ok(None)
        } else {
            parse_index(text).map(Some)
        }
    };
    let start = bound(parts[0])?;
    let stop = bound(parts[1])?;
    let step = match parts.get(2) {
        Some(text) => bound(text)?.unwrap_or(1),
        None => 1,
    };
    Ok(SliceItem::Slice { start, stop, step })
}

impl FromStr for Selection {
    type Err = Error;
    fn from_str(text: &str) -> Result<Self> {
        Selection::parse(text)
    }
}

impl fmt::Display for Selection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.items.is_empty() {
            return f.write_str("...");
        }
        let items: Vec<String> = self.items.iter().map(|i| i.to_string()).collect();
        f.write_str(&items.join(", "))
    }
}

impl From<Vec<SliceItem>> for Selection {
    fn from(items: Vec<SliceItem>) -> Self {
        Selection { items }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(text: &str, shape: &[usize]) -> Result<Resolved> {
        Selection::parse(text)?.resolve(shape)
    }

    #[test]
    fn parses_numpy_syntax() {
        let sel = Selection::parse(" 10:50, :, -1 ").unwrap();
        assert_eq!(
            sel.items(),
            &[
                SliceItem::range(10, 50),
                SliceItem::full(),
                SliceItem::Index(-1)
            ]
        );
        assert_eq!(sel.to_string(), "10:50, :, -1");
        let sel = Selection::parse("[..., ::2]").unwrap();
        assert_eq!(
            sel.items(),
            &[SliceItem::Ellipsis, SliceItem::slice(None, None, 2)]
        );
        assert_eq!(Selection::parse(":").unwrap().to_string(), ":");
        assert_eq!(Selection::parse("...").unwrap().to_string(), "...");
    }

    #[test]
    fn an_empty_selection_is_refused_not_taken_as_everything() {
        for empty in ["", "  ", "[]", "[ ]"] {
            let err = Selection::parse(empty).unwrap_err().to_string();
            assert!(
                err.contains("is empty") && err.contains("\"...\""),
                "{empty:?}: {err}"
            );
        }
    }

    #[test]
    fn parse_errors_name_the_item() {
        let err = Selection::parse("1:a").unwrap_err().to_string();
        assert!(
            err.contains("\"a\" is not an integer") && err.contains("\"1:a\""),
            "{err}"
        );
        assert!(Selection::parse("1:2:3:4").is_err());
        assert!(Selection::parse("1,,2").is_err());
    }

    #[test]
    fn resolves_with_numpy_clipping() {
        let r = resolve("-3:, 5:100, 2:1", &[10, 20, 30]).unwrap();
        assert_eq!(
            r.region.axes()[0],
            AxisSlice {
                start: 7,
                step: 1,
                count: 3
            }
        );
        assert_eq!(
            r.region.axes()[1],
            AxisSlice {
                start: 5,
                step: 1,
                count: 15
            }
        );
        assert_eq!(r.region.axes()[2].count, 0);
        let r = resolve("1::4", &[10]).unwrap();
        assert_eq!(
            r.region.axes()[0],
            AxisSlice {
                start: 1,
                step: 4,
                count: 3
            }
        );
        assert_eq!(r.output_shape(), vec![3]);
    }

    #[test]
    fn integers_drop_axes_and_ellipsis_expands() {
        let r = resolve("..., 0", &[4, 5, 6]).unwrap();
        assert_eq!(r.dropped, vec![false, false, true]);
        assert_eq!(r.output_shape(), vec![4, 5]);
        let r = resolve("1", &[4, 5, 6]).unwrap();
        assert_eq!(r.output_shape(), vec![5, 6]);
    }

    #[test]
    fn errors_name_axis_and_size() {
        let err = resolve("0:5, 120", &[100, 100, 100])
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "selection \"0:5, 120\" is out of range on axis 1 (size 100)"
        );
        let err = resolve("-101", &[100]).unwrap_err().to_string();
        assert!(err.contains("axis 0 (size 100)"), "{err}");
        let err = resolve("::0", &[10]).unwrap_err().to_string();
        assert!(err.contains("step 0 on axis 0"), "{err}");
        let err = resolve("::-1", &[10]).unwrap_err().to_string();
        assert!(err.contains("step -1"), "{err}");
        let err = resolve("1, 2, 3", &[4, 4]).unwrap_err().to_string();
        assert!(err.contains("3 indices") && err.contains("2 axes"), "{err}");
        assert!(resolve("..., ...", &[4]).is_err());
    }
}
