//! A fake supervisor and clock: applies a [`Plan`]'s actions to an [`ObservedApp`] the way the
//! real supervisor does, so tests can drive the planner through whole lifecycles.
//!
//! - `Start` adds a `Starting` instance (`started = now`) and calls `record_restart` on its slot;
//! - `Stop` turns the instance `Stopping`; it exits `stop_delay` later and disappears, recording
//!   nothing (a planned stop);
//! - `MarkReady` turns `Starting` into `Ready { since: now }`;
//! - a crash removes the instance and calls `record_exit` on its slot (an unplanned exit);
//! - a memory sample over the limit flags the instance (`record_memory_exceeded`); its stop
//!   records `record_memory_exit` when it exits.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::super::*;

/// One application of a plan, kept for properties that look at the whole history.
#[derive(Debug, Clone)]
pub struct Step {
    /// When the plan ran.
    pub at: Instant,
    /// Observed state the planner saw.
    pub before: ObservedApp,
    /// The planner's answer.
    pub plan: Plan,
    /// Observed state right after the actions were executed.
    pub after: ObservedApp,
}

/// A check run after every plan execution.
pub type StepHook = Box<dyn FnMut(&Sim, &Step)>;

/// The fake supervisor, its clock and the app it runs.
pub struct Sim {
    /// What the manifest asks for.
    pub desired: DesiredApp,
    /// What the supervisor sees.
    pub obs: ObservedApp,
    /// The fake clock.
    pub now: Instant,
    /// How long a stopped process takes to exit.
    pub stop_delay: Duration,
    /// When each `Stopping` instance exits.
    exits_at: BTreeMap<InstanceId, Instant>,
    /// Why each `Stopping` instance was stopped.
    stop_reasons: BTreeMap<InstanceId, StopReason>,
    next_id: InstanceId,
    /// When the planner last asked to be woken.
    pub requeue_at: Option<Instant>,
    /// Called after every plan execution (property checks).
    pub on_step: Option<StepHook>,
}

impl Sim {
    /// A sim with nothing running yet.
    pub fn new(desired: DesiredApp, now: Instant) -> Self {
        Sim {
            desired,
            obs: ObservedApp::default(),
            now,
            stop_delay: Duration::from_millis(500),
            exits_at: BTreeMap::new(),
            stop_reasons: BTreeMap::new(),
            next_id: 1,
            requeue_at: None,
            on_step: None,
        }
    }

    /// Runs the planner on the current state without executing anything.
    pub fn plan(&self) -> Plan {
        let desired = BTreeMap::from([(self.desired.name.clone(), self.desired.clone())]);
        let observed = BTreeMap::from([(self.desired.name.clone(), self.obs.clone())]);
        plan(&desired, &observed, self.now)
    }

    /// Plans and executes once; returns the plan.
    pub fn step(&mut self) -> Plan {
        let before = self.obs.clone();
        let plan = self.plan();
        self.execute(&plan);
        self.requeue_at = plan.requeue_at;
        let step = Step {
            at: self.now,
            before,
            plan: plan.clone(),
            after: self.obs.clone(),
        };
        if let Some(mut hook) = self.on_step.take() {
            hook(self, &step);
            self.on_step = Some(hook);
        }
        plan
    }

    /// Executes `plan`'s actions in order, as the supervisor would.
    pub fn execute(&mut self, plan: &Plan) {
        for action in &plan.actions {
            match action {
                Action::Start {
                    app,
                    index,
                    revision,
                } => {
                    assert_eq!(app, &self.desired.name);
                    self.obs.slots.entry(*index).or_default().record_restart();
                    self.obs.instances.push(ObservedInstance {
                        id: self.next_id,
                        index: *index,
                        revision: revision.clone(),
                        started: self.now,
                        phase: Phase::Starting,
                        memory: MemoryState::Within,
                    });
                    self.next_id += 1;
                }
                Action::Stop { id, reason } => {
                    let inst = self.instance_mut(*id);
                    assert_ne!(inst.phase, Phase::Stopping, "stop sent twice to {id}");
                    let replaced = matches!(reason, StopReason::Replaced | StopReason::MemoryLimit);
                    if replaced && matches!(inst.phase, Phase::Ready { .. }) {
                        let index = inst.index;
                        self.obs.slots.entry(index).or_default().supersede();
                    }
                    let inst = self.instance_mut(*id);
                    inst.phase = Phase::Stopping;
                    self.exits_at.insert(*id, self.now + self.stop_delay);
                    self.stop_reasons.insert(*id, *reason);
                }
                Action::MarkReady { id } => {
                    let now = self.now;
                    let inst = self.instance_mut(*id);
                    assert_eq!(inst.phase, Phase::Starting, "MarkReady on {id}");
                    inst.phase = Phase::Ready { since: now };
                }
            }
        }
    }

    fn instance_mut(&mut self, id: InstanceId) -> &mut ObservedInstance {
        self.obs
            .instances
            .iter_mut()
            .find(|i| i.id == id)
            .unwrap_or_else(|| panic!("no instance {id}"))
    }

    /// The instance `id`.
    pub fn instance(&self, id: InstanceId) -> &ObservedInstance {
        self.obs.instances.iter().find(|i| i.id == id).unwrap()
    }

    /// Ids of the instances not being stopped, by index.
    pub fn live(&self) -> Vec<&ObservedInstance> {
        let mut v: Vec<_> = self
            .obs
            .instances
            .iter()
            .filter(|i| i.phase != Phase::Stopping)
            .collect();
        v.sort_by_key(|i| (i.index, i.id));
        v
    }

