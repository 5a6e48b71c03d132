//! The control API server: axum over `$CORRAL_HOME/corral.sock`, owner-only.
//!
//! Two steps so the controller can fail early: [`Server::bind`] prepares `$CORRAL_HOME` (0700,
//! ours, not a symlink), refuses when another controller answers on the socket, replaces a stale
//! one and binds a 0600 socket; [`Server::run`] then answers requests until the shutdown token
//! fires, and removes the socket. [`serve`] does both.

use std::io;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::client::Client;
use super::{ApiRequest, ErrorReply};
use crate::home::Home;

/// How long a request waits for the controller loop before answering 503.
const CONTROLLER_TIMEOUT: Duration = Duration::from_secs(10);

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

/// A bound, owner-only control socket, ready to [`run`](Server::run).
#[derive(Debug)]
pub struct Server {
    listener: PeerCheckedListener,
    socket: PathBuf,
    /// Device and inode of our socket file, so we never remove someone else's on exit.
    identity: (u64, u64),
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
        let root = home.root().to_path_buf();
        let socket = home.socket();
        blocking(move || prepare_home(&root)).await?;
        clear_stale_socket(home, &socket).await?;
        let (std_listener, identity) = {
            let root = home.root().to_path_buf();
            let socket = socket.clone();
            blocking(move || bind_owner_only(&root, &socket)).await?
        };
        let io_err = |source| ApiError::Io {
            what: "listen on",
            path: socket.clone(),
            source,
        };
        std_listener.set_nonblocking(true).map_err(io_err)?;
        let listener = UnixListener::from_std(std_listener).map_err(io_err)?;
        Ok(Self {
            listener: PeerCheckedListener {
                inner: listener,
                me: nix::unistd::geteuid().as_raw(),
            },
            socket,
            identity,
        })
    }

    /// The socket path this server listens on.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Answers requests until `shutdown` fires, then removes the socket file.
    pub async fn run(
        self,
        requests: mpsc::Sender<ApiRequest>,
        shutdown: CancellationToken,
    ) -> Result<(), ApiError> {
        let Self {
            listener,
            socket,
            identity,
        } = self;
        let served = axum::serve(listener, router(requests))
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await;
        let path = socket.clone();
        let _ = blocking(move || {
            remove_if_ours(&path, identity);
            Ok(())
        })
        .await;
        served.map_err(|source| ApiError::Io {
            what: "serve on",
            path: socket,
            source,
        })
    }
}

/// The routes of `/v1`, each turned into an [`ApiRequest`] for the controller loop.
fn router(requests: mpsc::Sender<ApiRequest>) -> Router {
    Router::new()
        .route("/v1/apps", get(list))
        .route("/v1/apps/{name}", get(get_app))
        .route("/v1/apps/{name}/restart", post(restart))
        .route("/v1/apps/{name}/reload", post(reload))
        .route("/v1/resync", post(resync))
        .route("/v1/controller", get(info))
        .fallback(|| async {
            Failure(
                StatusCode::NOT_FOUND,
                "no such API route: the API has /v1/apps, /v1/apps/NAME, /v1/apps/NAME/restart|reload, /v1/resync, /v1/controller".into(),
            )
        })
        .with_state(requests)
}

/// An error answer: status code and an [`ErrorReply`] body.
struct Failure(StatusCode, String);

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        (self.0, Json(ErrorReply { error: self.1 })).into_response()
    }
}

type Requests = State<mpsc::Sender<ApiRequest>>;

/// Sends one request to the controller loop and waits (bounded) for its answer.
async fn ask<T>(
    requests: &mpsc::Sender<ApiRequest>,
    make: impl FnOnce(oneshot::Sender<T>) -> ApiRequest,
) -> Result<T, Failure> {
    let gone = || {
        Failure(
            StatusCode::SERVICE_UNAVAILABLE,
            "the controller is shutting down and no longer takes requests".into(),
        )
    };
    let (tx, rx) = oneshot::channel();
    requests.send(make(tx)).await.map_err(|_| gone())?;
    match tokio::time::timeout(CONTROLLER_TIMEOUT, rx).await {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(_)) => Err(gone()),
        Err(_) => Err(Failure(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "the controller did not answer within {}s; it may be overloaded, try again",
                CONTROLLER_TIMEOUT.as_secs()
            ),
        )),
    }
}

