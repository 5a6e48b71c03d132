//! Instance cgroups, the supervisor's part: finding (and readying) where they go, writing
//! edited limits into live instances, giving adopted instances theirs back, and removing each
//! after its instance exits.

use super::{Instance, Supervisor};
use crate::cgroup::{self, Cgroups, Limits, Unavailable};

impl Supervisor {
    /// Where instance cgroups go, found (and readied) on first use; or why there are none.
    pub(super) fn cgroups(&mut self) -> Result<Cgroups, Unavailable> {
        if let Some(found) = &self.cgroups {
            return found.clone();
        }
        let home = cgroup::home_key(&super::orphans::owner(&self.shared.home));
        let found = cgroup::detect().and_then(|found| cgroup::prepare(&found, &home));
        match &found {
            Ok(c) => {
                for (controller, why) in &c.support.missing {
                    tracing::warn!("no {} controller for instances: {why}", controller.name());
                }
            }
            Err(e) => tracing::warn!("instances get no cgroups: {e}"),
        }
        self.cgroups = Some(found.clone());
        found
    }

    /// Whether instances get cgroups here (and with which controllers), once known.
    pub fn cgroup_status(&self) -> Option<&Result<Cgroups, Unavailable>> {
        self.cgroups.as_ref()
    }

    /// Writes `app`'s limits (edited: they apply in place) into its live instances' cgroups.
    pub fn update_limits(&mut self, app: &str, limits: &Limits) {
        let Some(Ok(cgroups)) = &self.cgroups else {
            return;
        };
        for inst in self.instances.values_mut().filter(|i| i.app == app) {
            let Some(group) = &mut inst.cgroup else {
                continue;
            };
            if let Err(e) = cgroups.update(group, limits) {
                tracing::warn!(
                    app,
                    "cannot update the limits of instance {}: {e}",
                    inst.index
                );
            }
        }
    }

    /// Gives an adopted instance its cgroup back (found from `/proc/PID/cgroup`); its limits
    /// are written again once its template is known.
    pub(super) fn attach_cgroup(&mut self, inst: &mut Instance) {
        let Ok(cgroups) = self.cgroups() else {
            return;
        };
        inst.cgroup = cgroups
            .adopted(inst.pid, &inst.app, inst.index, inst.id)
            .map(|path| cgroup::Group {
                path,
                written: None,
            });
    }

    /// Removes the cgroup of an instance that exited (on the blocking pool).
    pub(super) fn remove_cgroup(&self, inst: &Instance) {
        let path = match (&inst.cgroup, &self.cgroups) {
            (Some(group), _) => group.path.clone(),
            // Adopted without finding its cgroup: it may still be there by name.
            (None, Some(Ok(cgroups))) => cgroups.path_of(&inst.app, inst.index, inst.id),
            _ => return,
        };
        if path.exists() {
            self.shared.tasks.spawn(cgroup::remove_when_empty(path));
        }
    }
}
