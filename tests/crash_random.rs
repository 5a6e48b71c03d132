//! SIGKILL the controller at random moments (starting instances, mid-rollout, mid-scale-down,
//! mid-memory-replacement, while writing `instances.json`) and check after every restart:
//! exactly the desired instances, on the newest revision, each index once, no orphan process,
//! the listen ports answering. `CORRAL_KILLS` sets the count (`make soak` runs many),
//! `CORRAL_SEED` replays a run.
//!
//! A third app runs a Canary strategy (`canary.rs`): its rounds start a canary, promote it in
//! full, abort it, retry it or scale the app; after each restart the run is at the same step
//! with the same weight, and a sampler watching its processes the whole time sees never both
//! revisions at full size and never none.

mod canary;

use crate::common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::web::{addr, get, WebApp};
use common::{env_map, flow, manifest, wait_for, Controller};

/// Kills in `make test`.
const KILLS: u32 = 12;
/// How long after a restart the invariants may take to hold (node starts slowly on a busy CI).
const CONVERGE: Duration = Duration::from_secs(30);
/// A python3 program that leaks 2 MiB every 100 ms.
const LEAKER: &str =
    "import time\nb = []\nwhile True:\n    b.append(bytearray(2 << 20))\n    time.sleep(0.1)";

/// xorshift64*: a seeded stream of random numbers, to replay a failing run.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

fn env_number(key: &str) -> Option<u64> {
    std::env::var(key).ok().and_then(|v| v.parse().ok())
}

/// The invariants, or what breaks them.
fn check(
    ctl: &Controller,
    apps: &[&WebApp],
    (canary_app, model): (&WebApp, &canary::Rollout),
) -> Result<(), String> {
    let list = ctl.get();
    let mut expected_procs = canary::check(ctl, &list, canary_app, model)?;
    for app in apps {
        let status = list
            .apps
            .iter()
            .find(|a| a.name == app.name)
            .ok_or(format!("{} is not listed", app.name))?;
        let procs = ctl.instances(&app.name);
        let mut indexes: Vec<u32> = procs.values().copied().collect();
        indexes.sort_unstable();
        let want: Vec<u32> = (0..app.instances).collect();
        if indexes != want {
            return Err(format!("{}: indexes {indexes:?}, want {want:?}", app.name));
        }
        for pid in procs.keys() {
            let revision = env_map(*pid).remove("CORRAL_REVISION").unwrap_or_default();
            if revision != status.revision {
                return Err(format!(
                    "{}: pid {pid} runs {revision}, not {}",
                    app.name, status.revision
                ));
            }
        }
        let mut listed: Vec<u32> = status.instances.iter().filter_map(|i| i.pid).collect();
        listed.sort_unstable();
        if listed != procs.keys().copied().collect::<Vec<_>>() || status.ready != app.instances {
            return Err(format!(
                "{}: get lists {listed:?} ({} ready)",
                app.name, status.ready
            ));
        }
        let answer = get(addr(app.port), "/").map_err(|e| format!("{}: {e}", app.name))?;
        if answer.status != 200 {
            return Err(format!(
                "{}: port {} said {}",
                app.name, app.port, answer.status
            ));
        }
        expected_procs += procs.len();
    }
    let leak = ctl.instances("leak");
    let leak_revision = ctl.app("leak").map(|a| a.revision).unwrap_or_default();
    if leak.len() != 1
        || leak
            .keys()
            .any(|p| env_map(*p).get("CORRAL_REVISION") != Some(&leak_revision))
    {
        return Err(format!("leak: {leak:?}, want one at {leak_revision}"));
    }
    let all = ctl.processes();
    if all.len() != expected_procs + 1 {
        return Err(format!("orphans: the test's processes are {all:?}"));
    }
    Ok(())
}

/// One round of the canary app: an action its state allows, done (the manifest written or the
/// CLI run); returns what it was. `model` becomes the state it converges to.
fn canary_round(
    ctl: &Controller,
    rng: &mut Rng,
    app: &mut WebApp,
    model: &mut canary::Rollout,
    round: u32,
) -> String {
    use canary::Rollout::{Aborted, Holding, Settled};
    let verb = |verb: &str| {
        ctl.corral_ok(&["rollout", verb, "canary"]);
    };
    let marker = format!("r{round}");
    let choice = rng.below(4);
    let what = match (model.clone(), choice) {
        (_, 0) => {
            app.instances = 2 + rng.below(3) as u32;
            app.write(ctl);
            return format!("scale canary to {}", app.instances);
        }
        (Settled(stable) | Holding { stable, .. } | Aborted { stable, .. }, 1) => {
            app.set_env("MARKER", &marker);
            app.write(ctl);
            *model = Holding {
                stable,
                canary: marker,
            };
            "a new revision of canary"
        }
        (Settled(stable), _) => {
            app.set_env("MARKER", &marker);
            app.write(ctl);
            *model = Holding {
                stable,
                canary: marker,
            };
            "a new revision of canary"
        }
        (Holding { canary, .. }, 2) => {
            ctl.corral_ok(&["rollout", "promote", "--full", "canary"]);
            *model = Settled(canary);
            "rollout promote --full canary"
        }
        (Holding { stable, canary }, _) => {
            verb("abort");
            *model = Aborted { stable, canary };
            "rollout abort canary"
        }
        (Aborted { stable, canary }, _) => {
            verb("retry");
            *model = Holding { stable, canary };
            "rollout retry canary"
        }
    };
    what.into()
}

