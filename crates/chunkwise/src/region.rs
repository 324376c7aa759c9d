//! A region: a strided box of an N-d array, one [`AxisSlice`] per axis.
//!
//! Selections resolve to regions, layouts split regions into per-chunk regions, and arrays are
//! sliced by regions. A region never drops axes: that is a property of how a selection is
//! presented, kept in [`crate::selection::Resolved`].

use ndarray::{ArrayBase, ArrayView, ArrayViewMut, Data, DataMut, IxDyn, Slice};

use crate::error::fmt_tuple;

/// `count` indices `start, start+step, …` along one axis (`step >= 1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AxisSlice {
    pub start: usize,
    pub step: usize,
    pub count: usize,
}

impl AxisSlice {
    /// `start..stop` with step 1 (empty when `stop <= start`).
    pub fn range(start: usize, stop: usize) -> Self {
        AxisSlice {
            start,
            step: 1,
            count: stop.saturating_sub(start),
        }
    }

    /// The last index, if any.
    pub fn last(&self) -> Option<usize> {
        (self.count > 0).then(|| self.start + (self.count - 1) * self.step)
    }

    /// One past the last index (`start` when empty).
    pub fn end(&self) -> usize {
        self.last().map_or(self.start, |last| last + 1)
    }

    fn as_ndarray_slice(&self) -> Slice {
        let step = isize::try_from(self.step).unwrap_or(isize::MAX);
        Slice::new(self.start as isize, Some(self.end() as isize), step)
    }
}

/// A strided box, one [`AxisSlice`] per axis.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Region {
    axes: Vec<AxisSlice>,
}

impl Region {
    /// A region from its axes.
    pub fn new(axes: Vec<AxisSlice>) -> Self {
        Region { axes }
    }

    /// The box `[start, stop)` with step 1 on every axis.
    pub fn from_bounds(start: &[usize], stop: &[usize]) -> Self {
        Region::new(
            start
                .iter()
                .zip(stop)
                .map(|(&a, &b)| AxisSlice::range(a, b))
                .collect(),
        )
    }

    /// The whole of an array of `shape`.
    pub fn full(shape: &[usize]) -> Self {
        Region::new(shape.iter().map(|&n| AxisSlice::range(0, n)).collect())
    }

    /// The per-axis slices.
    pub fn axes(&self) -> &[AxisSlice] {
        &self.axes
    }

    /// Number of axes.
    pub fn ndim(&self) -> usize {
        self.axes.len()
    }

    /// Number of selected indices per axis.
    pub fn shape(&self) -> Vec<usize> {
        self.axes.iter().map(|a| a.count).collect()
    }

    /// Number of selected elements.
    pub fn len(&self) -> usize {
        self.axes.iter().map(|a| a.count).product()
    }

    /// True when no element is selected.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// First selected index per axis.
    pub fn start(&self) -> Vec<usize> {
        self.axes.iter().map(|a| a.start).collect()
    }

    /// True when the region covers all of `shape` with step 1.
    pub fn is_full(&self, shape: &[usize]) -> bool {
        self.axes.len() == shape.len()
            && self
                .axes
                .iter()
                .zip(shape)
                .all(|(a, &n)| a.start == 0 && a.step == 1 && a.count == n)
    }

