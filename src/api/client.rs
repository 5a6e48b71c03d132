//! The typed client of the control API: one HTTP/1.1 request per Unix-socket connection.

use std::io;
use std::path::{Path, PathBuf};

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;
use tokio::net::UnixStream;

use super::version::{self, VERSION, VERSION_HEADER};
use super::{
    AppList, AppStatus, ConsoleLogin, ControllerInfo, ErrorReply, Event, Reply, RevisionInfo,
    UpgradeReply,
};
use crate::home::Home;

/// How long one call may take, connection included (the server gives up after 10 s).
pub(super) const CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// How long `corral upgrade` waits: the controller's own deadline for its successor comes first.
const UPGRADE_CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);

/// Why a call to the controller failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nobody listens on the socket (missing, or refused).
    #[error("no controller is running (no socket at {}): start one with `corral controller --manifests DIR`", socket.display())]
    NoController {
        /// The socket we looked for.
        socket: PathBuf,
    },
    /// The controller answered with an error (its sentence, as is).
    #[error("{message}")]
    Api {
        /// HTTP status: 404 unknown app, 409 refused, 503 controller busy or stopping.
        status: u16,
        /// What went wrong and how to fix it.
        message: String,
    },
    /// The socket's modes (or a folder above it) keep us out.
    #[error("permission denied on {}: {who}", socket.display())]
    NoAccess {
        /// The socket.
        socket: PathBuf,
        /// Who may use it and how to be one of them, as far as the home's modes tell.
        who: String,
    },
    /// The socket exists but talking over it failed.
    #[error("cannot talk to the controller on {}: {source}", socket.display())]
    Transport {
        /// The socket.
        socket: PathBuf,
        /// What failed.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// This corral and the controller's differ, and this request needs what the other lacks.
    #[error("the controller on {} runs corral {controller}, {problem}: {advice}", socket.display())]
    Mismatch {
        /// The socket.
        socket: PathBuf,
        /// The controller's corral version.
        controller: String,
        /// What did not work, e.g. `which does not serve GET /v1/x (corral 0.2.0 needs it)`.
        problem: String,
        /// Which corral to use instead ([`super::version::advice`]).
        advice: String,
    },
    /// The controller's answer is not what this corral version expects.
    #[error("the controller on {} sent a reply this corral cannot read ({source}); is it the same version?", socket.display())]
    Decode {
        /// The socket.
        socket: PathBuf,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
}

impl ClientError {
    /// Classifies a failed connect: a missing or refusing socket means no controller runs.
    pub fn from_connect(socket: &Path, e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => Self::NoController {
                socket: socket.to_path_buf(),
            },
            io::ErrorKind::PermissionDenied => Self::NoAccess {
                socket: socket.to_path_buf(),
                who: who_may_connect(socket),
            },
            _ => Self::Transport {
                socket: socket.to_path_buf(),
                source: Box::new(e),
            },
        }
    }

    /// The HTTP status of an API error reply (`None` for other failures).
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether the failure is "no controller is running".
    pub fn is_no_controller(&self) -> bool {
        matches!(self, Self::NoController { .. })
    }
}

/// Who may use `socket`, read from its folder's owner and modes (the folder is what a
/// controller opens to its `--socket-group`, 0710, or keeps to itself, 0700).
fn who_may_connect(socket: &Path) -> String {
    use std::os::unix::fs::MetadataExt;
    let meta = socket
        .parent()
        .and_then(|home| std::fs::metadata(home).ok());
    let Some(meta) = meta else {
        return "the controller's socket is open only to its own user and the members of its \
                --socket-group, if it has one"
            .into();
    };
    if meta.mode() & 0o010 == 0 {
        return format!(
            "this controller lets no other user than its own (uid {}) use its socket; run corral \
             as that user, or ask its operator to start it with --socket-group GROUP and to add \
             you to that group",
            meta.uid()
        );
    }
    let group = nix::unistd::Group::from_gid(meta.gid().into())
        .ok()
        .flatten()
        .map_or_else(
            || meta.gid().to_string(),
            |g| format!("{} (gid {})", g.name, meta.gid()),
        );
    format!(
        "this controller lets only its own user (uid {}) and the members of group {group} (its \
         --socket-group) use its socket, and you are not in that group; ask to be added \
         (`usermod -aG GROUP USER`, then log in again)",
        meta.uid()
    )
}

