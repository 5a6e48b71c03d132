//! The socket side of the server: an owner-only `$CORRAL_HOME`, a 0600 socket bound without a
//! window of wider permissions, stale-socket cleanup, and a listener that checks each peer's uid.

use std::io;
use std::os::fd::AsFd;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{UnixListener, UnixStream};
use tokio::sync::Semaphore;

use super::access::{self, Access, SocketGroup};
use super::client::Client;
use super::server::ApiError;
use super::ErrorReply;
use crate::home::Home;

/// Accepts only the peers [`Access`] lets in; the others get a 403 whose JSON error the
/// client prints, and are closed.
#[derive(Debug)]
pub(super) struct PeerCheckedListener {
    /// The bound socket.
    pub(super) inner: UnixListener,
    /// Who is let in.
    pub(super) access: Access,
    /// Bounds the refusals being written at once; beyond it, refused peers are just closed.
    pub(super) refusals: Arc<Semaphore>,
    /// Fired once a successor accepts on this socket: from then on nothing is accepted here.
    pub(super) released: tokio_util::sync::CancellationToken,
}

/// Refusals written at once (each takes at most [`REFUSAL_TIME`]).
pub(super) const REFUSALS: usize = 16;
/// How long a refused peer has to send its request before its answer is written anyway.
const REFUSAL_TIME: Duration = Duration::from_secs(2);

impl PeerCheckedListener {
    /// A listener on `inner` judging peers by `access`.
    pub(super) fn new(inner: UnixListener, access: Access) -> Self {
        Self {
            inner,
            access,
            refusals: Arc::new(Semaphore::new(REFUSALS)),
            released: tokio_util::sync::CancellationToken::new(),
        }
    }

    /// Answers a refused peer with a 403 and its sentence, off the accept loop.
    fn refuse(&self, stream: UnixStream, why: String) {
        let Ok(permit) = self.refusals.clone().try_acquire_owned() else {
            return;
        };
        tokio::spawn(async move {
            let _ = tokio::time::timeout(REFUSAL_TIME, forbid(stream, &why)).await;
            drop(permit);
        });
    }
}

/// Reads the request head (so the client is not cut off while still writing), writes
/// `403 Forbidden` with `{"error": why}`, then waits for the client to hang up (closing first
/// could end its connection before it took the answer). [`REFUSAL_TIME`] bounds it all.
async fn forbid(mut stream: UnixStream, why: &str) -> io::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    let read_head = async {
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
    };
    let _ = tokio::time::timeout(REFUSAL_TIME / 2, read_head).await;
    let body = serde_json::to_vec(&ErrorReply {
        error: why.to_owned(),
        reason: None,
    })
    .map_err(io::Error::other)?;
    let head = format!(
        "HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(&body).await?;
    while stream.read(&mut buf).await? != 0 {}
    Ok(())
}

