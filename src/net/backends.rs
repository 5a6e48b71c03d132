//! The rotation of ready backends an app's proxies pick from, with per-backend load and drain,
//! and the canary route that splits http requests between revisions (`route.rs`).
//!
//! Load is one count per backend: open tcp connections plus in-flight http requests, over all
//! listen entries. A pick takes a [`Lease`] that holds one unit of load until dropped. With a
//! canary route, a request first gets its group (canary or stable); within the group the least
//! loaded backend is picked as without one, and a group with no backend to offer falls back to
//! the other.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, PoisonError, RwLock, Weak};

use tokio::sync::{watch, Notify};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::raw_upstream::RawPool;
use super::revision_stats::{RevisionCounters, RevisionSnapshot, Revisions};
use super::route::{CanaryRoute, Choice, Group, Route};
use super::upstream::Pool;

/// How long to wait before trying again backends whose connect just failed.
const RETRY_PAUSE: std::time::Duration = std::time::Duration::from_millis(100);

/// A ready instance: its id, its own loopback port for each tcp/http listen entry, and the
/// revision it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backend {
    /// The instance's id, unique for the app's lifetime; `drain` takes it.
    pub id: u64,
    /// `(listen name, port)`: where the instance listens for that entry (its `PORT_<NAME>`).
    pub ports: Vec<(String, u16)>,
    /// The app revision the instance runs: its group for a canary route, its counters.
    pub revision: String,
}

/// One backend as the proxies see it.
#[derive(Debug)]
pub(crate) struct BackendState {
    /// The instance id.
    pub(crate) id: u64,
    /// `(listen name, port)` pairs.
    ports: Vec<(String, u16)>,
    /// The revision it runs.
    revision_name: String,
    /// That revision's counters, shared with its other backends.
    pub(crate) revision: Arc<RevisionCounters>,
    /// Open connections plus in-flight requests.
    active: AtomicUsize,
    /// False once the backend left the rotation; a pick that raced with the removal backs off.
    in_rotation: AtomicBool,
    /// Woken when `active` drops to zero.
    idle: Notify,
    /// Idle keep-alive connections to this backend (http mode); closed with the backend.
    pub(crate) pool: Pool,
    /// The same for the fast path's own connections (`fast.rs`).
    pub(crate) fast_pool: RawPool,
}

