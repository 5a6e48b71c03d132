//! `spec.hooks`: commands run once per revision change, before the rollout (`preRollout`,
//! Helm's pre-upgrade, Argo CD's PreSync) and after it completes (`postRollout`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::locate::Seg::Key;
use super::quantity::DurationSpec;
use super::types::{AppSpec, Command};
use super::validate::Problem;

/// What a hook may take at most unless `timeout` says otherwise: 5 minutes (Argo CD and Helm
/// give a hook 5 minutes by default too).
pub const DEFAULT_HOOK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

/// Commands run around a rollout to a new revision (database migrations, cache warm-ups).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Hooks {
    /// Run once with the new revision's environment before any instance of it starts, also at
    /// the app's first deployment (Helm's pre-install and pre-upgrade, Argo CD's PreSync). If it
    /// fails (non-zero exit, signal, timeout), the rollout does not start and the revision in
    /// force keeps running; `corral rollout retry` runs it again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_rollout: Option<Hook>,
    /// Run once after every instance of the new revision is ready (also after the first
    /// deployment). A failure is reported (`HookFailed` event, `describe`); nothing is rolled back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_rollout: Option<Hook>,
}

impl Hooks {
    /// Whether no hook is set.
    pub fn is_empty(&self) -> bool {
        self.pre_rollout.is_none() && self.post_rollout.is_none()
    }
}

/// One hook: a command run to completion as the app (same user, cwd, env, limits).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Hook {
    /// The program, as `spec.command`: a list is exec'd directly (argv); a string runs under
    /// `sh -c` (as `spec.command`).
    pub command: Command,
    /// Past this long the hook is killed (its whole process group) and counts as failed;
    /// default `5m`, not 0.
    #[serde(default = "default_hook_timeout")]
    pub timeout: DurationSpec,
}

fn default_hook_timeout() -> DurationSpec {
    DurationSpec(DEFAULT_HOOK_TIMEOUT)
}

/// The first problem of `spec.hooks`, if any.
pub(super) fn check(spec: &AppSpec) -> Option<Problem> {
    let hooks = [
        ("preRollout", &spec.hooks.pre_rollout),
        ("postRollout", &spec.hooks.post_rollout),
    ];
    for (name, hook) in hooks {
        if hook.as_ref().is_some_and(|h| h.timeout.0.is_zero()) {
            return Some(Problem::at(
                vec![Key("spec"), Key("hooks"), Key(name), Key("timeout")],
                "0 would kill the hook before it runs; give how long it may take, e.g. 5m (the default)",
            ));
        }
    }
    None
}
