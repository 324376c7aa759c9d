//! The chunk grid: shape + chunk shape → grid, chunk indices, chunk bounds, and the split of a
//! region into per-chunk parts.
//!
//! All index arithmetic of chunkwise lives here, so there is exactly one definition of which
//! elements a chunk holds. Chunks are numbered in C order (last axis fastest). Chunk `i` on an
//! axis of length `n` with chunk length `c` covers `[i*c, min((i+1)*c, n))`; edge chunks are stored
//! padded to the full chunk shape, but nothing here or above ever exposes the padding.

use std::ops::Range;

use crate::boundary::Boundary;
use crate::error::{fmt_tuple, Error, Result};
use crate::region::{AxisSlice, Region};

/// Shape, chunk shape and the chunk grid they imply.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Layout {
    shape: Vec<usize>,
    chunk_shape: Vec<usize>,
    grid: Vec<usize>,
}

/// The part of one chunk that a region touches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkPart {
    /// N-d index of the chunk in the grid.
    pub chunk: Vec<usize>,
    /// The touched elements, in coordinates relative to the chunk's first element.
    pub in_chunk: Region,
    /// Where these elements go in an array of the region's shape (step 1).
    pub in_output: Region,
}

impl Layout {
    /// A layout of `shape` split into chunks of `chunk_shape`.
    ///
    /// # Errors
    /// [`Error::InvalidLayout`] when the two have different lengths, when any is empty or zero,
    /// or when a chunk is longer than its axis.
    pub fn new(shape: &[usize], chunk_shape: &[usize]) -> Result<Self> {
        if shape.is_empty() {
            return Err(Error::InvalidLayout(
                "shape () has no axes; expected at least one axis".into(),
            ));
        }
        if chunk_shape.len() != shape.len() {
            return Err(Error::InvalidLayout(format!(
                "chunk shape {} has {} axes but shape {} has {}; expected one chunk length per axis",
                fmt_tuple(chunk_shape),
                chunk_shape.len(),
                fmt_tuple(shape),
                shape.len()
            )));
        }
        for (axis, (&n, &c)) in shape.iter().zip(chunk_shape).enumerate() {
            if n == 0 {
                return Err(Error::InvalidLayout(format!(
                    "shape {} has length 0 on axis {axis}; expected at least 1",
                    fmt_tuple(shape)
                )));
            }
            if c == 0 || c > n {
                return Err(Error::InvalidLayout(format!(
                    "chunk shape {} has length {c} on axis {axis}; expected 1 to {n} (the shape {})",
                    fmt_tuple(chunk_shape),
                    fmt_tuple(shape)
                )));
            }
        }
        // Every count and byte offset of the dataset must fit in 64 bits, for the widest
        // element type (8 bytes): checked here once, so index math elsewhere cannot overflow.
        let limit = (isize::MAX as usize) / 8;
        let elements = shape.iter().try_fold(1usize, |acc, &n| acc.checked_mul(n));
        if elements.is_none_or(|count| count > limit) {
            return Err(Error::InvalidLayout(format!(
                "shape {} holds more elements than 64-bit byte offsets can address; expected at most {limit} elements in all",
                fmt_tuple(shape)
            )));
        }
        let grid: Vec<usize> = shape
            .iter()
            .zip(chunk_shape)
            .map(|(&n, &c)| n.div_ceil(c))
            .collect();
        Ok(Layout {
            shape: shape.to_vec(),
            chunk_shape: chunk_shape.to_vec(),
            grid,
        })
    }

    /// One chunk covering the whole shape.
    ///
    /// # Errors
    /// As [`Layout::new`].
    pub fn single_chunk(shape: &[usize]) -> Result<Self> {
        Layout::new(shape, shape)
    }

