//! `$CORRAL_HOME/hooks.json`: the last run of each app's hooks (revision, command, result), so
//! that a restarted or upgraded controller does not run a hook that succeeded again, and runs
//! one that was interrupted again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::supervisor::HookKind;

/// Where the records are kept.
pub fn path(home_root: &Path) -> PathBuf {
    home_root.join("hooks.json")
}

/// Where a hook run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HookState {
    /// Started, not finished (found at start-up: interrupted, run again).
    Running,
    /// Exited 0.
    Succeeded,
    /// Exited non-zero, was killed, timed out or could not start.
    Failed,
}

/// The last run of one hook of one app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HookRecord {
    /// The revision it ran for (its hash, without a reload count).
    pub revision: String,
    /// The argv it ran (a changed hook command is a new run).
    pub command: Vec<String>,
    /// Where it stands.
    pub state: HookState,
    /// Its exit code, when it exited with one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Why it failed, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Its last lines of output.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tail: Vec<String>,
    /// When it started (unix ms).
    pub started_ms: u64,
    /// When it ended (unix ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_ms: Option<u64>,
}

impl HookRecord {
    /// Whether this records `command` run for `revision`.
    pub fn is_for(&self, revision: &str, command: &[String]) -> bool {
        self.revision == revision && self.command == command
    }
}

/// The records of every app: one per app and hook, the last run.
pub type Records = BTreeMap<String, BTreeMap<HookKind, HookRecord>>;

/// The records saved at `path`; none when missing or unreadable (said in the log: hooks whose
/// record is lost run again at the next revision change, or now if one is waiting).
pub async fn load(path: &Path) -> Records {
    crate::home::read_json(path, "hook results start over")
        .await
        .unwrap_or_default()
}

/// Writes the records atomically (see [`crate::home::write_json`]).
pub async fn save(path: &Path, records: &Records) -> std::io::Result<()> {
    crate::home::write_json(path, records).await
}
