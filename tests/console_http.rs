//! The web console's HTTP side against a real controller, with curl as the client (no
//! browser: `console_browser` has one): the login link from `corral console-url`, the session
//! cookie's flags, the Host, Origin, session and CSRF checks, read-only sessions, the assets'
//! types and caching, an action that starts a real instance, the server-sent streams, TLS with
//! a certificate made by `openssl`, and the refusals at start.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::web::free_port;
use common::{manifest, Controller, BIN, SOON};
use serde_json::Value;

/// One HTTP answer as curl got it.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: String,
    body: String,
}

impl Answer {
    /// A header's value (the first), by name, case-insensitive.
    fn header(&self, name: &str) -> Option<String> {
        self.headers.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {self:?}"))
    }
}

/// A console client: curl with the session cookie once logged in.
struct Browser {
    base: String,
    cookie: Option<String>,
    scratch: PathBuf,
    /// Extra curl arguments (`--cacert FILE`).
    extra: Vec<String>,
}

impl Browser {
    fn new(base: &str, scratch: &Path) -> Self {
        Self {
            base: base.into(),
            cookie: None,
            scratch: scratch.to_path_buf(),
            extra: Vec::new(),
        }
    }

    /// `curl` on `url` (absolute, or a path under the base) with `args`; the answer.
    fn curl(&self, url: &str, args: &[&str]) -> Answer {
        let url = if url.starts_with("http") {
            url.to_owned()
        } else {
            format!("{}{url}", self.base)
        };
        let (head, body) = (self.scratch.join("head"), self.scratch.join("body"));
        let mut cmd = Command::new("curl");
        cmd.args(["-sS", "--max-time", "10", "-D"])
            .arg(&head)
            .arg("-o")
            .arg(&body)
            .args(["-w", "%{http_code}"])
            .args(&self.extra)
            .args(args);
        if let Some(c) = &self.cookie {
            cmd.args(["-H", &format!("Cookie: corral_session={c}")]);
        }
        let out = cmd.arg(&url).output().expect("run curl");
        assert!(out.status.success(), "curl {url} {args:?}: {out:?}");
        Answer {
            status: String::from_utf8_lossy(&out.stdout)
                .trim()
                .parse()
                .expect("status"),
            headers: std::fs::read_to_string(&head).unwrap_or_default(),
            body: std::fs::read_to_string(&body).unwrap_or_default(),
        }
    }

    fn get(&self, path: &str) -> Answer {
        self.curl(path, &[])
    }

    /// POST `body` as JSON with the CSRF token `csrf` (none: no header).
    fn post(&self, path: &str, csrf: Option<&str>, body: &str) -> Answer {
        let mut args = vec![
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "--data",
            body,
        ];
        let header = csrf.map(|t| format!("X-CSRF-Token: {t}"));
        if let Some(h) = &header {
            args.extend(["-H", h]);
        }
        self.curl(path, &args)
    }

    /// Opens the login link; returns the answer and keeps the session cookie.
    fn login(&mut self, url: &str) -> Answer {
        let answer = self.curl(url, &[]);
        if let Some(cookie) = answer.header("set-cookie") {
            let value = cookie
                .split(';')
                .next()
                .and_then(|kv| kv.strip_prefix("corral_session="))
                .expect("corral_session cookie");
            self.cookie = Some(value.to_owned());
        }
        answer
    }

    /// `GET /api/session`'s CSRF token.
    fn csrf(&self) -> String {
        let session = self.get("/api/session");
        assert_eq!(session.status, 200, "{session:?}");
        session.json()["csrf"].as_str().expect("csrf").to_owned()
    }
}

/// A controller with the console on a free loopback port, and its base URL.
fn console(extra: &[&str]) -> (Controller, String) {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut args = vec!["--console-addr", &addr];
    args.extend(extra);
    let c = Controller::with_args(&args);
    c.start();
    (c, format!("http://{addr}"))
}

/// `corral console-url [ARGS]`'s link.
fn console_url(c: &Controller, args: &[&str]) -> String {
    let mut all = vec!["console-url"];
    all.extend(args);
    let run = c.corral(&all);
    assert!(run.status.success(), "{run:?}");
    run.stdout.trim().to_owned()
}

