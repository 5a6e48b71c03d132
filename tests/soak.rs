//! Days of uptime in minutes: apps crashing in a loop, one reloaded every few seconds under
//! load, log spam; the controller's open fds must not grow and its RSS must stay flat between
//! the early and the late restarts. `make test` runs a short version (fds and `run/` asserted
//! strictly); `make soak` runs the full one (10 000 restarts, figures printed).

use crate::common;

use std::fs;
use std::time::{Duration, Instant};

use common::smaps::Mappings;
use common::web::{addr, assert_clean, Load, WebApp};
use common::{flow, manifest, wait_for, Controller};

/// Crash-looping instances (more of them, more restarts per second).
const CRASHY: u32 = 4;
/// How long the whole soak may take before it counts as stuck.
const SOAK_LIMIT: Duration = Duration::from_secs(30 * 60);

/// The controller's footprint, each the minimum over a short burst of samples so that an
/// instance caught mid-start (its pipes and pidfd open) does not count as growth.
#[derive(Debug, Clone, Copy)]
struct Footprint {
    rss_kib: u64,
    /// The part of the RSS that is heap and stacks (the rest is mapped files: code).
    anon_kib: u64,
    fds: usize,
}

fn footprint(pid: u32) -> Footprint {
    let mut min = Footprint {
        rss_kib: u64::MAX,
        anon_kib: u64::MAX,
        fds: usize::MAX,
    };
    for _ in 0..50 {
        let status = fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
        let kib = |field: &str| -> u64 {
            status
                .lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
                .expect(field)
        };
        let (rss, anon) = (kib("VmRSS:"), kib("RssAnon:"));
        let fds = fs::read_dir(format!("/proc/{pid}/fd"))
            .expect("fds")
            .count();
        min.rss_kib = min.rss_kib.min(rss);
        min.anon_kib = min.anon_kib.min(anon);
        min.fds = min.fds.min(fds);
        std::thread::sleep(Duration::from_millis(10)); // spacing the samples, not a wait
    }
    min
}

/// Starts of the crash-looping app so far (each appends a byte to `scratch/starts`).
fn restarts(ctl: &Controller) -> u64 {
    fs::metadata(ctl.scratch().join("starts")).map_or(0, |m| m.len())
}

/// Entries of `run/` (log FIFOs, notify sockets).
fn run_files(ctl: &Controller) -> usize {
    fs::read_dir(ctl.home.join("run")).map_or(0, |d| d.count())
}

/// Starts the crash loop (and, for the full soak, the spam and reloaded apps).
fn start(ctl: &Controller, full: bool) -> Option<WebApp> {
    let starts = ctl.scratch().join("starts");
    let crash = ctl.sh(&format!(
        "printf . >> '{}'; echo starting; echo failing >&2; exit 1",
        starts.display()
    ));
    ctl.write_manifest(
        "crashy.yaml",
        &manifest(
            "crashy",
            &[
                &format!("command: {crash}"),
                &format!("instances: {CRASHY}"),
                "backoff: {initial: 10ms, max: 10ms}",
            ],
        ),
    );
    let web = full.then(|| {
        let spam = flow(&[
            "python3",
            "-c",
            "import time\nline = 'spam ' * 20\nwhile True:\n    print('\\n'.join([line] * 200), flush=True)\n    time.sleep(0.1)",
            &ctl.token,
        ]);
        ctl.write_manifest(
            "spam.yaml",
            &manifest("spam", &[&format!("command: {spam}")]),
        );
        let web = WebApp::new("web", "http");
        web.write(ctl);
        web
    });
    ctl.start();
    web
}

