//! The sequential engine: one process, one thread, items in order. The reference behaviour the
//! others are compared against.

use super::{guard_panics, Engine, Task};
use crate::error::Result;

/// Runs every item on the calling thread, in order.
#[derive(Debug, Clone, Copy, Default)]
pub struct SequentialEngine;

impl SequentialEngine {
    /// The sequential engine.
    pub fn new() -> Self {
        SequentialEngine
    }
}

impl Engine for SequentialEngine {
    fn name(&self) -> &'static str {
        "sequential"
    }

    fn threads(&self) -> usize {
        1
    }

    fn overlaps_io(&self) -> bool {
        false
    }

    fn for_each_local(&self, n: usize, task: &Task<'_>) -> Result<()> {
        (0..n).try_for_each(|position| guard_panics(|| task(position)))
    }
}
