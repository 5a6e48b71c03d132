//! `notify` readiness: the app sends `READY=1` on `NOTIFY_SOCKET` (systemd's sd_notify).
//!
//! Sender credentials are not checked: the socket file is 0600 in the 0700 run directory and
//! one per instance, so only the instance's user can reach it, and tools such as
//! `systemd-notify` or a shell wrapper legitimately send from a pid other than the instance's.
//! An instance running as another user ([`NotifySocket::bind_for_user`]) gets its socket in a
//! folder of its own, made for it under the temporary directory, 0700 and owned by that user:
//! the run directory stays closed, and still only that user (and root) can reach the socket.

use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::UnixDatagram as StdUnixDatagram;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::net::UnixDatagram;
use tokio::time::{self, Instant};
use tokio_util::sync::CancellationToken;

use super::runner::Reporter;

/// Receive buffer: sd_notify messages are a few short `KEY=VALUE` lines.
const DATAGRAM_MAX: usize = 4096;

/// A Unix datagram socket an instance reports readiness on; its file is removed on drop.
#[derive(Debug)]
pub struct NotifySocket {
    /// The bound socket, non-blocking.
    socket: StdUnixDatagram,
    /// Removes the socket file when dropped.
    file: SocketFile,
}

impl NotifySocket {
    /// Binds a datagram socket at `path` (replacing a stale socket file there), mode 0600.
    ///
    /// Works outside a runtime; the run directory holding `path` is expected to be 0700.
    pub fn bind(path: &Path) -> io::Result<NotifySocket> {
        match std::fs::symlink_metadata(path) {
            Ok(meta) if meta.file_type().is_socket() => std::fs::remove_file(path)?,
            Ok(_) => {
                let shown = path.display();
                let msg = format!("{shown} exists and is not a socket; remove it");
                return Err(io::Error::new(io::ErrorKind::AlreadyExists, msg));
            }
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(err) => return Err(err),
        }
        let socket = StdUnixDatagram::bind(path)?;
        let file = SocketFile::new(path)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        socket.set_nonblocking(true)?;
        Ok(NotifySocket { socket, file })
    }

    /// Binds a socket that user `uid` (group `gid`) can reach: `name` inside a new folder
    /// under `base` (the temporary directory: its ancestors must be passable to everyone),
    /// mode 0700, both owned by that user. The folder is removed with the socket.
    pub fn bind_for_user(base: &Path, name: &str, uid: u32, gid: u32) -> io::Result<NotifySocket> {
        use std::os::unix::fs::DirBuilderExt;
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let mut tries = 0u32;
        let dir = loop {
            let dir = base.join(format!(
                "corral-notify.{}.{stamp:x}.{tries}",
                std::process::id()
            ));
            // Exclusive: a name someone else made first is never used.
            match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => break dir,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && tries < 16 => tries += 1,
                Err(e) => return Err(e),
            }
        };
        let bound = NotifySocket::bind(&dir.join(name)).and_then(|mut socket| {
            socket.file.dir = Some(dir.clone());
            let owner = (Some(uid), Some(gid));
            std::os::unix::fs::chown(&socket.file.path, owner.0, owner.1)?;
            std::os::unix::fs::chown(&dir, owner.0, owner.1)?;
            Ok(socket)
        });
        if bound.is_err() {
            let _ = std::fs::remove_dir_all(&dir);
        }
        bound
    }

    /// Where the socket is: the value for the instance's `NOTIFY_SOCKET`.
    pub fn path(&self) -> &Path {
        &self.file.path
    }
}

/// The socket's file; removed on drop unless something else has replaced it since.
#[derive(Debug)]
struct SocketFile {
    /// The path it was bound at.
    path: PathBuf,
    /// Device and inode of the file we created.
    identity: (u64, u64),
    /// The folder made for the socket alone, removed after it.
    dir: Option<PathBuf>,
}

impl SocketFile {
    /// Records the file just bound at `path`.
    fn new(path: &Path) -> io::Result<SocketFile> {
        let meta = std::fs::symlink_metadata(path)?;
        let identity = (meta.dev(), meta.ino());
        Ok(SocketFile {
            path: path.to_path_buf(),
            identity,
            dir: None,
        })
    }
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        let ours = std::fs::symlink_metadata(&self.path)
            .map(|meta| (meta.dev(), meta.ino()) == self.identity)
            .unwrap_or(false);
        if ours {
            if let Err(err) = std::fs::remove_file(&self.path) {
                tracing::warn!(path = %self.path.display(), %err, "cannot remove notify socket");
            }
        }
        if let Some(dir) = &self.dir {
            if let Err(err) = std::fs::remove_dir(dir) {
                tracing::warn!(path = %dir.display(), %err, "cannot remove notify socket folder");
            }
        }
    }
}

/// What the app has said so far.
#[derive(Debug, Default, PartialEq, Eq)]
struct Notified {
    /// A `READY=1` line arrived.
    ready: bool,
    /// The last `STATUS=` value.
    status: Option<String>,
}

impl Notified {
    /// Reads one datagram of newline-separated `KEY=VALUE` lines; other keys are ignored.
    fn read(&mut self, datagram: &[u8]) {
        for line in String::from_utf8_lossy(datagram).lines() {
            if line == "READY=1" {
                self.ready = true;
            } else if let Some(status) = line.strip_prefix("STATUS=") {
                self.status = Some(status.to_string());
            }
        }
    }

    /// The report message: `notify: READY=1 (status: listening)`.
    fn message(&self) -> String {
        match &self.status {
            Some(status) => format!("notify: READY=1 (status: {status})"),
            None => "notify: READY=1".to_string(),
        }
    }
}

/// Reads notifications until `stop`; reports passing once, on `READY=1`, not before
/// `initial_delay`. Keeps draining the socket afterwards so a chatty sender never blocks.
pub(crate) async fn run(
    socket: NotifySocket,
    initial_delay: Duration,
    reporter: Reporter,
    stop: CancellationToken,
) {
    let NotifySocket { socket, file } = socket;
    let socket = match UnixDatagram::from_std(socket) {
        Ok(socket) => socket,
        Err(err) => {
            let message = format!("notify: cannot watch {}: {err}", file.path.display());
            reporter.send(false, message, &stop).await;
            return;
        }
    };
    let not_before = Instant::now() + initial_delay;
    let mut notified = Notified::default();
    let mut reported = false;
    let mut buf = vec![0u8; DATAGRAM_MAX];
    loop {
        let due = notified.ready && !reported;
        tokio::select! {
            _ = stop.cancelled() => break,
            received = socket.recv(&mut buf) => match received {
                Ok(n) => notified.read(&buf[..n]),
                Err(err) => {
                    tracing::warn!(path = %file.path.display(), %err, "notify socket failed");
                    break;
                }
            },
            _ = time::sleep_until(not_before), if due => {}
        }
        if notified.ready && !reported && Instant::now() >= not_before {
            reported = true;
            if !reporter.send(true, notified.message(), &stop).await {
                break;
            }
        }
    }
    drop(socket);
    drop(file);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ready_and_keeps_last_status() {
        let mut n = Notified::default();
        n.read(b"STATUS=warming");
        assert!(!n.ready);
        n.read(b"MAINPID=42\nSTATUS=listening\nREADY=1\n");
        assert!(n.ready);
        assert_eq!(n.message(), "notify: READY=1 (status: listening)");
    }

    #[test]
    fn ready_must_be_a_whole_line() {
        let mut n = Notified::default();
        n.read(b"READY=10\nXREADY=1\nSTATUS=READY=1");
        assert!(!n.ready);
    }
}
