//! Built-in reductions: count, sum, mean, variance, extremes with their indices, and a
//! histogram, the same to the bit whatever the engine, ranks, threads and chunk shapes.
//!
//! Sums of floating-point values are exact ([`crate::exact_sum`]) and rounded once: the sum
//! equals `math.fsum` of the values, the mean is the correctly rounded exact mean, and the
//! (population) variance the correctly rounded `(n·Σx² − (Σx)²) / n²` of the exact sums — no
//! cancellation, and no dependence on the order of the additions. Integer sums are exact in
//! 128 bits (and their squares in 256). Minimum and maximum skip NaNs (as `numpy.nanmin`), and
//! their indices are those of the first occurrence in C order (as `numpy.nanargmin`); NaNs are
//! counted apart, and any NaN makes sum, mean and variance NaN (as `numpy.sum`). The histogram
//! follows `numpy.histogram`: equal bins over the range, the last bin closed, values outside
//! the range (and NaNs) not counted, the bin of a value computed in the arithmetic numpy uses
//! for the dtype (float32 for float32 data, float64 otherwise).

use num_bigint::BigInt;
use num_rational::BigRational;
use serde::{Deserialize, Serialize};

use crate::dtype::{ChunkData, DType};
use crate::error::{Error, Result};
use crate::exact_sum::{round, ExactSum};
use crate::layout::Layout;
use crate::reduce::{Block, Reduction};

/// A number of the dataset's kind: floats as `f64`, integers exactly.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Number {
    Float(f64),
    Int(i128),
}

impl Number {
    /// The value as `f64` (rounded for integers beyond 2^53).
    pub fn to_f64(self) -> f64 {
        match self {
            Number::Float(x) => x,
            Number::Int(i) => i as f64,
        }
    }

    /// `self < other`, integers compared exactly.
    fn less(self, other: Number) -> bool {
        match (self, other) {
            (Number::Int(a), Number::Int(b)) => a < b,
            (a, b) => a.to_f64() < b.to_f64(),
        }
    }
}

impl std::fmt::Display for Number {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Number::Float(x) => write!(f, "{x}"),
            Number::Int(i) => write!(f, "{i}"),
        }
    }
}

/// An extreme value and the dataset's flat index of its first occurrence.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Extreme {
    value: Number,
    flat: u64,
}

/// Picks the smaller (`min`) or larger value, the lower index on a tie.
fn better(current: Option<Extreme>, candidate: Extreme, min: bool) -> Option<Extreme> {
    Some(match current {
        None => candidate,
        Some(c) => {
            let wins = if min {
                candidate.value.less(c.value)
            } else {
                c.value.less(candidate.value)
            };
            let ties = !candidate.value.less(c.value) && !c.value.less(candidate.value);
            if wins || (ties && candidate.flat < c.flat) {
                candidate
            } else {
                c
            }
        }
    })
}

/// Exact sums of the values and of their squares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Sums {
    None,
    Float { sum: ExactSum, squares: ExactSum },
    Int { sum: i128, squares: (u128, u128) },
}

/// What [`Stats`] accumulates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatsState {
    count: u64,
    nans: u64,
    sums: Sums,
    min: Option<Extreme>,
    max: Option<Extreme>,
}

/// Count, sum, mean, variance, minimum and maximum with their indices, NaN count.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stats;

/// What [`Stats`] found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Elements, NaNs included.
    pub count: u64,
    /// NaN elements.
    pub nan_count: u64,
    /// The exact sum, rounded once (exact for integers); NaN with a NaN, as numpy.
    pub sum: Number,
    /// The correctly rounded mean (NaN for no elements).
    pub mean: f64,
    /// The correctly rounded population variance (ddof 0).
    pub variance: f64,
    /// The square root of `variance`.
    pub std: f64,
    /// The smallest and largest non-NaN values (`None` when there are none).
    pub min: Option<Number>,
    pub max: Option<Number>,
    /// Their N-d indices in the dataset (first occurrence in C order).
    pub argmin: Option<Vec<usize>>,
    pub argmax: Option<Vec<usize>>,
}

/// `value` × `count` added to the 256-bit (`high`, `low`) sum.
fn add_wide((low, high): &mut (u128, u128), value: u128) {
    let (sum, carry) = low.overflowing_add(value);
    *low = sum;
    *high += u128::from(carry);
}

fn wide_to_big((low, high): (u128, u128)) -> BigInt {
    (BigInt::from(high) << 128) + BigInt::from(low)
}

