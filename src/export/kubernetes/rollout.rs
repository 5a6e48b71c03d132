//! A canary app as an Argo Rollouts `Rollout` (`corral export kubernetes --rollouts`): the
//! Deployment's spec with `strategy.canary.steps` mapped one to one. What corral judges by
//! itself (analysis, header routing, weights by request) has no field there without an
//! AnalysisTemplate or a traffic router: it is written as comments and warned about.

use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::Serialize;

use crate::manifest::{AppSpec, CanaryStep, ListenMode};

/// An Argo Rollouts `Rollout` (argoproj.io/v1alpha1), the fields corral fills.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rollout {
    /// `argoproj.io/v1alpha1`.
    pub api_version: &'static str,
    /// `Rollout`.
    pub kind: &'static str,
    /// Name and labels, as the Deployment's.
    pub metadata: ObjectMeta,
    /// The Deployment's spec with a canary strategy.
    pub spec: RolloutSpec,
}

/// `Rollout.spec`: a Deployment's fields plus the canary strategy.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutSpec {
    /// Desired pods.
    pub replicas: i32,
    /// Pods of this app.
    pub selector: LabelSelector,
    /// The pod, as the Deployment's.
    pub template: PodTemplateSpec,
    /// `strategy.minReadySeconds`, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_ready_seconds: Option<i32>,
    /// `strategy.progressDeadline`, in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress_deadline_seconds: Option<i32>,
    /// `{canary: …}`.
    pub strategy: RolloutStrategy,
}

/// `Rollout.spec.strategy`: exactly one of the two.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutStrategy {
    /// The canary steps and surge limits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canary: Option<Canary>,
    /// The active and preview Services and the promotion's timing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blue_green: Option<BlueGreen>,
}

/// `Rollout.spec.strategy.blueGreen`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BlueGreen {
    /// The Service of the first listen entry: the public port.
    pub active_service: String,
    /// The Service `NAME-preview` written beside it: `previewPort`.
    pub preview_service: String,
    /// False without `autoPromotionSeconds` (corral waits for `rollout promote`).
    pub auto_promotion_enabled: bool,
    /// `autoPromotionSeconds`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_promotion_seconds: Option<i32>,
    /// `scaleDownDelay` in seconds (corral's default 30, Argo's too).
    pub scale_down_delay_seconds: i32,
}

/// `Rollout.spec.strategy.canary`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Canary {
    /// `strategy.maxSurge`.
    pub max_surge: IntOrString,
    /// `strategy.maxUnavailable`.
    pub max_unavailable: IntOrString,
    /// `strategy.steps`, one to one.
    pub steps: Vec<Step>,
}

/// One canary step: exactly one of the two is set.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    /// `setWeight: N`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub set_weight: Option<i32>,
    /// `pause: {duration: D}` or `pause: {}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pause: Option<Pause>,
}

/// A pause step's settings.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Pause {
    /// A Go duration string (Argo Rollouts parses it with `time.ParseDuration`); absent: until
    /// `kubectl argo rollouts promote`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
}

/// The canary steps in Argo Rollouts' shape (the same shape: one to one).
pub fn steps(steps: &[CanaryStep]) -> Vec<Step> {
    steps
        .iter()
        .map(|s| match s {
            CanaryStep::SetWeight(w) => Step {
                set_weight: Some(i32::from(*w)),
                pause: None,
            },
            CanaryStep::Pause { duration } => Step {
                set_weight: None,
                pause: Some(Pause {
                    duration: duration.map(|d| d.to_string()),
                }),
            },
        })
        .collect()
}

/// Whether every listen entry goes through corral's http proxy (weights by request).
fn all_http(spec: &AppSpec) -> bool {
    !spec.listen.is_empty() && spec.listen.iter().all(|l| l.mode == ListenMode::Http)
}

/// The comment lines above the Rollout: what corral does that the Rollout as written does not.
pub fn comments(spec: &AppSpec) -> Vec<String> {
    let s = &spec.strategy;
    if s.kind == crate::manifest::StrategyType::BlueGreen {
        return blue_green_comments(spec);
    }
    let a = s.analysis_or_default();
    let mut out = vec![
        "an Argo Rollouts Rollout: needs the Argo Rollouts controller in the cluster; promote a \
         `pause: {}` step with `kubectl argo rollouts promote NAME`"
            .to_owned(),
    ];
    if all_http(spec) {
        out.push(
            "corral weights the canary by request; without spec.strategy.canary.trafficRouting \
             (nginx, Istio, ALB, …) Argo Rollouts weights it by pod count"
                .to_owned(),
        );
        let latency = match a.max_latency_ratio {
            Some(r) => format!(
                ", its p{} latency at most {r}× stable's",
                a.latency_percentile
            ),
            None => String::new(),
        };
        out.push(format!(
            "corral judges the canary every {} against the stable revision: its error rate (5xx \
             and failed connections) at most stable's + {} percentage point(s) over at least {} \
             requests{latency}; failureLimit {}: one more failed check aborts",
            a.interval, a.max_error_rate, a.min_requests, a.failure_limit
        ));
    } else {
        out.push(format!(
            "corral judges the canary every {} by what this mode sees (exits, readiness, \
             liveness); failureLimit {}: one more failed check aborts",
            a.interval, a.failure_limit
        ));
    }
    out.push(
        "Argo Rollouts judges through an AnalysisTemplate (e.g. a Prometheus query of the same \
         figures): write one and reference it under spec.strategy.canary.analysis"
            .to_owned(),
    );
    if let Some(h) = &s.canary_header {
        out.push(format!(
            "canaryHeader {}: {} needs a traffic router in Argo Rollouts (trafficRouting with \
             managedRoutes and a setHeaderRoute step)",
            h.name, h.value
        ));
    }
    out
}

/// The comment lines above a blue-green Rollout.
fn blue_green_comments(spec: &AppSpec) -> Vec<String> {
    let s = &spec.strategy;
    let mut out = vec![
        "an Argo Rollouts Rollout: needs the Argo Rollouts controller in the cluster; switch \
         with `kubectl argo rollouts promote NAME` unless autoPromotionEnabled"
            .to_owned(),
        format!(
            "corral's previewPort {} is the preview Service's port; Argo Rollouts points the \
             active and preview Services at the old and new pods by itself",
            s.preview_port.unwrap_or_default()
        ),
    ];
    if s.analysis.is_some() {
        out.push(
            "corral judges the preview's traffic before an automatic switch: Argo Rollouts \
             does it with an AnalysisTemplate under spec.strategy.blueGreen.prePromotionAnalysis"
                .to_owned(),
        );
    }
    out
}

/// The warnings of a Rollout export (the comments say more).
pub fn warnings(spec: &AppSpec) -> Vec<String> {
    let s = &spec.strategy;
    if s.kind == crate::manifest::StrategyType::BlueGreen {
        return s
            .analysis
            .iter()
            .map(|_| {
                "the preview's analysis is not exported: Argo Rollouts needs an \
                 AnalysisTemplate (see the comment above the Rollout)"
                    .to_owned()
            })
            .collect();
    }
    let mut out = vec![
        "the canary's analysis is not exported: Argo Rollouts needs an AnalysisTemplate (see \
         the comment above the Rollout)"
            .to_owned(),
    ];
    if spec.strategy.canary_header.is_some() {
        out.push(
            "canaryHeader is not exported: Argo Rollouts routes by header only through a \
             traffic router"
                .to_owned(),
        );
    }
    out
}
