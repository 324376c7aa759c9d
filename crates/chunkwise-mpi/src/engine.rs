//! [`MpiEngine`]: the chunkwise [`Engine`] primitives over MPI.

use std::thread::ThreadId;

use chunkwise::engine::{IdleWait, Operation, Task, Work};
use chunkwise::{Engine, Error, Partition, Progress, Result, ThreadsEngine};
use mpi::collective::SystemOperation;
use mpi::datatype::PartitionMut;
use mpi::environment::Universe;
use mpi::request::{Request, Scope};
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use mpi::Threading;

use crate::doorbell::Doorbell;
use crate::error::MpiError;

/// Settings of the MPI engine.
#[derive(Debug, Clone, Copy, Default)]
pub struct MpiOptions {
    /// Worker threads per rank; `None` shares this node's cores evenly among its ranks.
    pub threads: Option<usize>,
    /// How chunks are dealt to ranks.
    pub partition: Partition,
    /// How long a rank waits for the others in one collective step (an agreement, a barrier)
    /// before it reports them lost and ends the job (`MPI_Abort`): a rank that died while the
    /// launcher keeps the others running (`--mca orte_abort_on_non_zero_status 0`, `srun
    /// --no-kill`) is then noticed instead of waited for for ever. `None`: wait for ever.
    pub peer_timeout: Option<std::time::Duration>,
    /// How a rank with none of an operation's items waits for the ranks that have some.
    pub idle_wait: IdleWait,
}

/// The MPI engine: one per process, created before any other MPI use and dropped last.
pub struct MpiEngine {
    world: SimpleCommunicator,
    /// A copy of `world` for progress reports ([`crate::reports`]), which then never match
    /// other messages. Freed in `drop`, before MPI is finalised.
    reports: std::mem::ManuallyDrop<SimpleCommunicator>,
    rank: usize,
    size: usize,
    /// This rank's share of the node's worker threads.
    threads: usize,
    /// The pool of this rank's threads.
    workers: ThreadsEngine,
    /// A pool of the threads of every rank on the node, for operations in which the other
    /// ranks of the node have nothing to do (see [`Engine::operation`]); `None` alone on a
    /// node. Separate, so that callbacks parallel inside (rayon) use this rank's share of the
    /// cores unless it was lent the others'.
    node_workers: Option<ThreadsEngine>,
    /// World ranks of the processes on this node (this one included).
    node_peers: Vec<usize>,
    /// The node's wake-up pipes, `None` alone on a node, under [`IdleWait::Poll`], or when
    /// they could not be set up.
    doorbell: Option<Doorbell>,
    /// See [`MpiOptions::idle_wait`].
    idle_wait: IdleWait,
    partition: Partition,
    /// See [`MpiOptions::peer_timeout`].
    peer_timeout: Option<std::time::Duration>,
    owner: ThreadId,
    // Dropped last: finalises MPI.
    universe: Option<Universe>,
}

// SAFETY: the MPI handles inside (`world`, `universe`) are only used from the `owner` thread:
// every method that calls MPI checks the calling thread first and refuses others (thread level
// Funneled). Worker threads only run tasks through `workers`, which holds no MPI state.
unsafe impl Send for MpiEngine {}
// SAFETY: as above; shared references reach MPI only from the owner thread.
unsafe impl Sync for MpiEngine {}

impl std::fmt::Debug for MpiEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MpiEngine")
            .field("rank", &self.rank)
            .field("size", &self.size)
            .field("threads", &self.threads)
            .field("partition", &self.partition)
            .finish()
    }
}