fn not_found(name: &str) -> Failure {
    Failure(
        StatusCode::NOT_FOUND,
        format!("app {name:?} not found: corral get lists apps"),
    )
}

async fn list(State(tx): Requests) -> Response {
    match ask(&tx, |reply| ApiRequest::List { reply }).await {
        Ok(list) => Json(list).into_response(),
        Err(f) => f.into_response(),
    }
}

async fn get_app(State(tx): Requests, UrlPath(name): UrlPath<String>) -> Response {
    let asked = name.clone();
    match ask(&tx, |reply| ApiRequest::Get { name: asked, reply }).await {
        Ok(Some(app)) => Json(app).into_response(),
        Ok(None) => not_found(&name).into_response(),
        Err(f) => f.into_response(),
    }
}

/// Restart or reload: 404 for an unknown app, 409 when the controller refuses.
async fn command(
    tx: &mpsc::Sender<ApiRequest>,
    name: String,
    make: fn(String, oneshot::Sender<Result<super::Reply, String>>) -> ApiRequest,
) -> Response {
    let asked = name.clone();
    match ask(tx, |reply| ApiRequest::Get { name: asked, reply }).await {
        Ok(Some(_)) => {}
        Ok(None) => return not_found(&name).into_response(),
        Err(f) => return f.into_response(),
    }
    match ask(tx, |reply| make(name, reply)).await {
        Ok(Ok(reply)) => Json(reply).into_response(),
        Ok(Err(message)) => Failure(StatusCode::CONFLICT, message).into_response(),
        Err(f) => f.into_response(),
    }
}

async fn restart(State(tx): Requests, UrlPath(name): UrlPath<String>) -> Response {
    command(&tx, name, |name, reply| ApiRequest::Restart { name, reply }).await
}

async fn reload(State(tx): Requests, UrlPath(name): UrlPath<String>) -> Response {
    command(&tx, name, |name, reply| ApiRequest::Reload { name, reply }).await
}

async fn resync(State(tx): Requests) -> Response {
    match ask(&tx, |reply| ApiRequest::Resync { reply }).await {
        Ok(reply) => Json(reply).into_response(),
        Err(f) => f.into_response(),
    }
}

async fn info(State(tx): Requests) -> Response {
    match ask(&tx, |reply| ApiRequest::Info { reply }).await {
        Ok(info) => Json(info).into_response(),
        Err(f) => f.into_response(),
    }
}

/// Accepts only peers running as our effective uid (or root); others are dropped.
#[derive(Debug)]
struct PeerCheckedListener {
    inner: UnixListener,
    me: u32,
}

