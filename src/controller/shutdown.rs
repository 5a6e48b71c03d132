//! The controller's own shutdown: every app stopped in reverse dependency order.

use std::collections::BTreeMap;

use super::Controller;
use crate::reconcile::{self, StopReason};

impl Controller {
    /// Sends its stop signal to every live instance of the apps no running app depends on
    /// (controller shutdown, in reverse dependency order: called again after each exit).
    pub(super) fn stop_in_order(&mut self) {
        let deps: BTreeMap<String, Vec<String>> = self
            .store
            .apps
            .iter()
            .map(|(name, l)| {
                let on = l.app.spec.depends_on.iter();
                (
                    name.clone(),
                    on.map(|d| d.app.as_str().to_owned()).collect(),
                )
            })
            .collect();
        let mut running: Vec<&str> = self.supervisor.all().map(|i| i.app.as_str()).collect();
        running.sort_unstable();
        running.dedup();
        let now: Vec<String> = reconcile::depends::stoppable(&running, &deps)
            .into_iter()
            .map(str::to_owned)
            .collect();
        let ids: Vec<(u64, String)> = self
            .supervisor
            .all()
            .filter(|i| now.contains(&i.app))
            .map(|i| (i.id, i.app.clone()))
            .collect();
        for (id, app) in ids {
            let stop = self.stop_spec(&app);
            self.supervisor.stop(
                id,
                StopReason::Shutdown,
                stop.signal.0,
                stop.timeout.0,
                None,
            );
        }
    }
}
