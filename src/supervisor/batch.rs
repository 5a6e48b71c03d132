//! Starting the instances one plan asks for together: the blocking part of each start (its
//! log pipes, the spawn, which waits for the child to exec) runs on the blocking pool, several at
//! once, so a thousand starts neither stall the runtime nor wait for each other one by one.

use std::collections::BTreeMap;
use std::io;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;

use super::shared::Shared;
use super::{spawn, About, Instance, Supervisor, Template};
use crate::cgroup::Cgroups;
use crate::net::AppListeners;
use crate::reconcile::{BackoffPolicy, InstanceId};

/// Starts in flight at once, at most: each holds a blocking-pool thread until its child has
/// exec'd, and while one waits for its child the others make its pipes and spawn. More would
/// only queue for the pool's threads.
const PARALLEL: usize = crate::threads::BLOCKING_THREADS;

/// One instance to start.
pub struct StartRequest<'a> {
    /// What to run.
    pub template: &'a Template,
    /// At which index.
    pub index: u32,
    /// Its app's restart delays: a failure to start counts as a failed run.
    pub backoff: BackoffPolicy,
    /// The app's shared sockets, if it listens.
    pub listeners: Option<&'a AppListeners>,
}

/// One start with everything it needs owned, to run on the blocking pool.
struct Job {
    template: Arc<Template>,
    id: InstanceId,
    index: u32,
    /// Dups of the app's inherit-mode sockets (or why they could not be made).
    inherit: io::Result<Option<Vec<(OwnedFd, String)>>>,
    cgroups: Option<Cgroups>,
}

impl Supervisor {
    /// Starts the instances `requests` name, in parallel off the runtime's workers, then
    /// records each (in order) as started or as failed to start.
    pub async fn start_all(&mut self, requests: Vec<StartRequest<'_>>, now: Instant) {
        if requests.is_empty() {
            return;
        }
        let mut templates: BTreeMap<String, Arc<Template>> = BTreeMap::new();
        let mut jobs = Vec::with_capacity(requests.len());
        for req in &requests {
            let (app, index) = (&req.template.app, req.index);
            let id = self.next_id;
            self.next_id += 1;
            let cgroups = self.cgroups().ok();
            let slots = self.slots.entry(app.clone()).or_default();
            slots.entry(index).or_default().record_restart();
            let template = templates
                .entry(app.clone())
                .or_insert_with(|| Arc::new(req.template.clone()))
                .clone();
            let inherit = req.listeners.map(AppListeners::dup_inherit_fds).transpose();
            jobs.push(Job {
                template,
                id,
                index,
                inherit,
                cgroups,
            });
        }
        let began = Instant::now();
        let results = run(self.shared.clone(), templates, jobs).await;
        let ms = began.elapsed().as_millis() as u64;
        tracing::debug!(instances = requests.len(), ms, "spawned a batch");
        for (req, result) in requests.iter().zip(results) {
            self.started(req, result, now);
        }
    }

    /// Records the outcome of one start: a `Started` event and a live instance, or a failed
    /// run at its index and a `FailedToStart` warning.
    fn started(&mut self, req: &StartRequest<'_>, result: io::Result<Instance>, now: Instant) {
        let (app, index) = (&req.template.app, req.index);
        match result {
            Ok(inst) => {
                let msg = format!(
                    "instance {index} started (pid {}, revision {})",
                    inst.pid, req.template.revision
                );
                self.events
                    .normal_about(About::Instance(app, index), "Started", msg);
                self.instances.insert(inst.id, inst);
            }
            Err(e) => {
                let slot = self.slots.entry(app.clone()).or_default();
                slot.entry(index).or_default().record_exit(
                    &req.backoff,
                    now,
                    Duration::ZERO,
                    false,
                );
                let note = format!("failed to start: {e}");
                self.last_exits.insert((app.clone(), index), note);
                self.events.warning_about(
                    About::Instance(app, index),
                    "FailedToStart",
                    format!("instance {index} could not start: {e}"),
                );
            }
        }
    }
}

/// Prepares each template once, then runs the jobs [`PARALLEL`] at a time on the blocking
/// pool; the results come back in the jobs' order.
async fn run(
    shared: Shared,
    templates: BTreeMap<String, Arc<Template>>,
    jobs: Vec<Job>,
) -> Vec<io::Result<Instance>> {
    let prep_shared = shared.clone();
    let prepared = tokio::task::spawn_blocking(move || {
        templates
            .into_iter()
            .map(|(app, t)| {
                (
                    app,
                    spawn::prepare(&prep_shared, &t).map_err(|e| e.to_string()),
                )
            })
            .collect::<BTreeMap<_, _>>()
    })
    .await
    .unwrap_or_default();
    let prepared = Arc::new(prepared);
    futures::stream::iter(jobs)
        .map(|job| {
            let (shared, prepared) = (shared.clone(), Arc::clone(&prepared));
            async move {
                tokio::task::spawn_blocking(move || {
                    let prepared = match prepared.get(&job.template.app) {
                        Some(Ok(prepared)) => prepared,
                        Some(Err(e)) => return Err(io::Error::other(e.clone())),
                        None => return Err(io::Error::other("its start was not prepared")),
                    };
                    let what = (job.template.as_ref(), prepared);
                    let ids = (job.id, job.index);
                    let cgroups = job.cgroups.as_ref();
                    spawn::spawn(&shared, what, ids, job.inherit?, cgroups)
                })
                .await
                .unwrap_or_else(|e| Err(io::Error::other(e)))
            }
        })
        .buffered(PARALLEL)
        .collect()
        .await
}
