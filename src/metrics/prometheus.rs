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

use super::snapshot::{InstanceSample, Published, Snapshot};
use crate::histogram::HistogramSnapshot;

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
#[path = "prometheus_tests.rs"]
mod tests;
