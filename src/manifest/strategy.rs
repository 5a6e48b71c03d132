//! `spec.strategy`: how a new revision replaces the old one, a rolling update or a canary
//! (docs/manifest.md "Rollouts"). Cross-field rules are in `validate_strategy.rs`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::defaults::*;
use super::fields;
use super::quantity::{DurationSpec, IntOrPercent};

/// How a new revision replaces the old one: a rolling update (Kubernetes Deployment
/// semantics) or a canary (Argo Rollouts' steps). Changing it applies in place (no new
/// revision).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Strategy {
    /// `RollingUpdate` (default): instances are replaced a few at a time. `Canary`: the new
    /// revision gets a share of the traffic by `steps` while the old one keeps running, and is
    /// promoted or rolled back. `BlueGreen`: the new revision comes up in full behind
    /// `previewPort`, then the public port switches to it at once.
    #[serde(rename = "type", default)]
    pub kind: StrategyType,
    /// Instances allowed above `instances` during a rollout (and a canary's promotion): a count
    /// or a percentage (rounded up).
    #[serde(default = "default_quarter")]
    pub max_surge: IntOrPercent,
    /// Instances allowed to be unavailable during a rollout (and a canary's promotion): a count
    /// or a percentage (rounded down).
    #[serde(default = "default_quarter")]
    pub max_unavailable: IntOrPercent,
    /// Seconds a ready instance must stay ready before it counts as available.
    #[serde(default)]
    pub min_ready_seconds: u32,
    /// A rollout making no progress this long is reported `ProgressDeadlineExceeded`; longer
    /// than `minReadySeconds`. A canary's pauses do not count.
    #[serde(default = "default_progress_deadline")]
    pub progress_deadline: DurationSpec,
    /// `RollingUpdate` only: a rollout past `progressDeadline` rolls back to the previous
    /// revision by itself (event `RolloutAborted`, condition `Degraded` until the manifest
    /// changes). A canary always rolls back when its analysis fails. Default false.
    #[serde(default, skip_serializing_if = "is_false")]
    pub auto_rollback: bool,
    /// `Canary` only, required there: the steps, in order (Argo Rollouts' shape).
    /// `{setWeight: 10}` sends 10% of the requests (`mode: http`) or of the instances (other
    /// modes) to the new revision; `{pause: {duration: 2m}}` waits that long; `{pause: {}}`
    /// waits for `corral rollout promote`. The last step is `{setWeight: 100}` (promote by
    /// itself) or `{pause: {}}` (wait for `corral rollout promote`).
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        with = "serde_yaml::with::singleton_map_recursive"
    )]
    #[schemars(with = "Vec<CanaryStep>")]
    pub steps: Vec<CanaryStep>,
    /// `Canary` only: how the canary is judged against the stable revision while it runs;
    /// absent, the defaults apply (abort when the canary's error rate is more than 1
    /// percentage point above stable's over at least 100 requests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<Analysis>,
    /// `Canary` only, and only when every listen entry is `mode: http`: a request carrying
    /// this header with this value goes to the canary whatever the weight, so testers can try
    /// it before any user does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary_header: Option<CanaryHeader>,
    /// `BlueGreen` only, required there: the port where the new revision answers (for the
    /// first listen entry, on its host) while the public port still serves the old one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview_port: Option<u16>,
    /// `BlueGreen` only: switch the public port this many seconds after every new instance is
    /// ready (and, when `analysis` is written, after a check of the preview traffic passed);
    /// absent, wait for `corral rollout promote`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_promotion_seconds: Option<u32>,
    /// `BlueGreen` only: how long the old revision keeps running after the switch, so that
    /// `corral rollout abort` sends the traffic back at once; default `30s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_down_delay: Option<DurationSpec>,
}

impl Strategy {
    /// `analysis`, or the defaults when it is absent.
    pub fn analysis_or_default(&self) -> Analysis {
        self.analysis.clone().unwrap_or_default()
    }
}

/// The kind of rollout strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
pub enum StrategyType {
    /// Replace instances a few at a time (`maxSurge`, `maxUnavailable`).
    #[default]
    RollingUpdate,
    /// Send a share of the traffic to the new revision by `steps`, judge it by `analysis`,
    /// then promote it (a rolling replacement) or roll it back.
    Canary,
    /// Bring the new revision up in full behind `previewPort`, switch the public port to it at
    /// promotion, keep the old one for `scaleDownDelay`.
    BlueGreen,
}

/// One step of a canary (Argo Rollouts' shape): `{setWeight: 10}` or `{pause: {duration: 2m}}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum CanaryStep {
    /// Percentage of requests (`mode: http`) or of instances (other modes) for the canary,
    /// 0 to 100; 100 promotes it.
    SetWeight(
        #[serde(deserialize_with = "fields::weight")]
        #[schemars(range(min = 0, max = 100))]
        u8,
    ),
    /// Wait: `{duration: 2m}` that long, `{}` until `corral rollout promote`.
    Pause {
        /// How long to wait; absent, until `corral rollout promote`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        duration: Option<DurationSpec>,
    },
}

/// How a canary is compared with the stable revision, over the same windows of time, from the
/// proxy's own per-revision counters. A check that fails counts against `failureLimit`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Analysis {
    /// How often canary and stable are compared, over the window since the last check;
    /// default `10s`, at least `1s`.
    #[serde(default = "default_analysis_interval")]
    pub interval: DurationSpec,
    /// Canary requests in the window before it is judged (`mode: http` only); default 100,
    /// at least 1.
    #[serde(default = "default_min_requests")]
    #[schemars(range(min = 1))]
    pub min_requests: u32,
    /// `mode: http` only: percentage points the canary's error rate (5xx responses and failed
    /// connections) may exceed stable's; default 1, 0 to 100.
    #[serde(default = "default_max_error_rate")]
    #[schemars(range(min = 0, max = 100))]
    pub max_error_rate: f64,
    /// `mode: http` only: the canary's `latencyPercentile` may be at most this many times
    /// stable's (above 1, e.g. 2.0); absent, latency is not judged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("exclusiveMinimum" = 1))]
    pub max_latency_ratio: Option<f64>,
    /// Which latency percentile `maxLatencyRatio` compares; default 95, 1 to 99.9.
    #[serde(default = "default_latency_percentile")]
    #[schemars(range(min = 1, max = 99.9))]
    pub latency_percentile: f64,
    /// Failed checks tolerated; one more aborts the canary. Default 0.
    #[serde(default)]
    pub failure_limit: u32,
}

/// A request header that sends a request to the canary whatever the weight.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CanaryHeader {
    /// Header name, e.g. `X-Corral-Canary` (matched case-insensitively, as HTTP does).
    pub name: String,
    /// The exact value that routes to the canary, e.g. `always`.
    pub value: String,
}
