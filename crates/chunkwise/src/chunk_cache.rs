//! A bounded cache of whole chunks for the duration of one stencil operation.
//!
//! A halo-grown block needs parts of up to 3ⁿ chunks, and each chunk is needed by all of its
//! neighbours: without a cache every chunk would be opened and read that many times. While
//! `map_overlap` runs, its input is not written (the output is a new dataset), so chunks read
//! once can be served again from memory. The least recently used chunks are dropped when the
//! cache holds more than its byte budget.
//!
//! Under MPI a rank also needs the halos of chunks other ranks process. Reading those whole
//! doubled what each of 2 ranks read; so a cache can be told which chunks this rank processes
//! ([`ChunkCache::reading_whole_only`]), and the halo code reads only the planes of axis 0 it
//! needs from the others (one run of the chunk file), cached under their own key.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::dtype::ChunkData;
use crate::error::Result;

struct Entry {
    data: Option<Arc<ChunkData>>,
    last_use: u64,
}

/// Whole chunks by index, least recently used dropped first.
pub(crate) struct ChunkCache {
    budget_bytes: AtomicUsize,
    chunk_bytes: usize,
    state: Mutex<(HashMap<Vec<usize>, Entry>, u64)>,
    /// Flat indices of the chunks to read whole (`None`: all).
    whole: Option<HashSet<usize>>,
}

impl ChunkCache {
    /// A cache holding at most `budget_bytes` of chunks of `chunk_bytes` each (at least one).
    pub(crate) fn new(budget_bytes: usize, chunk_bytes: usize) -> Self {
        ChunkCache {
            budget_bytes: AtomicUsize::new(budget_bytes),
            chunk_bytes: chunk_bytes.max(1),
            state: Mutex::new((HashMap::new(), 0)),
            whole: None,
        }
    }

    /// The cache, told that only the chunks of flat indices `whole` are needed whole (the
    /// chunks this rank processes); of the others only halos are needed.
    pub(crate) fn reading_whole_only(mut self, whole: HashSet<usize>) -> Self {
        self.whole = Some(whole);
        self
    }

    /// True when the chunk of flat index `flat` is needed whole.
    pub(crate) fn reads_whole(&self, flat: usize) -> bool {
        self.whole
            .as_ref()
            .is_none_or(|whole| whole.contains(&flat))
    }

    /// Changes the byte budget (before the cache is used: entries already held stay).
    pub(crate) fn set_budget(&self, budget_bytes: usize) {
        self.budget_bytes.store(budget_bytes, Ordering::Relaxed);
    }

    /// The chunk (`None`: never written), from the cache or from `load`. `key` is the chunk's
    /// index, or any other key for a part of a chunk (each entry counts as a whole chunk
    /// against the budget).
    pub(crate) fn get(
        &self,
        chunk: &[usize],
        load: impl FnOnce() -> Result<Option<ChunkData>>,
    ) -> Result<Option<Arc<ChunkData>>> {
        {
            let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
            let (entries, clock) = &mut *guard;
            *clock += 1;
            let now = *clock;
            if let Some(entry) = entries.get_mut(chunk) {
                entry.last_use = now;
                return Ok(entry.data.clone());
            }
        }
        let data = load()?.map(Arc::new);
        let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let (entries, clock) = &mut *guard;
        let capacity = (self.budget_bytes.load(Ordering::Relaxed) / self.chunk_bytes).max(1);
        while entries.len() >= capacity {
            let oldest = entries
                .iter()
                .min_by_key(|(_, e)| e.last_use)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(key) => entries.remove(&key),
                None => break,
            };
        }
        entries.insert(
            chunk.to_vec(),
            Entry {
                data: data.clone(),
                last_use: *clock,
            },
        );
        Ok(data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_repeats_from_memory_and_drops_the_oldest() {
        let cache = ChunkCache::new(2 * 8, 8);
        let mut loads = 0;
        let get = |i: usize, loads: &mut usize| {
            cache
                .get(&[i], || {
                    *loads += 1;
                    Ok(Some(ChunkData::U8(vec![i as u8; 8])))
                })
                .unwrap()
        };
        get(0, &mut loads);
        get(1, &mut loads);
        assert_eq!(*get(0, &mut loads).unwrap(), ChunkData::U8(vec![0; 8]));
        assert_eq!(loads, 2);
        get(2, &mut loads); // evicts 1, the least recently used
        get(0, &mut loads);
        assert_eq!(loads, 3);
        get(1, &mut loads);
        assert_eq!(loads, 4);
        let missing = cache.get(&[9], || Ok(None)).unwrap();
        assert!(missing.is_none());
    }
}
