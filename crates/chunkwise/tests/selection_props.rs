//! Property tests: every selection read from (or written to) a chunked dataset equals ndarray
//! slicing of the same in-memory array, for random shapes, chunk shapes and selections.

use std::sync::Arc;

use chunkwise::{Connection, RamStore, Selection, SequentialEngine, SliceItem};
use ndarray::{ArrayD, IxDyn, SliceInfo, SliceInfoElem};
use proptest::prelude::*;

/// A shape, a chunk shape, and per-axis selection items that stay in range.
#[derive(Debug, Clone)]
struct Case {
    shape: Vec<usize>,
    chunks: Vec<usize>,
    items: Vec<SliceItem>,
    ellipsis_prefix: usize,
}

fn axis_item(n: usize) -> impl Strategy<Value = SliceItem> {
    let n = n as isize;
    prop_oneof![
        (0..n, any::<bool>()).prop_map(move |(i, negative)| SliceItem::Index(if negative {
            i - n
        } else {
            i
        })),
        (
            0..=n,
            0..=n,
            1..4isize,
            any::<bool>(),
            any::<bool>(),
            any::<bool>()
        )
            .prop_map(move |(a, b, step, neg_start, neg_stop, omit)| {
                let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
                let start = if neg_start && lo < n { lo - n } else { lo };
                let stop = if neg_stop && hi < n { hi - n } else { hi };
                if omit {
                    SliceItem::slice(None, Some(stop), step)
                } else {
                    SliceItem::slice(Some(start), Some(stop), step)
                }
            }),
        Just(SliceItem::full()),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    proptest::collection::vec(1usize..12, 1..=3)
        .prop_flat_map(|shape| {
            let chunks: Vec<_> = shape.iter().map(|&n| 1..=n).collect();
            let items: Vec<_> = shape.iter().map(|&n| axis_item(n)).collect();
            let ndim = shape.len();
            (Just(shape), chunks, items, 0..=ndim)
        })
        .prop_map(|(shape, chunks, items, ellipsis_prefix)| Case {
            shape,
            chunks,
            items,
            ellipsis_prefix,
        })
}

impl Case {
    /// The chunkwise selection: the first `ellipsis_prefix` axes as `...` when they are all `:`,
    /// trailing `:` items sometimes left out.
    fn selection(&self) -> Selection {
        let prefix_is_full = self.items[..self.ellipsis_prefix]
            .iter()
            .all(|i| *i == SliceItem::full());
        if self.ellipsis_prefix > 0 && prefix_is_full {
            let mut items = vec![SliceItem::Ellipsis];
            items.extend_from_slice(&self.items[self.ellipsis_prefix..]);
            Selection::new(items)
        } else {
            Selection::new(self.items.clone())
        }
    }

    /// The same selection as ndarray slice arguments (the independent reference).
    fn ndarray_info(&self) -> SliceInfo<Vec<SliceInfoElem>, IxDyn, IxDyn> {
        let elems: Vec<SliceInfoElem> = self
            .items
            .iter()
            .map(|item| match *item {
                SliceItem::Index(i) => SliceInfoElem::Index(i),
                SliceItem::Slice { start, stop, step } => SliceInfoElem::Slice {
                    start: start.unwrap_or(0),
                    end: stop,
                    step,
                },
                SliceItem::Ellipsis => unreachable!(),
            })
            .collect();
        SliceInfo::try_from(elems).unwrap()
    }

    fn reference(&self) -> ArrayD<i64> {
        let len: usize = self.shape.iter().product();
        ArrayD::from_shape_vec(IxDyn(&self.shape), (0..len as i64).collect()).unwrap()
    }
}

fn connection() -> Connection {
    Connection::new(Arc::new(RamStore::new()), Arc::new(SequentialEngine)).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn reads_equal_ndarray_slicing(case in case()) {
        let conn = connection();
        let reference = case.reference();
        let ds = conn.create::<i64>("d", &case.shape, &case.chunks, -1).unwrap();
        ds.load(reference.view()).unwrap();
        let expected = reference.slice(&case.ndarray_info()).to_owned();
        let got = ds.read::<i64>(&case.selection()).unwrap();
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn selections_survive_their_text_form(case in case()) {
        let selection = case.selection();
        let reparsed = Selection::parse(&selection.to_string()).unwrap();
        prop_assert_eq!(reparsed, selection);
    }

    #[test]
    fn writes_equal_ndarray_assignment(case in case()) {
        let conn = connection();
        let mut reference = case.reference();
        let ds = conn.create::<i64>("d", &case.shape, &case.chunks, -1).unwrap();
        ds.load(reference.view()).unwrap();
        let info = case.ndarray_info();
        let target_shape = reference.slice(&info).shape().to_vec();
        let len: usize = target_shape.iter().product();
        let values = ArrayD::from_shape_vec(IxDyn(&target_shape), (0..len as i64).map(|v| 1000 + v).collect()).unwrap();
        reference.slice_mut(&info).assign(&values);
        ds.write(&case.selection(), values.view()).unwrap();
        prop_assert_eq!(ds.read_all::<i64>().unwrap(), reference);
    }

    #[test]
    fn scalar_writes_equal_ndarray_fill(case in case()) {
        let conn = connection();
        let mut reference = case.reference();
        let ds = conn.create::<i64>("d", &case.shape, &case.chunks, -1).unwrap();
        ds.load(reference.view()).unwrap();
        reference.slice_mut(&case.ndarray_info()).fill(77);
        ds.write_value(&case.selection(), 77i64).unwrap();
        prop_assert_eq!(ds.read_all::<i64>().unwrap(), reference);
    }
}