impl MpiEngine {
    /// Initialises MPI (thread level Funneled) and the rank's worker pool.
    ///
    /// # Errors
    /// [`MpiError::AlreadyInitialized`], [`MpiError::ThreadLevel`], or a bad thread count.
    pub fn init(options: MpiOptions) -> std::result::Result<Self, MpiError> {
        let (universe, provided) = mpi::initialize_with_threading(Threading::Funneled)
            .ok_or(MpiError::AlreadyInitialized)?;
        if provided < Threading::Funneled {
            return Err(MpiError::ThreadLevel {
                provided: format!("{provided:?}"),
            });
        }
        let world = universe.world();
        let rank = usize::try_from(world.rank()).unwrap_or(0);
        let size = usize::try_from(world.size()).unwrap_or(1);
        let node = world.split_shared(0);
        let node_ranks = usize::try_from(node.size()).unwrap_or(1).max(1);
        let mut peers = vec![0i32; node_ranks];
        node.all_gather_into(&world.rank(), &mut peers[..]);
        let node_peers: Vec<usize> = peers
            .into_iter()
            .map(|p| usize::try_from(p).unwrap_or(0))
            .collect();
        let doorbell = match options.idle_wait {
            IdleWait::Sleep => Doorbell::open(&node, &node_peers),
            IdleWait::Poll => None,
        };
        let threads = match options.threads {
            Some(n) => n,
            None => {
                // Ranks on this node share its cores.
                let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
                (cores / node_ranks).max(1)
            }
        };
        if threads == 0 {
            return Err(MpiError::Core(Error::InvalidSetting {
                name: "threads".into(),
                value: "0".into(),
                expected: "expected at least 1".into(),
            }));
        }
        let workers = ThreadsEngine::new(Some(threads))?;
        let node_workers = if node_ranks > 1 {
            Some(ThreadsEngine::new(Some(
                threads.saturating_mul(node_ranks),
            ))?)
        } else {
            None
        };
        let reports = std::mem::ManuallyDrop::new(world.duplicate());
        Ok(MpiEngine {
            world,
            reports,
            rank,
            size,
            threads,
            workers,
            node_workers,
            node_peers,
            doorbell,
            idle_wait: options.idle_wait,
            partition: options.partition,
            peer_timeout: options.peer_timeout,
            owner: std::thread::current().id(),
            universe: Some(universe),
        })
    }

    /// Whether the ranks of this node wake each other when an operation's work ends (each
    /// rank's named pipe, set up at start; see the `doorbell` module). `false` alone on a node,
    /// or when a pipe could not be made (a rank with nothing to do then polls every 100 µs).
    pub fn wakes_idle_ranks(&self) -> bool {
        self.doorbell.is_some()
    }

    /// Whether world rank `rank` has any of items `0..n`.
    fn has_items(&self, rank: usize, n: usize) -> bool {
        !self.partition.items(rank, self.size, n).is_empty()
    }

    /// Refuses MPI calls from threads other than the one that created the engine.
    fn on_owner_thread(&self, what: &str) -> Result<()> {
        if std::thread::current().id() == self.owner {
            Ok(())
        } else {
            Err(Error::Communication(format!(
                "{what} was called from a worker thread; MPI calls must come from the thread that created the engine"
            )))
        }
    }

    /// The world communicator, for applications that need MPI directly (owner thread only).
    pub fn world(&self) -> &SimpleCommunicator {
        &self.world
    }
}