/// Runs until `total` restarts, measuring at `early` and at the end; reloads `web` every 3 s.
fn soak(ctl: &Controller, web: Option<&WebApp>, early: u64, total: u64) -> (Footprint, Footprint) {
    let began = Instant::now();
    let mut reloads = 0;
    let mut last_reload = Instant::now();
    let mut printed = early / 1_000;
    // Measured at rest: the crash loop stopped and no rollout in flight (a starting instance
    // holds its pipes and probes open).
    let measure = || {
        ctl.corral_ok(&["stop", "crashy"]);
        ctl.wait_until(SOAK_LIMIT, "crashy stopped, web rolled out", || {
            let web_done = web.is_none()
                || ctl
                    .app("web")
                    .is_some_and(|a| a.status == "Running" && a.instances.len() == 2);
            web_done
                && ctl.instances("crashy").is_empty()
                && ctl.app("crashy").is_some_and(|a| a.instances.is_empty())
        });
        let figures = footprint(ctl.pid());
        ctl.corral_ok(&["start", "crashy"]);
        figures
    };
    let early_figures = wait_for(SOAK_LIMIT, &format!("{early} restarts"), || {
        (restarts(ctl) >= early).then(measure)
    });
    let early_maps = Mappings::read(ctl.pid());
    let end = wait_for(SOAK_LIMIT, &format!("{total} restarts"), || {
        if web.is_some() && last_reload.elapsed() >= Duration::from_secs(3) {
            ctl.corral_ok(&["reload", "web"]);
            reloads += 1;
            last_reload = Instant::now();
        }
        let n = restarts(ctl);
        if n / 1_000 > printed {
            printed = n / 1_000;
            let now = footprint(ctl.pid());
            eprintln!(
                "soak: restart {n}: RSS {} KiB (heap and stacks {} KiB), {} fds; {}",
                now.rss_kib,
                now.anon_kib,
                now.fds,
                Mappings::read(ctl.pid())
            );
        }
        (n >= total).then(measure)
    });
    let end_maps = Mappings::read(ctl.pid());
    eprintln!("soak: at restart {early}: {early_maps}");
    eprintln!("soak: at restart {total}: {end_maps}");
    for line in end_maps.grown_since(&early_maps) {
        eprintln!("soak: grew: {line}");
    }
    eprintln!(
        "soak: {total} restarts in {:.0?}, {reloads} reloads; controller at restart {early}: \
         RSS {} KiB, {} fds; at restart {total}: RSS {} KiB, {} fds (RSS {:+} KiB, of which \
         heap and stacks {:+} KiB; fds {:+})",
        began.elapsed(),
        early_figures.rss_kib,
        early_figures.fds,
        end.rss_kib,
        end.fds,
        end.rss_kib as i64 - early_figures.rss_kib as i64,
        end.anon_kib as i64 - early_figures.anon_kib as i64,
        end.fds as i64 - early_figures.fds as i64,
    );
    (early_figures, end)
}

#[test]
fn a_crash_loop_leaks_no_fd_and_no_runtime_file() {
    let ctl = Controller::new();
    start(&ctl, false);
    let (early, end) = soak(&ctl, None, 50, 300);
    assert!(end.fds <= early.fds, "fds grew: {early:?} → {end:?}");
    // Two FIFOs per live instance at most: an exited instance's are removed.
    let files = run_files(&ctl);
    assert!(files <= 2 * CRASHY as usize, "run/ holds {files} files");
}

#[test]
#[ignore = "minutes long: run by `make soak`"]
fn ten_thousand_restarts_keep_rss_and_fds_flat() {
    let ctl = Controller::new();
    let web = start(&ctl, true).expect("web app");
    ctl.wait_status("web", "Running");
    let load = Load::per_request(addr(web.port), 2);
    load.wait_ok(10);
    let total = std::env::var("CORRAL_RESTARTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000u64);
    let (early, end) = soak(&ctl, Some(&web), 1_000, total);
    let tally = load.finish();
    eprintln!("soak: load through the reloads: {tally:?}");
    assert!(end.fds <= early.fds, "fds grew: {early:?} → {end:?}");
    assert!(
        end.rss_kib < early.rss_kib + 1024,
        "RSS grew by 1 MiB or more: {early:?} → {end:?}"
    );
    assert!(
        run_files(&ctl) <= 2 * (CRASHY as usize + 4),
        "run/ keeps FIFOs of exited instances"
    );
    assert_clean(&tally, 1);
}

#[test]
#[ignore = "about a minute: run by `make soak`"]
fn a_thousand_daemonizing_starts_leave_no_zombie() {
    let ctl = Controller::new();
    ctl.start();
    let (most, took) = common::orphans::run_crash_loop(&ctl, 1_000, Duration::from_secs(5 * 60));
    eprintln!("soak: 1 000 daemonizing starts in {took:?}, at most {most} zombie(s) at once");
    assert!(most < 40, "{most} zombies at once: orphans are not reaped");
}