impl axum::serve::Listener for PeerCheckedListener {
    type Io = UnixStream;
    type Addr = tokio::net::unix::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let accepted = tokio::select! {
                biased;
                () = self.released.cancelled() => {
                    // The successor accepts on this socket now; never again here.
                    std::future::pending::<()>().await;
                    continue;
                }
                accepted = self.inner.accept() => accepted,
            };
            match accepted {
                Ok((stream, addr)) => match stream.peer_cred() {
                    Ok(cred) => match self.access.check(stream.as_fd(), cred.uid(), cred.gid()) {
                        Ok(()) => return (stream, addr),
                        Err(why) => {
                            tracing::warn!(
                                uid = cred.uid(),
                                gid = cred.gid(),
                                "refused an API connection: {why}"
                            );
                            self.refuse(stream, why);
                        }
                    },
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

/// Creates `root`, or checks it is a directory of ours, and gives it its modes: 0700, or 0710
/// with group `group` (members may reach the socket and the logs, nothing else). The folders
/// of state only the controller reads (`run/`, `history/`) are made 0700.
pub(super) fn prepare_home(root: &Path, group: Option<&SocketGroup>) -> Result<(), ApiError> {
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
    let (mode, gid) = match group {
        Some(group) => {
            if let Some(folder) = access::blocked_on_the_way(root, group.gid) {
                return Err(ApiError::Unreachable {
                    path: root.to_path_buf(),
                    folder,
                    group: group.display(),
                });
            }
            (0o710, group.gid)
        }
        None => (0o700, nix::unistd::getegid().as_raw()),
    };
    if meta.gid() != gid {
        std::os::unix::fs::chown(root, None, Some(gid))
            .map_err(|e| io_err("give the group of", e))?;
    }
    if meta.mode() & 0o7777 != mode {
        std::fs::set_permissions(root, std::fs::Permissions::from_mode(mode))
            .map_err(|e| io_err("set the mode of", e))?;
    }
    for private in ["run", "history"] {
        let dir = root.join(private);
        let io_err = |what, source| ApiError::Io {
            what,
            path: dir.clone(),
            source,
        };
        match std::fs::symlink_metadata(&dir) {
            Ok(m) if m.is_dir() && m.mode() & 0o7777 != 0o700 => {
                std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
                    .map_err(|e| io_err("chmod 0700", e))?
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => std::fs::DirBuilder::new()
                .mode(0o700)
                .create(&dir)
                .map_err(|e| io_err("create", e))?,
            Err(e) => return Err(io_err("inspect", e)),
        }
    }
    Ok(())
}

/// Refuses when a controller answers on `socket`; removes it when nobody listens.
pub(super) async fn clear_stale_socket(home: &Home, socket: &Path) -> Result<(), ApiError> {
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

/// Binds at a hidden temporary name, gives it mode 0600 (or 0660 and group `group`), then
/// renames it into place, so the socket never exists at its well-known path with wider
/// permissions (and the home's mode hides the rest).
pub(super) fn bind_socket(
    root: &Path,
    socket: &Path,
    group: Option<u32>,
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
    let mode = if group.is_some() { 0o660 } else { 0o600 };
    let placed = std::os::unix::fs::chown(&tmp, None, group)
        .map_err(|e| io_err("give the group of", &tmp, e))
        .and_then(|()| {
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode))
                .map_err(|e| io_err("set the mode of", &tmp, e))
        })
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
pub(super) fn remove_if_ours(socket: &Path, identity: (u64, u64)) {
    if let Ok(meta) = std::fs::symlink_metadata(socket) {
        if (meta.dev(), meta.ino()) == identity {
            if let Err(e) = std::fs::remove_file(socket) {
                tracing::warn!(socket = %socket.display(), error = %e, "could not remove the control socket");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::serve::Listener;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn peers_of_other_uids_are_told_why_and_closed() -> Result<(), Box<dyn std::error::Error>>
    {
        let tmp = tempfile::tempdir()?;
        let path = tmp.path().join("s.sock");
        let mut strict = PeerCheckedListener::new(
            UnixListener::bind(&path)?,
            Access {
                uids: [u32::MAX - 1, u32::MAX - 1],
                group: None,
            },
        );
        let accepting = tokio::spawn(async move { strict.accept().await });
        let mut refused = UnixStream::connect(&path).await?;
        refused
            .write_all(b"GET /v1/apps HTTP/1.1\r\nhost: corral\r\n\r\n")
            .await?;
        let mut answer = String::new();
        let mut buf = [0u8; 512];
        while !answer.ends_with('}') {
            let n = tokio::time::timeout(Duration::from_secs(5), refused.read(&mut buf)).await??;
            assert!(n > 0, "closed before the whole answer: {answer}");
            answer.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
        assert!(answer.starts_with("HTTP/1.1 403 Forbidden\r\n"), "{answer}");
        assert!(answer.contains("lets no other user"), "{answer}");
        assert!(
            !accepting.is_finished(),
            "a refused peer is never handed to the server"
        );
        accepting.abort();

        let path = tmp.path().join("t.sock");
        let me = nix::unistd::geteuid().as_raw();
        let mut ours = PeerCheckedListener::new(
            UnixListener::bind(&path)?,
            Access {
                uids: [me, 0],
                group: None,
            },
        );
        let _client = UnixStream::connect(&path).await?;
        let accepted = tokio::time::timeout(Duration::from_secs(5), ours.accept()).await;
        assert!(accepted.is_ok(), "our own uid is let in");
        Ok(())
    }
}
