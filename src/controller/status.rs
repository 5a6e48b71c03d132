//! What `corral get` and `corral describe` show: the controller's state as API shapes.

use std::time::{Duration, Instant, SystemTime};

use super::Controller;
use crate::api::{AppList, AppStatus, Condition, InstanceStatus, RolloutStatus};
use crate::manifest::RestartPolicy;
use crate::reconcile::{MemoryState, Phase};
use crate::supervisor::unix_ms;

/// Every app, sorted by name, with the manifest problems.
pub(super) fn app_list(ctl: &Controller, now: Instant) -> AppList {
    // An app whose first revision waits for its preRollout hook has no template in force yet.
    let names: std::collections::BTreeSet<&String> = ctl
        .templates
        .keys()
        .chain(ctl.hooks.pending_apps())
        .collect();
    let apps = names
        .into_iter()
        .filter_map(|name| app_status(ctl, name, now))
        .collect();
    AppList {
        jobs: ctl.jobs.statuses(),
        cronjobs: ctl.cronjob_statuses(),
        apps,
        errors: ctl.store.problems.clone(),
    }
}

/// One app, if the controller knows it.
pub(super) fn app_status(ctl: &Controller, name: &str, now: Instant) -> Option<AppStatus> {
    let template = ctl
        .templates
        .get(name)
        .or_else(|| ctl.hooks.pending(name))?;
    let located = ctl.store.apps.get(name);
    let desired = ctl.desired.get(name);
    let wall_now = SystemTime::now();
    let at_wall = |t: Instant| {
        let ms = unix_ms(wall_now) as i128 + (t.saturating_duration_since(now).as_millis() as i128)
            - (now.saturating_duration_since(t).as_millis() as i128);
        ms.max(0) as u64
    };
    let slots = ctl.supervisor.slots_of(name).cloned().unwrap_or_default();
    let mut instances: Vec<InstanceStatus> = ctl
        .supervisor
        .instances_of(name)
        .map(|i| InstanceStatus {
            index: i.index,
            pid: Some(i.pid),
            revision: i.revision.clone(),
            phase: match i.phase {
                Phase::Starting => "Starting",
                Phase::Ready { .. } => "Running",
                Phase::Stopping => "Stopping",
            }
            .into(),
            ready: matches!(i.phase, Phase::Ready { .. }),
            restarts: slots.get(&i.index).map_or(0, |s| s.restarts),
            started_ms: Some(i.started_ms),
            last_exit: ctl.supervisor.last_exit(name, i.index).cloned(),
            probe_failure: ctl.supervisor.probe_failure(i.id),
            cpu_percent: ctl.usage.get(&i.pid).map(|u| u.cpu_percent),
            memory_bytes: ctl.usage.get(&i.pid).map(|u| u.rss_bytes),
            ..Default::default()
        })
        .collect();
    let mut backing_off = false;
    let mut completed = false;
    if let Some(d) = desired {
        for (index, slot) in &slots {
            let Some(exit) = slot.last_exit else { continue };
            // An instance over its memory limit still serving beside a replacement that backs
            // off does not hide the back-off.
            if *index >= d.replicas
                || ctl.supervisor.instances_of(name).any(|i| {
                    i.index == *index
                        && i.phase != Phase::Stopping
                        && i.memory == MemoryState::Within
                })
            {
                continue;
            }
            let restarts = match d.restart_policy {
                RestartPolicy::Always => true,
                RestartPolicy::OnFailure => !exit.success,
                RestartPolicy::Never => false,
            };
            let retry = slot.retry_at(&d.backoff).filter(|_| restarts);
            backing_off |= retry.is_some();
            completed |= !restarts;
            instances.push(InstanceStatus {
                index: *index,
                phase: if restarts {
                    "CrashLoopBackOff"
                } else {
                    "Exited"
                }
                .into(),
                restarts: slot.restarts,
                next_retry_ms: retry.map(at_wall),
                last_exit: ctl.supervisor.last_exit(name, *index).cloned(),
                ..Default::default()
            });
        }
    }
    instances.sort_by_key(|i| (i.index, i.started_ms));
    let replicas = desired.map_or(0, |d| d.replicas);
    let min_ready = desired.map_or(Duration::ZERO, |d| d.rollout.min_ready);
    let counts = Counts::of(ctl, name, &template.revision, min_ready, now);
    let suspended = located.is_some_and(|l| l.app.spec.suspend);
    let deadline = located.map(|l| l.app.spec.strategy.progress_deadline.0);
    // A canary's steps (pauses waiting for a promotion) are no lack of progress.
    let stalled =
        deadline.is_some_and(|d| ctl.rollouts.stalled(name, d, now)) && !ctl.canary_holding(name);
    let rolling = ctl.rollouts.in_flight(name);
    // A canary in flight, or a rollout aborted (by its analysis, `autoRollback`, or a person).
    let rollout: Option<RolloutStatus> = ctl.canary_status(name);
    let waiting = (ctl.waiting.get(name))
        .filter(|_| desired.is_some())
        .map(|reason| ctl.waiting_reason(name, reason));
    let status = decide(&Facts {
        deleted: desired.is_none(),
        waiting: waiting.is_some(),
        bind_failed: ctl.listening.error(name).is_some(),
        backing_off,
        completed,
        suspended,
        stalled,
        rollout: rollout.as_ref(),
        updating: ctl.rollouts.updating(name),
        replicas,
        counts,
    });
    let status = ctl.hook_status_word(name).unwrap_or(status);
    let problem = ctl.store.problem_for(name);
    let bind_error = ctl.listening.error(name);
    let max_unavailable = desired.map_or(0, |d| d.rollout.max_unavailable);
    let available = counts.available + max_unavailable >= replicas;
    let mut conditions = vec![
        Condition {
            kind: "Available".into(),
            status: available,
            reason: if available {
                "MinimumReplicasAvailable"
            } else {
                "MinimumReplicasUnavailable"
            }
            .into(),
            message: format!(
                "{} of {replicas} instance(s) available ({} ready)",
                counts.available, counts.ready
            ),
        },
        Condition {
            kind: "Progressing".into(),
            status: !stalled,
            reason: if stalled {
                "ProgressDeadlineExceeded"
            } else if rolling {
                "ReplicaSetUpdating"
            } else {
                "NewReplicaSetAvailable"
            }
            .into(),
            message: if stalled {
                format!(
                    "revision {} made no progress for {}: check corral describe and corral logs",
                    template.revision,
                    humantime::format_duration(deadline.unwrap_or_default())
                )
            } else if rolling {
                format!("rolling out revision {}", template.revision)
            } else {
                format!("revision {} is rolled out", template.revision)
            },
        },
        Condition {
            kind: "ManifestValid".into(),
            status: problem.is_none(),
            reason: if problem.is_some() {
                "InvalidManifest"
            } else {
                "Valid"
            }
            .into(),
            message: problem.map_or_else(
                || "the manifest in force is the one on disk".into(),
                |p| format!("{p} (the last good version keeps running)"),
            ),
        },
    ];
    if let Some(r) = rollout.as_ref().filter(|r| r.aborted.is_some()) {
        let (stable, canary) = (&r.stable.revision, &r.canary.revision);
        let why = r.aborted.as_deref().unwrap_or_default();
        conditions.push(Condition {
            kind: "Degraded".into(),
            status: true,
            reason: "RolloutAborted".into(),
            message: format!(
                "revision {stable} runs, not the manifest's {canary}: {why}; change the manifest or `corral rollout retry`"
            ),
        });
    }
    conditions.extend(ctl.hook_condition(name));
    if located.is_some_and(|l| !l.app.spec.depends_on.is_empty()) {
        conditions.push(Condition {
            kind: "DependenciesMet".into(),
            status: waiting.is_none(),
            reason: if waiting.is_some() { "Waiting" } else { "Met" }.into(),
            message: waiting
                .clone()
                .unwrap_or_else(|| "every dependency was met when it started (or it runs)".into()),
        });
    }
    conditions.extend(ctl.limits_condition(name));
    conditions.extend(ctl.synced_condition(name));
    Some(AppStatus {
        name: name.to_owned(),
        file: located
            .map(|l| l.file.display().to_string())
            .unwrap_or_default(),
        labels: located
            .map(|l| l.app.metadata.labels.clone())
            .unwrap_or_default(),
        revision: template.revision.clone(),
        desired: replicas,
        ready: counts.ready,
        updated: counts.updated,
        available: counts.available,
        status: status.into(),
        restarts: slots.values().map(|s| s.restarts).sum(),
        cpu_percent: sum(instances.iter().filter_map(|i| i.cpu_percent)),
        memory_bytes: sum(instances.iter().filter_map(|i| i.memory_bytes)),
        created_ms: ctl.created.get(name).copied().unwrap_or(0),
        error: problem
            .map(ToString::to_string)
            .or_else(|| bind_error.map(|e| format!("cannot listen: {e}"))),
        conditions,
        instances,
        events: ctl.supervisor.events.of(name),
        spec_yaml: located
            .and_then(|l| serde_yaml::to_string(&l.app.spec).ok())
            .unwrap_or_default(),
        watch: ctl.watches.status(name),
        commit: ctl.synced_commit(name),
        user: Some(match &template.confinement {
            Ok(confinement) => confinement.runs_as.clone(),
            Err(_) => located
                .and_then(|l| l.app.spec.user.as_ref())
                .map_or_else(|| "?".into(), |u| format!("{u} (cannot be had here)")),
        }),
        rollout,
        hooks: ctl.hook_statuses(name),
        restart_schedule: ctl.restart_schedules.status(name),
    })
}

