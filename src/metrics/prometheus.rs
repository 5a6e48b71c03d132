//! The `/metrics` text: a published [`Snapshot`] plus the live counters, encoded by
//! prometheus-client as the Prometheus text format (0.0.4) or OpenMetrics, as the scraper asks.

use std::fmt;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeCounterValue, EncodeGaugeValue, EncodeLabelSet, NoLabelSet,
};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use super::histogram::HistogramSnapshot;
use super::snapshot::{InstanceSample, Published, Snapshot};

/// The exposition formats a scrape can get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text 0.0.4: what curl users and older scrapers read.
    Prometheus,
    /// OpenMetrics 1.0 text (ends with `# EOF`), when the `Accept` header asks for it.
    OpenMetrics,
}

impl Format {
    /// The format an `Accept` header asks for: OpenMetrics only when it names it, as the
    /// Prometheus server does.
    pub fn from_accept(accept: Option<&str>) -> Self {
        match accept {
            Some(a) if a.contains("application/openmetrics-text") => Self::OpenMetrics,
            _ => Self::Prometheus,
        }
    }

    /// The `Content-Type` of a response in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Prometheus => prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
            Self::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// The full exposition of what `published` holds now, in `format`.
pub fn encode(published: &Published, format: Format) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Exposition {
        snapshot: published.snapshot(),
        reconciles: published.reconcile_durations().snapshot(),
    }));
    let mut out = String::new();
    // Writing to a String cannot fail, and our collector has no error of its own.
    let _ = match format {
        Format::Prometheus => {
            prometheus_client::encoding::prometheus_text::encode(&mut out, &registry)
        }
        Format::OpenMetrics => prometheus_client::encoding::text::encode(&mut out, &registry),
    };
    out
}

/// One scrape's worth of values, encoded family by family.
#[derive(Debug)]
struct Exposition {
    snapshot: Arc<Snapshot>,
    reconciles: HistogramSnapshot,
}

/// `app`, `index`, `revision`: the labels of an instance's series.
type InstanceLabels<'a> = ([(&'static str, &'a str); 2], [(&'static str, u32); 1]);

/// The labels of `i`'s series.
fn labels(i: &InstanceSample) -> InstanceLabels<'_> {
    (
        [("app", i.app.as_str()), ("revision", i.revision.as_str())],
        [("index", i.index)],
    )
}

