//! `$CORRAL_HOME` (default `~/.corral`): where the controller keeps its socket, logs and records.

use std::path::{Path, PathBuf};

/// The state directory and the well-known paths inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Home {
    root: PathBuf,
}

impl Home {
    /// `$CORRAL_HOME`, else `$HOME/.corral`, else `./.corral`.
    pub fn from_env() -> Self {
        let root = match std::env::var_os("CORRAL_HOME") {
            Some(dir) if !dir.is_empty() => PathBuf::from(dir),
            _ => match std::env::var_os("HOME") {
                Some(home) if !home.is_empty() => PathBuf::from(home).join(".corral"),
                _ => PathBuf::from(".corral"),
            },
        };
        Self { root }
    }

    /// A home at an explicit directory (tests, `--home`).
    pub fn at(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The state directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The control socket: `corral.sock`.
    pub fn socket(&self) -> PathBuf {
        self.root.join("corral.sock")
    }

    /// Captured logs of one app: `logs/APP/`.
    pub fn app_logs(&self, app: &str) -> PathBuf {
        self.root.join("logs").join(app)
    }

    /// Runtime files (FIFOs, notify sockets): `run/`.
    pub fn run_dir(&self) -> PathBuf {
        self.root.join("run")
    }

    /// The record of running instances, read by the next controller after a crash.
    pub fn instances_record(&self) -> PathBuf {
        self.root.join("instances.json")
    }
}

/// The JSON value [`write_json`] saved at `path`: `None` when there is no file, and `None` when
/// it cannot be read or parsed, said in the log with `lost` (what starts over without it).
pub async fn read_json<T: serde::de::DeserializeOwned>(path: &Path, lost: &str) -> Option<T> {
    match tokio::fs::read(path).await {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .inspect_err(|e| tracing::warn!("{} cannot be read ({e}): {lost}", path.display()))
            .ok(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            tracing::warn!("cannot read {}: {e}; {lost}", path.display());
            None
        }
    }
}

/// Writes `value` as JSON to `path` atomically and owner-only: a fresh temp file (created
/// exclusively, so never through a planted symlink), written and synced with every error
/// checked, then renamed over `path`. On any failure (a full disk) `path` keeps its last good
/// content and the temp file is removed. The file I/O runs on the blocking pool through
/// `std::fs`: tokio's `File` hands writes to a background task, and a failure of that write
/// was not reported by its `sync_data`, so a full disk once renamed an empty file over the record.
pub async fn write_json(path: &Path, value: &impl serde::Serialize) -> std::io::Result<()> {
    let bytes = serde_json::to_vec_pretty(value).map_err(std::io::Error::other)?;
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || write_atomic(&path, &bytes))
        .await
        .map_err(std::io::Error::other)?
}

/// The blocking body of [`write_json`].
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(".tmp");
    let tmp = dir.join(name);
    let _ = std::fs::remove_file(&tmp);
    let written = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
        return written;
    }
    // The rename itself is durable once the folder is synced (a failure here loses nothing).
    if let Ok(folder) = std::fs::File::open(dir) {
        let _ = folder.sync_all();
    }
    Ok(())
}
