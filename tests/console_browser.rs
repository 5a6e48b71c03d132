//! The web console in a real browser: Debian's chromium, headless, driven through chromedriver
//! (WebDriver, fantoccini) against a real controller started with `--console-addr`. Logged in
//! with `corral console-url`'s one-time URL, the page lists the test's apps, shows a crash live
//! (no reload), scales an app from its buttons, streams an app's log lines, draws a rollout as
//! steps, fits a phone's width, turns dark with the system and weighs under 200 KB; without
//! the session, or from a foreign origin, it is refused, and a read-only session shows no
//! actions. Writes `target/console-overview.png` and `target/console-app.png` (the README's
//! pictures come from here: docs/console-*.png).

use std::fs;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use fantoccini::Locator;
use serde_json::{json, Value};

use crate::common::browser::Browser;
use crate::common::web::free_port;
use crate::common::{self, Controller, SOON};

/// Polls `$cond` (an expression that may `.await`) every 50 ms until it is true; panics with
/// `$what` and `$dump` (evaluated then) after [`SOON`].
macro_rules! eventually {
    ($what:expr, $cond:expr, $dump:expr) => {{
        let deadline = std::time::Instant::now() + SOON;
        loop {
            if $cond {
                break;
            }
            if std::time::Instant::now() >= deadline {
                panic!("timed out after {:?}: {}\n{}", SOON, $what, $dump);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }};
}

/// Where the screenshots go: the project's `target/`.
fn shot(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join(name)
}

#[test]
fn the_console_in_a_browser() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(scenario());
}

async fn scenario() {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let ctl = Controller::with_args(&[
        "--console-addr",
        &format!("127.0.0.1:{port}"),
        "--sample-interval",
        "250ms",
    ]);
    let crash = ctl.scratch().join("crash-now");
    let web = |instances: u32, extra: &[&str]| {
        let command = match pictures() {
            // For the pictures, some CPU and memory that come and go, for the charts to draw.
            Some(_) => common::flow(&["python3", "-c", BUSY_WEB, &ctl.token]),
            None => ctl.sh("i=0; while :; do echo hello-from-web $i; i=$((i+1)); sleep 0.2; done"),
        };
        let mut spec = vec![
            format!("command: {command}"),
            format!("instances: {instances}"),
            "memory: {limit: 64Mi}".into(),
        ];
        spec.extend(extra.iter().map(|s| s.to_string()));
        let spec: Vec<&str> = spec.iter().map(String::as_str).collect();
        common::manifest("web", &spec)
    };
    ctl.write_manifest("web.yaml", &web(1, &[]));
    let crashy = ctl.sh(&format!(
        "while [ ! -e {} ]; do sleep 0.1; done; echo crashing >&2; exit 3",
        crash.display()
    ));
    ctl.write_manifest(
        "crashy.yaml",
        &common::manifest(
            "crashy",
            &[&format!("command: {crashy}"), "backoff: {initial: 3s}"],
        ),
    );
    let sleeper = format!("command: {}", ctl.sleeper());
    ctl.write_manifest(
        "api.yaml",
        &common::manifest("api", &[&sleeper, "instances: 2"]),
    );
    ctl.start();
    ctl.wait_instances("web", 1);
    ctl.wait_instances("crashy", 1);
    ctl.wait_instances("api", 2);

    let browser = Browser::start(1280, 900).await;
    let b = &browser;

    // Login: the one-time URL sets the session and lands on the overview.
    let url = console_url(&ctl, &base);
    b.client.goto(&url).await.expect("open the login URL");
    eventually!(
        "the overview lists web and crashy",
        b.text("tr[data-app=web] [data-field=status]")
            .await
            .as_deref()
            == Some("Running")
            && b.text("tr[data-app=crashy]").await.is_some(),
        page_state(b).await
    );
    let here = b.client.current_url().await.expect("current URL");
    assert_eq!(
        here.path(),
        "/",
        "the login should land on the overview: {here}"
    );
    assert!(
        !here.as_str().contains("token"),
        "the token stays out of the address bar: {here}"
    );
    // app.css and app.js are in force (CSP `default-src 'self'` allows them, and nothing inline).
    let sticky = b
        .js(
            "return getComputedStyle(document.querySelector('header.bar')).position",
            vec![],
        )
        .await;
    assert_eq!(sticky, json!("sticky"), "app.css is not applied");
    // The page's weight: the document and its assets, as sent (uncompressed), under 200 KB.
    let weight = b
        .js(
            "return performance.getEntriesByType('navigation')[0].encodedBodySize
                + performance.getEntriesByType('resource')
                    .filter(r => r.name.includes('/assets/'))
                    .reduce((n, r) => n + r.encodedBodySize, 0)",
            vec![],
        )
        .await;
    assert!(
        weight
            .as_f64()
            .is_some_and(|w| w > 10_000.0 && w < 200_000.0),
        "the page and its assets weigh {weight} bytes"
    );

    // A crash shows up live: no reload (the marker set in this page survives).
    b.js("window.corralTestMarker = 42;", vec![]).await;
    fs::write(&crash, "").expect("crash trigger");
    eventually!(
        "crashy shows CrashLoopBackOff and a restart, live",
        b.text("tr[data-app=crashy] [data-field=status]")
            .await
            .as_deref()
            == Some("CrashLoopBackOff")
            && b.text("tr[data-app=crashy] [data-field=restarts]")
                .await
                .and_then(|r| r.parse::<u32>().ok())
                .is_some_and(|r| r >= 1),
        page_state(b).await
    );
    let marker = b.js("return window.corralTestMarker;", vec![]).await;
    assert_eq!(
        marker,
        json!(42),
        "the page was reloaded instead of updated live"
    );
    pictures_wait(b).await;
    b.screenshot(&shot("console-overview.png")).await;

    // One app: its log lines stream in.
    b.click("tr[data-app=web] td.name a").await;
    eventually!(
        "a line of web's log in the app view",
        b.text("#log")
            .await
            .is_some_and(|t| t.contains("hello-from-web")),
        page_state(b).await
    );

    // Scale from the page: confirmation, result, a second instance.
    let field = b
        .client
        .find(Locator::Css("#scale-n"))
        .await
        .expect("scale field");
    field.clear().await.expect("clear the scale field");
    field.send_keys("2").await.expect("type 2");
    b.click("[data-action=scale]").await;
    eventually!(
        "the confirmation dialog",
        b.js("return document.querySelector('#confirm').open", vec![])
            .await
            == json!(true),
        page_state(b).await
    );
    b.click("#confirm-ok").await;
    eventually!(
        "the scale's result on the page",
        b.js(
            "return document.querySelector('#action-result').className",
            vec![]
        )
        .await
        .as_str()
        .is_some_and(|c| c.contains("ok")),
        page_state(b).await
    );
    ctl.wait_instances("web", 2);
    let manifest = fs::read_to_string(ctl.manifests.join("web.yaml")).expect("web.yaml");
    assert!(
        manifest.contains("instances: 2"),
        "scale sets spec.instances in the manifest:\n{manifest}"
    );
    eventually!(
        "two instances in the app view",
        b.js(
            "return document.querySelectorAll('tr[data-instance]').length",
            vec![]
        )
        .await
            == json!(2),
        page_state(b).await
    );

    // A rollout held half-way (the new revision never gets ready): drawn as steps. The picture
    // of it is the README's, in dark mode.
    let never = ctl.scratch().join("never");
    let readiness = format!(
        "readiness: {{exec: {{command: [test, -e, {}]}}, periodSeconds: 1}}",
        never.display()
    );
    ctl.write_manifest("web.yaml", &web(2, &["env: {COLOUR: blue}", &readiness]));
    eventually!(
        "the rollout in progress, as steps: none done, the new instance starting",
        b.js(
            "const r = document.querySelector('section.rollout');
             return !!r && !r.hidden && r.querySelectorAll('.steps li').length === 2
                 && r.querySelectorAll('.steps li.done').length === 0
                 && r.querySelectorAll('.steps li.now').length >= 1
                 && r.querySelector('[data-field=rollout]').textContent.includes('0 of 2 ready')",
            vec![]
        )
        .await
            == json!(true),
        page_state(b).await
    );
    b.cdp(
        "Emulation.setEmulatedMedia",
        json!({"features": [{"name": "prefers-color-scheme", "value": "dark"}]}),
    )
    .await;
    let background = b
        .js(
            "return getComputedStyle(document.body).backgroundColor",
            vec![],
        )
        .await;
    assert_eq!(background, json!("rgb(18, 21, 20)"), "no dark mode");
    b.screenshot(&shot("console-app.png")).await;

    // A phone's width: nothing wider than the screen.
    b.client
        .set_window_size(390, 844)
        .await
        .expect("phone size");
    for view in ["#/app/web", "#/"] {
        b.js("location.hash = arguments[0];", vec![json!(view)])
            .await;
        eventually!(
            format!("{view} fits a phone's width"),
            b.js(
                "return document.querySelector('main').childElementCount > 0
                    && document.documentElement.scrollWidth <= window.innerWidth",
                vec![]
            )
            .await
                == json!(true),
            page_state(b).await
        );
    }

    // A foreign origin on the same site (another port of 127.0.0.1, so SameSite lets the cookie
    // through): its form's POST is refused, and the app is not restarted.
    let pids = ctl.instances("web");
    let foreign = ForeignPage::serve(&format!(
        "<form method=post action='{base}/api/apps/web/restart'><button id=go>go</button></form>"
    ));
    b.client
        .goto(&foreign.url)
        .await
        .expect("open the foreign page");
    b.click("#go").await;
    eventually!(
        "the console's answer to the foreign form",
        b.text("body").await.is_some_and(|t| t.contains("error")),
        page_state(b).await
    );
    let answer = b.text("body").await.unwrap_or_default();
    let error: Value = serde_json::from_str(answer.trim())
        .unwrap_or_else(|e| panic!("the refusal should be JSON ({e}): {answer}"));
    assert!(
        error["error"]
            .as_str()
            .is_some_and(|e| e.to_lowercase().contains("origin")),
        "a foreign Origin is refused as such: {answer}"
    );
    assert_eq!(ctl.instances("web"), pids, "the foreign POST restarted web");
    drop(foreign);

    // Without the session: the page says how to log in, and the API answers 401.
    b.client.delete_all_cookies().await.expect("delete cookies");
    b.client
        .goto(&format!("{base}/"))
        .await
        .expect("open the console");
    eventually!(
        "the page without a session says how to get in",
        b.text("body")
            .await
            .is_some_and(|t| t.contains("corral console-url")),
        page_state(b).await
    );
    let status = b
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             fetch('/api/overview').then(r => done(r.status), e => done(String(e)));",
            vec![],
        )
        .await
        .expect("fetch from the page");
    assert_eq!(status, json!(401), "the API without the session");
    // A spent token does not log in twice.
    b.client.goto(&url).await.expect("reuse the login URL");
    let status = b
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             fetch('/api/session').then(r => done(r.status), e => done(String(e)));",
            vec![],
        )
        .await
        .expect("fetch from the page");
    assert_eq!(status, json!(401), "a login token works once");

    // A read-only session sees the app without its actions.
    let read_only = console_url_with(&ctl, &base, &["--read-only"]);
    b.client
        .goto(&read_only)
        .await
        .expect("open the read-only URL");
    b.client
        .goto(&format!("{base}/#/app/web"))
        .await
        .expect("open web");
    eventually!(
        "web's view without actions in a read-only session",
        b.text(".actions")
            .await
            .is_some_and(|t| t.contains("Read-only"))
            && b.text("#readonly").await.is_some()
            && b.js(
                "return document.querySelectorAll('[data-action]').length === 0
                    && !document.querySelector('#readonly').hidden",
                vec![]
            )
            .await
                == json!(true),
        page_state(b).await
    );
}

