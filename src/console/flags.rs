//! The console's flags, shared by `corral controller` and `corral startup` (which writes them
//! into its unit), and the rule that refuses a non-loopback address without TLS.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

use super::ConsoleError;

/// The `--console-*` flags.
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
pub struct Flags {
    /// Serve the web console at HOST:PORT (off by default); `corral console-url` prints a
    /// one-time login link. Off loopback it needs TLS (or --console-behind-tls-proxy).
    #[arg(long, value_name = "HOST:PORT")]
    pub console_addr: Option<String>,
    /// The console's TLS certificate chain (PEM), with --console-tls-key: the console speaks
    /// HTTPS only.
    #[arg(long, value_name = "FILE", requires_all = ["console_addr", "console_tls_key"])]
    pub console_tls_cert: Option<PathBuf>,
    /// The private key of --console-tls-cert (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, value_name = "FILE", requires_all = ["console_addr", "console_tls_cert"])]
    pub console_tls_key: Option<PathBuf>,
    /// Allow a non-loopback --console-addr without TLS: a proxy in front does TLS (the
    /// session cookie is marked Secure, and Origin must be https).
    #[arg(long, requires = "console_addr", conflicts_with = "console_tls_cert")]
    pub console_behind_tls_proxy: bool,
    /// Every console session is read-only: no action is accepted.
    #[arg(long, requires = "console_addr")]
    pub console_read_only: bool,
}

/// The console as the flags ask for it, checked and resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// `--console-addr` as given.
    pub given: String,
    /// Its host part (no brackets).
    pub host: String,
    /// Its port (0: any free one).
    pub port: u16,
    /// The address to bind.
    pub addr: SocketAddr,
    /// The certificate and key files, for TLS.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// `--console-behind-tls-proxy`.
    pub behind_proxy: bool,
    /// `--console-read-only`.
    pub read_only: bool,
}

impl Flags {
    /// The checked plan; `None` when the console is off. Resolves a host name (blocking).
    pub fn plan(&self) -> Result<Option<Plan>, ConsoleError> {
        let Some(given) = &self.console_addr else {
            return Ok(None);
        };
        let (host, port) = split_host_port(given).ok_or_else(|| ConsoleError::BadAddr {
            given: given.clone(),
        })?;
        let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => (host.as_str(), port)
                .to_socket_addrs()
                .map_err(|e| ConsoleError::Unresolved {
                    given: given.clone(),
                    host: host.clone(),
                    why: e.to_string(),
                })?
                .collect(),
        };
        let Some(&addr) = addrs.first() else {
            return Err(ConsoleError::Unresolved {
                given: given.clone(),
                host,
                why: "no address".into(),
            });
        };
        let tls = self
            .console_tls_cert
            .clone()
            .zip(self.console_tls_key.clone());
        if tls.is_none() && !self.console_behind_tls_proxy {
            if let Some(open) = addrs.iter().find(|a| !a.ip().is_loopback()) {
                return Err(ConsoleError::NeedsTls {
                    given: given.clone(),
                    addr: *open,
                });
            }
        }
        Ok(Some(Plan {
            given: given.clone(),
            host,
            port,
            addr,
            tls,
            behind_proxy: self.console_behind_tls_proxy,
            read_only: self.console_read_only,
        }))
    }

    /// The flags as `corral controller` arguments (for the unit `corral startup` writes).
    pub fn to_args(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(addr) = &self.console_addr {
            out.extend(["--console-addr".to_owned(), addr.clone()]);
        }
        if let Some(cert) = &self.console_tls_cert {
            out.extend(["--console-tls-cert".to_owned(), cert.display().to_string()]);
        }
        if let Some(key) = &self.console_tls_key {
            out.extend(["--console-tls-key".to_owned(), key.display().to_string()]);
        }
        if self.console_behind_tls_proxy {
            out.push("--console-behind-tls-proxy".to_owned());
        }
        if self.console_read_only {
            out.push("--console-read-only".to_owned());
        }
        out
    }
}

/// `127.0.0.1:9090` → (`127.0.0.1`, 9090); `[::1]:9090` → (`::1`, 9090); `name:9090`.
fn split_host_port(text: &str) -> Option<(String, u16)> {
    let (host, port) = text.rsplit_once(':')?;
    let port = port.parse().ok()?;
    let host = match host.strip_prefix('[') {
        Some(inner) => inner.strip_suffix(']')?,
        None if host.contains(':') => return None,
        None => host,
    };
    if host.is_empty() {
        return None;
    }
    Some((host.to_owned(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(addr: &str) -> Flags {
        Flags {
            console_addr: Some(addr.into()),
            ..Flags::default()
        }
    }

    #[test]
    fn reads_host_and_port() {
        assert_eq!(
            split_host_port("127.0.0.1:9090"),
            Some(("127.0.0.1".into(), 9090))
        );
        assert_eq!(split_host_port("[::1]:80"), Some(("::1".into(), 80)));
        assert_eq!(
            split_host_port("localhost:1"),
            Some(("localhost".into(), 1))
        );
        for bad in ["127.0.0.1", ":9090", "::1:80", "a:b", "a:99999", "[::1:80"] {
            assert_eq!(split_host_port(bad), None, "{bad}");
        }
    }

    #[test]
    fn loopback_needs_nothing_else() {
        let plan = flags("127.0.0.1:0").plan().expect("plan").expect("on");
        assert_eq!(plan.addr, "127.0.0.1:0".parse().expect("addr"));
        assert!(flags("[::1]:0").plan().is_ok());
        assert_eq!(Flags::default().plan().expect("off"), None);
    }

    #[test]
    fn a_public_address_needs_tls_or_a_proxy() {
        let err = flags("0.0.0.0:9090").plan().expect_err("refused");
        let text = err.to_string();
        assert!(text.contains("--console-tls-cert"), "{text}");
        assert!(text.contains("--console-behind-tls-proxy"), "{text}");
        let mut proxied = flags("0.0.0.0:9090");
        proxied.console_behind_tls_proxy = true;
        assert!(proxied.plan().is_ok());
        let mut tls = flags("0.0.0.0:9090");
        tls.console_tls_cert = Some("c.pem".into());
        tls.console_tls_key = Some("k.pem".into());
        assert!(tls.plan().is_ok());
    }

    #[test]
    fn round_trips_as_arguments() {
        let mut f = flags("127.0.0.1:9090");
        f.console_read_only = true;
        assert_eq!(
            f.to_args(),
            ["--console-addr", "127.0.0.1:9090", "--console-read-only"]
        );
    }
}
