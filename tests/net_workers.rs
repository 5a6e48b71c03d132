//! `corral controller --proxy-threads N`: the `tcp` and `http` ports are served by N worker
//! threads of their own (each accepting on the port, with its own keep-alive pools), and
//! traffic through all of them survives a reload.

use crate::common;

use common::load::{assert_clean, Load};
use common::web::{addr, WebApp};
use common::Controller;

/// The names of the controller's threads.
fn thread_names(pid: u32) -> Vec<String> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("/proc/PID/task")
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .map(|comm| comm.trim().to_string())
        .collect()
}

#[test]
fn tcp_and_http_ports_are_served_by_the_proxy_threads_through_a_reload() {
    let ctl = Controller::with_args(&["--proxy-threads", "3"]);
    let mut apps = Vec::new();
    for (name, mode) in [("web", "http"), ("raw", "tcp")] {
        let mut app = WebApp::new(name, mode);
        app.extra
            .push("readiness: {tcp: {}, periodSeconds: 1}".into());
        app.write(&ctl);
        apps.push(app);
    }
    ctl.start();
    let mut loads = Vec::new();
    for app in &apps {
        let first: Vec<u32> = ctl
            .wait_rolled_out(&app.name, 2, &[])
            .into_values()
            .collect();
        // More clients than threads, so that every worker accepts some. A tcp connection
        // ends with its instance: tcp clients connect per request.
        let load = match app.mode.as_str() {
            "http" => Load::keep_alive(addr(app.port), 6),
            _ => Load::per_request(addr(app.port), 6),
        };
        load.wait_ok(60);
        loads.push((app, first, load));
    }

    let mut proxies: Vec<String> = thread_names(ctl.pid())
        .into_iter()
        .filter(|name| name.starts_with("corral-proxy-"))
        .collect();
    proxies.sort();
    assert_eq!(
        proxies,
        ["corral-proxy-0", "corral-proxy-1", "corral-proxy-2"],
        "--proxy-threads 3 runs three proxy workers"
    );

    for (app, first, load) in loads {
        ctl.corral_ok(&["reload", &app.name]);
        ctl.wait_rolled_out(&app.name, 2, &first);
        let before = load.tally().ok;
        load.wait_ok(before + 60);
        assert_clean(&load.finish(), 120);
    }
}

#[test]
fn proxy_threads_out_of_range_are_refused() {
    let ctl = Controller::new();
    let manifests = ctl.scratch().join("empty");
    std::fs::create_dir(&manifests).expect("mkdir");
    let dir = manifests.to_str().expect("utf-8");
    let run = ctl.corral(&["controller", "--manifests", dir, "--proxy-threads", "0"]);
    assert!(!run.status.success(), "--proxy-threads 0 is refused");
    assert!(
        run.stderr.contains("--proxy-threads") && run.stderr.contains("1..=64"),
        "the error names the flag and its range: {}",
        run.stderr
    );
}