/// The label of an app's series.
fn app(name: &str) -> [(&'static str, &str); 1] {
    [("app", name)]
}

impl Collector for Exposition {
    fn encode(&self, mut enc: DescriptorEncoder<'_>) -> fmt::Result {
        let s = &self.snapshot;
        self.instances(&mut enc)?;
        self.apps(&mut enc)?;
        self.traffic(&mut enc)?;
        gauge(
            &mut enc,
            "corral_manifest_errors",
            "Manifest files that fail to parse or validate, and app name conflicts.",
            [([] as [(&str, &str); 0], s.manifest_errors)],
        )?;
        counter(
            &mut enc,
            "corral_events",
            "Events recorded since the controller started, by type and reason.",
            s.events.iter().map(|((kind, reason), n)| {
                ([("reason", reason.as_str()), ("type", kind.as_str())], *n)
            }),
        )?;
        counter(
            &mut enc,
            "corral_log_lines_dropped",
            "Log lines lost to write errors (full disk, read-only directory), per app.",
            s.apps
                .iter()
                .map(|a| ([("app", a.name.as_str())], a.log_lines_dropped)),
        )?;
        counter(
            &mut enc,
            "corral_reconciles",
            "Reconciles (plan, then act) the controller ran.",
            [([] as [(&str, &str); 0], self.reconciles.count)],
        )?;
        histogram(
            &mut enc,
            "corral_reconcile_duration_seconds",
            "How long each reconcile took, planning and acting.",
            [([] as [(&str, &str); 0], &self.reconciles)],
        )?;
        let build = [("version", env!("CARGO_PKG_VERSION"))];
        enc.encode_descriptor(
            "corral_build",
            "The running corral's version.",
            None,
            MetricType::Info,
        )?
        .encode_info(&build)
    }
}

impl Exposition {
    /// The per-instance families.
    fn instances(&self, enc: &mut DescriptorEncoder<'_>) -> fmt::Result {
        let all = &self.snapshot.instances;
        gauge(
            enc,
            "corral_instance_up",
            "1 while the instance's process runs, 0 while its slot waits to restart.",
            all.iter().map(|i| (labels(i), u32::from(i.up))),
        )?;
        gauge(
            enc,
            "corral_instance_ready",
            "1 when the instance passed its readiness check.",
            all.iter().map(|i| (labels(i), u32::from(i.ready))),
        )?;
        counter(
            enc,
            "corral_instance_restarts",
            "Restarts of the instance's slot (its index).",
            all.iter().map(|i| (labels(i), i.restarts)),
        )?;
        gauge(
            enc,
            "corral_instance_start_time_seconds",
            "When the instance's process started, in seconds since the Unix epoch.",
            all.iter()
                .filter_map(|i| Some((labels(i), i.start_time_seconds?))),
        )?;
        gauge(
            enc,
            "corral_instance_resident_memory_bytes",
            "Resident memory of the instance's whole process tree (what memory.limit checks).",
            all.iter()
                .filter_map(|i| Some((labels(i), i.resident_memory_bytes?))),
        )?;
        counter(
            enc,
            "corral_instance_cpu_seconds",
            "CPU time (user and system) used by the instance's live process tree.",
            all.iter().filter_map(|i| Some((labels(i), i.cpu_seconds?))),
        )
    }

    /// The per-app families.
    fn apps(&self, enc: &mut DescriptorEncoder<'_>) -> fmt::Result {
        let apps = &self.snapshot.apps;
        gauge(
            enc,
            "corral_app_desired_instances",
            "Instances the app's manifest asks for (0 when suspended).",
            apps.iter().map(|a| (app(&a.name), a.desired)),
        )?;
        gauge(
            enc,
            "corral_app_ready_instances",
            "Instances of the app's current revision that are ready.",
            apps.iter().map(|a| (app(&a.name), a.ready)),
        )?;
        gauge(
            enc,
            "corral_app_available_instances",
            "Ready instances of the current revision that have been ready for minReadySeconds.",
            apps.iter().map(|a| (app(&a.name), a.available)),
        )?;
        gauge(
            enc,
            "corral_app_rollout_in_progress",
            "1 while a rolling update (or reload) of the app is under way.",
            apps.iter()
                .map(|a| (app(&a.name), u32::from(a.rollout_in_progress))),
        )?;
        gauge(
            enc,
            "corral_app_memory_limit_bytes",
            "The app's memory.limit per instance, when it has one.",
            apps.iter()
                .filter_map(|a| Some((app(&a.name), a.memory_limit_bytes?))),
        )?;
        gauge(
            enc,
            "corral_app_manifest_error",
            "1 when the app's manifest on disk has an error (its last good version keeps running).",
            apps.iter()
                .map(|a| (app(&a.name), u32::from(a.manifest_error))),
        )?;
        let mut info = enc.encode_descriptor(
            "corral_app_git_commit",
            "The git commit the app's definition in force was read at (manifests in a git work tree).",
            None,
            MetricType::Info,
        )?;
        for a in apps {
            if let Some((commit, dirty)) = &a.commit {
                let dirty = if *dirty { "true" } else { "false" };
                let labels = [
                    ("app", a.name.as_str()),
                    ("commit", commit.as_str()),
                    ("dirty", dirty),
                ];
                info.encode_info(&labels)?;
            }
        }
        Ok(())
    }

    /// The families of tcp and http listeners, read live from the proxies' counters.
    fn traffic(&self, enc: &mut DescriptorEncoder<'_>) -> fmt::Result {
        let proxied: Vec<_> = self
            .snapshot
            .apps
            .iter()
            .filter_map(|a| {
                let (counters, http) = a.traffic.as_ref()?;
                Some((a.name.as_str(), counters.snapshot(), *http, counters))
            })
            .collect();
        counter(
            enc,
            "corral_listener_connections",
            "Client connections accepted on the app's tcp and http listen ports.",
            proxied
                .iter()
                .map(|(a, s, _, _)| ([("app", *a)], s.connections)),
        )?;
        counter(
            enc,
            "corral_listener_retries",
            "Backend attempts that failed and were tried again on another instance.",
            proxied
                .iter()
                .map(|(a, s, _, _)| ([("app", *a)], s.retries)),
        )?;
        counter(
            enc,
            "corral_listener_failures",
            "Connections (tcp) or requests (http) that no instance served: closed, 502 or 503.",
            proxied
                .iter()
                .map(|(a, s, _, _)| ([("app", *a)], s.failures)),
        )?;
        const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];
        let http = || proxied.iter().filter(|(_, _, http, _)| *http);
        counter(
            enc,
            "corral_http_requests",
            "HTTP responses sent to clients on http listen ports, by status class.",
            http().flat_map(|(a, s, _, _)| {
                CLASSES
                    .iter()
                    .zip(s.responses)
                    .map(|(class, n)| ([("app", *a), ("code_class", *class)], n))
            }),
        )?;
        let durations: Vec<_> = http()
            .map(|(a, _, _, c)| ([("app", *a)], c.duration().snapshot()))
            .collect();
        histogram(
            enc,
            "corral_http_request_duration_seconds",
            "Time from an HTTP request's arrival to its response head, retries included.",
            durations.iter().map(|(labels, h)| (*labels, h)),
        )
    }
}

/// Encodes a gauge family (its HELP and TYPE even when it has no series).
fn gauge<L: EncodeLabelSet, V: EncodeGaugeValue>(
    enc: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    rows: impl IntoIterator<Item = (L, V)>,
) -> fmt::Result {
    let mut metric = enc.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, value) in rows {
        metric.encode_family(&labels)?.encode_gauge(&value)?;
    }
    Ok(())
}

/// Encodes a counter family; `name` without `_total`, which the encoder appends.
fn counter<L: EncodeLabelSet, V: EncodeCounterValue>(
    enc: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    rows: impl IntoIterator<Item = (L, V)>,
) -> fmt::Result {
    let mut metric = enc.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, value) in rows {
        metric
            .encode_family(&labels)?
            .encode_counter::<NoLabelSet, _, f64>(&value, None)?;
    }
    Ok(())
}

/// Encodes a histogram family.
fn histogram<'h, L: EncodeLabelSet>(
    enc: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    rows: impl IntoIterator<Item = (L, &'h HistogramSnapshot)>,
) -> fmt::Result {
    let mut metric = enc.encode_descriptor(name, help, None, MetricType::Histogram)?;
    for (labels, h) in rows {
        metric
            .encode_family(&labels)?
            .encode_histogram::<NoLabelSet>(h.sum, h.count, &h.buckets, None)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
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
        let mut found = scrape.samples.iter().filter(|s| {
            s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v))
        });
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
}
