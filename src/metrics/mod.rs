//! Sampling CPU and memory of each instance (README "Memory limits"), and the Prometheus `/metrics`
//! exposition (docs/metrics.md).
//!
//! An instance with its own cgroup is read from it (`memory.current`, `cpu.stat`: two small
//! reads); the others by walking their process tree, and only our own trees are read
//! (`procfs`), never every process on the host. Trees an app's
//! `memory.limit` watches are sampled every interval; the others, whose figures only feed
//! `corral get` and `/metrics`, every [`UNLIMITED_EVERY`] intervals. Sampling reads /proc, so
//! it runs on the blocking pool, never on a runtime thread.

mod procfs;

pub mod prometheus;
pub mod serve;
pub mod snapshot;

pub use snapshot::Published;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

/// Trees without a memory limit are sampled once every this many intervals (5 s at the
/// default 1 s): their CPU and MEM columns may be that old, for a fifth of the work.
pub const UNLIMITED_EVERY: u64 = 5;

/// CPU and memory of one instance: its cgroup's figures, or its process tree's.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Usage {
    /// CPU percent of one core, summed over the instance (may exceed 100), since its previous
    /// sample.
    pub cpu_percent: f32,
    /// Memory in bytes: its cgroup's `memory.current`, or else the resident memory of its
    /// process tree.
    pub rss_bytes: u64,
    /// CPU seconds (user + system) it has used so far: its cgroup's `usage_usec`, or else its
    /// tree's live processes' and those of the children they reaped (a counter, for `/metrics`).
    pub cpu_seconds: f64,
}

/// One instance to sample: its pid, its cgroup if it has one, and whether a memory limit
/// watches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    /// The instance's pid (the root of its tree).
    pub pid: u32,
    /// Whether its app has a `memory.limit` (sampled every interval, never late).
    pub limited: bool,
    /// Its own cgroup, read instead of its tree when it can be.
    pub cgroup: Option<Arc<Path>>,
}

/// What the sampler remembers of one tree between samples.
struct Seen {
    usage: Usage,
    /// Cumulative CPU time (µs) at the last sample, and when (CPU% is the difference).
    cpu_usec: u64,
    at: Instant,
    /// The round it was last asked for; trees not asked for are forgotten.
    round: u64,
}

/// Keeps each tree's previous reading between samples (CPU% needs two), and the buffers.
pub struct Sampler {
    ticks_per_second: u64,
    page_size: u64,
    /// Whether the kernel lists children per thread; else /proc is scanned for parents.
    children_files: bool,
    seen: HashMap<u32, Seen>,
    round: u64,
    path: String,
    buf: Vec<u8>,
    stack: Vec<u32>,
}

impl Default for Sampler {
    fn default() -> Self {
        Self {
            ticks_per_second: procfs::ticks_per_second(),
            page_size: procfs::page_size(),
            children_files: procfs::has_children_files(),
            seen: HashMap::new(),
            round: 0,
            path: String::new(),
            buf: Vec::new(),
            stack: Vec::new(),
        }
    }
}

impl Sampler {
    /// Usage of the trees rooted at `roots`, each read now (blocking: reads /proc).
    pub fn sample(&mut self, roots: &[u32]) -> BTreeMap<u32, Usage> {
        let all: Vec<Root> = roots
            .iter()
            .map(|&pid| Root {
                pid,
                limited: true,
                cgroup: None,
            })
            .collect();
        self.sample_due(&all).unwrap_or_default()
    }

    /// One interval's sample (blocking: reads /proc): reads the limited trees, trees not read
    /// yet, and every [`UNLIMITED_EVERY`]th call all of them; the others keep their last
    /// figures. Returns every root's usage (a root whose process is gone has none), or None
    /// when no tree was due (nothing new to say).
    pub fn sample_due(&mut self, roots: &[Root]) -> Option<BTreeMap<u32, Usage>> {
        self.round += 1;
        let round = self.round;
        let everything = round % UNLIMITED_EVERY == 1;
        let now = Instant::now();
        let mut read_any = false;
        // Without `children` files: one scan of /proc per sample, if any tree is due.
        let mut parents = None;
        for root in roots {
            let known = self.seen.get_mut(&root.pid);
            let due = everything || root.limited || known.is_none();
            match known {
                Some(seen) if !due => seen.round = round,
                _ => {
                    read_any = true;
                    if self.read_cgroup(root, now) {
                        continue;
                    }
                    if !self.children_files && parents.is_none() {
                        parents = Some(self.parent_map());
                    }
                    self.read_tree(root.pid, parents.as_ref(), now);
                }
            }
        }
        self.seen.retain(|_, s| s.round == round);
        if !read_any {
            return None;
        }
        Some(
            roots
                .iter()
                .filter_map(|r| Some((r.pid, self.seen.get(&r.pid)?.usage)))
                .collect(),
        )
    }

