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
                let template = self.templates.get(app)?;
                let desired = self.desired.get(app)?;
                (template.revision == *revision).then(|| StartRequest {
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
