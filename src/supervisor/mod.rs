//! Executes the planner's actions: spawns and stops processes, watches them exit, captures
//! their output, and keeps the record a later controller adopts them from. Decides no policy.

mod batch;
mod census;
mod cgroups;
mod events;
pub mod feed;
mod hook;
mod instance;
mod launch;
mod memory;
mod orphans;
mod probe_notes;
mod probes;
pub mod process;
mod program;
pub mod record;
mod reports;
mod shared;
mod spawn;
mod start_error;
mod start_request;
pub mod template;
mod tree;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::home::Home;
use crate::logs::LogLoss;
use crate::probe::ProbeReport;
use crate::reconcile::{
    BackoffPolicy, InstanceId, ObservedApp, ObservedInstance, Phase, SlotHistory, StopReason,
};
use shared::Shared;

pub use batch::StartRequest;
pub use events::{unix_ms, About, EventLog};
pub use hook::{HookDone, HookFailure, HookKind, HookRun, TAIL_LINES};
pub use instance::{Drain, Instance};
pub use reports::{Exit, Exited, LeftBehind};
pub use template::Template;

/// Reports of lost log lines waiting for the controller loop; capture tasks keep counting
/// (and retry) while it is full.
const LOG_LOSSES: usize = 64;

/// Reports of processes left behind waiting for the controller loop; each sweep waits for
/// room (its instance's exit is reported after it).
const LEFT_BEHIND: usize = 64;

/// All processes of all apps, and the history the planner needs.
pub struct Supervisor {
    shared: Shared,
    next_id: InstanceId,
    instances: BTreeMap<InstanceId, Instance>,
    slots: BTreeMap<String, BTreeMap<u32, SlotHistory>>,
    /// How the last process at each (app, index) ended, for people.
    last_exits: BTreeMap<(String, u32), String>,
    /// Per-app recent events (bounded).
    pub events: EventLog,
    /// Where instance cgroups go, found when the first instance starts (or is adopted).
    cgroups: Option<Result<crate::cgroup::Cgroups, crate::cgroup::Unavailable>>,
    /// The receiving end of `shared.log_losses`, until the controller takes it.
    log_losses: Option<mpsc::Receiver<LogLoss>>,
    /// Why each instance's probe last failed, and the `Unhealthy` events' rate limit.
    probe_notes: probe_notes::ProbeNotes,
    /// The receiving end of `shared.left_behind`, until the controller takes it.
    left_behind: Option<mpsc::Receiver<LeftBehind>>,
}

impl Supervisor {
    /// A supervisor whose tasks report exits on `exits` and probe results on `probes`.
    pub fn new(home: Home, exits: mpsc::Sender<Exited>, probes: mpsc::Sender<ProbeReport>) -> Self {
        let (log_losses_tx, log_losses) = mpsc::channel(LOG_LOSSES);
        let (left_behind_tx, left_behind) = mpsc::channel(LEFT_BEHIND);
        let census = std::sync::Arc::new(census::Census::new(orphans::owner(&home)));
        Self {
            shared: Shared {
                census,
                left_behind: left_behind_tx,
                home,
                exits,
                probes,
                tasks: TaskTracker::new(),
                captures_stop: CancellationToken::new(),
                captures_pause: crate::logs::CapturePause::default(),
                log_losses: log_losses_tx,
            },
            next_id: 1,
            instances: BTreeMap::new(),
            slots: BTreeMap::new(),
            last_exits: BTreeMap::new(),
            events: EventLog::default(),
            cgroups: None,
            log_losses: Some(log_losses),
            probe_notes: probe_notes::ProbeNotes::default(),
            left_behind: Some(left_behind),
        }
    }

    /// The channel of processes left behind, for the controller loop to pass to
    /// [`Self::on_left_behind`] (taken once; later calls get a closed channel).
    pub fn take_left_behind(&mut self) -> mpsc::Receiver<LeftBehind> {
        self.left_behind
            .take()
            .unwrap_or_else(|| mpsc::channel(1).1)
    }

