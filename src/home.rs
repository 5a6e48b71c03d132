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
