//! One app's progressive rollout as a state machine, PURE (time comes in as unix ms): which
//! step it is at, the weight in force, whether it is paused, promoted or aborted. Saved as is
//! (`saved.rs`), so a controller killed mid-canary resumes at the same step with the same weight.

use serde::{Deserialize, Serialize};

use crate::manifest::CanaryStep;
use crate::reconcile::CanaryHold;

/// What kind of rollout a run guards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kind {
    /// `strategy.type: Canary`: steps, weights, analysis.
    Canary,
    /// A rolling update with `autoRollback: true`: rolled back past `progressDeadline`.
    Rolling,
    /// `strategy.type: BlueGreen`: the new revision in full behind the preview port, then the
    /// public port switched at once, the old revision kept for `scaleDownDelay`.
    BlueGreen,
}

/// A rollout from the `stable` revision to the `canary` one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Run {
    /// Canary or rolling.
    pub kind: Kind,
    /// The revision that ran in full before (what an abort goes back to).
    pub stable: String,
    /// The revision the manifest asks for.
    pub canary: String,
    /// Index of the step in force (`steps.len()` once every step is done).
    pub step: usize,
    /// When that step began (unix ms), for `pause: {duration}`.
    pub step_since_ms: u64,
    /// The canary's share of requests (http) or of instances, in percent.
    pub weight: u8,
    /// `corral rollout pause`: no step advances until `resume`.
    pub paused: bool,
    /// Past the last step (or `promote --full`): a rolling update to the canary revision.
    pub promoted: bool,
    /// Why it was aborted (the figures that decided it); the stable revision runs again.
    pub aborted: Option<String>,
    /// Failed analysis checks (and canary crashes) so far in this run.
    pub failed_checks: u32,
    /// Passed analysis checks so far (a BlueGreen with `analysis` promotes itself after one).
    #[serde(default)]
    pub passed_checks: u32,
    /// BlueGreen: since when every new instance is ready (unix ms), for `autoPromotionSeconds`.
    #[serde(default)]
    pub ready_since_ms: Option<u64>,
    /// BlueGreen: when the public port switched to the new revision (unix ms).
    #[serde(default)]
    pub switched_ms: Option<u64>,
}

/// What a BlueGreen run's timing comes from (`strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlueGreenTimes {
    /// `autoPromotionSeconds`: switch this long after every new instance is ready; `None`:
    /// wait for `corral rollout promote`.
    pub auto_promotion: Option<std::time::Duration>,
    /// `scaleDownDelay`: the old revision's instances stay this long after the switch.
    pub scale_down_delay: std::time::Duration,
    /// `analysis` is written: the switch waits for a passed check on the preview traffic.
    pub needs_analysis: bool,
}

/// Something a step change is worth saying, as an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// `setWeight` took effect.
    Weight(u8),
    /// An indefinite `pause: {}` was reached: waiting for `corral rollout promote`.
    AwaitingPromotion,
    /// Every step is done: the canary revision rolls out in full.
    Promoted,
    /// BlueGreen: the public port now sends every request to the new revision.
    Switched,
}

impl Run {
    /// A fresh run at its first step.
    pub fn new(kind: Kind, stable: &str, canary: &str, now_ms: u64) -> Self {
        Self {
            kind,
            stable: stable.to_owned(),
            canary: canary.to_owned(),
            step: 0,
            step_since_ms: now_ms,
            weight: 0,
            paused: false,
            promoted: kind == Kind::Rolling,
            aborted: None,
            failed_checks: 0,
            passed_checks: 0,
            ready_since_ms: None,
            switched_ms: None,
        }
    }

    /// The revision the app should run now: the stable one once aborted.
    pub fn revision(&self) -> &str {
        match self.aborted {
            Some(_) => &self.stable,
            None => &self.canary,
        }
    }

