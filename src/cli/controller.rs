//! `corral controller`: run the controller in the foreground.

use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::manifest::quantity::DurationSpec;

/// Arguments of `corral controller`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The directory of App manifests to reconcile from.
    #[arg(long, value_name = "DIR")]
    pub manifests: PathBuf,
    /// Profile whose env applies (a manifest's `spec.profiles.NAME`).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// How often `memory.limit` is checked: instances of apps with a limit are sampled (CPU
    /// and memory) this often, the others every 5th time (a duration such as 500ms or 2s;
    /// 100ms to 1m).
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = sample_interval)]
    pub sample_interval: Duration,
    /// Accept manifests, their directory (and those above it), `cwd`s and `envFiles` that other
    /// users could write or that they own. By default these are refused, like sshd's StrictModes.
    #[arg(long)]
    pub allow_shared_manifests: bool,
    /// Threads that serve the `tcp` and `http` listen ports, each with its own event loop
    /// (nginx's worker_processes). Default: one per two CPUs, at most 4.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    pub proxy_threads: Option<u16>,
    /// Serve Prometheus metrics at http://HOST:PORT/metrics (off by default; the control
    /// socket serves /metrics either way).
    #[arg(long, value_name = "HOST:PORT", value_parser = metrics_addr)]
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// Let the members of GROUP (a name or a gid) use every command through the control
    /// socket, with CORRAL_HOME pointing here: the home becomes 0710, the socket 0660 and the
    /// logs readable, all of that group. Without it, all of them are owner-only.
    #[arg(long, value_name = "GROUP")]
    pub socket_group: Option<String>,
    /// The controller's own oom_score_adj, kept below its apps' (they default to 0) so that
    /// the kernel, out of memory, never picks the supervisor first. Lowering it needs root
    /// (CAP_SYS_RESOURCE); without, the controller keeps the value it inherited and its apps
    /// default to that plus 100.
    #[arg(long, value_name = "N", default_value_t = crate::confine::oom::DEFAULT_CONTROLLER,
          value_parser = clap::value_parser!(i32).range(-1000..=1000), allow_hyphen_values = true)]
    pub oom_score_adj: i32,
    /// How long `corral upgrade` (or SIGUSR2) gives the new controller to take over before
    /// it is stopped and this one keeps everything (a duration: 30s, 2m).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = lifecycle_timeout)]
    pub upgrade_timeout: Duration,
    /// After an upgrade, how long the old controller lets proxied connections and requests in
    /// flight finish before it exits (a duration: 10s, 1m).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = lifecycle_timeout)]
    pub drain_timeout: Duration,
    /// Docker's live-restore: on SIGTERM or SIGINT (`systemctl stop` and `restart`) the
    /// controller exits and leaves every app running for the next controller to adopt, unless
    /// the service manager is shutting the system down (`systemctl is-system-running` says
    /// `stopping`). `corral shutdown` stops every app either way.
    #[arg(long)]
    pub live_restore: bool,
    /// Caps on instances.
    #[command(flatten)]
    pub caps: crate::store::caps::Caps,
    /// The web console.
    #[command(flatten)]
    pub console: crate::console::Flags,
}

/// Parses `--upgrade-timeout` and `--drain-timeout`: a duration from 1s to 1h.
fn lifecycle_timeout(s: &str) -> Result<Duration, String> {
    let d = DurationSpec::from_str(s)?.0;
    if !(Duration::from_secs(1)..=Duration::from_secs(3600)).contains(&d) {
        return Err(format!("{s} is out of range: give 1s to 1h"));
    }
    Ok(d)
}

/// The path this binary was started from, for `corral upgrade`: argv[0] when it names a path
/// (unresolved, so a symlink such as /usr/bin/corral is followed afresh), else /proc/self/exe.
fn started_from() -> anyhow::Result<std::path::PathBuf> {
    let argv0 = std::env::args_os().next().map(std::path::PathBuf::from);
    match argv0 {
        Some(path) if path.components().count() > 1 => Ok(std::path::absolute(&path)?),
        _ => Ok(std::env::current_exe()?),
    }
}

