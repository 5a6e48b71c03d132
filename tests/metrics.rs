//! `/metrics`: scraped from the real controller over `--metrics-addr` and the
//! control socket, read with a Prometheus text parser, while apps run, crash, reload under
//! load and go away.

use crate::common;

use std::net::TcpListener;

use common::scrape::{scrape_socket, scrape_tcp, Metrics};
use common::web::{addr, assert_clean, free_port, Load, WebApp, ROLLOUT};
use common::{manifest, wait_for, Controller, SOON};

const UP: &str = "corral_instance_up";
const REQUESTS: &str = "corral_http_requests_total";
const IN_PROGRESS: &str = "corral_app_rollout_in_progress";
const READY: &str = "corral_app_ready_instances";

#[test]
fn a_reload_under_load_moves_the_metrics_as_it_should() {
    let port = free_port();
    let ctl = Controller::with_args(&["--metrics-addr", &format!("127.0.0.1:{port}")]);
    let mut app = WebApp::new("web", "http");
    // Each new instance takes over a second to get ready: the rollout is long enough to see.
    app.set_env("READY_AFTER_MS", "1200");
    app.extra
        .push("readiness: {http: {path: /healthz}, periodSeconds: 1}".into());
    app.write(&ctl);
    ctl.start();
    let old: Vec<u32> = ctl.wait_rolled_out("web", 2, &[]).into_values().collect();
    let old_rev = ctl.app("web").expect("listed").revision;
    let scrape = || scrape_tcp(addr(port));
    let web = [("app", "web")];

    let before = wait_for(
        SOON,
        "2 ready instances, no rollout, in the metrics",
        || {
            let m = scrape();
            let settled =
                m.value(READY, &web) == Some(2.0) && m.value(IN_PROGRESS, &web) == Some(0.0);
            settled.then_some(m)
        },
    );
    assert_eq!(
        before.label_values(UP, &web, "revision"),
        std::slice::from_ref(&old_rev)
    );
    assert_eq!(before.sum(UP, &web), 2.0);
    assert_eq!(
        before.value("corral_app_desired_instances", &web),
        Some(2.0)
    );
    let reconciles = |m: &Metrics| m.value("corral_reconciles_total", &[]).expect("reconciles");
    let reconciles_before = reconciles(&before);

    let load = Load::per_request(addr(app.port), 2);
    load.wait_ok(40);
    let ok_2xx = [("app", "web"), ("code_class", "2xx")];
    assert!(
        scrape().sum(REQUESTS, &ok_2xx) >= 40.0,
        "requests are counted live"
    );

    ctl.corral_ok(&["reload", "web"]);
    let new_rev = format!("{old_rev}.1");
    let during = wait_for(ROLLOUT, "the reload in progress in the metrics", || {
        let m = scrape();
        (m.value(IN_PROGRESS, &web) == Some(1.0)).then_some(m)
    });
    let revisions = during.label_values(UP, &web, "revision");
    assert!(
        revisions.contains(&old_rev),
        "old instances serve until replaced: {revisions:?}"
    );
    ctl.wait_rolled_out("web", 2, &old);
    let after = wait_for(SOON, "the reload done in the metrics", || {
        let m = scrape();
        let done = m.value(IN_PROGRESS, &web) == Some(0.0)
            && m.value(READY, &web) == Some(2.0)
            && m.label_values(UP, &web, "revision") == [new_rev.clone()];
        done.then_some(m)
    });
    let restarts = "corral_instance_restarts_total";
    let new = [("app", "web"), ("revision", new_rev.as_str())];
    assert_eq!(
        after.samples(restarts, &new).len(),
        2,
        "restarts follow the new revision"
    );
    assert_eq!(after.sum(restarts, &web), 0.0, "a reload is not a restart");
    let reloading = [("reason", "Reloading"), ("type", "Normal")];
    assert_eq!(after.value("corral_events_total", &reloading), Some(1.0));
    assert!(reconciles(&after) > reconciles_before);

    load.wait_ok(20);
    let tally = load.finish();
    assert_clean(&tally, 80);
    let m = scrape();
    assert_eq!(
        m.sum(REQUESTS, &ok_2xx),
        tally.ok as f64,
        "one 2xx per response seen"
    );
    for class in ["1xx", "3xx", "4xx", "5xx"] {
        let labels = [("app", "web"), ("code_class", class)];
        assert_eq!(m.value(REQUESTS, &labels), Some(0.0), "{class}");
    }
    let count = "corral_http_request_duration_seconds_count";
    assert_eq!(
        m.value(count, &web),
        Some(tally.ok as f64),
        "one observation per request"
    );
    let connections = m.value("corral_listener_connections_total", &web);
    assert_eq!(connections, Some(tally.connects as f64));
    assert!(m.value("corral_listener_retries_total", &web).is_some());
    // Usage of the new instances comes with the next samples (every second).
    wait_for(SOON, "CPU and memory of the new instances", || {
        let m = scrape();
        let rss = m.samples("corral_instance_resident_memory_bytes", &new);
        let cpu = m.samples("corral_instance_cpu_seconds_total", &new);
        (rss.len() == 2
            && cpu.len() == 2
            && m.sum("corral_instance_resident_memory_bytes", &new) > 0.0)
            .then_some(())
    });
}