    /// Whether canary and stable run side by side now (a step in force, not promoted).
    pub fn holding(&self) -> bool {
        self.kind != Kind::Rolling && !self.promoted && self.aborted.is_none()
    }

    /// What the planner must hold for an app of `replicas` instances.
    pub fn hold(&self, replicas: u32) -> Option<CanaryHold> {
        let instances = match self.kind {
            Kind::BlueGreen => replicas,
            _ => CanaryHold::instances_for(self.weight, replicas),
        };
        self.holding().then(|| CanaryHold {
            stable: self.stable.clone(),
            instances,
        })
    }

    /// Moves through the steps that are done: `canary_ready` canary instances are ready of
    /// the `replicas`; returns what changed and when to look again (a pause's end).
    pub fn advance(
        &mut self,
        steps: &[CanaryStep],
        replicas: u32,
        canary_ready: u32,
        now_ms: u64,
    ) -> (Vec<Note>, Option<u64>) {
        let mut notes = Vec::new();
        while self.kind == Kind::Canary && self.holding() && !self.paused {
            match steps.get(self.step) {
                None | Some(CanaryStep::SetWeight(100..)) => {
                    self.promoted = true;
                    self.weight = 100;
                    notes.push(Note::Promoted);
                }
                Some(CanaryStep::SetWeight(w)) => {
                    if self.weight != *w {
                        self.weight = *w;
                        notes.push(Note::Weight(*w));
                    }
                    if canary_ready < CanaryHold::instances_for(*w, replicas) {
                        break;
                    }
                    self.next(now_ms);
                }
                Some(CanaryStep::Pause { duration: Some(d) }) => {
                    let end = self.step_since_ms.saturating_add(d.0.as_millis() as u64);
                    if now_ms < end {
                        return (notes, Some(end));
                    }
                    self.next(now_ms);
                }
                Some(CanaryStep::Pause { duration: None }) => {
                    if !notes.contains(&Note::AwaitingPromotion) && self.step_since_ms == now_ms {
                        notes.push(Note::AwaitingPromotion);
                    }
                    break;
                }
            }
        }
        (notes, None)
    }

    /// A BlueGreen run's progress: the switch once every new instance is ready (and after
    /// `autoPromotionSeconds`, and a passed check when analysis is written), then the end of
    /// the old revision after `scaleDownDelay`. Returns what changed and when to look again.
    pub fn advance_blue_green(
        &mut self,
        times: &BlueGreenTimes,
        replicas: u32,
        new_ready: u32,
        now_ms: u64,
    ) -> (Vec<Note>, Option<u64>) {
        let mut notes = Vec::new();
        if !self.holding() || self.paused {
            return (notes, None);
        }
        if let Some(switched) = self.switched_ms {
            let end = switched.saturating_add(times.scale_down_delay.as_millis() as u64);
            if now_ms < end {
                return (notes, Some(end));
            }
            self.promoted = true;
            notes.push(Note::Promoted);
            return (notes, None);
        }
        if new_ready < replicas.max(1) {
            self.ready_since_ms = None;
            return (notes, None);
        }
        let since = *self.ready_since_ms.get_or_insert(now_ms);
        let Some(after) = times.auto_promotion else {
            if since == now_ms {
                notes.push(Note::AwaitingPromotion);
            }
            return (notes, None);
        };
        let due = since.saturating_add(after.as_millis() as u64);
        if now_ms < due {
            return (notes, Some(due));
        }
        if times.needs_analysis && self.passed_checks == 0 {
            return (notes, None);
        }
        self.switch(now_ms);
        notes.push(Note::Switched);
        let (more, wake) = self.advance_blue_green(times, replicas, new_ready, now_ms);
        notes.extend(more);
        (notes, wake)
    }

    /// BlueGreen: every public request goes to the new revision from now on.
    fn switch(&mut self, now_ms: u64) {
        self.weight = 100;
        self.switched_ms = Some(now_ms);
    }

