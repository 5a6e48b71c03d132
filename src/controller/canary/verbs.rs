//! `corral rollout promote|pause|resume|abort|retry NAME`, answered on the controller loop.

use crate::api::{Reply, RolloutVerb};
use crate::controller::{now_ms, Controller};
use crate::manifest::StrategyType;

impl Controller {
    /// Applies `verb` to `name`'s rollout; an error says why it does not apply now.
    pub(in crate::controller) fn on_rollout_verb(
        &mut self,
        name: &str,
        verb: RolloutVerb,
    ) -> Result<Reply, String> {
        let Some(located) = self.store.apps.get(name) else {
            return Err(format!("app {name:?} not found"));
        };
        let strategy = located.app.spec.strategy.clone();
        let canary = matches!(
            strategy.kind,
            StrategyType::Canary | StrategyType::BlueGreen
        );
        let which = verb.segment();
        if !canary && verb != RolloutVerb::Abort {
            return Err(format!(
                "app/{name} uses strategy {:?}: `rollout {which}` steers a Canary or a BlueGreen (use `rollout undo` to go back)",
                strategy.kind
            ));
        }
        let Some(run) = self.canaries.runs.get_mut(name) else {
            return Err(format!(
                "app/{name} has no rollout in progress (it starts when the manifest's revision changes)"
            ));
        };
        let message = match verb {
            RolloutVerb::Abort if run.aborted.is_some() => {
                return Err(format!("app/{name}'s rollout is already aborted"))
            }
            RolloutVerb::Abort => {
                self.abort_run(name, "aborted by `corral rollout abort`".into());
                format!("app/{name} rollout aborted: back to the stable revision")
            }
            RolloutVerb::Retry if run.aborted.is_none() => {
                return Err(format!(
                    "app/{name}'s rollout is not aborted: nothing to retry"
                ))
            }
            RolloutVerb::Retry => {
                run.retry(now_ms());
                self.canaries.windows.remove(name);
                let msg = format!("canary of revision {} starts again", run.canary);
                self.supervisor.events.normal(name, "RolloutRetried", msg);
                format!("app/{name} rollout restarted at its first step")
            }
            _ if !run.holding() => {
                return Err(format!(
                    "app/{name}'s canary is {}: `rollout {which}` applies while its steps run",
                    if run.aborted.is_some() {
                        "aborted (use `rollout retry`)"
                    } else {
                        "already promoted"
                    }
                ))
            }
            RolloutVerb::Promote { full } => {
                run.promote(&strategy.steps, full, now_ms());
                let (reason, what) = match full {
                    true => (
                        "CanaryPromoted",
                        "promoted in full by `corral rollout promote --full`",
                    ),
                    false => ("CanaryStep", "step ended by `corral rollout promote`"),
                };
                self.supervisor.events.normal(name, reason, what.into());
                format!("app/{name} promoted")
            }
            RolloutVerb::Pause => {
                run.paused = true;
                let msg = "steps held by `corral rollout pause`".into();
                self.supervisor.events.normal(name, "CanaryPaused", msg);
                format!("app/{name} paused")
            }
            RolloutVerb::Resume => {
                run.paused = false;
                let msg = "steps go on (`corral rollout resume`)".into();
                self.supervisor.events.normal(name, "CanaryResumed", msg);
                format!("app/{name} resumed")
            }
        };
        self.canaries.dirty = true;
        self.rollouts.progressed(name, std::time::Instant::now());
        // The route follows before the answer: a switch or an abort is in force once said.
        self.steer(name, std::time::Instant::now());
        Ok(Reply { message })
    }
}
