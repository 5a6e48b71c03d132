//! Default values of manifest fields, named so `#[serde(default = "...")]` can point at them.

use super::quantity::{ByteSize, DurationSpec, IntOrPercent};
use super::types::{Analysis, Backoff, Logs, Stop, StopSignal, Strategy, StrategyType};

pub(super) fn is_false(b: &bool) -> bool {
    !*b
}
pub(super) fn default_true() -> bool {
    true
}
pub(super) fn default_listen_name() -> String {
    "http".into()
}
pub(super) fn default_host() -> String {
    "127.0.0.1".into()
}
pub(super) fn default_path() -> String {
    "/".into()
}
fn ms(n: u64) -> DurationSpec {
    DurationSpec(std::time::Duration::from_millis(n))
}
pub(super) fn default_backoff_initial() -> DurationSpec {
    ms(100)
}
pub(super) fn default_backoff_max() -> DurationSpec {
    ms(30_000)
}
pub(super) fn default_backoff_reset() -> DurationSpec {
    ms(60_000)
}
pub(super) fn default_stop_signal() -> StopSignal {
    StopSignal(nix::sys::signal::Signal::SIGTERM)
}
pub(super) fn default_stop_timeout() -> DurationSpec {
    ms(10_000)
}
pub(super) fn default_quarter() -> IntOrPercent {
    IntOrPercent::Percent(25)
}
pub(super) fn default_progress_deadline() -> DurationSpec {
    ms(600_000)
}
pub(super) fn default_analysis_interval() -> DurationSpec {
    ms(10_000)
}
pub(super) fn default_min_requests() -> u32 {
    100
}
pub(super) fn default_max_error_rate() -> f64 {
    1.0
}
pub(super) fn default_latency_percentile() -> f64 {
    95.0
}
pub(super) fn default_watch_paths() -> Vec<String> {
    vec![".".into()]
}
pub(super) fn default_watch_debounce() -> DurationSpec {
    ms(500)
}
pub(super) fn default_log_size() -> ByteSize {
    ByteSize(10 << 20)
}
pub(super) fn default_log_files() -> u32 {
    5
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            initial: default_backoff_initial(),
            max: default_backoff_max(),
            reset_after: default_backoff_reset(),
        }
    }
}
impl Default for Stop {
    fn default() -> Self {
        Self {
            signal: default_stop_signal(),
            timeout: default_stop_timeout(),
        }
    }
}
impl Default for Strategy {
    fn default() -> Self {
        Self {
            max_surge: default_quarter(),
            max_unavailable: default_quarter(),
            min_ready_seconds: 0,
            progress_deadline: default_progress_deadline(),
            kind: StrategyType::RollingUpdate,
            auto_rollback: false,
            steps: Vec::new(),
            analysis: None,
            canary_header: None,
            preview_port: None,
            auto_promotion_seconds: None,
            scale_down_delay: None,
        }
    }
}
impl Default for Analysis {
    fn default() -> Self {
        Self {
            interval: default_analysis_interval(),
            min_requests: default_min_requests(),
            max_error_rate: default_max_error_rate(),
            max_latency_ratio: None,
            latency_percentile: default_latency_percentile(),
            failure_limit: 0,
        }
    }
}
impl Default for Logs {
    fn default() -> Self {
        Self {
            max_size: default_log_size(),
            max_files: default_log_files(),
            timestamps: true,
            dir: None,
            merge: false,
        }
    }
}
