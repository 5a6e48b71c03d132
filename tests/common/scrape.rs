//! Scraping the controller's `/metrics` (over TCP or the control socket) and reading the
//! values with a Prometheus text parser.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use prometheus_parse::{Sample, Scrape, Value};

use super::load::get;

/// A parsed scrape.
pub struct Metrics(pub Scrape);

/// `GET /metrics` on `addr` (`--metrics-addr`).
pub fn scrape_tcp(addr: SocketAddr) -> Metrics {
    let response = get(addr, "/metrics").expect("scrape --metrics-addr");
    assert_eq!(response.status, 200, "{}", response.body);
    parse(&response.body)
}

/// `GET /metrics` on the control socket of `home`.
pub fn scrape_socket(home: &Path) -> Metrics {
    let mut stream = UnixStream::connect(home.join("corral.sock")).expect("connect the socket");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream
        .write_all(b"GET /metrics HTTP/1.0\r\nHost: corral\r\n\r\n")
        .expect("send");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).expect("read the response");
    let (head, body) = raw.split_once("\r\n\r\n").expect("a header and a body");
    assert!(
        head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"),
        "{raw}"
    );
    assert!(head.contains("text/plain; version=0.0.4"), "{head}");
    parse(body)
}

/// Parses Prometheus text.
pub fn parse(text: &str) -> Metrics {
    let lines = text.lines().map(|l| Ok(l.to_owned()));
    Metrics(Scrape::parse(lines).expect("Prometheus text"))
}

impl Metrics {
    /// The samples of `name` whose labels include `labels`.
    pub fn samples<'a>(&'a self, name: &'a str, labels: &'a [(&str, &str)]) -> Vec<&'a Sample> {
        self.0
            .samples
            .iter()
            .filter(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .collect()
    }

    /// The value of the one sample of `name` with `labels` (among others); `None` if absent.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let found = self.samples(name, labels);
        assert!(found.len() <= 1, "{name} {labels:?} matches {found:?}");
        found.first().map(|s| scalar(s))
    }

    /// The sum of the values of `name` with `labels` (0 when absent).
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples(name, labels).iter().map(|s| scalar(s)).sum()
    }

    /// The distinct values of label `label` among the samples of `name` with `labels`.
    pub fn label_values(&self, name: &str, labels: &[(&str, &str)], label: &str) -> Vec<String> {
        let mut values: Vec<String> = self
            .samples(name, labels)
            .iter()
            .filter_map(|s| s.labels.get(label).map(str::to_owned))
            .collect();
        values.sort();
        values.dedup();
        values
    }
}

/// A counter's, gauge's or untyped sample's value.
fn scalar(sample: &Sample) -> f64 {
    match sample.value {
        Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
        _ => panic!("{} is not a single value: {sample:?}", sample.metric),
    }
}
