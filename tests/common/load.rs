//! Real HTTP/1.1 clients against 127.0.0.1: one request ([`get`]) or a [`Load`] of client
//! threads, either with a new connection per request or each on one keep-alive connection,
//! counting successes, failures, connects and the markers and pids they saw.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::wait_for;
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

/// One `GET path` with one extra header, on a new connection.
pub fn get_with_header(addr: SocketAddr, path: &str, header: (&str, &str)) -> io::Result<Response> {
    let mut stream = connect(addr)?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: corral.test\r\n{}: {}\r\nConnection: close\r\n\r\n",
        header.0, header.1
    )?;
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
    /// Responses that closed their keep-alive connection (`Connection: close`), by clients
    /// that reconnect then ([`Load::keep_alive_reconnecting`]); not failures.
    pub closes: u64,
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
        Self::keep_alive_with(addr, clients, true)
    }

    /// [`Load::keep_alive`] clients that, like browsers, wrk or curl, take a response with
    /// `Connection: close` as a success and open a new connection for the next request.
    pub fn keep_alive_reconnecting(addr: SocketAddr, clients: usize) -> Self {
        Self::keep_alive_with(addr, clients, false)
    }

    fn keep_alive_with(addr: SocketAddr, clients: usize, close_fails: bool) -> Self {
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
                    if resp.close && close_fails {
                        tally
                            .lock()
                            .unwrap()
                            .fail("the server closed the connection".into());
                    } else if resp.close {
                        tally.lock().unwrap().closes += 1;
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
