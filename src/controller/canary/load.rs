//! When the manifests are read: a new revision of a Canary (or `autoRollback`) app starts a run
//! from the revision in force; the manifest going back to the stable revision, or to another
//! strategy, ends it; a run restored from disk gets its stable template back from the history.

use super::{Kind, Run};
use crate::controller::{now_ms, Controller};
use crate::manifest::StrategyType;
use crate::supervisor::{About, Template};

impl Controller {
    /// Starts, keeps, restarts or ends `name`'s run now that its manifest says `new`; `old` is
    /// the template in force until now (none at start-up).
    pub(in crate::controller) async fn canary_on_load(
        &mut self,
        name: &str,
        old: Option<&Template>,
        new: &Template,
    ) {
        let Some(located) = self.store.apps.get(name) else {
            return;
        };
        let strategy = &located.app.spec.strategy;
        let kind = match strategy.kind {
            StrategyType::Canary => Kind::Canary,
            StrategyType::BlueGreen => Kind::BlueGreen,
            _ if strategy.auto_rollback => Kind::Rolling,
            _ => {
                if self.canaries.runs.contains_key(name) {
                    self.end_run(name);
                }
                return;
            }
        };
        match self.canaries.runs.get(name) {
            Some(run) if run.canary == new.revision && run.kind == kind => {
                let stable = run.stable.clone();
                self.ensure_preview(name).await;
                if self.canaries.stable.contains_key(name) {
                    return;
                }
                match self.template_from_history(name, &stable).await {
                    Some(t) => {
                        self.canaries.stable.insert(name.to_owned(), t);
                    }
                    None => {
                        let msg = format!("the stable revision {stable} is not in the revision history: the rollout to {} goes on as a rolling update", new.revision);
                        self.supervisor
                            .events
                            .warning(name, "RolloutStateLost", msg);
                        self.end_run(name);
                    }
                }
            }
            Some(run) if run.stable == new.revision => self.end_run(name),
            Some(run) => {
                let stable = run.stable.clone();
                self.begin_run(name, kind, &stable, &new.revision);
                self.ensure_preview(name).await;
            }
            None if old.is_none() => self.canary_after_restart(name, kind, new).await,
            None => {
                let settled = self.rollouts.settled_revision(name);
                let Some(old) = old.filter(|o| Some(o.revision.as_str()) == settled) else {
                    return;
                };
                if old.revision == new.revision {
                    return;
                }
                self.canaries.stable.insert(name.to_owned(), old.clone());
                let stable = old.revision.clone();
                self.begin_run(name, kind, &stable, &new.revision);
                self.ensure_preview(name).await;
            }
        }
    }

    /// At start-up with no run saved: when every adopted instance runs one other revision (the
    /// manifest changed while no controller ran, or before this one saved its run), that
    /// revision is the stable one and the canary starts beside it, as if the change came now.
    async fn canary_after_restart(&mut self, name: &str, kind: Kind, new: &Template) {
        let Some(stable) = self.supervisor.sole_revision(name) else {
            return;
        };
        // The same manifest at another reload count (`HASH.N`: reloads are not kept across a
        // crash) is no new revision.
        let base = |r: &str| r.split('.').next().unwrap_or_default().to_owned();
        if base(&stable) == base(&new.revision) {
            return;
        }
        if let Some(t) = self.template_from_history(name, &stable).await {
            self.canaries.stable.insert(name.to_owned(), t);
            self.begin_run(name, kind, &stable, &new.revision);
            self.ensure_preview(name).await;
        }
    }

    fn begin_run(&mut self, name: &str, kind: Kind, stable: &str, canary: &str) {
        let run = Run::new(kind, stable, canary, now_ms());
        let (reason, msg) = match kind {
            Kind::Canary => (
                "CanaryStarted",
                format!("canary of revision {canary} beside the stable {stable}"),
            ),
            Kind::BlueGreen => (
                "PreviewStarted",
                format!(
                    "revision {canary} comes up in full behind the preview port, beside {stable}"
                ),
            ),
            Kind::Rolling => ("", String::new()),
        };
        if !reason.is_empty() {
            self.supervisor
                .events
                .normal_about(About::App(name), reason, msg);
        }
        self.canaries.windows.remove(name);
        self.canaries.runs.insert(name.to_owned(), run);
        self.canaries.dirty = true;
    }

    /// A BlueGreen run's preview port, bound if it is not. A port that cannot be had (another
    /// process, or the previous controller during `corral upgrade`) is said once and tried
    /// again at each reload; the run goes on meanwhile.
    async fn ensure_preview(&mut self, name: &str) {
        let holding = self
            .canaries
            .runs
            .get(name)
            .filter(|r| r.kind == Kind::BlueGreen && r.holding());
        let Some(located) = self.store.apps.get(name).filter(|_| holding.is_some()) else {
            return;
        };
        let spec = &located.app.spec;
        let Some(port) = spec.strategy.preview_port else {
            return;
        };
        let listen = spec.listen.clone();
        match self.previews.ensure(name, &listen, port).await {
            Ok(()) => {
                self.previews.failed(name, None);
            }
            Err(why) => {
                if self.previews.failed(name, Some(&why)) {
                    let msg = format!("{why}; tried again at each reload of the manifests");
                    self.supervisor
                        .events
                        .warning(name, "PreviewBindFailed", msg);
                }
            }
        }
    }

    /// Ends `name`'s run (completed, or no longer wanted): no route, no preview.
    pub(in crate::controller) fn end_run(&mut self, name: &str) {
        self.canaries.end(name);
        self.listening.set_canary(name, None);
        self.previews.remove(name);
    }

    /// `name`'s manifest at `revision` (a reload count folded in as `HASH.N`), from its
    /// revision history, located where the manifest in force is.
    pub(in crate::controller) fn located_from_history(
        &self,
        name: &str,
        revision: &str,
    ) -> Option<crate::manifest::Located> {
        let base = revision.split('.').next().unwrap_or(revision);
        let entry = self
            .histories
            .get(name)?
            .entries
            .iter()
            .find(|e| e.revision == base)?;
        let mut located = self.store.apps.get(name)?.clone();
        located.app = entry.app.clone();
        Some(located)
    }

    /// `name`'s process template at `revision` (a reload count folded in as `HASH.N`), from
    /// the manifest kept in its revision history.
    pub(in crate::controller) async fn template_from_history(
        &self,
        name: &str,
        revision: &str,
    ) -> Option<Template> {
        let located = self.located_from_history(name, revision)?;
        let (profile, trust) = (self.config.profile.clone(), self.config.rules.trust);
        let revision = revision.to_owned();
        tokio::task::spawn_blocking(move || {
            let mut t = Template::resolve(&located, profile.as_deref(), trust);
            t.revision = revision;
            t
        })
        .await
        .ok()
    }
}
