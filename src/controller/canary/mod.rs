//! Progressive delivery on the controller (DESIGN §13): each app whose `strategy` is a Canary
//! (or a rolling update with `autoRollback`) has a [`Run`] from its stable revision to the
//! manifest's. Before every plan the runs are steered (`steer.rs`): steps advance, the proxy's
//! per-revision counters are judged (`analysis.rs`), and the planner is told what to hold
//! ([`crate::reconcile::CanaryHold`]) and the proxy what to route. An abort never rewrites the
//! manifest: the stable revision runs and the app is `Degraded` until the manifest changes.

mod analysis;
mod load;
mod run;
mod saved;
mod steer;
mod verbs;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use crate::net::RevisionSnapshot;
use crate::supervisor::Template;

pub(super) use run::{Kind, Run};

/// The runs in flight and what steering them needs.
#[derive(Debug, Default)]
pub(super) struct Canaries {
    /// One per app with a progressive rollout in flight (or aborted).
    pub(super) runs: BTreeMap<String, Run>,
    /// The stable revision's process template, per app with a run.
    stable: BTreeMap<String, Template>,
    /// The analysis window in force per app: since when, and the counters then.
    windows: BTreeMap<String, Window>,
    /// Each revision's figures over its app's last judged window, by `(app, revision)`.
    traffic: BTreeMap<(String, String), crate::api::Traffic>,
    /// Apps whose canary weight is a share of requests (every listen entry is mode http).
    by_request: std::collections::BTreeSet<String>,
    /// Where the runs are saved.
    path: PathBuf,
    /// The runs changed since they were last saved.
    dirty: bool,
}

/// An analysis window: the per-revision counters at its start.
#[derive(Debug)]
struct Window {
    /// When it began.
    since: Instant,
    /// The counters then, by revision.
    start: BTreeMap<String, RevisionSnapshot>,
    /// The first window after the canary's instances all turned ready, when the app has no
    /// readiness probe: not judged. An instance ready by the 1 s rule may not listen yet, and
    /// the proxy's connects to it that failed (and were retried elsewhere) say nothing of the
    /// revision. With a probe, ready means the app said so, and the first window counts.
    grace: bool,
}

impl Canaries {
    /// The runs saved under `home_root` (a controller started mid-rollout goes on with them).
    pub(super) async fn load(home_root: &std::path::Path) -> Self {
        let path = saved::path(home_root);
        Self {
            runs: saved::load(&path).await,
            path,
            ..Self::default()
        }
    }

    /// The template for `revision` of `app` if it is the stable one of a run.
    pub(super) fn stable_template(&self, app: &str, revision: &str) -> Option<&Template> {
        self.stable.get(app).filter(|t| t.revision == revision)
    }

    /// Forgets a deleted app.
    pub(super) fn forget(&mut self, app: &str) {
        self.dirty |= self.runs.remove(app).is_some();
        self.stable.remove(app);
        self.windows.remove(app);
        self.traffic.retain(|(a, _), _| a != app);
        self.by_request.remove(app);
    }

    /// Ends `app`'s run (completed, or no longer wanted).
    fn end(&mut self, app: &str) {
        self.forget(app);
    }

    /// Writes the runs if they changed (a failure is logged; they are written again next time).
    pub(super) async fn save(&mut self) {
        if !std::mem::take(&mut self.dirty) {
            return;
        }
        if let Err(e) = saved::save(&self.path, &self.runs).await {
            tracing::warn!("cannot write {}: {e}", self.path.display());
            self.dirty = true;
        }
    }
}

impl crate::controller::Controller {
    /// The API's view of `name`'s run, if it has one (a rolling run only once aborted).
    pub(in crate::controller) fn canary_status(
        &self,
        name: &str,
    ) -> Option<crate::api::RolloutStatus> {
        use crate::api::{RevisionCount, RolloutStatus};
        use crate::manifest::CanaryStep;
        let run = self.canaries.runs.get(name)?;
        if run.kind == Kind::Rolling && run.aborted.is_none() {
            return None;
        }
        let steps = self
            .store
            .apps
            .get(name)
            .map(|l| l.app.spec.strategy.steps.clone())
            .unwrap_or_default();
        let count = |revision: &str| {
            let (mut ready, mut instances) = (0, 0);
            for i in self.supervisor.instances_of(name) {
                if i.revision == revision && i.phase != crate::reconcile::Phase::Stopping {
                    instances += 1;
                    ready += u32::from(matches!(i.phase, crate::reconcile::Phase::Ready { .. }));
                }
            }
            RevisionCount {
                revision: revision.to_owned(),
                ready,
                instances,
                traffic: self
                    .canaries
                    .traffic
                    .get(&(name.to_owned(), revision.to_owned()))
                    .cloned(),
            }
        };
        let bg = self.store.apps.get(name).map(|l| &l.app.spec.strategy);
        let waiting = match run.kind {
            // Ready in full behind the preview, no autoPromotionSeconds: waiting for promote.
            Kind::BlueGreen => {
                run.switched_ms.is_none()
                    && run.ready_since_ms.is_some()
                    && bg.is_some_and(|s| s.auto_promotion_seconds.is_none())
            }
            _ => matches!(
                steps.get(run.step),
                Some(CanaryStep::Pause { duration: None })
            ),
        };
        // A BlueGreen's two steps: the preview, then the switch.
        let (step, steps_len) = match run.kind {
            Kind::BlueGreen => (1 + u32::from(run.switched_ms.is_some()), 2),
            _ => (
                (run.step as u32 + 1).min(steps.len() as u32),
                steps.len() as u32,
            ),
        };
        Some(RolloutStatus {
            strategy: match run.kind {
                Kind::Canary => "Canary".into(),
                Kind::Rolling => "RollingUpdate".into(),
                Kind::BlueGreen => "BlueGreen".into(),
            },
            step,
            steps: steps_len,
            weight: if run.holding() { run.weight } else { 0 },
            share_of: if self.canaries.by_request.contains(name) {
                "requests"
            } else {
                "instances"
            }
            .into(),
            paused: run.holding() && (run.paused || waiting),
            stable: count(&run.stable),
            canary: count(&run.canary),
            aborted: run.aborted.clone(),
        })
    }

    /// Whether `name` runs a canary's steps now (its progress deadline does not run meanwhile).
    pub(in crate::controller) fn canary_holding(&self, name: &str) -> bool {
        self.canaries.runs.get(name).is_some_and(Run::holding)
    }
}
