use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;

use super::decide::{decide, run_suffix, Concurrency, Decision, Memory, Situation};
use super::*;

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn sched(expr: &str, tz: &str) -> Schedule {
    Schedule {
        expr: CronExpr::parse(expr).unwrap(),
        tz: zone(tz).unwrap(),
    }
}

fn err(expr: &str) -> String {
    CronExpr::parse(expr).unwrap_err().to_string()
}

#[test]
fn five_fields_fire_on_the_minute() {
    let s = sched("0 3 * * *", "UTC");
    assert_eq!(
        s.next_after(ts("2026-12-04T22:47:51Z")),
        Some(ts("2026-12-05T03:00:00Z"))
    );
    assert!(!s.expr.has_seconds());
}

#[test]
fn six_fields_have_seconds_first() {
    let s = sched("*/2 * * * * *", "UTC");
    assert!(s.expr.has_seconds());
    assert_eq!(
        s.next_after(ts("2026-12-04T22:47:51Z")),
        Some(ts("2026-12-04T22:47:52Z"))
    );
    assert_eq!(
        s.next_after(ts("2026-12-04T22:47:52Z")),
        Some(ts("2026-12-04T22:47:54Z"))
    );
}

#[test]
fn macros_are_the_usual_expressions() {
    let from = ts("2026-12-04T22:47:51Z");
    for (m, want) in [
        ("@yearly", "2027-01-01T00:00:00Z"),
        ("@annually", "2027-01-01T00:00:00Z"),
        ("@monthly", "2027-01-01T00:00:00Z"),
        ("@weekly", "2026-12-06T00:00:00Z"), // a Sunday
        ("@daily", "2026-12-05T00:00:00Z"),
        ("@midnight", "2026-12-05T00:00:00Z"),
        ("@hourly", "2026-12-04T23:00:00Z"),
        ("@DAILY", "2026-12-05T00:00:00Z"),
    ] {
        assert_eq!(sched(m, "UTC").next_after(from), Some(ts(want)), "{m}");
    }
    assert!(err("@reboot").contains("unknown macro `@reboot`; use one of @yearly"));
}

#[test]
fn time_zones_move_the_fire_time() {
    let s = sched("0 3 * * *", "Europe/Paris");
    // 03:00 in Paris in December is 02:00 UTC.
    assert_eq!(
        s.next_after(ts("2026-12-04T22:47:51Z")),
        Some(ts("2026-12-05T02:00:00Z"))
    );
    assert_eq!(s.zone_name(), "Europe/Paris");
}

#[test]
fn a_time_skipped_by_dst_is_not_run_twice_or_lost_forever() {
    // 02:30 does not exist in Paris on 2027-03-28; croner runs it at the jump.
    let s = sched("30 2 * * *", "Europe/Paris");
    let a = s.next_after(ts("2027-03-27T12:00:00Z")).unwrap();
    let b = s.next_after(a).unwrap();
    assert!(a < b && b.duration_since(a) >= SignedDuration::from_hours(20));
}

#[test]
fn errors_name_the_field_and_its_range() {
    assert_eq!(err("0 25 * * *"), "field 2 (hour): `25` is out of 0-23");
    assert_eq!(err("0 0 25 * * *"), "field 3 (hour): `25` is out of 0-23");
    assert_eq!(err("61 * * * * *"), "field 1 (second): `61` is out of 0-59");
    assert_eq!(
        err("* * 0 * *"),
        "field 3 (day of month): `0` is out of 1-31"
    );
    assert_eq!(
        err("* * * 13 *"),
        "field 4 (month): `13` is out of 1-12 or JAN-DEC"
    );
    let e = err("* * * * MOO");
    assert!(e.starts_with("field 5 (day of week): `MOO`: "), "{e}");
    let e = err("0/10 * * * *");
    assert!(e.starts_with("field 1 (minute): `0/10`: "), "{e}");
    assert!(e.contains("*/10"), "{e}");
    assert!(err("* * * *").starts_with("has 4 fields; write 5"));
    assert!(err("* * * * * * *").starts_with("has 7 fields"));
    assert!(err("  ").starts_with("a schedule is empty"));
}

