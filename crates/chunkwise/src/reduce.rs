//! Reductions: a state per piece of work, folded from the chunks (or a selection of them) and
//! merged across the threads of a rank, then across ranks, the result on every rank.
//!
//! Why: statistics, histograms and checks over a dataset are the same shape of computation,
//! and their parallel form (per-worker states merged) should be written once, over the engine
//! primitives and the read-ahead pipeline, not by hand in every tool. A [`Reduction`] says what
//! a state is and how to fold a block of values into it and merge two states; the states cross
//! ranks serialized by serde, so a reduction never handles bytes itself. The result is the same
//! whatever the engine, ranks, threads and chunk shapes exactly when `merge` is associative and
//! commutative and `fold` of a block equals folding its parts one after another (the built-in
//! [`crate::stats`] reductions are, being exact).

use std::sync::Mutex;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::dataset::Dataset;
use crate::dtype::ChunkData;
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::region::Region;
use crate::selection::Selection;

/// Values of a dataset handed to [`Reduction::fold`]: a box of the dataset (strided when the
/// selection has steps), its elements in C order.
#[derive(Debug)]
pub struct Block<'a> {
    /// The elements, C order over `region`.
    pub values: &'a ChunkData,
    /// Where they are in the dataset.
    pub region: &'a Region,
    /// The dataset's layout.
    pub layout: &'a Layout,
}

impl Block<'_> {
    /// The dataset's flat (C-order) index of the element at `position` of `values`.
    pub fn flat_index(&self, position: usize) -> u64 {
        self.layout
            .element_flat(&Layout::element_of_region(self.region, position))
    }
}

/// A reduction over a dataset: `init` a state, `fold` blocks into it, `merge` two states.
pub trait Reduction: Sync {
    /// What is accumulated; it crosses ranks serialized.
    type State: Send + Serialize + DeserializeOwned;

    /// The state of no values.
    fn init(&self) -> Self::State;

    /// Folds the values of `block` into `state`.
    ///
    /// # Errors
    /// Values the reduction cannot take (e.g. a dtype it refuses).
    fn fold(&self, state: &mut Self::State, block: &Block<'_>) -> Result<()>;

    /// Merges `other` into `into`.
    fn merge(&self, into: &mut Self::State, other: Self::State);
}

/// Two reductions in one pass over the data.
impl<A: Reduction, B: Reduction> Reduction for (A, B) {
    type State = (A::State, B::State);

    fn init(&self) -> Self::State {
        (self.0.init(), self.1.init())
    }

    fn fold(&self, state: &mut Self::State, block: &Block<'_>) -> Result<()> {
        self.0.fold(&mut state.0, block)?;
        self.1.fold(&mut state.1, block)
    }

    fn merge(&self, into: &mut Self::State, other: Self::State) {
        self.0.merge(&mut into.0, other.0);
        self.1.merge(&mut into.1, other.1);
    }
}

impl Dataset {
    /// Reduces the elements of `selection` (missing chunks count as the fill value) with
    /// `reduction` (collective): this rank's chunks go through the read-ahead pipeline, each
    /// folded into a state of its own that is merged into the rank's; then the ranks' states
    /// are merged, in rank order, on every rank.
    ///
    /// # Errors
    /// The selection's error, the first error of a fold or a read on any rank (on every rank),
    /// or a communication error.
    pub fn reduce<R: Reduction>(&self, selection: &Selection, reduction: &R) -> Result<R::State> {
        let layout = self.layout();
        let resolved = selection.resolve(layout.shape())?;
        let parts = layout.chunk_parts(&resolved.region);
        let mut part_of = vec![usize::MAX; layout.num_chunks()];
        for (k, part) in parts.iter().enumerate() {
            part_of[layout.chunk_flat(&part.chunk)] = k;
        }
        let total: Mutex<Option<R::State>> = Mutex::new(None);
        let sizes = self.chunk_blocks(2);
        self.pipeline_chunks(
            "reduce",
            sizes,
            None,
            |chunk| {
                let k = part_of[layout.chunk_flat(chunk)];
                if k == usize::MAX {
                    return Ok(None);
                }
                let in_chunk = &parts[k].in_chunk;
                let values = match self.read_stored_region(chunk, in_chunk)? {
                    Some(values) => values,
                    None => ChunkData::filled(self.meta().fill_value, in_chunk.len()),
                };
                Ok(Some((k, values)))
            },
            |_, read| {
                let Some((k, values)) = read else {
                    return Ok(None);
                };
                let region = layout.part_in_dataset(&parts[k]);
                let mut state = reduction.init();
                reduction.fold(
                    &mut state,
                    &Block {
                        values: &values,
                        region: &region,
                        layout,
                    },
                )?;
                Ok(Some(state))
            },
            |_, state| {
                if let Some(state) = state {
                    let mut total = total.lock().unwrap_or_else(|p| p.into_inner());
                    match total.as_mut() {
                        Some(into) => reduction.merge(into, state),
                        None => *total = Some(state),
                    }
                }
                Ok(())
            },
        )?;
        let mine = total
            .into_inner()
            .unwrap_or_else(|p| p.into_inner())
            .unwrap_or_else(|| reduction.init());
        all_merge(self.engine(), reduction, mine)
    }
}

/// Merges every rank's `state` on every rank (collective), in rank order.
///
/// # Errors
/// A communication error, or a state that does not decode (the same error on every rank).
pub fn all_merge<R: Reduction>(
    engine: &dyn crate::Engine,
    reduction: &R,
    state: R::State,
) -> Result<R::State> {
    if engine.size() == 1 {
        return Ok(state);
    }
    let encoded = postcard::to_allocvec(&state)
        .map_err(|e| Error::Communication(format!("cannot encode a reduction state: {e}")))?;
    let mut merged: Option<R::State> = None;
    for bytes in engine.all_gather_bytes(encoded)? {
        let state: R::State = postcard::from_bytes(&bytes)
            .map_err(|e| Error::Communication(format!("cannot decode a reduction state: {e}")))?;
        match merged.as_mut() {
            Some(into) => reduction.merge(into, state),
            None => merged = Some(state),
        }
    }
    Ok(merged.unwrap_or_else(|| reduction.init()))
}
