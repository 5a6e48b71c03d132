//! CronJobs in the controller: at each fire time `schedule::decide` says what to do, and a run
//! is a Job named `NAME-<unix minutes>` (`NAME-<unix seconds>` with a seconds field) run
//! through the Job runtime (`run_job`), kept per the history limits. What a CronJob remembers
//! (when it was first seen, its last schedule time, its runs) is in `$CORRAL_HOME/cronjobs.json`,
//! so a run missed while no controller ran starts once on return if within the deadline.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::Controller;
use crate::api::CronJobStatus;
use crate::jobs::phase;
use crate::manifest::{JobSpec, LocatedCronJob};
use crate::schedule::decide::{self, Decision, Memory, Situation};
use crate::supervisor::Template;

/// What `cronjobs.json` keeps of one CronJob.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Saved {
    /// When it was first seen (unix s): earlier fire times were never due.
    since: Option<i64>,
    /// The fire time of its last run (unix s).
    last_schedule: Option<i64>,
    /// The last fire time given up as missed (unix s).
    last_missed: Option<i64>,
    /// The Jobs it made, oldest first.
    runs: Vec<String>,
    /// Each Job's revision when it was made: one whose CronJob's template changed since is
    /// not taken up again (it would run again under the new revision).
    #[serde(default)]
    revisions: BTreeMap<String, String>,
}

/// The file's shape.
#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    version: u32,
    cronjobs: BTreeMap<String, Saved>,
}

const VERSION: u32 = 1;

/// Every CronJob the controller runs.
pub(super) struct CronJobs {
    entries: BTreeMap<String, Entry>,
    /// What the file held for CronJobs not seen yet.
    saved: BTreeMap<String, Saved>,
    path: PathBuf,
    dirty: bool,
}

struct Entry {
    located: LocatedCronJob,
    memory: Memory,
    runs: Vec<String>,
    revisions: BTreeMap<String, String>,
    /// The fire time last held back under `Forbid` (said once).
    forbidden: Option<Timestamp>,
}

fn ts(s: Option<i64>) -> Option<Timestamp> {
    s.and_then(|s| Timestamp::from_second(s).ok())
}

impl CronJobs {
    /// The CronJobs recorded under the home at `root` (none if the file is missing or bad).
    pub(super) async fn load(root: &std::path::Path) -> Self {
        let path = root.join("cronjobs.json");
        let saved = match crate::home::read_json::<File>(&path, "CronJobs start afresh").await {
            Some(f) if f.version == VERSION => f.cronjobs,
            Some(_) => {
                tracing::warn!("{} is unreadable: CronJobs start afresh", path.display());
                BTreeMap::new()
            }
            None => BTreeMap::new(),
        };
        Self {
            entries: BTreeMap::new(),
            saved,
            path,
            dirty: false,
        }
    }

    /// The runs saved by an earlier controller, with their revisions, for CronJobs not taken
    /// up yet (what the first reload registers with the Job runtime; later, the runtime
    /// keeps each Job as it was made, whatever edits its CronJob gets).
    pub(super) fn known_runs(&self) -> BTreeMap<String, Vec<(String, String)>> {
        (self.saved.iter())
            .filter(|(n, _)| !self.entries.contains_key(*n))
            .map(|(n, s)| {
                let runs = (s.runs.iter())
                    .filter_map(|r| Some((r.clone(), s.revisions.get(r)?.clone())))
                    .collect();
                (n.clone(), runs)
            })
            .collect()
    }

    async fn save(&mut self) {
        if !std::mem::take(&mut self.dirty) {
            return;
        }
        let sec = |t: Option<Timestamp>| t.map(|t| t.as_second());
        let mut cronjobs = self.saved.clone();
        for (name, e) in &self.entries {
            let saved = Saved {
                since: sec(e.memory.since),
                last_schedule: sec(e.memory.last_schedule),
                last_missed: sec(e.memory.last_missed),
                runs: e.runs.clone(),
                revisions: e.revisions.clone(),
            };
            cronjobs.insert(name.clone(), saved);
        }
        let file = File {
            version: VERSION,
            cronjobs,
        };
        if let Err(e) = crate::home::write_json(&self.path, &file).await {
            tracing::warn!("cannot write {}: {e}", self.path.display());
            self.dirty = true;
        }
    }
}

/// A run of a CronJob to register with the Job runtime: (CronJob, Job name, spec, template, file).
pub(super) type CronRun = (String, String, JobSpec, Template, String);

