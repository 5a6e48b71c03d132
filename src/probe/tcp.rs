//! `tcp` probes: a connect within the timeout passes.

use std::time::Duration;

use tokio::net::TcpStream;
use tokio::time;

use super::{describe_io, show_duration, Outcome};

/// Connects to `host:port`.
#[derive(Debug, Clone)]
pub(crate) struct TcpCheck {
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Bound on name lookup plus connect.
    pub timeout: Duration,
}

impl TcpCheck {
    /// Connects once and closes the connection straight away.
    pub async fn run(&self) -> Outcome {
        let what = format!("connect {}", host_port(&self.host, self.port));
        match time::timeout(
            self.timeout,
            TcpStream::connect((self.host.as_str(), self.port)),
        )
        .await
        {
            Ok(Ok(_stream)) => Outcome {
                passed: true,
                message: format!("{what}: connected"),
            },
            Ok(Err(err)) => Outcome {
                passed: false,
                message: format!("{what}: {}", describe_io(&err)),
            },
            Err(_) => Outcome {
                passed: false,
                message: format!("{what}: timed out after {}", show_duration(self.timeout)),
            },
        }
    }
}

/// `host:port`, with brackets around an IPv6 address.
pub(crate) fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}
