//! Jobs in the controller: each Job's runs are started and stopped through the supervisor
//! exactly as an app's instances are (one spawn path: env, user, limits, logs, cgroups,
//! reaping), their exits are fed to the Job's state machine ([`crate::jobs`]), and the results
//! are saved in `$CORRAL_HOME/jobs.json`. The planner never sees a Job's processes.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use super::Controller;
use crate::api::JobStatus;
use crate::jobs::{record, JobState};
use crate::manifest::JobSpec;
use crate::reconcile::{BackoffPolicy, StopReason};
use crate::supervisor::{unix_ms, Exited, StartRequest, Template};

/// Every Job the controller runs, and what `jobs.json` held at start.
pub(super) struct Jobs {
    entries: BTreeMap<String, Entry>,
    /// Statuses read from `jobs.json` not yet matched with a Job.
    saved: BTreeMap<String, JobStatus>,
    path: PathBuf,
    /// The statuses changed since the last save.
    dirty: bool,
}

/// One Job: its state, its process template, who made it.
struct Entry {
    state: JobState,
    template: Template,
    /// The CronJob that created it, `None` for a Job manifest.
    owner: Option<String>,
}

impl Jobs {
    /// The Jobs recorded under the home at `root`.
    pub(super) async fn load(root: &std::path::Path) -> Self {
        let path = record::path(root);
        Self {
            saved: record::load(&path).await,
            entries: BTreeMap::new(),
            path,
            dirty: false,
        }
    }

    /// Whether `name` is a Job's (its processes are not the planner's).
    pub(super) fn owns(&self, name: &str) -> bool {
        self.entries.contains_key(name)
    }

    /// Every Job's status, by name (not those past `ttlSecondsAfterFinished`).
    pub(super) fn statuses(&self) -> Vec<JobStatus> {
        let now = now_ms();
        (self.entries.values())
            .filter(|e| !e.state.expired(now))
            .map(|e| e.state.status.clone())
            .collect()
    }

    /// How `name`'s runs are stopped, when it is a Job.
    pub(super) fn stop_spec(&self, name: &str) -> Option<crate::manifest::Stop> {
        self.entries.get(name).map(|e| e.template.stop.clone())
    }
}

impl Controller {
    /// A Job's status, `None` when no Job has that name (or it expired): what a `Completed`
    /// dependency waits for (`status == "Complete"`, see [`crate::jobs::phase`]).
    pub(crate) fn job_state(&self, name: &str) -> Option<&JobStatus> {
        let entry = self.jobs.entries.get(name)?;
        (!entry.state.expired(now_ms())).then_some(&entry.state.status)
    }

    /// Runs the Job `name` from `spec` (the API a CronJob creates its Jobs through; `owner` is
    /// the CronJob): a Job already known at the same revision keeps its state (its `suspend`
    /// and `ttlSecondsAfterFinished` apply in place); at another revision its runs are stopped
    /// and it starts over; an unknown one starts, unless `jobs.json` says it finished at this
    /// revision. `template` is `spec.template` resolved ([`Template::resolve`], blocking).
    pub(crate) fn run_job(
        &mut self,
        name: &str,
        (spec, mut template): (JobSpec, Template),
        file: &str,
        owner: Option<String>,
    ) {
        let revision = spec.revision();
        template.revision = revision.clone();
        if let Some(entry) = self.jobs.entries.get_mut(name) {
            if entry.state.status.revision == revision {
                entry.state.spec = spec;
                entry.template = template;
                return;
            }
            self.supervisor.events.normal(
                name,
                "JobChanged",
                format!("revision {revision}: runs again from the start"),
            );
            self.stop_job_runs(name);
        }
        let state = match self.jobs.saved.remove(name) {
            Some(saved) => JobState::restored(saved, &revision, spec.clone()),
            None => None,
        }
        .unwrap_or_else(|| JobState::new(name, file, &revision, spec));
        self.jobs.dirty = true;
        let entry = Entry {
            state,
            template,
            owner,
        };
        self.jobs.entries.insert(name.to_owned(), entry);
    }

