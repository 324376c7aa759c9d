//! Grown blocks for stencils: a chunk (or slab) grown by a halo of `depth` elements per axis,
//! gathered from as many neighbouring chunks as needed (also when chunks are thinner than the
//! halo), with the [`Boundary`] supplying the values outside the array, and the runner of
//! `map_overlap`/`map_stencil` over them. Each worker holds one grown block at a time, so memory
//! stays bounded by the number of workers.

use std::collections::BTreeSet;
use std::mem::MaybeUninit;

use ndarray::{ArrayD, ArrayViewD, ArrayViewMutD, Axis, Dimension, IxDyn, ShapeBuilder};

use crate::chunk_cache::ChunkCache;
use crate::direct_read::plane_stride;
use crate::plan::BlockSizes;
use crate::slab::SlabWrites;

use crate::boundary::Boundary;
use crate::dataset::Dataset;
use crate::dtype::{ChunkData, Element};
use crate::error::{fmt_tuple, CallbackError, Error, Result};
use crate::operations::BlockLayout;
use crate::region::{AxisSlice, Region};

/// Runs of at most this many elements are copied element by element when gathering halos.
const SHORT_RUN: usize = 8;

/// Runs of consecutive indices: `[3, 4, 5, 9, 10]` → `[(3, 3), (9, 2)]` as (start, len).
fn runs(indices: impl IntoIterator<Item = usize>) -> Vec<(usize, usize)> {
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for i in indices {
        match runs.last_mut() {
            Some((start, len)) if *start + *len == i => *len += 1,
            _ => runs.push((i, 1)),
        }
    }
    runs
}

/// `compact[ix_(indices[0], indices[1], …)]` for an array of any number of axes: one row (along
/// the last axis) per combination of the leading axes' indices, each row gathered as the runs of
/// consecutive last-axis indices (the whole inside of a row) copied as slices.
fn gather<T: Element>(compact: &ArrayD<T>, indices: &[Vec<usize>]) -> ArrayD<T> {
    let shape = compact.shape();
    let ndim = shape.len();
    let out_shape: Vec<usize> = indices.iter().map(Vec::len).collect();
    if ndim == 0 || out_shape.contains(&0) {
        return ArrayD::from_elem(IxDyn(&out_shape), T::default());
    }
    let values = compact
        .as_slice()
        .expect("the compact block is built in standard layout");
    let row_len = shape[ndim - 1];
    let last_runs = runs(indices[ndim - 1].iter().copied());
    // Standard layout: a row starts at the strides' dot product with its leading index.
    let strides = compact.strides();
    let mut out = Vec::with_capacity(out_shape.iter().product());
    // The leading axes' positions, last fastest (C order).
    for position in ndarray::indices(&out_shape[..ndim - 1]) {
        let row_start: usize = position
            .slice()
            .iter()
            .enumerate()
            .map(|(axis, &k)| indices[axis][k] * strides[axis] as usize)
            .sum();
        let row = &values[row_start..][..row_len];
        for &(start, len) in &last_runs {
            out.extend_from_slice(&row[start..start + len]);
        }
    }
    ArrayD::from_shape_vec(IxDyn(&out_shape), out).expect("one element per index tuple")
}

