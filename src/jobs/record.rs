//! `$CORRAL_HOME/jobs.json`: each Job's status and runs by name, with the revision it ran, so
//! that a controller started again does not run a finished, unchanged Job again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::api::JobStatus;

/// The file's format version.
const VERSION: u32 = 1;

/// What the file holds.
#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    version: u32,
    jobs: BTreeMap<String, JobStatus>,
}

/// Where the record is kept.
pub fn path(home_root: &Path) -> PathBuf {
    home_root.join("jobs.json")
}

/// The Jobs saved at `path`; none when it is missing or unreadable (said in the log: every
/// Job then runs again).
pub async fn load(path: &Path) -> BTreeMap<String, JobStatus> {
    match crate::home::read_json::<File>(path, "every Job runs again").await {
        Some(file) if file.version == VERSION => file.jobs,
        Some(file) => {
            tracing::warn!(
                "{} has version {}, not {VERSION}: every Job runs again",
                path.display(),
                file.version
            );
            BTreeMap::new()
        }
        None => BTreeMap::new(),
    }
}

/// Writes the record atomically (see [`crate::home::write_json`]).
pub async fn save<'a>(
    path: &Path,
    jobs: impl Iterator<Item = &'a JobStatus>,
) -> std::io::Result<()> {
    let file = File {
        version: VERSION,
        jobs: jobs.map(|j| (j.name.clone(), j.clone())).collect(),
    };
    crate::home::write_json(path, &file).await
}
