//! Test driver for the MPI engine, launched by this crate's tests under `mpiexec -n N`.
//!
//! `chunkwise-mpi-scenarios SCENARIO STORE_DIR EXPECTED_RANKS [block] [poll] [peer-timeout=SECONDS]`
//! runs one scenario on every
//! rank. It first checks that the world has EXPECTED_RANKS ranks (a launcher that does not match
//! the MPI library starts N singletons of one rank each). On success each rank prints
//! `rank R of N: ok`; on failure each rank prints `rank R: error: MESSAGE` and exits 1.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use chunkwise::{CallbackError, Connection, Dataset, Engine, Partition, RamStore, Selection};
use chunkwise_dosna::DosnaStore;
use chunkwise_mpi::{MpiEngine, MpiOptions};
use ndarray::{s, ArrayD, ArrayViewD, IxDyn};

type Outcome = Result<(), Box<dyn std::error::Error>>;

const SHAPE: [usize; 3] = [60, 50, 40];
const CHUNKS: [usize; 3] = [16, 16, 16];

fn data() -> ArrayD<i32> {
    ArrayD::from_shape_fn(IxDyn(&SHAPE), |i| {
        (i[0] * 10_000 + i[1] * 100 + i[2]) as i32
    })
}

fn check(condition: bool, what: &str) -> Outcome {
    if condition {
        Ok(())
    } else {
        Err(format!("check failed: {what}").into())
    }
}

/// CPU time (user and system, in clock ticks) the calling thread has used.
fn thread_cpu_ticks() -> Result<u64, Box<dyn std::error::Error>> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat")?;
    // Fields after the command name (in parentheses, which may hold spaces): state is field
    // 3, utime 14 and stime 15.
    let after = stat
        .rsplit_once(')')
        .ok_or("no ')' in /proc/thread-self/stat")?
        .1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let field = |n: usize| -> Result<u64, Box<dyn std::error::Error>> {
        Ok(fields
            .get(n - 3)
            .ok_or("short /proc/thread-self/stat")?
            .parse()?)
    };
    Ok(field(14)? + field(15)?)
}

/// Clock ticks per second of `/proc` CPU times (USER_HZ).
fn ticks_per_second() -> u64 {
    // SAFETY: sysconf reads a system constant; it takes no pointers.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(ticks).ok().filter(|&t| t > 0).unwrap_or(100)
}

/// This rank's x-range: ranks split axis 0 evenly, the last rank to the end.
fn my_x_range(rank: usize, size: usize) -> (usize, usize) {
    let per_rank = SHAPE[0] / size;
    let start = rank * per_rank;
    let stop = if rank + 1 == size {
        SHAPE[0]
    } else {
        start + per_rank
    };
    (start, stop)
}