/// Parses `--sample-interval`: a Go-style duration within what sampling can sensibly do.
fn sample_interval(s: &str) -> Result<Duration, String> {
    let d = DurationSpec::from_str(s)?.0;
    if !(MIN_SAMPLE_INTERVAL..=MAX_SAMPLE_INTERVAL).contains(&d) {
        return Err(format!(
            "{s} is out of range: sampling reads /proc for every process, so it must be at \
             least 100ms, and memory limits are checked on each sample, so at most 1m"
        ));
    }
    Ok(d)
}

/// Parses `--metrics-addr`: an IP address and a port (a host name would need a lookup).
fn metrics_addr(s: &str) -> Result<std::net::SocketAddr, String> {
    s.parse().map_err(|_| {
        format!(
            "{s:?} is not an address and port: write e.g. 127.0.0.1:9100, [::1]:9100 or \
             0.0.0.0:9100 (an IP address, not a host name)"
        )
    })
}

/// Shortest `--sample-interval`: each sample reads /proc for every process on the host.
const MIN_SAMPLE_INTERVAL: Duration = Duration::from_millis(100);
/// Longest `--sample-interval`: memory limits would react too late to mean anything.
const MAX_SAMPLE_INTERVAL: Duration = Duration::from_secs(60);

/// Runs the controller until SIGTERM or SIGINT, then stops every app and exits 0.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CORRAL_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    // Read before any thread starts: the notification socket is taken out of the environment.
    let notifier = std::sync::Arc::new(crate::startup::notify::Notifier::from_env());
    // So are the sockets passed by a predecessor (`corral upgrade`) or systemd's fd store.
    let inherited = std::sync::Arc::new(crate::lifecycle::Inherited::from_env());
    let exe = started_from().context("cannot tell the path of the corral binary")?;
    let own_args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    if inherited.has(crate::lifecycle::protocol::HANDOVER) {
        // Taking over: nothing is accepted until the predecessor stopped accepting.
        crate::net::gate::close();
    }
    // Absolute but not resolved: symlinks on the way are followed afresh on every read, so a
    // GitOps symlink swap (git-sync's --link) is applied like any edit.
    let manifests = std::path::absolute(&args.manifests)
        .with_context(|| format!("cannot resolve --manifests {}", args.manifests.display()))?;
    std::fs::read_dir(&manifests).with_context(|| {
        format!(
            "the manifests directory {} cannot be opened; create it or pass another --manifests",
            args.manifests.display()
        )
    })?;
    anyhow::ensure!(
        manifests.is_dir(),
        "{} is not a directory: --manifests takes a directory of App manifests",
        manifests.display()
    );
    let trust = if args.allow_shared_manifests {
        crate::trust::Trust::Shared
    } else {
        crate::trust::Trust::Strict
    };
    // Checked as given too: the symlinks on the way live in directories canonicalize hides.
    crate::trust::check(&args.manifests, crate::trust::Role::ManifestsDir, trust)?;
    let home = crate::home::Home::from_env();
    let socket_group = match &args.socket_group {
        Some(text) => Some(crate::api::SocketGroup::resolve(text).map_err(anyhow::Error::msg)?),
        None => None,
    };
    match crate::confine::oom::lower_own(args.oom_score_adj) {
        Ok(crate::confine::oom::Lowered::From(before, now)) => {
            tracing::info!("oom_score_adj lowered from {before} to {now}")
        }
        Ok(crate::confine::oom::Lowered::Already(_)) => {}
        Err(e) => tracing::warn!("{e}"),
    }
    if let Some(n) = args.proxy_threads {
        crate::net::workers::configure(n.into());
    }
    // Before any thread or child: orphans of instances become the controller's to end and reap.
    if let Err(e) = crate::children::become_subreaper() {
        tracing::warn!("cannot become a child subreaper ({e}): daemons that apps start are not reaped by corral");
    }
    // Instances start through the spawner, a small process (`CORRAL_SPAWNER=0`: the
    // controller forks them itself, as before it had one).
    let spawner = std::env::var_os(crate::children::spawner::SWITCH_ENV);
    if spawner.is_some_and(|v| v == "0") {
        tracing::info!(
            "{}=0: instances are forked from the controller",
            crate::children::spawner::SWITCH_ENV
        );
    } else {
        crate::children::spawner::enable();
    }
    // Checked before anything starts: a public address without TLS is refused here.
    let console_plan = args.console.plan()?;
    let console_tls = match console_plan.as_ref().and_then(|p| p.tls.as_ref()) {
        Some((cert, key)) => Some(crate::console::Tls::load(cert, key)?),
        None => None,
    };
    let runtime = crate::threads::runtime()?;
    runtime.block_on(async move {
        let shutdown = CancellationToken::new();
        let (api_tx, api_rx) = tokio::sync::mpsc::channel(64);
        let console_requests = api_tx.clone();
        // Bound first: a port in use fails the start before the control socket exists.
        let passed_metrics = inherited.take(crate::controller::METRICS_SOCKET);
        let metrics_listener = match (args.metrics_addr, passed_metrics) {
            (Some(addr), Some(fd)) => {
                let socket = std::net::TcpListener::from(fd);
                match socket.local_addr() {
                    Ok(bound) if bound == addr => {
                        socket.set_nonblocking(true)?;
                        Some(tokio::net::TcpListener::from_std(socket)?)
                    }
                    _ => Some(crate::metrics::serve::bind(addr).await?),
                }
            }
            (Some(addr), None) => Some(crate::metrics::serve::bind(addr).await?),
            (None, _) => None,
        };
        let console = match console_plan {
            Some(plan) => {
                let passed = inherited.take(crate::console::CONSOLE_SOCKET);
                Some(crate::console::Bound::bind(plan, console_tls, passed).await?)
            }
            None => None,
        };
        let passed_control = inherited.take(crate::controller::CONTROL_SOCKET);
        let server =
            crate::api::server::Server::bind_or_take(&home, socket_group, passed_control).await?;
        let server = server.with_routes(crate::console::socket_routes(
            console.as_ref().map(crate::console::Bound::logins),
        ));
        let mut own_sockets = vec![(
            crate::controller::CONTROL_SOCKET.to_owned(),
            server.dup_socket()?,
        )];
        if let Some(listener) = &metrics_listener {
            use std::os::fd::AsFd;
            let fd = listener.as_fd().try_clone_to_owned()?;
            own_sockets.push((crate::controller::METRICS_SOCKET.to_owned(), fd));
        }
        if let Some(console) = &console {
            let fd = console.dup_socket()?;
            own_sockets.push((crate::console::CONSOLE_SOCKET.to_owned(), fd));
        }
        let succession = std::sync::Arc::new(crate::controller::Succession {
            exe,
            args: own_args,
            own_sockets,
            released: CancellationToken::new(),
            accepting: CancellationToken::new(),
            inherited,
            ready_timeout: args.upgrade_timeout,
            drain_timeout: args.drain_timeout,
        });
        let published = crate::metrics::Published::default();
        let server = server.with_routes(crate::metrics::serve::router(published.clone()));
        let server_task = {
            let (accepting, released) = (succession.accepting.clone(), succession.released.clone());
            let stop = shutdown.child_token();
            // Taking over, the control socket is served once the predecessor stopped.
            tokio::spawn(async move {
                tokio::select! {
                    _ = accepting.cancelled() => {}
                    _ = stop.cancelled() => {}
                }
                server.run_until(api_tx, stop, released).await
            })
        };
        let metrics_task = metrics_listener.map(|listener| {
            let stop = shutdown.child_token();
            tokio::spawn(crate::metrics::serve::run(
                listener,
                published.clone(),
                stop,
            ))
        });
        let console_task = console.map(|bound| {
            let context = crate::console::Context {
                requests: console_requests,
                published: published.clone(),
                home: home.clone(),
                sample_interval: args.sample_interval,
                edits: std::sync::Arc::new(super::console::CliEdits),
            };
            let stop = shutdown.child_token();
            // Once a successor serves (`corral upgrade`), it serves the console too.
            let released = succession.released.clone();
            tokio::spawn(async move {
                let console = crate::console::Console::run(bound, context, stop.clone());
                tokio::pin!(console);
                tokio::select! {
                    () = &mut console => return,
                    () = released.cancelled() => stop.cancel(),
                }
                console.await;
            })
        });
        let (hangup_tx, hangup_rx) = tokio::sync::mpsc::channel(1);
        let (upgrade_tx, upgrade_rx) = tokio::sync::mpsc::channel(1);
        let signals = tokio::spawn(wait_for_signal(shutdown.clone(), hangup_tx, upgrade_tx));
        let config = crate::controller::Config {
            manifests,
            profile: args.profile,
            home,
            sample_interval: args.sample_interval,
            notifier,
            rules: crate::store::Rules {
                trust,
                caps: args.caps,
            },
            metrics: published,
            succession,
            live_restore: args.live_restore,
        };
        let signals_rx = (hangup_rx, upgrade_rx);
        let result = crate::controller::run(config, api_rx, signals_rx, shutdown.clone()).await;
        shutdown.cancel();
        signals.abort();
        let _ = server_task.await;
        if let Some(task) = metrics_task {
            let _ = task.await;
        }
        if let Some(task) = console_task {
            let _ = task.await;
        }
        result?;
        Ok(ExitCode::SUCCESS)
    })
}

