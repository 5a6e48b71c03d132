//! What instances report to the loop: probe results (readiness, liveness) and exits, each also
//! a signal for a canary in flight.

use std::time::Instant;

use super::Controller;
use crate::probe::{ProbeKind, ProbeReport};
use crate::reconcile::StopReason;
use crate::supervisor::Exited;

impl Controller {
    pub(super) fn on_probe(&mut self, report: ProbeReport) {
        let now = Instant::now();
        if report.passing {
            self.supervisor.probe_passed(report.id);
        } else {
            let event = (!report.crossed, now);
            self.supervisor
                .probe_failed(report.id, report.kind, &report.message, event);
            if !report.crossed {
                return;
            }
        }
        match (report.kind, report.passing) {
            (ProbeKind::Readiness, passing) => {
                self.supervisor
                    .set_ready(report.id, passing, &report.message, now)
            }
            (ProbeKind::Liveness, true) => {}
            (ProbeKind::Liveness, false) => {
                let Some(inst) = self.supervisor.instance(report.id) else {
                    return;
                };
                let (app, index) = (inst.app.clone(), inst.index);
                let what = format!(
                    "canary instance {index} failed its liveness probe: {}",
                    report.message
                );
                self.canary_instance_failed(&app, &inst.revision.clone(), what);
                let stop = self.stop_spec(&app);
                let msg = format!(
                    "instance {index} failed its liveness probe: {}; restarting it",
                    report.message
                );
                let about = crate::supervisor::About::Instance(&app, index);
                self.supervisor
                    .events
                    .warning_about(about, "LivenessFailed", msg);
                let drain = self.listening.drain(&app, report.id);
                self.supervisor.stop(
                    report.id,
                    StopReason::Unhealthy,
                    stop.signal.0,
                    stop.timeout.0,
                    drain,
                );
            }
        }
    }

    pub(super) fn on_exit(&mut self, exited: Exited) {
        if self.job_exit(&exited) {
            return;
        }
        // A canary instance that exits on its own is a failed check of its rollout.
        if let Some(inst) = self.supervisor.instance(exited.id) {
            if inst.stop_reason.is_none_or(StopReason::is_failure) {
                let (app, revision) = (inst.app.clone(), inst.revision.clone());
                let what = format!("canary instance {} exited: {}", inst.index, exited.exit);
                self.canary_instance_failed(&app, &revision, what);
            }
        }
        let inst = self.supervisor.instance(exited.id);
        let slot = inst.map(|i| (i.app.clone(), i.index));
        let desired = slot.as_ref().and_then(|(a, _)| self.desired.get(a));
        let backoff = desired.map(|d| d.backoff);
        let now = Instant::now();
        self.supervisor.on_exit(exited, backoff.as_ref(), now);
        if let Some((app, index)) = slot {
            self.note_backoff(&app, index, now);
        }
    }
}