#[test]
fn unknown_zones_suggest_the_closest_name() {
    let e = zone("Europe/Pariss").unwrap_err().to_string();
    assert_eq!(
        e,
        "unknown time zone `Europe/Pariss`; did you mean `Europe/Paris`?"
    );
    let e = zone("Nowhere/Atall-Zzzzz").unwrap_err().to_string();
    assert!(e.contains("write an IANA name"), "{e}");
    assert!(zone("UTC").is_ok());
    assert!(zone("America/New_York").is_ok());
}

#[test]
fn run_names_use_minutes_or_seconds() {
    let t = ts("2026-12-04T22:48:00Z");
    assert_eq!(
        run_suffix(&sched("* * * * *", "UTC"), t),
        t.as_second() / 60
    );
    assert_eq!(run_suffix(&sched("* * * * * *", "UTC"), t), t.as_second());
}

fn situation(now: &str) -> Situation {
    Situation {
        now: ts(now),
        deadline: None,
        suspended: false,
        concurrency: Concurrency::Allow,
        active: 0,
    }
}

fn since(t: &str) -> Memory {
    Memory {
        since: Some(ts(t)),
        ..Memory::default()
    }
}

#[test]
fn nothing_is_due_before_the_first_fire_time() {
    let s = sched("0 3 * * *", "UTC");
    let d = decide(
        &s,
        &since("2026-12-04T22:00:00Z"),
        &situation("2026-12-05T02:59:59Z"),
    );
    assert_eq!(d, Decision::Idle);
    // Never seen: nothing before it was ever due.
    let d = decide(&s, &Memory::default(), &situation("2026-12-05T03:00:00Z"));
    assert_eq!(d, Decision::Idle);
}

#[test]
fn the_most_recent_missed_fire_time_runs_once() {
    let s = sched("0 * * * *", "UTC");
    let mem = since("2026-12-04T00:30:00Z");
    // Away for a day: one run, for the last hour.
    let d = decide(&s, &mem, &situation("2026-12-05T00:10:00Z"));
    let want = ts("2026-12-05T00:00:00Z");
    assert_eq!(
        d,
        Decision::Start {
            scheduled: want,
            replace: false
        }
    );
    let after = Memory {
        last_schedule: Some(want),
        ..mem
    };
    assert_eq!(
        decide(&s, &after, &situation("2026-12-05T00:10:00Z")),
        Decision::Idle
    );
}

#[test]
fn past_the_starting_deadline_a_run_is_missed_once() {
    let s = sched("0 * * * *", "UTC");
    let mem = since("2026-12-04T23:30:00Z");
    let mut sit = situation("2026-12-05T00:05:00Z");
    sit.deadline = Some(SignedDuration::from_secs(200));
    let scheduled = ts("2026-12-05T00:00:00Z");
    assert_eq!(decide(&s, &mem, &sit), Decision::Missed { scheduled });
    let after = Memory {
        last_missed: Some(scheduled),
        ..mem
    };
    assert_eq!(decide(&s, &after, &sit), Decision::Idle);
    // Within the deadline it runs.
    sit.now = ts("2026-12-05T00:03:00Z");
    assert!(matches!(decide(&s, &mem, &sit), Decision::Start { .. }));
}

#[test]
fn concurrency_policies() {
    let s = sched("*/2 * * * * *", "UTC");
    let mem = since("2026-12-04T23:00:00Z");
    let mut sit = situation("2026-12-04T23:00:02Z");
    sit.active = 1;
    let scheduled = ts("2026-12-04T23:00:02Z");
    sit.concurrency = Concurrency::Allow;
    assert_eq!(
        decide(&s, &mem, &sit),
        Decision::Start {
            scheduled,
            replace: false
        }
    );
    sit.concurrency = Concurrency::Forbid;
    assert_eq!(decide(&s, &mem, &sit), Decision::Forbidden { scheduled });
    sit.concurrency = Concurrency::Replace;
    assert_eq!(
        decide(&s, &mem, &sit),
        Decision::Start {
            scheduled,
            replace: true
        }
    );
    sit.suspended = true;
    assert_eq!(decide(&s, &mem, &sit), Decision::Suspended);
    // With nothing active every policy starts it.
    sit.suspended = false;
    sit.active = 0;
    assert!(matches!(
        decide(&s, &mem, &sit),
        Decision::Start { replace: false, .. }
    ));
}