/// For the README's pictures (docs/console-*.png), `CORRAL_CONSOLE_PICTURES_WAIT=SECONDS` lets
/// the charts and sparklines fill for that long before the screenshots, with a `web` that uses
/// some CPU and memory; unset in `make test`.
fn pictures() -> Option<u64> {
    std::env::var("CORRAL_CONSOLE_PICTURES_WAIT")
        .ok()
        .and_then(|s| s.parse().ok())
}

/// With `CORRAL_CONSOLE_PICTURES_WAIT=SECS`: waits until the controller has kept SECS of
/// `web`'s chart points (asked from the page, with its session), so the pictures show them.
async fn pictures_wait(b: &Browser) {
    let Some(secs) = pictures() else {
        return;
    };
    let span = "const x = new XMLHttpRequest();
        x.open('GET', '/api/apps/web', false);
        x.send();
        const cpu = JSON.parse(x.responseText).charts.cpu;
        return cpu.length ? cpu[cpu.length - 1][0] - cpu[0][0] : 0;";
    let deadline = std::time::Instant::now() + Duration::from_secs(secs + 60);
    while b.js(span, vec![]).await.as_f64().unwrap_or(0.0) < secs as f64 {
        assert!(
            std::time::Instant::now() < deadline,
            "web's charts never spanned {secs} s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `web` for the pictures: its log line every 0.2 s, CPU and memory in slow waves.
const BUSY_WEB: &str = "import math, sys, time
i, hold = 0, []
while True:
    t = time.time()
    print(f'hello-from-web {i} GET /items/{i % 97} 200', flush=True)
    i += 1
    end = t + 0.02 + 0.03 * (1 + math.sin(t / 25))
    while time.time() < end:
        pass
    hold = [bytes(1024 * 1024) for _ in range(int(8 + 6 * math.sin(t / 40)))]
    time.sleep(0.2)
";

/// `corral console-url`'s URL, checked against the console's address.
fn console_url(ctl: &Controller, base: &str) -> String {
    console_url_with(ctl, base, &[])
}

/// `corral console-url ARGS`'s URL, checked against the console's address.
fn console_url_with(ctl: &Controller, base: &str, args: &[&str]) -> String {
    let mut argv = vec!["console-url"];
    argv.extend_from_slice(args);
    let run = ctl.corral(&argv);
    assert!(run.status.success(), "corral console-url failed: {run:?}");
    let url = run.stdout.trim().to_owned();
    assert!(
        url.starts_with(&format!("{base}/login?token=")),
        "corral console-url printed {url:?}, expected {base}/login?token=…"
    );
    url
}

/// What the page shows, for failure messages.
async fn page_state(b: &Browser) -> String {
    let url = b.client.current_url().await.map(|u| u.to_string());
    let text = b
        .client
        .execute(
            "return document.body ? document.body.innerText : ''",
            vec![],
        )
        .await
        .map(|v| v.as_str().unwrap_or_default().to_owned());
    format!(
        "--- page {url:?} ---\n{}",
        text.unwrap_or_else(|e| e.to_string())
    )
}

/// A page on another port of 127.0.0.1 (another origin, the same site), served to anyone who
/// asks until dropped.
struct ForeignPage {
    url: String,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ForeignPage {
    fn serve(body: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the foreign page");
        listener.set_nonblocking(true).expect("nonblocking");
        let url = format!("http://{}/", listener.local_addr().expect("address"));
        let stop = Arc::new(AtomicBool::new(false));
        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{body}",
            body.len()
        );
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut conn, _)) => {
                        let _ = conn.set_nonblocking(false);
                        let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
                        let mut buf = [0u8; 4096];
                        let _ = conn.read(&mut buf);
                        let _ = conn.write_all(response.as_bytes());
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        ForeignPage {
            url,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for ForeignPage {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