fn collective(conn: &Connection) -> Outcome {
    let (rank, size) = (conn.rank(), conn.size());
    let expected = data();
    let ds = conn.create::<i32>("data", &SHAPE, &CHUNKS, -1)?;
    check(
        ds.size() == size && ds.rank() == rank && ds.is_root() == (rank == 0),
        "rank and size on the dataset",
    )?;
    ds.load(expected.view())?;

    // Every rank of this test runs on one node with 2 threads: a rank with items while others
    // have none gets their threads too; with items everywhere each keeps its own.
    let engine = conn.engine();
    check(engine.threads() == 2, "2 threads per rank")?;
    check(
        engine.operation(size).workers == 2 && engine.operation(10 * size).workers == 2,
        "every rank busy: its own threads",
    )?;
    let lent = if rank == 0 { 2 * size } else { 2 };
    check(
        engine.operation(1).workers == lent,
        &format!("one item: rank 0 gets {} workers, the others 2", 2 * size),
    )?;
    if size == 3 {
        let two_busy = if rank < 2 { 3 } else { 2 };
        check(
            engine.operation(2).workers == two_busy,
            "two items on three ranks: 6 threads for the 2 busy ranks",
        )?;
    }

    // The lent workers run at once, on more threads than the rank's own; tasks of
    // for_each_local stay on the rank's 2 threads.
    let most_at_once = |run: &dyn Fn(&chunkwise::engine::Task<'_>) -> chunkwise::Result<()>| {
        let (now, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
        run(&|_| {
            let at_once = now.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(at_once, Ordering::SeqCst);
            std::thread::sleep(std::time::Duration::from_millis(200));
            now.fetch_sub(1, Ordering::SeqCst);
            Ok(())
        })
        .map(|()| most.into_inner())
    };
    let lent_workers = engine.operation(1).workers;
    check(
        most_at_once(&|task| engine.run_workers(lent_workers, task))? == lent_workers,
        &format!("{lent_workers} lent workers run at once"),
    )?;
    check(
        most_at_once(&|task| engine.for_each_local(6, task))? == 2,
        "for_each_local runs on the rank's 2 threads",
    )?;

    // A rank with none of an operation's chunks waits for the others without taking a core:
    // rank 0 takes 300 ms over the one chunk, the others' waiting thread uses a small part
    // of that in CPU time (polling with yields used all of it).
    let one_chunk = conn.create::<i32>("one_chunk", &[8, 8], &[8, 8], 0)?;
    let cpu_before = thread_cpu_ticks()?;
    let started = std::time::Instant::now();
    one_chunk.load_blocks_with::<i32, _>(|bounds| {
        std::thread::sleep(std::time::Duration::from_millis(300));
        Ok(ArrayD::zeros(IxDyn(&bounds.shape())))
    })?;
    let (cpu, wall) = (thread_cpu_ticks()? - cpu_before, started.elapsed());
    if rank != 0 {
        check(
            // The idle rank starts its clock when it leaves the creation's agreement, which may
            // be a little after rank 0 started its 300 ms (299.5 ms was seen in CI).
            wall.as_millis() >= 250
                && cpu * 3 < ticks_per_second() * wall.as_millis() as u64 / 1000,
            &format!("an idle rank's wait of {wall:?} took {cpu} CPU ticks, under a third"),
        )?;
    }
    one_chunk.delete()?;

    // Every rank reads the whole dataset.
    check(
        ds.read_all::<i32>()? == expected,
        "every rank reads the whole dataset",
    )?;
    // Plain reads and writes are not collective: wait until every rank has read before any
    // rank writes again.
    let barrier = || conn.engine().barrier();

    // Rank r reads its own x-range.
    let (start, stop) = my_x_range(rank, size);
    let mine = ds.read::<i32>(&Selection::parse(&format!("{start}:{stop}"))?)?;
    check(
        mine == expected.slice(s![start..stop, .., ..]).into_dyn(),
        "own x-range",
    )?;
    barrier()?;

    // Each rank writes data*3+5 into its x-range; after a barrier rank 0 sees all of it.
    let tripled = mine.mapv(|v| v * 3 + 5);
    ds.write(
        &Selection::parse(&format!("{start}:{stop}"))?,
        tripled.view(),
    )?;
    barrier()?;
    if conn.is_root() {
        check(
            ds.read_all::<i32>()? == expected.mapv(|v| v * 3 + 5),
            "rank 0 sees every rank's part",
        )?;
    }
    barrier()?;

    // Collective clear: the fill value everywhere, on every rank.
    ds.clear()?;
    check(
        ds.read_all::<i32>()?.iter().all(|&v| v == -1),
        "clear gives the fill value",
    )?;
    check(ds.list_chunks()?.is_empty(), "clear removes every chunk")?;
    barrier()?;

    // map(x+1) into a new dataset.
    ds.load(expected.view())?;
    let mapped = ds.map::<i32, _>("mapped", |_, block| Ok(block.mapv(|v| v + 1)))?;
    check(
        mapped.read_all::<i32>()? == expected.mapv(|v| v + 1),
        "map(x+1)",
    )?;
    barrier()?;

    // clone (structure only), then load into the clone.
    let copy = ds.clone_as("copy", false)?;
    check(
        copy.list_chunks()?.is_empty(),
        "a structure-only clone has no chunks",
    )?;
    barrier()?;
    copy.load(expected.mapv(|v| v * 2).view())?;
    check(
        copy.read_all::<i32>()? == expected.mapv(|v| v * 2),
        "clone then load",
    )?;
    barrier()?;

    // apply(x+1) in place.
    ds.apply::<i32, _>(|_, block| Ok(block.mapv(|v| v + 1)))?;
    check(
        ds.read_all::<i32>()? == expected.mapv(|v| v + 1),
        "apply(x+1)",
    )?;

    // Collective deletion.
    copy.delete()?;
    check(!conn.has_dataset("copy")?, "delete")?;
    check(
        conn.list_datasets()? == vec!["data".to_string(), "mapped".to_string()],
        "datasets left",
    )?;

    // Timers gathered to rank 0: min/mean/max per name, one entry per rank.
    let report = conn.timers().gather(conn.engine().as_ref())?;
    match (conn.is_root(), report) {
        (true, Some(report)) => {
            check(report.per_rank.len() == size, "one timer set per rank")?;
            for name in ["read", "write", "compute", "barrier"] {
                check(report.names().contains(&name.to_string()), name)?;
            }
            let written = report.bytes("write");
            check(written.mean > 0.0, "bytes written are counted")?;
            eprint!("{}", report.table());
        }
        (false, None) => {}
        _ => return Err("only rank 0 gets the timer report".into()),
    }
    // Gathering nothing works too (every rank's timers empty).
    conn.timers().reset();
    let empty = conn.timers().gather(conn.engine().as_ref())?;
    if let Some(report) = empty {
        check(
            report.per_rank.len() == size && report.names().is_empty(),
            "an empty gather",
        )?;
    }
    Ok(())
}

/// Progress counts: unwatched, each rank counts its own chunks; watched, rank 0 counts every
/// rank's (their reports are all in when the operation's work returns on rank 0).
fn progress(conn: &Connection) -> Outcome {
    let size = conn.size();
    let total_chunks = 4 * 4 * 3;
    let total_bytes = (SHAPE.iter().product::<usize>() * 4) as u64;
    let mine = conn.engine().local_items(total_chunks).len() as u64;
    for watched in [false, true] {
        conn.progress().watch(watched);
        let ds = conn.create::<i32>("data", &SHAPE, &CHUNKS, 0)?;
        // Slow callbacks, so that reports are sent while the work runs.
        ds.apply::<i32, _>(|_: &[usize], block: ArrayViewD<i32>| {
            std::thread::sleep(std::time::Duration::from_millis(20));
            Ok::<_, CallbackError>(block.to_owned())
        })?;
        let seen = conn.progress().snapshot();
        check(
            seen.total_chunks == total_chunks as u64 && seen.total_bytes == total_bytes,
            "the totals are the whole dataset's on every rank",
        )?;
        check(seen.outcome == Some(true), "the operation ended well")?;
        let expected = if watched && conn.is_root() {
            total_chunks as u64
        } else {
            mine
        };
        check(
            seen.done_chunks == expected,
            &format!(
                "watched {watched}, rank {} of {size} counted {} chunks, expected {expected}",
                conn.rank(),
                seen.done_chunks
            ),
        )?;
        if expected == total_chunks as u64 {
            check(seen.done_bytes == total_bytes, "every byte counted")?;
        }
        ds.delete()?;
    }
    Ok(())
}

/// The callback fails on rank 1 only; every rank must get the same error.
fn failing_callback(conn: &Connection, panic: bool) -> Outcome {
    let ds = conn.create::<i32>("data", &SHAPE, &CHUNKS, 0)?;
    let failing_rank = 1;
    let rank = conn.rank();
    let result = ds.apply::<i32, _>(|chunk: &[usize], block: ArrayViewD<i32>| {
        if rank == failing_rank {
            if panic {
                panic!("deliberate panic on chunk {chunk:?}");
            }
            return Err::<ArrayD<i32>, CallbackError>(
                format!("deliberate failure on rank {rank}").into(),
            );
        }
        // The other ranks keep working, slowly, so they are still busy when the error happens.
        std::thread::sleep(std::time::Duration::from_millis(5));
        Ok(block.to_owned())
    });
    Ok(result?)
}

fn run(scenario: &str, dir: &PathBuf, engine: Arc<MpiEngine>) -> Outcome {
    let engine_dyn: Arc<dyn Engine> = engine.clone();
    match scenario {
        "collective" => {
            // Every rank of these tests runs on one node: with two or more, they wake each
            // other.
            check(
                engine.wakes_idle_ranks() == (engine.size() > 1),
                "the ranks of a node set up their wake-up pipes",
            )?;
            collective(&Connection::new(
                Arc::new(DosnaStore::new(dir)),
                engine_dyn,
            )?)
        }
        "lost-rank" => {
            // The last rank stops answering (as a rank killed while the launcher keeps the
            // job going); the others must notice within the peer timeout, not wait for ever.
            let conn = Connection::new(Arc::new(DosnaStore::new(dir)), engine_dyn)?;
            if conn.rank() + 1 == conn.size() {
                std::thread::sleep(std::time::Duration::from_secs(600));
            }
            conn.create::<u8>("data", &[4], &[2], 0)?;
            Err("the collective step returned although a rank was lost".into())
        }
        "callback-error" => failing_callback(
            &Connection::new(Arc::new(DosnaStore::new(dir)), engine_dyn)?,
            false,
        ),
        "callback-panic" => failing_callback(
            &Connection::new(Arc::new(DosnaStore::new(dir)), engine_dyn)?,
            true,
        ),
        "progress" => progress(&Connection::new(
            Arc::new(DosnaStore::new(dir)),
            engine_dyn,
        )?),
        "progress-callback-error" => {
            let conn = Connection::new(Arc::new(DosnaStore::new(dir)), engine_dyn)?;
            conn.progress().watch(true);
            failing_callback(&conn, false)
        }
        "engine" => {
            chunkwise::conformance::engine::run_all(engine_dyn.as_ref());
            Ok(())
        }
        "ram" => {
            let conn = Connection::new(Arc::new(RamStore::new()), engine_dyn)?;
            let ds: Dataset = conn.create::<u8>("data", &[4], &[2], 0)?;
            ds.load(ndarray::arr1(&[1u8, 2, 3, 4]).into_dyn().view())?;
            check(
                ds.read_all::<u8>()? == ndarray::arr1(&[1u8, 2, 3, 4]).into_dyn(),
                "ram with one rank",
            )
        }
        other => Err(format!("unknown scenario {other:?}").into()),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let [_, scenario, dir, expected, rest @ ..] = &args[..] else {
        eprintln!(
            "usage: chunkwise-mpi-scenarios SCENARIO STORE_DIR EXPECTED_RANKS [block] [poll] [peer-timeout=SECONDS]"
        );
        return ExitCode::from(2);
    };
    let partition = if rest.iter().any(|a| a == "block") {
        Partition::Block
    } else {
        Partition::Cyclic
    };
    let peer_timeout = rest
        .iter()
        .find_map(|a| a.strip_prefix("peer-timeout="))
        .and_then(|s| s.parse::<f64>().ok())
        .map(std::time::Duration::from_secs_f64);
    let engine = match MpiEngine::init(MpiOptions {
        threads: Some(2),
        partition,
        peer_timeout,
        idle_wait: if rest.iter().any(|a| a == "poll") {
            chunkwise::engine::IdleWait::Poll
        } else {
            chunkwise::engine::IdleWait::Sleep
        },
    }) {
        Ok(engine) => Arc::new(engine),
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    let (rank, size) = (engine.rank(), engine.size());
    if expected.parse::<usize>().ok() != Some(size) {
        eprintln!("rank {rank}: error: world size is {size}, expected {expected}");
        return ExitCode::FAILURE;
    }
    let outcome = run(scenario, &PathBuf::from(dir), Arc::clone(&engine));
    match outcome {
        Ok(()) => {
            println!("rank {rank} of {size}: ok");
            ExitCode::SUCCESS
        }
        Err(error) => {
            // One write per line, so lines of different ranks do not interleave.
            let line = format!("rank {rank}: error: {error}\n");
            let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
            let agreed = matches!(
                error.downcast_ref::<chunkwise::Error>(),
                Some(chunkwise::Error::Rank { .. })
            );
            if agreed {
                // Every rank holds this error: let all of them report it before any exits.
                let _ = engine.barrier();
                ExitCode::FAILURE
            } else {
                // Only this rank failed; the others may be waiting in a collective.
                std::process::exit(1);
            }
        }
    }
}