    /// Records a `ProcessesLeftBehind` warning and keeps the instance out of rotation (and
    /// its slot from being refilled) until they are gone and its exit is reported.
    pub fn on_left_behind(&mut self, left: LeftBehind) {
        if let Some(inst) = self.instances.get_mut(&left.id) {
            inst.phase = Phase::Stopping;
        }
        let about = About::Instance(&left.app, left.index);
        self.events
            .warning_about(about, "ProcessesLeftBehind", left.to_string());
    }

    /// Ends every process still carrying this controller's marker (at shutdown, once every
    /// instance has exited): nothing outlives the controller. Returns how many there were.
    pub async fn end_strays(&self) -> usize {
        tree::end_strays(&self.shared.census).await
    }

    /// The channel of lost log lines, for the controller loop to pass to [`Self::on_log_loss`]
    /// (taken once; later calls get a closed channel).
    pub fn take_log_losses(&mut self) -> mpsc::Receiver<LogLoss> {
        self.log_losses.take().unwrap_or_else(|| mpsc::channel(1).1)
    }

    /// Records a run of lost log lines as a `LogLinesDropped` warning of its app.
    pub fn on_log_loss(&mut self, loss: LogLoss) {
        self.events
            .warning(&loss.app, "LogLinesDropped", loss.to_string());
    }

    /// What the planner sees.
    pub fn observed(&self) -> BTreeMap<String, ObservedApp> {
        let mut out: BTreeMap<String, ObservedApp> = BTreeMap::new();
        for inst in self.instances.values() {
            out.entry(inst.app.clone())
                .or_default()
                .instances
                .push(ObservedInstance {
                    id: inst.id,
                    index: inst.index,
                    revision: inst.revision.clone(),
                    started: inst.started,
                    phase: inst.phase,
                    memory: inst.memory,
                });
        }
        for (app, slots) in &self.slots {
            if !slots.is_empty() {
                out.entry(app.clone()).or_default().slots = slots.clone();
            }
        }
        out
    }

