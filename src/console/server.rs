//! The console's listener and router: bound early (a port in use fails the controller's start),
//! then served until the controller stops. Its tasks (the overview stream, the chart history)
//! are owned here and ended with it.

use std::net::SocketAddr;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::assets::Assets;
use super::auth::Auth;
use super::guard::Hosts;
use super::history::History;
use super::host::HostSampler;
use super::login::Logins;
use super::stream::Hub;
use super::tls::Tls;
use super::{ConsoleError, Context, Plan};

/// How long open console connections may finish once the controller stops.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// A bound console, ready to [`Console::run`].
#[derive(Debug)]
pub struct Bound {
    listener: TcpListener,
    plan: Plan,
    tls: Option<Tls>,
    local: SocketAddr,
    logins: Logins,
}

impl Bound {
    /// Binds `plan.addr` (or serves `passed`, the listening socket a predecessor handed over,
    /// when it is bound there); `tls` from [`Tls::load`] when the plan has TLS files.
    pub async fn bind(
        plan: Plan,
        tls: Option<Tls>,
        passed: Option<std::os::fd::OwnedFd>,
    ) -> Result<Self, ConsoleError> {
        let bind_err = |source| ConsoleError::Bind {
            addr: plan.addr,
            source,
        };
        let taken = passed.and_then(|fd| {
            let socket = std::net::TcpListener::from(fd);
            let fits = socket.local_addr().is_ok_and(|a| {
                a.ip() == plan.addr.ip() && (plan.port == 0 || a.port() == plan.port)
            });
            (fits && socket.set_nonblocking(true).is_ok()).then_some(socket)
        });
        let listener = match taken {
            Some(socket) => TcpListener::from_std(socket).map_err(bind_err)?,
            None => TcpListener::bind(plan.addr).await.map_err(bind_err)?,
        };
        let local = listener.local_addr().map_err(bind_err)?;
        let scheme = if tls.is_some() || plan.behind_proxy {
            "https"
        } else {
            "http"
        };
        let url_host = match plan.host.parse::<std::net::IpAddr>() {
            Ok(ip) if ip.is_unspecified() => own_hostname(),
            Ok(std::net::IpAddr::V6(ip)) => format!("[{ip}]"),
            _ => plan.host.clone(),
        };
        let logins = Logins {
            auth: Arc::new(Auth::new(plan.read_only)),
            base: format!("{scheme}://{url_host}:{}", local.port()),
        };
        Ok(Self {
            listener,
            plan,
            tls,
            local,
            logins,
        })
    }

    /// The address the console listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// What the control socket's login route hands out tokens from.
    pub fn logins(&self) -> Logins {
        self.logins.clone()
    }

    /// A CLOEXEC duplicate of the listening socket, to pass on to a successor.
    pub fn dup_socket(&self) -> std::io::Result<std::os::fd::OwnedFd> {
        use std::os::fd::AsFd;
        self.listener.as_fd().try_clone_to_owned()
    }

    /// The `Host` names this console answers to.
    fn hosts(&self) -> Hosts {
        let mut names = vec![
            self.plan.host.to_ascii_lowercase(),
            self.local.ip().to_string(),
        ];
        let ip = self.local.ip();
        if ip.is_loopback() || ip.is_unspecified() {
            names.extend(["localhost", "127.0.0.1", "::1"].map(String::from));
        }
        if ip.is_unspecified() {
            names.push(own_hostname().to_ascii_lowercase());
        }
        names.sort();
        names.dedup();
        Hosts {
            names,
            port: self.local.port(),
            any_port: self.plan.behind_proxy,
            tls: self.tls.clone(),
        }
    }
}