#[test]
fn the_control_socket_serves_metrics_and_series_go_with_their_instances() {
    let ctl = Controller::new();
    let idle = manifest(
        "idle",
        &[
            &format!("command: {}", ctl.sleeper()),
            "instances: 2",
            "memory: {limit: 64Mi}",
        ],
    );
    ctl.write_manifest("idle.yaml", &idle);
    let crash = manifest(
        "crash",
        &[
            &format!("command: {}", ctl.sh("exit 3")),
            "backoff: {initial: 1m, max: 1m}",
        ],
    );
    ctl.write_manifest("crash.yaml", &crash);
    ctl.start();
    let idle = [("app", "idle")];
    let crash = [("app", "crash"), ("index", "0")];
    let m = wait_for(
        SOON,
        "idle ready and crash backing off, in the metrics",
        || {
            let m = scrape_socket(&ctl.home);
            let settled = m.sum("corral_instance_ready", &idle) == 2.0
                && m.value(UP, &crash) == Some(0.0)
                && m.samples("corral_instance_resident_memory_bytes", &idle)
                    .len()
                    == 2;
            settled.then_some(m)
        },
    );
    assert_eq!(m.sum(UP, &idle), 2.0);
    assert_eq!(m.value("corral_instance_ready", &crash), Some(0.0));
    let limit = m.value("corral_app_memory_limit_bytes", &idle);
    assert_eq!(limit, Some(64.0 * 1024.0 * 1024.0));
    assert_eq!(
        m.value("corral_app_memory_limit_bytes", &[("app", "crash")]),
        None
    );
    assert_eq!(
        m.samples("corral_instance_cpu_seconds_total", &idle).len(),
        2
    );
    let exited = [("reason", "Exited"), ("type", "Warning")];
    assert!(m.value("corral_events_total", &exited).unwrap_or(0.0) >= 1.0);
    assert_eq!(m.value("corral_app_manifest_error", &idle), Some(0.0));
    let version = [("version", env!("CARGO_PKG_VERSION"))];
    assert_eq!(m.value("corral_build_info", &version), Some(1.0));

    ctl.remove_manifest("idle.yaml");
    wait_for(SOON, "idle's series gone from the metrics", || {
        let m = scrape_socket(&ctl.home);
        let gone = m.samples(UP, &idle).is_empty()
            && m.samples("corral_app_desired_instances", &idle).is_empty()
            && m.samples("corral_instance_resident_memory_bytes", &idle)
                .is_empty();
        gone.then_some(())
    });
}

#[test]
fn a_bad_or_busy_metrics_addr_is_refused_at_start() {
    let ctl = Controller::new();
    let manifests = ctl.manifests.to_str().expect("utf-8 path");
    let controller = |addr: &str| {
        ctl.corral(&[
            "controller",
            "--manifests",
            manifests,
            "--metrics-addr",
            addr,
        ])
    };
    let run = controller("localhost:9100");
    assert!(!run.status.success(), "{run:?}");
    assert!(run.stderr.contains("--metrics-addr"), "{}", run.stderr);
    assert!(
        run.stderr.contains("127.0.0.1:9100"),
        "says how to write it: {}",
        run.stderr
    );

    let busy = TcpListener::bind("127.0.0.1:0").expect("bind");
    let taken = busy.local_addr().expect("addr").to_string();
    let run = controller(&taken);
    assert!(!run.status.success(), "{run:?}");
    let said = format!("cannot listen on --metrics-addr {taken}");
    assert!(run.stderr.contains(&said), "{}", run.stderr);
    assert!(
        !ctl.home.join("corral.sock").exists(),
        "nothing was left behind"
    );
}
