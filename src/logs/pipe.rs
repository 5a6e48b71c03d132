//! The named pipe between an instance and the controller: survives a controller crash.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use nix::sys::stat::Mode;

/// A FIFO carrying one stream of one instance; the instance holds it read-write, so it never
/// gets SIGPIPE when no controller reads, and a new controller re-opens it by path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogPipe {
    path: PathBuf,
}

impl LogPipe {
    /// Creates the FIFO (mode 0600) at `path`, replacing a stale file, creating parent dirs.
    pub fn create(path: &Path) -> io::Result<LogPipe> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        remove_if_exists(path)?;
        nix::unistd::mkfifo(path, Mode::S_IRUSR | Mode::S_IWUSR).map_err(io::Error::from)?;
        Ok(LogPipe {
            path: path.to_path_buf(),
        })
    }

    /// Names a FIFO that already exists (adopting a running instance after a controller crash).
    pub fn open_existing(path: &Path) -> LogPipe {
        LogPipe {
            path: path.to_path_buf(),
        }
    }

    /// Where the FIFO lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens the child's end (O_RDWR, close-on-exec) to pass as the child's stdout or stderr.
    ///
    /// Drop every copy the controller holds (the `File`, and the `Command` it was given to)
    /// right after spawning, or the capture never sees EOF.
    pub fn child_end(&self) -> io::Result<File> {
        // std opens with O_CLOEXEC; the spawn's dup2 onto fd 1/2 clears it in the child only.
        // O_RDWR on a FIFO never blocks and keeps a reader alive for as long as the child lives.
        OpenOptions::new().read(true).write(true).open(&self.path)
    }

    /// Removes the FIFO; a FIFO already gone is fine.
    pub fn remove(&self) {
        if let Err(err) = remove_if_exists(&self.path) {
            tracing::warn!(path = %self.path.display(), %err, "cannot remove log FIFO");
        }
    }
}

/// Bytes a FIFO may hold: a fast writer keeps writing while a batch goes to disk.
const PIPE_SIZE: nix::libc::c_int = 1 << 20;

/// Grows the FIFO's buffer to [`PIPE_SIZE`] (or as much as the system allows; best effort).
pub(crate) fn enlarge(fd: &impl std::os::fd::AsFd) {
    use nix::fcntl::{fcntl, FcntlArg};
    if let Err(err) = fcntl(fd, FcntlArg::F_SETPIPE_SZ(PIPE_SIZE)) {
        tracing::debug!(%err, "cannot grow a log FIFO");
    }
}

/// Unlinks `path`, treating "not found" as success.
fn remove_if_exists(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(err) if err.kind() != io::ErrorKind::NotFound => Err(err),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};

    #[test]
    fn create_replaces_stale_file_with_private_fifo() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("run/x.out.fifo");
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, b"stale").expect("write");
        let pipe = LogPipe::create(&path).expect("create");
        let meta = std::fs::metadata(pipe.path()).expect("stat");
        assert!(meta.file_type().is_fifo());
        assert_eq!(meta.permissions().mode() & 0o077, 0);
        drop(pipe.child_end().expect("child end"));
        pipe.remove();
        pipe.remove();
        assert!(!path.exists());
    }
}
