//! Binding one `listen` entry: resolve the host, set SO_REUSEADDR, bind, listen.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};

use socket2::{Domain, Protocol, Socket, Type};

use super::error::NetError;
use crate::manifest::{Listen, ListenMode};

/// Pending connections the kernel queues per listening socket.
const BACKLOG: i32 = 1024;

/// Binds entry `index` of `app`'s `spec.listen`; the socket is CLOEXEC and blocking.
pub(crate) async fn bind_entry(
    app: &str,
    index: usize,
    listen: &Listen,
) -> Result<TcpListener, NetError> {
    let addr = resolve(app, index, listen).await?;
    let shared = listen.mode == ListenMode::Inherit;
    listen_on(addr, shared)
        .map_err(|e| NetError::from_bind(app, &listen.host, listen.port, index, e))
}

/// Whether `socket` (passed by a previous controller) is what `listen` would bind: a listening
/// TCP socket on its port (any, for port 0) and IP literal, SO_REUSEPORT as inherit mode sets it.
pub(crate) fn fits(socket: &TcpListener, listen: &Listen) -> bool {
    let sock = socket2::SockRef::from(socket);
    let Ok(addr) = socket.local_addr() else {
        return false;
    };
    let host = listen.host.trim_start_matches('[').trim_end_matches(']');
    let ip_fits = match host.parse::<IpAddr>() {
        Ok(ip) => ip == addr.ip(),
        Err(_) if host.is_empty() => addr.ip().is_unspecified(),
        Err(_) => true, // a host name: resolved when bound, not checked again
    };
    let shared = listen.mode == ListenMode::Inherit;
    ip_fits
        && (listen.port == 0 || listen.port == addr.port())
        && sock.is_listener().unwrap_or(false)
        && sock.reuse_port().unwrap_or(false) == shared
}

/// The address to bind: an IP literal as is, a host name through the resolver (IPv4 first).
async fn resolve(app: &str, index: usize, listen: &Listen) -> Result<SocketAddr, NetError> {
    let host = listen.host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Ok(SocketAddr::new(
            IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            listen.port,
        ));
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, listen.port));
    }
    let resolve_error = |source| NetError::Resolve {
        app: app.to_string(),
        host: listen.host.clone(),
        index,
        source,
    };
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, listen.port))
        .await
        .map_err(resolve_error)?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| addrs.first())
        .copied()
        .ok_or_else(|| resolve_error(io::Error::new(io::ErrorKind::NotFound, "no address")))
}

/// A listening socket on `addr` with SO_REUSEADDR, so a restarted controller rebinds at once.
///
/// `shared` (inherit mode) adds SO_REUSEPORT: instances adopted after a controller crash still
/// listen on the old socket, and the new controller must bind beside it. Only sockets of the
/// same user that also set SO_REUSEPORT can share; any other listener is still "in use".
fn listen_on(addr: SocketAddr, shared: bool) -> io::Result<TcpListener> {
    // socket2 creates the socket with SOCK_CLOEXEC: it leaks into no child by accident.
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if shared {
        socket.set_reuse_port(true)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(host: &str, port: u16, mode: ListenMode) -> Listen {
        Listen {
            name: "web".into(),
            port,
            host: host.into(),
            mode,
        }
    }

    #[test]
    fn a_passed_socket_is_taken_only_for_the_entry_it_was_bound_for() {
        let proxied = listen_on("127.0.0.1:0".parse().unwrap(), false).expect("bind");
        let port = proxied.local_addr().expect("addr").port();
        assert!(fits(&proxied, &entry("127.0.0.1", port, ListenMode::Http)));
        assert!(fits(&proxied, &entry("127.0.0.1", port, ListenMode::Tcp)));
        assert!(
            !fits(&proxied, &entry("127.0.0.1", port + 1, ListenMode::Http)),
            "another port"
        );
        assert!(
            !fits(&proxied, &entry("0.0.0.0", port, ListenMode::Http)),
            "another address"
        );
        assert!(
            !fits(&proxied, &entry("127.0.0.1", port, ListenMode::Inherit)),
            "no SO_REUSEPORT"
        );
        let shared = listen_on("127.0.0.1:0".parse().unwrap(), true).expect("bind");
        let port = shared.local_addr().expect("addr").port();
        assert!(fits(
            &shared,
            &entry("127.0.0.1", port, ListenMode::Inherit)
        ));
        assert!(
            fits(&shared, &entry("127.0.0.1", 0, ListenMode::Inherit)),
            "port 0: any"
        );
        assert!(!fits(&shared, &entry("127.0.0.1", port, ListenMode::Tcp)));
    }
}