    /// A chunk shape of about `target_bytes` (elements of `element_bytes`) shaped like the
    /// array: every axis scaled by the same factor, none longer than the array nor shorter
    /// than 1. An array smaller than the target is one chunk.
    pub fn suggest_chunk_shape(
        shape: &[usize],
        element_bytes: usize,
        target_bytes: usize,
    ) -> Vec<usize> {
        let elements: f64 = shape.iter().map(|&n| n.max(1) as f64).product();
        let target = (target_bytes / element_bytes.max(1)).max(1) as f64;
        if elements <= target || shape.is_empty() {
            return shape.iter().map(|&n| n.max(1)).collect();
        }
        // Axes shorter than the common scale need take whole; the others share the rest.
        let mut chunk: Vec<Option<usize>> = vec![None; shape.len()];
        loop {
            let fixed: f64 = chunk.iter().flatten().map(|&n| n as f64).product();
            let free: Vec<usize> = (0..shape.len()).filter(|&i| chunk[i].is_none()).collect();
            if free.is_empty() {
                break;
            }
            let free_elements: f64 = free.iter().map(|&i| shape[i].max(1) as f64).product();
            let factor = ((target / fixed) / free_elements).powf(1.0 / free.len() as f64);
            let mut settled = false;
            for &i in &free {
                let n = shape[i].max(1);
                if (n as f64 * factor).round() >= n as f64 {
                    chunk[i] = Some(n);
                    settled = true;
                }
            }
            if !settled {
                for &i in &free {
                    let n = shape[i].max(1);
                    chunk[i] = Some(((n as f64 * factor).round() as usize).clamp(1, n));
                }
            }
        }
        chunk.into_iter().map(|c| c.unwrap_or(1)).collect()
    }

    /// The dataset shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The (full, stored) chunk shape.
    pub fn chunk_shape(&self) -> &[usize] {
        &self.chunk_shape
    }

    /// Number of chunks per axis: `ceil(shape / chunk_shape)`.
    pub fn grid(&self) -> &[usize] {
        &self.grid
    }

    /// Number of axes.
    pub fn ndim(&self) -> usize {
        self.shape.len()
    }

    /// Number of elements in the dataset.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Always false: layouts have no zero-length axis.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Total number of chunks.
    pub fn num_chunks(&self) -> usize {
        self.grid.iter().product()
    }

    /// Number of elements of a full (stored) chunk.
    pub fn chunk_len(&self) -> usize {
        self.chunk_shape.iter().product()
    }

    /// Checks that `chunk` is an index inside the grid.
    ///
    /// # Errors
    /// [`Error::ChunkOutOfRange`] naming the index and the grid.
    pub fn check_chunk(&self, chunk: &[usize]) -> Result<()> {
        if chunk.len() != self.grid.len() || chunk.iter().zip(&self.grid).any(|(&i, &g)| i >= g) {
            return Err(Error::ChunkOutOfRange {
                index: fmt_tuple(chunk),
                grid: fmt_tuple(&self.grid),
            });
        }
        Ok(())
    }

    /// The C-order flat number of an N-d chunk index (which must be in the grid).
    pub fn chunk_flat(&self, chunk: &[usize]) -> usize {
        chunk
            .iter()
            .zip(&self.grid)
            .fold(0, |acc, (&i, &g)| acc * g + i)
    }

    /// The N-d chunk index of a C-order flat number (which must be below `num_chunks`).
    pub fn chunk_index(&self, mut flat: usize) -> Vec<usize> {
        let mut index = vec![0; self.grid.len()];
        for (slot, &g) in index.iter_mut().zip(&self.grid).rev() {
            *slot = flat % g;
            flat /= g;
        }
        index
    }

    /// The C-order flat number of the element at `index` in the dataset.
    pub fn element_flat(&self, index: &[usize]) -> u64 {
        index
            .iter()
            .zip(&self.shape)
            .fold(0, |acc, (&i, &n)| acc * n as u64 + i as u64)
    }

    /// The N-d index of the element with C-order flat number `flat` (below `len`).
    pub fn element_index(&self, mut flat: u64) -> Vec<usize> {
        let mut index = vec![0; self.shape.len()];
        for (slot, &n) in index.iter_mut().zip(&self.shape).rev() {
            let n = n.max(1) as u64;
            *slot = (flat % n) as usize;
            flat /= n;
        }
        index
    }

    /// The dataset index of element `position` (C order) of `region`.
    pub fn element_of_region(region: &Region, mut position: usize) -> Vec<usize> {
        let mut index = vec![0; region.ndim()];
        for (slot, axis) in index.iter_mut().zip(region.axes()).rev() {
            let count = axis.count.max(1);
            *slot = axis.start + (position % count) * axis.step;
            position /= count;
        }
        index
    }

