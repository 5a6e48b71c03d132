//! The spawner's side: `corral __spawner` answers requests on fd 3 until the controller closes
//! it or dies.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;

use super::exec::{self, Received};
use super::{wire, Reply, Request, SOCKET_FD};

/// The controller's pid, so the spawner can tell it is still its parent.
pub const PARENT_ENV: &str = "CORRAL_SPAWNER_PARENT";

/// The spawner's body; returns the exit code (0 when the controller went away).
pub fn run() -> u8 {
    let parent: i32 = match std::env::var(PARENT_ENV).ok().and_then(|p| p.parse().ok()) {
        Some(pid) => pid,
        None => {
            eprintln!(
                "corral: {} is started by the controller only",
                super::SUBCOMMAND
            );
            return 2;
        }
    };
    // No PR_SET_PDEATHSIG: it fires when the *thread* that started us ends (a blocking-pool
    // thread, for a spawner started again), not the controller. When the controller ends, so
    // does its end of the socket, and the read below returns.
    // SAFETY: prctl, getppid and close_range have no memory effects; fd 3 is the socket the
    // controller gave us, which nothing else in this process owns.
    let socket = unsafe {
        if libc::getppid() != parent {
            return 0;
        }
        libc::prctl(libc::PR_SET_NAME, c"corral-spawner".as_ptr());
        // Whatever else came along (fds systemd passed the controller) is not ours to hold.
        libc::syscall(libc::SYS_close_range, SOCKET_FD + 1, u32::MAX, 0);
        let socket = UnixStream::from(OwnedFd::from_raw_fd(SOCKET_FD));
        libc::fcntl(SOCKET_FD, libc::F_SETFD, libc::FD_CLOEXEC);
        socket
    };
    loop {
        let (body, fds) = match wire::receive(&socket) {
            Ok(Some(frame)) => frame,
            Ok(None) | Err(_) => return 0,
        };
        let (reply, report) = match answer(&body, fds) {
            Ok((pid, report)) => (Reply::Started { pid }, Some(report)),
            Err(e) => (
                Reply::Failed {
                    code: e.raw_os_error().unwrap_or(libc::EINVAL),
                },
                None,
            ),
        };
        let Ok(body) = serde_json::to_vec(&reply) else {
            return 1;
        };
        let raw: Vec<_> = report.iter().map(std::os::fd::AsRawFd::as_raw_fd).collect();
        if wire::send(&socket, &body, &raw).is_err() {
            return 0;
        }
    }
}

/// Starts the process a frame asks for.
fn answer(body: &[u8], mut fds: Vec<OwnedFd>) -> io::Result<(u32, OwnedFd)> {
    let req: Request = serde_json::from_slice(body).map_err(|_| invalid())?;
    if fds.len() != req.targets + usize::from(req.cgroup) {
        return Err(invalid());
    }
    let cgroup = if req.cgroup { fds.pop() } else { None };
    exec::start(
        &req,
        Received {
            targets: fds,
            cgroup,
        },
    )
}

fn invalid() -> io::Error {
    io::Error::from_raw_os_error(libc::EINVAL)
}