impl Dataset {
    /// The elements of `bounds` (consecutive indices, within one chunk) grown by `depth` per
    /// axis, the boundary supplying those outside the array. With `whole_chunks`, the chunks
    /// this rank processes are read whole into `cache` (each is needed whole sooner or later);
    /// without, only the planes needed are read (the chunks are processed in slabs). The
    /// block is laid out as `block_layout` asks when it has 3 axes, in standard layout else.
    pub(crate) fn read_grown<T: Element>(
        &self,
        bounds: &Region,
        depth: &[usize],
        boundary: Boundary,
        cache: Option<&ChunkCache>,
        whole_chunks: bool,
        block_layout: BlockLayout,
    ) -> Result<ArrayD<T>> {
        let sources = self.layout().halo_sources_of(bounds, depth, boundary);
        if !whole_chunks && sources.len() == 3 {
            if let Some(block) = self.read_grown_direct(&sources, boundary, block_layout)? {
                return Ok(block);
            }
        }
        if let (Some(cache), 3) = (cache, sources.len()) {
            return self.gather3_from_chunks(cache, &sources, boundary, whole_chunks, block_layout);
        }

        // The distinct source indices per axis, as runs, and where each lands in a compact block.
        let mut axis_runs = Vec::with_capacity(sources.len());
        let mut compact_position = Vec::with_capacity(sources.len());
        for (axis_sources, &n) in sources.iter().zip(self.shape()) {
            let needed: BTreeSet<usize> = axis_sources.iter().flatten().copied().collect();
            let mut position = vec![usize::MAX; n];
            for (k, &i) in needed.iter().enumerate() {
                position[i] = k;
            }
            axis_runs.push(runs(needed.iter().copied()));
            compact_position.push(position);
        }

        // Read the compact block: one region read per combination of runs.
        let compact_shape: Vec<usize> = axis_runs
            .iter()
            .map(|r| r.iter().map(|&(_, len)| len).sum())
            .collect();
        let mut compact = ArrayD::from_elem(IxDyn(&compact_shape), self.fill::<T>());
        // One region read per combination of runs (none when an axis has none), last axis fastest.
        let run_counts: Vec<usize> = axis_runs.iter().map(Vec::len).collect();
        for cursor in ndarray::indices(&run_counts[..]) {
            let mut source = Vec::with_capacity(axis_runs.len());
            let mut target = Vec::with_capacity(axis_runs.len());
            for (axis, &k) in cursor.slice().iter().enumerate() {
                let (start, len) = axis_runs[axis][k];
                source.push(AxisSlice::range(start, start + len));
                let at = compact_position[axis][start];
                target.push(AxisSlice::range(at, at + len));
            }
            let source = Region::new(source);
            let target = Region::new(target);
            match cache {
                None => target
                    .view_mut_of(&mut compact)
                    .assign(&self.read_region::<T>(&source)?),
                Some(cache) => {
                    self.copy_cached(cache, &source, target.view_mut_of(&mut compact))?
                }
            }
        }

        // Gather the grown block from the compact one where it is not 1:1.
        let indices: Vec<Vec<usize>> = sources
            .iter()
            .enumerate()
            .map(|(axis, axis_sources)| {
                axis_sources
                    .iter()
                    .map(|s| s.map_or(0, |i| compact_position[axis][i]))
                    .collect()
            })
            .collect();
        let identity = |axis: usize| {
            sources[axis].iter().all(Option::is_some)
                && indices[axis].len() == compact_shape[axis]
                && indices[axis].iter().enumerate().all(|(k, &i)| k == i)
        };
        let mut padded = if (0..indices.len()).all(identity) {
            compact
        } else {
            gather(&compact, &indices)
        };
        if let Boundary::Constant(cval) = boundary {
            let value = T::from_f64(cval);
            for (axis, axis_sources) in sources.iter().enumerate() {
                for (position, source) in axis_sources.iter().enumerate() {
                    if source.is_none() {
                        padded.index_axis_mut(Axis(axis), position).fill(value);
                    }
                }
            }
        }
        Ok(padded)
    }

