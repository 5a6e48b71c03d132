//! The rotation of ready backends an app's proxies pick from, with per-backend load and drain.
//!
//! Load is one count per backend: open tcp connections plus in-flight http requests, over all
//! listen entries. A pick takes a [`Lease`] that holds one unit of load until dropped.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, PoisonError, RwLock, Weak};

use tokio::sync::{watch, Notify};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::upstream::Pool;

/// How long to wait before trying again backends whose connect just failed.
const RETRY_PAUSE: std::time::Duration = std::time::Duration::from_millis(100);

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
    /// Idle keep-alive connections to this backend (http mode); closed with the backend.
    pub(crate) pool: Pool,
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
            pool: Pool::default(),
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
            let candidates = || {
                snapshot
                    .iter()
                    .filter(|s| !tried.contains(&s.id))
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
            let nth = self.cursor.fetch_add(1, SeqCst) % ties;
            // Loads may have moved since the first pass: fall back to the first candidate.
            let (state, port, _) = candidates()
                .filter(|(_, _, load)| *load == least)
                .nth(nth)
                .or_else(|| candidates().next())?;
            let lease = Lease::take(Arc::clone(state), port);
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
        let mut skip = tried;
        loop {
            if let Some(lease) = self.pick(name, skip) {
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
mod tests {
    use super::*;

    fn rotation(ids: &[u64]) -> Rotation {
        let rotation = Rotation::default();
        rotation.set(
            ids.iter()
                .map(|&id| Backend {
                    id,
                    ports: vec![("http".into(), 1000 + id as u16)],
                })
                .collect(),
        );
        rotation
    }

    #[test]
    fn picks_the_least_loaded_and_round_robins_ties() {
        let rotation = rotation(&[1, 2, 3]);
        let held: Vec<Lease> = (0..3)
            .map(|_| rotation.pick("http", &[]).expect("pick"))
            .collect();
        let mut ids: Vec<u64> = held.iter().map(|l| l.backend.id).collect();
        ids.sort();
        assert_eq!(ids, [1, 2, 3], "one each while all are equally loaded");
        let freed = held.iter().position(|l| l.backend.id == 2).expect("2");
        let mut held = held;
        held.remove(freed);
        let next = rotation.pick("http", &[]).expect("pick");
        assert_eq!((next.backend.id, next.port), (2, 1002));
        assert!(
            rotation.pick("other", &[]).is_none(),
            "no backend serves that entry"
        );
        assert!(rotation.pick("http", &[1, 2, 3]).is_none(), "all tried");
    }

    #[test]
    fn set_keeps_the_load_of_backends_that_stay() {
        let rotation = rotation(&[1, 2]);
        let _lease = rotation.pick("http", &[2]).expect("pick 1");
        rotation.set(vec![
            Backend {
                id: 1,
                ports: vec![("http".into(), 1001)],
            },
            Backend {
                id: 3,
                ports: vec![("http".into(), 1003)],
            },
        ]);
        assert_eq!(rotation.loads(), [(1, 1), (3, 0)]);
    }

    #[tokio::test]
    async fn drain_waits_for_leases_and_takes_the_backend_out() {
        let rotation = rotation(&[1, 2]);
        let lease = rotation.pick("http", &[2]).expect("pick 1");
        let drained = rotation.drain(1);
        assert_eq!(rotation.loads(), [(2, 0)]);
        for _ in 0..4 {
            assert_eq!(rotation.pick("http", &[]).expect("pick").backend.id, 2);
        }
        tokio::pin!(drained);
        assert!(futures::poll!(drained.as_mut()).is_pending());
        drop(lease);
        drained.await;
        rotation.drain(7).await; // unknown: at once
    }
}
