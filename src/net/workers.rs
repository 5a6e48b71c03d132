//! The proxy's worker threads: each runs a single-threaded runtime that accepts on the app's
//! listening socket and serves its connections start to finish, with its own keep-alive pools
//! (nginx's and Pingora's worker model: no work stealing, no cross-thread wake-up per request).
//!
//! The workers are process-wide, started on first use; [`configure`] sets how many beforehand.

use std::cell::Cell;
use std::num::NonZeroUsize;
use std::sync::OnceLock;

use tokio::runtime::{Builder, Handle};

/// Worker threads when [`configure`] was not called: one per two CPUs (at least one), at most
/// this many. The proxy shares the host with the apps it serves: a thread per CPU made two
/// threads and the apps contend for two cores, 0.74× nginx's throughput where one thread gave
/// 0.97× (docs/benchmarks.md).
const DEFAULT_MAX: usize = 4;

/// Upper bound for [`configure`] (`corral controller --proxy-threads`).
pub const MAX_WORKERS: usize = 64;

static COUNT: OnceLock<usize> = OnceLock::new();
static WORKERS: OnceLock<Vec<Handle>> = OnceLock::new();

thread_local! {
    /// The index of the worker running on this thread; 0 on every other thread.
    static INDEX: Cell<usize> = const { Cell::new(0) };
}

/// Sets the number of worker threads (clamped to 1..=[`MAX_WORKERS`]); only before the
/// first proxy starts. Returns false if the workers already run with another count.
pub fn configure(count: usize) -> bool {
    let count = count.clamp(1, MAX_WORKERS);
    *COUNT.get_or_init(|| count) == count
}

/// How many worker threads the proxies use.
pub fn count() -> usize {
    *COUNT.get_or_init(|| {
        let cpus = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
        cpus.div_ceil(2).min(DEFAULT_MAX)
    })
}

/// The index of the current thread's worker (0..[`count`]), 0 outside the workers: the slot
/// of per-worker state such as a backend's idle connections.
pub(crate) fn current() -> usize {
    INDEX.with(Cell::get)
}

/// The runtime handles of the workers, started on first call.
pub(crate) fn handles() -> &'static [Handle] {
    WORKERS.get_or_init(|| (0..count()).filter_map(start).collect())
}

/// Starts worker `index`: a thread that runs its runtime for the life of the process.
fn start(index: usize) -> Option<Handle> {
    let runtime = match Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!(%error, "cannot start proxy worker {index}");
            return None;
        }
    };
    let handle = runtime.handle().clone();
    let spawned = std::thread::Builder::new()
        .name(format!("corral-proxy-{index}"))
        .spawn(move || {
            INDEX.with(|i| i.set(index));
            // Never resolves: the runtime serves its tasks until the process exits. Each app's
            // tasks are stopped and joined by its `AppListeners` on shutdown.
            runtime.block_on(std::future::pending::<()>());
        });
    match spawned {
        Ok(_) => Some(handle),
        Err(error) => {
            tracing::error!(%error, "cannot start proxy worker thread {index}");
            None
        }
    }
}