    /// The elements of `part` in dataset coordinates.
    pub fn part_in_dataset(&self, part: &ChunkPart) -> Region {
        let start = self.chunk_bounds(&part.chunk).start();
        Region::new(
            part.in_chunk
                .axes()
                .iter()
                .zip(start)
                .map(|(axis, offset)| AxisSlice {
                    start: axis.start + offset,
                    ..*axis
                })
                .collect(),
        )
    }

    /// Where element `i` of axis `axis` lies: the chunk's coordinate along that axis and the
    /// element's offset within the chunk.
    pub fn locate(&self, axis: usize, i: usize) -> (usize, usize) {
        let c = self.chunk_shape[axis];
        (i / c, i % c)
    }

    /// The C-order position of the element at `offset` (one per axis) among a stored chunk's
    /// elements.
    pub fn offset_in_chunk(&self, offset: &[usize]) -> usize {
        offset
            .iter()
            .zip(&self.chunk_shape)
            .fold(0, |acc, (&o, &c)| acc * c + o)
    }

    /// Every chunk index in C order.
    pub fn chunk_indices(&self) -> impl Iterator<Item = Vec<usize>> + '_ {
        (0..self.num_chunks()).map(|flat| self.chunk_index(flat))
    }

    /// The elements chunk `chunk` holds, in dataset coordinates (edge chunks end at the shape).
    pub fn chunk_bounds(&self, chunk: &[usize]) -> Region {
        Region::new(
            chunk
                .iter()
                .zip(&self.chunk_shape)
                .zip(&self.shape)
                .map(|((&i, &c), &n)| AxisSlice::range(i * c, ((i + 1) * c).min(n)))
                .collect(),
        )
    }

    /// The valid (unpadded) shape of chunk `chunk`.
    pub fn chunk_valid_shape(&self, chunk: &[usize]) -> Vec<usize> {
        self.chunk_bounds(chunk).shape()
    }

    /// True when the chunk is cut short by the shape on some axis (stored with padding).
    pub fn is_edge_chunk(&self, chunk: &[usize]) -> bool {
        self.chunk_valid_shape(chunk) != self.chunk_shape
    }

    /// Splits the indices `first` selects along axis 0 into slabs of whole chunk rows, each of
    /// about `rows` indices (more when one chunk row holds more), as (first index, count) in
    /// the selection's numbering. Reading slab by slab reads every chunk once.
    pub fn chunk_row_slabs(&self, first: AxisSlice, rows: usize) -> Vec<(usize, usize)> {
        let Some(&chunk) = self.chunk_shape.first() else {
            return vec![(0, first.count)];
        };
        let mut slabs: Vec<(usize, usize)> = Vec::new();
        for (_, _, out) in axis_parts(&first, chunk) {
            match slabs.last_mut() {
                Some((_, count)) if *count + out.count <= rows.max(1) => *count += out.count,
                _ => slabs.push((out.start, out.count)),
            }
        }
        slabs
    }

    /// Splits `region` (which must fit the shape) into the parts of each chunk it touches, in C
    /// order of the chunks. Work is proportional to the number of chunks touched, not elements.
    pub fn chunk_parts(&self, region: &Region) -> Vec<ChunkPart> {
        // Per axis: (chunk index, in-chunk slice, output slice) of every chunk touched.
        let per_axis: Vec<Vec<(usize, AxisSlice, AxisSlice)>> = region
            .axes()
            .iter()
            .zip(&self.chunk_shape)
            .map(|(sel, &c)| axis_parts(sel, c))
            .collect();
        if per_axis.iter().any(Vec::is_empty) {
            return Vec::new();
        }
        let mut parts = Vec::with_capacity(per_axis.iter().map(Vec::len).product());
        let mut cursor = vec![0usize; per_axis.len()];
        loop {
            let pick: Vec<&(usize, AxisSlice, AxisSlice)> = cursor
                .iter()
                .zip(&per_axis)
                .map(|(&k, axis)| &axis[k])
                .collect();
            parts.push(ChunkPart {
                chunk: pick.iter().map(|p| p.0).collect(),
                in_chunk: Region::new(pick.iter().map(|p| p.1).collect()),
                in_output: Region::new(pick.iter().map(|p| p.2).collect()),
            });
            // Advance the odometer, last axis fastest.
            let mut axis = per_axis.len();
            loop {
                if axis == 0 {
                    return parts;
                }
                axis -= 1;
                cursor[axis] += 1;
                if cursor[axis] < per_axis[axis].len() {
                    break;
                }
                cursor[axis] = 0;
            }
        }
    }

    /// For chunk `chunk` grown by `depth[axis]` elements on both sides of every axis: per axis,
    /// the index in `0..n` whose value stands at each position of the grown chunk, as
    /// `boundary` extends the array (`None`: the boundary's constant).
    pub fn halo_sources(
        &self,
        chunk: &[usize],
        depth: &[usize],
        boundary: Boundary,
    ) -> Vec<Vec<Option<usize>>> {
        self.halo_sources_of(&self.chunk_bounds(chunk), depth, boundary)
    }

    /// [`Layout::halo_sources`] for any region of consecutive indices (e.g. some planes of a
    /// chunk, [`Layout::split_planes`]) grown by `depth`.
    pub fn halo_sources_of(
        &self,
        bounds: &Region,
        depth: &[usize],
        boundary: Boundary,
    ) -> Vec<Vec<Option<usize>>> {
        bounds
            .axes()
            .iter()
            .zip(depth)
            .zip(&self.shape)
            .map(|((axis, &d), &n)| {
                let lo = axis.start as isize - d as isize;
                let hi = axis.end() as isize + d as isize;
                (lo..hi).map(|i| boundary.source(i, n)).collect()
            })
            .collect()
    }

    /// Splits the valid planes of chunk `chunk` (its indices along axis 0, from 0) into at most
    /// `pieces` consecutive runs of near-equal length, in order; one run when `pieces` ≤ 1.
    pub fn split_planes(&self, chunk: &[usize], pieces: usize) -> Vec<Range<usize>> {
        let planes = self.chunk_valid_shape(chunk).first().copied().unwrap_or(1);
        let pieces = pieces.clamp(1, planes.max(1));
        (0..pieces)
            .map(|k| k * planes / pieces..(k + 1) * planes / pieces)
            .collect()
    }

    /// The C-order position, among a stored chunk's elements, of the first element of its
    /// plane `plane` (index along axis 0).
    pub fn plane_offset(&self, plane: usize) -> usize {
        plane * self.chunk_shape.iter().skip(1).product::<usize>()
    }

    /// The stored planes a write of valid planes `planes` of chunk `chunk` covers: the same,
    /// and for the run that ends the chunk's valid part also its padding planes.
    pub fn stored_planes(&self, chunk: &[usize], planes: &Range<usize>) -> Range<usize> {
        let valid = self.chunk_valid_shape(chunk).first().copied().unwrap_or(1);
        let stored = self.chunk_shape.first().copied().unwrap_or(1);
        let end = if planes.end == valid {
            stored
        } else {
            planes.end
        };
        planes.start..end
    }

    /// The chunks a region touches, without the per-chunk detail.
    pub fn chunks_touched(&self, region: &Region) -> usize {
        region
            .axes()
            .iter()
            .zip(&self.chunk_shape)
            .map(|(sel, &c)| axis_parts(sel, c).len())
            .product()
    }
}

