//! Errors of the listeners: each names the app, the address and what to change.

use std::io;

/// Why an app's `listen` entries could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// Another socket already listens on the address.
    #[error(
        "app {app}: port {port} on {host} is in use ({source}): stop what listens there \
         or change spec.listen[{index}].port"
    )]
    PortInUse {
        /// The app whose manifest asked for the port.
        app: String,
        /// The host as written in the manifest.
        host: String,
        /// The public port.
        port: u16,
        /// Index of the entry in `spec.listen`.
        index: usize,
        /// The OS error.
        source: io::Error,
    },
    /// The port is privileged and the controller may not bind it.
    #[error(
        "app {app}: not allowed to bind port {port} on {host} ({source}): use a port of 1024 \
         or more in spec.listen[{index}].port, or grant the controller CAP_NET_BIND_SERVICE"
    )]
    PermissionDenied {
        /// The app whose manifest asked for the port.
        app: String,
        /// The host as written in the manifest.
        host: String,
        /// The public port.
        port: u16,
        /// Index of the entry in `spec.listen`.
        index: usize,
        /// The OS error.
        source: io::Error,
    },
    /// The host is not an address of this machine.
    #[error(
        "app {app}: cannot bind {host}:{port} ({source}): spec.listen[{index}].host must be an \
         address of this machine, such as 127.0.0.1 or 0.0.0.0"
    )]
    AddressNotAvailable {
        /// The app whose manifest asked for the address.
        app: String,
        /// The host as written in the manifest.
        host: String,
        /// The public port.
        port: u16,
        /// Index of the entry in `spec.listen`.
        index: usize,
        /// The OS error.
        source: io::Error,
    },
    /// The host name does not resolve to any address.
    #[error(
        "app {app}: cannot resolve host {host:?} ({source}): use an IP address or a name from \
         /etc/hosts in spec.listen[{index}].host"
    )]
    Resolve {
        /// The app whose manifest named the host.
        app: String,
        /// The host as written in the manifest.
        host: String,
        /// Index of the entry in `spec.listen`.
        index: usize,
        /// The resolver's error.
        source: io::Error,
    },
    /// Any other socket error while binding.
    #[error("app {app}: cannot listen on {host}:{port} ({source}): check spec.listen[{index}]")]
    Bind {
        /// The app whose manifest asked for the address.
        app: String,
        /// The host as written in the manifest.
        host: String,
        /// The public port.
        port: u16,
        /// Index of the entry in `spec.listen`.
        index: usize,
        /// The OS error.
        source: io::Error,
    },
}

impl NetError {
    /// Picks the variant (and so the fix hint) that matches the OS error of a failed bind.
    pub(crate) fn from_bind(app: &str, host: &str, port: u16, index: usize, e: io::Error) -> Self {
        let (app, host) = (app.to_string(), host.to_string());
        match e.kind() {
            io::ErrorKind::AddrInUse => Self::PortInUse {
                app,
                host,
                port,
                index,
                source: e,
            },
            io::ErrorKind::PermissionDenied => Self::PermissionDenied {
                app,
                host,
                port,
                index,
                source: e,
            },
            io::ErrorKind::AddrNotAvailable => Self::AddressNotAvailable {
                app,
                host,
                port,
                index,
                source: e,
            },
            _ => Self::Bind {
                app,
                host,
                port,
                index,
                source: e,
            },
        }
    }
}
