//! systemd's notification protocol, the controller's side: `READY=1`, `RELOADING=1`,
//! `STOPPING=1` and watchdog pings on `$NOTIFY_SOCKET` (sd_notify(3)), a datagram each.

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
        for var in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] {
            // SAFETY (of the call's contract): the controller calls this before its runtime
            // starts any thread, so no other thread reads the environment concurrently.
            std::env::remove_var(var);
        }
        let watchdog = watchdog.filter(|_| target.is_some());
        Notifier { target, watchdog }
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

    /// The loop is alive.
    pub fn watchdog(&self) {
        self.send("WATCHDOG=1");
    }

    /// Sends one datagram; a failure is logged, never fatal (the manager may be gone).
    fn send(&self, message: &str) {
        let Some(target) = &self.target else { return };
        let sent = UnixDatagram::unbound().and_then(|s| s.send_to_addr(message.as_bytes(), target));
        if let Err(e) = sent {
            tracing::warn!("cannot notify the service manager ({message:?}): {e}");
        }
    }
}
