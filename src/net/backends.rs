//! The rotation of ready backends an app's proxies pick from, with per-backend load and drain.
//!
//! Load is one count per backend: open tcp connections plus in-flight http requests, over all
//! listen entries. A pick takes a [`Lease`] that holds one unit of load until dropped.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock, Weak};

use tokio::sync::{watch, Notify};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::http::Pool;

/// A ready instance: its id and its own loopback port for each tcp/http listen entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backend {
    /// The instance's id, unique for the app's lifetime; `drain` takes it.
    pub id: u64,
    /// `(listen name, port)`: where the instance listens for that entry (its `PORT_<NAME>`).
    pub ports: Vec<(String, u16)>,
}

/// One backend as the proxies see it.
#[derive(Debug)]
pub(crate) struct BackendState {
    /// The instance id.
    pub(crate) id: u64,
    /// `(listen name, port)` pairs.
    ports: Vec<(String, u16)>,
    /// Open connections plus in-flight requests.
    active: AtomicUsize,
    /// False once the backend left the rotation; a pick that raced with the removal backs off.
    in_rotation: AtomicBool,
    /// Woken when `active` drops to zero.
    idle: Notify,
    /// The keep-alive pool to this backend (http mode); dropped with the backend.
    pub(crate) pool: OnceLock<Pool>,
}

impl BackendState {
    /// A fresh backend with no load.
    fn new(backend: Backend) -> Self {
        Self {
            id: backend.id,
            ports: backend.ports,
            active: AtomicUsize::new(0),
            in_rotation: AtomicBool::new(true),
            idle: Notify::new(),
            pool: OnceLock::new(),
        }
    }

    /// The backend's port for listen entry `name`.
    fn port(&self, name: &str) -> Option<u16> {
        self.ports.iter().find(|(n, _)| n == name).map(|(_, p)| *p)
    }

    /// Resolves once no lease on this backend is left.
    async fn idle(&self) {
        loop {
            let notified = self.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.active.load(SeqCst) == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// One unit of load on a backend: an open connection or an in-flight request.
#[derive(Debug)]
pub(crate) struct Lease {
    /// The backend picked.
    pub(crate) backend: Arc<BackendState>,
    /// Its port for the listen entry the lease was taken for.
    pub(crate) port: u16,
}

impl Lease {
    /// Counts one more unit of load on `backend`.
    fn take(backend: Arc<BackendState>, port: u16) -> Self {
        backend.active.fetch_add(1, SeqCst);
        Self { backend, port }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if self.backend.active.fetch_sub(1, SeqCst) == 1 {
            self.backend.idle.notify_waiters();
        }
    }
}

/// The current set of ready backends of one app, replaced as a whole.
#[derive(Debug)]
pub(crate) struct Rotation {
    /// Backends that receive new connections and requests.
    current: RwLock<Arc<Vec<Arc<BackendState>>>>,
    /// Every backend still referenced (in rotation or holding leases), for `drain`.
    known: Mutex<HashMap<u64, Weak<BackendState>>>,
    /// Bumped on every change, so waiters for a backend wake up.
    changed: watch::Sender<u64>,
    /// Round-robin cursor among equally loaded backends.
    cursor: AtomicUsize,
}

impl Default for Rotation {
    fn default() -> Self {
        Self {
            current: RwLock::default(),
            known: Mutex::default(),
            changed: watch::Sender::new(0),
            cursor: AtomicUsize::new(0),
        }
    }
}

impl Rotation {
    /// Replaces the rotation; backends that stay keep their load counts.
    pub(crate) fn set(&self, backends: Vec<Backend>) {
        let mut known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        known.retain(|_, weak| weak.strong_count() > 0);
        let next: Vec<Arc<BackendState>> = backends
            .into_iter()
            .map(|b| {
                let state = known
                    .get(&b.id)
                    .and_then(Weak::upgrade)
                    .filter(|s| s.ports == b.ports)
                    .unwrap_or_else(|| Arc::new(BackendState::new(b)));
                known.insert(state.id, Arc::downgrade(&state));
                state.in_rotation.store(true, SeqCst);
                state
            })
            .collect();
        let old = self.replace(next.clone());
        for state in old.iter() {
            if !next.iter().any(|s| Arc::ptr_eq(s, state)) {
                state.in_rotation.store(false, SeqCst);
            }
        }
        drop(known);
        self.changed.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// Swaps the current list, returning the old one.
    fn replace(&self, next: Vec<Arc<BackendState>>) -> Arc<Vec<Arc<BackendState>>> {
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        std::mem::replace(&mut *current, Arc::new(next))
    }

    /// The backends in rotation now.
    fn snapshot(&self) -> Arc<Vec<Arc<BackendState>>> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// `(id, open connections + in-flight requests)` of each backend in rotation.
    pub(crate) fn loads(&self) -> Vec<(u64, usize)> {
        self.snapshot()
            .iter()
            .map(|s| (s.id, s.active.load(SeqCst)))
            .collect()
    }

    /// Takes backend `id` out of rotation and resolves once its last lease is dropped.
    pub(crate) fn drain(&self, id: u64) -> impl Future<Output = ()> + Send + 'static {
        let known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        let state = known.get(&id).and_then(Weak::upgrade);
        if let Some(state) = &state {
            let snapshot = self.snapshot();
            if snapshot.iter().any(|s| s.id == id) {
                self.replace(snapshot.iter().filter(|s| s.id != id).cloned().collect());
                self.changed.send_modify(|v| *v = v.wrapping_add(1));
            }
            state.in_rotation.store(false, SeqCst);
        }
        drop(known);
        async move {
            if let Some(state) = state {
                state.idle().await;
            }
        }
    }

    /// Picks the least loaded backend serving listen entry `name`, skipping `tried`.
    ///
    /// Ties go round-robin. `None` when no such backend is in rotation.
    pub(crate) fn pick(&self, name: &str, tried: &[u64]) -> Option<Lease> {
        for _ in 0..16 {
            let snapshot = self.snapshot();
            let candidates: Vec<(&Arc<BackendState>, u16)> = snapshot
                .iter()
                .filter(|s| !tried.contains(&s.id))
                .filter_map(|s| s.port(name).map(|p| (s, p)))
                .collect();
            let least = candidates
                .iter()
                .map(|(s, _)| s.active.load(SeqCst))
                .min()?;
            let ties: Vec<_> = candidates
                .iter()
                .filter(|(s, _)| s.active.load(SeqCst) == least)
                .collect();
            let Some((state, port)) =
                ties.get(self.cursor.fetch_add(1, SeqCst) % ties.len().max(1))
            else {
                continue; // loads moved between the two reads
            };
            let lease = Lease::take(Arc::clone(state), *port);
            // Taken after `in_rotation` went false: drain may have seen zero load; back off.
            if lease.backend.in_rotation.load(SeqCst) {
                return Some(lease);
            }
        }
        None
    }

    /// Like [`Rotation::pick`], but waits until `deadline` for a backend to appear; gives up
    /// at once when `stop` fires (the app is shutting down).
    pub(crate) async fn wait_pick(
        &self,
        name: &str,
        tried: &[u64],
        deadline: Instant,
        stop: &CancellationToken,
    ) -> Option<Lease> {
        let mut changes = self.changed.subscribe();
        loop {
            if let Some(lease) = self.pick(name, tried) {
                return Some(lease);
            }
            tokio::select! {
                changed = tokio::time::timeout_at(deadline, changes.changed()) => match changed {
                    Ok(Ok(())) => continue,
                    _ => return None,
                },
                _ = stop.cancelled() => return None,
            }
        }
    }
}