impl Engine for MpiEngine {
    fn name(&self) -> &'static str {
        "mpi"
    }

    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.size
    }

    fn threads(&self) -> usize {
        self.threads
    }

    /// Workers: this rank's threads, or — when it has items of `0..n` and other ranks of its
    /// node have none — the node's threads divided among the ranks of the node that have items:
    /// a rank with nothing to do sleeps in the operation's [`Engine::finish`] (`wait_idle`), so
    /// a dataset of fewer chunks than ranks is not left to one core.
    fn operation(&self, items: usize) -> Operation {
        let workers = if self.has_items(self.rank, items) {
            let busy = self
                .node_peers
                .iter()
                .filter(|&&p| self.has_items(p, items))
                .count()
                .max(1);
            (self.threads * self.node_peers.len() / busy).max(self.threads)
        } else {
            self.threads
        };
        Operation { items, workers }
    }

    fn ranks_on_node(&self) -> usize {
        self.node_peers.len()
    }

    fn partition(&self) -> Partition {
        self.partition
    }

    fn for_each_local(&self, n: usize, task: &Task<'_>) -> Result<()> {
        self.workers.for_each_local(n, task)
    }

    /// Workers beyond this rank's threads (lent by [`Engine::operation`]) run on the pool of
    /// the node's threads.
    fn run_workers(&self, workers: usize, task: &Task<'_>) -> Result<()> {
        match &self.node_workers {
            Some(node_workers) if workers > self.threads => {
                node_workers.for_each_local(workers, task)
            }
            _ => self.workers.for_each_local(workers, task),
        }
    }

    fn agree(&self, local: Result<()>) -> Result<()> {
        self.agree_in(None, local)
    }

    /// When `progress` is watched, `work` runs on a helper thread while this (owner) thread
    /// reports to rank 0, or on rank 0 records the reports (see the `reports` module).
    fn report_while(&self, progress: &Progress, work: &Work<'_>) -> Result<()> {
        if self.size == 1 || !progress.is_watched() {
            return work();
        }
        self.on_owner_thread("progress report")?;
        match crate::reports::run_reporting(&self.reports, progress, self.peer_timeout, work) {
            Ok(outcome) => outcome,
            Err(waited) => {
                let program = chunkwise::error::program_name();
                eprintln!(
                    "{program}: error: rank {}: the other ranks' progress reports did not come within {} s (engine.peer_timeout): a rank was lost or is stuck; ending the job",
                    self.rank,
                    waited.as_secs_f64()
                );
                self.world.abort(PEER_TIMEOUT_EXIT)
            }
        }
    }

    /// The agreement closing `operation`: a rank with none of its items waits asleep, a rank
    /// with some wakes its node's idle ranks when it gets there (see [`IdleWait::Sleep`]).
    fn finish(&self, operation: &Operation, local: Result<()>) -> Result<()> {
        self.agree_in(Some(operation), local)
    }

    fn barrier(&self) -> Result<()> {
        self.on_owner_thread("barrier")?;
        self.wait_for_peers(self.world.immediate_barrier(), Wait::Yield, "barrier");
        Ok(())
    }

    fn gather_bytes(&self, local: Vec<u8>) -> Result<Option<Vec<Vec<u8>>>> {
        self.on_owner_thread("gather")?;
        // Every rank sends at least one byte (a leading marker, removed below): Open MPI refuses
        // a gather whose buffers are all empty.
        let local: Vec<u8> = std::iter::once(b'#').chain(local).collect();
        let count = i32::try_from(local.len()).map_err(|_| {
            Error::Communication(format!("{} bytes are too many to gather", local.len()))
        })?;
        let root = self.world.process_at_rank(0);
        if self.rank != 0 {
            root.gather_into(&count);
            root.gather_varcount_into(&local[..]);
            return Ok(None);
        }
        let mut counts = vec![0i32; self.size];
        root.gather_into_root(&count, &mut counts[..]);
        let displs = displacements(&counts);
        let total: usize = counts.iter().map(|&c| c as usize).sum();
        let mut buffer = vec![0u8; total];
        {
            let mut partition = PartitionMut::new(&mut buffer[..], &counts[..], &displs[..]);
            root.gather_varcount_into_root(&local[..], &mut partition);
        }
        Ok(Some(unmarked(&buffer, &counts, &displs)))
    }

    fn all_gather_bytes(&self, local: Vec<u8>) -> Result<Vec<Vec<u8>>> {
        self.on_owner_thread("all-gather")?;
        // A leading marker byte, as in `gather_bytes`: no rank's buffer is empty.
        let local: Vec<u8> = std::iter::once(b'#').chain(local).collect();
        let count = i32::try_from(local.len()).map_err(|_| {
            Error::Communication(format!("{} bytes are too many to gather", local.len()))
        })?;
        let mut counts = vec![0i32; self.size];
        self.world.all_gather_into(&count, &mut counts[..]);
        let displs = displacements(&counts);
        let total: usize = counts.iter().map(|&c| c as usize).sum();
        let mut buffer = vec![0u8; total];
        {
            let mut partition = PartitionMut::new(&mut buffer[..], &counts[..], &displs[..]);
            self.world
                .all_gather_varcount_into(&local[..], &mut partition);
        }
        Ok(unmarked(&buffer, &counts, &displs))
    }
}

