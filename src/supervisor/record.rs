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
    /// Where stdout and stderr are re-opened: named FIFOs, or `/proc/PID/fd/1` and `2`.
    pub pipes: Vec<PathBuf>,
    /// The inodes of the anonymous pipes `pipes` must lead to (empty for named FIFOs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pipe_inodes: Vec<u64>,
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
    /// Its instance mark (`CORRAL_INSTANCE_UID`), which every process of it carries (none in
    /// older records: its group and descendants are all that a stop finds then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mark: Option<String>,
}

fn yes() -> bool {
    true
}

/// The record format this controller writes; a record without `version` is version 1.
pub const VERSION: u32 = 2;

/// The whole record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Format version (absent in version 1, which had the same fields otherwise).
    #[serde(default = "version_1")]
    pub version: u32,
    /// Live instances.
    pub instances: Vec<RecordEntry>,
}

fn version_1() -> u32 {
    1
}

impl Default for Record {
    fn default() -> Self {
        Record {
            version: VERSION,
            instances: Vec::new(),
        }
    }
}

/// Why the record cannot be used; the controller then finds instances by their marker.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The file cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The record file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The file is not a record (truncated, garbage).
    #[error("{} is corrupt ({source}); instances are found by their marker instead", path.display())]
    Corrupt {
        /// The record file.
        path: PathBuf,
        /// What the parser said.
        #[source]
        source: serde_json::Error,
    },
    /// A newer controller wrote it, in a format this one does not know.
    #[error(
        "{} has format version {found}, newer than {VERSION} (written by a newer corral?); \
         not guessing: instances are found by their marker instead",
        path.display()
    )]
    Newer {
        /// The record file.
        path: PathBuf,
        /// The version it claims.
        found: u32,
    },
}

/// Just the version, read before the rest so a newer format is never misread.
#[derive(Deserialize)]
struct Versioned {
    #[serde(default = "version_1")]
    version: u32,
}

impl Record {
    /// Reads the record; a missing file is an empty record.
    pub async fn load(path: &Path) -> Result<Record, RecordError> {
        let bytes = match tokio::fs::read(path).await {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Record::default()),
            Err(source) => {
                let path = path.to_owned();
                return Err(RecordError::Read { path, source });
            }
        };
        Record::parse(path, &bytes)
    }

    /// Parses the bytes of the record at `path` (named in errors).
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<Record, RecordError> {
        let corrupt = |source| RecordError::Corrupt {
            path: path.to_owned(),
            source,
        };
        let versioned: Versioned = serde_json::from_slice(bytes).map_err(corrupt)?;
        if versioned.version > VERSION {
            let (path, found) = (path.to_owned(), versioned.version);
            return Err(RecordError::Newer { path, found });
        }
        serde_json::from_slice(bytes).map_err(corrupt)
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
            version: VERSION,
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
                pipe_inodes: vec![12],
                timestamps: false,
                rotation: Rotation {
                    max_size: 1000,
                    max_files: 2,
                },
                log_files: vec![dir.path().join("o"), dir.path().join("e")],
                ports: vec![("http".into(), 8080)],
                mark: Some("18c-7".into()),
            }],
        };
        record.save(&path).await.expect("save");
        assert_eq!(Record::load(&path).await.expect("load"), record);
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(text.contains("\"version\": 2"), "{text}");
    }

    #[test]
    fn a_record_without_version_is_version_1() {
        let bytes = br#"{"instances": []}"#;
        let record = Record::parse(Path::new("r"), bytes).expect("parse");
        assert_eq!(record.version, 1);
    }

    #[test]
    fn truncated_garbage_and_newer_records_are_errors_not_empty() {
        let path = Path::new("/h/instances.json");
        let full = serde_json::to_vec(&Record::default()).expect("json");
        for bad in [&full[..full.len() / 2], b"\0\0garbage".as_slice(), b""] {
            let err = Record::parse(path, bad).expect_err("corrupt");
            assert!(matches!(err, RecordError::Corrupt { .. }), "{err}");
            assert!(err.to_string().contains("/h/instances.json"), "{err}");
        }
        let newer = br#"{"version": 3, "instances": "something else"}"#;
        let err = Record::parse(path, newer).expect_err("newer");
        assert!(matches!(err, RecordError::Newer { found: 3, .. }), "{err}");
        assert!(err.to_string().contains("version 3"), "{err}");
    }
}