impl BackendState {
    /// A fresh backend with no load.
    fn new(backend: Backend, revision: Arc<RevisionCounters>) -> Self {
        Self {
            id: backend.id,
            ports: backend.ports,
            revision_name: backend.revision,
            revision,
            active: AtomicUsize::new(0),
            in_rotation: AtomicBool::new(true),
            idle: Notify::new(),
            pool: Pool::default(),
            fast_pool: RawPool::default(),
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

/// What picks read: the backends in rotation and the canary route, replaced as a whole.
#[derive(Debug, Default)]
struct Routing {
    /// Backends that receive new connections and requests.
    backends: Vec<Arc<BackendState>>,
    /// How http requests are split between revisions; `None`: over every backend.
    canary: Option<Arc<Route>>,
}

/// The current set of ready backends of one app, replaced as a whole.
#[derive(Debug)]
pub(crate) struct Rotation {
    /// Backends in rotation and the canary route.
    current: RwLock<Arc<Routing>>,
    /// Every backend still referenced (in rotation or holding leases), for `drain`.
    known: Mutex<HashMap<u64, Weak<BackendState>>>,
    /// Bumped on every change, so waiters for a backend wake up.
    changed: watch::Sender<u64>,
    /// Round-robin cursors among equally loaded backends, one per [`Group`] (else a canary
    /// picked every 10th request would land on the same of two backends every time).
    cursors: [AtomicUsize; 3],
    /// Per-revision counters.
    revisions: Revisions,
}

impl Default for Rotation {
    fn default() -> Self {
        Self {
            current: RwLock::default(),
            known: Mutex::default(),
            changed: watch::Sender::new(0),
            cursors: Default::default(),
            revisions: Revisions::default(),
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
                    .filter(|s| s.ports == b.ports && s.revision_name == b.revision)
                    .unwrap_or_else(|| {
                        let revision = self.revisions.get(&b.revision);
                        Arc::new(BackendState::new(b, revision))
                    });
                known.insert(state.id, Arc::downgrade(&state));
                state.in_rotation.store(true, SeqCst);
                state
            })
            .collect();
        let old = self.update(|routing| Routing {
            backends: next.clone(),
            canary: routing.canary.clone(),
        });
        for state in old.backends.iter() {
            if !next.iter().any(|s| Arc::ptr_eq(s, state)) {
                state.in_rotation.store(false, SeqCst);
            }
        }
        drop(known);
        self.changed.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// Sets (`Some`) or ends (`None`) the canary route of http requests.
    pub(crate) fn set_canary(&self, route: Option<CanaryRoute>) {
        let route = route.map(|r| Arc::new(Route::new(&r, self.revisions.get(&r.revision))));
        self.update(|routing| Routing {
            backends: routing.backends.clone(),
            canary: route,
        });
        self.changed.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// Every revision's counters, cumulative since the rotation was made.
    pub(crate) fn revision_stats(&self) -> BTreeMap<String, RevisionSnapshot> {
        self.revisions.snapshot()
    }

    /// Replaces the routing with `next(current)`, returning the old one.
    fn update(&self, next: impl FnOnce(&Routing) -> Routing) -> Arc<Routing> {
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        let next = Arc::new(next(&current));
        std::mem::replace(&mut *current, next)
    }

    /// The backends in rotation and the route now.
    fn snapshot(&self) -> Arc<Routing> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// `(id, open connections + in-flight requests)` of each backend in rotation.
    pub(crate) fn loads(&self) -> Vec<(u64, usize)> {
        self.snapshot()
            .backends
            .iter()
            .map(|s| (s.id, s.active.load(SeqCst)))
            .collect()
    }

    /// Takes backend `id` out of rotation and resolves once its last lease is dropped.
    pub(crate) fn drain(&self, id: u64) -> impl Future<Output = ()> + Send + 'static {
        let known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        let state = known.get(&id).and_then(Weak::upgrade);
        if let Some(state) = &state {
            if self.snapshot().backends.iter().any(|s| s.id == id) {
                self.update(|routing| Routing {
                    backends: routing
                        .backends
                        .iter()
                        .filter(|s| s.id != id)
                        .cloned()
                        .collect(),
                    canary: routing.canary.clone(),
                });
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

    /// Picks the least loaded backend serving listen entry `name`, skipping `tried`, in the
    /// group `choice` decides at its first pick (see `route.rs`), else in the other group.
    ///
    /// Ties go round-robin. `None` when no such backend is in rotation.
    pub(crate) fn pick(&self, name: &str, tried: &[u64], choice: &mut Choice<'_>) -> Option<Lease> {
        for _ in 0..16 {
            let routing = self.snapshot();
            let group = match &routing.canary {
                None => Group::Any,
                Some(route) => *choice.group.get_or_insert_with(|| match choice.raw {
                    Some(raw) => route.group_raw(raw),
                    None => route.group(choice.headers),
                }),
            };
            let lease = match self.least(&routing, name, tried, group) {
                None if group != Group::Any => self.least(&routing, name, tried, Group::Any),
                picked => picked,
            }?;
            // Taken after `in_rotation` went false: drain may have seen zero load; back off.
            if lease.backend.in_rotation.load(SeqCst) {
                return Some(lease);
            }
        }
        None
    }

    /// A lease on the least loaded backend of `group` serving `name`, not in `tried`.
    fn least(&self, routing: &Routing, name: &str, tried: &[u64], group: Group) -> Option<Lease> {
        let admits = |s: &BackendState| match &routing.canary {
            Some(route) => route.admits(group, &s.revision),
            None => true,
        };
        let candidates = || {
            routing
                .backends
                .iter()
                .filter(|s| !tried.contains(&s.id) && admits(s))
                .filter_map(|s| s.port(name).map(|p| (s, p, s.active.load(SeqCst))))
        };
        let (mut least, mut ties) = (usize::MAX, 0);
        for (_, _, load) in candidates() {
            if load < least {
                (least, ties) = (load, 1);
            } else if load == least {
                ties += 1;
            }
        }
        if ties == 0 {
            return None;
        }
        let nth = self.cursors[group as usize].fetch_add(1, SeqCst) % ties;
        // Loads may have moved since the first pass: fall back to the first candidate.
        let (state, port, _) = candidates()
            .filter(|(_, _, load)| *load == least)
            .nth(nth)
            .or_else(|| candidates().next())?;
        Some(Lease::take(Arc::clone(state), port))
    }

    /// Like [`Rotation::pick`], but waits until `deadline` for a backend to appear; gives up
    /// at once when `stop` fires (the app is shutting down).
    pub(crate) async fn wait_pick(
        &self,
        name: &str,
        tried: &[u64],
        choice: &mut Choice<'_>,
        deadline: Instant,
        stop: &CancellationToken,
    ) -> Option<Lease> {
        let mut changes = self.changed.subscribe();
        let mut skip = tried;
        loop {
            if let Some(lease) = self.pick(name, skip, choice) {
                return Some(lease);
            }
            // Nothing new to try: wait for the rotation to change, or after a short pause try
            // the ones that failed again (a ready instance may start listening a moment late).
            let pause = (Instant::now() + RETRY_PAUSE).min(deadline);
            tokio::select! {
                changed = tokio::time::timeout_at(pause, changes.changed()) => match changed {
                    Ok(Ok(())) => continue,
                    Ok(Err(_)) => return None,
                    Err(_) if Instant::now() >= deadline => return None,
                    Err(_) => skip = &[],
                },
                _ = stop.cancelled() => return None,
            }
        }
    }
}

#[cfg(test)]
#[path = "backends_tests.rs"]
mod tests;
