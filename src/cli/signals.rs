//! SIGINT and SIGTERM as a flag, for commands that run until stopped (`logs -f`, `top`): they
//! end cleanly at their next look at it (and give the terminal back).

use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};

/// Set by SIGINT/SIGTERM once [`catch_stop`] was called.
pub static STOPPED: AtomicBool = AtomicBool::new(false);

/// Records the signal; only an atomic store, which is async-signal-safe.
extern "C" fn on_signal(_: nix::libc::c_int) {
    STOPPED.store(true, Ordering::Relaxed);
}

/// From now on, SIGINT and SIGTERM set [`STOPPED`] instead of killing the process.
pub fn catch_stop() -> anyhow::Result<()> {
    let action = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::empty(),
        SigSet::empty(),
    );
    for signal in [Signal::SIGINT, Signal::SIGTERM] {
        // SAFETY: the handler only stores to an atomic.
        unsafe { sigaction(signal, &action) }.context("cannot handle Ctrl-C")?;
    }
    Ok(())
}