/// The first smallest and first largest of `values` that are not NaN, with their positions,
/// and how many are NaN.
#[allow(clippy::type_complexity)]
fn extremes<V: Copy + PartialOrd>(
    values: impl Iterator<Item = V>,
) -> (Option<(V, usize)>, Option<(V, usize)>, u64) {
    let mut min: Option<(V, usize)> = None;
    let mut max: Option<(V, usize)> = None;
    let mut nans = 0;
    for (position, x) in values.enumerate() {
        // NaN is the one value not equal to itself.
        #[allow(clippy::eq_op)]
        if x != x {
            nans += 1;
            continue;
        }
        if min.is_none_or(|(m, _)| x < m) {
            min = Some((x, position));
        }
        if max.is_none_or(|(m, _)| x > m) {
            max = Some((x, position));
        }
    }
    (min, max, nans)
}

/// [`extremes`] of `f32` values, in lanes the compiler vectorizes: the smallest and largest
/// values first, then their first positions.
#[allow(clippy::type_complexity)]
fn extremes_f32(values: &[f32]) -> (Option<(f32, usize)>, Option<(f32, usize)>, u64) {
    const LANES: usize = 16;
    let mut low = [f32::INFINITY; LANES];
    let mut high = [f32::NEG_INFINITY; LANES];
    let mut nans = [0u32; LANES];
    let mut groups = values.chunks_exact(LANES);
    for group in &mut groups {
        for k in 0..LANES {
            let x = group[k];
            // A NaN compares false: it changes neither, and is counted.
            low[k] = if x < low[k] { x } else { low[k] };
            high[k] = if x > high[k] { x } else { high[k] };
            nans[k] += u32::from(x.is_nan());
        }
    }
    let mut nan_count: u64 = nans.iter().map(|&n| u64::from(n)).sum();
    let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
    for k in 0..LANES {
        lo = if low[k] < lo { low[k] } else { lo };
        hi = if high[k] > hi { high[k] } else { hi };
    }
    for &x in groups.remainder() {
        nan_count += u64::from(x.is_nan());
        lo = if x < lo { x } else { lo };
        hi = if x > hi { x } else { hi };
    }
    // All NaN (or nothing): no extreme. ±∞ alone are found by equality.
    let min = values.iter().position(|&x| x == lo).map(|p| (lo, p));
    let max = values.iter().position(|&x| x == hi).map(|p| (hi, p));
    (min, max, nan_count)
}

impl Stats {
    /// Folds `f64` values one by one.
    fn fold_f64(state: &mut StatsState, block: &Block<'_>, values: &[f64]) {
        let Sums::Float { sum, squares } = &mut state.sums else {
            return;
        };
        for &x in values {
            sum.add(x);
            squares.add_square(x);
        }
        let (min, max, nans) = extremes(values.iter().copied());
        state.nans += nans;
        let float = |(v, p): (f64, usize)| (Number::Float(v), p);
        Self::keep_extremes(state, block, min.map(float), max.map(float));
    }

    fn keep_extremes(
        state: &mut StatsState,
        block: &Block<'_>,
        min: Option<(Number, usize)>,
        max: Option<(Number, usize)>,
    ) {
        if let Some((value, position)) = min {
            let flat = block.flat_index(position);
            state.min = better(state.min, Extreme { value, flat }, true);
        }
        if let Some((value, position)) = max {
            let flat = block.flat_index(position);
            state.max = better(state.max, Extreme { value, flat }, false);
        }
    }

    fn fold_f32(state: &mut StatsState, block: &Block<'_>, values: &[f32]) {
        let Sums::Float { sum, squares } = &mut state.sums else {
            return;
        };
        sum.add_f32s(values, Some(squares));
        let (min, max, nans) = extremes_f32(values);
        state.nans += nans;
        let float = |(v, p): (f32, usize)| (Number::Float(f64::from(v)), p);
        Self::keep_extremes(state, block, min.map(float), max.map(float));
    }

    fn fold_ints(
        state: &mut StatsState,
        block: &Block<'_>,
        values: impl Iterator<Item = i128> + Clone,
    ) {
        let Sums::Int { sum, squares } = &mut state.sums else {
            return;
        };
        for x in values.clone() {
            *sum += x;
            add_wide(squares, x.unsigned_abs() * x.unsigned_abs());
        }
        let (min, max, _) = extremes(values);
        let int = |(v, p): (i128, usize)| (Number::Int(v), p);
        Self::keep_extremes(state, block, min.map(int), max.map(int));
    }

