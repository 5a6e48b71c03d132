//! A real HTTP app for the rollout and balancing tests, and its manifest.
//!
//! The app ([`APP_JS`], Node) listens on fd 3 when `LISTEN_FDS` is set, else on `PORT`; `/`
//! answers `instance=I pid=P marker=M early=E` (`E`: requests it got before it was healthy);
//! `/healthz` is 200 once `READY_AFTER_MS` passed, 500 before and always with `UNHEALTHY=1`;
//! `/env` shows its `LISTEN_*` variables; `/slow` is `/` answered after 1.5 s. It starts
//! listening `LISTEN_DELAY_MS` after it started; with `FAIL_EVERY=N` every Nth `/` is a 500.
//! On SIGTERM it closes its server the usual way.
//!
//! The clients that hammer it live in `load.rs` (re-exported here).

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

#[allow(unused_imports)] // each test file uses some
pub use super::load::{assert_clean, get, get_with_header, Load};
use super::{flow, manifest, wait_for, Controller};

/// The test app.
pub const APP_JS: &str = r#"
const http = require('http');
const started = Date.now();
const readyAfter = Number(process.env.READY_AFTER_MS || 0);
const healthy = () => process.env.UNHEALTHY !== '1' && Date.now() - started >= readyAfter;
let early = 0;
let served = 0;
const SLOW_MS = 1500;
const server = http.createServer((req, res) => {
  let body;
  let code = 200;
  if (req.url === '/healthz') {
    code = healthy() ? 200 : 500;
    body = code === 200 ? 'ok\n' : 'not healthy\n';
  } else if (req.url === '/env') {
    const e = process.env;
    body = JSON.stringify({pid: String(process.pid), LISTEN_FDS: e.LISTEN_FDS,
      LISTEN_PID: e.LISTEN_PID, LISTEN_FDNAMES: e.LISTEN_FDNAMES, PORT: e.PORT}) + '\n';
  } else {
    if (!healthy()) early++;
    if (process.env.FAIL_EVERY && ++served % Number(process.env.FAIL_EVERY) === 0) code = 500;
    body = `instance=${process.env.CORRAL_INSTANCE} pid=${process.pid} ` +
      `marker=${process.env.MARKER || ''} early=${early}\n`;
  }
  const respond = () => {
    res.writeHead(code, {'content-type': 'text/plain', 'content-length': Buffer.byteLength(body)});
    res.end(body);
  };
  if (req.url === '/slow') setTimeout(respond, SLOW_MS); else respond();
});
const listen = () => process.env.LISTEN_FDS ? server.listen({fd: 3})
  : server.listen(Number(process.env.PORT), '127.0.0.1');
setTimeout(listen, Number(process.env.LISTEN_DELAY_MS || 0));
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  if (server.closeIdleConnections) server.closeIdleConnections();
});
"#;

/// A free loopback port (bound, read, closed).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// The public address of `port` on loopback.
pub fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// What one app manifest for the test app holds.
#[derive(Debug, Clone)]
pub struct WebApp {
    /// App name.
    pub name: String,
    /// Public port.
    pub port: u16,
    /// `inherit`, `tcp` or `http`.
    pub mode: String,
    /// `spec.instances`.
    pub instances: u32,
    /// `spec.env` entries, as `KEY: value` YAML flow pairs.
    pub env: Vec<(String, String)>,
    /// Extra `spec` lines (YAML flow style).
    pub extra: Vec<String>,
}

impl WebApp {
    /// `name` in `mode` on a fresh free port, 2 instances, `MARKER=v1`.
    pub fn new(name: &str, mode: &str) -> Self {
        Self {
            name: name.into(),
            port: free_port(),
            mode: mode.into(),
            instances: 2,
            env: vec![("MARKER".into(), "v1".into())],
            extra: vec!["stop: {timeout: 5s}".into()],
        }
    }

    /// Sets (or adds) one env entry.
    pub fn set_env(&mut self, key: &str, value: &str) -> &mut Self {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.into(), value.into()));
        self
    }

    /// Removes one env entry.
    pub fn unset_env(&mut self, key: &str) -> &mut Self {
        self.env.retain(|(k, _)| k != key);
        self
    }

    /// The manifest text; the app script is written into the fixture's scratch dir.
    pub fn manifest(&self, ctl: &Controller) -> String {
        let script = ctl.scratch().join("app.js");
        std::fs::write(&script, APP_JS).expect("write app.js");
        let command = format!(
            "command: {}",
            flow(&["node", script.to_str().expect("utf-8 path"), &ctl.token])
        );
        let env: Vec<String> = self
            .env
            .iter()
            .map(|(k, v)| format!("{k}: {}", serde_json::to_string(v).expect("json")))
            .collect();
        let env = format!("env: {{{}}}", env.join(", "));
        let instances = format!("instances: {}", self.instances);
        let listen = format!(
            "listen: [{{name: web, port: {}, host: 127.0.0.1, mode: {}}}]",
            self.port, self.mode
        );
        let mut spec = vec![command, instances, env, listen];
        spec.extend(self.extra.iter().cloned());
        let spec: Vec<&str> = spec.iter().map(String::as_str).collect();
        manifest(&self.name, &spec)
    }

    /// Writes the manifest as `NAME.yaml`.
    pub fn write(&self, ctl: &Controller) {
        ctl.write_manifest(&format!("{}.yaml", self.name), &self.manifest(ctl));
    }
}

/// Deadline for a rollout to finish on a busy 2-CPU machine.
pub const ROLLOUT: Duration = Duration::from_secs(40);

impl Controller {
    /// Waits until `app` runs exactly `n` instances, all ready, at the app's revision, none of
    /// them in `old_pids`, with `get`'s pids matching the live processes; returns index → pid.
    pub fn wait_rolled_out(&self, app: &str, n: usize, old_pids: &[u32]) -> BTreeMap<u32, u32> {
        wait_for(
            ROLLOUT,
            &format!("{app} rolled out to {n} fresh ready instance(s)"),
            || {
                let a = self.app(app)?;
                let done = a.status == "Running"
                    && a.ready as usize == n
                    && a.instances.len() == n
                    && a.instances.iter().all(|i| {
                        i.ready
                            && i.revision == a.revision
                            && i.pid.is_some_and(|p| !old_pids.contains(&p))
                    });
                if !done {
                    return None;
                }
                let procs = self.instances(app);
                let mut listed: Vec<u32> = a.instances.iter().filter_map(|i| i.pid).collect();
                listed.sort_unstable();
                (procs.keys().copied().collect::<Vec<_>>() == listed)
                    .then(|| procs.iter().map(|(pid, i)| (*i, *pid)).collect())
            },
        )
    }

    /// The pids of `app`'s instances as `get` lists them.
    pub fn pids(&self, app: &str) -> Vec<u32> {
        self.app(app)
            .map(|a| a.instances.iter().filter_map(|i| i.pid).collect())
            .unwrap_or_default()
    }

    /// Runs `corral ARGS`, asserting success.
    pub fn corral_ok(&self, args: &[&str]) -> String {
        let run = self.corral(args);
        assert!(run.status.success(), "corral {args:?} failed: {run:?}");
        run.stdout
    }
}
