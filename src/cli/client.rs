//! How CLI commands reach the controller: a small runtime and the API client for `$CORRAL_HOME`.

use std::future::Future;

use anyhow::Context;

use crate::api::Client;
use crate::home::Home;

/// The client for the controller of `$CORRAL_HOME`.
pub fn client() -> Client {
    Client::new(&Home::from_env())
}

/// Runs one async piece of a (sync) command on a current-thread runtime.
pub fn block_on<F: Future>(work: F) -> anyhow::Result<F::Output> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    Ok(runtime.block_on(work))
}

/// After the manifests directory changed: ask a running controller to act now.
///
/// No controller is fine (it reads the directory when it starts); other failures only warn.
pub fn resync_if_running() {
    match block_on(client().resync()) {
        Ok(Ok(_)) => {}
        Ok(Err(e)) if e.is_no_controller() => {}
        Ok(Err(e)) => eprintln!("warning: the controller was not told to resync: {e}"),
        Err(e) => eprintln!("warning: the controller was not told to resync: {e:#}"),
    }
}
