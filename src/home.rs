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

/// Writes `value` as JSON to `path` atomically and owner-only: a fresh temp file (created
/// exclusively, so never through a planted symlink), synced, then renamed over `path`.
pub async fn write_json(path: &Path, value: &impl serde::Serialize) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt;
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir).await?;
    }
    let bytes = serde_json::to_vec_pretty(value).map_err(std::io::Error::other)?;
    let tmp = path.with_extension("json.tmp");
    let _ = tokio::fs::remove_file(&tmp).await;
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .await?;
    file.write_all(&bytes).await?;
    file.sync_data().await?;
    drop(file);
    tokio::fs::rename(&tmp, path).await
}
