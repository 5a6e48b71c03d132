//! The controller's own lifecycle (DESIGN §12): `corral upgrade` hands everything to the binary
//! now on disk, and systemd's fd store keeps the listening sockets across restarts and crashes.
//! Both pass sockets the same way, systemd's: fds from 3 named by `LISTEN_FDNAMES`.

pub mod inherited;
pub mod protocol;

pub use inherited::Inherited;

/// The name under which a listening socket of an app is passed on: its app and port (unique
/// per app; `:` never occurs in either, as `LISTEN_FDNAMES` needs).
pub fn listen_fd_name(app: &str, port: u16) -> String {
    format!("listen.{app}.{port}")
}
