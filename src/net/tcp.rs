//! `mode: tcp`: accept on the public port and splice each connection to a ready backend.

use std::net::Ipv4Addr;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

use super::backends::Lease;
use super::proxy::{Proxy, ACCEPT_BACKOFF};
use super::route::Choice;

/// Accepts until `stop`; each connection becomes a tracked forwarding task.
pub(crate) async fn serve(listener: TcpListener, proxy: Arc<Proxy>) {
    tokio::select! {
        _ = proxy.tasks.accepting_ends() => return,
        _ = super::gate::opened() => {}
    }
    loop {
        let accepted = tokio::select! {
            _ = proxy.tasks.accepting_ends() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((client, _peer)) => {
                proxy.counters.connection();
                proxy.tasks.spawn(forward(client, Arc::clone(&proxy)));
            }
            // EINVAL: the listening socket was shut down (the app's sockets are closing).
            Err(error) if error.raw_os_error() == Some(nix::libc::EINVAL) => return,
            Err(error) => {
                tracing::warn!(app = %proxy.app, listen = %proxy.name, %error, "accept failed");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }
}

/// Copies bytes both ways between `client` and a backend until either side closes.
async fn forward(mut client: TcpStream, proxy: Arc<Proxy>) {
    let Some((lease, mut backend)) = connect(&proxy, &mut Choice::any()).await else {
        proxy.counters.failure();
        tracing::warn!(app = %proxy.app, listen = %proxy.name, "no ready instance; connection closed");
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = backend.set_nodelay(true);
    if let Err(error) = tokio::io::copy_bidirectional(&mut client, &mut backend).await {
        tracing::debug!(app = %proxy.app, backend = lease.backend.id, %error, "connection ended");
    }
    drop(lease);
}

/// Connects to the least loaded ready backend of `choice`'s group, trying each one once and
/// waiting up to `backend_wait` for one to appear; the client has sent nothing a backend saw
/// yet. Each attempt counts for the backend's revision.
pub(crate) async fn connect(proxy: &Proxy, choice: &mut Choice<'_>) -> Option<(Lease, TcpStream)> {
    let deadline = Instant::now() + proxy.options.backend_wait;
    let mut tried = Vec::new();
    loop {
        let lease = proxy
            .rotation
            .wait_pick(&proxy.name, &tried, choice, deadline, &proxy.tasks.stop)
            .await?;
        lease.backend.revision.attempt();
        let addr = (Ipv4Addr::LOCALHOST, lease.port);
        match tokio::time::timeout(proxy.options.connect_timeout, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => return Some((lease, stream)),
            Ok(Err(error)) => {
                tracing::debug!(app = %proxy.app, backend = lease.backend.id, %error, "connect failed");
            }
            Err(_) => {
                tracing::debug!(app = %proxy.app, backend = lease.backend.id, "connect timed out");
            }
        }
        lease.backend.revision.failed();
        proxy.counters.retry();
        tried.push(lease.backend.id);
    }
}
