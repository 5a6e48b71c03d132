//! [`Proxy`]: what the proxy tasks of one tcp/http listen entry share with the rest of the
//! app, and the proxies' timeouts ([`Options`]).

use std::sync::Arc;
use std::time::Duration;

use super::backends::Rotation;
use super::stats::Counters;
use super::tasks::Tasks;

/// Pause after a failed accept (e.g. out of fds) so the loop does not spin.
pub(crate) const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Timeouts of the proxies; [`Options::default`] is what the controller uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// How long a client waits for a ready backend before it is closed (tcp) or gets 503 (http).
    pub backend_wait: Duration,
    /// Limit on one connect to a backend's loopback port.
    pub connect_timeout: Duration,
    /// How long `shutdown` lets open connections and requests finish.
    pub shutdown_grace: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            backend_wait: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(2),
            shutdown_grace: Duration::from_secs(2),
        }
    }
}

/// What a proxy task of one tcp/http listen entry shares with the rest of the app.
#[derive(Debug)]
pub(crate) struct Proxy {
    /// The app, for logs.
    pub(crate) app: String,
    /// The listen entry's name: which port of each backend to use.
    pub(crate) name: String,
    /// The ready backends.
    pub(crate) rotation: Arc<Rotation>,
    /// The app's traffic counters.
    pub(crate) counters: Arc<Counters>,
    /// Owner of every task spawned for the app.
    pub(crate) tasks: Tasks,
    /// Timeouts.
    pub(crate) options: Options,
}
