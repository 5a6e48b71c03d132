//! What a rolling update looks like from outside, in kubectl's shape: READY counts every ready
//! instance of any revision (never `0/4` while four serve), UP-TO-DATE climbs 0 → 4, and STATUS
//! is `Progressing` until the rollout completes, then `Running`.

use crate::common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use common::{corral_in, flow, manifest, wait_for, Controller, SOON};
use corral::api::AppStatus;

/// What one `corral get web -o json` showed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Sample {
    revision: String,
    ready: u32,
    desired: u32,
    updated: u32,
    available: u32,
    status: String,
    /// Live instances at another revision than the app's.
    outdated: usize,
}

impl Sample {
    fn of(a: &AppStatus) -> Self {
        Self {
            revision: a.revision.clone(),
            ready: a.ready,
            desired: a.desired,
            updated: a.updated,
            available: a.available,
            status: a.status.clone(),
            outdated: a
                .instances
                .iter()
                .filter(|i| i.pid.is_some() && i.revision != a.revision)
                .count(),
        }
    }
}

/// The app: 4 sleepers, `maxSurge: 1, maxUnavailable: 0`, each instance ready once the test
/// creates its gate file `gates/MARKER.INDEX`.
fn web(ctl: &Controller, marker: &str) -> String {
    let gates = ctl.scratch().join("gates");
    let check = flow(&[
        "sh",
        "-c",
        "test -e \"$0/$MARKER.$CORRAL_INSTANCE\"",
        gates.to_str().expect("utf-8 path"),
    ]);
    manifest(
        "web",
        &[
            &format!("command: {}", ctl.sleeper()),
            "instances: 4",
            &format!("env: {{MARKER: {marker}}}"),
            "strategy: {maxSurge: 1, maxUnavailable: 0}",
            &format!(
                "readiness: {{exec: {{command: {check}}}, periodSeconds: 1, failureThreshold: 1}}"
            ),
        ],
    )
}

#[test]
fn a_rolling_update_reads_like_kubectl_from_start_to_end() {
    let ctl = Controller::new();
    let gates = ctl.scratch().join("gates");
    std::fs::create_dir(&gates).expect("gates dir");
    let open = |marker: &str, index: u32| {
        std::fs::write(gates.join(format!("{marker}.{index}")), "").expect("open a gate");
    };
    for i in 0..4 {
        open("v1", i);
    }
    ctl.write_manifest("web.yaml", &web(&ctl, "v1"));
    ctl.start();
    let first = ctl.wait_status("web", "Running");
    assert_eq!(
        (first.ready, first.updated, first.available),
        (4, 4, 4),
        "{first:?}"
    );

    // Every `get` from the edit until after the end.
    let polling = Arc::new(AtomicBool::new(true));
    let samples: Arc<Mutex<Vec<Sample>>> = Arc::default();
    let poller = {
        let (home, polling, samples) = (ctl.home.clone(), polling.clone(), samples.clone());
        std::thread::spawn(move || -> Result<(), String> {
            while polling.load(Ordering::Relaxed) {
                let run = corral_in(&home, &["get", "web", "-o", "json"]);
                let app: AppStatus =
                    serde_json::from_str(&run.stdout).map_err(|e| format!("{e}: {run:?}"))?;
                samples
                    .lock()
                    .map_err(|e| e.to_string())?
                    .push(Sample::of(&app));
            }
            Ok(())
        })
    };

    ctl.write_manifest("web.yaml", &web(&ctl, "v2"));
    // Walk the rollout: each time a new instance waits for its gate, look, then open it.
    let mut opened = BTreeSet::new();
    while opened.len() < 4 {
        let (app, index) = wait_for(SOON, "a new instance waits for its gate", || {
            let a = ctl.app("web").filter(|a| a.revision != first.revision)?;
            let waiting = a.instances.iter().find(|i| {
                i.revision == a.revision
                    && i.pid.is_some()
                    && !i.ready
                    && !opened.contains(&i.index)
            })?;
            let index = waiting.index;
            Some((a, index))
        });
        let k = opened.len() as u32;
        let at = format!("waiting for new instance {index} ({k} new ready): {app:?}");
        assert_eq!(app.status, "Progressing", "{at}");
        assert_eq!(
            (app.ready, app.desired),
            (4, 4),
            "every old one serves: {at}"
        );
        assert_eq!(app.updated, k + 1, "{at}");
        assert_eq!(app.available, 4, "{at}");
        if k == 0 {
            // The table and `rollout status` read the same.
            let table = ctl.corral(&["get"]).stdout;
            let row: Vec<&str> = table
                .lines()
                .find(|l| l.starts_with("web "))
                .unwrap_or_default()
                .split_whitespace()
                .collect();
            assert_eq!(row[..5], ["web", "4/4", "1", "4", "Progressing"], "{table}");
            let status = ctl.corral(&["rollout", "status", "web"]).stdout;
            assert_eq!(
                status,
                "Waiting for app \"web\" rollout to finish: 1 out of 4 new instances have been updated...\n"
            );
        }
        open("v2", index);
        opened.insert(index);
    }
    let done = ctl.wait_status("web", "Running");
    let run = ctl.corral(&["rollout", "status", "web", "-w"]);
    assert!(run.stdout.contains("successfully rolled out"), "{run:?}");
    // A few more looks at the settled app.
    let saw_the_end = || {
        let samples = samples.lock().expect("samples");
        let end = samples
            .iter()
            .filter(|s| s.revision == done.revision && s.status == "Running")
            .count();
        (end >= 3).then_some(())
    };
    wait_for(SOON, "the poller saw the end", saw_the_end);
    polling.store(false, Ordering::Relaxed);
    let polled = poller.join().expect("poller thread");
    assert_eq!(polled, Ok(()), "every get answered");
    let samples = samples.lock().expect("samples").clone();

    assert_eq!(
        (done.ready, done.updated, done.available),
        (4, 4, 4),
        "{done:?}"
    );
    let new: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.revision == done.revision)
        .collect();
    assert!(new.len() >= 8, "the poller kept up: {samples:#?}");
    for s in &new {
        assert!(
            (4..=5).contains(&s.ready) && (4..=5).contains(&s.available) && s.desired == 4,
            "READY and AVAILABLE stay within 4..=5 of 4 (maxSurge 1, maxUnavailable 0): {s:?}"
        );
    }
    let updated: Vec<u32> = new.iter().map(|s| s.updated).collect();
    assert!(
        updated.windows(2).all(|w| w[0] <= w[1]),
        "UP-TO-DATE only climbs: {updated:?}"
    );
    assert!(updated[0] <= 1 && updated.last() == Some(&4), "{updated:?}");
    let running = new
        .iter()
        .position(|s| s.status == "Running")
        .expect("Running at the end");
    assert!(running > 0, "Progressing first: {new:#?}");
    for s in &new[..running] {
        assert_eq!(
            s.status, "Progressing",
            "until the rollout completes: {new:#?}"
        );
    }
    for s in &new[running..] {
        assert_eq!(
            (s.status.as_str(), s.ready, s.updated, s.outdated),
            ("Running", 4, 4, 0),
            "Running once complete, and only then: {new:#?}"
        );
    }
}
