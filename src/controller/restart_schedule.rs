//! `spec.restartSchedule` on the controller loop: PM2's `cron_restart` as a rolling reload, the
//! same one `corral reload` does. A fire time missed while no controller ran is not caught up:
//! the instances a controller starts or adopts are as fresh as a reload would make them.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use jiff::Timestamp;

use super::Controller;
use crate::api::RestartScheduleStatus;
use crate::schedule::Schedule;

/// A fire time that finds the app mid-rollout is tried again this often until it is over.
const BUSY_RETRY: jiff::SignedDuration = jiff::SignedDuration::from_secs(1);

/// The restart schedules of the apps in force.
#[derive(Debug, Default)]
pub(super) struct RestartSchedules {
    apps: BTreeMap<String, Entry>,
}

#[derive(Debug)]
struct Entry {
    schedule: Schedule,
    /// The expression and zone it was made from (an edit of either starts it afresh).
    key: (String, String),
    /// The next fire time, `None` if the schedule never fires again.
    next: Option<Timestamp>,
    /// The last one done (unix ms).
    last_ms: Option<u64>,
}

impl RestartSchedules {
    /// When the loop must wake for the earliest fire time.
    pub(super) fn due(&self) -> Option<Instant> {
        let now = Timestamp::now();
        self.apps
            .values()
            .filter_map(|e| e.next)
            .min()
            .map(|t| Instant::now() + t.duration_since(now).try_into().unwrap_or(Duration::ZERO))
    }

    /// What `describe` shows of `app`'s schedule.
    pub(super) fn status(&self, app: &str) -> Option<RestartScheduleStatus> {
        let e = self.apps.get(app)?;
        Some(RestartScheduleStatus {
            schedule: e.key.0.clone(),
            time_zone: e.schedule.zone_name(),
            next: e
                .next
                .map(|t| t.to_zoned(e.schedule.tz.clone()).to_string()),
            next_ms: e.next.map(|t| t.as_millisecond().max(0) as u64),
            last_ms: e.last_ms,
        })
    }
}

impl Controller {
    /// Keeps the schedules in step with the apps in force (after every reload); an unchanged
    /// schedule keeps its next fire time.
    pub(super) fn sync_restart_schedules(&mut self) {
        let now = Timestamp::now();
        let mut kept = BTreeMap::new();
        for name in self.desired.keys() {
            let Some(spec) = self.store.apps.get(name).map(|l| &l.app.spec) else {
                continue;
            };
            let Some(expr) = &spec.restart_schedule else {
                continue;
            };
            let schedule = expr.in_zone(spec.restart_time_zone.as_ref());
            let key = (expr.to_string(), schedule.zone_name());
            let entry = match self.restart_schedules.apps.remove(name) {
                Some(e) if e.key == key => e,
                old => Entry {
                    next: schedule.next_after(now),
                    schedule,
                    key,
                    last_ms: old.and_then(|e| e.last_ms),
                },
            };
            kept.insert(name.clone(), entry);
        }
        self.restart_schedules.apps = kept;
    }

    /// Does the rolling reloads whose time has come; true if any was done.
    pub(super) async fn fire_restart_schedules(&mut self) -> bool {
        let now = Timestamp::now();
        let due: Vec<String> = self
            .restart_schedules
            .apps
            .iter()
            .filter(|(_, e)| e.next.is_some_and(|t| t <= now))
            .map(|(name, _)| name.clone())
            .collect();
        let mut fired = false;
        for app in due {
            if self.rollout_busy(&app) {
                // Once the rollout in progress is over, not in the middle of it.
                if let Some(e) = self.restart_schedules.apps.get_mut(&app) {
                    e.next = Some(now + BUSY_RETRY);
                }
                continue;
            }
            let Some(e) = self.restart_schedules.apps.get_mut(&app) else {
                continue;
            };
            e.next = e.schedule.next_after(now);
            e.last_ms = Some(now.as_millisecond().max(0) as u64);
            let next = e.next.map_or("never again".into(), |t| {
                format!("next at {}", t.to_zoned(e.schedule.tz.clone()))
            });
            let msg = format!(
                "restartSchedule \"{}\" ({}): rolling restart; {next}",
                e.key.0, e.key.1
            );
            tracing::info!(app, "{msg}");
            *self.reloads.entry(app.clone()).or_default() += 1;
            self.supervisor.events.normal(&app, "ScheduledRestart", msg);
            fired = true;
        }
        if fired {
            self.reload_logged().await;
        }
        fired
    }
}
