//! Loopback ports for instances in tcp and http modes, and the environment that names them.

use std::io;
use std::net::{Ipv4Addr, TcpListener};

use crate::manifest::{Listen, ListenMode};

/// A loopback port free right now (bind 127.0.0.1:0, read, close) for an instance's `PORT`.
///
/// Another process could take it before the instance binds it; the instance then fails to
/// start and is restarted with a new port, as for any crash.
pub fn free_port() -> io::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

/// One free port per tcp/http entry of `listen`, as `(listen name, port)` for [`super::Backend`].
pub fn instance_ports(listen: &[Listen]) -> io::Result<Vec<(String, u16)>> {
    listen
        .iter()
        .filter(|l| l.mode != ListenMode::Inherit)
        .map(|l| Ok((l.name.clone(), free_port()?)))
        .collect()
}

/// The instance environment for its ports: `PORT` (first entry) and `PORT_<NAME>` (each).
///
/// `NAME` is the listen name uppercased with `-` turned into `_` (`admin-api` → `PORT_ADMIN_API`).
pub fn port_env(ports: &[(String, u16)]) -> Vec<(String, String)> {
    let mut env = Vec::with_capacity(ports.len() + 1);
    if let Some((_, port)) = ports.first() {
        env.push(("PORT".to_string(), port.to_string()));
    }
    for (name, port) in ports {
        env.push((port_var(name), port.to_string()));
    }
    env
}

/// The variable naming the port of listen entry `name`: `PORT_<NAME>`.
pub fn port_var(name: &str) -> String {
    format!("PORT_{}", name.to_uppercase().replace('-', "_"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_env_names_every_entry_and_the_first_as_port() {
        let env = port_env(&[("http".into(), 4001), ("admin-api".into(), 4002)]);
        let expected = [
            ("PORT", "4001"),
            ("PORT_HTTP", "4001"),
            ("PORT_ADMIN_API", "4002"),
        ];
        let expected: Vec<_> = expected
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(env, expected);
    }

    #[test]
    fn free_port_is_bindable() {
        let port = free_port().expect("free port");
        assert_ne!(port, 0);
        TcpListener::bind((Ipv4Addr::LOCALHOST, port)).expect("port was free");
    }
}
