//! [`AppListeners`]: the sockets of one app's `listen` entries and the proxies behind them.

use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;
use std::time::Duration;

use socket2::SockRef;

use super::backends::{Backend, Rotation};
use super::error::NetError;
use super::proxy::{Options, Proxy};
use super::revision_stats::RevisionSnapshot;
use super::route::CanaryRoute;
use super::stats::{Counters, Stats};
use super::tasks::Tasks;
use super::{bind, http, tcp, workers};
use crate::manifest::{Listen, ListenMode};

/// One bound `listen` entry.
#[derive(Debug)]
struct Entry {
    /// The entry's name (`LISTEN_FDNAMES`, `PORT_<NAME>`).
    name: String,
    /// The port the manifest asks for (0: any), which names the socket when it is passed on.
    port: u16,
    /// The address actually bound (port 0 resolved).
    addr: SocketAddr,
    /// The socket, owned here (inherit) or shared with the accept task (tcp, http).
    socket: Socket,
}

/// A listening socket by who accepts on it.
#[derive(Debug)]
enum Socket {
    /// Blocking, accepted on by the instances themselves.
    Inherit(std::net::TcpListener),
    /// Non-blocking, accepted on by the proxy workers, each through its own dup.
    Proxied(std::net::TcpListener),
}

/// The listening sockets of one app, bound once and kept for the app's lifetime, so the
/// public port never closes while instances are reloaded.
///
/// The controller keeps one per app. When the manifest's `listen` changes, drop (or
/// [`shutdown`](Self::shutdown)) the old value first, then bind the new one: dropping stops
/// listening at once, so binding the same port again succeeds immediately (SO_REUSEADDR).
/// Dropping ends every proxy task abruptly; `shutdown` lets in-flight traffic finish first.
#[derive(Debug)]
pub struct AppListeners {
    /// The app's name.
    app: String,
    /// The bound entries, in `spec.listen` order.
    entries: Vec<Entry>,
    /// The ready backends shared with the proxies.
    rotation: Arc<Rotation>,
    /// Traffic counters shared with the proxies.
    counters: Arc<Counters>,
    /// Every task spawned for this app.
    tasks: Tasks,
    /// Timeouts.
    options: Options,
    /// Set by `shutdown`, whose future ends the tasks instead of `Drop`.
    graceful: bool,
    /// Set by `hand_over`: the sockets live on in another controller, so they are closed
    /// here, never shut down (a shutdown would stop them listening there too).
    handed_over: bool,
}

impl AppListeners {
    /// Binds every entry of `app`'s `spec.listen` and starts the tcp/http proxies.
    pub async fn bind(app: &str, listen: &[Listen]) -> Result<Self, NetError> {
        Self::bind_with(app, listen, Options::default()).await
    }

    /// Like [`bind`](Self::bind) with explicit timeouts (tests use short ones).
    pub async fn bind_with(
        app: &str,
        listen: &[Listen],
        options: Options,
    ) -> Result<Self, NetError> {
        Self::bind_taking(app, listen, options, |_| None).await
    }

    /// Like [`bind_with`](Self::bind_with), first asking `take` for a socket already bound
    /// for each entry (passed by a previous controller or systemd's fd store); one that does
    /// not fit the entry (another address, mode or kind) is closed and the entry bound anew.
    pub async fn bind_taking(
        app: &str,
        listen: &[Listen],
        options: Options,
        mut take: impl FnMut(&Listen) -> Option<std::net::TcpListener>,
    ) -> Result<Self, NetError> {
        let mut listeners = Self {
            app: app.to_string(),
            entries: Vec::with_capacity(listen.len()),
            rotation: Arc::default(),
            counters: Arc::default(),
            tasks: Tasks::default(),
            options,
            graceful: false,
            handed_over: false,
        };
        // On an error, dropping `listeners` closes what was bound so far and ends its tasks.
        for (index, entry) in listen.iter().enumerate() {
            let socket = match take(entry).filter(|s| bind::fits(s, entry)) {
                Some(socket) => socket,
                None => bind::bind_entry(app, index, entry).await?,
            };
            let bind_error = |e| NetError::from_bind(app, &entry.host, entry.port, index, e);
            let addr = socket.local_addr().map_err(bind_error)?;
            let socket = match entry.mode {
                ListenMode::Inherit => Socket::Inherit(socket),
                ListenMode::Tcp | ListenMode::Http => {
                    socket.set_nonblocking(true).map_err(bind_error)?;
                    listeners.start_proxy(entry, &socket).map_err(bind_error)?;
                    Socket::Proxied(socket)
                }
            };
            listeners.entries.push(Entry {
                name: entry.name.clone(),
                port: entry.port,
                addr,
                socket,
            });
        }
        Ok(listeners)
    }

    /// Spawns the accept loop of one tcp/http entry on every proxy worker.
    fn start_proxy(&self, entry: &Listen, socket: &std::net::TcpListener) -> io::Result<()> {
        let proxy = Arc::new(Proxy {
            app: self.app.clone(),
            name: entry.name.clone(),
            rotation: Arc::clone(&self.rotation),
            counters: Arc::clone(&self.counters),
            tasks: self.tasks.clone(),
            options: self.options,
        });
        let http = entry.mode == ListenMode::Http;
        let runtimes = workers::handles();
        if runtimes.is_empty() {
            return Err(io::Error::other("no proxy worker thread could be started"));
        }
        for runtime in runtimes {
            let accept = accept(socket.try_clone()?, Arc::clone(&proxy), http);
            self.tasks.spawn_on(accept, runtime);
        }
        Ok(())
    }

    /// The app these listeners belong to.
    pub fn app(&self) -> &str {
        &self.app
    }

