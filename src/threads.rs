//! The controller's threads: a tokio runtime whose blocking pool is small and long-lived, so
//! that the number of threads, and with it the memory their stacks and malloc caches hold,
//! stops changing soon after the start instead of drifting with the load.

use std::io;
use std::time::Duration;

use tokio::runtime::{Builder, Runtime};

/// Threads that run the controller's async tasks (the loop, the API, probes, log capture).
pub const WORKER_THREADS: usize = 2;

/// Most threads of the blocking pool (tokio's default is 512). Its work is short file-system
/// calls (log batches, the record, /proc samples, manifest loads); more threads would not make
/// a disk faster, and each one keeps a touched stack and a malloc cache of its own.
pub const BLOCKING_THREADS: usize = 4;

/// How long an idle blocking thread is kept (tokio's default is 10 s). A short keep-alive makes
/// the pool die and respawn with the load, so the controller's RSS moves with it; kept this
/// long, the pool settles at the few threads the load needs.
pub const BLOCKING_KEEP_ALIVE: Duration = Duration::from_secs(600);

/// The controller's runtime. Call before any other thread starts (malloc is set up first).
pub fn runtime() -> io::Result<Runtime> {
    crate::heap::few_arenas();
    Builder::new_multi_thread()
        .worker_threads(WORKER_THREADS)
        .max_blocking_threads(BLOCKING_THREADS)
        .thread_keep_alive(BLOCKING_KEEP_ALIVE)
        .enable_all()
        .build()
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;

    #[test]
    fn a_burst_of_blocking_work_runs_on_at_most_the_capped_threads() {
        let runtime = runtime().expect("runtime");
        let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        runtime.block_on(async {
            let tasks: Vec<_> = (0..8 * BLOCKING_THREADS)
                .map(|_| {
                    let (running, most) = (running.clone(), most.clone());
                    tokio::task::spawn_blocking(move || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        // Holds the thread so that the burst overlaps (not a wait for a condition).
                        std::thread::sleep(Duration::from_millis(20));
                        running.fetch_sub(1, Ordering::SeqCst);
                    })
                })
                .collect();
            for task in tasks {
                task.await.expect("blocking task");
            }
        });
        let most = most.load(Ordering::SeqCst);
        assert!(
            (1..=BLOCKING_THREADS).contains(&most),
            "{most} blocking tasks ran at once"
        );
    }
}
