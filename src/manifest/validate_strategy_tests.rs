use std::path::Path;

use crate::manifest::{parse_str, Analysis, CanaryHeader, CanaryStep, Strategy, StrategyType};

/// An app with `listen` and `strategy` written as given (each a block under `spec`).
fn parse(listen: &str, strategy: &str) -> Result<Strategy, String> {
    let text = format!(
        "apiVersion: corral/v1\nkind: App\nmetadata:\n  name: web\nspec:\n  command: [node]\n{listen}  strategy:\n{strategy}"
    );
    parse_str(Path::new("f.yaml"), &text)
        .map(|mut apps| apps.remove(0).app.spec.strategy)
        .map_err(|e| e.to_string())
}

const HTTP: &str = "  listen: [{port: 8080, mode: http}]\n";
const TCP: &str = "  listen: [{port: 8080, mode: tcp}]\n";

#[test]
fn a_full_canary_parses_into_the_agreed_types() {
    let s = parse(
        HTTP,
        "    type: Canary\n    steps:\n      - setWeight: 10\n      - pause: {duration: 2m}\n      - setWeight: 50\n      - pause: {}\n    analysis: {interval: 5s, minRequests: 20, maxErrorRate: 2.5, maxLatencyRatio: 1.5, latencyPercentile: 99.9, failureLimit: 2}\n    canaryHeader: {name: X-Corral-Canary, value: always}\n",
    )
    .unwrap();
    assert_eq!(s.kind, StrategyType::Canary);
    assert_eq!(
        s.steps,
        vec![
            CanaryStep::SetWeight(10),
            CanaryStep::Pause {
                duration: Some("2m".parse().unwrap())
            },
            CanaryStep::SetWeight(50),
            CanaryStep::Pause { duration: None },
        ]
    );
    let a = s.analysis.unwrap();
    assert_eq!(a.interval.to_string(), "5s");
    assert_eq!(
        (a.min_requests, a.max_error_rate, a.failure_limit),
        (20, 2.5, 2)
    );
    assert_eq!(
        (a.max_latency_ratio, a.latency_percentile),
        (Some(1.5), 99.9)
    );
    assert_eq!(
        s.canary_header,
        Some(CanaryHeader {
            name: "X-Corral-Canary".into(),
            value: "always".into()
        })
    );
}

#[test]
fn defaults_are_a_rolling_update_and_the_documented_analysis() {
    let s = parse("", "    maxSurge: 1\n").unwrap();
    assert_eq!(s.kind, StrategyType::RollingUpdate);
    assert!(!s.auto_rollback && s.steps.is_empty() && s.analysis.is_none());
    assert_eq!(
        s,
        Strategy {
            max_surge: s.max_surge,
            ..Strategy::default()
        }
    );
    let a = Analysis::default();
    assert_eq!(a.interval.to_string(), "10s");
    assert_eq!(
        (a.min_requests, a.max_error_rate, a.failure_limit),
        (100, 1.0, 0)
    );
    assert_eq!((a.max_latency_ratio, a.latency_percentile), (None, 95.0));
    assert_eq!(s.analysis_or_default(), a);
    // A partial analysis takes the defaults for what it leaves out.
    let s = parse(
        HTTP,
        "    type: Canary\n    steps: [{setWeight: 100}]\n    analysis: {failureLimit: 3}\n",
    )
    .unwrap();
    assert_eq!(
        s.analysis,
        Some(Analysis {
            failure_limit: 3,
            ..Analysis::default()
        })
    );
}

#[test]
fn rolling_update_takes_auto_rollback() {
    let s = parse("", "    type: RollingUpdate\n    autoRollback: true\n").unwrap();
    assert!(s.auto_rollback);
}

#[test]
fn a_canary_without_http_counts_instances_and_keeps_the_default_analysis() {
    // tcp, inherit or no listen: a share of instances, judged by what those modes can see
    // (exits, readiness, liveness): interval and failureLimit mean something, the request-level
    // fields do not.
    for listen in ["", TCP, "  listen: [{port: 8080}]\n"] {
        let s = parse(
            listen,
            "    type: Canary\n    steps: [{setWeight: 25}, {pause: {duration: 1m}}, {setWeight: 100}]\n    analysis: {interval: 30s, failureLimit: 1}\n",
        );
        assert!(s.is_ok(), "{listen}: {s:?}");
    }
}

