//! A real HTTP app for the rollout and balancing tests, and real HTTP clients hammering it.
//!
//! The app ([`APP_JS`], Node) listens on fd 3 when `LISTEN_FDS` is set, else on `PORT`; `/`
//! answers `instance=I pid=P marker=M early=E` (`E`: requests it got before it was healthy);
//! `/healthz` is 200 once `READY_AFTER_MS` passed, 500 before and always with `UNHEALTHY=1`;
//! `/env` shows its `LISTEN_*` variables; `/slow` is `/` answered after 1.5 s. It starts listening `LISTEN_DELAY_MS` after it started.
//! On SIGTERM it closes its server the usual way.
//!
//! The clients ([`Load`]) run on std threads against 127.0.0.1 only, either with a new
//! connection per request or each on one keep-alive connection, and count successes, failures,
//! connects and the markers and pids they saw.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{flow, manifest, wait_for, Controller};

/// The test app.
pub const APP_JS: &str = r#"
const http = require('http');
const started = Date.now();
const readyAfter = Number(process.env.READY_AFTER_MS || 0);
const healthy = () => process.env.UNHEALTHY !== '1' && Date.now() - started >= readyAfter;
let early = 0;
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

/// A response: status and body.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Body text.
    pub body: String,
    /// Whether the server said `Connection: close`.
    pub close: bool,
}

impl Response {
    /// The `key=value` field of the body, if any.
    pub fn field(&self, key: &str) -> Option<&str> {
        let prefix = format!("{key}=");
        self.body
            .split_whitespace()
            .find_map(|w| w.strip_prefix(prefix.as_str()))
    }
}

/// Connects to `addr` with 10 s I/O timeouts.
fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(10))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.set_write_timeout(Some(Duration::from_secs(10)))?;
    s.set_nodelay(true)?;
    Ok(s)
}

/// Writes one `GET path` request.
fn send(stream: &mut TcpStream, path: &str, keep_alive: bool) -> io::Result<()> {
    let connection = if keep_alive { "keep-alive" } else { "close" };
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: corral.test\r\nConnection: {connection}\r\n\r\n"
    )
}

fn bad(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

/// Reads one HTTP/1.1 response (content-length, chunked, or until EOF).
fn read_response(r: &mut BufReader<TcpStream>) -> io::Result<Response> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed before a response",
        ));
    }
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad(format!("bad status line {line:?}")))?;
    let (mut length, mut chunked, mut close) = (None, false, false);
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Err(bad("EOF in headers".into()));
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        let (k, v) = header.split_once(':').unwrap_or((header, ""));
        let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_ascii_lowercase());
        match k.as_str() {
            "content-length" => length = v.parse::<usize>().ok(),
            "transfer-encoding" => chunked = v.contains("chunked"),
            "connection" => close = v == "close",
            _ => {}
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            line.clear();
            r.read_line(&mut line)?;
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| bad(format!("bad chunk size {line:?}")))?;
            if size == 0 {
                // Trailers, then the empty line.
                loop {
                    line.clear();
                    if r.read_line(&mut line)? == 0 || line.trim_end().is_empty() {
                        break;
                    }
                }
                break;
            }
            let mut chunk = vec![0; size + 2];
            r.read_exact(&mut chunk)?;
            body.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(n) = length {
        body.resize(n, 0);
        r.read_exact(&mut body)?;
    } else {
        r.read_to_end(&mut body)?;
        close = true;
    }
    Ok(Response {
        status,
        body: String::from_utf8_lossy(&body).into_owned(),
        close,
    })
}

/// One `GET path` on a new connection.
pub fn get(addr: SocketAddr, path: &str) -> io::Result<Response> {
    let mut stream = connect(addr)?;
    send(&mut stream, path, false)?;
    read_response(&mut BufReader::new(stream))
}

/// What the clients of a [`Load`] saw so far.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    /// 200 responses.
    pub ok: u64,
    /// Everything else, described (the first 20).
    pub failures: Vec<String>,
    /// Failed requests in all.
    pub failed: u64,
    /// TCP connects made.
    pub connects: u64,
    /// Responses per `marker=`.
    pub markers: BTreeMap<String, u64>,
    /// Pids that answered.
    pub pids: BTreeSet<u32>,
    /// When each pid last answered.
    pub last_answer: BTreeMap<u32, Instant>,
}

impl Tally {
    fn fail(&mut self, what: String) {
        self.failed += 1;
        if self.failures.len() < 20 {
            self.failures.push(what);
        }
    }

    fn record(&mut self, result: io::Result<Response>) -> bool {
        match result {
            Ok(r) if r.status == 200 => {
                self.ok += 1;
                let marker = r.field("marker").unwrap_or("").to_owned();
                *self.markers.entry(marker).or_default() += 1;
                if let Some(pid) = r.field("pid").and_then(|p| p.parse().ok()) {
                    self.pids.insert(pid);
                    self.last_answer.insert(pid, Instant::now());
                }
                true
            }
            Ok(r) => {
                self.fail(format!("status {}: {}", r.status, r.body.trim()));
                false
            }
            Err(e) => {
                self.fail(format!("{:?}: {e}", e.kind()));
                false
            }
        }
    }
}