impl MpiEngine {
    /// [`Engine::agree`], closing `operation` when one is given.
    fn agree_in(&self, operation: Option<&Operation>, local: Result<()>) -> Result<()> {
        self.on_owner_thread("agree")?;
        if self.size == 1 {
            return local;
        }
        let failed = i32::from(local.is_err());
        let candidate = if local.is_err() { self.rank } else { self.size } as i32;
        let mut lowest = 0i32;
        // A rank with none of the operation's items waits asleep, when the engine may.
        let sleeps = self.idle_wait == IdleWait::Sleep;
        let n = operation.map_or(0, |op| op.items);
        let known = operation.is_some() && sleeps;
        let idle = known && !self.has_items(self.rank, n);
        let wait = match &self.doorbell {
            _ if !idle => Wait::Yield,
            // A busy rank of the node rings when it gets here.
            Some(doorbell) if self.node_peers.iter().any(|&p| self.has_items(p, n)) => {
                Wait::Doorbell(doorbell)
            }
            _ => Wait::Nap,
        };
        mpi::request::scope(|scope| {
            let request = self.world.immediate_all_reduce_into(
                scope,
                &candidate,
                &mut lowest,
                SystemOperation::min(),
            );
            // This rank's part is posted: wake the node's idle ranks to take it.
            if let (Some(doorbell), true) = (&self.doorbell, known && !idle) {
                for &peer in &self.node_peers {
                    if !self.has_items(peer, n) {
                        doorbell.ring(peer);
                    }
                }
            }
            self.wait_for_peers(request, wait, "agreement");
        });
        if lowest as usize >= self.size {
            return Ok(());
        }
        let mut failed_ranks = 0i32;
        self.world
            .all_reduce_into(&failed, &mut failed_ranks, SystemOperation::sum());
        let mut message = match &local {
            Err(error) if self.rank == lowest as usize => error.to_string().into_bytes(),
            _ => Vec::new(),
        };
        let root = self.world.process_at_rank(lowest);
        let mut len = message.len() as u64;
        root.broadcast_into(&mut len);
        message.resize(len as usize, 0);
        root.broadcast_into(&mut message[..]);
        Err(Error::Rank {
            rank: lowest as usize,
            message: String::from_utf8_lossy(&message).into_owned(),
            failed_ranks: failed_ranks as usize,
        })
    }
}

/// How [`wait_idle`] passes the time between polls.
#[derive(Debug, Clone, Copy)]
enum Wait<'a> {
    /// Yields its core to any other thread that wants it.
    Yield,
    /// Yields for the first [`SPIN`], then naps [`NAP`] at a time.
    Nap,
    /// Sleeps until a rank of its node rings (or [`RING_TIMEOUT`] passes), then as `Nap`.
    Doorbell(&'a Doorbell),
}

/// Waits for `request`, passing the time between polls as `wait` says.
///
/// A blocking MPI collective polls at full speed (Open MPI does unless it knows the node is
/// oversubscribed). A rank that reaches the end of an operation first then takes a core from
/// the ranks still working, whose reader, worker and writer threads need every core of a
/// shared node: on 2 cores, 2 ranks' 128³/64³ 3-D passes spent a tenth of their samples in
/// MPI polling. Yielding between polls keeps the latency of a spin when the cores are idle,
/// and is how every wait but one passes its time.
///
/// The exception is a rank with none of an operation's items (it lent its threads,
/// [`Engine::operation`]): it waits for the others' whole work, and yielding is not enough
/// there, because the kernel still gives the yielding thread its turns (with one chunk on two
/// ranks of a 2-core node, the idle rank's polling was over a quarter of all samples). It
/// sleeps until a busy rank of its node rings its [`Doorbell`]; without one, or
/// when no rank of its node is busy, it naps. (Napping in every wait made every collective up
/// to a nap late: 5 dataset deletes 1.3 ms slower, the cells where both ranks work 1–100 %
/// slower.)
impl MpiEngine {
    /// Waits for a collective request; past the peer timeout, reports the other ranks lost on
    /// one line and ends the job (`MPI_Abort`), since a collective step cannot be cancelled.
    fn wait_for_peers<'a, D: ?Sized, S: Scope<'a>>(
        &self,
        request: Request<'a, D, S>,
        wait: Wait<'_>,
        step: &str,
    ) {
        let deadline = self
            .peer_timeout
            .map(|t| (std::time::Instant::now() + t, t));
        if wait_idle(request, wait, deadline.map(|(at, _)| at)) {
            return;
        }
        let waited = deadline.map_or(0.0, |(_, t)| t.as_secs_f64());
        let program = chunkwise::error::program_name();
        eprintln!(
            "{program}: error: rank {}: the other ranks did not reach the {step} within {waited} s (engine.peer_timeout): a rank was lost or is stuck; ending the job",
            self.rank
        );
        self.world.abort(PEER_TIMEOUT_EXIT);
    }
}