#[test]
fn the_last_step_must_promote_or_wait_for_a_person() {
    for ok in [
        "[{setWeight: 100}]",
        "[{setWeight: 0}, {pause: {}}]",
        "[{setWeight: 100}, {pause: {}}]",
        "[{setWeight: 5}, {pause: }]",
    ] {
        let s = parse(HTTP, &format!("    type: Canary\n    steps: {ok}\n"));
        assert!(s.is_ok(), "{ok}: {s:?}");
    }
    for bad in [
        "[{setWeight: 99}]",
        "[{setWeight: 100}, {pause: {duration: 1m}}]",
    ] {
        let e = parse(HTTP, &format!("    type: Canary\n    steps: {bad}\n")).unwrap_err();
        assert!(
            e.contains("would never be promoted; add `- setWeight: 100`"),
            "{bad}: {e}"
        );
    }
}

#[test]
fn analysis_and_header_belong_to_a_canary() {
    for (field, line) in [
        ("analysis", "    analysis: {maxErrorRate: 1}\n"),
        ("canaryHeader", "    canaryHeader: {name: X-C, value: a}\n"),
    ] {
        let e = parse(HTTP, line).unwrap_err();
        assert!(e.starts_with("f.yaml:9:5: spec.strategy."), "{e}");
        assert!(
            e.contains(&format!("add `type: Canary` or remove {field}")),
            "{e}"
        );
    }
}

#[test]
fn the_canary_header_must_be_sendable() {
    let canary = "    type: Canary\n    steps: [{setWeight: 10}, {pause: {}}]\n";
    let e = parse(
        HTTP,
        &format!("{canary}    canaryHeader: {{name: \"X Canary\", value: a}}\n"),
    )
    .unwrap_err();
    assert!(
        e.contains("spec.strategy.canaryHeader.name: \"X Canary\" is not an HTTP header name"),
        "{e}"
    );
    let e = parse(
        HTTP,
        &format!("{canary}    canaryHeader: {{name: X-Canary, value: \"\"}}\n"),
    )
    .unwrap_err();
    assert!(
        e.contains("spec.strategy.canaryHeader.value: \"\" cannot be matched"),
        "{e}"
    );
}

#[test]
fn analysis_values_out_of_range_are_refused_with_the_fix() {
    let canary = "    type: Canary\n    steps: [{setWeight: 10}, {pause: {}}]\n";
    for (analysis, want) in [
        (
            "{minRequests: 0}",
            "analysis.minRequests: 0 would judge the canary",
        ),
        (
            "{maxErrorRate: 101}",
            "analysis.maxErrorRate: 101 is not a number of percentage points from 0 to 100",
        ),
        (
            "{maxErrorRate: -1}",
            "analysis.maxErrorRate: -1 is not a number of percentage points",
        ),
        (
            "{maxErrorRate: .nan}",
            "analysis.maxErrorRate: NaN is not a number",
        ),
        (
            "{maxLatencyRatio: 1}",
            "analysis.maxLatencyRatio: 1 must be above 1",
        ),
        (
            "{maxLatencyRatio: .inf}",
            "analysis.maxLatencyRatio: inf must be above 1",
        ),
        (
            "{maxLatencyRatio: 2, latencyPercentile: 0.5}",
            "analysis.latencyPercentile: 0.5 is not a percentile from 1 to 99.9",
        ),
        (
            "{maxLatencyRatio: 2, latencyPercentile: 99.95}",
            "is not a percentile",
        ),
        (
            "{latencyPercentile: 99}",
            "analysis.latencyPercentile: has no effect without maxLatencyRatio",
        ),
        (
            "{interval: 999ms}",
            "analysis.interval: 999ms holds too few requests",
        ),
    ] {
        let e = parse(HTTP, &format!("{canary}    analysis: {analysis}\n")).unwrap_err();
        assert!(e.contains(want), "{analysis}: {e}");
        assert!(e.starts_with("f.yaml:11:"), "{analysis}: {e}");
    }
    let ok = parse(HTTP, &format!("{canary}    analysis: {{maxLatencyRatio: 1.01, latencyPercentile: 1, interval: 1s, minRequests: 1, maxErrorRate: 0}}\n"));
    assert!(ok.is_ok(), "{ok:?}");
}

