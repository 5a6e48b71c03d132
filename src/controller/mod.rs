//! The controller: one loop that turns every event (manifest change, process exit, API call,
//! timer) into a reconcile — plan from desired + observed state, then execute the actions.

mod canary;
mod cronjobs;
mod desired;
mod events;
mod fdstore;
mod gitops;
mod history;
mod hooks;
mod jobs;
mod limits;
mod listen;
mod load;
mod memory;
mod metrics_snapshot;
mod preview;
mod record;
mod reports;
mod requests;
mod restart_schedule;
mod rollout;
mod shutdown;
mod starts;
mod status;
mod takeover;
mod upgrade;
mod watching;

pub use upgrade::{Succession, CONTROL_SOCKET, METRICS_SOCKET};

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tokio::time::sleep_until;
use tokio_util::sync::CancellationToken;

use crate::api::ApiRequest;
use crate::home::Home;
use crate::metrics::{self, Usage};
use crate::probe::ProbeReport;
use crate::reconcile::{self, Action, DesiredApp, Phase};
use crate::store::{self, Store};
use crate::supervisor::{record::Record, Exited, Supervisor, Template};

/// Quiet time after a change in the manifests directory before it is read (a `git checkout`
/// touching many files is one reload).
const DEBOUNCE: Duration = Duration::from_millis(250);
/// How often instances of apps with a `memory.limit` are sampled (the others every
/// `metrics::UNLIMITED_EVERY` times), unless `--sample-interval` says.
pub const SAMPLE_INTERVAL: Duration = Duration::from_secs(1);
/// An app whose listen ports could not be bound tries again this often.
const BIND_RETRY: Duration = Duration::from_secs(2);
/// The directory is re-read this often even without a change notification.
const RESYNC: Duration = Duration::from_secs(30);
/// A plan's own timer (an instance up for its 1 s, a back-off ending) fires this much late, so
/// that a thousand instances started within a second turn ready in a few dozen reconciles
/// rather than one per millisecond.
const REQUEUE_SLACK: Duration = Duration::from_millis(10);

/// What the controller runs on.
#[derive(Debug, Clone)]
pub struct Config {
    /// The manifests directory (absolute).
    pub manifests: PathBuf,
    /// `--profile`.
    pub profile: Option<String>,
    /// State directory.
    pub home: Home,
    /// How often CPU and memory are sampled and memory limits checked (`--sample-interval`).
    pub sample_interval: Duration,
    /// The service manager's notification socket (systemd `Type=notify`), if any.
    pub notifier: std::sync::Arc<crate::startup::notify::Notifier>,
    /// What a load refuses: untrusted paths (`--allow-shared-manifests`), instance caps.
    pub rules: store::Rules,
    /// Where the loop publishes what `/metrics` shows.
    pub metrics: crate::metrics::Published,
    /// Handing over to a successor (`corral upgrade`), taking over from a predecessor.
    pub succession: std::sync::Arc<Succession>,
    /// `--live-restore`: SIGTERM and SIGINT leave every app running for the next controller
    /// (unless the service manager is shutting the system down); `corral shutdown` stops them.
    pub live_restore: bool,
}

