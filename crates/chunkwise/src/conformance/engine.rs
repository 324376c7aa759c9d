//! The conformance suite every engine must pass: called on every rank of a multi-process engine
//! (all ranks, the same calls in the same order), it panics on the first broken guarantee.
//!
//! Guarantees checked: every item of an operation is dealt to exactly one rank; an agreement
//! gives every rank the same outcome (the lowest failing rank's error, naming it, when any
//! failed); the first error of a rank's tasks wins and stops the rest; a panicking task becomes
//! an error and leaves the engine usable; agreements in a row, with failures on changing ranks
//! and ranks of very unequal work, never deadlock; an operation's workers all run at once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::engine::Engine;
use crate::error::Error;

/// Runs every check on `engine`.
pub fn run_all(engine: &dyn Engine) {
    partition_covers_every_item_once(engine);
    agreement_is_the_same_on_every_rank(engine);
    first_error_wins_and_stops_the_rest(engine);
    a_panic_becomes_an_error(engine);
    agreements_in_a_row_never_deadlock(engine);
    an_operations_workers_run_at_once(engine);
}

/// The items of `0..n` every rank processes, as rank 0 sees them; `None` on other ranks.
fn items_by_rank(engine: &dyn Engine, n: usize) -> Option<Vec<Vec<usize>>> {
    let mine: Vec<u8> = engine
        .local_items(n)
        .iter()
        .flat_map(|&i| (i as u64).to_le_bytes())
        .collect();
    let gathered = engine.gather_bytes(mine).expect("gather");
    gathered.map(|all| {
        all.iter()
            .map(|bytes| {
                bytes
                    .chunks_exact(8)
                    .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")) as usize)
                    .collect()
            })
            .collect()
    })
}

/// Every item of `0..n` goes to exactly one rank, and each rank's items ascend.
pub fn partition_covers_every_item_once(engine: &dyn Engine) {
    assert!(
        engine.rank() < engine.size(),
        "rank {} of {}",
        engine.rank(),
        engine.size()
    );
    for n in [0, 1, 2, 3, 7, 64, 1001] {
        let Some(by_rank) = items_by_rank(engine, n) else {
            continue;
        };
        assert_eq!(by_rank.len(), engine.size(), "one list per rank");
        let mut all: Vec<usize> = by_rank.concat();
        for items in &by_rank {
            assert!(items.windows(2).all(|w| w[0] < w[1]), "{items:?} ascend");
        }
        all.sort_unstable();
        assert_eq!(all, (0..n).collect::<Vec<_>>(), "{n} items, each once");
    }
}

/// `Ok` everywhere agrees on `Ok`; a failure on some ranks gives every rank the error of the
/// lowest failing one.
pub fn agreement_is_the_same_on_every_rank(engine: &dyn Engine) {
    let (rank, size) = (engine.rank(), engine.size());
    engine.agree(Ok(())).expect("all succeeded");
    for failing in [vec![size - 1], (0..size).collect(), vec![size / 2]] {
        let local = if failing.contains(&rank) {
            Err(Error::Unsupported(format!("rank {rank} refused")))
        } else {
            Ok(())
        };
        let lowest = failing.iter().min().copied().unwrap_or(0);
        let agreed = engine.agree(local).expect_err("a rank failed").to_string();
        assert!(
            agreed.contains(&format!("rank {lowest} refused")),
            "rank {rank}: {agreed}"
        );
    }
}

/// The first error of a rank's tasks is returned, and tasks not yet started then are not.
pub fn first_error_wins_and_stops_the_rest(engine: &dyn Engine) {
    let started = AtomicUsize::new(0);
    let n = 10_000;
    let outcome = engine.for_each_local(n, &|position| {
        started.fetch_add(1, Ordering::SeqCst);
        if position >= 5 {
            return Err(Error::Unsupported(format!("task {position} failed")));
        }
        Ok(())
    });
    let error = outcome.expect_err("tasks failed").to_string();
    assert!(
        error.contains("failed") && error.contains("task"),
        "{error}"
    );
    let started = started.into_inner();
    assert!(
        started < n,
        "{started} of {n} tasks started after the first error"
    );
    engine.agree(Ok(())).expect("the ranks go on together");
}

/// A panicking task is an error naming the panic; the engine runs the next tasks as before.
pub fn a_panic_becomes_an_error(engine: &dyn Engine) {
    let outcome = engine.for_each_local(4, &|position| {
        if position == 2 {
            panic!("task 2 panicked on purpose");
        }
        Ok(())
    });
    match outcome {
        Err(Error::WorkerPanic(message)) => {
            assert!(message.contains("on purpose"), "{message}")
        }
        other => panic!("expected a worker panic, got {other:?}"),
    }
    let ran = AtomicUsize::new(0);
    engine
        .for_each_local(8, &|_| {
            ran.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
        .expect("the engine still runs tasks");
    assert_eq!(ran.into_inner(), 8);
    engine.agree(Ok(())).expect("the ranks go on together");
}

/// Many operations in a row: ranks with much work, little or none, failing on changing ranks,
/// all end together with the same outcome.
pub fn agreements_in_a_row_never_deadlock(engine: &dyn Engine) {
    let (rank, size) = (engine.rank(), engine.size());
    for round in 0..40 {
        // Fewer items than ranks in some rounds: ranks with none wait for the others.
        let items = round % (size + 2);
        let operation = engine.operation(items);
        assert!(operation.workers >= 1 && operation.items == items);
        let mine = engine.local_items(items);
        let local = engine.for_each_local(mine.len(), &|_| {
            if rank == round % size {
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            Ok(())
        });
        let local = if round % 3 == 0 && rank == (round / 3) % size {
            Err(Error::Unsupported(format!(
                "round {round} failed on rank {rank}"
            )))
        } else {
            local
        };
        let agreed = engine.finish(&operation, local);
        if round % 3 == 0 {
            let error = agreed.expect_err("a rank failed").to_string();
            assert!(error.contains(&format!("round {round} failed")), "{error}");
        } else {
            agreed.expect("no rank failed");
        }
    }
    engine.barrier().expect("barrier");
}

/// The workers an operation gives a rank all run at once.
pub fn an_operations_workers_run_at_once(engine: &dyn Engine) {
    let operation = engine.operation(engine.size() * 4);
    let (now, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let seen = Mutex::new(Vec::new());
    engine
        .run_workers(operation.workers, &|worker| {
            let at_once = now.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(at_once, Ordering::SeqCst);
            std::thread::sleep(std::time::Duration::from_millis(50));
            now.fetch_sub(1, Ordering::SeqCst);
            seen.lock().expect("lock").push(worker);
            Ok(())
        })
        .expect("workers");
    let mut seen = seen.into_inner().expect("lock");
    seen.sort_unstable();
    assert_eq!(seen, (0..operation.workers).collect::<Vec<_>>());
    assert_eq!(most.into_inner(), operation.workers, "all at once");
    engine.finish(&operation, Ok(())).expect("finish");
}