/// An app's live instances counted the kubectl way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Counts {
    /// Live processes, stopping ones included.
    live: u32,
    /// Ready, any revision (READY).
    ready: u32,
    /// Ready at the desired revision.
    ready_updated: u32,
    /// At the desired revision and not stopping (UP-TO-DATE).
    updated: u32,
    /// Ready for `minReadySeconds`, any revision (AVAILABLE).
    available: u32,
    /// Live at another revision (stopping ones included).
    outdated: u32,
}

impl Counts {
    /// The counts of `app`'s live instances against `revision` at `now`.
    fn of(ctl: &Controller, app: &str, revision: &str, min_ready: Duration, now: Instant) -> Self {
        let mut c = Self::default();
        for i in ctl.supervisor.instances_of(app) {
            let current = i.revision == revision;
            c.live += 1;
            c.outdated += u32::from(!current);
            c.updated += u32::from(current && i.phase != Phase::Stopping);
            if let Phase::Ready { since } = i.phase {
                c.ready += 1;
                c.ready_updated += u32::from(current);
                c.available += u32::from(since + min_ready <= now);
            }
        }
        c
    }
}

/// What the status word is decided from.
#[derive(Debug, Clone, Copy, Default)]
struct Facts<'a> {
    /// The app's manifest is gone (or it is being removed).
    deleted: bool,
    /// Its ports could not be bound.
    bind_failed: bool,
    /// Held back by `spec.dependsOn` (no instance runs).
    waiting: bool,
    /// A wanted slot waits out a crash back-off.
    backing_off: bool,
    /// A wanted slot's process ended for good (the restart policy says so).
    completed: bool,
    /// `spec.suspend`.
    suspended: bool,
    /// The rollout in flight made no progress for `progressDeadline`.
    stalled: bool,
    /// A canary in flight or aborted.
    rollout: Option<&'a RolloutStatus>,
    /// A rollout to a new revision is in flight (until it completes).
    updating: bool,
    /// Wanted instances.
    replicas: u32,
    /// The live instances.
    counts: Counts,
}