    /// Reads the tree rooted at `root` into `seen` (marked with this round), or forgets it
    /// when its root is gone.
    fn read_tree(&mut self, root: u32, parents: Option<&HashMap<u32, Vec<u32>>>, now: Instant) {
        let (mut ticks, mut pages, mut found) = (0u64, 0u64, false);
        self.stack.clear();
        self.stack.push(root);
        let mut visited = 0usize;
        while let Some(pid) = self.stack.pop() {
            visited += 1;
            if visited > 100_000 {
                break; // a cycle cannot happen in a process tree, but never loop forever
            }
            let Some(stat) = procfs::stat(pid, &mut self.path, &mut self.buf) else {
                continue;
            };
            found |= pid == root;
            ticks += stat.cpu_ticks;
            pages += stat.rss_pages;
            match parents {
                Some(map) => self.stack.extend(map.get(&pid).into_iter().flatten()),
                None => procfs::children(
                    pid,
                    stat.threads,
                    &mut self.path,
                    &mut self.buf,
                    &mut self.stack,
                ),
            }
        }
        if !found {
            self.seen.remove(&root);
            return;
        }
        let cpu_usec =
            u64::try_from(u128::from(ticks) * 1_000_000 / u128::from(self.ticks_per_second.max(1)))
                .unwrap_or(u64::MAX);
        self.record(root, cpu_usec, pages * self.page_size, now);
    }

    /// Reads `root`'s own cgroup into `seen` (marked with this round); false when it has none
    /// or its figures cannot be read (then its tree is read instead).
    fn read_cgroup(&mut self, root: &Root, now: Instant) -> bool {
        let Some(dir) = &root.cgroup else {
            return false;
        };
        let Some(found) = crate::cgroup::usage(dir, &mut self.buf) else {
            return false;
        };
        self.record(root.pid, found.cpu_usec, found.memory_bytes, now);
        true
    }

    /// Records a reading of `root`: CPU time used so far (µs) and memory (bytes); CPU% is the
    /// CPU time since its previous reading over the time between them.
    fn record(&mut self, root: u32, cpu_usec: u64, memory: u64, now: Instant) {
        let cpu_percent = match self.seen.get(&root) {
            Some(prev) => {
                let secs = now.saturating_duration_since(prev.at).as_secs_f64();
                let used = cpu_usec.saturating_sub(prev.cpu_usec) as f64 / 1e6;
                if secs > 0.0 {
                    (used / secs * 100.0) as f32
                } else {
                    prev.usage.cpu_percent
                }
            }
            None => 0.0,
        };
        let usage = Usage {
            cpu_percent,
            rss_bytes: memory,
            cpu_seconds: cpu_usec as f64 / 1e6,
        };
        self.seen.insert(
            root,
            Seen {
                usage,
                cpu_usec,
                at: now,
                round: self.round,
            },
        );
    }

    /// Children per pid from a scan of all of /proc (kernels without `children` files).
    fn parent_map(&mut self) -> HashMap<u32, Vec<u32>> {
        let mut map: HashMap<u32, Vec<u32>> = HashMap::new();
        for (pid, ppid) in procfs::all_parents(&mut self.path, &mut self.buf) {
            map.entry(ppid).or_default().push(pid);
        }
        map
    }
}

/// Samples the trees published on `roots` every `interval` (see [`Sampler::sample_due`]) and
/// sends the results on `out`, until `stop` is cancelled. A slow consumer just misses samples
/// (the channel is bounded).
pub async fn run(
    mut roots: watch::Receiver<Vec<Root>>,
    out: mpsc::Sender<BTreeMap<u32, Usage>>,
    interval: Duration,
    stop: CancellationToken,
) {
    let mut sampler = Some(Sampler::default());
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        let pids = roots.borrow_and_update().clone();
        let Some(mut s) = sampler.take() else { return };
        let joined = tokio::task::spawn_blocking(move || {
            let usage = s.sample_due(&pids);
            (s, usage)
        })
        .await;
        let Ok((s, usage)) = joined else { return };
        sampler = Some(s);
        if let Some(usage) = usage {
            let _ = out.try_send(usage);
        }
    }
}

#[cfg(test)]
mod tests;