/// The Job `job` of `cj` as an App, for its process template.
pub(super) fn run_app(cj: &LocatedCronJob, job: &str) -> Option<crate::manifest::Located> {
    let mut metadata = cj.cronjob.metadata.clone();
    metadata.name = crate::manifest::AppName::try_from(job.to_owned()).ok()?;
    let spec = &cj.cronjob.spec.job_template.spec;
    Some(spec.app_named(&metadata, &cj.file, cj.doc_index, cj.line))
}

impl Controller {
    /// Brings the CronJobs in line with the store just read; `runs` are their known Jobs,
    /// resolved (registered with the Job runtime before it drops what `jobs.json` held).
    pub(super) fn sync_cronjobs(&mut self, runs: Vec<CronRun>) {
        let now = Timestamp::now();
        let gone: Vec<String> = (self.cronjobs.entries.keys())
            .filter(|n| !self.store.cronjobs.contains_key(*n))
            .cloned()
            .collect();
        for name in gone {
            if let Some(e) = self.cronjobs.entries.remove(&name) {
                for job in e.runs {
                    self.forget_job(&job);
                }
            }
            self.cronjobs.dirty = true;
        }
        for (name, located) in &self.store.cronjobs {
            let entry = match self.cronjobs.entries.remove(name) {
                Some(mut e) => {
                    e.located = located.clone();
                    e
                }
                None => {
                    let saved = self.cronjobs.saved.remove(name).unwrap_or_default();
                    self.cronjobs.dirty = true;
                    Entry {
                        located: located.clone(),
                        memory: Memory {
                            // Whole seconds, as saved: the same AGE after a restart.
                            since: ts(saved.since).or(ts(Some(now.as_second()))),
                            last_schedule: ts(saved.last_schedule),
                            last_missed: ts(saved.last_missed),
                        },
                        runs: saved.runs,
                        revisions: saved.revisions,
                        forbidden: None,
                    }
                }
            };
            self.cronjobs.entries.insert(name.clone(), entry);
        }
        for (cj, job, spec, template, file) in runs {
            if self.cronjobs.entries.contains_key(&cj) && !self.jobs.owns(&job) {
                self.run_job(&job, (spec, template), &file, Some(cj));
            }
        }
        self.cronjobs.saved.clear();
    }

    /// Decides every CronJob now: creates the Jobs due, stops those `Replace` replaces, drops
    /// the finished ones past the history limits; returns when to look again.
    pub(super) async fn step_cronjobs(&mut self) -> Option<Instant> {
        let now = Timestamp::now();
        let mut wake: Option<Timestamp> = None;
        let names: Vec<String> = self.cronjobs.entries.keys().cloned().collect();
        for name in names {
            let Some(e) = self.cronjobs.entries.get(&name) else {
                continue;
            };
            let spec = &e.located.cronjob.spec;
            let schedule = spec.schedule();
            let active: Vec<String> = (e.runs.iter())
                .filter(|j| self.job_state(j).is_some_and(|s| is_active(&s.status)))
                .cloned()
                .collect();
            let situation = Situation {
                now,
                deadline: spec
                    .starting_deadline_seconds
                    .map(|s| SignedDuration::from_secs(i64::from(s))),
                suspended: spec.suspend,
                concurrency: spec.concurrency_policy.into(),
                active: active.len(),
            };
            let decision = decide::decide(&schedule, &e.memory, &situation);
            wake = [wake, decide::next_wake(&schedule, now)]
                .into_iter()
                .flatten()
                .min();
            match decision {
                Decision::Start { scheduled, replace } => {
                    if replace {
                        for job in &active {
                            let msg =
                                format!("stopped Job {job}: replaced by a newer run (Replace)");
                            self.supervisor
                                .events
                                .normal(&name, "SuccessfulDelete", msg);
                            self.forget_job(job);
                        }
                    }
                    let job = format!("{name}-{}", decide::run_suffix(&schedule, scheduled));
                    self.create_run(&name, &job).await;
                    if let Some(e) = self.cronjobs.entries.get_mut(&name) {
                        e.memory.last_schedule = Some(scheduled);
                        if !e.runs.contains(&job) {
                            e.runs.push(job);
                        }
                    }
                    self.cronjobs.dirty = true;
                }
                Decision::Forbidden { scheduled } => {
                    if let Some(e) = self.cronjobs.entries.get_mut(&name) {
                        if e.forbidden != Some(scheduled) {
                            e.forbidden = Some(scheduled);
                            let msg = format!(
                                "not starting the run of {scheduled}: {} still runs and concurrencyPolicy is Forbid",
                                active.join(", ")
                            );
                            self.supervisor
                                .events
                                .normal(&name, "JobAlreadyActive", msg);
                        }
                    }
                }
                Decision::Missed { scheduled } => {
                    let msg = format!(
                        "missed the run of {scheduled}: later than startingDeadlineSeconds"
                    );
                    self.supervisor.events.warning(&name, "MissSchedule", msg);
                    if let Some(e) = self.cronjobs.entries.get_mut(&name) {
                        e.memory.last_missed = Some(scheduled);
                    }
                    self.cronjobs.dirty = true;
                }
                Decision::Idle | Decision::Suspended => {}
            }
            self.trim_history(&name);
        }
        self.cronjobs.save().await;
        let now = Timestamp::now();
        wake.map(|t| {
            let wait = t.duration_since(now).max(SignedDuration::ZERO);
            Instant::now() + Duration::try_from(wait).unwrap_or(Duration::ZERO)
        })
    }