/// Talks to the controller on `$CORRAL_HOME/corral.sock`.
#[derive(Debug, Clone)]
pub struct Client {
    socket: PathBuf,
}

impl Client {
    /// A client for the controller of `home` (connects on each call).
    pub fn new(home: &Home) -> Self {
        Self {
            socket: home.socket(),
        }
    }

    /// The socket this client talks to.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// `GET /v1/apps`: every app and the manifest problems.
    pub async fn list(&self) -> Result<AppList, ClientError> {
        self.call(Method::GET, "/v1/apps").await
    }

    /// `GET /v1/apps/{name}`: one app (404 as [`ClientError::Api`] when unknown).
    pub async fn get(&self, name: &str) -> Result<AppStatus, ClientError> {
        self.call(Method::GET, &format!("/v1/apps/{}", encode(name)))
            .await
    }

    /// `POST /v1/apps/{name}/restart`: stop and start every instance at once.
    pub async fn restart(&self, name: &str) -> Result<Reply, ClientError> {
        self.call(Method::POST, &format!("/v1/apps/{}/restart", encode(name)))
            .await
    }

    /// `POST /v1/apps/{name}/reload`: rolling restart at the same revision.
    pub async fn reload(&self, name: &str) -> Result<Reply, ClientError> {
        self.call(Method::POST, &format!("/v1/apps/{}/reload", encode(name)))
            .await
    }

    /// `POST /v1/apps/{name}/rollout/{verb}`: steer a progressive rollout.
    pub async fn rollout(
        &self,
        name: &str,
        verb: super::RolloutVerb,
    ) -> Result<Reply, ClientError> {
        let path = format!("/v1/apps/{}/rollout/{}", encode(name), verb.segment());
        self.call(Method::POST, &path).await
    }

    /// `POST /v1/resync`: make the controller re-read the manifests directory now.
    pub async fn resync(&self) -> Result<Reply, ClientError> {
        self.call(Method::POST, "/v1/resync").await
    }

    /// `GET /v1/apps/NAME/history`: the app's revisions, oldest first.
    pub async fn history(&self, name: &str) -> Result<Vec<RevisionInfo>, ClientError> {
        let path = format!("/v1/apps/{}/history", encode(name));
        self.call(Method::GET, &path).await
    }

    /// `GET /v1/controller`: the controller's pid, manifests directory, profile, version.
    pub async fn info(&self) -> Result<ControllerInfo, ClientError> {
        self.call(Method::GET, "/v1/controller").await
    }

    /// `GET /v1/events`: the events the controller keeps, oldest first (of `app` only, if given).
    pub async fn events(&self, app: Option<&str>) -> Result<Vec<Event>, ClientError> {
        self.call(Method::GET, &events_path(app, false)).await
    }

    /// `POST /v1/console/login`: a one-time login link to the web console.
    pub async fn console_login(&self, read_only: bool) -> Result<ConsoleLogin, ClientError> {
        let path = format!("/v1/console/login?readOnly={read_only}");
        self.call(Method::POST, &path).await
    }

    /// `POST /v1/shutdown`: the controller stops every app, then exits.
    pub async fn shutdown(&self) -> Result<Reply, ClientError> {
        self.call(Method::POST, "/v1/shutdown").await
    }

    /// `POST /v1/upgrade`: hands the controller over to the binary now at its path and
    /// waits until the new one took over (or the old one says why it could not).
    pub async fn upgrade(&self) -> Result<UpgradeReply, ClientError> {
        self.call_within(Method::POST, "/v1/upgrade", UPGRADE_CALL_TIMEOUT)
            .await
    }

