//! Tests of [`Rotation`]: least load, drain, and routing by revision.

use hyper::header::{HeaderMap, HeaderValue};

use super::*;

fn backend(id: u64, revision: &str) -> Backend {
    Backend {
        id,
        ports: vec![("http".into(), 1000 + id as u16)],
        revision: revision.into(),
    }
}

fn rotation(ids: &[u64]) -> Rotation {
    let rotation = Rotation::default();
    rotation.set(ids.iter().map(|&id| backend(id, "stable")).collect());
    rotation
}

#[test]
fn picks_the_least_loaded_and_round_robins_ties() {
    let rotation = rotation(&[1, 2, 3]);
    let held: Vec<Lease> = (0..3)
        .map(|_| {
            rotation
                .pick("http", &[], &mut Choice::any())
                .expect("pick")
        })
        .collect();
    let mut ids: Vec<u64> = held.iter().map(|l| l.backend.id).collect();
    ids.sort();
    assert_eq!(ids, [1, 2, 3], "one each while all are equally loaded");
    let freed = held.iter().position(|l| l.backend.id == 2).expect("2");
    let mut held = held;
    held.remove(freed);
    let next = rotation
        .pick("http", &[], &mut Choice::any())
        .expect("pick");
    assert_eq!((next.backend.id, next.port), (2, 1002));
    assert!(
        rotation.pick("other", &[], &mut Choice::any()).is_none(),
        "no backend serves that entry"
    );
    assert!(
        rotation
            .pick("http", &[1, 2, 3], &mut Choice::any())
            .is_none(),
        "all tried"
    );
}

#[test]
fn set_keeps_the_load_of_backends_that_stay() {
    let rotation = rotation(&[1, 2]);
    let _lease = rotation
        .pick("http", &[2], &mut Choice::any())
        .expect("pick 1");
    rotation.set(vec![backend(1, "stable"), backend(3, "stable")]);
    assert_eq!(rotation.loads(), [(1, 1), (3, 0)]);
}

#[tokio::test]
async fn drain_waits_for_leases_and_takes_the_backend_out() {
    let rotation = rotation(&[1, 2]);
    let lease = rotation
        .pick("http", &[2], &mut Choice::any())
        .expect("pick 1");
    let drained = rotation.drain(1);
    assert_eq!(rotation.loads(), [(2, 0)]);
    for _ in 0..4 {
        assert_eq!(
            rotation
                .pick("http", &[], &mut Choice::any())
                .expect("pick")
                .backend
                .id,
            2
        );
    }
    tokio::pin!(drained);
    assert!(futures::poll!(drained.as_mut()).is_pending());
    drop(lease);
    drained.await;
    rotation.drain(7).await; // unknown: at once
}

/// Ids 1–3 run "stable", 10–11 "canary"; a route at `weight` with the canary header.
fn canary_rotation(weight: u8) -> Rotation {
    let rotation = Rotation::default();
    let mut backends: Vec<Backend> = [1, 2, 3].map(|id| backend(id, "stable")).into();
    backends.extend([10, 11].map(|id| backend(id, "canary")));
    rotation.set(backends);
    rotation.set_canary(Some(CanaryRoute {
        revision: "canary".into(),
        weight,
        header: Some(("X-Corral-Canary".into(), "always".into())),
    }));
    rotation
}

/// Picks `n` times as http requests without headers; the ids picked.
fn picks(rotation: &Rotation, n: usize, headers: &HeaderMap) -> Vec<u64> {
    (0..n)
        .map(|_| {
            let lease = rotation.pick("http", &[], &mut Choice::request(headers));
            lease.expect("pick").backend.id
        })
        .collect()
}

#[test]
fn a_canary_route_sends_exactly_its_weight_and_balances_within_each_group() {
    let rotation = canary_rotation(10);
    let ids = picks(&rotation, 1000, &HeaderMap::new());
    for hundred in ids.chunks(100) {
        assert_eq!(
            hundred.iter().filter(|&&id| id >= 10).count(),
            10,
            "{hundred:?}"
        );
    }
    let count = |id| ids.iter().filter(|&&i| i == id).count();
    assert_eq!(
        (count(10), count(11)),
        (50, 50),
        "round-robin within the canary"
    );
    assert_eq!(
        [count(1), count(2), count(3)],
        [300; 3],
        "and within stable"
    );
    let zero = canary_rotation(0);
    assert!(picks(&zero, 300, &HeaderMap::new())
        .iter()
        .all(|&id| id < 10));
    let full = canary_rotation(100);
    assert!(picks(&full, 300, &HeaderMap::new())
        .iter()
        .all(|&id| id >= 10));
}

#[test]
fn the_canary_header_picks_the_canary_at_weight_zero() {
    let rotation = canary_rotation(0);
    let mut headers = HeaderMap::new();
    headers.insert("x-corral-canary", HeaderValue::from_static("always"));
    assert!(picks(&rotation, 20, &headers).iter().all(|&id| id >= 10));
    assert!(Choice::any().group == Some(Group::Any));
    let tcp: Vec<u64> = (0..50)
        .map(|_| {
            rotation
                .pick("http", &[], &mut Choice::any())
                .expect("pick")
                .backend
                .id
        })
        .collect();
    assert!(
        tcp.contains(&10) && tcp.contains(&1),
        "tcp: least load over all: {tcp:?}"
    );
}