    /// The grown block of a 3-D chunk, copied straight out of the whole chunks in `cache`: one
    /// slice copy per run of consecutive `x` sources within one chunk, nothing else. (The
    /// general path first assembles a compact block of the distinct sources, then gathers the
    /// grown block from it: two copies and a fill, which made the reading thread the slowest
    /// stage of a 3-D `map_overlap` with chunks of 64³ and more.)
    fn gather3_from_chunks<T: Element>(
        &self,
        cache: &ChunkCache,
        sources: &[Vec<Option<usize>>],
        boundary: Boundary,
        whole_chunks: bool,
        block_layout: BlockLayout,
    ) -> Result<ArrayD<T>> {
        let layout = self.layout();
        // Per axis: the chunk coordinates used (slots) and, per grown position, its slot and
        // offset in that chunk (`None`: the boundary's constant).
        let mut slots: Vec<Vec<usize>> = Vec::with_capacity(3);
        let mut places: Vec<Vec<Option<(usize, usize)>>> = Vec::with_capacity(3);
        for (axis, axis_sources) in sources.iter().enumerate() {
            let mut axis_slots: Vec<usize> = Vec::new();
            let axis_places = axis_sources
                .iter()
                .map(|source| {
                    source.map(|i| {
                        let (chunk, offset) = layout.locate(axis, i);
                        let slot = match axis_slots.iter().position(|&s| s == chunk) {
                            Some(slot) => slot,
                            None => {
                                axis_slots.push(chunk);
                                axis_slots.len() - 1
                            }
                        };
                        (slot, offset)
                    })
                })
                .collect();
            slots.push(axis_slots);
            places.push(axis_places);
        }
        let (n1, n2) = (slots[1].len(), slots[2].len());
        let chunk_shape = layout.chunk_shape();
        // Per chunk coordinate along axis 0: the planes of it the block needs.
        let planes: Vec<(usize, usize)> = (0..slots[0].len())
            .map(|slot| {
                places[0]
                    .iter()
                    .flatten()
                    .filter(|&&(s, _)| s == slot)
                    .fold((usize::MAX, 0), |(lo, hi), &(_, o)| {
                        (lo.min(o), hi.max(o + 1))
                    })
            })
            .collect();
        // Each chunk with the element its values start at: chunks this rank processes are read
        // whole (unless processed in slabs); of the others only the planes needed (one run of
        // the file).
        let mut held = Vec::with_capacity(slots[0].len() * n1 * n2);
        for (&a, &(lo, hi)) in slots[0].iter().zip(&planes) {
            for &b in &slots[1] {
                for &c in &slots[2] {
                    let index = [a, b, c];
                    if (whole_chunks && cache.reads_whole(layout.chunk_flat(&index)))
                        || hi - lo == chunk_shape[0]
                    {
                        let stored = cache.get(&index, || self.read_stored(&index))?;
                        held.push((stored, 0, layout.chunk_len()));
                    } else {
                        let region = Region::new(vec![
                            AxisSlice::range(lo, hi),
                            AxisSlice::range(0, chunk_shape[1]),
                            AxisSlice::range(0, chunk_shape[2]),
                        ]);
                        let key = [a, b, c, lo, hi];
                        let stored =
                            cache.get(&key, || self.read_stored_region(&index, &region))?;
                        held.push((stored, layout.offset_in_chunk(&[lo, 0, 0]), region.len()));
                    }
                }
            }
        }
        let chunks = held
            .iter()
            .map(|(stored, first, len)| {
                let values = self.stored_values::<T>(stored.as_deref(), *len)?;
                Ok(values.map(|values| (values, *first)))
            })
            .collect::<Result<Vec<Option<(&[T], usize)>>>>()?;

        // Runs of x positions reading consecutive elements of one chunk (or the constant).
        let mut x_runs: Vec<(Option<(usize, usize)>, usize)> = Vec::new();
        for &place in &places[2] {
            match (x_runs.last_mut(), place) {
                (Some((Some((slot, start)), len)), Some((s, offset)))
                    if *slot == s && *start + *len == offset =>
                {
                    *len += 1
                }
                (Some((None, len)), None) => *len += 1,
                _ => x_runs.push((place, 1)),
            }
        }
        let fill = self.fill::<T>();
        let constant = match boundary {
            Boundary::Constant(value) => T::from_f64(value),
            _ => fill,
        };
        let grown = [places[0].len(), places[1].len(), places[2].len()];
        let plane = grown[1] * grown[2];
        let stride = plane_stride(block_layout, plane, std::mem::size_of::<T>());
        let total = grown[0] * stride;
        let mut out: Vec<T> = Vec::with_capacity(total);
        let mut block_planes = out.spare_capacity_mut()[..total].chunks_exact_mut(stride.max(1));
        for z in &places[0] {
            let Some(block_plane) = block_planes.next() else {
                break;
            };
            let (block_plane, gap) = block_plane.split_at_mut(plane);
            gap.fill(MaybeUninit::new(fill));
            let mut rows = block_plane.chunks_exact_mut(grown[2].max(1));
            for y in &places[1] {
                let Some(row) = rows.next() else { break };
                let (Some((sz, oz)), Some((sy, oy))) = (z, y) else {
                    row.fill(MaybeUninit::new(constant));
                    continue;
                };
                // Elements of a row of a chunk are consecutive (C order).
                let row_start = layout.offset_in_chunk(&[*oz, *oy, 0]);
                let mut at = 0;
                for &(place, len) in &x_runs {
                    let target = &mut row[at..at + len];
                    at += len;
                    match place {
                        Some((sx, ox)) => match chunks[(sz * n1 + sy) * n2 + sx] {
                            Some((values, first)) => {
                                let source = &values[row_start + ox - first..][..len];
                                if len <= SHORT_RUN {
                                    // Halo elements mirrored by the boundary come one per run:
                                    // a call to `memmove` each cost more than the copy.
                                    for (slot, &value) in target.iter_mut().zip(source) {
                                        slot.write(value);
                                    }
                                    continue;
                                }
                                // SAFETY: `source` and `target` are `len` elements each and do
                                // not overlap (the block is new); `MaybeUninit<T>` has `T`'s
                                // layout, and `T: Copy`.
                                unsafe {
                                    std::ptr::copy_nonoverlapping(
                                        source.as_ptr(),
                                        target.as_mut_ptr().cast::<T>(),
                                        len,
                                    );
                                }
                            }
                            None => target.fill(MaybeUninit::new(fill)),
                        },
                        None => target.fill(MaybeUninit::new(constant)),
                    }
                }
            }
        }
        // SAFETY: every row (`grown[1]` per plane, `grown[2]` elements each) was written above
        // — its x runs cover the row exactly, or it was filled whole — and the gap after each
        // plane (`stride - plane` elements) filled: all `total` slots.
        unsafe { out.set_len(total) };
        let shape = IxDyn(&grown).strides(IxDyn(&[stride, grown[2], 1]));
        Ok(ArrayD::from_shape_vec(shape, out).expect("one element per grown position"))
    }