/// Clients sending `GET /` in a loop until stopped.
pub struct Load {
    stop: Arc<AtomicBool>,
    tally: Arc<Mutex<Tally>>,
    threads: Vec<JoinHandle<()>>,
    started: Instant,
}

/// Pause between two requests of one client, to leave the 2 CPUs to the product.
const PACE: Duration = Duration::from_millis(5);

impl Load {
    /// `clients` threads, each opening a new connection per request.
    pub fn per_request(addr: SocketAddr, clients: usize) -> Self {
        Self::per_request_to(addr, clients, "/")
    }

    /// The same, asking for `path`.
    pub fn per_request_to(addr: SocketAddr, clients: usize, path: &'static str) -> Self {
        Self::spawn(clients, move |stop, tally| {
            while !stop.load(Ordering::SeqCst) {
                let result = connect(addr).and_then(|mut s| {
                    tally.lock().unwrap().connects += 1;
                    send(&mut s, path, false)?;
                    read_response(&mut BufReader::new(s))
                });
                tally.lock().unwrap().record(result);
                std::thread::sleep(PACE);
            }
        })
    }

    /// `clients` threads, each reusing one keep-alive connection (reconnecting only after a
    /// failure, which is counted).
    pub fn keep_alive(addr: SocketAddr, clients: usize) -> Self {
        Self::spawn(clients, move |stop, tally| {
            let mut conn: Option<BufReader<TcpStream>> = None;
            while !stop.load(Ordering::SeqCst) {
                if conn.is_none() {
                    match connect(addr) {
                        Ok(s) => {
                            tally.lock().unwrap().connects += 1;
                            conn = Some(BufReader::new(s));
                        }
                        Err(e) => {
                            tally.lock().unwrap().fail(format!("connect: {e}"));
                            std::thread::sleep(PACE);
                            continue;
                        }
                    }
                }
                let r = conn.as_mut().expect("connected");
                let result = send(r.get_mut(), "/", true).and_then(|()| read_response(r));
                let reusable = matches!(&result, Ok(resp) if !resp.close);
                if let Ok(resp) = &result {
                    if resp.close {
                        tally
                            .lock()
                            .unwrap()
                            .fail("the server closed the connection".into());
                    }
                }
                let ok = tally.lock().unwrap().record(result);
                if !(ok && reusable) {
                    conn = None;
                }
                std::thread::sleep(PACE);
            }
        })
    }

    fn spawn(
        clients: usize,
        body: impl Fn(&AtomicBool, &Mutex<Tally>) + Send + Sync + Clone + 'static,
    ) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let tally = Arc::new(Mutex::new(Tally::default()));
        let threads = (0..clients)
            .map(|_| {
                let (stop, tally, body) = (Arc::clone(&stop), Arc::clone(&tally), body.clone());
                std::thread::spawn(move || body(&stop, &tally))
            })
            .collect();
        Self {
            stop,
            tally,
            threads,
            started: Instant::now(),
        }
    }

    /// What was seen so far.
    pub fn tally(&self) -> Tally {
        self.tally.lock().unwrap().clone()
    }

    /// Waits until `n` more successful responses arrived (proof the clients are running).
    pub fn wait_ok(&self, n: u64) {
        let target = self.tally().ok + n;
        wait_for(
            Duration::from_secs(20),
            &format!("{n} more ok responses"),
            || {
                let t = self.tally();
                (t.ok >= target).then_some(())
            },
        );
    }

    /// Waits until a response carrying `marker` arrived.
    pub fn wait_marker(&self, marker: &str) {
        wait_for(
            Duration::from_secs(20),
            &format!("a response with marker={marker}"),
            || self.tally().markers.contains_key(marker).then_some(()),
        );
    }

    /// Stops the clients and returns the final tally.
    pub fn finish(mut self) -> Tally {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            t.join().expect("client thread");
        }
        let tally = self.tally();
        eprintln!(
            "load: {} ok, {} failed, {} connects in {:?}; markers {:?}",
            tally.ok,
            tally.failed,
            tally.connects,
            self.started.elapsed(),
            tally.markers
        );
        tally
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Asserts no request failed and at least `min_ok` succeeded.
pub fn assert_clean(tally: &Tally, min_ok: u64) {
    assert_eq!(
        tally.failed, 0,
        "{} request(s) failed ({} ok); first failures: {:#?}",
        tally.failed, tally.ok, tally.failures
    );
    assert!(
        tally.ok >= min_ok,
        "only {} successful requests (want ≥ {min_ok}): the load did not really run",
        tally.ok
    );
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
