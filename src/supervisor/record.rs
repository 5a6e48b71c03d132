//! The record of running instances (`$CORRAL_HOME/instances.json`): what a controller that was
//! killed left behind, so the next one adopts those processes instead of duplicating them.

use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::logs::Rotation;

/// One live instance as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordEntry {
    /// Supervisor id (unique within the record).
    pub id: u64,
    /// App name.
    pub app: String,
    /// Instance index.
    pub index: u32,
    /// Revision it runs.
    pub revision: String,
    /// Process id (also its process group id).
    pub pid: u32,
    /// Start time in clock ticks since boot: pid reuse can't fool us.
    pub start_ticks: u64,
    /// Wall-clock start (unix ms).
    pub started_ms: u64,
    /// Whether it had passed readiness.
    pub ready: bool,
    /// Whether a stop had been sent.
    pub stopping: bool,
    /// FIFOs carrying stdout and stderr.
    pub pipes: Vec<PathBuf>,
    /// Whether its log lines get timestamps.
    #[serde(default = "yes")]
    pub timestamps: bool,
    /// When its log files rotate.
    #[serde(default)]
    pub rotation: Rotation,
    /// Its stdout and stderr log files (empty in older records: the default ones).
    #[serde(default)]
    pub log_files: Vec<PathBuf>,
    /// Its loopback ports per tcp/http listen entry, to put it back in rotation.
    #[serde(default)]
    pub ports: Vec<(String, u16)>,
}

fn yes() -> bool {
    true
}

/// The whole record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Live instances.
    pub instances: Vec<RecordEntry>,
}

impl Record {
    /// Reads the record; a missing file is an empty record, an unreadable one is an error.
    pub async fn load(path: &Path) -> io::Result<Record> {
        match tokio::fs::read(path).await {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Record::default()),
            Err(e) => Err(e),
        }
    }

    /// Writes the record atomically (a fresh temp file, never a followed symlink, then rename).
    pub async fn save(&self, path: &Path) -> io::Result<()> {
        crate::home::write_json(path, self).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn round_trips_and_tolerates_a_missing_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("instances.json");
        assert_eq!(
            Record::load(&path).await.expect("missing is empty"),
            Record::default()
        );
        let record = Record {
            instances: vec![RecordEntry {
                id: 7,
                app: "web".into(),
                index: 1,
                revision: "abc".into(),
                pid: 42,
                start_ticks: 99,
                started_ms: 1,
                ready: true,
                stopping: false,
                pipes: vec![dir.path().join("p")],
                timestamps: false,
                rotation: Rotation {
                    max_size: 1000,
                    max_files: 2,
                },
                log_files: vec![dir.path().join("o"), dir.path().join("e")],
                ports: vec![("http".into(), 8080)],
            }],
        };
        record.save(&path).await.expect("save");
        assert_eq!(Record::load(&path).await.expect("load"), record);
    }
}
