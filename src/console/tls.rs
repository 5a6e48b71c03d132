//! HTTPS for the console: the certificate and key (PEM) read into a rustls configuration, a
//! listener whose connections come out of their handshake, and whether the certificate is
//! valid for a `Host` name.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use super::ConsoleError;

/// A client has this long to finish its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// At most this many handshakes at once.
const MAX_HANDSHAKES: usize = 64;

/// The TLS side of the console: the server configuration and the certificate's leaf.
#[derive(Clone)]
pub struct Tls {
    acceptor: TlsAcceptor,
    leaf: CertificateDer<'static>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls").finish_non_exhaustive()
    }
}

impl Tls {
    /// Reads the chain and key (blocking: two small files).
    pub fn load(cert: &Path, key: &Path) -> Result<Self, ConsoleError> {
        let bad = |flag: &'static str, path: &Path, why: String| ConsoleError::Tls {
            flag,
            path: path.to_path_buf(),
            why,
        };
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
            .and_then(|certs| certs.collect())
            .map_err(|e| bad("--console-tls-cert", cert, pem_error(e)))?;
        let Some(leaf) = chain.first().cloned() else {
            return Err(bad(
                "--console-tls-cert",
                cert,
                "holds no CERTIFICATE block: give the PEM certificate chain, the server's first"
                    .into(),
            ));
        };
        let private = PrivateKeyDer::from_pem_file(key)
            .map_err(|e| bad("--console-tls-key", key, pem_error(e)))?;
        // ring, not aws-lc (which needs cmake and a C toolchain to build); rustls marks it
        // deprecated only for lacking post-quantum key exchange.
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| bad("--console-tls-cert", cert, e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(chain, private)
            .map_err(|e| {
                bad(
                    "--console-tls-key",
                    key,
                    format!("does not fit the certificate ({e}): give the key the certificate was made for"),
                )
            })?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            leaf,
        })
    }

    /// Whether the certificate is valid for `host` (a DNS name or an IP address).
    pub fn names(&self, host: &str) -> bool {
        let Ok(name) = ServerName::try_from(host) else {
            return false;
        };
        let Ok(cert) = webpki::EndEntityCert::try_from(&self.leaf) else {
            return false;
        };
        cert.verify_is_valid_for_subject_name(&name).is_ok()
    }

    /// A listener that hands out connections once their handshake is done; handshakes run
    /// side by side (a slow client holds up nobody) and are cut off after 10 s.
    pub fn listen(&self, listener: TcpListener) -> TlsListener {
        let (tx, rx) = mpsc::channel(MAX_HANDSHAKES);
        let local = listener.local_addr();
        let acceptor = self.acceptor.clone();
        let task = tokio::spawn(accept_loop(listener, acceptor, tx));
        TlsListener { rx, local, task }
    }
}

/// A PEM error in words.
fn pem_error(e: rustls::pki_types::pem::Error) -> String {
    use rustls::pki_types::pem::Error;
    match e {
        Error::Io(io) => format!("cannot read it: {io}"),
        Error::NoItemsFound => "holds no PEM block of the kind wanted (a CERTIFICATE for the certificate, a PRIVATE KEY for the key)".into(),
        other => format!("is not valid PEM ({other:?})"),
    }
}

/// Accepts TCP connections and runs each handshake in a task of its own.
async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    done: mpsc::Sender<(TlsStream<TcpStream>, std::net::SocketAddr)>,
) {
    let slots = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    loop {
        let Ok(permit) = Arc::clone(&slots).acquire_owned().await else {
            return;
        };
        let (tcp, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::debug!("console: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let (acceptor, done) = (acceptor.clone(), done.clone());
        tokio::spawn(async move {
            let _permit = permit;
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => {
                    let _ = done.send((tls, peer)).await;
                }
                Ok(Err(e)) => tracing::debug!("console: TLS handshake with {peer} failed: {e}"),
                Err(_) => tracing::debug!("console: TLS handshake with {peer} timed out"),
            }
        });
    }
}

/// Connections out of their handshake, for `axum::serve`.
pub struct TlsListener {
    rx: mpsc::Receiver<(TlsStream<TcpStream>, std::net::SocketAddr)>,
    local: std::io::Result<std::net::SocketAddr>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(accepted) => accepted,
            // The accept loop ended (its listener failed for good): nothing more comes.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        match &self.local {
            Ok(addr) => Ok(*addr),
            Err(e) => Err(std::io::Error::new(e.kind(), e.to_string())),
        }
    }
}
