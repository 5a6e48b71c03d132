//! The socket side of the server: an owner-only `$CORRAL_HOME`, a 0600 socket bound without a
//! window of wider permissions, stale-socket cleanup, and a listener that checks each peer's uid.

use std::io;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

use tokio::net::{UnixListener, UnixStream};

use super::client::Client;
use super::server::ApiError;
use crate::home::Home;

/// Accepts only peers running as our effective uid (or root); others are dropped.
#[derive(Debug)]
pub(super) struct PeerCheckedListener {
    /// The bound socket.
    pub(super) inner: UnixListener,
    /// Peer uids let in (ours, and root's).
    pub(super) allowed: [u32; 2],
}

impl axum::serve::Listener for PeerCheckedListener {
    type Io = UnixStream;
    type Addr = tokio::net::unix::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, addr)) => match stream.peer_cred() {
                    Ok(cred) if self.allowed.contains(&cred.uid()) => return (stream, addr),
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

/// Creates `root` with mode 0700, or checks it is a directory of ours and tightens it to 0700.
pub(super) fn prepare_home(root: &Path) -> Result<(), ApiError> {
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

/// Binds at a hidden temporary name, chmods it 0600, then renames it into place, so the socket
/// never exists at its well-known path with wider permissions (and the 0700 home hides the rest).
pub(super) fn bind_owner_only(
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
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn peers_of_other_uids_are_dropped() -> Result<(), Box<dyn std::error::Error>> {
        let tmp = tempfile::tempdir()?;
        let path = tmp.path().join("s.sock");
        let mut strict = PeerCheckedListener {
            inner: UnixListener::bind(&path)?,
            allowed: [u32::MAX - 1, u32::MAX - 1],
        };
        let accepting = tokio::spawn(async move { strict.accept().await });
        let mut refused = UnixStream::connect(&path).await?;
        let mut buf = [0u8; 1];
        let read = tokio::time::timeout(Duration::from_secs(5), refused.read(&mut buf)).await??;
        assert_eq!(read, 0, "the connection is closed by the listener");
        assert!(
            !accepting.is_finished(),
            "a refused peer is never handed to the server"
        );
        accepting.abort();

        let path = tmp.path().join("t.sock");
        let me = nix::unistd::geteuid().as_raw();
        let mut ours = PeerCheckedListener {
            inner: UnixListener::bind(&path)?,
            allowed: [me, 0],
        };
        let _client = UnixStream::connect(&path).await?;
        let accepted = tokio::time::timeout(Duration::from_secs(5), ours.accept()).await;
        assert!(accepted.is_ok(), "our own uid is let in");
        Ok(())
    }
}