    /// Sends one request on a fresh connection and decodes the JSON answer.
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
    ) -> Result<T, ClientError> {
        self.call_within(method, path, CALL_TIMEOUT).await
    }

    /// [`Client::call`], waiting up to `within`; a route the controller does not know, or a
    /// reply this corral cannot read from a controller of another version, is a
    /// [`ClientError::Mismatch`] naming the corral to use.
    async fn call_within<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        within: std::time::Duration,
    ) -> Result<T, ClientError> {
        let (status, theirs, body) = self.exchange_within(method.clone(), path, within).await?;
        if status.is_success() {
            return match serde_json::from_slice(&body) {
                Ok(value) => Ok(value),
                Err(e) if theirs.as_deref() == Some(VERSION) => Err(self.decode(e)),
                Err(e) => {
                    let problem = format!(
                        "whose reply to {method} {path} this corral {VERSION} cannot read ({e})"
                    );
                    Err(self.mismatch(theirs, problem, self.decode(e)).await)
                }
            };
        }
        let error = api_error(status, &body);
        if status == StatusCode::NOT_FOUND && is_unknown_route(&body) {
            let problem =
                format!("which does not serve {method} {path} (corral {VERSION} needs it)");
            return Err(self.mismatch(theirs, problem, error).await);
        }
        Err(error)
    }

    /// [`Self::exchange`] within [`CALL_TIMEOUT`].
    async fn exchange_timed(
        &self,
        method: Method,
        path: &str,
    ) -> Result<(StatusCode, Option<String>, Bytes), ClientError> {
        self.exchange_within(method, path, CALL_TIMEOUT).await
    }

    /// [`Self::exchange`] within `within`.
    async fn exchange_within(
        &self,
        method: Method,
        path: &str,
        within: std::time::Duration,
    ) -> Result<(StatusCode, Option<String>, Bytes), ClientError> {
        match tokio::time::timeout(within, self.exchange(method, path)).await {
            Ok(answer) => answer,
            Err(_) => Err(ClientError::Transport {
                socket: self.socket.clone(),
                source: format!("no answer within {}s", within.as_secs()).into(),
            }),
        }
    }

    /// A [`ClientError::Mismatch`] when the controller's version (from its header, else from
    /// `GET /v1/controller`, which every version serves) differs from ours; else `otherwise`.
    async fn mismatch(
        &self,
        theirs: Option<String>,
        problem: String,
        otherwise: ClientError,
    ) -> ClientError {
        let (asked, exe) = self.identify().await;
        let Some(controller) = theirs.or(asked).filter(|v| v != VERSION) else {
            return otherwise;
        };
        ClientError::Mismatch {
            socket: self.socket.clone(),
            advice: version::advice(&controller, exe.as_deref()),
            controller,
            problem,
        }
    }

    /// The controller's version and binary, as far as `GET /v1/controller` and `/proc` tell;
    /// read loosely so that any version's answer does.
    async fn identify(&self) -> (Option<String>, Option<String>) {
        let Ok((status, _, body)) = self.exchange_timed(Method::GET, "/v1/controller").await else {
            return (None, None);
        };
        let info: serde_json::Value = match status.is_success() {
            true => serde_json::from_slice(&body).unwrap_or_default(),
            false => serde_json::Value::Null,
        };
        let version = info["version"].as_str().map(str::to_owned);
        let exe = info["pid"]
            .as_u64()
            .and_then(|pid| std::fs::read_link(format!("/proc/{pid}/exe")).ok())
            .map(|p| p.display().to_string());
        (version, exe)
    }

    /// `GET /v1/controller` read loosely: the version of whatever controller answers (an older
    /// or newer one too), and its pid.
    pub async fn controller_version(&self) -> Result<(String, Option<u32>), ClientError> {
        let (status, theirs, body) = self.exchange_timed(Method::GET, "/v1/controller").await?;
        if !status.is_success() {
            return Err(api_error(status, &body));
        }
        let info: serde_json::Value = serde_json::from_slice(&body).map_err(|e| self.decode(e))?;
        let version = info["version"].as_str().map(str::to_owned).or(theirs);
        let pid = info["pid"].as_u64().and_then(|p| u32::try_from(p).ok());
        Ok((version.unwrap_or_else(|| "unknown".into()), pid))
    }

    /// A reply that is not what this corral version expects.
    pub(super) fn decode(&self, source: serde_json::Error) -> ClientError {
        ClientError::Decode {
            socket: self.socket.clone(),
            source,
        }
    }

    /// Talking over the socket failed.
    pub(super) fn transport(
        &self,
        source: Box<dyn std::error::Error + Send + Sync>,
    ) -> ClientError {
        ClientError::Transport {
            socket: self.socket.clone(),
            source,
        }
    }

    /// A fresh HTTP/1.1 connection: the sender of requests, and the connection to drive.
    pub(super) async fn connect(
        &self,
    ) -> Result<
        (
            hyper::client::conn::http1::SendRequest<Empty<Bytes>>,
            hyper::client::conn::http1::Connection<TokioIo<UnixStream>, Empty<Bytes>>,
        ),
        ClientError,
    > {
        let stream = UnixStream::connect(&self.socket)
            .await
            .map_err(|e| ClientError::from_connect(&self.socket, e))?;
        hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| self.transport(e.into()))
    }

    /// One request and its whole body; the connection is driven in this same future, so a
    /// timeout or drop cancels everything.
    async fn exchange(
        &self,
        method: Method,
        path: &str,
    ) -> Result<(StatusCode, Option<String>, Bytes), ClientError> {
        let transport = |e| self.transport(e);
        let (mut sender, conn) = self.connect().await?;
        let request = request(method, path).map_err(|e| transport(e.into()))?;
        let exchange = async {
            let response = sender.send_request(request).await?;
            let status = response.status();
            let theirs = version::peer_version(response.headers());
            let body = response.into_body().collect().await?.to_bytes();
            Ok::<_, hyper::Error>((status, theirs, body))
        };
        tokio::pin!(conn);
        tokio::select! {
            answer = exchange => answer.map_err(|e| transport(e.into())),
            ended = &mut conn => Err(transport(match ended {
                Err(e) => e.into(),
                Ok(()) => "the connection closed before an answer".into(),
            })),
        }
    }
}

