//! `batched_map`: mapping over an iterator too large to materialise, with a bounded number of
//! items in flight.

use std::sync::Mutex;

use super::Engine;
use crate::error::Result;

/// Maps `f` over `items` on this rank's workers, at most `in_flight` items at a time, and hands
/// the results to `consume` in input order. Only `in_flight` items and results are ever held,
/// so the iterator may be endless or far larger than memory.
///
/// This is a per-rank helper, not a collective operation.
///
/// # Errors
/// The first error of `f` or `consume`; no item after the failing batch is taken.
pub fn batched_map<I, T, R, F, C>(
    engine: &dyn Engine,
    items: I,
    in_flight: usize,
    f: F,
    mut consume: C,
) -> Result<()>
where
    I: IntoIterator<Item = T>,
    T: Send,
    R: Send,
    F: Fn(T) -> Result<R> + Sync,
    C: FnMut(R) -> Result<()>,
{
    let in_flight = in_flight.max(1);
    let mut items = items.into_iter();
    loop {
        let batch: Vec<Mutex<Option<T>>> = items
            .by_ref()
            .take(in_flight)
            .map(|item| Mutex::new(Some(item)))
            .collect();
        if batch.is_empty() {
            return Ok(());
        }
        let results: Vec<Mutex<Option<R>>> = batch.iter().map(|_| Mutex::new(None)).collect();
        engine.for_each_local(batch.len(), &|position| {
            let item = batch[position]
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take();
            if let Some(item) = item {
                let result = f(item)?;
                *results[position].lock().unwrap_or_else(|p| p.into_inner()) = Some(result);
            }
            Ok(())
        })?;
        for slot in results {
            if let Some(result) = slot.into_inner().unwrap_or_else(|p| p.into_inner()) {
                consume(result)?;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::engine::{SequentialEngine, ThreadsEngine};
    use crate::error::Error;

    #[test]
    fn keeps_order_and_bounds_in_flight() {
        let engine = ThreadsEngine::new(Some(3)).unwrap();
        let pulled = AtomicUsize::new(0);
        let consumed = AtomicUsize::new(0);
        let mut out = Vec::new();
        let source = (0..1000u64).inspect(|_| {
            pulled.fetch_add(1, Ordering::SeqCst);
        });
        batched_map(
            &engine,
            source,
            7,
            |x| {
                // Never more than one batch ahead of what was consumed.
                let ahead = pulled.load(Ordering::SeqCst) - consumed.load(Ordering::SeqCst);
                assert!(ahead <= 7, "{ahead} items in flight");
                Ok(x * x)
            },
            |y| {
                consumed.fetch_add(1, Ordering::SeqCst);
                out.push(y);
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(out, (0..1000u64).map(|x| x * x).collect::<Vec<_>>());
    }

    #[test]
    fn stops_at_first_error_on_an_endless_iterator() {
        let result = batched_map(
            &SequentialEngine,
            0u64..,
            4,
            |x| {
                if x == 10 {
                    Err(Error::Unsupported("ten".into()))
                } else {
                    Ok(x)
                }
            },
            |_| Ok(()),
        );
        assert_eq!(result.unwrap_err().to_string(), "ten");
    }
}
