//! The controller's GitOps facts (README "GitOps"): the commit each app was applied from, and a
//! manifests directory that vanished (the last good state keeps running, the error shows).

use crate::api::{Condition, ManifestProblem};
use crate::gitops::AppliedCommit;
use crate::supervisor::About;

use super::Controller;

impl Controller {
    /// Records the commit the directory was read at: apps whose definition was just read
    /// (not kept from before a broken file) are now synced to it.
    pub(super) fn note_commit(&mut self, commit: Option<Result<AppliedCommit, String>>) {
        let broken: Vec<&String> = self.store.problems.iter().flat_map(|p| &p.apps).collect();
        match &commit {
            Some(Ok(c)) => {
                let fresh: Vec<String> = self
                    .store
                    .apps
                    .keys()
                    .filter(|a| !broken.contains(a))
                    .cloned()
                    .collect();
                for app in fresh {
                    self.synced.insert(app, c.clone());
                }
                if self.commit.as_ref().and_then(|r| r.as_ref().ok()) != Some(c) {
                    let msg = format!("manifests applied at commit {c}");
                    let events = &mut self.supervisor.events;
                    events.normal_about(About::Controller, "CommitApplied", msg);
                }
            }
            Some(Err(e)) => tracing::warn!("cannot read the git commit of the manifests: {e}"),
            None => {}
        }
        let apps = &self.store.apps;
        self.synced.retain(|app, _| apps.contains_key(app));
        self.commit = commit;
    }

    /// The directory could not be read: every app keeps its last good version, and the error
    /// is listed for `get`/`describe` (and logged once).
    pub(super) fn on_dir_error(&mut self, message: String) {
        let problem = ManifestProblem {
            file: self.config.manifests.display().to_string(),
            line: 0,
            column: 0,
            message,
            apps: self.store.apps.keys().cloned().collect(),
        };
        if !self.store.problems.contains(&problem) {
            tracing::error!("{}; apps keep running as they are", problem.message);
            for app in &problem.apps {
                self.supervisor
                    .events
                    .warning(app, "ManifestsUnreadable", problem.message.clone());
            }
        }
        self.store.problems = vec![problem];
    }

    /// The commit `app` was last applied from.
    pub(super) fn synced_commit(&self, app: &str) -> Option<AppliedCommit> {
        self.synced.get(app).cloned()
    }

    /// `Synced`: whether `app` runs what the directory's commit says, Argo CD's "synced to".
    pub(super) fn synced_condition(&self, app: &str) -> Option<Condition> {
        let current = match self.commit.as_ref()? {
            Ok(c) => c,
            Err(e) => {
                return Some(Condition {
                    kind: "Synced".into(),
                    status: false,
                    reason: "CommitUnknown".into(),
                    message: e.clone(),
                })
            }
        };
        let applied = self.synced.get(app);
        let problem = self.store.problem_for(app);
        let (status, reason, message) = match (applied, problem) {
            (Some(a), None) if a == current => (true, "Synced", format!("synced to {a}")),
            (applied, _) => (
                false,
                "OutOfSync",
                match applied {
                    Some(a) => format!("running {a}; the manifest at {current} cannot be applied"),
                    None => format!("the manifest at {current} cannot be applied"),
                },
            ),
        };
        Some(Condition {
            kind: "Synced".into(),
            status,
            reason: reason.into(),
            message,
        })
    }
}
