//! The listening sockets of every app (README "Load balancing"): bound once per app and kept across
//! reloads, rebound when `spec.listen` changes, fed the ready instances as backends.

use std::collections::BTreeMap;
use std::os::fd::BorrowedFd;
use std::sync::Arc;
use std::time::Duration;

use crate::lifecycle::{listen_fd_name, Inherited};
use crate::manifest::{Listen, ListenMode};
use crate::net::{AppListeners, Backend, Options};
use crate::supervisor::Drain;

/// One app's sockets.
struct Bound {
    listen: Vec<Listen>,
    listeners: AppListeners,
    /// The backends last handed to the proxy, to skip no-op updates.
    backends: Vec<Backend>,
    /// The canary route last set (a new route restarts its count of requests: set on change only).
    canary: Option<crate::net::CanaryRoute>,
}

/// Every app's sockets, and the bind errors of those that could not get theirs.
#[derive(Default)]
pub struct Listening {
    apps: BTreeMap<String, Bound>,
    errors: BTreeMap<String, String>,
    /// Sockets passed at start (a previous controller's, systemd's fd store), taken before
    /// anything is bound.
    inherited: Arc<Inherited>,
}

impl Listening {
    /// Takes each app's sockets from `inherited` where one fits, binding the others.
    pub fn new(inherited: Arc<Inherited>) -> Self {
        Self {
            inherited,
            ..Self::default()
        }
    }

    /// Binds `app`'s `listen`, taking the sockets passed at start where they fit.
    async fn bind(
        &self,
        app: &str,
        listen: &[Listen],
    ) -> Result<AppListeners, crate::net::NetError> {
        let inherited = Arc::clone(&self.inherited);
        let take = move |entry: &Listen| {
            let fd = inherited.take(&listen_fd_name(app, entry.port))?;
            Some(std::net::TcpListener::from(fd))
        };
        AppListeners::bind_taking(app, listen, Options::default(), take).await
    }

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
        match self.bind(app, listen).await {
            Ok(listeners) => {
                self.errors.remove(app);
                self.apps.insert(
                    app.to_owned(),
                    Bound {
                        listen: listen.to_vec(),
                        listeners,
                        backends: Vec::new(),
                        canary: None,
                    },
                );
                Ok(())
            }
            Err(e) => {
                let message = e.to_string();
                if let Some(prev) = old_listen {
                    if let Ok(listeners) = self.bind(app, &prev).await {
                        self.apps.insert(
                            app.to_owned(),
                            Bound {
                                listen: prev,
                                listeners,
                                backends: Vec::new(),
                                canary: None,
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
    pub fn set_backends(&mut self, app: &str, mut ready: Vec<Backend>) {
        let Some(bound) = self.apps.get_mut(app) else {
            return;
        };
        ready.sort_by_key(|b| b.id);
        if bound.backends == ready {
            return;
        }
        bound.backends = ready.clone();
        bound.listeners.set_backends(ready);
    }

    /// Routes a share of `app`'s requests to a canary revision (`None`: no canary).
    pub fn set_canary(&mut self, app: &str, route: Option<crate::net::CanaryRoute>) {
        if let Some(bound) = self.apps.get_mut(app).filter(|b| b.canary != route) {
            bound.canary = route.clone();
            bound.listeners.set_canary(route);
        }
    }

    /// `app`'s traffic counters per revision since its listeners were bound (none unbound).
    pub fn revision_stats(
        &self,
        app: &str,
    ) -> std::collections::BTreeMap<String, crate::net::RevisionSnapshot> {
        self.apps
            .get(app)
            .map(|bound| bound.listeners.revision_stats())
            .unwrap_or_default()
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

    /// Every app's listening sockets, named for passing on.
    pub fn sockets(&self) -> Vec<(String, BorrowedFd<'_>)> {
        self.apps
            .values()
            .flat_map(|b| b.listeners.sockets())
            .collect()
    }

    /// The sockets live on in the next controller: stop accepting, let what is in flight
    /// finish for up to `drain`, close ours.
    /// Accepting stops before this returns; the future resolves once the drain is over.
    pub fn hand_over(
        &mut self,
        drain: Duration,
    ) -> impl std::future::Future<Output = ()> + 'static {
        let all: Vec<_> = std::mem::take(&mut self.apps)
            .into_values()
            .map(|b| tokio::spawn(b.listeners.hand_over(drain)))
            .collect();
        async move {
            for task in all {
                let _ = task.await;
            }
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