#[test]
fn login_session_host_origin_csrf_and_assets() {
    let (c, base) = console(&[]);
    c.write_manifest(
        "web.yaml",
        &manifest("web", &[&format!("command: {}", c.sleeper())]),
    );
    c.wait_instances("web", 1);
    let mut b = Browser::new(&base, c.scratch());

    // Nothing without a session: the API says 401, the page says how to log in.
    let refused = b.get("/api/overview");
    assert_eq!(refused.status, 401, "{refused:?}");
    assert!(refused.json()["error"]
        .as_str()
        .expect("error")
        .contains("corral console-url"));
    let page = b.get("/");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("corral console-url"), "{}", page.body);

    // The link logs in once: HttpOnly, SameSite=Strict, no Secure on plain HTTP.
    let url = console_url(&c, &[]);
    assert!(url.starts_with(&format!("{base}/login?token=")), "{url}");
    let token = url.rsplit('=').next().expect("token");
    assert!(
        token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit()),
        "{token}"
    );
    let login = b.login(&url);
    assert_eq!(login.status, 303, "{login:?}");
    assert_eq!(login.header("location").as_deref(), Some("/"));
    let cookie = login.header("set-cookie").expect("cookie");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(flag), "{flag} missing: {cookie}");
    }
    assert!(!cookie.contains("Secure"), "{cookie}");
    let again = Browser::new(&base, c.scratch()).login(&url);
    assert_eq!(again.status, 401, "a token works once: {again:?}");
    assert!(again.header("set-cookie").is_none());

    let session = b.get("/api/session").json();
    assert_eq!(session["readOnly"], false);
    let csrf = b.csrf();
    let overview = b.get("/api/overview");
    assert_eq!(overview.status, 200, "{overview:?}");
    let overview = overview.json();
    let apps = overview["apps"].as_array().expect("apps");
    assert!(
        apps.iter()
            .any(|a| a["name"] == "web" && a["kind"] == "App"),
        "{overview}"
    );
    assert!(
        overview["host"]["memoryTotalBytes"]
            .as_u64()
            .expect("memory")
            > 0,
        "{overview}"
    );
    assert_eq!(overview["controller"]["pid"], c.pid());

    // DNS rebinding: a foreign Host is refused, so is a foreign Origin.
    let foreign = b.curl("/api/session", &["-H", "Host: evil.example"]);
    assert_eq!(foreign.status, 421, "{foreign:?}");
    let port = base.rsplit(':').next().expect("port");
    let named = b.curl("/api/session", &["-H", &format!("Host: localhost:{port}")]);
    assert_eq!(
        named.status, 200,
        "localhost:PORT names the console: {named:?}"
    );
    let origin = b.curl("/api/session", &["-H", "Origin: http://evil.example"]);
    assert_eq!(origin.status, 403, "{origin:?}");
    let own = b.curl("/api/session", &["-H", &format!("Origin: {base}")]);
    assert_eq!(own.status, 200, "{own:?}");

    // A POST needs the CSRF token; with it, the action runs the CLI's code.
    let forged = b.post("/api/apps/web/reload", None, "{}");
    assert_eq!(forged.status, 403, "{forged:?}");
    let wrong = b.post("/api/apps/web/reload", Some("0000"), "{}");
    assert_eq!(wrong.status, 403, "{wrong:?}");
    let reload = b.post("/api/apps/web/reload", Some(&csrf), "{}");
    assert_eq!(reload.status, 200, "{reload:?}");
    assert!(reload.json()["message"].as_str().is_some(), "{reload:?}");
    let wrong = b.post("/api/overview", Some(&csrf), "{}");
    assert_eq!(wrong.status, 405, "{wrong:?}");
    assert!(wrong.json()["error"].as_str().is_some());
    let unknown = b.post("/api/apps/nope/restart", Some(&csrf), "{}");
    assert_eq!(unknown.status, 404, "{unknown:?}");
    assert!(unknown.json()["error"].as_str().is_some());

    // A read-only session may look, not act.
    let mut reader = Browser::new(&base, c.scratch());
    assert_eq!(reader.login(&console_url(&c, &["--read-only"])).status, 303);
    assert_eq!(reader.get("/api/session").json()["readOnly"], true);
    let denied = reader.post("/api/apps/web/restart", Some(&reader.csrf()), "{}");
    assert_eq!(denied.status, 403, "{denied:?}");
    assert!(denied.json()["error"]
        .as_str()
        .expect("error")
        .contains("read-only"));

    // The page and its assets: types, hashed names cached for good, the page revalidated.
    let index = b.get("/");
    assert_eq!(index.status, 200);
    assert!(index
        .header("content-type")
        .expect("type")
        .starts_with("text/html"));
    assert_eq!(index.header("cache-control").as_deref(), Some("no-cache"));
    let csp = index.header("content-security-policy").expect("csp");
    assert!(csp.starts_with("default-src 'self'"), "{csp}");
    assert_eq!(
        index.header("x-content-type-options").as_deref(),
        Some("nosniff")
    );
    let js = hashed(&index.body, "app", "js");
    let script = b.get(&format!("/assets/{js}"));
    assert_eq!(script.status, 200, "{js}");
    assert_eq!(
        script.header("content-type").as_deref(),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(
        script.header("cache-control").as_deref(),
        Some("public, max-age=31536000, immutable")
    );
    let css = b.get(&format!("/assets/{}", hashed(&index.body, "app", "css")));
    assert_eq!(
        css.header("content-type").as_deref(),
        Some("text/css; charset=utf-8")
    );
    let icon = b.get(&format!("/assets/{}", hashed(&index.body, "icon", "svg")));
    assert_eq!(
        icon.header("content-type").as_deref(),
        Some("image/svg+xml")
    );
    assert_eq!(b.get("/assets/nope.js").status, 404);
}