#[test]
fn request_level_fields_need_every_listen_entry_in_http_mode() {
    let canary = "    type: Canary\n    steps: [{setWeight: 10}, {pause: {}}]\n";
    let mixed = "  listen:\n    - {name: a, port: 8080, mode: http}\n    - {name: b, port: 8081}\n";
    for (extra, want) in [
        (
            "    canaryHeader: {name: X-C, value: a}\n",
            "canaryHeader: header routing",
        ),
        (
            "    analysis: {maxErrorRate: 1}\n",
            "analysis.maxErrorRate: judging error rates",
        ),
        (
            "    analysis: {minRequests: 100}\n",
            "analysis.minRequests: counting requests",
        ),
        (
            "    analysis: {latencyPercentile: 99}\n",
            "analysis.latencyPercentile: latency analysis",
        ),
        (
            "    analysis: {maxLatencyRatio: 3}\n",
            "analysis.maxLatencyRatio: latency analysis",
        ),
    ] {
        let e = parse(mixed, &format!("{canary}{extra}")).unwrap_err();
        assert!(
            e.contains(want) && e.contains("listen[1] is mode: inherit"),
            "{extra}: {e}"
        );
        let e = parse(TCP, &format!("{canary}{extra}")).unwrap_err();
        assert!(e.contains("listen[0] is mode: tcp"), "{extra}: {e}");
        let e = parse("", &format!("{canary}{extra}")).unwrap_err();
        assert!(e.contains("the app has no listen entry"), "{extra}: {e}");
    }
}

#[test]
fn a_canary_serializes_back_to_what_parses() {
    let s = parse(
        HTTP,
        "    type: Canary\n    steps: [{setWeight: 10}, {pause: {duration: 1m}}, {pause: {}}]\n",
    )
    .unwrap();
    let yaml = serde_yaml::to_string(&s).unwrap();
    assert!(
        yaml.contains("- setWeight: 10\n") && yaml.contains("- pause: {}\n"),
        "{yaml}"
    );
    let back: Strategy = serde_yaml::from_str(&yaml).unwrap();
    assert_eq!(back, s);
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["steps"][0], serde_json::json!({"setWeight": 10}));
    assert_eq!(serde_json::from_value::<Strategy>(json).unwrap(), s);
}

mod fuzz {
    use super::{parse, HTTP, TCP};
    use proptest::prelude::*;

    /// A step as written: a weight (some out of range), a timed pause, or a pause for a person.
    #[derive(Debug, Clone)]
    enum Written {
        Weight(i32),
        Timed(u32),
        Wait,
    }

    fn written() -> impl Strategy<Value = Written> {
        prop_oneof![
            3 => prop_oneof![Just(100), Just(0), -5i32..=130].prop_map(Written::Weight),
            1 => (0u32..5000).prop_map(Written::Timed),
            1 => Just(Written::Wait),
        ]
    }

    proptest! {
        /// Any step list, flow or block style, on any listen mode: accepted exactly when every
        /// weight is 0 to 100 and the list ends in `setWeight: 100` or `pause: {}`; refused
        /// otherwise with a line and column inside the steps and the fix, never a panic.
        #[test]
        fn a_step_list_is_accepted_exactly_when_it_ends_in_a_promotion(
            steps in prop::collection::vec(written(), 0..7),
            block in any::<bool>(),
            listen in prop_oneof![Just(""), Just(HTTP), Just(TCP)],
        ) {
            let items: Vec<String> = steps
                .iter()
                .map(|s| match s {
                    Written::Weight(w) => format!("{{setWeight: {w}}}"),
                    Written::Timed(ms) => format!("{{pause: {{duration: {ms}ms}}}}"),
                    Written::Wait => "{pause: {}}".to_owned(),
                })
                .collect();
            let list = if block {
                items.iter().map(|i| format!("\n      - {i}")).collect::<String>()
            } else {
                format!(" [{}]", items.join(", "))
            };
            let parsed = parse(listen, &format!("    type: Canary\n    steps:{list}\n"));
            let in_range = steps
                .iter()
                .all(|s| !matches!(s, Written::Weight(w) if !(0..=100).contains(w)));
            let promotes = matches!(steps.last(), Some(Written::Weight(100) | Written::Wait));
            match parsed {
                Ok(s) => {
                    prop_assert!(in_range && promotes, "accepted {steps:?}");
                    prop_assert_eq!(s.steps.len(), steps.len());
                }
                Err(e) => {
                    prop_assert!(!(in_range && promotes), "refused {:?}: {}", steps, e);
                    let line: usize = e.split(':').nth(1).unwrap().parse().unwrap();
                    let first = if listen.is_empty() { 8 } else { 9 };
                    prop_assert!(line >= first, "{e}");
                    let fix = e.contains("add `- setWeight: 100`")
                        || e.contains("a weight from 0 to 100")
                        || e.contains("a Canary needs steps");
                    prop_assert!(fix, "{e}");
                }
            }
        }
    }
}