/// The status word: trouble first (back-off, deadline), then a canary's state, then a rollout
/// in flight (`Progressing` until it completes, as kubectl says), then the steady states.
fn decide(f: &Facts) -> &'static str {
    let c = &f.counts;
    if f.deleted {
        if f.bind_failed {
            "Failed"
        } else if c.live > 0 {
            "Stopping"
        } else {
            "Stopped"
        }
    } else if f.waiting {
        "Waiting"
    } else if f.backing_off {
        "CrashLoopBackOff"
    } else if f.suspended && c.live == 0 {
        "Suspended"
    } else if f.stalled {
        "ProgressDeadlineExceeded"
    } else if let Some(r) = f.rollout {
        if r.aborted.is_some() {
            "Degraded"
        } else if r.paused {
            "Paused"
        } else {
            "Progressing"
        }
    } else if f.updating || c.outdated > 0 {
        "Progressing"
    } else if c.ready_updated >= f.replicas && c.live == f.replicas {
        if f.replicas == 0 {
            "Stopped"
        } else {
            "Running"
        }
    } else if f.completed {
        "Exited"
    } else {
        "Starting"
    }
}

/// The sum of the sampled values, `None` when nothing was sampled.
fn sum<T: std::iter::Sum<T>>(mut values: impl Iterator<Item = T>) -> Option<T> {
    let first = values.next()?;
    Some(std::iter::once(first).chain(values).sum())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Four instances wanted, `ready` of `live` ready at the desired revision, none outdated.
    fn steady(live: u32, ready: u32) -> Facts<'static> {
        Facts {
            replicas: 4,
            counts: Counts {
                live,
                ready,
                ready_updated: ready,
                updated: live,
                available: ready,
                outdated: 0,
            },
            ..Facts::default()
        }
    }

    #[test]
    fn a_rollout_to_a_new_revision_is_progressing_until_it_completes() {
        // The last new instance not ready yet, every old one gone: still the rollout.
        let mut f = steady(4, 3);
        assert_eq!(decide(&f), "Starting", "a first start");
        f.updating = true;
        assert_eq!(decide(&f), "Progressing");
        f.counts.outdated = 1;
        f.updating = false;
        assert_eq!(decide(&f), "Progressing", "an old instance still runs");
        assert_eq!(decide(&steady(4, 4)), "Running");
    }

    #[test]
    fn trouble_goes_before_progress_and_every_word_stays_reachable() {
        let mut f = steady(4, 3);
        f.updating = true;
        f.stalled = true;
        assert_eq!(decide(&f), "ProgressDeadlineExceeded");
        f.backing_off = true;
        assert_eq!(decide(&f), "CrashLoopBackOff");
        let mut f = steady(0, 0);
        f.suspended = true;
        assert_eq!(decide(&f), "Suspended");
        f.suspended = false;
        f.completed = true;
        assert_eq!(decide(&f), "Exited");
        f.replicas = 0;
        assert_eq!(decide(&f), "Stopped");
        let mut f = steady(2, 2);
        f.deleted = true;
        assert_eq!(decide(&f), "Stopping");
        f.counts = Counts::default();
        assert_eq!(decide(&f), "Stopped");
        f.bind_failed = true;
        assert_eq!(decide(&f), "Failed");
        let mut f = steady(0, 0);
        f.backing_off = true;
        f.waiting = true;
        assert_eq!(decide(&f), "Waiting", "held back, not crash-looping");
    }

    #[test]
    fn a_canary_is_progressing_paused_or_degraded() {
        let mut r = RolloutStatus {
            strategy: "Canary".into(),
            weight: 10,
            ..RolloutStatus::default()
        };
        fn f(r: &RolloutStatus) -> Facts<'_> {
            Facts {
                rollout: Some(r),
                ..steady(5, 5)
            }
        }
        assert_eq!(decide(&f(&r)), "Progressing");
        r.paused = true;
        assert_eq!(decide(&f(&r)), "Paused");
        r.aborted = Some("error rate 20% against 0%".into());
        assert_eq!(decide(&f(&r)), "Degraded");
        let mut stalled = f(&r);
        stalled.backing_off = true;
        assert_eq!(decide(&stalled), "CrashLoopBackOff");
    }
}
