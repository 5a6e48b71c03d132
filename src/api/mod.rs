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
pub mod status_text;
pub mod types;
pub mod version;

use tokio::sync::oneshot;

pub use access::SocketGroup;
pub use client::{Client, ClientError};
pub use event_stream::EventStream;
pub use events::EventSubscription;
pub use server::{serve, ApiError, Server};
pub use types::*;

/// What `corral rollout VERB NAME` asks of a canary (and `abort` of any rollout).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RolloutVerb {
    /// End the step in force (a pause); `full`: skip every step left.
    Promote {
        /// Skip every step left.
        full: bool,
    },
    /// Hold the steps where they are.
    Pause,
    /// Go on after `Pause`.
    Resume,
    /// Back to the stable revision at once.
    Abort,
    /// Start an aborted rollout again at its first step.
    Retry,
}

impl RolloutVerb {
    /// The verb from its URL segment (`promote`, `promote-full`, `pause`, …).
    pub fn parse(segment: &str) -> Option<Self> {
        Some(match segment {
            "promote" => Self::Promote { full: false },
            "promote-full" => Self::Promote { full: true },
            "pause" => Self::Pause,
            "resume" => Self::Resume,
            "abort" => Self::Abort,
            "retry" => Self::Retry,
            _ => return None,
        })
    }

    /// Its URL segment.
    pub fn segment(self) -> &'static str {
        match self {
            Self::Promote { full: false } => "promote",
            Self::Promote { full: true } => "promote-full",
            Self::Pause => "pause",
            Self::Resume => "resume",
            Self::Abort => "abort",
            Self::Retry => "retry",
        }
    }
}

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
    /// Steer an app's progressive rollout (`corral rollout promote|pause|resume|abort|retry`).
    Rollout {
        name: String,
        verb: RolloutVerb,
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
