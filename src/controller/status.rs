//! What `corral get` and `corral describe` show: the controller's state as API shapes.

use std::time::{Instant, SystemTime};

use super::Controller;
use crate::api::{AppList, AppStatus, Condition, InstanceStatus};
use crate::manifest::RestartPolicy;
use crate::reconcile::{MemoryState, Phase};
use crate::supervisor::unix_ms;

/// Every app, sorted by name, with the manifest problems.
pub(super) fn app_list(ctl: &Controller, now: Instant) -> AppList {
    let apps = ctl
        .templates
        .keys()
        .filter_map(|name| app_status(ctl, name, now))
        .collect();
    AppList {
        apps,
        errors: ctl.store.problems.clone(),
    }
}

/// One app, if the controller knows it.
pub(super) fn app_status(ctl: &Controller, name: &str, now: Instant) -> Option<AppStatus> {
    let template = ctl.templates.get(name)?;
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
    let ready = instances
        .iter()
        .filter(|i| i.ready && i.revision == template.revision)
        .count() as u32;
    let live = instances.iter().filter(|i| i.pid.is_some()).count();
    let outdated = instances
        .iter()
        .any(|i| i.pid.is_some() && i.revision != template.revision);
    let suspended = located.is_some_and(|l| l.app.spec.suspend);
    let deadline = located.map(|l| l.app.spec.strategy.progress_deadline.0);
    let stalled = deadline.is_some_and(|d| ctl.rollouts.stalled(name, d, now));
    let rolling = ctl.rollouts.in_flight(name);
    let status = if desired.is_none() {
        if ctl.listening.error(name).is_some() {
            "Failed"
        } else if live > 0 {
            "Stopping"
        } else {
            "Stopped"
        }
    } else if backing_off {
        "CrashLoopBackOff"
    } else if suspended && live == 0 {
        "Suspended"
    } else if stalled {
        "ProgressDeadlineExceeded"
    } else if outdated {
        "Progressing"
    } else if ready >= replicas && live as u32 == replicas {
        if replicas == 0 {
            "Stopped"
        } else {
            "Running"
        }
    } else if completed {
        "Exited"
    } else {
        "Starting"
    };
    let problem = ctl.store.problem_for(name);
    let bind_error = ctl.listening.error(name);
    let max_unavailable = desired.map_or(0, |d| d.rollout.max_unavailable);
    let available = ready + max_unavailable >= replicas;
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
            message: format!("{ready} of {replicas} instance(s) ready"),
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
        ready,
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
    })
}

/// The sum of the sampled values, `None` when nothing was sampled.
fn sum<T: std::iter::Sum<T>>(mut values: impl Iterator<Item = T>) -> Option<T> {
    let first = values.next()?;
    Some(std::iter::once(first).chain(values).sum())
}