    /// Forgets the Job `name`: its runs are stopped, its record dropped (a deleted manifest, a
    /// CronJob's history limit).
    pub(crate) fn forget_job(&mut self, name: &str) {
        self.stop_job_runs(name);
        if self.jobs.entries.remove(name).is_some() {
            self.supervisor.forget_history(name);
            self.jobs.dirty = true;
        }
    }

    /// Brings the Jobs in line with the manifests just read: `resolved` holds each Job
    /// manifest's name, spec, template and file; Job manifests gone are forgotten.
    pub(super) fn sync_jobs(&mut self, resolved: Vec<(String, JobSpec, Template, String)>) {
        let gone: Vec<String> = (self.jobs.entries.iter())
            .filter(|(name, e)| e.owner.is_none() && !resolved.iter().any(|r| &r.0 == *name))
            .map(|(name, _)| name.clone())
            .collect();
        for name in gone {
            self.forget_job(&name);
        }
        for (name, spec, template, file) in resolved {
            self.run_job(&name, (spec, template), &file, None);
        }
        // What no Job claims any more is not worth keeping.
        self.jobs.saved.clear();
    }

    /// Steps every Job: starts and stops runs; returns when to step again, and whether a
    /// process was started or stopped (the instance record is to be written).
    pub(super) async fn step_jobs(&mut self) -> (Option<Instant>, bool) {
        let now = now_ms();
        self.hold_jobs(now);
        let mut wake: Option<u64> = None;
        let mut starts: Vec<(String, u32)> = Vec::new();
        let mut stops: Vec<String> = Vec::new();
        let mut expired: Vec<String> = Vec::new();
        for (name, entry) in &mut self.jobs.entries {
            let step = entry.state.step(now);
            if entry.state.expired(now) && entry.state.status.runs.iter().any(|r| r.pid.is_some()) {
                stops.push(name.clone());
            }
            if entry.state.expired(now) && !entry.state.status.runs.is_empty() {
                expired.push(name.clone());
            }
            self.jobs.dirty |= step.changed;
            for (warning, reason, message) in step.events {
                // What waits for it (`condition: Completed`) is looked at again at once.
                if reason == "JobCompleted" {
                    wake = Some(now);
                }
                let events = &mut self.supervisor.events;
                match warning {
                    true => events.warning(name, reason, message),
                    false => events.normal(name, reason, message),
                }
            }
            if !step.stop.is_empty() {
                stops.push(name.clone());
            }
            starts.extend(step.start.into_iter().map(|i| (name.clone(), i)));
            wake = [wake, step.wake_ms].into_iter().flatten().min();
        }
        let processes = !stops.is_empty() || !starts.is_empty();
        for name in stops {
            self.stop_job_runs(&name);
        }
        for name in expired {
            self.expire_job(&name).await;
        }
        for (name, index) in starts {
            self.start_run(&name, index).await;
        }
        self.stop_strays();
        if std::mem::take(&mut self.jobs.dirty) {
            let statuses = self.jobs.entries.values().map(|e| &e.state.status);
            if let Err(e) = record::save(&self.jobs.path, statuses).await {
                tracing::warn!("cannot write {}: {e}", self.jobs.path.display());
                self.jobs.dirty = true;
            }
        }
        let wake =
            wake.map(|ms| Instant::now() + Duration::from_millis(ms.saturating_sub(now_ms())));
        (wake, processes)
    }

    /// Tells each Job whether its `spec.dependsOn` holds it back now (the planner's rule for
    /// an App: [`crate::reconcile::depends::first_unmet`]).
    fn hold_jobs(&mut self, now: u64) {
        let entries = &mut self.jobs.entries;
        if entries.values().all(|e| e.state.spec.depends_on.is_empty()) {
            return;
        }
        let observed = self.supervisor.observed();
        let statuses: BTreeMap<String, String> = (entries.iter())
            .filter(|(_, e)| !e.state.expired(now))
            .map(|(name, e)| (name.clone(), e.state.status.status.clone()))
            .collect();
        for entry in entries.values_mut() {
            let deps = &entry.state.spec.depends_on;
            let reason =
                crate::reconcile::depends::first_unmet(deps, &statuses, &self.desired, &observed);
            entry.state.hold(reason);
        }
    }

