//! Turning a plan's `Start` actions into one batch for the supervisor.

use std::time::Instant;

use super::Controller;
use crate::reconcile::Action;
use crate::supervisor::StartRequest;

impl Controller {
    /// Starts the instances `starts` (`Action::Start`s) ask for, all together; one whose app
    /// is gone or runs another revision by now is skipped (the next plan decides again).
    pub(super) async fn start_all(&mut self, starts: Vec<Action>, now: Instant) {
        if starts.is_empty() {
            return;
        }
        let requests = starts
            .iter()
            .filter_map(|action| {
                let Action::Start {
                    app,
                    index,
                    revision,
                } = action
                else {
                    return None;
                };
                // The manifest's template, or the stable one a canary run keeps beside it.
                let template = self
                    .templates
                    .get(app)
                    .filter(|t| t.revision == *revision)
                    .or_else(|| self.canaries.stable_template(app, revision))?;
                let desired = self.desired.get(app)?;
                Some(StartRequest {
                    template,
                    index: *index,
                    backoff: desired.backoff,
                    listeners: self.listening.get(app),
                })
            })
            .collect();
        self.supervisor.start_all(requests, now).await;
    }
}
