//! What `get` and `describe` show of an app's hooks.

use super::{base, HookState};
use crate::api::{Condition, HookStatus};
use crate::controller::Controller;
use crate::supervisor::HookKind;

impl Controller {
    /// The status word while a revision waits for its `preRollout`: `HookRunning`, or
    /// `HookFailed` until the manifest changes or `corral rollout retry`.
    pub(in crate::controller) fn hook_status_word(&self, name: &str) -> Option<&'static str> {
        let pending = self.hooks.pending(name)?;
        let record = self.hooks.record(name, HookKind::PreRollout)?;
        if record.revision != base(&pending.revision) {
            return Some("HookRunning"); // another revision's hook ends first
        }
        Some(match record.state {
            HookState::Failed => "HookFailed",
            HookState::Running | HookState::Succeeded => "HookRunning",
        })
    }

    /// The `PreRolloutHook` condition while a revision waits for its hook.
    pub(in crate::controller) fn hook_condition(&self, name: &str) -> Option<Condition> {
        let word = self.hook_status_word(name)?;
        let held = base(&self.hooks.pending(name)?.revision).to_owned();
        let record = self.hooks.record(name, HookKind::PreRollout);
        let message = match (word, record) {
            ("HookFailed", Some(r)) => format!(
                "revision {held} waits: its preRollout hook failed ({}); fix the hook or the manifest, or `corral rollout retry {name}`",
                r.reason.as_deref().unwrap_or("failed")
            ),
            _ => format!("revision {held} starts once its preRollout hook succeeds"),
        };
        Some(Condition {
            kind: "PreRolloutHook".into(),
            status: false,
            reason: word.into(),
            message,
        })
    }

    /// The last run of each of `name`'s hooks.
    pub(in crate::controller) fn hook_statuses(&self, name: &str) -> Vec<HookStatus> {
        let Some(records) = self.hooks.records.get(name) else {
            return Vec::new();
        };
        records
            .iter()
            .map(|(kind, r)| HookStatus {
                hook: kind.name().into(),
                revision: r.revision.clone(),
                state: format!("{:?}", r.state),
                command: r.command.clone(),
                exit_code: r.exit_code,
                reason: r.reason.clone(),
                tail: r.tail.clone(),
                started_ms: r.started_ms,
                finished_ms: r.finished_ms,
                holding: match kind {
                    HookKind::PreRollout => self.hooks.pending(name).map(|t| t.revision.clone()),
                    HookKind::PostRollout => None,
                },
            })
            .collect()
    }
}