#[test]
fn sigkill_at_random_moments_leaves_exactly_the_desired_instances() {
    let kills = env_number("CORRAL_KILLS").unwrap_or(u64::from(KILLS));
    let seed = env_number("CORRAL_SEED").unwrap_or_else(common::now_ms);
    eprintln!("crash_random: seed {seed} (replay with CORRAL_SEED={seed}), {kills} kills");
    let mut rng = Rng(seed | 1);
    let ctl = Controller::with_args(&["--sample-interval", "200ms"]);
    let mut web = WebApp::new("web", "http");
    let mut api = WebApp::new("api", "tcp");
    for app in [&mut web, &mut api] {
        app.extra = vec!["stop: {timeout: 2s}".into()];
        app.write(&ctl);
    }
    let mut cat = canary::app();
    cat.write(&ctl);
    let mut model = canary::Rollout::Settled("v1".into());
    let leaker = flow(&["python3", "-c", LEAKER, &ctl.token]);
    ctl.write_manifest(
        "leak.yaml",
        &manifest(
            "leak",
            &[
                &format!("command: {leaker}"),
                "memory: {limit: 60Mi}",
                "backoff: {initial: 100ms, max: 500ms}",
            ],
        ),
    );
    ctl.start();
    let converge = |web: &WebApp, api: &WebApp, cat: &WebApp, model: &canary::Rollout| {
        let mut last = String::new();
        let apps = [web, api];
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            wait_for(CONVERGE, "the invariants hold", || {
                match check(&ctl, &apps, (cat, model)) {
                    Ok(()) => Some(()),
                    Err(e) => {
                        last = e;
                        None
                    }
                }
            })
        }));
        outcome.map_err(|_| last)
    };
    if let Err(e) = converge(&web, &api, &cat, &model) {
        panic!("seed {seed}: the first start did not converge: {e}");
    }
    let sampler = canary::Sampler::start(&ctl.token, &cat.name, cat.instances);
    for round in 0..kills as u32 {
        sampler.round.store(round, Ordering::Relaxed);
        let what = match rng.below(4) {
            0 | 1 => {
                let before = cat.instances;
                let what = canary_round(&ctl, &mut rng, &mut cat, &mut model, round);
                sampler
                    .full
                    .store(before.max(cat.instances), Ordering::Relaxed);
                what
            }
            pick => {
                let app = if pick == 2 { &mut web } else { &mut api };
                let what = match rng.below(3) {
                    0 => {
                        app.instances = 1 + rng.below(3) as u32;
                        format!("scale {} to {}", app.name, app.instances)
                    }
                    _ => {
                        app.set_env("MARKER", &format!("r{round}"));
                        format!("roll {} out", app.name)
                    }
                };
                app.write(&ctl);
                what
            }
        };
        // A third of the kills come within 30 ms: the windows right after a write or a reply.
        let delay = match rng.below(3) {
            0 => Duration::from_millis(rng.below(30)),
            _ => Duration::from_millis(rng.below(800)),
        };
        eprintln!("crash_random: round {round}: {what}, kill after {delay:?}");
        std::thread::sleep(delay); // the random moment of the kill, not a wait for a condition
        ctl.crash();
        ctl.start();
        let converged = converge(&web, &api, &cat, &model);
        sampler.full.store(cat.instances, Ordering::Relaxed);
        let seen = sampler.violations();
        if let Err(last) = converged {
            panic!(
                "seed {seed}, round {round} ({what}, killed after {delay:?}): {last}\n\
                 the sampler saw: {seen:?}\nreplay with CORRAL_SEED={seed} CORRAL_KILLS={kills}"
            );
        }
        assert!(
            seen.is_empty(),
            "seed {seed}, round {round} ({what}, killed after {delay:?}): the canary app ran \
             both revisions in full or none: {seen:?}\n\
             replay with CORRAL_SEED={seed} CORRAL_KILLS={kills}"
        );
    }
    let samples = sampler.finish();
    eprintln!("crash_random: {kills} kills survived (seed {seed}), {samples} samples of canary");
}