impl axum::serve::Listener for PeerCheckedListener {
    type Io = UnixStream;
    type Addr = tokio::net::unix::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, addr)) => match stream.peer_cred() {
                    Ok(cred) if cred.uid() == self.me || cred.uid() == 0 => return (stream, addr),
                    Ok(cred) => {
                        tracing::warn!(
                            uid = cred.uid(),
                            "refused an API connection from another user"
                        )
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "refused an API connection: no peer credentials")
                    }
                },
                Err(e) if is_connection_error(&e) => {}
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::error!(error = %e, "accepting an API connection failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Runs blocking file-system work off the runtime threads.
async fn blocking<T: Send + 'static>(
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

/// Creates `root` with mode 0700, or checks it is a directory of ours and tightens it to 0700.
fn prepare_home(root: &Path) -> Result<(), ApiError> {
    let io_err = |what, source| ApiError::Io {
        what,
        path: root.to_path_buf(),
        source,
    };
    let me = nix::unistd::geteuid().as_raw();
    let meta = match std::fs::symlink_metadata(root) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(root)
                .map_err(|e| io_err("create", e))?;
            std::fs::symlink_metadata(root).map_err(|e| io_err("inspect", e))?
        }
        Err(e) => return Err(io_err("inspect", e)),
    };
    if meta.file_type().is_symlink() {
        return Err(ApiError::HomeIsSymlink {
            path: root.to_path_buf(),
        });
    }
    if !meta.is_dir() {
        return Err(ApiError::HomeNotDir {
            path: root.to_path_buf(),
        });
    }
    if meta.uid() != me {
        return Err(ApiError::HomeNotOwned {
            path: root.to_path_buf(),
            owner: meta.uid(),
            me,
        });
    }
    if meta.mode() & 0o777 != 0o700 {
        std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| io_err("chmod 0700", e))?;
    }
    Ok(())
}

/// Refuses when a controller answers on `socket`; removes it when nobody listens.
async fn clear_stale_socket(home: &Home, socket: &Path) -> Result<(), ApiError> {
    let meta = match tokio::fs::symlink_metadata(socket).await {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(ApiError::Io {
                what: "inspect",
                path: socket.to_path_buf(),
                source,
            })
        }
    };
    if !meta.file_type().is_socket() {
        return Err(ApiError::NotASocket {
            path: socket.to_path_buf(),
        });
    }
    match UnixStream::connect(socket).await {
        Ok(stream) => {
            drop(stream);
            let pid = match tokio::time::timeout(Duration::from_secs(2), Client::new(home).info())
                .await
            {
                Ok(Ok(info)) => Some(info.pid),
                _ => None,
            };
            Err(ApiError::AlreadyRunning {
                pid,
                socket: socket.to_path_buf(),
            })
        }
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            tracing::info!(socket = %socket.display(), "removing a stale control socket");
            match tokio::fs::remove_file(socket).await {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                Err(source) => Err(ApiError::Io {
                    what: "remove the stale socket",
                    path: socket.to_path_buf(),
                    source,
                }),
            }
        }
        // Removed between our look and our knock: nothing to clear.
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(ApiError::Io {
            what: "probe",
            path: socket.to_path_buf(),
            source,
        }),
    }
}

/// Binds at a hidden temporary name, chmods it 0600, then renames it into place, so the socket
/// never exists at its well-known path with wider permissions (and the 0700 home hides the rest).
fn bind_owner_only(
    root: &Path,
    socket: &Path,
) -> Result<(std::os::unix::net::UnixListener, (u64, u64)), ApiError> {
    let tmp = root.join(format!(".corral.sock.{}.tmp", std::process::id()));
    let io_err = |what, path: &Path, source| ApiError::Io {
        what,
        path: path.to_path_buf(),
        source,
    };
    let _ = std::fs::remove_file(&tmp);
    let listener =
        std::os::unix::net::UnixListener::bind(&tmp).map_err(|e| io_err("bind", &tmp, e))?;
    let placed = std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| io_err("chmod 0600", &tmp, e))
        .and_then(|()| std::fs::rename(&tmp, socket).map_err(|e| io_err("create", socket, e)))
        .and_then(|()| std::fs::symlink_metadata(socket).map_err(|e| io_err("inspect", socket, e)));
    match placed {
        Ok(meta) => Ok((listener, (meta.dev(), meta.ino()))),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Removes the socket file if it is still the one we bound.
fn remove_if_ours(socket: &Path, identity: (u64, u64)) {
    if let Ok(meta) = std::fs::symlink_metadata(socket) {
        if (meta.dev(), meta.ino()) == identity {
            if let Err(e) = std::fs::remove_file(socket) {
                tracing::warn!(socket = %socket.display(), error = %e, "could not remove the control socket");
            }
        }
    }
}
