//! Checks of `spec.strategy` that span several fields: what each strategy type allows, that a
//! canary's steps end in a promotion, what needs the http proxy, the analysis' ranges.

use std::time::Duration;

use super::locate::Seg::{self, Index, Key};
use super::types::{App, CanaryStep, ListenMode, Strategy, StrategyType};
use super::validate::Problem;

/// The shortest `analysis.interval` accepted: shorter windows hold too few requests to judge.
const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// `spec.strategy.KEY...`
fn at(keys: &[Seg<'static>]) -> Vec<Seg<'static>> {
    let mut path = vec![Key("spec"), Key("strategy")];
    path.extend_from_slice(keys);
    path
}

/// The first strategy problem of an app, if any. `doc` is the document as written, to tell a
/// field left at its default from one written out.
pub fn check(app: &App, doc: &serde_yaml::Value) -> Option<Problem> {
    let s = &app.spec.strategy;
    match s.kind {
        StrategyType::BlueGreen => check_blue_green(app, doc),
        StrategyType::RollingUpdate => {
            canary_only(s).or_else(|| blue_green_only(s, "a RollingUpdate"))
        }
        StrategyType::Canary => blue_green_only(s, "a Canary").or_else(|| check_canary(app, doc)),
    }
}

/// A field that only a canary reads, set on another strategy type.
fn canary_only(s: &Strategy) -> Option<Problem> {
    let key = [
        ("steps", !s.steps.is_empty()),
        ("analysis", s.analysis.is_some()),
        ("canaryHeader", s.canary_header.is_some()),
    ]
    .into_iter()
    .find_map(|(key, set)| set.then_some(key))?;
    Some(Problem::at(
        at(&[Key(key)]),
        format!(
            "is only for type: Canary (this strategy is a RollingUpdate); add `type: Canary` \
             or remove {key}"
        ),
    ))
}

/// A field that only a BlueGreen reads, set on another strategy type.
fn blue_green_only(s: &Strategy, kind: &str) -> Option<Problem> {
    let key = [
        ("previewPort", s.preview_port.is_some()),
        ("autoPromotionSeconds", s.auto_promotion_seconds.is_some()),
        ("scaleDownDelay", s.scale_down_delay.is_some()),
    ]
    .into_iter()
    .find_map(|(key, set)| set.then_some(key))?;
    Some(Problem::at(
        at(&[Key(key)]),
        format!("is only for type: BlueGreen (this strategy is {kind}); remove {key}"),
    ))
}

/// Everything a BlueGreen's fields must satisfy: a preview port of its own, listen entries a
/// proxy serves (an inherited socket is balanced by the kernel over every instance), no steps.
fn check_blue_green(app: &App, doc: &serde_yaml::Value) -> Option<Problem> {
    let s = &app.spec.strategy;
    let misplaced = [
        ("steps", !s.steps.is_empty(), "a BlueGreen switches at once; remove steps (or use type: Canary)"),
        ("autoRollback", s.auto_rollback, "a BlueGreen rolls back when its analysis fails or on `corral rollout abort`; remove autoRollback"),
    ];
    if let Some((key, _, why)) = misplaced.into_iter().find(|(_, set, _)| *set) {
        return Some(Problem::at(at(&[Key(key)]), why));
    }
    let Some(port) = s.preview_port else {
        return Some(Problem::at(
            at(&[Key("type")]),
            "a BlueGreen needs `previewPort: N`, where the new revision answers before the \
             switch; add it",
        ));
    };
    let listen = &app.spec.listen;
    if listen.is_empty() {
        return Some(Problem::at(
            at(&[Key("previewPort")]),
            "a BlueGreen switches a listen port, and the app has none; add \
             `listen: [{port: 8080, mode: http}]`",
        ));
    }
    if let Some(i) = listen.iter().position(|l| l.mode == ListenMode::Inherit) {
        return Some(Problem::at(
            vec![Key("spec"), Key("listen"), Index(i), Key("mode")],
            "a BlueGreen needs mode: http or tcp on every listen entry (with mode: inherit the \
             kernel spreads connections over every instance, so there is nothing to switch)",
        ));
    }
    if port == 0 {
        return Some(Problem::at(
            at(&[Key("previewPort")]),
            "must be a port, 1 to 65535",
        ));
    }
    if let Some(i) = listen.iter().position(|l| l.port == port) {
        return Some(Problem::at(
            at(&[Key("previewPort")]),
            format!("{port} is also listen[{i}]'s port; pick a port of its own for the preview"),
        ));
    }
    check_http_only(app, doc)
        .or_else(|| check_header(s))
        .or_else(|| check_analysis(s, doc))
}

/// Everything a canary's fields must satisfy.
fn check_canary(app: &App, doc: &serde_yaml::Value) -> Option<Problem> {
    let s = &app.spec.strategy;
    if s.auto_rollback {
        return Some(Problem::at(
            at(&[Key("autoRollback")]),
            "a Canary always rolls back when its analysis fails; remove autoRollback (it is for \
             type: RollingUpdate)",
        ));
    }
    check_steps(s)
        .or_else(|| check_http_only(app, doc))
        .or_else(|| check_header(s))
        .or_else(|| check_analysis(s, doc))
}

/// A canary has steps, and they end in a promotion: `setWeight: 100` or `pause: {}`.
fn check_steps(s: &Strategy) -> Option<Problem> {
    let Some(last) = s.steps.last() else {
        return Some(Problem::at(
            at(&[Key("type")]),
            "a Canary needs steps, e.g. `steps: [{setWeight: 20}, {pause: {}}]`; add them (or \
             use type: RollingUpdate)",
        ));
    };
    let ends = match last {
        CanaryStep::SetWeight(100) | CanaryStep::Pause { duration: None } => return None,
        CanaryStep::SetWeight(w) => format!("setWeight: {w}"),
        CanaryStep::Pause { duration: Some(d) } => format!("a pause of {d}"),
    };
    Some(Problem::at(
        at(&[Key("steps"), Index(s.steps.len() - 1)]),
        format!(
            "the steps end with {ends}, so the canary would never be promoted; add \
             `- setWeight: 100` to promote by itself, or `- pause: {{}}` to wait for \
             `corral rollout promote`"
        ),
    ))
}

/// Whether `key` is written under `spec.strategy.analysis` in the document.
fn written(doc: &serde_yaml::Value, key: &str) -> bool {
    doc.get("spec")
        .and_then(|v| v.get("strategy"))
        .and_then(|v| v.get("analysis"))
        .and_then(|v| v.get(key))
        .is_some()
}

/// Header routing and latency analysis need every listen entry behind the http proxy.
fn check_http_only(app: &App, doc: &serde_yaml::Value) -> Option<Problem> {
    let s = &app.spec.strategy;
    let analysis = s.analysis.as_ref();
    let (path, what) = if s.canary_header.is_some() {
        (at(&[Key("canaryHeader")]), "header routing")
    } else if analysis.is_some_and(|a| a.max_latency_ratio.is_some()) {
        (
            at(&[Key("analysis"), Key("maxLatencyRatio")]),
            "latency analysis",
        )
    } else if written(doc, "maxErrorRate") {
        (
            at(&[Key("analysis"), Key("maxErrorRate")]),
            "judging error rates",
        )
    } else if written(doc, "minRequests") {
        (
            at(&[Key("analysis"), Key("minRequests")]),
            "counting requests",
        )
    } else if written(doc, "latencyPercentile") {
        (
            at(&[Key("analysis"), Key("latencyPercentile")]),
            "latency analysis",
        )
    } else {
        return None;
    };
    let listen = &app.spec.listen;
    let why = match listen.iter().position(|l| l.mode != ListenMode::Http) {
        _ if listen.is_empty() => "the app has no listen entry, so no proxy sees its requests; \
                                   add `listen: [{port: 8080, mode: http}]`"
            .to_owned(),
        Some(i) => format!(
            "listen[{i}] is mode: {}, where corral passes connections, not requests; set \
             `mode: http` on every listen entry",
            mode_name(listen[i].mode)
        ),
        None => return None,
    };
    Some(Problem::at(
        path,
        format!("{what} needs the http proxy: {why}, or remove this field"),
    ))
}

/// A listen mode as written in a manifest.
fn mode_name(mode: ListenMode) -> &'static str {
    match mode {
        ListenMode::Inherit => "inherit",
        ListenMode::Tcp => "tcp",
        ListenMode::Http => "http",
    }
}

/// The canary header is a valid HTTP header name with a non-empty value.
fn check_header(s: &Strategy) -> Option<Problem> {
    let h = s.canary_header.as_ref()?;
    if hyper::header::HeaderName::from_bytes(h.name.as_bytes()).is_err() {
        return Some(Problem::at(
            at(&[Key("canaryHeader"), Key("name")]),
            format!(
                "{:?} is not an HTTP header name (letters, digits and !#$%&'*+-.^_`|~ only); \
                 write one such as X-Corral-Canary",
                h.name
            ),
        ));
    }
    let value_ok = !h.value.trim().is_empty()
        && hyper::header::HeaderValue::from_str(&h.value).is_ok()
        && h.value.trim() == h.value;
    (!value_ok).then(|| {
        Problem::at(
            at(&[Key("canaryHeader"), Key("value")]),
            format!(
                "{:?} cannot be matched in a request (empty, control characters, or spaces \
                 around it); write a plain value such as always",
                h.value
            ),
        )
    })
}

/// The analysis' values are within range and mean something.
fn check_analysis(s: &Strategy, doc: &serde_yaml::Value) -> Option<Problem> {
    let a = s.analysis.as_ref()?;
    let field = |key: &'static str| at(&[Key("analysis"), Key(key)]);
    if a.interval.0 < MIN_INTERVAL {
        return Some(Problem::at(
            field("interval"),
            format!(
                "{} holds too few requests to compare the revisions; give at least 1s (default \
                 10s)",
                a.interval
            ),
        ));
    }
    if a.min_requests == 0 {
        return Some(Problem::at(
            field("minRequests"),
            "0 would judge the canary before it answered anything; give at least 1 (default 100)",
        ));
    }
    if !(0.0..=100.0).contains(&a.max_error_rate) {
        return Some(Problem::at(
            field("maxErrorRate"),
            format!(
                "{} is not a number of percentage points from 0 to 100; give one such as 1 \
                 (the canary may fail 1% more of its requests than stable)",
                a.max_error_rate
            ),
        ));
    }
    if let Some(r) = a.max_latency_ratio.filter(|r| !(*r > 1.0 && r.is_finite())) {
        return Some(Problem::at(
            field("maxLatencyRatio"),
            format!(
                "{r} must be above 1 (1 would abort a canary as slow as stable by chance); give \
                 one such as 2.0 (the canary may be twice as slow)"
            ),
        ));
    }
    if !(1.0..=99.9).contains(&a.latency_percentile) {
        return Some(Problem::at(
            field("latencyPercentile"),
            format!(
                "{} is not a percentile from 1 to 99.9; give one such as 95 (default) or 99",
                a.latency_percentile
            ),
        ));
    }
    if a.max_latency_ratio.is_none() && written(doc, "latencyPercentile") {
        return Some(Problem::at(
            field("latencyPercentile"),
            "has no effect without maxLatencyRatio (latency is not judged); add \
             `maxLatencyRatio: 2.0` or remove latencyPercentile",
        ));
    }
    None
}

#[cfg(test)]
#[path = "validate_strategy_tests.rs"]
mod tests;