    /// `corral rollout promote`: ends the step in force (a pause); `full` skips every step left.
    /// A BlueGreen switches the public port now (`full`: and lets the old revision go now).
    pub fn promote(&mut self, steps: &[CanaryStep], full: bool, now_ms: u64) {
        self.paused = false;
        if self.kind == Kind::BlueGreen {
            if self.switched_ms.is_none() {
                self.switch(now_ms);
            } else {
                self.promoted = true;
            }
            self.promoted |= full;
            return;
        }
        // A pause ends; a `setWeight` still waiting for its instances is skipped.
        self.step = if full { steps.len() } else { self.step + 1 };
        self.step_since_ms = now_ms;
    }

    /// Aborts: the stable revision runs again, every canary instance stops.
    pub fn abort(&mut self, why: String) {
        self.aborted = Some(why);
        self.paused = false;
    }

    /// `corral rollout retry`: the aborted run starts again at its first step.
    pub fn retry(&mut self, now_ms: u64) {
        *self = Self::new(
            self.kind,
            &self.stable.clone(),
            &self.canary.clone(),
            now_ms,
        );
    }

    fn next(&mut self, now_ms: u64) {
        self.step += 1;
        self.step_since_ms = now_ms;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::quantity::DurationSpec;
    use std::time::Duration;

    fn steps() -> Vec<CanaryStep> {
        vec![
            CanaryStep::SetWeight(10),
            CanaryStep::Pause {
                duration: Some(DurationSpec(Duration::from_secs(60))),
            },
            CanaryStep::SetWeight(50),
            CanaryStep::Pause { duration: None },
        ]
    }

    #[test]
    fn a_weight_step_waits_for_its_instances_then_a_pause_for_its_time() {
        let steps = steps();
        let mut run = Run::new(Kind::Canary, "a", "b", 1_000);
        let (notes, wake) = run.advance(&steps, 4, 0, 1_000);
        assert_eq!((notes, wake, run.step), (vec![Note::Weight(10)], None, 0));
        assert_eq!(run.hold(4).map(|h| h.instances), Some(1));
        let (notes, wake) = run.advance(&steps, 4, 1, 2_000);
        assert_eq!((notes, wake, run.step), (vec![], Some(62_000), 1));
        let (notes, _) = run.advance(&steps, 4, 1, 62_000);
        assert_eq!(notes, vec![Note::Weight(50)]);
        assert_eq!(run.hold(4).map(|h| h.instances), Some(2));
        let (notes, wake) = run.advance(&steps, 4, 2, 63_000);
        assert_eq!(
            (notes, wake, run.step),
            (vec![Note::AwaitingPromotion], None, 3)
        );
        let (notes, _) = run.advance(&steps, 4, 2, 64_000);
        assert!(notes.is_empty(), "the wait is said once");
        run.promote(&steps, false, 65_000);
        let (notes, _) = run.advance(&steps, 4, 2, 65_000);
        assert_eq!(notes, vec![Note::Promoted]);
        assert!(run.hold(4).is_none() && run.revision() == "b");
    }

    #[test]
    fn pause_stops_the_steps_and_resume_goes_on() {
        let steps = steps();
        let mut run = Run::new(Kind::Canary, "a", "b", 0);
        run.paused = true;
        assert_eq!(run.advance(&steps, 4, 1, 0), (vec![], None));
        assert_eq!(run.weight, 0, "nothing advanced");
        run.paused = false;
        run.advance(&steps, 4, 1, 0);
        assert_eq!((run.weight, run.step), (10, 1));
    }

    #[test]
    fn abort_runs_stable_and_retry_starts_over() {
        let steps = steps();
        let mut run = Run::new(Kind::Canary, "a", "b", 0);
        run.advance(&steps, 4, 1, 0);
        run.abort("error rate".into());
        assert_eq!(run.revision(), "a");
        assert!(run.hold(4).is_none());
        assert_eq!(run.advance(&steps, 4, 1, 10), (vec![], None));
        run.retry(20);
        assert_eq!((run.revision(), run.step, run.weight), ("b", 0, 0));
        assert!(run.hold(4).is_some());
    }

    #[test]
    fn set_weight_100_and_the_end_of_the_steps_promote() {
        let steps = vec![CanaryStep::SetWeight(20), CanaryStep::SetWeight(100)];
        let mut run = Run::new(Kind::Canary, "a", "b", 0);
        let (notes, _) = run.advance(&steps, 5, 1, 0);
        assert_eq!(notes, vec![Note::Weight(20), Note::Promoted]);
        let mut full = Run::new(Kind::Canary, "a", "b", 0);
        full.promote(&steps, true, 1);
        assert_eq!(full.advance(&steps, 5, 0, 1).0, vec![Note::Promoted]);
    }

    #[test]
    fn a_rolling_run_holds_nothing_and_rolls_back_on_abort() {
        let mut run = Run::new(Kind::Rolling, "a", "b", 0);
        assert!(run.hold(3).is_none());
        assert_eq!(run.advance(&[], 3, 0, 0), (vec![], None));
        run.abort("deadline".into());
        assert_eq!(run.revision(), "a");
    }
}

#[cfg(test)]
mod blue_green_tests {
    use super::*;
    use std::time::Duration;