    /// The figures of a final state of a dataset of `layout`.
    ///
    /// # Errors
    /// [`Error::Unsupported`] when an integer sum could have overflowed 128 bits (2^63
    /// elements or more).
    pub fn summary(state: &StatsState, layout: &Layout) -> Result<Summary> {
        let n = state.count;
        let (sum, mean, variance) = match &state.sums {
            Sums::None => (Number::Float(0.0), f64::NAN, f64::NAN),
            Sums::Int { sum, squares } => {
                if n >= 1 << 63 {
                    return Err(Error::Unsupported(format!(
                        "{n} integers: their sum could overflow 128 bits"
                    )));
                }
                let count = BigInt::from(n);
                let s1 = BigInt::from(*sum);
                let s2 = wide_to_big(*squares);
                let mean = round(&BigRational::new(s1.clone(), count.clone()));
                let variance = round(&BigRational::new(&count * s2 - &s1 * &s1, &count * &count));
                (Number::Int(*sum), mean, variance)
            }
            Sums::Float { sum, squares } => {
                let total = sum.value();
                let (mean, variance) = match (sum.exact(), squares.exact()) {
                    (Some(s1), Some(s2)) => {
                        let count = BigRational::from_integer(BigInt::from(n));
                        let mean = round(&(&s1 / &count));
                        let variance = round(&((&count * s2 - &s1 * &s1) / (&count * &count)));
                        (mean, variance)
                    }
                    // A NaN or an infinity: numpy's float arithmetic.
                    _ => (total / n as f64, f64::NAN),
                };
                (Number::Float(total), mean, variance)
            }
        };
        let (mean, variance) = if n == 0 {
            (f64::NAN, f64::NAN)
        } else {
            (mean, variance)
        };
        Ok(Summary {
            count: n,
            nan_count: state.nans,
            sum,
            mean,
            variance,
            std: variance.sqrt(),
            min: state.min.map(|e| e.value),
            max: state.max.map(|e| e.value),
            argmin: state.min.map(|e| layout.element_index(e.flat)),
            argmax: state.max.map(|e| layout.element_index(e.flat)),
        })
    }
}

impl Reduction for Stats {
    type State = StatsState;

    fn init(&self) -> StatsState {
        StatsState {
            count: 0,
            nans: 0,
            sums: Sums::None,
            min: None,
            max: None,
        }
    }

    fn fold(&self, state: &mut StatsState, block: &Block<'_>) -> Result<()> {
        if matches!(state.sums, Sums::None) {
            state.sums = match block.values.dtype() {
                DType::F32 | DType::F64 => Sums::Float {
                    sum: ExactSum::new(),
                    squares: ExactSum::new(),
                },
                _ => Sums::Int {
                    sum: 0,
                    squares: (0, 0),
                },
            };
        }
        state.count += block.values.len() as u64;
        match block.values {
            ChunkData::F32(v) => Self::fold_f32(state, block, v),
            ChunkData::F64(v) => Self::fold_f64(state, block, v),
            ChunkData::U8(v) => Self::fold_ints(state, block, v.iter().map(|&x| i128::from(x))),
            ChunkData::U16(v) => Self::fold_ints(state, block, v.iter().map(|&x| i128::from(x))),
            ChunkData::U32(v) => Self::fold_ints(state, block, v.iter().map(|&x| i128::from(x))),
            ChunkData::U64(v) => Self::fold_ints(state, block, v.iter().map(|&x| i128::from(x))),
            ChunkData::I8(v) => Self::fold_ints(state, block, v.iter().map(|&x| i128::from(x))),
            ChunkData::I16(v) => Self::fold_ints(state, block, v.iter().map(|&x| i128::from(x))),
            ChunkData::I32(v) => Self::fold_ints(state, block, v.iter().map(|&x| i128::from(x))),
            ChunkData::I64(v) => Self::fold_ints(state, block, v.iter().map(|&x| i128::from(x))),
        }
        Ok(())
    }

    fn merge(&self, into: &mut StatsState, other: StatsState) {
        into.count += other.count;
        into.nans += other.nans;
        match (&mut into.sums, other.sums) {
            (_, Sums::None) => {}
            (Sums::None, sums) => into.sums = sums,
            (Sums::Float { sum, squares }, Sums::Float { sum: s, squares: q }) => {
                sum.merge(&s);
                squares.merge(&q);
            }
            (Sums::Int { sum, squares }, Sums::Int { sum: s, squares: q }) => {
                *sum += s;
                let (low, carry) = squares.0.overflowing_add(q.0);
                squares.0 = low;
                squares.1 += q.1 + u128::from(carry);
            }
            // One dataset has one dtype: states of two kinds are never merged.
            _ => {}
        }
        if let Some(e) = other.min {
            into.min = better(into.min, e, true);
        }
        if let Some(e) = other.max {
            into.max = better(into.max, e, false);
        }
    }
}

/// A histogram of `bins` equal bins over `range`, as `numpy.histogram`.
#[derive(Debug, Clone)]
pub struct Histogram {
    bins: usize,
    range: (f64, f64),
}