    /// A view of the region of `array` (which must contain it).
    pub fn view_of<'a, S, A>(&self, array: &'a ArrayBase<S, IxDyn>) -> ArrayView<'a, A, IxDyn>
    where
        S: Data<Elem = A>,
    {
        array.slice_each_axis(|ax| self.axes[ax.axis.index()].as_ndarray_slice())
    }

    /// A mutable view of the region of `array` (which must contain it).
    pub fn view_mut_of<'a, S, A>(
        &self,
        array: &'a mut ArrayBase<S, IxDyn>,
    ) -> ArrayViewMut<'a, A, IxDyn>
    where
        S: DataMut<Elem = A>,
    {
        array.slice_each_axis_mut(|ax| self.axes[ax.axis.index()].as_ndarray_slice())
    }

    /// The `rows` indices of axis 0 starting at its `first`-th index (other axes unchanged).
    pub fn with_axis0_rows(&self, first: usize, rows: usize) -> Region {
        let mut axes = self.axes.clone();
        if let Some(a) = axes.first_mut() {
            *a = AxisSlice {
                start: a.start + first * a.step,
                step: a.step,
                count: rows.min(a.count.saturating_sub(first)),
            };
        }
        Region::new(axes)
    }

    /// The region of an array of `shape` as one run of consecutive C-order elements,
    /// `(first, len)`, when it is one: consecutive indices along axis 0 and every index of the
    /// other axes (`None` otherwise, and when it does not fit `shape`).
    pub fn c_order_run(&self, shape: &[usize]) -> Option<(usize, usize)> {
        let (first, rest) = self.axes.split_first()?;
        if !self.fits(shape) || (first.step != 1 && first.count > 1) {
            return None;
        }
        let whole = |(a, &n): (&AxisSlice, &usize)| {
            a.count == n && (n == 0 || a.start == 0) && (a.step == 1 || n <= 1)
        };
        if !rest.iter().zip(&shape[1..]).all(whole) {
            return None;
        }
        let plane: usize = shape[1..].iter().product();
        Some((first.start * plane, first.count * plane))
    }

    /// True when every index of the region is inside `shape`.
    pub fn fits(&self, shape: &[usize]) -> bool {
        self.axes.len() == shape.len()
            && self
                .axes
                .iter()
                .zip(shape)
                .all(|(a, &n)| a.count == 0 || a.end() <= n)
    }
}

impl std::fmt::Display for Region {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .axes
            .iter()
            .map(|a| match a.step {
                1 => format!("{}:{}", a.start, a.end()),
                s => format!("{}:{}:{}", a.start, a.end(), s),
            })
            .collect();
        write!(
            f,
            "[{}] (shape {})",
            parts.join(", "),
            fmt_tuple(&self.shape())
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{ArrayD, IxDyn};

    #[test]
    fn a_c_order_run_is_exactly_the_elements_of_the_region() {
        let shape = [4, 3, 5];
        let array = ArrayD::from_shape_fn(IxDyn(&shape), |i| (i[0] * 3 + i[1]) * 5 + i[2]);
        let full = |n: usize| AxisSlice::range(0, n);
        let runs = [
            (
                vec![AxisSlice::range(1, 3), full(3), full(5)],
                Some((15, 30)),
            ),
            (
                vec![AxisSlice::range(0, 4), full(3), full(5)],
                Some((0, 60)),
            ),
            (
                vec![AxisSlice::range(3, 4), full(3), full(5)],
                Some((45, 15)),
            ),
            (
                vec![AxisSlice::range(2, 2), full(3), full(5)],
                Some((30, 0)),
            ),
            // Not runs: part of a later axis, a step on axis 0, beyond the shape.
            (
                vec![AxisSlice::range(1, 3), AxisSlice::range(0, 2), full(5)],
                None,
            ),
            (
                vec![AxisSlice::range(1, 3), full(3), AxisSlice::range(1, 5)],
                None,
            ),
            (
                vec![
                    AxisSlice {
                        start: 0,
                        step: 2,
                        count: 2,
                    },
                    full(3),
                    full(5),
                ],
                None,
            ),
            (vec![AxisSlice::range(3, 5), full(3), full(5)], None),
        ];
        for (axes, expected) in runs {
            let region = Region::new(axes);
            let run = region.c_order_run(&shape);
            assert_eq!(run, expected, "{region}");
            if let Some((first, len)) = run {
                let values: Vec<usize> = region.view_of(&array).iter().copied().collect();
                assert_eq!(values, (first..first + len).collect::<Vec<_>>(), "{region}");
            }
        }
    }
}
