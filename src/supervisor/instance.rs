//! One supervised process: its identity, phase, log capture and stop escalation.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use nix::sys::signal::Signal;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::events::unix_ms;
use super::process;
use super::record::RecordEntry;
use super::template::Template;
use super::tree::Tree;
use crate::logs::{LogPipe, Rotation};
use crate::reconcile::{InstanceId, MemoryState, Phase, StopReason};

/// A live process started (or adopted) by this controller.
#[derive(Debug)]
pub struct Instance {
    /// Supervisor id.
    pub id: InstanceId,
    /// App name.
    pub app: String,
    /// Index (`CORRAL_INSTANCE`).
    pub index: u32,
    /// Revision it runs.
    pub revision: String,
    /// Process id; also its process group id.
    pub pid: u32,
    /// Start time in clock ticks since boot.
    pub start_ticks: u64,
    /// When it started (monotonic).
    pub started: Instant,
    /// When it started (unix ms).
    pub started_ms: u64,
    /// Phase for the planner.
    pub phase: Phase,
    /// Set once a stop was sent: the exit is planned.
    pub stop_reason: Option<StopReason>,
    /// Pipes carrying its output (named FIFOs, or anonymous pipes re-opened through /proc).
    pub pipes: Vec<LogPipe>,
    /// Whether its log lines get timestamps (kept for adoption).
    pub timestamps: bool,
    /// When its log files rotate (kept for adoption).
    pub rotation: Rotation,
    /// Its stdout and stderr log files (kept for adoption).
    pub log_files: Vec<PathBuf>,
    /// Its own loopback port per tcp/http listen entry (`PORT`, `PORT_<NAME>`).
    pub ports: Vec<(String, u16)>,
    /// Cancels the SIGKILL escalation once the process is gone.
    pub escalation: CancellationToken,
    /// Ends its probers.
    pub probes: CancellationToken,
    /// Whether its probers were started (false for an adopted one until its template is known).
    pub probed: bool,
    /// Its standing against `memory.limit`.
    pub memory: MemoryState,
    /// The RSS (bytes) a sample found over the limit (bytes), and that limit.
    pub memory_exceeded: Option<(u64, u64)>,
    /// Its own cgroup, where the controller has a delegated cgroup v2 subtree.
    pub cgroup: Option<crate::cgroup::Group>,
    /// Its whole process tree: group, descendants, marked daemons (what a stop ends).
    pub tree: Arc<Tree>,
}

impl Instance {
    /// A just-spawned instance of `template`: its main process `(pid, start_ticks)` and tree.
    pub fn new(
        id: InstanceId,
        template: &Template,
        index: u32,
        (pid, start_ticks, tree): (u32, u64, Arc<Tree>),
        pipes: Vec<LogPipe>,
        ports: Vec<(String, u16)>,
    ) -> Self {
        Self {
            id,
            app: template.app.clone(),
            index,
            revision: template.revision.clone(),
            pid,
            start_ticks,
            started: Instant::now(),
            started_ms: unix_ms(SystemTime::now()),
            phase: Phase::Starting,
            stop_reason: None,
            pipes,
            timestamps: template.logs.timestamps,
            rotation: crate::logs::Rotation::of(&template.logs),
            log_files: Vec::new(),
            ports,
            escalation: CancellationToken::new(),
            probes: CancellationToken::new(),
            probed: true,
            memory: MemoryState::Within,
            memory_exceeded: None,
            cgroup: None,
            tree,
        }
    }

    /// Sends `signal` to the group now and SIGKILL after `timeout` unless it exits first.
    pub fn begin_stop(
        &mut self,
        reason: StopReason,
        signal: Signal,
        timeout: Duration,
        drain: Option<Drain>,
        tasks: &TaskTracker,
    ) {
        self.phase = Phase::Stopping;
        self.stop_reason = Some(reason);
        self.probes.cancel();
        let (done, app, tree) = (self.escalation.clone(), self.app.clone(), self.tree.clone());
        let pgid = self.pid;
        let escaped = (self.tree.clone(), tasks.clone());
        self.tree.set_planned();
        let send = move || {
            if let Err(e) = process::signal_group(pgid, signal) {
                tracing::warn!(app, pid = pgid, "cannot signal the process group: {e}");
            }
            // What left the group (daemons) gets the same signal.
            escaped.1.spawn(escaped.0.clone().stop_escaped(signal));
        };
        if drain.is_none() {
            send();
        }
        tasks.spawn(async move {
            if let Some(drain) = drain {
                // Out of rotation already: let requests in flight finish, but only briefly —
                // keep-alive connections never end by themselves, and the app closes them
                // (finishing what is in flight) once it gets its stop signal.
                tokio::select! {
                    _ = done.cancelled() => return,
                    _ = tokio::time::timeout(timeout.min(DRAIN_GRACE), drain) => send(),
                }
            }
            escalate(tree, done, timeout).await;
        });
    }

    /// Sends SIGKILL after `timeout` unless it exits first, for an instance adopted while it
    /// was stopping: the controller that sent its stop signal is gone, and its timer with it.
    pub fn escalate_after(&self, timeout: Duration, tasks: &TaskTracker) {
        self.tree.set_planned();
        tasks.spawn(escalate(
            self.tree.clone(),
            self.escalation.clone(),
            timeout,
        ));
    }

    /// Cleans up after the process exited: ends the escalation timer and kills any process
    /// left in its group (a forked child that outlived its parent).
    pub fn finish(&self) {
        self.escalation.cancel();
        self.probes.cancel();
        let _ = process::signal_group(self.pid, Signal::SIGKILL);
    }

    /// This instance as a record entry.
    pub fn record_entry(&self) -> RecordEntry {
        RecordEntry {
            id: self.id,
            app: self.app.clone(),
            index: self.index,
            revision: self.revision.clone(),
            pid: self.pid,
            start_ticks: self.start_ticks,
            started_ms: self.started_ms,
            ready: matches!(self.phase, Phase::Ready { .. }),
            stopping: self.phase == Phase::Stopping,
            pipes: self.pipes.iter().map(|p| p.path().to_path_buf()).collect(),
            pipe_inodes: self.pipes.iter().filter_map(LogPipe::inode).collect(),
            timestamps: self.timestamps,
            rotation: self.rotation,
            log_files: self.log_files.clone(),
            ports: self.ports.clone(),
            mark: self.tree.mark().map(str::to_owned),
        }
    }
}

/// SIGKILL to the whole `tree` after `timeout`, unless `done` is cancelled first.
async fn escalate(tree: Arc<Tree>, done: CancellationToken, timeout: Duration) {
    tokio::select! {
        _ = done.cancelled() => {}
        _ = tokio::time::sleep(timeout) => tree.kill().await,
    }
}

/// The longest an instance out of rotation waits for its open connections to end before it
/// gets its stop signal (then `stop.timeout` runs until SIGKILL).
pub const DRAIN_GRACE: Duration = Duration::from_secs(1);

/// Resolves once an instance has no open connections left through the controller's proxy.
pub type Drain = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;
