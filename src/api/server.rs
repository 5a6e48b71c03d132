//! The control API server: axum over `$CORRAL_HOME/corral.sock`, owner-only unless a
//! `--socket-group` is let in.
//!
//! Two steps so the controller can fail early: [`Server::bind`] prepares `$CORRAL_HOME` (0700,
//! or 0710 for a `--socket-group`; ours, not a symlink), refuses when another controller answers on the socket, replaces a stale
//! one and binds a 0600 socket; [`Server::run`] then answers requests until the shutdown token
//! fires, and removes the socket. [`serve`] does both.

use std::io;
use std::path::{Path, PathBuf};

use tokio::net::UnixListener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::access::{Access, SocketGroup};
use super::routes::router;
use super::socket::{
    bind_socket, clear_stale_socket, prepare_home, remove_if_ours, PeerCheckedListener,
};
use super::ApiRequest;
use crate::home::Home;

/// Why the API server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// `$CORRAL_HOME` is a symlink: someone could point it elsewhere.
    #[error("{} is a symlink; corral keeps its socket only in a real directory: set CORRAL_HOME to one", path.display())]
    HomeIsSymlink {
        /// The home directory.
        path: PathBuf,
    },
    /// `$CORRAL_HOME` exists but is not a directory.
    #[error("{} is not a directory: remove it or set CORRAL_HOME elsewhere", path.display())]
    HomeNotDir {
        /// The home directory.
        path: PathBuf,
    },
    /// `$CORRAL_HOME` belongs to another user.
    #[error("{} is owned by uid {owner}, not by you (uid {me}): set CORRAL_HOME to a directory of your own", path.display())]
    HomeNotOwned {
        /// The home directory.
        path: PathBuf,
        /// Its owner.
        owner: u32,
        /// Our effective uid.
        me: u32,
    },
    /// A controller already answers on the socket.
    #[error("another controller is already running (pid {}) on {}", pid.map_or("unknown".to_string(), |p| p.to_string()), socket.display())]
    AlreadyRunning {
        /// Its pid, when it said.
        pid: Option<u32>,
        /// The socket it answers on.
        socket: PathBuf,
    },
    /// Something that is not a socket sits where the socket goes.
    #[error("{} exists and is not a socket: remove it, then start the controller again", path.display())]
    NotASocket {
        /// The path.
        path: PathBuf,
    },
    /// `--socket-group` members could not reach the socket: a folder above the home is closed.
    #[error("--socket-group {group}: its members cannot reach {}: {folder} lets neither that group nor others search it; set CORRAL_HOME to a folder they can reach (e.g. /var/lib/corral) or give that folder o+x", path.display())]
    Unreachable {
        /// The home directory.
        path: PathBuf,
        /// The closed folder, with its mode and owners.
        folder: String,
        /// The group, for people.
        group: String,
    },
    /// A file-system or socket call failed.
    #[error("cannot {what} {}: {source}", path.display())]
    Io {
        /// What we were doing, as a verb phrase.
        what: &'static str,
        /// On which path.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

/// How long open API connections may finish after shutdown is asked.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// A bound, owner-only control socket, ready to [`run`](Server::run). Dropped without running,
/// it leaves the socket file behind; the next [`Server::bind`] clears it as stale.
#[derive(Debug)]
pub struct Server {
    listener: PeerCheckedListener,
    socket: PathBuf,
    /// Device and inode of our socket file, so we never remove someone else's on exit.
    identity: (u64, u64),
    /// Routes served beside `/v1` that answer without the controller loop (`/metrics`).
    extra: axum::Router,
}

/// Binds and runs the API server until `shutdown` is cancelled (see [`Server`]).
pub async fn serve(
    home: &Home,
    requests: mpsc::Sender<ApiRequest>,
    shutdown: CancellationToken,
) -> Result<(), ApiError> {
    Server::bind(home).await?.run(requests, shutdown).await
}

impl Server {
    /// Prepares `$CORRAL_HOME` and binds its socket (mode 0600); fails if a controller answers there.
    pub async fn bind(home: &Home) -> Result<Self, ApiError> {
        Self::bind_for(home, None).await
    }

    /// [`Server::bind`], letting the members of `group` in too (`--socket-group`): the home
    /// becomes 0710, the socket 0660 and the logs readable, all of group `group`; without a
    /// group, all of them go back to owner-only.
    pub async fn bind_for(home: &Home, group: Option<SocketGroup>) -> Result<Self, ApiError> {
        Self::bind_or_take(home, group, None).await
    }

    /// [`Server::bind_for`], or, given the listening socket of `corral.sock` passed by the
    /// controller this one takes over from (or by systemd's fd store), serves that one: same
    /// file, same socket, so no client is refused meanwhile. It is used only while
    /// `corral.sock` is still a socket file (else a socket is bound as usual).
    pub async fn bind_or_take(
        home: &Home,
        group: Option<SocketGroup>,
        passed: Option<std::os::fd::OwnedFd>,
    ) -> Result<Self, ApiError> {
        let root = home.root().to_path_buf();
        let socket = home.socket();
        let gid = group.as_ref().map(|g| g.gid);
        let asked = group.clone();
        blocking(move || prepare_home(&root, asked.as_ref())).await?;
        let logs_home = home.clone();
        blocking(move || {
            crate::logs::share_with(&logs_home, gid).map_err(|source| ApiError::Io {
                what: "give the group of",
                path: logs_home.root().join("logs"),
                source,
            })
        })
        .await?;
        let taken = match passed {
            Some(fd) => {
                let socket = socket.clone();
                blocking(move || Ok(take_socket(fd, &socket, gid))).await?
            }
            None => None,
        };
        let (std_listener, identity) = match taken {
            Some(taken) => taken,
            None => {
                clear_stale_socket(home, &socket).await?;
                let root = home.root().to_path_buf();
                let socket = socket.clone();
                blocking(move || bind_socket(&root, &socket, gid)).await?
            }
        };
        let io_err = |source| ApiError::Io {
            what: "listen on",
            path: socket.clone(),
            source,
        };
        std_listener.set_nonblocking(true).map_err(io_err)?;
        let listener = UnixListener::from_std(std_listener).map_err(io_err)?;
        Ok(Self {
            listener: PeerCheckedListener::new(
                listener,
                Access {
                    uids: [nix::unistd::geteuid().as_raw(), 0],
                    group,
                },
            ),
            socket,
            identity,
            extra: axum::Router::new(),
        })
    }

    /// Also serves `routes` (which must not overlap `/v1`), e.g. `/metrics`.
    pub fn with_routes(mut self, routes: axum::Router) -> Self {
        self.extra = self.extra.merge(routes);
        self
    }

    /// The socket path this server listens on.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// A CLOEXEC duplicate of the listening socket, to pass on to a successor.
    pub fn dup_socket(&self) -> io::Result<std::os::fd::OwnedFd> {
        use std::os::fd::AsFd;
        self.listener.inner.as_fd().try_clone_to_owned()
    }

    /// Answers requests until `shutdown` fires, then removes the socket file.
    pub async fn run(
        self,
        requests: mpsc::Sender<ApiRequest>,
        shutdown: CancellationToken,
    ) -> Result<(), ApiError> {
        self.run_until(requests, shutdown, CancellationToken::new())
            .await
    }

    /// [`Server::run`]; once `released` fires (a successor serves the same socket now), no
    /// connection is accepted here any more (they wait for the successor), the open ones are
    /// served as usual, and the socket file is left in place at shutdown.
    pub async fn run_until(
        self,
        requests: mpsc::Sender<ApiRequest>,
        shutdown: CancellationToken,
        released: CancellationToken,
    ) -> Result<(), ApiError> {
        let Self {
            mut listener,
            socket,
            identity,
            extra,
        } = self;
        listener.released = released.clone();
        let graceful = axum::serve(listener, router(requests).merge(extra))
            .with_graceful_shutdown(shutdown.clone().cancelled_owned());
        // A client that never finishes its request must not hold the controller's exit hostage.
        let served = tokio::select! {
            served = graceful => served,
            () = async {
                shutdown.cancelled().await;
                tokio::time::sleep(SHUTDOWN_GRACE).await;
            } => {
                tracing::warn!("API connections still open after shutdown grace: dropping them");
                Ok(())
            }
        };
        let path = socket.clone();
        if !released.is_cancelled() {
            let _ = blocking(move || {
                remove_if_ours(&path, identity);
                Ok(())
            })
            .await;
        }
        served.map_err(|source| ApiError::Io {
            what: "serve on",
            path: socket,
            source,
        })
    }
}

/// The passed listening socket of `socket`, with the file's mode and group set as
/// [`bind_socket`] would; `None` (the fd closed) when the file is no longer a socket.
fn take_socket(
    fd: std::os::fd::OwnedFd,
    socket: &Path,
    group: Option<u32>,
) -> Option<(std::os::unix::net::UnixListener, (u64, u64))> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
    let meta = std::fs::symlink_metadata(socket).ok()?;
    if !meta.file_type().is_socket() {
        return None;
    }
    let mode = if group.is_some() { 0o660 } else { 0o600 };
    let _ = std::os::unix::fs::chown(socket, None, group);
    let _ = std::fs::set_permissions(socket, std::fs::Permissions::from_mode(mode));
    Some((fd.into(), (meta.dev(), meta.ino())))
}

/// Runs blocking file-system work off the runtime threads.
pub(super) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work).await.unwrap_or_else(|e| {
        Err(ApiError::Io {
            what: "prepare",
            path: PathBuf::new(),
            source: io::Error::other(e),
        })
    })
}