    /// Creates the Job `job` of CronJob `name` (its template resolved on the blocking pool).
    async fn create_run(&mut self, name: &str, job: &str) {
        let Some(e) = self.cronjobs.entries.get(name) else {
            return;
        };
        let Some(app) = run_app(&e.located, job) else {
            return;
        };
        let spec = e.located.cronjob.spec.job_template.spec.clone();
        let revision = spec.revision();
        let file = e.located.file.display().to_string();
        let trust = self.config.rules.trust;
        let template =
            match tokio::task::spawn_blocking(move || Template::resolve(&app, None, trust)).await {
                Ok(t) => t,
                Err(e) => {
                    tracing::error!("resolving {job}'s template failed: {e}");
                    return;
                }
            };
        self.run_job(job, (spec, template), &file, Some(name.to_owned()));
        if let Some(e) = self.cronjobs.entries.get_mut(name) {
            e.revisions.insert(job.to_owned(), revision);
        }
        self.supervisor
            .events
            .normal(name, "SuccessfulCreate", format!("created Job {job}"));
    }

    /// Forgets the oldest finished Jobs of `name` beyond its history limits, and the runs the
    /// Job runtime no longer knows.
    fn trim_history(&mut self, name: &str) {
        let Some(e) = self.cronjobs.entries.get(name) else {
            return;
        };
        let spec = &e.located.cronjob.spec;
        let (mut ok_left, mut failed_left) = (
            spec.successful_jobs_history_limit,
            spec.failed_jobs_history_limit,
        );
        let mut keep = Vec::new();
        let mut drop = Vec::new();
        for job in e.runs.iter().rev() {
            let Some(state) = self.job_state(job) else {
                drop.push((job.clone(), false));
                continue;
            };
            let left = match state.status.as_str() {
                phase::COMPLETE => &mut ok_left,
                phase::FAILED => &mut failed_left,
                _ => {
                    keep.push(job.clone());
                    continue;
                }
            };
            if *left > 0 {
                *left -= 1;
                keep.push(job.clone());
            } else {
                drop.push((job.clone(), true));
            }
        }
        if drop.is_empty() {
            return;
        }
        keep.reverse();
        for (job, known) in drop {
            if known {
                self.forget_job(&job);
            }
        }
        if let Some(e) = self.cronjobs.entries.get_mut(name) {
            e.revisions.retain(|job, _| keep.contains(job));
            e.runs = keep;
        }
        self.cronjobs.dirty = true;
    }

    /// What `corral get cronjobs` shows.
    pub(super) fn cronjob_statuses(&self) -> Vec<CronJobStatus> {
        let now = Timestamp::now();
        let ms = |t: Option<Timestamp>| t.map(|t| t.as_millisecond().max(0) as u64);
        (self.cronjobs.entries.iter())
            .map(|(name, e)| {
                let spec = &e.located.cronjob.spec;
                let schedule = spec.schedule();
                CronJobStatus {
                    name: name.clone(),
                    file: e.located.file.display().to_string(),
                    schedule: spec.schedule.to_string(),
                    time_zone: schedule.zone_name(),
                    suspend: spec.suspend,
                    concurrency_policy: format!("{:?}", spec.concurrency_policy),
                    active: (e.runs.iter())
                        .filter(|j| self.job_state(j).is_some_and(|s| is_active(&s.status)))
                        .cloned()
                        .collect(),
                    jobs: e.runs.clone(),
                    last_schedule_ms: ms(e.memory.last_schedule),
                    next_ms: ms((!spec.suspend).then(|| schedule.next_after(now)).flatten()),
                    created_ms: ms(e.memory.since).unwrap_or(0),
                }
            })
            .collect()
    }
}

/// Whether a Job in this status still runs (or will: `Suspended` is neither done nor failed).
fn is_active(status: &str) -> bool {
    status != phase::COMPLETE && status != phase::FAILED
}