#[test]
fn the_shortest_gap_is_the_tightest_spacing() {
    let s = sched("0,10 * * * *", "UTC");
    let gap = s.shortest_gap(ts("2026-12-04T22:00:00Z"), 50).unwrap();
    assert_eq!(gap, SignedDuration::from_mins(10));
}

proptest! {
    /// Every 5-field expression built from valid values parses, fires strictly later, on a
    /// whole minute, and again later still.
    #[test]
    fn valid_expressions_fire_forward(
        min in 0u8..60, hour in 0u8..24, dom in 1u8..29, month in 1u8..13,
        dow in 0u8..8, star in proptest::collection::vec(any::<bool>(), 5),
        from in 0i64..4_000_000_000,
    ) {
        let vals = [min.to_string(), hour.to_string(), dom.to_string(), month.to_string(), dow.to_string()];
        let fields: Vec<String> = vals.iter().zip(&star).map(|(v, s)| if *s { "*".into() } else { v.clone() }).collect();
        let s = Schedule { expr: CronExpr::parse(&fields.join(" ")).unwrap(), tz: TimeZone::UTC };
        let from = Timestamp::from_second(from).unwrap();
        let next = s.next_after(from).unwrap();
        prop_assert!(next > from);
        prop_assert_eq!(next.as_second() % 60, 0);
        prop_assert!(s.next_after(next).unwrap() > next);
    }

    /// Any out-of-range value is refused naming its field, never a panic.
    #[test]
    fn out_of_range_values_name_their_field(field in 0usize..5, value in 60u16..1000) {
        let mut fields = ["*"; 5];
        let v = value.to_string();
        fields[field] = &v;
        let e = CronExpr::parse(&fields.join(" ")).unwrap_err().to_string();
        let want = format!("field {} (", field + 1);
        prop_assert!(e.starts_with(&want), "{}", e);
    }

    /// Arbitrary text never panics the parser.
    #[test]
    fn arbitrary_text_never_panics(text in ".{0,40}") {
        let _ = CronExpr::parse(&text);
    }

    /// A decision never starts a run for a fire time in the future, or one already handled,
    /// and a started run is a fire time of the schedule.
    #[test]
    fn decisions_start_only_due_unhandled_fire_times(
        since in 0i64..2_000_000, away in 0i64..20_000, deadline in proptest::option::of(0i64..500),
        active in 0usize..3, policy in 0u8..3,
    ) {
        let s = Schedule { expr: CronExpr::parse("*/7 * * * * *").unwrap(), tz: TimeZone::UTC };
        let base = 1_700_000_000;
        let mem = Memory { since: Some(Timestamp::from_second(base + since).unwrap()), ..Memory::default() };
        let sit = Situation {
            now: Timestamp::from_second(base + since + away).unwrap(),
            deadline: deadline.map(SignedDuration::from_secs),
            suspended: false,
            concurrency: [Concurrency::Allow, Concurrency::Forbid, Concurrency::Replace][policy as usize],
            active,
        };
        match decide(&s, &mem, &sit) {
            Decision::Start { scheduled, replace } => {
                prop_assert!(scheduled <= sit.now && scheduled > mem.since.unwrap());
                prop_assert_eq!(scheduled.as_second().rem_euclid(60) % 7, 0);
                prop_assert_eq!(replace, active > 0 && policy == 2);
                // Nothing later is also due.
                prop_assert!(s.next_after(scheduled).unwrap() > sit.now);
                let after = Memory { last_schedule: Some(scheduled), ..mem };
                prop_assert_eq!(decide(&s, &after, &sit), Decision::Idle);
            }
            Decision::Idle => prop_assert!(s.next_after(mem.since.unwrap()).unwrap() > sit.now),
            Decision::Forbidden { .. } => prop_assert!(active > 0 && policy == 1),
            Decision::Missed { scheduled } => {
                prop_assert!(sit.now.duration_since(scheduled) > sit.deadline.unwrap());
            }
            Decision::Suspended => prop_assert!(false),
        }
    }
}

#[test]
fn a_repeated_hour_runs_once() {
    // 02:30 happens twice in Paris on 2026-10-25 (CEST, then CET).
    let s = sched("30 2 * * *", "Europe/Paris");
    let first = s.next_after(ts("2026-10-24T23:00:00Z")).unwrap();
    assert_eq!(first, ts("2026-10-25T00:30:00Z"));
    assert_eq!(s.next_after(first), Some(ts("2026-10-26T01:30:00Z")));
}