    /// Feeds a process exit to its Job; `false` when it was not a Job's run.
    pub(super) fn job_exit(&mut self, exited: &Exited) -> bool {
        let Some(inst) = self.supervisor.instance(exited.id) else {
            return false;
        };
        if !self.jobs.owns(&inst.app) {
            return false;
        }
        let (name, index, pid) = (inst.app.clone(), inst.index, inst.pid);
        self.supervisor.on_exit(*exited, None, Instant::now());
        if let Some(entry) = self.jobs.entries.get_mut(&name) {
            let exit = exited.exit.to_string();
            let success = exited.exit.success();
            entry.state.run_exited(index, pid, exit, success, now_ms());
            self.jobs.dirty = true;
        }
        true
    }

    /// Starts run `index` of Job `name` through the supervisor, as an app's instance.
    async fn start_run(&mut self, name: &str, index: u32) {
        let Some(entry) = self.jobs.entries.get(name) else {
            return;
        };
        let template = entry.template.clone();
        let backoff = &entry.state.spec.template.backoff;
        let request = StartRequest {
            template: &template,
            index,
            backoff: BackoffPolicy {
                initial: backoff.initial.0,
                max: backoff.max.0,
                reset_after: backoff.reset_after.0,
            },
            listeners: None,
        };
        self.supervisor
            .start_all(vec![request], Instant::now())
            .await;
        let started = match self
            .supervisor
            .instances_of(name)
            .find(|i| i.index == index)
        {
            Some(inst) => Ok(inst.pid),
            None => Err(self
                .supervisor
                .last_exit(name, index)
                .cloned()
                .unwrap_or_else(|| "failed to start".into())),
        };
        if let Some(entry) = self.jobs.entries.get_mut(name) {
            entry.state.run_started(index, started, now_ms());
            self.jobs.dirty = true;
        }
    }

    /// Sends every process of Job `name` its stop signal (they count as neither success
    /// nor failure).
    fn stop_job_runs(&mut self, name: &str) {
        let stop = self.jobs.stop_spec(name).unwrap_or_default();
        let ids: Vec<u64> = self.supervisor.instances_of(name).map(|i| i.id).collect();
        for id in ids {
            let (signal, timeout) = (stop.signal.0, stop.timeout.0);
            self.supervisor
                .stop(id, StopReason::JobEnded, signal, timeout, None);
        }
    }

    /// Stops the processes of a Job that none of its runs is (left by an earlier controller
    /// or an earlier revision).
    fn stop_strays(&mut self) {
        let mut strays = Vec::new();
        for (name, entry) in &self.jobs.entries {
            for inst in self.supervisor.instances_of(name) {
                let claimed = (entry.state.active())
                    .any(|r| r.index == inst.index && r.pid == Some(inst.pid));
                if !claimed && inst.stop_reason.is_none() {
                    strays.push((inst.id, name.clone()));
                }
            }
        }
        for (id, name) in strays {
            let stop = self.jobs.stop_spec(&name).unwrap_or_default();
            let (signal, timeout) = (stop.signal.0, stop.timeout.0);
            self.supervisor
                .stop(id, StopReason::JobEnded, signal, timeout, None);
        }
    }

    /// Forgets the runs and logs of a Job past `ttlSecondsAfterFinished` (its status stays
    /// in `jobs.json`, so the unchanged manifest does not run again).
    async fn expire_job(&mut self, name: &str) {
        let Some(entry) = self.jobs.entries.get_mut(name) else {
            return;
        };
        entry.state.status.runs.clear();
        self.jobs.dirty = true;
        let dir =
            (entry.template.log_dir.clone()).unwrap_or_else(|| self.config.home.app_logs(name));
        self.supervisor.forget_history(name);
        self.supervisor.events.forget(name);
        let _ = tokio::task::spawn_blocking(move || std::fs::remove_dir_all(dir)).await;
    }
}

fn now_ms() -> u64 {
    unix_ms(SystemTime::now())
}