/// The exit status of a job ended because a rank was lost.
const PEER_TIMEOUT_EXIT: i32 = 3;

/// Waits for `request` as `wait` says; `false` when `deadline` passed first (the request is
/// then left pending: the job is about to end).
fn wait_idle<'a, D: ?Sized, S: Scope<'a>>(
    request: Request<'a, D, S>,
    mut wait: Wait<'_>,
    deadline: Option<std::time::Instant>,
) -> bool {
    let mut spin_from = std::time::Instant::now();
    let mut pending = request;
    let mut slack = None;
    loop {
        match pending.test() {
            Ok(_) => break,
            Err(request) => pending = request,
        }
        if let Some(deadline) = deadline {
            if std::time::Instant::now() >= deadline {
                // The request cannot be cancelled; the caller ends the job.
                std::mem::forget(pending);
                return false;
            }
        }
        match wait {
            Wait::Yield => std::thread::yield_now(),
            Wait::Nap if spin_from.elapsed() < SPIN => std::thread::yield_now(),
            Wait::Nap => {
                slack.get_or_insert_with(NapSlack::tight);
                std::thread::sleep(NAP);
            }
            Wait::Doorbell(doorbell) => {
                if doorbell.wait(RING_TIMEOUT) {
                    // The node's busy ranks are done: the collective takes a few more polls
                    // (spinning), unless ranks on other nodes are still at work (napping).
                    wait = Wait::Nap;
                    spin_from = std::time::Instant::now();
                }
            }
        }
    }
    true
}

/// The calling thread's timer slack cut to 1 µs while it lives (Linux; elsewhere nothing):
/// with the default 50 µs every nap overshot by up to that much, latency the other ranks wait
/// for in the next collective (figures: docs/perf-log/).
struct NapSlack {
    #[cfg(target_os = "linux")]
    before: Option<libc::c_ulong>,
}

impl NapSlack {
    fn tight() -> NapSlack {
        #[cfg(target_os = "linux")]
        {
            // SAFETY: PR_GET_TIMERSLACK and PR_SET_TIMERSLACK take no pointers; they read and
            // set the calling thread's timer slack only.
            let before = unsafe { libc::prctl(libc::PR_GET_TIMERSLACK, 0, 0, 0, 0) };
            let before = libc::c_ulong::try_from(before).ok();
            if before.is_some() {
                // SAFETY: as above.
                unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1000 as libc::c_ulong, 0, 0, 0) };
            }
            NapSlack { before }
        }
        #[cfg(not(target_os = "linux"))]
        NapSlack {}
    }
}

impl Drop for NapSlack {
    fn drop(&mut self) {
        #[cfg(target_os = "linux")]
        if let Some(before) = self.before {
            // SAFETY: as in `tight`.
            unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, before, 0, 0, 0) };
        }
    }
}

/// How long a napping [`wait_idle`] yields between polls before it naps.
const SPIN: std::time::Duration = std::time::Duration::from_micros(50);

/// How long a napping [`wait_idle`] naps between polls after [`SPIN`].
const NAP: std::time::Duration = std::time::Duration::from_micros(100);

/// Longest a rank waiting for its [`Doorbell`] sleeps between polls.
const RING_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(1);

impl Drop for MpiEngine {
    fn drop(&mut self) {
        if std::thread::panicking() && self.size > 1 {
            // Finalising now would leave the other ranks waiting in a collective forever.
            self.world.abort(101);
        }
        // SAFETY: `reports` is not used after this: the engine is being dropped.
        unsafe { std::mem::ManuallyDrop::drop(&mut self.reports) };
        drop(self.universe.take());
    }
}

/// Where each rank's bytes start in a gathered buffer of `counts` bytes per rank.
fn displacements(counts: &[i32]) -> Vec<i32> {
    counts
        .iter()
        .scan(0i32, |offset, &c| {
            let start = *offset;
            *offset += c;
            Some(start)
        })
        .collect()
}

/// Each rank's bytes of a gathered buffer, without their leading marker byte.
fn unmarked(buffer: &[u8], counts: &[i32], displs: &[i32]) -> Vec<Vec<u8>> {
    counts
        .iter()
        .zip(displs)
        .map(|(&c, &d)| buffer[(d as usize + 1).min((d + c) as usize)..(d + c) as usize].to_vec())
        .collect()
}
