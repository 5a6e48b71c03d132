//! The listening sockets of every app (README "Load balancing"): bound once per app and kept across
//! reloads, rebound when `spec.listen` changes, fed the ready instances as backends.

use std::collections::BTreeMap;

use crate::manifest::{Listen, ListenMode};
use crate::net::{AppListeners, Backend};
use crate::supervisor::Drain;

/// One app's sockets.
struct Bound {
    listen: Vec<Listen>,
    listeners: AppListeners,
    /// The backends last handed to the proxy, to skip no-op updates.
    backends: Vec<(u64, Vec<(String, u16)>)>,
}

/// Every app's sockets, and the bind errors of those that could not get theirs.
#[derive(Default)]
pub struct Listening {
    apps: BTreeMap<String, Bound>,
    errors: BTreeMap<String, String>,
}

impl Listening {
    /// Makes `app`'s sockets match `listen`. On failure the previous sockets (if any) are kept
    /// and the error is returned (and remembered for status) — the app is in error, the
    /// controller goes on.
    pub async fn ensure(&mut self, app: &str, listen: &[Listen]) -> Result<(), String> {
        if self.apps.get(app).is_some_and(|b| b.listen == listen)
            || (listen.is_empty() && !self.apps.contains_key(app))
        {
            self.errors.remove(app);
            return Ok(());
        }
        let old = self.apps.remove(app);

        let old_listen = old.as_ref().map(|b| b.listen.clone());
        if let Some(old) = old {
            old.listeners.shutdown().await;
        }
        if listen.is_empty() {
            self.errors.remove(app);
            return Ok(());
        }
        match AppListeners::bind(app, listen).await {
            Ok(listeners) => {
                self.errors.remove(app);
                self.apps.insert(
                    app.to_owned(),
                    Bound {
                        listen: listen.to_vec(),
                        listeners,
                        backends: Vec::new(),
                    },
                );
                Ok(())
            }
            Err(e) => {
                let message = e.to_string();
                if let Some(prev) = old_listen {
                    if let Ok(listeners) = AppListeners::bind(app, &prev).await {
                        self.apps.insert(
                            app.to_owned(),
                            Bound {
                                listen: prev,
                                listeners,
                                backends: Vec::new(),
                            },
                        );
                    }
                }
                self.errors.insert(app.to_owned(), message.clone());
                Err(message)
            }
        }
    }

    /// The sockets of `app`, if bound.
    pub fn get(&self, app: &str) -> Option<&AppListeners> {
        self.apps.get(app).map(|b| &b.listeners)
    }

    /// Whether some app could not bind its ports.
    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// Why `app` has no sockets, if binding failed.
    pub fn error(&self, app: &str) -> Option<&String> {
        self.errors.get(app)
    }

    /// Hands the proxy the instances that may take traffic now (skips no-op updates).
    pub fn set_backends(&mut self, app: &str, mut ready: Vec<(u64, Vec<(String, u16)>)>) {
        let Some(bound) = self.apps.get_mut(app) else {
            return;
        };
        ready.sort();
        if bound.backends == ready {
            return;
        }
        bound.backends = ready.clone();
        let backends = ready
            .into_iter()
            .map(|(id, ports)| Backend { id, ports })
            .collect();
        bound.listeners.set_backends(backends);
    }

    /// For an app behind the tcp/http proxy: resolves once instance `id` has no open
    /// connections (it is taken out of rotation at once).
    pub fn drain(&self, app: &str, id: u64) -> Option<Drain> {
        let bound = self.apps.get(app)?;
        if bound.listen.iter().all(|l| l.mode == ListenMode::Inherit) {
            return None;
        }
        Some(Box::pin(bound.listeners.drain(id)))
    }

    /// `app`'s traffic counters and whether it has an http listener; `None` unless it has a
    /// tcp or http listener (in inherit mode the controller sees no traffic).
    pub fn traffic(&self, app: &str) -> Option<(std::sync::Arc<crate::net::Counters>, bool)> {
        let bound = self.apps.get(app)?;
        let proxied = bound.listen.iter().any(|l| l.mode != ListenMode::Inherit);
        let http = bound.listen.iter().any(|l| l.mode == ListenMode::Http);
        proxied.then(|| (bound.listeners.counters(), http))
    }

    /// Apps with sockets.
    pub fn apps(&self) -> impl Iterator<Item = &String> {
        self.apps.keys()
    }

    /// Closes `app`'s sockets (its last instance is gone).
    pub async fn remove(&mut self, app: &str) {
        self.errors.remove(app);
        if let Some(bound) = self.apps.remove(app) {
            bound.listeners.shutdown().await;
        }
    }

    /// Closes every socket (controller shutdown).
    pub async fn shutdown(&mut self) {
        let apps: Vec<String> = self.apps.keys().cloned().collect();
        for app in apps {
            self.remove(&app).await;
        }
    }
}
