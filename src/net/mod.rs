//! Listen ports shared by an app's instances (DESIGN §4): socket inheritance, the tcp proxy
//! and the http request balancer.
//!
//! How the supervisor uses it, per app:
//! 1. [`AppListeners::bind`] when the app appears; keep the value for the app's lifetime,
//!    across reloads, so the public port never closes. A changed `spec.listen`: drop (or
//!    `shutdown`) the old value, then bind the new one.
//! 2. Per instance: [`instance_ports`] gives its loopback ports (tcp/http entries) and
//!    [`port_env`] the `PORT`/`PORT_<NAME>` environment. For inherit entries, spawn through
//!    [`shim_command`] and call [`pass_fds`] with [`AppListeners::dup_inherit_fds`].
//! 3. On every readiness change: [`AppListeners::set_backends`] with the ready instances.
//! 4. Before stopping an instance: `timeout(stop.timeout, listeners.drain(id))`, then signal.
//! 5. When the app goes away: [`AppListeners::shutdown`] and await it.

mod backends;
mod bind;
mod error;
mod headers;
mod http;
mod inherit;
mod leased_body;
mod listeners;
mod ports;
mod stats;
mod tasks;
mod tcp;

pub use backends::Backend;
pub use error::NetError;
pub use inherit::{exec_with_listen_pid, pass_fds, shim_command, EXEC_SUBCOMMAND};
pub use listeners::{AppListeners, Options};
pub use ports::{free_port, instance_ports, port_env};
pub use stats::Stats;