/// The chunks of length `c` that the indices of `sel` fall in, each with the in-chunk slice and
/// the slice of the output (positions `0..sel.count`) it fills.
fn axis_parts(sel: &AxisSlice, c: usize) -> Vec<(usize, AxisSlice, AxisSlice)> {
    let Some(last) = sel.last() else {
        return Vec::new();
    };
    let mut parts = Vec::new();
    for chunk in sel.start / c..=last / c {
        let lo = chunk * c;
        let hi = lo + c; // exclusive; the selection never goes past the shape
                         // First position j with start + j*step >= lo, and last with start + j*step < hi.
        let first_j = lo.saturating_sub(sel.start).div_ceil(sel.step);
        if sel.start + first_j * sel.step >= hi || first_j >= sel.count {
            continue; // a step longer than the chunk skips it
        }
        let last_j = ((hi - 1 - sel.start) / sel.step).min(sel.count - 1);
        let count = last_j - first_j + 1;
        parts.push((
            chunk,
            AxisSlice {
                start: sel.start + first_j * sel.step - lo,
                step: sel.step,
                count,
            },
            AxisSlice {
                start: first_j,
                step: 1,
                count,
            },
        ));
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_whose_sizes_overflow_are_refused() {
        let huge = 1usize << 40;
        for shape in [
            [huge, huge, 64],
            [usize::MAX, 2, 1],
            [1 << 20, 1 << 20, 1 << 20],
        ] {
            let err = Layout::new(&shape, &[1, 1, 1]).unwrap_err().to_string();
            assert!(err.contains(&fmt_tuple(&shape)), "{err}");
            assert!(err.contains("64-bit"), "{err}");
        }
        // The largest that fits is accepted.
        assert!(Layout::new(&[1 << 20, 1 << 20, 1 << 19], &[64, 64, 64]).is_ok());
    }

    #[test]
    fn locate_and_offset_in_chunk_agree_with_chunk_bounds_and_c_order() {
        let layout = Layout::new(&[10, 7, 9], &[4, 3, 5]).unwrap();
        for axis in 0..3 {
            for i in 0..layout.shape()[axis] {
                let (chunk, offset) = layout.locate(axis, i);
                let mut index = vec![0; 3];
                index[axis] = chunk;
                let bounds = layout.chunk_bounds(&index).axes()[axis];
                assert_eq!(bounds.start + offset, i, "axis {axis} element {i}");
                assert!(offset < bounds.count);
            }
        }
        let positions = ndarray::Array3::from_shape_fn((4, 3, 5), |(a, b, c)| (a, b, c));
        for (flat, &(a, b, c)) in positions.iter().enumerate() {
            assert_eq!(layout.offset_in_chunk(&[a, b, c]), flat);
        }
    }

    #[test]
    fn chunk_row_slabs_group_whole_chunk_rows() {
        let layout = Layout::new(&[100, 10], &[32, 10]).unwrap();
        // Rows 0..100 in chunks of 32: 32, 32, 32, 4.
        let all = AxisSlice::range(0, 100);
        assert_eq!(
            layout.chunk_row_slabs(all, 1),
            vec![(0, 32), (32, 32), (64, 32), (96, 4)]
        );
        assert_eq!(layout.chunk_row_slabs(all, 64), vec![(0, 64), (64, 36)]);
        assert_eq!(layout.chunk_row_slabs(all, 1000), vec![(0, 100)]);
        // Every third row from 5: indices 5, 8, …, 98 (32 of them); chunk 0 holds 9 of them, chunks 1 and 2 hold 11, chunk 3 one.
        let strided = AxisSlice {
            start: 5,
            step: 3,
            count: 32,
        };
        assert_eq!(
            layout.chunk_row_slabs(strided, 10),
            vec![(0, 9), (9, 11), (20, 11), (31, 1)]
        );
    }

    #[test]
    fn grid_and_edges() {
        let layout = Layout::new(&[100, 100, 100], &[32, 32, 32]).unwrap();
        assert_eq!(layout.grid(), &[4, 4, 4]);
        assert_eq!(layout.num_chunks(), 64);
        assert_eq!(layout.chunk_valid_shape(&[3, 0, 3]), vec![4, 32, 4]);
        assert!(layout.is_edge_chunk(&[0, 3, 0]));
        assert!(!layout.is_edge_chunk(&[2, 2, 2]));
        assert_eq!(
            layout.chunk_bounds(&[1, 2, 3]),
            Region::from_bounds(&[32, 64, 96], &[64, 96, 100])
        );
    }

    #[test]
    fn flat_index_round_trip_is_c_order() {
        let layout = Layout::new(&[5, 7, 9], &[2, 3, 4]).unwrap();
        assert_eq!(layout.grid(), &[3, 3, 3]);
        for (flat, index) in layout.chunk_indices().enumerate() {
            assert_eq!(layout.chunk_flat(&index), flat);
        }
        assert_eq!(layout.chunk_index(1), vec![0, 0, 1]);
        assert_eq!(layout.chunk_index(3), vec![0, 1, 0]);
        assert_eq!(layout.chunk_index(26), vec![2, 2, 2]);
    }

    #[test]
    fn rejects_bad_layouts_with_the_value() {
        let err = Layout::new(&[10, 10], &[4]).unwrap_err().to_string();
        assert!(err.contains("(4,)") && err.contains("(10, 10)"), "{err}");
        let err = Layout::new(&[10, 0], &[4, 1]).unwrap_err().to_string();
        assert!(err.contains("axis 1"), "{err}");
        let err = Layout::new(&[10, 10], &[4, 11]).unwrap_err().to_string();
        assert!(err.contains("11") && err.contains("axis 1"), "{err}");
        assert!(Layout::new(&[], &[]).is_err());
        assert!(Layout::new(&[3], &[0]).is_err());
    }

    #[test]
    fn check_chunk_names_index_and_grid() {
        let layout = Layout::new(&[10, 10], &[4, 4]).unwrap();
        assert!(layout.check_chunk(&[2, 2]).is_ok());
        let err = layout.check_chunk(&[3, 0]).unwrap_err().to_string();
        assert!(err.contains("(3, 0)") && err.contains("(3, 3)"), "{err}");
        assert!(layout.check_chunk(&[0]).is_err());
    }

    #[test]
    fn planes_split_into_near_equal_runs_of_the_valid_part() {
        let layout = Layout::new(&[10, 3], &[8, 3]).unwrap();
        assert_eq!(layout.split_planes(&[0, 0], 3), vec![0..2, 2..5, 5..8]);
        // The edge chunk holds planes 8 and 9 only.
        assert_eq!(layout.split_planes(&[1, 0], 4), vec![0..1, 1..2]);
        assert_eq!(layout.split_planes(&[0, 0], 0), vec![0..8]);
        // Padding planes 2..8 of the edge chunk go with its last run.
        assert_eq!(layout.stored_planes(&[1, 0], &(1..2)), 1..8);
        assert_eq!(layout.stored_planes(&[1, 0], &(0..1)), 0..1);
        assert_eq!(layout.stored_planes(&[0, 0], &(5..8)), 5..8);
        let slab = Region::from_bounds(&[2, 0], &[5, 3]);
        let sources = layout.halo_sources_of(&slab, &[3, 1], Boundary::Reflect);
        // Planes 2..5 grown by 3: -1..8, and -1 reflects to 0.
        let rows: Vec<Option<usize>> = [0, 0, 1, 2, 3, 4, 5, 6, 7].map(Some).to_vec();
        assert_eq!(sources[0], rows);
        assert_eq!(
            sources[1],
            vec![Some(0), Some(0), Some(1), Some(2), Some(2)]
        );
    }

    #[test]
    fn halo_sources_extend_chunks_by_the_boundary() {
        let layout = Layout::new(&[10, 4], &[4, 4]).unwrap();
        let sources = layout.halo_sources(&[2, 0], &[3, 1], Boundary::Reflect);
        // Chunk (2, 0) holds rows 8..10; grown by 3: rows 5..13, reflected past 9.
        let rows: Vec<Option<usize>> = [5, 6, 7, 8, 9, 9, 8, 7].iter().map(|&i| Some(i)).collect();
        assert_eq!(sources[0], rows);
        assert_eq!(
            sources[1],
            vec![Some(0), Some(0), Some(1), Some(2), Some(3), Some(3)]
        );
        let constant = layout.halo_sources(&[0, 0], &[1, 0], Boundary::Constant(0.0));
        assert_eq!(
            constant[0],
            vec![None, Some(0), Some(1), Some(2), Some(3), Some(4)]
        );
    }

    #[test]
    fn strided_parts_skip_chunks_the_step_jumps_over() {
        // Indices 1, 11, 21 with chunks of 4: chunks 0, 2, 5.
        let parts = axis_parts(
            &AxisSlice {
                start: 1,
                step: 10,
                count: 3,
            },
            4,
        );
        let chunks: Vec<usize> = parts.iter().map(|p| p.0).collect();
        assert_eq!(chunks, vec![0, 2, 5]);
        assert_eq!(
            parts[1].1,
            AxisSlice {
                start: 3,
                step: 10,
                count: 1
            }
        );
        assert_eq!(
            parts[2].2,
            AxisSlice {
                start: 2,
                step: 1,
                count: 1
            }
        );
    }

    #[test]
    fn parts_cover_region_exactly_once() {
        let layout = Layout::new(&[13, 7], &[4, 3]).unwrap();
        let region = Region::new(vec![
            AxisSlice {
                start: 1,
                step: 3,
                count: 4,
            },
            AxisSlice {
                start: 0,
                step: 1,
                count: 7,
            },
        ]);
        let parts = layout.chunk_parts(&region);
        assert_eq!(parts.len(), layout.chunks_touched(&region));
        let mut seen = vec![vec![0u32; 7]; 4];
        for part in &parts {
            let origin = layout.chunk_bounds(&part.chunk).start();
            let rows = part.in_chunk.axes()[0];
            let cols = part.in_chunk.axes()[1];
            for r in 0..rows.count {
                for c in 0..cols.count {
                    let global_r = origin[0] + rows.start + r * rows.step;
                    let out_r = part.in_output.axes()[0].start + r;
                    let out_c = part.in_output.axes()[1].start + c;
                    assert_eq!(global_r, 1 + 3 * out_r);
                    assert_eq!(origin[1] + cols.start + c, out_c);
                    seen[out_r][out_c] += 1;
                }
            }
        }
        assert!(seen.iter().flatten().all(|&n| n == 1));
    }

    #[test]
    fn suggested_chunks_are_about_the_target_and_shaped_like_the_array() {
        let mib = 1 << 20;
        assert_eq!(
            Layout::suggest_chunk_shape(&[512, 512, 512], 4, mib),
            vec![64, 64, 64]
        );
        assert_eq!(
            Layout::suggest_chunk_shape(&[100, 100], 4, mib),
            vec![100, 100]
        );
        // A stack of a few large images: chunks of one plane, square in the others.
        let chunk = Layout::suggest_chunk_shape(&[4, 4096, 4096], 4, mib);
        assert!(chunk[0] == 1 && chunk[1] == chunk[2], "{chunk:?}");
        let bytes = chunk.iter().product::<usize>() * 4;
        assert!((mib / 2..=2 * mib).contains(&bytes), "{chunk:?}: {bytes}");
        // An axis the common factor would make longer than the array is taken whole.
        assert_eq!(
            Layout::suggest_chunk_shape(&[2, 350, 350], 8, mib),
            vec![2, 256, 256]
        );
        let chunk = Layout::suggest_chunk_shape(&[2000, 1000, 500], 8, mib);
        let bytes = chunk.iter().product::<usize>() * 8;
        assert!((mib / 2..=2 * mib).contains(&bytes), "{chunk:?}: {bytes}");
        assert!(chunk[0] > chunk[1] && chunk[1] > chunk[2], "{chunk:?}");
        assert_eq!(
            Layout::suggest_chunk_shape(&[10_000_000], 1, mib),
            vec![mib]
        );
    }

    #[test]
    fn element_numbers_round_trip_and_parts_land_in_dataset_coordinates() {
        let layout = Layout::new(&[4, 5, 3], &[2, 2, 2]).unwrap();
        for flat in 0..layout.len() as u64 {
            assert_eq!(layout.element_flat(&layout.element_index(flat)), flat);
        }
        assert_eq!(layout.element_index(59), vec![3, 4, 2]);
        let region = Region::new(vec![
            AxisSlice {
                start: 1,
                step: 2,
                count: 2,
            },
            AxisSlice::range(2, 5),
        ]);
        assert_eq!(Layout::element_of_region(&region, 0), vec![1, 2]);
        assert_eq!(Layout::element_of_region(&region, 4), vec![3, 3]);
        let layout = Layout::new(&[4, 5], &[2, 2]).unwrap();
        let parts = layout.chunk_parts(&region);
        let pieces: Vec<Region> = parts.iter().map(|p| layout.part_in_dataset(p)).collect();
        let covered: usize = pieces.iter().map(Region::len).sum();
        assert_eq!(covered, region.len());
        assert_eq!(pieces[0].start(), vec![1, 2]);
    }
}