impl Histogram {
    /// `bins` bins over `range` (a range of one value is widened by 0.5 on both sides, as
    /// numpy does).
    ///
    /// # Errors
    /// [`Error::InvalidSetting`] for no bins, a range that is not finite or whose low end is
    /// above its high end.
    pub fn new(bins: usize, range: (f64, f64)) -> Result<Histogram> {
        let bad = |value: String, expected: &str| Error::InvalidSetting {
            name: "histogram".into(),
            value,
            expected: expected.into(),
        };
        if bins == 0 {
            return Err(bad("0 bins".into(), "expected at least 1 bin"));
        }
        let (lo, hi) = range;
        if !(lo.is_finite() && hi.is_finite()) || lo > hi {
            return Err(bad(
                format!("range {lo},{hi}"),
                "expected finite LO,HI with LO ≤ HI",
            ));
        }
        let range = if lo == hi {
            (lo - 0.5, hi + 0.5)
        } else {
            range
        };
        Ok(Histogram { bins, range })
    }

    /// The bin edges, `bins + 1` of them, as numpy's `linspace` makes them (in `f64`; for
    /// `float32` data numpy rounds them to `float32`, see [`Histogram::edges_for`]).
    pub fn edges(&self) -> Vec<f64> {
        let (lo, hi) = self.range;
        let step = (hi - lo) / self.bins as f64;
        let mut edges: Vec<f64> = (0..=self.bins).map(|i| i as f64 * step + lo).collect();
        edges[self.bins] = hi;
        edges
    }

    /// The bin edges in the dtype numpy uses for data of `dtype`.
    pub fn edges_for(&self, dtype: DType) -> Vec<f64> {
        let edges = self.edges();
        match dtype {
            DType::F32 => edges.iter().map(|&e| f64::from(e as f32)).collect(),
            _ => edges,
        }
    }

    /// The bin of `x` (numpy's rule), computed in `F`.
    fn bin<F: BinFloat>(&self, x: F, edges: &[F], first: F, last: F, denom: F) -> Option<usize> {
        if !(x >= first && x <= last) {
            return None;
        }
        let n = self.bins;
        let mut i = F::to_index(((x - first) / denom) * F::from_usize(n));
        if i >= n {
            i = n - 1;
        }
        if x < edges[i] {
            i = i.saturating_sub(1);
        }
        if i != n - 1 && x >= edges[i + 1] {
            i += 1;
        }
        Some(i)
    }

    fn count<F: BinFloat>(&self, counts: &mut [u64], values: impl Iterator<Item = F>) {
        let edges: Vec<F> = self.edges().iter().map(|&e| F::from_f64(e)).collect();
        let (first, last) = (F::from_f64(self.range.0), F::from_f64(self.range.1));
        let denom = F::from_f64(self.range.1 - self.range.0);
        for x in values {
            if let Some(i) = self.bin(x, &edges, first, last, denom) {
                counts[i] += 1;
            }
        }
    }
}

/// The float types numpy bins in.
trait BinFloat:
    Copy
    + PartialOrd
    + std::ops::Sub<Output = Self>
    + std::ops::Div<Output = Self>
    + std::ops::Mul<Output = Self>
{
    fn from_f64(x: f64) -> Self;
    fn from_usize(n: usize) -> Self;
    /// Truncated toward zero, as numpy's `astype(intp)`.
    fn to_index(self) -> usize;
}

impl BinFloat for f32 {
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    fn from_usize(n: usize) -> Self {
        n as f32
    }
    fn to_index(self) -> usize {
        self as usize
    }
}

impl BinFloat for f64 {
    fn from_f64(x: f64) -> Self {
        x
    }
    fn from_usize(n: usize) -> Self {
        n as f64
    }
    fn to_index(self) -> usize {
        self as usize
    }
}

impl Reduction for Histogram {
    type State = Vec<u64>;

    fn init(&self) -> Vec<u64> {
        vec![0; self.bins]
    }

    fn fold(&self, counts: &mut Vec<u64>, block: &Block<'_>) -> Result<()> {
        match block.values {
            ChunkData::F32(v) => self.count(counts, v.iter().copied()),
            ChunkData::F64(v) => self.count(counts, v.iter().copied()),
            ChunkData::U8(v) => self.count(counts, v.iter().map(|&x| f64::from(x))),
            ChunkData::U16(v) => self.count(counts, v.iter().map(|&x| f64::from(x))),
            ChunkData::U32(v) => self.count(counts, v.iter().map(|&x| f64::from(x))),
            ChunkData::U64(v) => self.count(counts, v.iter().map(|&x| x as f64)),
            ChunkData::I8(v) => self.count(counts, v.iter().map(|&x| f64::from(x))),
            ChunkData::I16(v) => self.count(counts, v.iter().map(|&x| f64::from(x))),
            ChunkData::I32(v) => self.count(counts, v.iter().map(|&x| f64::from(x))),
            ChunkData::I64(v) => self.count(counts, v.iter().map(|&x| x as f64)),
        }
        Ok(())
    }

    fn merge(&self, into: &mut Vec<u64>, other: Vec<u64>) {
        for (a, b) in into.iter_mut().zip(other) {
            *a += b;
        }
    }
}