/// Cancels `shutdown` on the first SIGTERM or SIGINT; each SIGHUP asks for a resync (as
/// `systemctl reload` sends it), each SIGUSR2 for an upgrade (nginx's habit).
async fn wait_for_signal(
    shutdown: CancellationToken,
    hangups: tokio::sync::mpsc::Sender<()>,
    upgrades: tokio::sync::mpsc::Sender<()>,
) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int), Ok(mut hup), Ok(mut usr2)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
        signal(SignalKind::user_defined2()),
    ) else {
        tracing::error!("cannot install signal handlers; stop the controller with SIGKILL");
        return;
    };
    loop {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received"),
            _ = int.recv() => tracing::info!("SIGINT received"),
            _ = hup.recv() => {
                // One pending resync is enough: the next read sees every change.
                let _ = hangups.try_send(());
                continue;
            }
            _ = usr2.recv() => {
                // One at a time: a second SIGUSR2 during an upgrade is dropped.
                let _ = upgrades.try_send(());
                continue;
            }
        }
        break;
    }
    shutdown.cancel();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_interval_takes_go_durations_within_range() {
        assert_eq!(sample_interval("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(sample_interval("1m"), Ok(Duration::from_secs(60)));
        for bad in ["0", "0s", "50ms", "2m", "1h", "fast", ""] {
            let err = sample_interval(bad).expect_err(bad);
            assert!(!err.is_empty(), "{bad}");
        }
        assert!(sample_interval("10ms")
            .unwrap_err()
            .contains("at least 100ms"));
    }

    #[test]
    fn metrics_addr_takes_an_ip_and_a_port() {
        assert_eq!(
            metrics_addr("127.0.0.1:9100"),
            Ok("127.0.0.1:9100".parse().unwrap())
        );
        assert!(metrics_addr("[::1]:0").is_ok());
        for bad in [
            "localhost:9100",
            "127.0.0.1",
            ":9100",
            "127.0.0.1:99999",
            "",
        ] {
            let err = metrics_addr(bad).expect_err(bad);
            assert!(err.contains("127.0.0.1:9100"), "{bad}: {err}");
        }
    }
}
