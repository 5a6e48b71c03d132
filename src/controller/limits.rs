//! Cgroup limits, the controller's part: write each app's limits into its live instances (an
//! edit applies in place), and `describe`'s word on them: enforced, or why not.

use super::Controller;
use crate::api::Condition;
use crate::cgroup::{self, Field};
use crate::manifest::quantity::ByteSize;
use crate::manifest::CpuQuantity;

impl Controller {
    /// Writes each app's `memory.max`, `cpu.max` and `pids.max` into its live instances'
    /// cgroups (an edit applies in place, like `memory.limit`).
    pub(super) fn apply_limits(&mut self) {
        for (app, template) in &self.templates {
            self.supervisor.update_limits(app, &template.limits);
        }
    }

    /// `describe`'s `CgroupLimits` condition for an app that sets a cgroup limit: each is
    /// enforced by the kernel, or which cannot apply here and why.
    pub(super) fn limits_condition(&self, app: &str) -> Option<Condition> {
        let limits = self.templates.get(app)?.limits;
        let fields = limits.fields();
        if fields.is_empty() {
            return None;
        }
        let found = match self.supervisor.cgroup_status() {
            Some(found) => found.clone().map(|c| (c.dir, c.support)),
            None => cgroup::detect().map(|d| (d.own.join(cgroup::INSTANCES_DIR), d.support)),
        };
        let support = found.as_ref().map(|(_, s)| s);
        let refused: Vec<String> = fields
            .iter()
            .filter_map(|f| cgroup::field_unavailable(support, *f))
            .collect();
        if !refused.is_empty() {
            return Some(Condition {
                kind: "CgroupLimits".into(),
                status: false,
                reason: "CgroupUnavailable".into(),
                message: refused.join("; "),
            });
        }
        let dir = found.map(|(dir, _)| dir).unwrap_or_default();
        let shown: Vec<String> = fields
            .iter()
            .map(|f| {
                let value = match f {
                    Field::MemoryMax => limits.memory_max.map(|b| ByteSize(b).to_string()),
                    Field::CpuMax => limits.cpu_max.map(|m| CpuQuantity(m).to_string()),
                    Field::PidsMax => limits.pids_max.map(|n| n.to_string()),
                };
                format!("{} {}", f.key(), value.unwrap_or_default())
            })
            .collect();
        Some(Condition {
            kind: "CgroupLimits".into(),
            status: true,
            reason: "Enforced".into(),
            message: format!(
                "{} enforced by the kernel per instance, in cgroups under {}",
                shown.join(", "),
                dir.display()
            ),
        })
    }
}
