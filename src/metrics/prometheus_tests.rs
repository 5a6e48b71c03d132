//! Unit tests of the exposition: every family read back with a Prometheus text parser.

use std::collections::BTreeMap;
use std::time::Duration;

use prometheus_parse::{Scrape, Value};

use super::*;
use crate::metrics::snapshot::{AppSample, InstanceSample};
use crate::net::Counters;

fn parse(text: &str) -> Scrape {
    Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("parses")
}

/// The value of the one sample of `name` whose labels include `labels`.
fn value(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut found = scrape
        .samples
        .iter()
        .filter(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)));
    let sample = found.next()?;
    assert!(found.next().is_none(), "{name} {labels:?} is ambiguous");
    match sample.value {
        Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => Some(v),
        _ => None,
    }
}

fn published() -> (Published, Arc<Counters>) {
    let counters = Arc::new(Counters::default());
    counters.responded(200, Duration::from_millis(3));
    counters.responded(204, Duration::from_millis(30));
    counters.responded(503, Duration::from_secs(20));
    let published = Published::default();
    published.reconciled(Duration::from_millis(2));
    let mut events = BTreeMap::new();
    events.insert(("Warning".to_string(), "Exited".to_string()), 3);
    published.publish(Snapshot {
        instances: vec![
            InstanceSample {
                app: "web".into(),
                index: 0,
                revision: "abc".into(),
                up: true,
                ready: true,
                restarts: 2,
                start_time_seconds: Some(1.5),
                resident_memory_bytes: Some(4096),
                cpu_seconds: Some(0.25),
            },
            InstanceSample {
                app: "web".into(),
                index: 1,
                revision: "abc".into(),
                restarts: 5,
                ..InstanceSample::default()
            },
        ],
        apps: vec![AppSample {
            name: "web".into(),
            desired: 2,
            ready: 1,
            available: 1,
            rollout_in_progress: true,
            memory_limit_bytes: Some(1 << 20),
            commit: Some(("0123abcd".into(), true)),
            log_lines_dropped: 7,
            traffic: Some((Arc::clone(&counters), true)),
            ..AppSample::default()
        }],
        manifest_errors: 1,
        events,
    });
    (published, counters)
}

#[test]
fn every_family_reads_back_through_a_prometheus_parser() {
    let (published, _counters) = published();
    let text = encode(&published, Format::Prometheus);
    let s = parse(&text);
    let web0 = [("app", "web"), ("index", "0"), ("revision", "abc")];
    let web1 = [("app", "web"), ("index", "1")];
    let web = [("app", "web")];
    assert_eq!(value(&s, "corral_instance_up", &web0), Some(1.0));
    assert_eq!(value(&s, "corral_instance_up", &web1), Some(0.0));
    assert_eq!(value(&s, "corral_instance_ready", &web1), Some(0.0));
    assert_eq!(
        value(&s, "corral_instance_restarts_total", &web1),
        Some(5.0)
    );
    let rss = "corral_instance_resident_memory_bytes";
    assert_eq!(value(&s, rss, &web0), Some(4096.0));
    assert_eq!(value(&s, rss, &web1), None, "no sample, no series");
    let cpu = "corral_instance_cpu_seconds_total";
    assert_eq!(value(&s, cpu, &web0), Some(0.25));
    assert_eq!(value(&s, "corral_app_desired_instances", &web), Some(2.0));
    assert_eq!(value(&s, "corral_app_rollout_in_progress", &web), Some(1.0));
    let limit = "corral_app_memory_limit_bytes";
    assert_eq!(value(&s, limit, &web), Some(1048576.0));
    let commit = [("app", "web"), ("commit", "0123abcd"), ("dirty", "true")];
    assert_eq!(value(&s, "corral_app_git_commit_info", &commit), Some(1.0));
    let dropped = "corral_log_lines_dropped_total";
    assert_eq!(value(&s, dropped, &web), Some(7.0));
    let ok = [("app", "web"), ("code_class", "2xx")];
    let failed = [("app", "web"), ("code_class", "5xx")];
    assert_eq!(value(&s, "corral_http_requests_total", &ok), Some(2.0));
    assert_eq!(value(&s, "corral_http_requests_total", &failed), Some(1.0));
    let count = "corral_http_request_duration_seconds_count";
    assert_eq!(value(&s, count, &web), Some(3.0));
    let hist = s
        .samples
        .iter()
        .find(|x| x.metric == "corral_http_request_duration_seconds")
        .expect("histogram");
    let Value::Histogram(buckets) = &hist.value else {
        panic!("{hist:?}")
    };
    let le = |bound: f64| buckets.iter().find(|b| b.less_than == bound).unwrap().count;
    assert_eq!(
        (le(0.005), le(0.05), le(10.0), le(f64::INFINITY)),
        (1.0, 2.0, 2.0, 3.0)
    );
    let exited = [("reason", "Exited"), ("type", "Warning")];
    assert_eq!(value(&s, "corral_events_total", &exited), Some(3.0));
    assert_eq!(value(&s, "corral_manifest_errors", &[]), Some(1.0));
    assert_eq!(value(&s, "corral_reconciles_total", &[]), Some(1.0));
    let version = [("version", env!("CARGO_PKG_VERSION"))];
    assert_eq!(value(&s, "corral_build_info", &version), Some(1.0));
}

#[test]
fn counters_are_read_live_at_each_scrape() {
    let (published, counters) = published();
    counters.responded(201, Duration::from_millis(1));
    let s = parse(&encode(&published, Format::Prometheus));
    let ok = [("app", "web"), ("code_class", "2xx")];
    assert_eq!(value(&s, "corral_http_requests_total", &ok), Some(3.0));
}

#[test]
fn openmetrics_is_served_only_when_asked_for() {
    let (published, _counters) = published();
    let accept = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5";
    let format = Format::from_accept(Some(accept));
    assert_eq!(format, Format::OpenMetrics);
    let text = encode(&published, format);
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert!(text.contains("# TYPE corral_build info\n"), "{text}");
    for plain in [None, Some("text/plain"), Some("*/*")] {
        let format = Format::from_accept(plain);
        assert_eq!(format, Format::Prometheus);
        assert!(format
            .content_type()
            .starts_with("text/plain; version=0.0.4"));
        assert!(!encode(&published, format).contains("# EOF"));
    }
}