/// The hashed name `STEM.HASH.EXT` the page refers to.
fn hashed(page: &str, stem: &str, ext: &str) -> String {
    let names = page
        .split("/assets/")
        .skip(1)
        .filter_map(|rest| rest.split('"').next());
    for name in names {
        let hash = name
            .strip_prefix(&format!("{stem}."))
            .and_then(|r| r.strip_suffix(&format!(".{ext}")));
        if let Some(hash) = hash {
            assert!(
                hash.len() == 12 && hash.bytes().all(|b| b.is_ascii_hexdigit()),
                "{name}"
            );
            return name.to_owned();
        }
    }
    panic!("the page names no /assets/{stem}.HASH.{ext}: {page}")
}

/// A `curl -N` reading a server-sent stream; its lines arrive on a channel; killed on drop.
struct Stream {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Stream {
    fn open(b: &Browser, path: &str) -> Self {
        let mut child = Command::new("curl")
            .args(["-sS", "-N", "--max-time", "60", "-H"])
            .arg(format!(
                "Cookie: corral_session={}",
                b.cookie.as_deref().expect("session")
            ))
            .arg(format!("{}{path}", b.base))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn curl");
        let lines = common::stdout_lines(child.stdout.take().expect("stdout"));
        Self {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// The data of the next event named `event` whose data satisfies `found`.
    fn wait(&mut self, event: &str, found: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut current = String::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(line) = self.lines.recv_timeout(left) else {
                panic!(
                    "no {event} event as wanted; stream so far:\n{:#?}",
                    self.seen
                );
            };
            self.seen.push(line.clone());
            if let Some(name) = line.strip_prefix("event: ") {
                current = name.to_owned();
            } else if let Some(data) = line.strip_prefix("data: ") {
                if current == event {
                    let value: Value = serde_json::from_str(data).expect("json data");
                    if found(&value) {
                        return value;
                    }
                }
            }
        }
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn scale_starts_an_instance_and_the_streams_tell() {
    let (c, base) = console(&["--sample-interval", "300ms"]);
    let talker = c.sh("echo hello-from-web; exec sleep 100000");
    c.write_manifest(
        "web.yaml",
        &manifest("web", &[&format!("command: {talker}")]),
    );
    c.wait_instances("web", 1);
    let mut b = Browser::new(&base, c.scratch());
    assert_eq!(b.login(&console_url(&c, &[])).status, 303);
    let csrf = b.csrf();

    let mut stream = Stream::open(&b, "/api/stream");
    let overview = stream.wait("overview", |o| {
        o["apps"]
            .as_array()
            .is_some_and(|a| a.iter().any(|a| a["name"] == "web"))
    });
    assert!(overview["controller"]["version"].is_string(), "{overview}");

    // Scale through the page: the manifest says 2, and a second process runs.
    let bad = b.post(
        "/api/apps/web/scale",
        Some(&csrf),
        "{\"instances\": \"two\"}",
    );
    assert_eq!(bad.status, 400, "{bad:?}");
    let scaled = b.post("/api/apps/web/scale", Some(&csrf), "{\"instances\": 2}");
    assert_eq!(scaled.status, 200, "{scaled:?}");
    assert_eq!(scaled.json()["message"], "app/web scaled");
    c.wait_instances("web", 2);
    let text = std::fs::read_to_string(c.manifests.join("web.yaml")).expect("manifest");
    assert!(text.contains("instances: 2"), "{text}");
    stream.wait("overview", |o| {
        o["apps"]
            .as_array()
            .is_some_and(|a| a.iter().any(|a| a["name"] == "web" && a["desired"] == 2))
    });

    // A crash arrives as an event, live.
    c.write_manifest(
        "crash.yaml",
        &manifest("crash", &[&format!("command: {}", c.sh("exit 3"))]),
    );
    let crash = stream.wait("event", |e| e["app"] == "crash" && e["kind"] == "Warning");
    assert!(crash["reason"].is_string(), "{crash}");

    // The app view and its log stream.
    let app = b.get("/api/apps/web").json();
    assert_eq!(app["instances"].as_array().map(Vec::len), Some(2), "{app}");
    assert_eq!(app["charts"]["interval"], 10);
    let mut logs = Stream::open(&b, "/api/apps/web/logs?tail=10");
    let line = logs.wait("line", |l| l["line"] == "hello-from-web");
    assert_eq!(line["stream"], "out");
    assert!(line["instance"].is_u64(), "{line}");

    // A Job reads as one: its runs are its instances.
    let job = format!(
        "apiVersion: corral/v1\nkind: Job\nmetadata:\n  name: once\nspec:\n  template:\n    command: {}\n",
        c.sh("exit 0")
    );
    c.write_manifest("once.yaml", &job);
    let done = common::wait_for(SOON, "the Job completes", || {
        let view = b.get("/api/apps/once").json();
        (view["status"] == "Complete").then_some(view)
    });
    assert_eq!(done["kind"], "Job");
    assert_eq!(
        done["instances"].as_array().map(Vec::len),
        Some(1),
        "{done}"
    );
    assert_eq!(b.get("/api/apps/nope").status, 404);

    // Stop goes through the manifest too.
    let stopped = b.post("/api/apps/web/stop", Some(&csrf), "{}");
    assert_eq!(stopped.status, 200, "{stopped:?}");
    let text = std::fs::read_to_string(c.manifests.join("web.yaml")).expect("manifest");
    assert!(text.contains("suspend: true"), "{text}");
}

#[test]
fn tls_with_a_certificate_from_openssl() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let (cert, key) = (
        scratch.path().join("cert.pem"),
        scratch.path().join("key.pem"),
    );
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "1", "-subj", "/CN=console.test"])
        .args(["-addext", "subjectAltName=DNS:console.test,IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl must be installed (.ci/run installs it)");
    assert!(made.status.success(), "{made:?}");
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let (cert_arg, key_arg) = (cert.display().to_string(), key.display().to_string());
    let c = Controller::with_args(&[
        "--console-addr",
        &addr,
        "--console-tls-cert",
        &cert_arg,
        "--console-tls-key",
        &key_arg,
    ]);
    c.start();
    let url = console_url(&c, &[]);
    assert!(
        url.starts_with(&format!("https://{addr}/login?token=")),
        "{url}"
    );

    // curl checks the certificate against the one openssl made: without it, no connection.
    let unchecked = Command::new("curl")
        .args(["-sS", "--max-time", "10", "-o", "/dev/null"])
        .arg(format!("https://{addr}/"))
        .output()
        .expect("curl");
    assert!(
        !unchecked.status.success(),
        "an unknown certificate must fail: {unchecked:?}"
    );
    let mut b = Browser::new(&format!("https://{addr}"), c.scratch());
    b.extra = vec!["--cacert".into(), cert_arg.clone()];
    let login = b.login(&url);
    assert_eq!(login.status, 303, "{login:?}");
    let cookie = login.header("set-cookie").expect("cookie");
    assert!(
        cookie.contains("Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    assert_eq!(b.get("/api/session").status, 200);

    // A name the certificate is valid for is the console's name too; another is not.
    b.extra
        .extend(["--resolve".into(), format!("console.test:{port}:127.0.0.1")]);
    let named = b.curl(&format!("https://console.test:{port}/api/session"), &[]);
    assert_eq!(named.status, 200, "{named:?}");
    let other = b.curl("/api/session", &["-H", &format!("Host: other.test:{port}")]);
    assert_eq!(other.status, 421, "{other:?}");
    let origin = b.curl("/api/session", &["-H", &format!("Origin: http://{addr}")]);
    assert_eq!(
        origin.status, 403,
        "http is not this console's origin: {origin:?}"
    );
}

#[test]
fn refused_at_start_and_without_a_console() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let manifests = scratch.path().join("manifests");
    std::fs::create_dir(&manifests).expect("manifests");
    let public = format!("0.0.0.0:{}", free_port());
    let started = Instant::now();
    let out = Command::new(BIN)
        .args(["controller", "--manifests"])
        .arg(&manifests)
        .args(["--console-addr", &public])
        .env("CORRAL_HOME", scratch.path().join("home"))
        .stdin(Stdio::null())
        .output()
        .expect("run corral controller");
    assert!(!out.status.success(), "{out:?}");
    assert!(started.elapsed() < SOON);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("is not a loopback address"), "{stderr}");
    assert!(
        stderr.contains("--console-tls-cert") && stderr.contains("--console-behind-tls-proxy"),
        "{stderr}"
    );
    assert!(!scratch.path().join("home/corral.sock").exists());

    // `corral startup` writes the flag into the unit, and refuses what the controller would.
    let unit = common::corral_in(
        &scratch.path().join("home"),
        &[
            "startup",
            "--manifests",
            &manifests.display().to_string(),
            "--console-addr",
            "127.0.0.1:9090",
            "--console-read-only",
        ],
    );
    assert!(unit.status.success(), "{unit:?}");
    assert!(
        unit.stdout
            .contains("--console-addr 127.0.0.1:9090 --console-read-only"),
        "{}",
        unit.stdout
    );
    let refused = common::corral_in(
        &scratch.path().join("home"),
        &[
            "startup",
            "--manifests",
            &manifests.display().to_string(),
            "--console-addr",
            &public,
        ],
    );
    assert!(
        !refused.status.success() && refused.stderr.contains("not a loopback address"),
        "{refused:?}"
    );

    // A controller without a console says how to get one.
    let c = Controller::new();
    c.start();
    let run = c.corral(&["console-url"]);
    assert!(!run.status.success(), "{run:?}");
    assert!(run.stderr.contains("--console-addr"), "{}", run.stderr);
}

#[test]
fn the_console_port_is_handed_over_by_corral_upgrade() {
    let (c, base) = console(&[]);
    let mut before = Browser::new(&base, c.scratch());
    assert_eq!(before.login(&console_url(&c, &[])).status, 303);
    let run = c.corral(&["upgrade"]);
    assert!(run.status.success(), "{run:?}");
    let new: u32 = run
        .stdout
        .split("(pid ")
        .nth(2)
        .and_then(|s| s.split(')').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no new pid in {}", run.stdout));
    c.took_over(new);
    // The successor serves the same port (no bind error): a new link logs in there, and the
    // overview names the new controller. (The old one answers no more once it let go.)
    common::wait_for(SOON, "a session on the new controller", || {
        let mut after = Browser::new(&base, c.scratch());
        if after.login(&console_url(&c, &[])).status != 303 {
            return None;
        }
        let o = after.get("/api/overview");
        (o.status == 200 && o.json()["controller"]["pid"] == new).then_some(())
    });
}

#[test]
fn behind_a_tls_proxy_cookies_are_secure_and_origins_https() {
    let port = free_port();
    let addr = format!("0.0.0.0:{port}");
    let c = Controller::with_args(&["--console-addr", &addr, "--console-behind-tls-proxy"]);
    c.start();
    // The proxy speaks TLS to browsers and plain HTTP to the console (here, loopback).
    let url = console_url(&c, &[]);
    assert!(
        url.starts_with("https://") && url.contains(&format!(":{port}/login?token=")),
        "{url}"
    );
    let token = url.rsplit('=').next().expect("token");
    let local = format!("http://127.0.0.1:{port}");
    let mut b = Browser::new(&local, c.scratch());
    let login = b.login(&format!("{local}/login?token={token}"));
    assert_eq!(login.status, 303, "{login:?}");
    let cookie = login.header("set-cookie").expect("cookie");
    assert!(cookie.contains("; Secure"), "{cookie}");
    let plain = b.curl("/api/session", &["-H", &format!("Origin: {local}")]);
    assert_eq!(
        plain.status, 403,
        "the browser's origin is https: {plain:?}"
    );
    let https = b.curl(
        "/api/session",
        &["-H", &format!("Origin: https://127.0.0.1:{port}")],
    );
    assert_eq!(https.status, 200, "{https:?}");
    let public = b.curl("/api/session", &["-H", "Host: 127.0.0.1"]);
    assert_eq!(public.status, 200, "the proxy's public port: {public:?}");
    let foreign = b.curl("/api/session", &["-H", "Host: evil.example"]);
    assert_eq!(foreign.status, 421, "{foreign:?}");
}
