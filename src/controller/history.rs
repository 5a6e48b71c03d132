//! Revision history per app (`corral rollout history|undo`): the last specs that ran, kept in
//! `$CORRAL_HOME/history/APP.json` so an undo still works after a controller restart.

use std::collections::VecDeque;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::api::RevisionInfo;
use crate::manifest::App;

/// Revisions kept per app (Kubernetes' default `revisionHistoryLimit`).
pub const KEPT: usize = 10;

/// One revision that was rolled out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// Increasing number, like `kubectl rollout history`'s REVISION.
    pub number: u64,
    /// The revision hash.
    pub revision: String,
    /// When it was first rolled out (unix ms).
    pub created_ms: u64,
    /// The manifest of that revision.
    pub app: App,
}

/// The history of one app, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// Entries, oldest first, at most [`KEPT`].
    pub entries: VecDeque<Entry>,
}

impl History {
    /// Records `app` at `revision` as the newest entry (moving it up if it ran before);
    /// returns whether anything changed.
    pub fn record(&mut self, revision: &str, app: &App, now_ms: u64) -> bool {
        if self.entries.back().is_some_and(|e| e.revision == revision) {
            return false;
        }
        let number = self.entries.iter().map(|e| e.number).max().unwrap_or(0) + 1;
        self.entries.retain(|e| e.revision != revision);
        self.entries.push_back(Entry {
            number,
            revision: revision.to_owned(),
            created_ms: now_ms,
            app: app.clone(),
        });
        while self.entries.len() > KEPT {
            self.entries.pop_front();
        }
        true
    }

    /// The API view, oldest first.
    pub fn infos(&self) -> Vec<RevisionInfo> {
        let current = self.entries.back().map(|e| e.number);
        self.entries
            .iter()
            .map(|e| RevisionInfo {
                number: e.number,
                revision: e.revision.clone(),
                created_ms: e.created_ms,
                current: Some(e.number) == current,
                manifest: serde_yaml::to_string(&e.app).unwrap_or_default(),
            })
            .collect()
    }
}

/// Where an app's history is kept.
pub fn path(home_root: &Path, app: &str) -> PathBuf {
    home_root.join("history").join(format!("{app}.json"))
}

/// Reads an app's history; missing or unreadable is empty (history is a convenience).
pub async fn load(path: &Path) -> History {
    match tokio::fs::read(path).await {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_default(),
        Err(_) => History::default(),
    }
}

/// Writes an app's history atomically.
pub async fn save(path: &Path, history: &History) -> io::Result<()> {
    crate::home::write_json(path, history).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(cmd: &str) -> App {
        let yaml = format!("apiVersion: corral/v1\nkind: App\nmetadata: {{name: web}}\nspec: {{command: [{cmd}]}}\n");
        serde_yaml::from_str(&yaml).expect("app")
    }

    #[test]
    fn records_new_revisions_and_moves_a_repeated_one_up() {
        let mut h = History::default();
        assert!(h.record("a", &app("a"), 1));
        assert!(!h.record("a", &app("a"), 2));
        assert!(h.record("b", &app("b"), 3));
        assert!(h.record("a", &app("a"), 4));
        let infos = h.infos();
        assert_eq!(
            infos
                .iter()
                .map(|i| (i.number, i.revision.as_str()))
                .collect::<Vec<_>>(),
            [(2, "b"), (3, "a")]
        );
        assert!(infos[1].current && !infos[0].current);
    }

    #[test]
    fn keeps_a_bounded_number_of_revisions() {
        let mut h = History::default();
        for i in 0..(KEPT as u64 + 5) {
            h.record(&format!("r{i}"), &app("x"), i);
        }
        assert_eq!(h.entries.len(), KEPT);
        assert_eq!(h.entries.front().map(|e| e.number), Some(6));
    }

    #[tokio::test]
    async fn survives_a_round_trip_through_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = path(dir.path(), "web");
        let mut h = History::default();
        h.record("a", &app("a"), 1);
        save(&p, &h).await.expect("save");
        assert_eq!(load(&p).await, h);
    }
}
