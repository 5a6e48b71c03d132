//! Listen ports shared by an app's instances (README "Load balancing"): socket inheritance, the tcp
//! proxy and the http request balancer.
//!
//! How the controller (`controller/listen.rs`) and the supervisor (`supervisor/spawn.rs`) use it,
//! per app:
//! 1. [`AppListeners::bind`] when the app appears; keep the value for the app's lifetime,
//!    across reloads and restarts, so the public port never closes. When `spec.listen`
//!    changes: drop (or `shutdown`) the old value first, then bind the new one.
//! 2. Per instance: [`instance_ports`] gives its loopback ports (tcp/http entries), and
//!    [`port_env`] the `PORT`/`PORT_<NAME>` variables. If the app has inherit entries, spawn
//!    through [`shim_command`] and hand the sockets over with [`pass_fds`], after the
//!    environment is set (`env_clear` would remove `LISTEN_FDS`).
//! 3. On every readiness change: [`AppListeners::set_backends`] with the ready instances.
//! 4. Before stopping an instance: `timeout(stop.timeout, listeners.drain(id))`, then signal.
//! 5. When the app goes away: `listeners.shutdown().await`.
//!
//! ```no_run
//! # async fn example(listen: Vec<corral::manifest::Listen>) -> anyhow::Result<()> {
//! use corral::net::{self, AppListeners, Backend};
//! let listeners = AppListeners::bind("web", &listen).await?;
//! // Spawning instance 7:
//! let ports = net::instance_ports(&listen)?;
//! let argv = vec!["node".to_string(), "server.js".to_string()];
//! let mut cmd = net::shim_command(&argv)?; // `corral __exec -- node server.js`
//! cmd.env_clear().envs(net::port_env(&ports));
//! net::pass_fds(&mut cmd, listeners.dup_inherit_fds()?);
//! let child = cmd.spawn()?;
//! drop(cmd); // closes the controller's dups
//! // Once it is ready:
//! listeners.set_backends(vec![Backend { id: 7, ports }]);
//! // Before stopping it:
//! let _ = tokio::time::timeout(std::time::Duration::from_secs(10), listeners.drain(7)).await;
//! # drop(child);
//! listeners.shutdown().await;
//! # Ok(())
//! # }
//! ```

mod backends;
mod bind;
mod error;
pub mod gate;
mod headers;
mod http;
mod inherit;
mod leased_body;
mod listeners;
mod ports;
mod stats;
mod tasks;
mod tcp;
mod upgrade;
mod upstream;
pub mod workers;

pub use backends::Backend;
pub use error::NetError;
pub use inherit::{exec_with_listen_pid, pass_fds, shim_command, EXEC_SUBCOMMAND};
pub use listeners::{AppListeners, Options};
pub use ports::{free_port, instance_ports, port_env, port_var};
pub use stats::Counters;
pub use stats::Stats;

#[cfg(test)]
mod tests {
    /// The controller shares these across tasks.
    #[test]
    fn listeners_are_send_and_sync() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<super::AppListeners>();
        send_sync::<super::NetError>();
    }
}