/// This machine's host name (`localhost` when it has none).
fn own_hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|n| n.into_string().ok())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// What every handler shares.
pub(super) struct Shared {
    /// Tokens and sessions.
    pub auth: Arc<Auth>,
    /// The embedded files.
    pub assets: Assets,
    /// Accepted `Host` names.
    pub hosts: Hosts,
    /// TLS here or at a proxy in front: cookies are `Secure`, origins `https`.
    pub secure: bool,
    /// The controller's side.
    pub ctx: Context,
    /// The last hour of each app's CPU and memory.
    pub history: Arc<History>,
    /// The overview stream, produced while somebody watches.
    pub hub: Hub,
    /// The host's figures (sysinfo), read when an overview is built.
    pub host: Mutex<HostSampler>,
    /// Log streams open now.
    pub log_streams: AtomicUsize,
    /// Fires when the controller stops: streams end.
    pub shutdown: CancellationToken,
    /// The console's own tasks.
    pub tasks: TaskTracker,
    /// When the console (and so, near enough, the controller) started.
    pub started: Instant,
}

impl Shared {
    /// `https` or `http`: what an `Origin` of this console starts with.
    pub fn scheme(&self) -> &'static str {
        if self.secure {
            "https"
        } else {
            "http"
        }
    }
}

/// The running console.
#[derive(Debug)]
pub struct Console;

impl Console {
    /// Serves `bound` until `shutdown` fires, then ends every stream and task of its own.
    pub async fn run(bound: Bound, ctx: Context, shutdown: CancellationToken) {
        let hosts = bound.hosts();
        let Bound {
            listener,
            plan,
            tls,
            local,
            logins,
        } = bound;
        let history = Arc::new(History::default());
        let tasks = TaskTracker::new();
        let shared = Arc::new(Shared {
            auth: logins.auth.clone(),
            assets: Assets::load(),
            hosts,
            secure: tls.is_some() || plan.behind_proxy,
            ctx,
            history: history.clone(),
            hub: Hub::default(),
            host: Mutex::new(HostSampler::default()),
            log_streams: AtomicUsize::new(0),
            shutdown: shutdown.clone(),
            tasks: tasks.clone(),
            started: Instant::now(),
        });
        tasks.spawn(super::history::run(
            history,
            shared.ctx.published.clone(),
            shutdown.clone(),
        ));
        tracing::info!("web console on {}", logins.base);
        let app = router(shared.clone());
        let served = match tls {
            Some(tls) => serve(tls.listen(listener), app, shutdown.clone()).await,
            None => serve(listener, app, shutdown.clone()).await,
        };
        if let Err(e) = served {
            tracing::error!("the web console on {local} stopped: {e}");
        }
        tasks.close();
        let _ = tokio::time::timeout(SHUTDOWN_GRACE, tasks.wait()).await;
    }
}

/// Serves `app` on `listener` until `shutdown`, then lets open connections finish for a moment.
async fn serve<L>(listener: L, app: Router, shutdown: CancellationToken) -> std::io::Result<()>
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    let graceful =
        axum::serve(listener, app).with_graceful_shutdown(shutdown.clone().cancelled_owned());
    tokio::select! {
        served = graceful => served,
        () = async {
            shutdown.cancelled().await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } => Ok(()),
    }
}

/// Every route, behind the checks of [`super::guard`].
fn router(shared: Arc<Shared>) -> Router {
    use super::{actions, login, logs, pages, stream, views};
    Router::new()
        .route("/", get(pages::index))
        .route("/login", get(login::login))
        .route("/assets/{file}", get(pages::asset))
        .route("/api/session", get(views::session))
        .route("/api/overview", get(views::overview))
        .route("/api/apps/{name}", get(views::app))
        .route("/api/apps/{name}/logs", get(logs::logs))
        .route("/api/apps/{name}/scale", post(actions::scale))
        .route("/api/apps/{name}/{verb}", post(actions::verb))
        .route("/api/stream", get(stream::stream))
        .fallback(views::not_found)
        .method_not_allowed_fallback(views::wrong_method)
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            super::guard::check,
        ))
        .with_state(shared)
}