    /// The process `id` exits on its own (unplanned): it is removed and its slot records it.
    pub fn crash(&mut self, id: InstanceId, success: bool) {
        let pos = self.obs.instances.iter().position(|i| i.id == id).unwrap();
        let inst = self.obs.instances.remove(pos);
        if self.exits_at.remove(&id).is_some() {
            self.stopped(&inst);
            return; // it was being stopped: a planned exit
        }
        let ran_for = self.now - inst.started;
        let policy = self.desired.backoff;
        self.obs
            .slots
            .entry(inst.index)
            .or_default()
            .record_exit(&policy, self.now, ran_for, success);
    }

    /// A readiness probe passes for a `Starting` instance.
    pub fn probe_ready(&mut self, id: InstanceId) {
        let now = self.now;
        let inst = self.instance_mut(id);
        if inst.phase == Phase::Starting {
            inst.phase = Phase::Ready { since: now };
        }
    }

    /// The next time something happens by itself: a requeue or a stopped process exiting.
    pub fn next_wake(&self) -> Option<Instant> {
        let exit = self.exits_at.values().min().copied();
        [exit, self.requeue_at].into_iter().flatten().min()
    }

    /// Moves the clock to `to`, exiting stopped processes and planning at every wake-up on the
    /// way (the controller plans on every event and every requeue), then plans at `to`.
    pub fn advance_to(&mut self, to: Instant) {
        while let Some(wake) = self.next_wake().filter(|w| *w <= to) {
            self.now = self.now.max(wake);
            self.reap();
            self.step();
        }
        self.now = self.now.max(to);
        self.reap();
        self.step();
    }

    /// Moves the clock forward by `d` (see [`Sim::advance_to`]).
    pub fn advance(&mut self, d: Duration) {
        self.advance_to(self.now + d);
    }

    /// Removes stopped processes whose exit time has come.
    pub fn reap(&mut self) {
        let now = self.now;
        let done: Vec<InstanceId> = self
            .exits_at
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in done {
            self.exits_at.remove(&id);
            if let Some(pos) = self.obs.instances.iter().position(|i| i.id == id) {
                let inst = self.obs.instances.remove(pos);
                self.stopped(&inst);
            }
        }
    }

    /// Records the planned exit of `inst` as the supervisor does (memory stops only).
    fn stopped(&mut self, inst: &ObservedInstance) {
        let (now, slot) = (self.now, self.obs.slots.entry(inst.index).or_default());
        match self.stop_reasons.remove(&inst.id) {
            Some(StopReason::MemoryLimit) => slot.record_memory_exit(now, false),
            Some(StopReason::MemoryLimitBackOff) => slot.record_memory_exit(now, true),
            _ => {}
        }
    }

    /// A memory sample finds the live instance `id` over its limit (as the controller flags it).
    pub fn exceed_memory(&mut self, id: InstanceId) {
        let policy = self.desired.backoff;
        let now = self.now;
        let inst = self.instance_mut(id);
        if inst.phase == Phase::Stopping || inst.memory != MemoryState::Within {
            return;
        }
        let (index, ran_for) = (inst.index, now - inst.started);
        let again = self
            .obs
            .slots
            .entry(index)
            .or_default()
            .record_memory_exceeded(&policy, ran_for);
        self.instance_mut(id).memory = if again {
            MemoryState::ExceededAgain
        } else {
            MemoryState::Exceeded
        };
    }

    /// Lets time pass with no crashes (probes pass at once when `probe` is set) until the planner
    /// has nothing left to do; returns the number of wake-ups it took, or `None` past `limit`.
    pub fn settle(&mut self, probe: bool, limit: usize) -> Option<usize> {
        for n in 0..limit {
            if probe {
                let starting: Vec<InstanceId> = self
                    .obs
                    .instances
                    .iter()
                    .filter(|i| i.phase == Phase::Starting)
                    .map(|i| i.id)
                    .collect();
                for id in starting {
                    self.probe_ready(id);
                }
            }
            let plan = self.step();
            if plan.actions.is_empty() && self.next_wake().is_none() {
                return Some(n);
            }
            if plan.actions.is_empty() {
                let wake = self.next_wake().unwrap();
                self.now = self.now.max(wake);
                self.reap();
            }
        }
        None
    }

    /// Available instances (ready for `min_ready`) at indices `0..replicas`, per what is observed.
    pub fn available(&self) -> usize {
        let d = &self.desired;
        self.obs
            .instances
            .iter()
            .filter(|i| i.index < d.replicas)
            .filter(|i| match i.phase {
                Phase::Ready { since } => since + d.rollout.min_ready <= self.now,
                _ => false,
            })
            .count()
    }
}

/// One line per instance, times in ms before `now`: `#id @index rev phase`.
pub fn show(obs: &ObservedApp, now: Instant) -> String {
    let ago = |t: Instant| now.saturating_duration_since(t).as_millis();
    let mut out = String::new();
    for i in &obs.instances {
        let phase = match i.phase {
            Phase::Starting => "starting".to_string(),
            Phase::Ready { since } => format!("ready {}ms ago", ago(since)),
            Phase::Stopping => "stopping".to_string(),
        };
        let started = ago(i.started);
        out += &format!(
            "  #{} @{} {} started {started}ms ago, {phase}\n",
            i.id, i.index, i.revision
        );
    }
    for (index, h) in &obs.slots {
        if let Some(e) = h.last_exit {
            out += &format!(
                "  slot {index}: failures {}, exited {}ms ago\n",
                h.failures,
                ago(e.at)
            );
        }
    }
    out
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "before:\n{}", show(&self.before, self.at))?;
        writeln!(f, "actions: {:?}", self.plan.actions)?;
        write!(f, "after:\n{}", show(&self.after, self.at))
    }
}
