//! The process-wide accept gate: a controller taking over from another (`corral upgrade`)
//! binds its proxies on the passed sockets with the gate closed, and opens it only once the
//! old controller stopped accepting, so a connection is never accepted by a controller that
//! may still give up. Open unless [`close`] was called.

use std::sync::LazyLock;

use tokio::sync::watch;

static GATE: LazyLock<watch::Sender<bool>> = LazyLock::new(|| watch::channel(true).0);

/// Holds every accept loop (started now or later) until [`open`].
pub fn close() {
    GATE.send_replace(false);
}

/// Lets every accept loop accept.
pub fn open() {
    GATE.send_replace(true);
}

/// Resolves once the gate is open.
pub(crate) async fn opened() {
    let mut rx = GATE.subscribe();
    // The sender is static: never dropped, so `wait_for` only returns once it is open.
    let _ = rx.wait_for(|open| *open).await;
}
