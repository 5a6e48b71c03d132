//! systemd's notification protocol, the controller's side: `READY=1`, `RELOADING=1`,
//! `STOPPING=1`, watchdog pings, `MAINPID=` (a successor takes over) and the fd store
//! (`FDSTORE=1` with the fds as `SCM_RIGHTS`, `FDSTOREREMOVE=1`) on `$NOTIFY_SOCKET`
//! (sd_notify(3)), a datagram each.

use std::io::IoSlice;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

/// Where to send notifications, read once from the environment at start.
#[derive(Debug, Default)]
pub struct Notifier {
    /// The service manager's socket, if it gave one.
    target: Option<SocketAddr>,
    /// Half of `WATCHDOG_USEC`: how often to ping, if the watchdog is on for this process.
    watchdog: Option<Duration>,
    /// `NOTIFY_SOCKET` and `WATCHDOG_USEC` as given, for a successor's environment.
    given: Vec<(&'static str, String)>,
}

impl Notifier {
    /// Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID`, then removes them from the
    /// environment so that apps never inherit the controller's socket.
    ///
    /// Call before any thread starts (environment changes are not thread-safe).
    pub fn from_env() -> Notifier {
        let target = std::env::var_os("NOTIFY_SOCKET").and_then(|s| {
            let s = s.to_string_lossy().into_owned();
            match s.strip_prefix('@') {
                Some(name) => SocketAddr::from_abstract_name(name.as_bytes()).ok(),
                None if s.starts_with('/') => SocketAddr::from_pathname(&s).ok(),
                None => None,
            }
        });
        let for_us = std::env::var("WATCHDOG_PID")
            .map(|pid| pid.trim() == std::process::id().to_string())
            .unwrap_or(true);
        let watchdog = std::env::var("WATCHDOG_USEC")
            .ok()
            .and_then(|us| us.trim().parse::<u64>().ok())
            .filter(|us| *us > 0 && for_us)
            .map(|us| Duration::from_micros(us / 2));
        let given = ["NOTIFY_SOCKET", "WATCHDOG_USEC"]
            .into_iter()
            .filter_map(|var| Some((var, std::env::var(var).ok()?)))
            .collect();
        for var in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] {
            // SAFETY (of the call's contract): the controller calls this before its runtime
            // starts any thread, so no other thread reads the environment concurrently.
            std::env::remove_var(var);
        }
        let watchdog = watchdog.filter(|_| target.is_some());
        Notifier {
            target,
            watchdog,
            given,
        }
    }

    /// Whether a service manager listens (systemd's `Type=notify`).
    pub fn is_on(&self) -> bool {
        self.target.is_some()
    }

    /// The variables a successor needs to talk to the same service manager (`corral upgrade`).
    pub fn env_for_successor(&self) -> &[(&'static str, String)] {
        &self.given
    }

    /// `pid` is the service's main process from now on (the successor of `corral upgrade`);
    /// only the main process may say so. Returns whether the message went out.
    pub fn main_pid(&self, pid: u32) -> bool {
        self.send(&format!("MAINPID={pid}\nSTATUS=handed over to pid {pid}"))
    }

    /// Keeps `fd` in the service manager's fd store as `name` (`FDSTORE=1`): it survives this
    /// process, and the next one is started with it (`LISTEN_FDS`, `LISTEN_FDNAMES`).
    pub fn store_fd(&self, name: &str, fd: BorrowedFd<'_>) -> bool {
        let Some(target) = &self.target else {
            return false;
        };
        let message = format!("FDSTORE=1\nFDNAME={name}");
        match send_with_fd(target, &message, fd) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(
                    "cannot store the socket {name} in the service manager's fd store: {e}"
                );
                false
            }
        }
    }

    /// Drops `name` from the fd store (`FDSTOREREMOVE=1`).
    pub fn remove_fd(&self, name: &str) -> bool {
        self.send(&format!("FDSTOREREMOVE=1\nFDNAME={name}"))
    }

    /// How often to call [`Notifier::watchdog`], if the service manager asked for pings.
    pub fn watchdog_interval(&self) -> Option<Duration> {
        self.watchdog
    }

    /// Startup is complete: every app that could be started was.
    pub fn ready(&self) {
        self.send("READY=1\nSTATUS=running the manifests");
    }

    /// The manifests are being read again (SIGHUP); `ready` follows when done.
    pub fn reloading(&self) {
        let now = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
            .map(|t| t.tv_sec() as u64 * 1_000_000 + t.tv_nsec() as u64 / 1_000)
            .unwrap_or(0);
        self.send(&format!(
            "RELOADING=1\nMONOTONIC_USEC={now}\nSTATUS=reading the manifests again"
        ));
    }

    /// Every app is being stopped; the controller exits after.
    pub fn stopping(&self) {
        self.send("STOPPING=1\nSTATUS=stopping every app");
    }

    /// The controller exits and leaves every app running (`--live-restore`).
    pub fn stopping_alone(&self) {
        self.send("STOPPING=1\nSTATUS=exiting; every app keeps running for the next controller");
    }

    /// The loop is alive.
    pub fn watchdog(&self) {
        self.send("WATCHDOG=1");
    }

    /// Sends one datagram; a failure is logged, never fatal (the manager may be gone).
    fn send(&self, message: &str) -> bool {
        let Some(target) = &self.target else {
            return false;
        };
        let sent = UnixDatagram::unbound().and_then(|s| s.send_to_addr(message.as_bytes(), target));
        if let Err(e) = &sent {
            tracing::warn!("cannot notify the service manager ({message:?}): {e}");
        }
        sent.is_ok()
    }
}

/// Sends `message` to `target` with `fd` attached (`SCM_RIGHTS`), as sd_pid_notify_with_fds does.
fn send_with_fd(target: &SocketAddr, message: &str, fd: BorrowedFd<'_>) -> std::io::Result<()> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags, UnixAddr};
    let addr = match (target.as_pathname(), target.as_abstract_name()) {
        (Some(path), _) => UnixAddr::new(path),
        (None, Some(name)) => UnixAddr::new_abstract(name),
        (None, None) => return Err(std::io::Error::other("unnamed notification socket")),
    }
    .map_err(std::io::Error::from)?;
    let socket = UnixDatagram::unbound()?;
    let fds = [fd.as_raw_fd()];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    let iov = [IoSlice::new(message.as_bytes())];
    sendmsg(
        socket.as_raw_fd(),
        &iov,
        &cmsg,
        MsgFlags::empty(),
        Some(&addr),
    )
    .map(drop)
    .map_err(std::io::Error::from)
}
