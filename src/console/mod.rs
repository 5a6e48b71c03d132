//! The web console (`--console-addr`, DESIGN §15): a live page of every app, served from the
//! binary, behind a one-time login token, a session cookie, CSRF tokens and Host/Origin checks.
//!
//! It talks to the controller as the control API does: requests on the loop's channel
//! ([`crate::api::ApiRequest`]), its event stream, and the metrics snapshot it publishes. The
//! actions that edit manifests (`scale`, `stop`, `start`, `rollout undo`) run the CLI's own
//! functions, handed in as [`ManifestEdits`].

mod actions;
mod assets;
pub mod auth;
mod flags;
mod guard;
mod history;
mod host;
mod jobs;
mod login;
mod logs;
mod pages;
mod server;
mod stream;
mod tls;
mod views;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

pub use flags::{Flags, Plan};
pub use login::{socket_routes, Logins};
pub use server::{Bound, Console};
pub use tls::Tls;

use crate::api::{ApiRequest, RevisionInfo};
use crate::home::Home;
use crate::metrics::Published;

/// The name of the console's listening socket when it is handed to a successor (`corral upgrade`).
pub const CONSOLE_SOCKET: &str = "corral-console";

/// Why the console cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// `--console-addr` is not HOST:PORT.
    #[error("--console-addr {given:?} is not HOST:PORT: write e.g. 127.0.0.1:9090, [::1]:9090 or localhost:9090")]
    BadAddr {
        /// What was given.
        given: String,
    },
    /// The host of `--console-addr` does not resolve.
    #[error("--console-addr {given:?}: {host} does not resolve ({why}); give an IP address or a name this host knows")]
    Unresolved {
        /// What was given.
        given: String,
        /// The host part.
        host: String,
        /// The resolver's word.
        why: String,
    },
    /// A non-loopback address without TLS and without `--console-behind-tls-proxy`.
    #[error("--console-addr {given}: {addr} is not a loopback address, and without TLS the login link, the session cookie and every action would cross the network in clear; give --console-tls-cert FILE and --console-tls-key FILE, or --console-behind-tls-proxy when a proxy in front of the console does TLS, or bind 127.0.0.1")]
    NeedsTls {
        /// What was given.
        given: String,
        /// The address that is not loopback.
        addr: std::net::SocketAddr,
    },
    /// A TLS file cannot be read or used.
    #[error("{flag} {}: {why}", path.display())]
    Tls {
        /// `--console-tls-cert` or `--console-tls-key`.
        flag: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong and how to fix it.
        why: String,
    },
    /// The address cannot be bound.
    #[error(
        "cannot listen on --console-addr {addr}: {source}; pick another port or stop what holds it"
    )]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// The manifest edits of the CLI's `scale`, `stop`/`start` and `rollout undo`, handed in by
/// `corral controller` so that the console runs the very same code.
pub trait ManifestEdits: Send + Sync + 'static {
    /// `corral scale NAME N` in `dir`: what was done, for people.
    fn scale(&self, dir: &Path, app: &str, instances: u32) -> Result<String, String>;
    /// `corral stop NAME` (`suspend`) or `corral start NAME` in `dir`.
    fn suspend(&self, dir: &Path, app: &str, suspend: bool) -> Result<String, String>;
    /// `corral rollout undo NAME` in `dir`, given the app's revision history.
    fn undo(&self, dir: &Path, app: &str, history: &[RevisionInfo]) -> Result<String, String>;
}

/// What the console needs from the controller.
#[derive(Clone)]
pub struct Context {
    /// The controller loop's request channel.
    pub requests: mpsc::Sender<ApiRequest>,
    /// The metrics snapshot the loop publishes.
    pub published: Published,
    /// `$CORRAL_HOME`, for the log files.
    pub home: Home,
    /// The controller's `--sample-interval`: the overview stream's pace (1 s at least).
    pub sample_interval: Duration,
    /// The CLI's manifest edits.
    pub edits: Arc<dyn ManifestEdits>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("home", &self.home)
            .field("sample_interval", &self.sample_interval)
            .finish_non_exhaustive()
    }
}
