//! Judging a canary against the stable revision over the same window, PURE: error rate (5xx
//! and failed connections) and a latency percentile, with the manifest's thresholds.

use std::time::Duration;

use crate::manifest::Analysis;

/// One revision's traffic over a window, as the proxy counted it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Figures {
    /// Requests answered or failed.
    pub requests: u64,
    /// 5xx responses plus failed backend attempts.
    pub errors: u64,
    /// The window's `latencyPercentile`, when there were requests.
    pub latency: Option<Duration>,
}

impl Figures {
    /// Errors per hundred requests.
    pub fn error_percent(&self) -> f64 {
        match self.requests {
            0 => 0.0,
            n => self.errors as f64 * 100.0 / n as f64,
        }
    }

    fn describe(&self) -> String {
        let latency = self
            .latency
            .map(|l| format!(", p = {}", crate::manifest::quantity::DurationSpec(l)))
            .unwrap_or_default();
        format!(
            "{:.1}% errors ({} of {}){latency}",
            self.error_percent(),
            self.errors,
            self.requests
        )
    }
}

/// What a check concluded.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Too few canary requests yet: the window goes on.
    TooFew,
    /// The canary is not worse than the thresholds allow.
    Pass,
    /// The canary is worse; why, with the figures.
    Fail(String),
}

/// Compares `canary` with `stable` over the same window.
pub fn judge(analysis: &Analysis, stable: &Figures, canary: &Figures) -> Verdict {
    if canary.requests < u64::from(analysis.min_requests.max(1)) {
        return Verdict::TooFew;
    }
    let worse_by = canary.error_percent() - stable.error_percent();
    let figures = || {
        format!(
            "canary {} vs stable {}",
            canary.describe(),
            stable.describe()
        )
    };
    if worse_by > analysis.max_error_rate {
        return Verdict::Fail(format!(
            "error rate {worse_by:.1} points above stable's (at most {} allowed): {}",
            analysis.max_error_rate,
            figures()
        ));
    }
    if let (Some(ratio), Some(c), Some(s)) =
        (analysis.max_latency_ratio, canary.latency, stable.latency)
    {
        if s > Duration::ZERO && c.as_secs_f64() > s.as_secs_f64() * ratio {
            return Verdict::Fail(format!(
                "p{} latency {:.1}× stable's (at most {ratio}× allowed): {}",
                analysis.latency_percentile,
                c.as_secs_f64() / s.as_secs_f64(),
                figures()
            ));
        }
    }
    Verdict::Pass
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(requests: u64, errors: u64, ms: u64) -> Figures {
        Figures {
            requests,
            errors,
            latency: Some(Duration::from_millis(ms)),
        }
    }

    #[test]
    fn the_defaults_fail_a_canary_clearly_worse_than_stable() {
        let a = Analysis::default();
        let stable = figures(900, 0, 10);
        assert_eq!(judge(&a, &stable, &figures(99, 20, 10)), Verdict::TooFew);
        assert_eq!(judge(&a, &stable, &figures(100, 1, 10)), Verdict::Pass);
        let Verdict::Fail(why) = judge(&a, &stable, &figures(100, 20, 10)) else {
            panic!("20% errors pass");
        };
        assert!(why.contains("20.0% errors (20 of 100)"), "{why}");
        assert!(why.contains("stable 0.0% errors (0 of 900)"), "{why}");
    }

    #[test]
    fn errors_count_against_stable_s_own_rate() {
        let a = Analysis::default();
        assert_eq!(
            judge(&a, &figures(1000, 50, 10), &figures(100, 5, 10)),
            Verdict::Pass,
            "both at 5%"
        );
    }

    #[test]
    fn latency_is_judged_only_when_a_ratio_is_written() {
        let mut a = Analysis::default();
        let (stable, slow) = (figures(900, 0, 10), figures(100, 0, 30));
        assert_eq!(judge(&a, &stable, &slow), Verdict::Pass);
        a.max_latency_ratio = Some(2.0);
        assert!(matches!(judge(&a, &stable, &slow), Verdict::Fail(w) if w.contains("3.0×")));
        assert_eq!(judge(&a, &stable, &figures(100, 0, 15)), Verdict::Pass);
    }
}
