//! `spec.watch` on the controller loop: keeps the watches in step with the desired apps and turns
//! their triggers into rolling reloads, one more after a rollout at most.

use std::collections::BTreeMap;
use std::time::Instant;

use super::{now_ms, status, Controller};
use crate::watch::{Message, Outcome, Trigger, WatchSpec};

impl Controller {
    /// Starts, restarts and stops watches to match the apps in force (after every reload).
    pub(super) fn sync_watches(&mut self) {
        let wanted: BTreeMap<String, WatchSpec> = self
            .desired
            .keys()
            .filter_map(|name| {
                let watch = self.store.apps.get(name)?.app.spec.watch.as_ref()?;
                let template = self.templates.get(name)?;
                Some((name.clone(), WatchSpec::new(&template.cwd, watch)))
            })
            .collect();
        self.watches.sync(wanted);
    }

    /// Handles a message from an app's watch.
    pub(super) async fn on_watch(&mut self, msg: Message) {
        let app = msg.app.clone();
        match self.watches.accept(msg, now_ms()) {
            Outcome::Reload(trigger) if self.rollout_busy(&app) => {
                self.watches.defer(&app, trigger);
            }
            Outcome::Reload(trigger) => self.watch_reload(&app, trigger).await,
            Outcome::Failed { message, new } => {
                if new {
                    tracing::warn!(app, "{message}");
                    self.supervisor.events.warning(&app, "WatchFailed", message);
                }
            }
            Outcome::Recovered => {
                let msg = "watching the files again".to_string();
                self.supervisor.events.normal(&app, "Watching", msg);
            }
            Outcome::Nothing => {}
        }
    }

    /// Fires the triggers deferred during rollouts that are now over; true if any fired.
    pub(super) async fn fire_deferred_watches(&mut self) -> bool {
        let mut fired = false;
        for app in self.watches.pending() {
            if self.rollout_busy(&app) {
                continue;
            }
            if let Some(trigger) = self.watches.take_pending(&app) {
                self.watch_reload(&app, trigger).await;
                fired = true;
            }
        }
        fired
    }

    /// A rolling reload, as `corral reload` does, naming the changes.
    async fn watch_reload(&mut self, app: &str, trigger: Trigger) {
        if !self.desired.contains_key(app) {
            return;
        }
        *self.reloads.entry(app.to_owned()).or_default() += 1;
        let msg = format!("changed: {trigger}; rolling restart");
        tracing::info!(app, "{msg}");
        self.supervisor.events.normal(app, "WatchTriggered", msg);
        self.reload_logged().await;
    }

    /// Whether a rollout of `app` is under way and advancing: a change then waits for it. A
    /// rollout that is stuck (crash loop, deadline exceeded) does not hold back the fix.
    pub(super) fn rollout_busy(&self, app: &str) -> bool {
        self.rollouts.in_flight(app)
            && status::app_status(self, app, Instant::now()).is_some_and(|s| {
                !matches!(
                    s.status.as_str(),
                    "CrashLoopBackOff" | "ProgressDeadlineExceeded"
                )
            })
    }
}
