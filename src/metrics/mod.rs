//! Sampling CPU and memory of each instance's whole process tree (DESIGN.md §5), and the
//! Prometheus `/metrics` exposition (DESIGN.md §7).
//!
//! Sampling reads /proc, so it runs on the blocking pool, never on a runtime thread.

pub mod histogram;
pub mod prometheus;
pub mod serve;
pub mod snapshot;

pub use snapshot::Published;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

/// CPU and RSS of one instance's process tree.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Usage {
    /// CPU percent of one core, summed over the tree (may exceed 100).
    pub cpu_percent: f32,
    /// Resident memory of the tree in bytes.
    pub rss_bytes: u64,
    /// CPU time (user + system) of the processes of the tree alive now, in seconds.
    pub cpu_seconds: f64,
}

/// Keeps the OS view between samples (CPU% needs two readings).
pub struct Sampler {
    system: System,
}

impl Default for Sampler {
    fn default() -> Self {
        // Don't keep /proc/PID/stat files open between samples: no fd growth with many processes.
        sysinfo::set_open_files_limit(0);
        Self {
            system: System::new(),
        }
    }
}

impl Sampler {
    /// Usage of the trees rooted at `roots` (blocking: reads /proc).
    pub fn sample(&mut self, roots: &[u32]) -> BTreeMap<u32, Usage> {
        let kind = ProcessRefreshKind::nothing().with_cpu().with_memory();
        self.system
            .refresh_processes_specifics(ProcessesToUpdate::All, true, kind);
        let mut children: HashMap<Pid, Vec<Pid>> = HashMap::new();
        for (pid, proc_) in self.system.processes() {
            // Threads are listed as tasks of their process: their RSS is the process's own.
            if proc_.thread_kind().is_some() {
                continue;
            }
            if let Some(parent) = proc_.parent() {
                children.entry(parent).or_default().push(*pid);
            }
        }
        let mut out = BTreeMap::new();
        for &root in roots {
            let mut usage = Usage::default();
            let mut stack = vec![Pid::from_u32(root)];
            let mut seen = 0usize;
            while let Some(pid) = stack.pop() {
                seen += 1;
                if seen > 100_000 {
                    break; // a cycle cannot happen in a process tree, but never loop forever
                }
                if let Some(p) = self.system.process(pid) {
                    usage.cpu_percent += p.cpu_usage();
                    usage.rss_bytes += p.memory();
                    usage.cpu_seconds += p.accumulated_cpu_time() as f64 / 1000.0;
                }
                if let Some(kids) = children.get(&pid) {
                    stack.extend(kids);
                }
            }
            if self.system.process(Pid::from_u32(root)).is_some() {
                out.insert(root, usage);
            }
        }
        out
    }
}

/// Samples the pids published on `roots` every `interval` and sends the results on `out`,
/// until `stop` is cancelled. A slow consumer just misses samples (the channel is bounded).
pub async fn run(
    mut roots: watch::Receiver<Vec<u32>>,
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
            let usage = s.sample(&pids);
            (s, usage)
        })
        .await;
        let Ok((s, usage)) = joined else { return };
        sampler = Some(s);
        let _ = out.try_send(usage);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_a_tree_including_children() {
        let mut child = std::process::Command::new("sh")
            .args(["-c", "sleep 5 & sleep 5; wait"])
            .spawn()
            .expect("spawn");
        let mut sampler = Sampler::default();
        let root = child.id();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        let mut tree_rss = 0;
        let mut alone_rss = 0;
        while std::time::Instant::now() < deadline {
            let usage = sampler.sample(&[root]);
            tree_rss = usage.get(&root).map_or(0, |u| u.rss_bytes);
            alone_rss = sampler
                .system
                .process(Pid::from_u32(root))
                .map_or(0, |p| p.memory());
            if tree_rss > alone_rss && alone_rss > 0 {
                break;
            }
            std::thread::yield_now();
        }
        let _ = child.kill();
        let _ = child.wait();
        assert!(
            tree_rss > alone_rss && alone_rss > 0,
            "tree {tree_rss} vs root {alone_rss}"
        );
    }

    #[test]
    fn threads_are_not_counted_as_processes() {
        let mut child = std::process::Command::new("python3")
            .args(["-c", "import threading,time\n[threading.Thread(target=time.sleep,args=(5,)).start() for _ in range(8)]\ntime.sleep(5)"])
            .spawn()
            .expect("spawn");
        let root = child.id();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        let threads = || std::fs::read_dir(format!("/proc/{root}/task")).map_or(0, |d| d.count());
        while threads() < 9 && std::time::Instant::now() < deadline {
            std::thread::yield_now();
        }
        let mut sampler = Sampler::default();
        let tree = sampler
            .sample(&[root])
            .get(&root)
            .map_or(0, |u| u.rss_bytes);
        let own = sampler
            .system
            .process(Pid::from_u32(root))
            .map_or(0, |p| p.memory());
        let _ = child.kill();
        let _ = child.wait();
        assert!(
            own > 0 && tree < 2 * own,
            "tree {tree} vs own {own}: threads were summed"
        );
    }

    #[test]
    fn cpu_seconds_accumulate_while_the_tree_works() {
        let mut child = std::process::Command::new("sh")
            .args(["-c", "while :; do :; done"])
            .spawn()
            .expect("spawn");
        let root = child.id();
        let mut sampler = Sampler::default();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let mut cpu = 0.0;
        while cpu < 0.05 && std::time::Instant::now() < deadline {
            cpu = sampler
                .sample(&[root])
                .get(&root)
                .map_or(0.0, |u| u.cpu_seconds);
            std::thread::sleep(Duration::from_millis(20)); // poll interval, not a wait for a result
        }
        let _ = child.kill();
        let _ = child.wait();
        assert!(cpu >= 0.05, "{cpu} s of CPU after a busy loop");
    }

    #[test]
    fn a_missing_pid_has_no_sample() {
        let mut sampler = Sampler::default();
        assert!(sampler.sample(&[u32::MAX - 1]).is_empty());
    }
}