    /// Copies `region` of the dataset into `target`, whole chunks coming from `cache`.
    fn copy_cached<T: Element>(
        &self,
        cache: &ChunkCache,
        region: &Region,
        mut target: ArrayViewMutD<'_, T>,
    ) -> Result<()> {
        let layout = self.layout();
        for part in layout.chunk_parts(region) {
            let stored = cache.get(&part.chunk, || self.read_stored(&part.chunk))?;
            let mut view = part.in_output.view_mut_of(&mut target);
            match self.stored_values::<T>(stored.as_deref(), self.layout().chunk_len())? {
                Some(values) => {
                    let full = ArrayViewD::from_shape(IxDyn(layout.chunk_shape()), values)
                        .expect("stored_values checked the length");
                    crate::array::copy_into(view, part.in_chunk.view_of(&full));
                }
                None => view.fill(self.fill::<T>()),
            }
        }
        Ok(())
    }

    /// The elements of a stored chunk (`None`: never written), checked to be a whole chunk of
    /// `T`.
    ///
    /// # Errors
    /// [`Error::Corrupt`] when the chunk holds another dtype or another number of elements.
    fn stored_values<'a, T: Element>(
        &self,
        stored: Option<&'a ChunkData>,
        volume: usize,
    ) -> Result<Option<&'a [T]>> {
        let Some(data) = stored else {
            return Ok(None);
        };
        match T::chunk_slice(data) {
            Some(values) if values.len() == volume => Ok(Some(values)),
            _ => Err(Error::Corrupt {
                path: self.name().into(),
                problem: format!(
                    "a stored chunk holds {} {} values; expected {volume} {}",
                    data.len(),
                    data.dtype(),
                    T::DTYPE
                ),
            }),
        }
    }

    pub(crate) fn check_depth(&self, depth: &[usize]) -> Result<()> {
        if depth.len() == self.layout().ndim() {
            Ok(())
        } else {
            Err(Error::ShapeMismatch {
                context: format!(
                    "halo depth for dataset \"{}\" (one depth per axis)",
                    self.name()
                ),
                expected: format!("{} values", self.layout().ndim()),
                got: fmt_tuple(depth),
            })
        }
    }

    /// [`Dataset::map_overlap`], over slabs of chunks when `split` (see
    /// [`Dataset::map_stencil`]); `f` gets the chunk, the block's bounds and the grown block.
    pub(crate) fn map_grown<T, F>(
        &self,
        out_name: &str,
        depth: &[usize],
        boundary: Boundary,
        split: bool,
        block_layout: BlockLayout,
        f: F,
    ) -> Result<Dataset>
    where
        T: Element,
        F: Fn(
                &[usize],
                &Region,
                ArrayViewD<'_, T>,
            ) -> std::result::Result<ArrayD<T>, CallbackError>
            + Sync,
    {
        self.check_type::<T>()?;
        self.check_depth(depth)?;
        let out = self.begin_output(out_name)?;
        // Each chunk is read once for all the halos that need it, within the cache's budget.
        let mut cache = ChunkCache::new(
            self.connection.pipeline_options().cache_bytes,
            self.meta().chunk_bytes(),
        );
        let engine = self.connection.engine();
        if engine.size() > 1 {
            // Of the chunks other ranks process, only halos are read.
            let mine = engine.local_items(self.layout().num_chunks());
            cache = cache.reading_whole_only(mine.into_iter().collect());
        }
        let layout = self.layout();
        // A layout hint matters only for planes a stencil along axis 0 reads together.
        let block_layout = match depth.first() {
            Some(&d) if d > 0 => block_layout,
            _ => BlockLayout::Standard,
        };
        // Elements of a plane grown by the halo of the other axes, as far apart as the blocks
        // lay them.
        let grown_plane = plane_stride(
            block_layout,
            layout
                .chunk_shape()
                .iter()
                .zip(depth)
                .skip(1)
                .map(|(&n, &d)| n + 2 * d)
                .product(),
            std::mem::size_of::<T>(),
        );
        let depth0 = depth.first().copied().unwrap_or(0);
        let element = std::mem::size_of::<T>() as u64;
        let plane_bytes = self.plane_bytes();
        // Queued: grown inputs and finished blocks. A worker holds the grown block, the
        // callback's result and scratch of the same size, and the trimmed output block.
        let sizes = |planes: usize| {
            let grown = ((planes + 2 * depth0) * grown_plane) as u64 * element;
            BlockSizes {
                queued: grown,
                worker: 3 * grown + planes as u64 * plane_bytes,
                cached: true,
            }
        };
        let writes = SlabWrites::new(&out);
        let result = self.pipeline_slabs(
            "map_overlap",
            sizes,
            Some(&cache),
            // Slabs of at least 4 halo depths: the halo planes read on both sides of a slab add
            // at most half to its reads.
            split.then_some((4 * depth0).max(1)),
            |slab| {
                let bounds = slab.bounds(layout);
                self.read_grown::<T>(
                    &bounds,
                    depth,
                    boundary,
                    Some(&cache),
                    slab.of <= 1,
                    block_layout,
                )
            },
            |slab, grown| {
                let bounds = slab.bounds(layout);
                let valid_shape = bounds.shape();
                let result =
                    self.call_timed(&slab.chunk, || f(&slab.chunk, &bounds, grown.view()))?;
                let valid = if result.shape() == valid_shape.as_slice() {
                    result
                } else if result.shape() == grown.shape() {
                    let inner: Vec<AxisSlice> = depth
                        .iter()
                        .zip(&valid_shape)
                        .map(|(&d, &n)| AxisSlice::range(d, d + n))
                        .collect();
                    crate::array::owned(Region::new(inner).view_of(&result))
                } else {
                    return Err(Error::ShapeMismatch {
                        context: format!(
                            "the result of the map_overlap callback on chunk {}{}",
                            fmt_tuple(&slab.chunk),
                            if slab.of > 1 {
                                format!(", planes {}..{}", slab.planes.start, slab.planes.end)
                            } else {
                                String::new()
                            }
                        ),
                        expected: format!(
                            "{} (valid) or {} (grown)",
                            fmt_tuple(&valid_shape),
                            fmt_tuple(grown.shape())
                        ),
                        got: fmt_tuple(result.shape()),
                    });
                };
                Ok(out.padded_slab(slab, valid))
            },
            |slab, data| writes.write(slab, &data),
        );
        drop(writes);
        self.keep_output_if_ok(out, result)
    }
}
