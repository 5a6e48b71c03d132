//! The control API: HTTP+JSON on `$CORRAL_HOME/corral.sock` (owner only), and its typed client.
//!
//! The server never touches controller internals: it turns each request into an [`ApiRequest`]
//! sent to the controller loop, and waits for the reply.

pub mod access;
pub mod client;
mod event_stream;
pub mod events;
pub(crate) mod routes;
pub mod server;
mod socket;
pub mod types;
pub mod version;

use tokio::sync::oneshot;

pub use access::SocketGroup;
pub use client::{Client, ClientError};
pub use event_stream::EventStream;
pub use events::EventSubscription;
pub use server::{serve, ApiError, Server};
pub use types::*;

/// A request from the API server to the controller loop.
#[derive(Debug)]
pub enum ApiRequest {
    /// All apps and manifest problems.
    List { reply: oneshot::Sender<AppList> },
    /// One app, `None` when unknown.
    Get {
        name: String,
        reply: oneshot::Sender<Option<AppStatus>>,
    },
    /// Stop and start all instances of an app at once.
    Restart {
        name: String,
        reply: oneshot::Sender<Result<Reply, String>>,
    },
    /// Rolling restart of an app at the same revision.
    Reload {
        name: String,
        reply: oneshot::Sender<Result<Reply, String>>,
    },
    /// Re-read the manifests directory now (after `apply`/`delete`), instead of waiting for the watcher.
    Resync { reply: oneshot::Sender<Reply> },
    /// Revision history of an app, oldest first; `None` when the app is unknown.
    History {
        name: String,
        reply: oneshot::Sender<Option<Vec<RevisionInfo>>>,
    },
    /// Controller facts.
    Info {
        reply: oneshot::Sender<ControllerInfo>,
    },
    /// The events kept so far and a receiver of later ones (`GET /v1/events`).
    Events {
        reply: oneshot::Sender<EventSubscription>,
    },
    /// Stop every app, then exit (`corral shutdown`), whatever `--live-restore` says.
    Shutdown { reply: oneshot::Sender<Reply> },
    /// Hand everything over to the binary now at the controller's path (`corral upgrade`).
    Upgrade {
        reply: oneshot::Sender<Result<UpgradeReply, String>>,
    },
}
