//! The new controller's side of `corral upgrade`: the predecessor's state first, then (its
//! sockets and instances taken, nothing accepted yet) `Ready`, the wait for `Go`, and only
//! then accepting. A controller not started by `corral upgrade` accepts at once.

use std::time::Duration;

use super::Controller;
use crate::lifecycle::protocol::{Channel, Message, State, HANDOVER};
use crate::lifecycle::Inherited;
use crate::supervisor::About;

/// The longest a successor waits for the state, and for `Go` after saying it is ready.
const GO_TIMEOUT: Duration = Duration::from_secs(600);

/// The predecessor and its state, if this controller was started by `corral upgrade`; a
/// hand-over that cannot go on ends this process at once ([`give_up`]).
pub(super) async fn predecessor(inherited: &Inherited) -> (Option<Predecessor>, Option<State>) {
    let Some(found) = Predecessor::from_inherited(inherited) else {
        return (None, None);
    };
    let mut predecessor = found.unwrap_or_else(|e| give_up(&e));
    let state = predecessor.state().await.unwrap_or_else(|e| give_up(&e));
    predecessor.from = (state.from_pid, state.from_version.clone());
    (Some(predecessor), Some(state))
}

impl Controller {
    /// Once the apps are read and the instances adopted: hands the ready backends to the
    /// proxies, closes the passed sockets no app claimed, waits for the predecessor's `Go`
    /// (if any), then accepts and keeps its sockets in the service manager's fd store.
    pub(super) async fn take_over(&mut self, predecessor: Option<Predecessor>) {
        self.update_backends();
        for (name, _) in self.config.succession.inherited.take_rest() {
            tracing::info!("closing the passed socket {name}: no app listens there any more");
        }
        if let Some(predecessor) = predecessor {
            let from = predecessor.from.clone();
            if let Err(e) = predecessor.ready().await {
                give_up(&e);
            }
            self.note_took_over((from.0, &from.1));
        }
        crate::net::gate::open();
        self.config.succession.accepting.cancel();
        self.store_fds();
    }

    /// Says who took over from whom (the new controller's first event after `Go`).
    fn note_took_over(&mut self, from: (u32, &str)) {
        let kept = self.supervisor.all().count();
        let msg = format!(
            "corral {} (pid {}) took over from corral {} (pid {}): {kept} instance(s) kept running, none restarted",
            env!("CARGO_PKG_VERSION"),
            std::process::id(),
            from.1,
            from.0
        );
        self.supervisor
            .events
            .normal_about(About::Controller, "Upgraded", msg);
    }
}

/// A take-over that cannot go on: exits at once, touching nothing (the predecessor, or the
/// next controller, keeps everything).
fn give_up(why: &str) -> ! {
    tracing::error!(
        "cannot take over from the previous controller: {why}; exiting, nothing changed"
    );
    std::process::exit(1)
}

/// The predecessor's side of a take-over, in the new controller: the state first, then (once
/// its sockets and instances are taken) `Ready`, then the wait for `Go`.
#[derive(Debug)]
pub(super) struct Predecessor {
    channel: Channel,
    /// Its pid and version, once its state came.
    from: (u32, String),
}

impl Predecessor {
    /// The hand-over socket, if this controller was started by `corral upgrade`.
    fn from_inherited(inherited: &Inherited) -> Option<Result<Self, String>> {
        let fd = inherited.take(HANDOVER)?;
        let stream = std::os::unix::net::UnixStream::from(fd);
        let channel = stream
            .set_nonblocking(true)
            .and_then(|()| tokio::net::UnixStream::from_std(stream))
            .map(|s| Self {
                channel: Channel::new(s),
                from: (0, String::new()),
            })
            .map_err(|e| format!("cannot use the hand-over socket: {e}"));
        Some(channel)
    }

    /// The predecessor's state.
    async fn state(&mut self) -> Result<State, String> {
        match tokio::time::timeout(GO_TIMEOUT, self.channel.recv()).await {
            Ok(Ok(Some(Message::State(state)))) => Ok(*state),
            Ok(Ok(other)) => Err(format!("expected the state, got {other:?}")),
            Ok(Err(e)) => Err(format!("cannot read the state: {e}")),
            Err(_) => Err("the previous controller sent no state".into()),
        }
    }

    /// Says this controller is ready and waits for `Go`; an error means the predecessor
    /// kept everything, and this controller must exit without touching anything.
    async fn ready(mut self) -> Result<(), String> {
        let ready = Message::Ready {
            pid: std::process::id(),
            version: env!("CARGO_PKG_VERSION").into(),
        };
        self.channel
            .send(&ready)
            .await
            .map_err(|e| format!("cannot tell the previous controller: {e}"))?;
        match tokio::time::timeout(GO_TIMEOUT, self.channel.recv()).await {
            Ok(Ok(Some(Message::Go))) => Ok(()),
            Ok(Ok(other)) => Err(format!(
                "the previous controller did not hand over ({other:?})"
            )),
            Ok(Err(e)) => Err(format!("the previous controller did not hand over: {e}")),
            Err(_) => Err("the previous controller did not hand over in time".into()),
        }
    }
}