/// An error reply as a [`ClientError::Api`] (the controller's sentence when it sent one).
pub(super) fn api_error(status: StatusCode, body: &[u8]) -> ClientError {
    let message = match serde_json::from_slice::<ErrorReply>(body) {
        Ok(reply) => reply.error,
        Err(_) => format!(
            "the controller answered {status}{}",
            match status {
                StatusCode::NOT_FOUND => " (is it an older corral version?)",
                _ => "",
            }
        ),
    };
    ClientError::Api {
        status: status.as_u16(),
        message,
    }
}

/// Whether an error body is a controller's "no such route" (any version's).
fn is_unknown_route(body: &[u8]) -> bool {
    serde_json::from_slice::<ErrorReply>(body).is_ok_and(|r| {
        r.reason.as_deref() == Some(version::UNKNOWN_ROUTE)
            || r.error.starts_with(version::UNKNOWN_ROUTE_SENTENCE)
    })
}

/// A bodiless request to the controller, saying which corral sends it.
pub(super) fn request(
    method: Method,
    path: &str,
) -> Result<Request<Empty<Bytes>>, hyper::http::Error> {
    Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, "corral")
        .header(VERSION_HEADER, VERSION)
        .body(Empty::<Bytes>::new())
}

/// `/v1/events` with its query: `app` (percent-encoded) and `watch`.
pub(super) fn events_path(app: Option<&str>, watch: bool) -> String {
    let mut query = Vec::new();
    if let Some(app) = app {
        query.push(format!("app={}", encode(app)));
    }
    if watch {
        query.push("watch=true".to_string());
    }
    match query.is_empty() {
        true => "/v1/events".to_string(),
        false => format!("/v1/events?{}", query.join("&")),
    }
}

/// Percent-encodes a path segment (app names are DNS labels, but users type anything).
fn encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_path_segments() {
        assert_eq!(encode("web-1"), "web-1");
        assert_eq!(encode("a/b c"), "a%2Fb%20c");
    }

    #[test]
    fn missing_socket_means_no_controller() {
        let e =
            ClientError::from_connect(Path::new("/x/corral.sock"), io::ErrorKind::NotFound.into());
        assert!(e.is_no_controller());
        assert_eq!(
            e.to_string(),
            "no controller is running (no socket at /x/corral.sock): start one with `corral controller --manifests DIR`"
        );
    }
}
