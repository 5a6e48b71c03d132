//! `$CORRAL_HOME/rollouts.json`: the progressive rollouts in flight, so that a controller
//! started after a crash, a restart or an upgrade resumes each at the same step and weight.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::run::Run;

/// Where the runs are kept.
pub fn path(home_root: &Path) -> PathBuf {
    home_root.join("rollouts.json")
}

/// The runs saved at `path`; none when it is missing or unreadable (said in the log).
pub async fn load(path: &Path) -> BTreeMap<String, Run> {
    crate::home::read_json(path, "rollouts in flight start over")
        .await
        .unwrap_or_default()
}

/// Writes the runs atomically (see [`crate::home::write_json`]).
pub async fn save(path: &Path, runs: &BTreeMap<String, Run>) -> std::io::Result<()> {
    crate::home::write_json(path, runs).await
}
