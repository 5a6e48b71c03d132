//! The pipe between an instance and the controller: survives a controller crash.
//!
//! A new instance gets an anonymous pipe ([`AnonymousPipe`]); a later controller re-opens it
//! through `/proc/PID/fd/N`, checked by its inode. Named FIFOs (what instances started by
//! older controllers write to) are re-opened by path.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::sys::stat::Mode;
use tokio::net::unix::pipe;

/// The pipe carrying one stream of one instance; the instance holds it read-write, so it never
/// gets SIGPIPE when no controller reads, and a new controller re-opens it by path: a named
/// FIFO's, or `/proc/PID/fd/N` for an anonymous pipe (then `inode` says which pipe it must be).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogPipe {
    path: PathBuf,
    /// The anonymous pipe's inode; `None` for a named FIFO.
    inode: Option<u64>,
}

/// A new anonymous pipe for one stream: no file to create (creating thousands of FIFOs is
/// slow on some filesystems) and none to remove.
#[derive(Debug)]
pub struct AnonymousPipe {
    /// The controller's read end (close-on-exec).
    pub read: OwnedFd,
    /// The child's end, read-write like a FIFO's (close-on-exec; the spawn's dup2 clears it in
    /// the child only).
    pub child_end: File,
    /// The pipe's inode, to recognise it in `/proc/PID/fd` later.
    pub inode: u64,
}

impl AnonymousPipe {
    /// Creates the pipe and a read-write end for the child (re-opened through `/proc/self/fd`,
    /// as a FIFO is opened read-write: the child keeps a reader alive for as long as it lives).
    pub fn new() -> io::Result<AnonymousPipe> {
        let (read, write) = io::pipe()?;
        let read = OwnedFd::from(read);
        let child_end = OpenOptions::new()
            .read(true)
            .write(true)
            .open(format!("/proc/self/fd/{}", read.as_raw_fd()))?;
        drop(write);
        let inode = child_end.metadata()?.ino();
        Ok(AnonymousPipe {
            read,
            child_end,
            inode,
        })
    }
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
            inode: None,
        })
    }

    /// Names a FIFO that already exists (adopting a running instance after a controller crash).
    pub fn open_existing(path: &Path) -> LogPipe {
        LogPipe::existing(path.to_path_buf(), None)
    }

    /// The anonymous pipe with `inode` that process `pid` holds as its fd `fd`, as a later
    /// controller re-opens it.
    pub fn in_process(pid: u32, fd: u32, inode: u64) -> LogPipe {
        LogPipe::existing(format!("/proc/{pid}/fd/{fd}").into(), Some(inode))
    }

    /// Names a pipe that already exists: a FIFO (`inode` None), or an anonymous pipe as
    /// `/proc/PID/fd/N` with its inode.
    pub fn existing(path: PathBuf, inode: Option<u64>) -> LogPipe {
        LogPipe { path, inode }
    }

    /// Where the pipe is opened: the FIFO, or `/proc/PID/fd/N`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The anonymous pipe's inode (`None` for a named FIFO).
    pub fn inode(&self) -> Option<u64> {
        self.inode
    }

    /// Opens a read end (non-blocking, close-on-exec); for an anonymous pipe, fails unless
    /// the fd still holds that same pipe (the process may have replaced its stdout).
    pub fn open_receiver(&self) -> io::Result<pipe::Receiver> {
        let receiver = pipe::OpenOptions::new().open_receiver(&self.path)?;
        if let Some(inode) = self.inode {
            let fd = receiver.as_raw_fd();
            let found = std::fs::metadata(format!("/proc/self/fd/{fd}"))?.ino();
            if found != inode {
                return Err(io::Error::other(format!(
                    "{} is no longer the instance's log pipe",
                    self.path.display()
                )));
            }
        }
        Ok(receiver)
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

    /// Removes the FIFO; a FIFO already gone, or an anonymous pipe (no file), is fine.
    pub fn remove(&self) {
        if self.inode.is_some() {
            return;
        }
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

    #[tokio::test]
    async fn an_anonymous_pipe_is_reopened_through_proc_only_while_it_is_the_same_pipe() {
        let ours = AnonymousPipe::new().expect("pipe");
        let other = AnonymousPipe::new().expect("pipe");
        assert_ne!(ours.inode, other.inode);
        let mut child = std::process::Command::new("sh")
            .args(["-c", "echo hello; exec sleep 30"])
            .stdout(ours.child_end)
            .stderr(other.child_end)
            .spawn()
            .expect("spawn sh");
        let pid = child.id();
        // A new controller: the first one's read end is gone, the child's keeps the pipe.
        drop(ours.read);
        let adopted = LogPipe::in_process(pid, 1, ours.inode);
        let receiver = adopted.open_receiver().expect("re-open fd 1");
        let mut buf = [0u8; 64];
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let n = loop {
            receiver.readable().await.expect("readable");
            match receiver.try_read(&mut buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("read: {e}"),
            }
            assert!(std::time::Instant::now() < deadline, "no output");
        };
        assert_eq!(&buf[..n], b"hello\n");
        // fd 2 is another pipe: not the one recorded for it.
        let swapped = LogPipe::in_process(pid, 2, ours.inode);
        assert!(swapped.open_receiver().is_err());
        // Nothing on disk to remove, and removing does not touch /proc.
        adopted.remove();
        assert_eq!(adopted.inode(), Some(ours.inode));
        child.kill().expect("kill");
        child.wait().expect("reap");
    }

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