#[test]
fn a_group_with_no_backend_left_falls_back_to_the_other() {
    let rotation = canary_rotation(100);
    let headers = HeaderMap::new();
    let mut choice = Choice::request(&headers);
    let first = rotation.pick("http", &[], &mut choice).expect("pick");
    assert!(first.backend.id >= 10);
    // Its retry, both canary backends tried: a stable one, in the same decided group.
    let retry = rotation
        .pick("http", &[10, 11], &mut choice)
        .expect("retry");
    assert!(retry.backend.id < 10);
    assert_eq!(choice.group, Some(Group::Canary));
    // No canary backend in rotation at all: the stable ones serve.
    rotation.set([1, 2].map(|id| backend(id, "stable")).into());
    assert!(picks(&rotation, 10, &HeaderMap::new())
        .iter()
        .all(|&id| id < 10));
    let stable_gone = canary_rotation(0);
    stable_gone.set(vec![backend(10, "canary")]);
    assert_eq!(picks(&stable_gone, 5, &HeaderMap::new()), [10; 5]);
}

#[test]
fn without_a_route_picks_are_as_before_and_take_no_turn() {
    let rotation = canary_rotation(50);
    rotation.set_canary(None);
    let headers = HeaderMap::new();
    let mut choice = Choice::request(&headers);
    let ids: Vec<u64> = (0..50)
        .map(|_| {
            rotation
                .pick("http", &[], &mut choice)
                .expect("pick")
                .backend
                .id
        })
        .collect();
    assert_eq!(choice.group, None, "no group decided without a route");
    for id in [1, 2, 3, 10, 11] {
        assert_eq!(ids.iter().filter(|&&i| i == id).count(), 10, "{ids:?}");
    }
}

#[test]
fn a_lease_reaches_the_counters_of_its_backend_s_revision() {
    let rotation = canary_rotation(10);
    let headers = HeaderMap::new();
    for _ in 0..100 {
        let lease = rotation.pick("http", &[], &mut Choice::request(&headers));
        lease.expect("pick").backend.revision.attempt();
    }
    let stats = rotation.revision_stats();
    assert_eq!(
        (stats["canary"].requests, stats["stable"].requests),
        (10, 90)
    );
    // An instance listed again under another revision is a new backend, counted there.
    rotation.set(vec![backend(1, "canary")]);
    let lease = rotation
        .pick("http", &[], &mut Choice::any())
        .expect("pick");
    lease.backend.revision.failed();
    assert_eq!(rotation.revision_stats()["canary"].failed_attempts, 1);
}

/// The cost of routing, per pick: run with `--ignored --nocapture` (in `--release` for figures
/// worth quoting). Single thread, then two threads picking at once (the shared counters).
#[test]
#[ignore = "a measurement, not a check"]
fn pick_cost() {
    use std::time::Instant;
    const N: u32 = 2_000_000;
    let mut headers = HeaderMap::new();
    for (name, value) in [
        ("host", "app.test"),
        ("user-agent", "wrk"),
        ("accept", "*/*"),
        ("x-forwarded-for", "127.0.0.1"),
        ("x-forwarded-proto", "http"),
        ("forwarded", "for=127.0.0.1;proto=http"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    let time = |rotation: &Rotation, headers: &HeaderMap, threads: u32| -> f64 {
        let started = Instant::now();
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| {
                    for _ in 0..N {
                        let lease = rotation.pick("http", &[], &mut Choice::request(headers));
                        std::hint::black_box(lease);
                    }
                });
            }
        });
        started.elapsed().as_nanos() as f64 / f64::from(N)
    };
    let counters = RevisionCounters::default();
    let counting = |threads: u32| -> f64 {
        let started = Instant::now();
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| {
                    for _ in 0..N {
                        let received = Instant::now();
                        counters.attempt();
                        counters.responded(200, received.elapsed());
                    }
                });
            }
        });
        let per_thread = started.elapsed().as_nanos() as f64 / f64::from(N);
        // `Instant::now()` stands in for the `received` stamp the proxy takes anyway.
        per_thread - clock_cost()
    };
    for threads in [1, 2] {
        let plain = canary_rotation(10);
        plain.set_canary(None);
        let canary = canary_rotation(10);
        let mut tester = headers.clone();
        tester.insert("x-corral-canary", HeaderValue::from_static("always"));
        // Warm up, then the figures.
        let _ = time(&plain, &headers, threads);
        println!(
            "{threads} thread(s), 5 backends: no route {:.1} ns/pick; canary weight 10 {:.1}; \
             canary header {:.1}; revision counters per request {:.1}",
            time(&plain, &headers, threads),
            time(&canary, &headers, threads),
            time(&canary, &tester, threads),
            counting(threads),
        );
    }
    fn clock_cost() -> f64 {
        let started = Instant::now();
        for _ in 0..N {
            std::hint::black_box(Instant::now());
        }
        started.elapsed().as_nanos() as f64 / f64::from(N)
    }
}