    /// Live instances of `app`, by index.
    pub fn instances_of<'a>(&'a self, app: &'a str) -> impl Iterator<Item = &'a Instance> + 'a {
        self.instances.values().filter(move |i| i.app == app)
    }

    /// Every live instance.
    pub fn all(&self) -> impl Iterator<Item = &Instance> {
        self.instances.values()
    }

    /// One live instance.
    pub fn instance(&self, id: InstanceId) -> Option<&Instance> {
        self.instances.get(&id)
    }

    /// Restart history of `app`'s slots.
    pub fn slots_of(&self, app: &str) -> Option<&BTreeMap<u32, SlotHistory>> {
        self.slots.get(app)
    }

    /// How the last process at `index` of `app` ended.
    pub fn last_exit(&self, app: &str, index: u32) -> Option<&String> {
        self.last_exits.get(&(app.to_owned(), index))
    }

    /// Whether no process is left.
    pub fn is_empty(&self) -> bool {
        self.instances.is_empty()
    }

    /// Sends the stop signal to an instance's process group, and SIGKILL after `timeout`.
    pub fn stop(
        &mut self,
        id: InstanceId,
        reason: StopReason,
        signal: nix::sys::signal::Signal,
        timeout: Duration,
        drain: Option<Drain>,
    ) {
        let Some(inst) = self.instances.get_mut(&id) else {
            return;
        };
        if inst.phase == Phase::Stopping {
            return;
        }
        let replaced = matches!(reason, StopReason::Replaced | StopReason::MemoryLimit);
        if replaced && matches!(inst.phase, Phase::Ready { .. }) {
            if let Some(slot) = self
                .slots
                .get_mut(&inst.app)
                .and_then(|s| s.get_mut(&inst.index))
            {
                slot.supersede();
            }
        }
        inst.begin_stop(reason, signal, timeout, drain, &self.shared.tasks);
        let why = match reason {
            StopReason::ScaledDown => "scaled down",
            StopReason::Deleted => "app removed",
            StopReason::Replaced => "replaced",
            StopReason::Unhealthy => "its liveness probe failed",
            StopReason::Shutdown => "the controller is shutting down",
            StopReason::MemoryLimit => "over its memory limit",
            StopReason::MemoryLimitBackOff => "over its memory limit again right after starting",
            StopReason::DependencyLost => "a dependency with `restart: true` is no longer met",
            StopReason::JobEnded => "its Job no longer wants it",
        };
        let msg = format!("stopping instance {} (pid {}): {why}", inst.index, inst.pid);
        let about = About::Instance(&inst.app, inst.index);
        self.events.normal_about(about, "Stopping", msg);
    }

    /// Applies a readiness result: ready, or back to not ready (taken out of rotation).
    pub fn set_ready(&mut self, id: InstanceId, passing: bool, message: &str, now: Instant) {
        let Some(inst) = self.instances.get_mut(&id) else {
            return;
        };
        let (app, index) = (inst.app.clone(), inst.index);
        match (inst.phase, passing) {
            (Phase::Starting, true) => {
                inst.phase = Phase::Ready { since: now };
                self.events.normal_about(
                    About::Instance(&app, index),
                    "Ready",
                    format!("instance {index} is ready: {message}"),
                );
            }
            (Phase::Ready { .. }, false) => {
                inst.phase = Phase::Starting;
                self.events.warning_about(
                    About::Instance(&app, index),
                    "Unready",
                    format!("instance {index} is not ready: {message}"),
                );
            }
            (Phase::Starting, false) => {
                self.events.warning_about(
                    About::Instance(&app, index),
                    "ReadinessFailed",
                    format!("instance {index} is not ready yet: {message}"),
                );
            }
            _ => {}
        }
    }

    /// Starts the probers of adopted instances whose revision's template is now known (the
    /// app's, or `other(app, revision)`: a canary's stable one); an adopted instance that was
    /// stopping gets its SIGKILL timer again (its app's `stop.timeout`, the default if the app
    /// is gone), so one that ignores its stop signal cannot linger.
    pub fn probe_adopted<'t>(
        &mut self,
        templates: &'t BTreeMap<String, Template>,
        other: impl Fn(&str, &str) -> Option<&'t Template>,
    ) {
        for inst in self.instances.values_mut() {
            if inst.probed || inst.phase != Phase::Stopping {
                continue;
            }
            let timeout = templates.get(&inst.app).map_or_else(
                || crate::manifest::Stop::default().timeout,
                |t| t.stop.timeout,
            );
            inst.escalate_after(timeout.0, &self.shared.tasks);
            inst.probed = true;
        }
        for inst in self.instances.values_mut().filter(|i| !i.probed) {
            if let Some(t) = templates.get(&inst.app) {
                orphans::name_ports(&mut inst.ports, &t.listen);
            }
        }
        for inst in self.instances.values_mut().filter(|i| !i.probed) {
            if let Some(t) = templates
                .get(&inst.app)
                .filter(|t| t.revision == inst.revision)
                .or_else(|| other(&inst.app, &inst.revision))
            {
                spawn::probe_adopted(&self.shared, t, inst);
            }
        }
    }

    /// The revision every live (not stopping) instance of `app` runs, when there are some and
    /// they all run one.
    pub fn sole_revision(&self, app: &str) -> Option<String> {
        let revisions: BTreeSet<&str> = self
            .instances_of(app)
            .filter(|i| i.phase != Phase::Stopping)
            .map(|i| i.revision.as_str())
            .collect();
        match revisions.len() {
            1 => revisions.first().map(|r| (*r).to_owned()),
            _ => None,
        }
    }

    /// The (app, revision) of every adopted instance whose probes are not started yet.
    pub fn unprobed_revisions(&self) -> BTreeSet<(String, String)> {
        self.instances
            .values()
            .filter(|i| !i.probed && i.phase != Phase::Stopping)
            .map(|i| (i.app.clone(), i.revision.clone()))
            .collect()
    }

    /// Marks an instance ready.
    pub fn mark_ready(&mut self, id: InstanceId, now: Instant) {
        if let Some(inst) = self.instances.get_mut(&id) {
            if inst.phase == Phase::Starting {
                inst.phase = Phase::Ready { since: now };
                let msg = format!(
                    "instance {} is ready: up without a readiness probe",
                    inst.index
                );
                let about = About::Instance(&inst.app, inst.index);
                self.events.normal_about(about, "Ready", msg);
            }
        }
    }

    /// Handles a process exit: planned stops are forgotten, unplanned ones go to the slot's
    /// history for the planner's restart decision.
    pub fn on_exit(&mut self, exited: Exited, backoff: Option<&BackoffPolicy>, now: Instant) {
        let Some(inst) = self.instances.remove(&exited.id) else {
            return;
        };
        inst.finish();
        // The capture holds its read end open; nothing needs the paths once the process is gone.
        inst.pipes.iter().for_each(crate::logs::LogPipe::remove);
        let oom = memory::oom_killed(&inst);
        self.remove_cgroup(&inst);
        let ran_for = now.saturating_duration_since(inst.started);
        self.last_exits
            .insert((inst.app.clone(), inst.index), exited.exit.to_string());
        let slots = self.slots.entry(inst.app.clone()).or_default();
        let over_memory =
            |r: &StopReason| matches!(r, StopReason::MemoryLimit | StopReason::MemoryLimitBackOff);
        let memory_note = inst.stop_reason.filter(over_memory).and_then(|reason| {
            let slot = slots.entry(inst.index).or_default();
            let exit = exited.exit.to_string();
            memory::memory_exit(slot, reason, inst.memory_exceeded, now, &exit)
        });
        if let Some(note) = memory_note {
            let msg = format!("instance {} (pid {}) stopped: {note}", inst.index, inst.pid);
            let about = About::Instance(&inst.app, inst.index);
            self.events.normal_about(about, "Stopped", msg);
            self.last_exits.insert((inst.app.clone(), inst.index), note);
            return;
        }
        match inst.stop_reason.filter(|r| !r.is_failure()) {
            Some(reason) => {
                if matches!(
                    reason,
                    StopReason::ScaledDown | StopReason::Deleted | StopReason::DependencyLost
                ) {
                    slots.remove(&inst.index);
                }
                let msg = format!(
                    "instance {} (pid {}) stopped: {}",
                    inst.index, inst.pid, exited.exit
                );
                let about = About::Instance(&inst.app, inst.index);
                self.events.normal_about(about, "Stopped", msg);
            }
            None => {
                let policy = backoff.copied().unwrap_or(BackoffPolicy {
                    initial: Duration::from_millis(100),
                    max: Duration::from_secs(30),
                    reset_after: Duration::from_secs(60),
                });
                slots.entry(inst.index).or_default().record_exit(
                    &policy,
                    now,
                    ran_for,
                    exited.exit.success(),
                );
                let (reason, how) = match oom {
                    Some(oom) => ("OOMKilled", format!("{oom}, then {}", exited.exit)),
                    None => ("Exited", exited.exit.to_string()),
                };
                let msg = format!("instance {} (pid {}) exited: {how}", inst.index, inst.pid);
                let about = About::Instance(&inst.app, inst.index);
                self.events.warning_about(about, reason, msg);
                self.last_exits.insert((inst.app.clone(), inst.index), how);
            }
        }
        if slots.is_empty() {
            self.slots.remove(&inst.app);
        }
    }

    /// Forgets the restart history of an app (`corral restart`, a deleted app).
    pub fn forget_history(&mut self, app: &str) {
        self.slots.remove(app);
        self.last_exits.retain(|(a, _), _| a != app);
    }

    /// Stops every instance of `app` at once for `corral restart`; the planner starts new ones
    /// as each old one exits.
    pub fn restart_app(
        &mut self,
        app: &str,
        signal: nix::sys::signal::Signal,
        timeout: Duration,
    ) -> usize {
        let ids: Vec<InstanceId> = self.instances_of(app).map(|i| i.id).collect();
        for id in &ids {
            self.stop(*id, StopReason::Replaced, signal, timeout, None);
        }
        self.forget_history(app);
        self.events.normal(
            app,
            "Restarting",
            format!("restarting {} instance(s)", ids.len()),
        );
        ids.len()
    }

    /// The record of live instances, for a controller that comes after a crash.
    pub fn record(&self) -> record::Record {
        record::Record {
            version: record::VERSION,
            instances: self
                .instances
                .values()
                .map(Instance::record_entry)
                .collect(),
        }
    }

    /// Adopts the processes a killed controller left, per its record; the rest are cleaned up.
    pub fn adopt(&mut self, record: record::Record, now: Instant) {
        let wall_now = SystemTime::now();
        for entry in record.instances {
            self.next_id = self.next_id.max(entry.id + 1);
            match spawn::adopt(&self.shared, &entry, now, wall_now) {
                Some(mut inst) => {
                    self.attach_cgroup(&mut inst);
                    let msg = format!(
                        "instance {} (pid {}) adopted from the previous controller",
                        entry.index, entry.pid
                    );
                    let about = About::Instance(&entry.app, entry.index);
                    self.events.normal_about(about, "Adopted", msg);
                    self.instances.insert(inst.id, inst);
                }
                None => {
                    for (n, path) in entry.pipes.iter().enumerate() {
                        let inode = entry.pipe_inodes.get(n).copied();
                        crate::logs::LogPipe::existing(path.clone(), inode).remove();
                    }
                }
            }
        }
    }

    /// Adopts the instances of this home that no record named (`why`: the record's trouble,
    /// if any), found by their marker; the planner then stops any duplicate.
    pub async fn adopt_orphans(&mut self, why: Option<String>, now: Instant) {
        let owner = orphans::owner(&self.shared.home);
        let run_dir = self.shared.home.run_dir();
        let known = self.instances.values().map(|i| i.pid).collect();
        let marks = self
            .instances
            .values()
            .filter_map(|i| i.tree.mark().map(str::to_owned))
            .collect();
        let found =
            tokio::task::spawn_blocking(move || orphans::scan(&owner, &run_dir, (&known, &marks)))
                .await
                .unwrap_or_default();
        let wall_now = SystemTime::now();
        for mut entry in found {
            if entry.id == 0 || self.instances.contains_key(&entry.id) {
                entry.id = self.next_id;
            }
            self.next_id = self.next_id.max(entry.id + 1);
            let Some(mut inst) = spawn::adopt(&self.shared, &entry, now, wall_now) else {
                continue;
            };
            self.attach_cgroup(&mut inst);
            let mut msg = format!(
                "instance {} (pid {}, revision {}) was running without a record entry; adopted by its marker",
                entry.index, entry.pid, entry.revision
            );
            if let Some(why) = &why {
                msg.push_str(&format!(" ({why})"));
            }
            if entry.pipes.is_empty() {
                msg.push_str("; its log pipes are gone, so its output is not captured");
            }
            tracing::warn!(app = %entry.app, "{msg}");
            let about = About::Instance(&entry.app, entry.index);
            self.events.warning_about(about, "AdoptedOrphan", msg);
            self.instances.insert(inst.id, inst);
        }
    }

    /// Holds every log capture between two reads, its lines written, until the guard is
    /// dropped: a successor reads the pipes meanwhile (`corral upgrade`).
    pub async fn pause_captures(&self) -> tokio::sync::OwnedRwLockWriteGuard<()> {
        std::sync::Arc::clone(&self.shared.captures_pause)
            .write_owned()
            .await
    }

    /// Kills the hooks a crashed controller of this home left running (see
    /// [`hook::end_orphaned`]); call before the first hook runs.
    pub async fn end_orphaned_hooks(&self) {
        let owner = orphans::owner(&self.shared.home);
        let _ = tokio::task::spawn_blocking(move || hook::end_orphaned(&owner)).await;
    }

    /// Runs `run` (an app's hook) with `template` in a task of its own; its end goes to `done`,
    /// and cancelling `stop` kills it.
    pub fn run_hook(
        &mut self,
        template: &Template,
        run: HookRun,
        (done, stop): (mpsc::Sender<HookDone>, CancellationToken),
    ) {
        let id = self.next_id;
        self.next_id += 1;
        hook::start(&self.shared, template, run, id, (done, stop));
    }

    /// Ends log capture and waits for every task (call once all instances have exited).
    pub async fn shutdown(self) {
        self.shared.captures_stop.cancel();
        self.shared.tasks.close();
        self.shared.tasks.wait().await;
        if let Some(Ok(cgroups)) = self.cgroups {
            // This home's folder of instance groups, if none is left (adoptable ones stay).
            let _ = tokio::task::spawn_blocking(move || std::fs::remove_dir(cgroups.dir)).await;
        }
    }
}