    /// `(listen name, bound address)` of every entry, in `spec.listen` order.
    pub fn local_addrs(&self) -> Vec<(String, SocketAddr)> {
        self.entries
            .iter()
            .map(|e| (e.name.clone(), e.addr))
            .collect()
    }

    /// The inherit-mode sockets and their names, in `spec.listen` order: fd 3, 4, … of a child.
    pub fn inherit_fds(&self) -> Vec<(BorrowedFd<'_>, String)> {
        self.entries
            .iter()
            .filter_map(|e| match &e.socket {
                Socket::Inherit(socket) => Some((socket.as_fd(), e.name.clone())),
                Socket::Proxied(_) => None,
            })
            .collect()
    }

    /// Every listening socket, named for passing on ([`crate::lifecycle::listen_fd_name`]).
    pub fn sockets(&self) -> Vec<(String, BorrowedFd<'_>)> {
        self.entries
            .iter()
            .map(|e| {
                let fd = match &e.socket {
                    Socket::Inherit(s) | Socket::Proxied(s) => s.as_fd(),
                };
                (crate::lifecycle::listen_fd_name(&self.app, e.port), fd)
            })
            .collect()
    }

    /// CLOEXEC dups of [`inherit_fds`](Self::inherit_fds), ready for [`super::pass_fds`].
    pub fn dup_inherit_fds(&self) -> io::Result<Vec<(OwnedFd, String)>> {
        self.inherit_fds()
            .into_iter()
            .map(|(fd, name)| Ok((fd.try_clone_to_owned()?, name)))
            .collect()
    }

    /// Replaces the set of ready backends that tcp/http traffic goes to (call it whenever an
    /// instance becomes ready or stops being ready); backends kept keep their open traffic.
    ///
    /// The list is the whole truth: a backend drained earlier but listed again is back in
    /// rotation, so leave stopping instances out.
    pub fn set_backends(&self, backends: Vec<Backend>) {
        self.rotation.set(backends);
    }

    /// Splits http requests between the canary's revision and the others (`None`: every
    /// request over every backend, as without a canary); tcp entries are not affected.
    ///
    /// Exactly `weight` of every 100 consecutive requests go to the canary, evenly spread,
    /// and a request with the route's header always does; within a group the least loaded
    /// backend serves, and a group without a ready backend falls back to the other.
    pub fn set_canary(&self, route: Option<CanaryRoute>) {
        self.rotation.set_canary(route);
    }

    /// Each revision's traffic since the listeners were bound (compare two with
    /// [`RevisionSnapshot::since`]); revisions no backend runs any more may be forgotten.
    pub fn revision_stats(&self) -> BTreeMap<String, RevisionSnapshot> {
        self.rotation.revision_stats()
    }

    /// Takes backend `id` out of rotation and resolves once it has no open connection (tcp)
    /// and no in-flight request (http); at once if it has none. Bound it by `stop.timeout`.
    ///
    /// Its idle keep-alive connections are closed once the drain is over, never reused.
    pub fn drain(&self, id: u64) -> impl Future<Output = ()> + Send + 'static {
        self.rotation.drain(id)
    }

    /// `(backend id, open connections + in-flight requests)` for each backend in rotation.
    pub fn backend_loads(&self) -> Vec<(u64, usize)> {
        self.rotation.loads()
    }

    /// The app's traffic counters.
    pub fn stats(&self) -> Stats {
        self.counters.snapshot()
    }

    /// The live counters behind [`stats`](Self::stats), read by `/metrics` without the controller.
    pub(crate) fn counters(&self) -> Arc<Counters> {
        Arc::clone(&self.counters)
    }

    /// Stops accepting, lets in-flight traffic finish for `shutdown_grace`, ends every task.
    pub fn shutdown(mut self) -> impl Future<Output = ()> + Send + 'static {
        self.graceful = true;
        self.stop_listening();
        self.rotation.set(Vec::new());
        let (tasks, grace) = (self.tasks.clone(), self.options.shutdown_grace);
        // `self` drops here: inherit sockets close; proxied ones close with their accept task.
        async move { tasks.shutdown(grace).await }
    }

    /// The sockets live on in another controller (`corral upgrade`): stops accepting, tells
    /// keep-alive clients to reconnect, lets open connections and requests finish for up to
    /// `drain`, then closes this controller's copies without shutting the sockets down.
    pub fn hand_over(mut self, drain: Duration) -> impl Future<Output = ()> + Send + 'static {
        self.graceful = true;
        self.handed_over = true;
        self.tasks.handover.cancel();
        let tasks = self.tasks.clone();
        async move {
            tasks.hand_over(drain).await;
            drop(self);
        }
    }

    /// Makes every proxied socket stop listening now, even while its accept task still holds it.
    fn stop_listening(&self) {
        self.tasks.stop.cancel();
        if self.handed_over {
            return;
        }
        for entry in &self.entries {
            if let Socket::Proxied(socket) = &entry.socket {
                // A listening socket shut down for reading leaves LISTEN state at once, so
                // the port can be bound again before the fd itself is closed.
                let _ = SockRef::from(socket).shutdown(std::net::Shutdown::Read);
            }
        }
    }
}

/// One worker's accept loop on its dup of a listening socket, registered with its runtime.
async fn accept(socket: std::net::TcpListener, proxy: Arc<Proxy>, http: bool) {
    match tokio::net::TcpListener::from_std(socket) {
        Ok(listener) if http => http::serve(listener, proxy).await,
        Ok(listener) => tcp::serve(listener, proxy).await,
        Err(error) => {
            tracing::error!(app = %proxy.app, listen = %proxy.name, %error, "cannot accept");
        }
    }
}

impl Drop for AppListeners {
    fn drop(&mut self) {
        self.stop_listening();
        if !self.graceful {
            self.tasks.kill();
        }
    }
}