    fn times(auto: Option<u64>, analysis: bool) -> BlueGreenTimes {
        BlueGreenTimes {
            auto_promotion: auto.map(Duration::from_secs),
            scale_down_delay: Duration::from_secs(30),
            needs_analysis: analysis,
        }
    }

    #[test]
    fn the_new_revision_comes_up_in_full_then_switches_then_the_old_goes() {
        let t = times(Some(5), false);
        let mut run = Run::new(Kind::BlueGreen, "a", "b", 0);
        assert_eq!(
            run.hold(4).map(|h| h.instances),
            Some(4),
            "in full beside stable"
        );
        assert_eq!(run.advance_blue_green(&t, 4, 3, 1_000), (vec![], None));
        assert_eq!(run.weight, 0, "the public port stays on stable");
        assert_eq!(
            run.advance_blue_green(&t, 4, 4, 2_000),
            (vec![], Some(7_000))
        );
        let (notes, wake) = run.advance_blue_green(&t, 4, 4, 7_000);
        assert_eq!((notes, wake), (vec![Note::Switched], Some(37_000)));
        assert_eq!(run.weight, 100);
        assert!(
            run.hold(4).is_some(),
            "the old revision is kept for the delay"
        );
        let (notes, _) = run.advance_blue_green(&t, 4, 4, 37_000);
        assert_eq!(notes, vec![Note::Promoted]);
        assert!(run.hold(4).is_none());
    }

    #[test]
    fn without_auto_promotion_it_waits_for_promote_and_abort_goes_back_at_once() {
        let t = times(None, false);
        let mut run = Run::new(Kind::BlueGreen, "a", "b", 0);
        let (notes, _) = run.advance_blue_green(&t, 2, 2, 10);
        assert_eq!(notes, vec![Note::AwaitingPromotion]);
        assert_eq!(run.advance_blue_green(&t, 2, 2, 20), (vec![], None));
        run.promote(&[], false, 30);
        assert_eq!((run.weight, run.switched_ms), (100, Some(30)));
        run.abort("by hand".into());
        assert_eq!(run.revision(), "a");
        assert!(run.hold(2).is_none());
    }

    #[test]
    fn with_analysis_the_switch_waits_for_a_passed_check() {
        let t = times(Some(0), true);
        let mut run = Run::new(Kind::BlueGreen, "a", "b", 0);
        assert_eq!(run.advance_blue_green(&t, 2, 2, 10).0, vec![]);
        run.passed_checks = 1;
        assert_eq!(run.advance_blue_green(&t, 2, 2, 20).0, vec![Note::Switched]);
    }
}
