//! Listen ports shared by an app's instances (README "Load balancing"): socket inheritance, the tcp
//! proxy and the http request balancer.
//!
//! How the controller (`controller/listen.rs`) and the supervisor (`supervisor/spawn.rs`) use it,
//! per app:
//! 1. [`AppListeners::bind`] when the app appears; keep the value for the app's lifetime,
//!    across reloads and restarts, so the public port never closes. When `spec.listen`
//!    changes: drop (or `shutdown`) the old value first, then bind the new one.
//! 2. Per instance: [`instance_ports`] gives its loopback ports (tcp/http entries), and
//!    [`port_env`] the `PORT`/`PORT_<NAME>` variables. If the app has inherit entries, spawn
//!    through [`shim_command`] and hand the sockets over with [`pass_fds`], after the
//!    environment is set (`env_clear` would remove `LISTEN_FDS`).
//! 3. On every readiness change: [`AppListeners::set_backends`] with the ready instances.
//!    While a canary runs: [`AppListeners::set_canary`] with its revision and weight, and
//!    [`AppListeners::revision_stats`] for the analysis.
//! 4. Before stopping an instance: `timeout(stop.timeout, listeners.drain(id))`, then signal.
//! 5. When the app goes away: `listeners.shutdown().await`.
//!
//! ## Layers
//!
//! Each file uses only the files on the lines below its own (`files_use_only_lower_layers`
//! checks it; a file's `_tests.rs` goes with it), so the room reads top to bottom:
//!
//! - `listeners`: [`AppListeners`], the sockets of one app and the proxies behind them
//! - `http`: the http request balancer (retries, keep-alive to clients)
//! - `fast`: the http proxy's fast path for plain HTTP/1.1 requests, without hyper
//! - `upgrade`: HTTP/1.1 upgrades (WebSocket) through the http proxy
//! - `tcp`: the connection proxy, and connecting to a picked backend
//! - `proxy`: what the proxy tasks of one listen entry share; the timeouts ([`Options`])
//! - `leased_body`: a response body that holds its backend's lease until it is sent
//! - `backends`: the rotation of ready backends: the canary route, least load, drain
//! - `route`: which revision's backends a request goes to ([`CanaryRoute`], the smooth rule)
//! - `revision_stats`: per-revision counters ([`RevisionSnapshot`], [`RevisionWindow`])
//! - `stats`: per-app traffic counters
//! - `upstream`, `raw_upstream`: keep-alive connections to one backend (hyper's, the fast path's)
//! - `idle`: the idle connections of either pool, one list per proxy worker
//! - `body`: the body types of the http proxy and its own plain-text answers
//! - `h1`: which requests the fast path takes, where a response ends; `chunked` below it
//! - `bind`, `chunked`, `headers`, `inherit`, `prefixed`, `ports`, `tasks`, `gate`, `workers`: no other file of `net/`
//! - `error`: [`NetError`]
//!
//! ```no_run
//! # async fn example(listen: Vec<corral::manifest::Listen>) -> anyhow::Result<()> {
//! use corral::net::{self, AppListeners, Backend};
//! let listeners = AppListeners::bind("web", &listen).await?;
//! // Spawning instance 7:
//! let ports = net::instance_ports(&listen)?;
//! let argv = vec!["node".to_string(), "server.js".to_string()];
//! let mut cmd = net::shim_command(&argv)?; // `corral __exec -- node server.js`
//! cmd.env_clear().envs(net::port_env(&ports));
//! net::pass_fds(&mut cmd, listeners.dup_inherit_fds()?);
//! let child = cmd.spawn()?;
//! drop(cmd); // closes the controller's dups
//! // Once it is ready:
//! listeners.set_backends(vec![Backend { id: 7, ports, revision: "3f2a9c1e".into() }]);
//! // Before stopping it:
//! let _ = tokio::time::timeout(std::time::Duration::from_secs(10), listeners.drain(7)).await;
//! # drop(child);
//! listeners.shutdown().await;
//! # Ok(())
//! # }
//! ```

mod backends;
mod bind;
mod body;
pub(crate) mod chunked;
mod error;
mod fast;
pub mod gate;
pub(crate) mod h1;
mod headers;
mod http;
mod idle;
mod inherit;
mod leased_body;
mod listeners;
mod ports;
mod prefixed;
mod proxy;
mod raw_upstream;
mod revision_stats;
mod route;
mod stats;
mod tasks;
mod tcp;
mod upgrade;
mod upstream;
pub mod workers;

pub use backends::Backend;
pub use error::NetError;
pub use inherit::{exec_with_listen_pid, pass_fds, shim_command, EXEC_SUBCOMMAND};
pub use listeners::AppListeners;
pub use ports::{free_port, instance_ports, port_env, port_var};
pub use proxy::Options;
pub use revision_stats::{RevisionSnapshot, RevisionWindow};
pub use route::CanaryRoute;
pub use stats::Counters;
pub use stats::Stats;

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    /// The layer of each file of `net/` (0 on top), read from this file's doc.
    fn layers(doc: &str) -> BTreeMap<String, usize> {
        let lines = doc
            .lines()
            .skip_while(|l| *l != "//! ## Layers")
            .filter_map(|l| l.strip_prefix("//! - "));
        let mut out = BTreeMap::new();
        for (layer, line) in lines.enumerate() {
            let names = line.split(':').next().unwrap_or("");
            for name in names.split('`').skip(1).step_by(2) {
                out.insert(name.to_owned(), layer);
            }
        }
        out
    }

    /// The files of `net/` a source imports through `super::` (tests and comments aside).
    fn uses(source: &str) -> Vec<String> {
        let code: String = source
            .split("#[cfg(test)]")
            .next()
            .unwrap_or("")
            .lines()
            .map(|l| l.find("//").map_or(l, |at| &l[..at]))
            .collect::<Vec<_>>()
            .join("\n");
        let ident = |s: &str| -> String {
            s.trim_start()
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect()
        };
        let mut out = Vec::new();
        for rest in code.split("super::").skip(1) {
            match rest.strip_prefix('{') {
                Some(group) => {
                    let group = group.split('}').next().unwrap_or("");
                    out.extend(group.split(',').map(ident));
                }
                None => out.push(ident(rest)),
            }
        }
        out.retain(|name| !name.is_empty());
        out
    }

    /// STYLE.md's rule for `net/`: imports run one way, down the layers of this file's doc.
    #[test]
    fn files_use_only_lower_layers() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/net");
        let doc = std::fs::read_to_string(dir.join("mod.rs")).expect("mod.rs");
        let layers = layers(&doc);
        let mut wrong = Vec::new();
        for entry in std::fs::read_dir(&dir).expect("src/net") {
            let path = entry.expect("entry").path();
            let Some(name) = path.file_stem().and_then(|n| n.to_str()) else {
                continue;
            };
            let skip = name == "mod" || name.ends_with("_tests");
            if skip || path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let Some(&own) = layers.get(name) else {
                wrong.push(format!("{name}.rs is in no layer of net/mod.rs's doc"));
                continue;
            };
            let source = std::fs::read_to_string(&path).expect("source");
            for used in uses(&source) {
                match layers.get(&used) {
                    Some(&layer) if layer > own => {}
                    _ => wrong.push(format!("{name}.rs uses super::{used}")),
                }
            }
        }
        assert!(wrong.is_empty(), "imports against the layers: {wrong:#?}");
    }

    /// The controller shares these across tasks.
    #[test]
    fn listeners_are_send_and_sync() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<super::AppListeners>();
        send_sync::<super::NetError>();
    }
}
