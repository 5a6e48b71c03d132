//! A BlueGreen's preview port (`strategy.previewPort`): a listener of its own, for the app's
//! first listen entry, whose only backends are the new revision's ready instances, so people
//! (and the analysis) can try it while the public port still serves the old one.

use std::collections::BTreeMap;

use crate::manifest::Listen;
use crate::net::{AppListeners, Backend, RevisionSnapshot};

/// One app's preview listener.
struct Preview {
    /// The entry it serves (the app's first, at the preview port).
    entry: Listen,
    listeners: AppListeners,
    /// The backends last handed over, to skip no-op updates.
    backends: Vec<Backend>,
}

/// The preview listeners of the apps in a BlueGreen rollout.
#[derive(Default)]
pub struct Previews {
    apps: BTreeMap<String, Preview>,
    /// Why each app's preview port could not be bound, last time it was tried.
    failing: BTreeMap<String, String>,
}

impl Previews {
    /// Binds `port` for `app`'s first listen entry (kept while it is the same); an error says
    /// why it cannot be had.
    pub async fn ensure(&mut self, app: &str, listen: &[Listen], port: u16) -> Result<(), String> {
        let Some(first) = listen.first() else {
            return Err("the app has no listen entry".into());
        };
        let entry = Listen {
            port,
            ..first.clone()
        };
        if self.apps.get(app).is_some_and(|p| p.entry == entry) {
            return Ok(());
        }
        if let Some(p) = self.apps.remove(app) {
            tokio::spawn(p.listeners.shutdown());
        }
        let listeners = AppListeners::bind(app, std::slice::from_ref(&entry))
            .await
            .map_err(|e| format!("cannot listen on the preview port {port}: {e}"))?;
        let preview = Preview {
            entry,
            listeners,
            backends: Vec::new(),
        };
        self.apps.insert(app.to_owned(), preview);
        Ok(())
    }

    /// Hands `app`'s preview the new revision's ready instances.
    pub fn set_backends(&mut self, app: &str, mut ready: Vec<Backend>) {
        let Some(p) = self.apps.get_mut(app) else {
            return;
        };
        ready.sort_by_key(|b| b.id);
        if p.backends != ready {
            p.backends = ready.clone();
            p.listeners.set_backends(ready);
        }
    }

    /// The preview's traffic per revision since it was bound (none without a preview).
    pub fn revision_stats(&self, app: &str) -> BTreeMap<String, RevisionSnapshot> {
        self.apps
            .get(app)
            .map(|p| p.listeners.revision_stats())
            .unwrap_or_default()
    }

    /// Records how binding `app`'s preview went (`None`: it is bound); true when `why` is news.
    pub fn failed(&mut self, app: &str, why: Option<&str>) -> bool {
        match why {
            None => self.failing.remove(app).is_some(),
            Some(why) if self.failing.get(app).map(String::as_str) == Some(why) => false,
            Some(why) => {
                self.failing.insert(app.to_owned(), why.to_owned());
                true
            }
        }
    }

    /// Whether `app` has a preview listener.
    pub fn has(&self, app: &str) -> bool {
        self.apps.contains_key(app)
    }

    /// Closes `app`'s preview: its clients' requests in flight finish in the background.
    pub fn remove(&mut self, app: &str) {
        self.failing.remove(app);
        if let Some(p) = self.apps.remove(app) {
            tokio::spawn(p.listeners.shutdown());
        }
    }
}