/// Why the controller could not run.
#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    /// The manifests directory cannot be read.
    #[error(transparent)]
    Manifests(#[from] store::DirError),
    /// The directory cannot be watched.
    #[error("cannot watch {}: {source}", dir.display())]
    Watch {
        /// The directory.
        dir: PathBuf,
        /// Why.
        #[source]
        source: notify::Error,
    },
    /// State under `$CORRAL_HOME` cannot be read or written.
    #[error("cannot use {}: {source}", path.display())]
    Home {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// The loop's state.
struct Controller {
    config: Config,
    store: Store,
    /// Process templates of the apps in force, plus those of deleted apps still stopping.
    templates: BTreeMap<String, Template>,
    desired: BTreeMap<String, DesiredApp>,
    /// `corral reload` count per app, folded into the revision.
    reloads: BTreeMap<String, u32>,
    /// When each app was first seen (unix ms), for AGE.
    created: BTreeMap<String, u64>,
    supervisor: Supervisor,
    cpus: u32,
    /// Revision history per app.
    histories: BTreeMap<String, history::History>,
    /// Rollouts in flight.
    rollouts: rollout::Rollouts,
    /// Progressive rollouts (canaries, `autoRollback`) in flight, saved in the home.
    canaries: canary::Canaries,
    /// `spec.hooks`: revisions held back for their `preRollout`, hook runs and their records.
    hooks: hooks::Hooks,
    /// Listening sockets per app.
    listening: listen::Listening,
    /// The preview ports of BlueGreen rollouts.
    previews: preview::Previews,
    /// Latest CPU/RSS sample per instance pid.
    usage: BTreeMap<u32, Usage>,
    /// The trees the metrics sampler should measure.
    sampled_pids: watch::Sender<Vec<metrics::Root>>,
    /// `spec.watch`: file watches per app.
    watches: crate::watch::Watches,
    /// `spec.restartSchedule`: the next scheduled rolling reload per app.
    restart_schedules: restart_schedule::RestartSchedules,
    /// The manifests directory's watch, through the symlinks that lead to it.
    manifests_watch: store::watch::DirWatch,
    /// The commit the manifests directory was last read at (inside a git work tree).
    commit: Option<Result<crate::gitops::AppliedCommit, String>>,
    /// The commit each app's definition in force was read at.
    synced: BTreeMap<String, crate::gitops::AppliedCommit>,
    /// The last write of the instance record failed (one event per run of failures).
    record_failing: bool,
    /// What `/metrics` shows, published after reconciles.
    metrics: metrics_snapshot::MetricsState,
    /// Held once a successor took the log pipes over: nothing here reads them again.
    paused_captures: Option<tokio::sync::OwnedRwLockWriteGuard<()>>,
    /// The listening sockets in the service manager's fd store, by name, with their inode.
    stored_fds: BTreeMap<String, u64>,
    /// Apps held back by `spec.dependsOn` at the last plan, with the reason.
    waiting: BTreeMap<String, String>,
    /// The dependency cycle each app is in (`a -> b -> a`), worked out at each load.
    cycles: BTreeMap<String, String>,
    /// Jobs and their runs.
    jobs: jobs::Jobs,
    /// CronJobs: their schedules, memories and Jobs.
    cronjobs: cronjobs::CronJobs,
}

/// Runs the controller until `shutdown` is cancelled, then stops every app gracefully; or
/// until a successor took over (`corral upgrade`, SIGUSR2 on `upgrades`), then exits leaving
/// every app running.
pub async fn run(
    config: Config,
    mut api: mpsc::Receiver<ApiRequest>,
    (mut hangups, mut upgrades): (mpsc::Receiver<()>, mpsc::Receiver<()>),
    shutdown: CancellationToken,
) -> Result<(), ControllerError> {
    // Started by `corral upgrade`: the predecessor's state comes first.
    let (predecessor, handed_state) = takeover::predecessor(&config.succession.inherited).await;
    let record_path = config.home.instances_record();
    let (record, record_trouble) = match Record::load(&record_path).await {
        Ok(record) => (record, None),
        Err(e) => {
            tracing::error!("{e}");
            (Record::default(), Some(e.to_string()))
        }
    };
    let (exits_tx, mut exits) = mpsc::channel::<Exited>(256);
    let (probes_tx, mut probes) = mpsc::channel::<ProbeReport>(256);
    let (pids_tx, pids_rx) = watch::channel(Vec::new());
    let (usage_tx, mut usage_rx) = mpsc::channel(1);
    let (watch_tx, mut watch_rx) = mpsc::channel(crate::watch::CHANNEL);
    let (hooks_tx, mut hooks_rx) = mpsc::channel(hooks::CHANNEL);
    let sampler_stop = CancellationToken::new();
    let sampler = tokio::spawn(metrics::run(
        pids_rx,
        usage_tx,
        config.sample_interval,
        sampler_stop.clone(),
    ));
    let config_home = config.home.clone();
    let inherited = config.succession.inherited.clone();
    let notifier = config.notifier.clone();
    let (wake_tx, mut wake) = mpsc::channel::<()>(1);
    let manifests_watch =
        store::watch::DirWatch::new(wake_tx).map_err(|source| ControllerError::Watch {
            dir: config.manifests.clone(),
            source,
        })?;
    let mut ctl = Controller {
        metrics: metrics_snapshot::MetricsState::new(config.metrics.clone()),
        supervisor: Supervisor::new(config.home.clone(), exits_tx, probes_tx),
        config,
        store: Store::default(),
        templates: BTreeMap::new(),
        desired: BTreeMap::new(),
        reloads: BTreeMap::new(),
        created: BTreeMap::new(),
        cpus: desired::online_cpus(),
        histories: BTreeMap::new(),
        rollouts: rollout::Rollouts::default(),
        canaries: canary::Canaries::load(config_home.root()).await,
        hooks: hooks::Hooks::load(config_home.root(), hooks_tx).await,
        listening: listen::Listening::new(inherited),
        previews: preview::Previews::default(),
        usage: BTreeMap::new(),
        sampled_pids: pids_tx,
        watches: crate::watch::Watches::new(config_home.root(), watch_tx),
        restart_schedules: restart_schedule::RestartSchedules::default(),
        manifests_watch,
        commit: None,
        synced: BTreeMap::new(),
        record_failing: false,
        paused_captures: None,
        stored_fds: BTreeMap::new(),
        waiting: BTreeMap::new(),
        cycles: BTreeMap::new(),
        jobs: jobs::Jobs::load(config_home.root()).await,
        cronjobs: cronjobs::CronJobs::load(config_home.root()).await,
    };
    if let Some(state) = handed_state {
        ctl.import_state(state);
    }
    let mut log_losses = ctl.supervisor.take_log_losses();
    let mut left_behind = ctl.supervisor.take_left_behind();
    // Orphans of instances are re-parented to the controller (a child subreaper): reaped here.
    let reaper_stop = CancellationToken::new();
    let reaper = tokio::spawn(crate::children::reaper::run(reaper_stop.clone()));
    ctl.supervisor.adopt(record, Instant::now());
    ctl.supervisor
        .adopt_orphans(record_trouble, Instant::now())
        .await;
    ctl.save_record().await; // the orphans in, a damaged record replaced
    ctl.supervisor.end_orphaned_hooks().await; // interrupted: they run again from the start
    ctl.reload().await?;
    ctl.take_over(predecessor).await;
    tracing::info!(manifests = %ctl.config.manifests.display(), "controller running");

    let mut reload_at: Option<Instant> = None;
    let first = if ctl.listening.has_errors() {
        BIND_RETRY
    } else {
        RESYNC
    };
    let mut resync_at = Instant::now() + first;
    // READY=1 once the first reconcile has started every app it can (and after each SIGHUP).
    let mut announce_ready = true;
    let mut watchdog = notifier.watchdog_interval().map(tokio::time::interval);
    let mut handed = None;
    // `corral shutdown`: every app is stopped, whatever `--live-restore` says.
    let mut shutdown_asked = false;
    loop {
        let mut requeue = ctl.reconcile().await;
        if ctl.fire_deferred_watches().await {
            requeue = ctl.reconcile().await;
        }
        if std::mem::take(&mut announce_ready) {
            notifier.ready();
        }
        let requeue = requeue.map(|t| t + REQUEUE_SLACK);
        let next = [
            requeue,
            reload_at,
            Some(resync_at),
            ctl.metrics.due(),
            ctl.restart_schedules.due(),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(resync_at);
        tokio::select! {
            _ = shutdown.cancelled() => break,
            Some(()) = wake.recv() => reload_at = Some(Instant::now() + DEBOUNCE),
            Some(exited) = exits.recv() => ctl.on_exit(exited),
            Some(report) = probes.recv() => ctl.on_probe(report),
            Some(req) = api.recv() => match req {
                ApiRequest::Upgrade { reply } => {
                    handed = ctl.upgrade(&mut api, Some(reply)).await;
                    if handed.is_some() {
                        break;
                    }
                }
                ApiRequest::Shutdown { reply } => {
                    tracing::info!("corral shutdown: stopping every app, then exiting");
                    let _ = reply.send(crate::api::Reply {
                        message: "stopping every app, then exiting".into(),
                    });
                    shutdown_asked = true;
                    break;
                }
                req => ctl.on_api(req).await,
            },
            Some(()) = upgrades.recv() => {
                tracing::info!("SIGUSR2: upgrading to the binary at {}", ctl.config.succession.exe.display());
                handed = ctl.upgrade(&mut api, None).await;
                if handed.is_some() {
                    break;
                }
            }
            Some(usage) = usage_rx.recv() => ctl.on_usage(usage),
            Some(msg) = watch_rx.recv() => ctl.on_watch(msg).await,
            Some(done) = hooks_rx.recv() => {
                if ctl.on_hook_done(done).await {
                    ctl.reload_logged().await;
                }
            }
            Some(loss) = log_losses.recv() => {
                ctl.metrics.count_log_loss(&loss);
                ctl.supervisor.on_log_loss(loss);
            }
            Some(left) = left_behind.recv() => ctl.supervisor.on_left_behind(left),
            Some(()) = hangups.recv() => {
                tracing::info!("SIGHUP: reading the manifests again");
                notifier.reloading();
                reload_at = None;
                ctl.reload_logged().await;
                ctl.store_fds();
                announce_ready = true;
            }
            _ = tick(&mut watchdog) => notifier.watchdog(),
            _ = sleep_until(next.into()) => {
                ctl.fire_restart_schedules().await;
                let now = Instant::now();
                if reload_at.is_some_and(|t| t <= now) || resync_at <= now {
                                        reload_at = None;
                    ctl.reload_logged().await;
                    ctl.store_fds();
                    // An app whose ports could not be bound tries again soon, not in 30 s.
                    let retry = if ctl.listening.has_errors() { BIND_RETRY } else { RESYNC };
                    resync_at = Instant::now() + retry;
                }
            }
        }
    }

    ctl.end_hooks(&mut hooks_rx, &mut api, handed.is_some())
        .await;
    if ctl
        .leave_apps_running(&mut api, handed.is_some(), shutdown_asked)
        .await
    {
        sampler_stop.cancel();
        let _ = sampler.await;
        reaper_stop.cancel();
        let _ = reaper.await;
        tracing::info!("exiting; every app keeps running");
        return Ok(());
    }

    tracing::info!("stopping every app");
    notifier.stopping();
    ctl.watches.shutdown().await;
    ctl.desired.clear();
    while !ctl.supervisor.is_empty() {
        ctl.stop_in_order();
        tokio::select! {
            Some(exited) = exits.recv() => ctl.on_exit(exited),
            Some(left) = left_behind.recv() => ctl.supervisor.on_left_behind(left),
            Some(_) = probes.recv() => {}
            Some(req) = api.recv() => ctl.on_api(req).await,
        }
    }
    ctl.supervisor.end_strays().await;
    ctl.save_record().await;
    sampler_stop.cancel();
    let _ = sampler.await;
    ctl.listening.shutdown().await;
    ctl.supervisor.shutdown().await;
    reaper_stop.cancel();
    let _ = reaper.await;
    tracing::info!("all apps stopped");
    Ok(())
}

impl Controller {
    /// Plans and executes until the plan is empty (bounded); returns when to plan again.
    async fn reconcile(&mut self) -> Option<Instant> {
        let started = Instant::now();
        let mut requeue = None;
        let mut changed = false;
        let steered = self.steer_canaries(started);
        // Saved before any instance starts: a controller killed mid-plan finds its run again.
        self.canaries.save().await;
        for _ in 0..8 {
            let now = Instant::now();
            let mut observed = self.supervisor.observed();
            observed.retain(|name, _| !self.jobs.owns(name));
            self.fill_job_states();
            let plan = reconcile::plan(&self.desired, &observed, now);
            requeue = [plan.requeue_at, steered].into_iter().flatten().min();
            self.note_waiting(plan.waiting);
            if plan.actions.is_empty() {
                break;
            }
            let mut starts = Vec::new();
            for action in plan.actions {
                // Readiness alone needs no record write (a probe's result never did one):
                // a thousand new instances turning ready one by one are not a thousand writes.
                changed |= !matches!(action, Action::MarkReady { .. });
                match action {
                    // Started together, in parallel (see `supervisor::batch`).
                    Action::Start { .. } => starts.push(action),
                    _ => {
                        self.start_all(std::mem::take(&mut starts), now).await;
                        self.execute(action, now).await;
                    }
                }
            }
            self.start_all(starts, now).await;
        }
        let cron_wake = self.step_cronjobs().await;
        let (jobs_wake, jobs_changed) = self.step_jobs().await;
        requeue = [requeue, jobs_wake, cron_wake].into_iter().flatten().min();
        if changed || jobs_changed {
            self.save_record().await;
        }
        self.canaries.save().await;
        self.hooks.save().await; // a hook started is recorded as running before it ends
        self.publish_sampled();
        self.track_rollouts(Instant::now());
        self.update_backends();
        self.prune().await;
        self.metrics.published.reconciled(started.elapsed());
        self.publish_metrics(Instant::now());
        requeue
    }

    async fn execute(&mut self, action: Action, now: Instant) {
        match action {
            Action::Start { .. } => self.start_all(vec![action], now).await,
            Action::Stop { id, reason } => {
                let app = self
                    .supervisor
                    .instance(id)
                    .map(|i| i.app.clone())
                    .unwrap_or_default();
                let stop = self.stop_spec(&app);
                self.supervisor.stop(
                    id,
                    reason,
                    stop.signal.0,
                    stop.timeout.0,
                    self.listening.drain(&app, id),
                );
            }
            Action::MarkReady { id } => self.supervisor.mark_ready(id, now),
        }
    }

    /// Updates rollout progress from the instances observed now.
    fn track_rollouts(&mut self, now: Instant) {
        let mut steps = Vec::new();
        let mut hook_steps = Vec::new();
        for (name, d) in &self.desired {
            let mut ready_new = 0;
            let mut others = 0;
            for inst in self.supervisor.instances_of(name) {
                match inst.phase {
                    Phase::Ready { .. }
                        if inst.revision == d.revision && inst.index < d.replicas =>
                    {
                        ready_new += 1
                    }
                    _ if inst.revision == d.revision && inst.phase != Phase::Stopping => {}
                    _ => others += 1,
                }
            }
            let complete = others == 0 && ready_new == d.replicas;
            if complete {
                hook_steps.push((name.clone(), d.revision.clone(), true));
            }
            if let Some(step) =
                self.rollouts
                    .observe(name, (&d.revision, d.replicas), ready_new, complete, now)
            {
                steps.push((name.clone(), step, ready_new));
            }
        }
        for (app, step, _) in &steps {
            // Started before completed: a first start is both within one reconcile.
            if *step == rollout::Step::Started {
                if let Some(d) = self.desired.get(app) {
                    hook_steps.insert(0, (app.clone(), d.revision.clone(), false));
                }
            }
        }
        for (app, step, ready_new) in steps {
            // A canary's or a preview's steps are told by its own events (CanaryWeight…).
            if !self.canary_holding(&app) {
                self.note_rollout(&app, step, ready_new);
            }
        }
        for (app, revision, complete) in hook_steps {
            self.hooks_after_step(&app, &revision, complete);
        }
    }

    /// How `app`'s instances are stopped (the default for an app already forgotten).
    fn stop_spec(&self, app: &str) -> crate::manifest::Stop {
        self.templates
            .get(app)
            .map(|t| t.stop.clone())
            .or_else(|| self.jobs.stop_spec(app))
            .unwrap_or_default()
    }

    /// Hands each app's proxy the instances ready to take traffic.
    fn update_backends(&mut self) {
        let apps: Vec<String> = self.listening.apps().cloned().collect();
        for app in apps {
            let ready = self
                .supervisor
                .instances_of(&app)
                .filter(|i| matches!(i.phase, Phase::Ready { .. }) && !i.ports.is_empty())
                .map(|i| crate::net::Backend {
                    id: i.id,
                    ports: i.ports.clone(),
                    revision: i.revision.clone(),
                })
                .collect();
            self.listening.set_backends(&app, ready);
        }
        self.update_previews();
    }

    /// Forgets deleted apps once their last process is gone, closing their sockets.
    async fn prune(&mut self) {
        let gone: Vec<String> = self
            .templates
            .keys()
            .filter(|a| {
                !self.store.apps.contains_key(*a)
                    && self.supervisor.instances_of(a).next().is_none()
            })
            .cloned()
            .collect();
        for app in gone {
            self.templates.remove(&app);
            self.created.remove(&app);
            self.reloads.remove(&app);
            self.rollouts.forget(&app);
            self.canaries.forget(&app);
            self.hooks.forget(&app);
            self.previews.remove(&app);
            self.histories.remove(&app);
            self.supervisor.forget_history(&app);
            self.supervisor.events.forget(&app);
            self.metrics.forget(&app);
            self.listening.remove(&app).await;
        }
    }
}

/// The next watchdog tick, or never when the watchdog is off.
async fn tick(watchdog: &mut Option<tokio::time::Interval>) {
    match watchdog {
        Some(interval) => {
            interval.tick().await;
        }
        None => std::future::pending().await,
    }
}

fn now_ms() -> u64 {
    crate::supervisor::unix_ms(std::time::SystemTime::now())
}
