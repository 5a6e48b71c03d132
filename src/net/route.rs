//! Routing by revision: which group of backends (the canary's revision, or the others) one
//! request goes to. Per request, so keep-alive clients spread too: exactly `weight` of every
//! 100 consecutive requests go to the canary, evenly spread (the smooth rule), and a request
//! carrying the canary header always does.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use hyper::header::{HeaderMap, HeaderName, HeaderValue};

use super::revision_stats::RevisionCounters;

/// Where an app's http requests go while a canary runs ([`super::AppListeners::set_canary`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanaryRoute {
    /// The canary's revision; every other revision is the stable group.
    pub revision: String,
    /// Percentage (0–100; more counts as 100) of requests sent to the canary.
    pub weight: u8,
    /// `(name, value)`: a request with this header goes to the canary whatever the weight.
    pub header: Option<(String, String)>,
}

/// Which backends a request may go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Group {
    /// Every backend: no canary, or tcp mode.
    Any,
    /// The canary revision's backends.
    Canary,
    /// Every other revision's backends.
    Stable,
}

/// A [`CanaryRoute`] ready for the request path.
#[derive(Debug)]
pub(crate) struct Route {
    /// The canary revision's counters: a backend is in the canary group iff it shares them.
    pub(crate) canary: Arc<RevisionCounters>,
    /// 0–100.
    weight: u64,
    /// The header, if it is a valid one (an invalid one matches nothing).
    header: Option<(HeaderName, HeaderValue)>,
    /// Requests routed by weight so far.
    next: AtomicU64,
}

impl Route {
    /// Prepares `route`, whose revision's counters are `canary`.
    pub(crate) fn new(route: &CanaryRoute, canary: Arc<RevisionCounters>) -> Self {
        let header = route.header.as_ref().and_then(|(name, value)| {
            let parsed = HeaderName::try_from(name.as_str())
                .ok()
                .zip(HeaderValue::try_from(value.as_str()).ok());
            if parsed.is_none() {
                tracing::warn!(%name, %value, "canary header is not a valid HTTP header: it matches no request");
            }
            parsed
        });
        Self {
            canary,
            weight: u64::from(route.weight.min(100)),
            header,
            next: AtomicU64::new(0),
        }
    }

    /// The group of the next request, whose headers are `headers` (`None`: not http).
    pub(crate) fn group(&self, headers: Option<&HeaderMap>) -> Group {
        if let (Some((name, value)), Some(headers)) = (&self.header, headers) {
            if headers.get(name) == Some(value) {
                return Group::Canary;
            }
        }
        match smooth(self.next.fetch_add(1, Ordering::Relaxed), self.weight) {
            true => Group::Canary,
            false => Group::Stable,
        }
    }

    /// [`Route::group`] for a request whose head the fast path read (`h1.rs`): the header
    /// compared as `HeaderMap::get` would, first line of that name only.
    pub(crate) fn group_raw(&self, headers: &[httparse::Header<'_>]) -> Group {
        if let Some((name, value)) = &self.header {
            let first = headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case(name.as_str()));
            if first.is_some_and(|h| h.value == value.as_bytes()) {
                return Group::Canary;
            }
        }
        match smooth(self.next.fetch_add(1, Ordering::Relaxed), self.weight) {
            true => Group::Canary,
            false => Group::Stable,
        }
    }

    /// True when a backend with revision counters `revision` is in `group`.
    pub(crate) fn admits(&self, group: Group, revision: &Arc<RevisionCounters>) -> bool {
        match group {
            Group::Any => true,
            Group::Canary => Arc::ptr_eq(revision, &self.canary),
            Group::Stable => !Arc::ptr_eq(revision, &self.canary),
        }
    }
}

/// The smooth rule: request `n` (0, 1, …) goes to the canary iff `floor((n+1)·w/100)` passes
/// `floor(n·w/100)`, so any 100 consecutive requests send exactly `w` to the canary, at most
/// one apart from an even spacing.
pub(crate) fn smooth(n: u64, weight: u64) -> bool {
    let m = n % 100;
    (m + 1) * weight / 100 > m * weight / 100
}

/// One request's routing: decided at its first pick and kept for its retries.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Choice<'h> {
    /// The request's headers (`None`: a tcp connection).
    pub(crate) headers: Option<&'h HeaderMap>,
    /// The head as the fast path read it, instead of `headers`.
    pub(crate) raw: Option<&'h [httparse::Header<'h>]>,
    /// The group once decided.
    pub(crate) group: Option<Group>,
}

impl<'h> Choice<'h> {
    /// A tcp connection: least load over every backend, canary or not.
    pub(crate) fn any() -> Self {
        Self {
            headers: None,
            raw: None,
            group: Some(Group::Any),
        }
    }

    /// An http request with `headers`, routed by the canary route if there is one.
    pub(crate) fn request(headers: &'h HeaderMap) -> Self {
        Self {
            headers: Some(headers),
            raw: None,
            group: None,
        }
    }

    /// An http request read by the fast path, routed by the canary route if there is one.
    pub(crate) fn raw(headers: &'h [httparse::Header<'h>]) -> Self {
        Self {
            headers: None,
            raw: Some(headers),
            group: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn route(weight: u8, header: Option<(&str, &str)>) -> Route {
        let spec = CanaryRoute {
            revision: "canary".into(),
            weight,
            header: header.map(|(n, v)| (n.into(), v.into())),
        };
        Route::new(&spec, Arc::default())
    }

    #[test]
    fn each_hundred_requests_send_exactly_the_weight_evenly_spread() {
        let route = route(10, None);
        let groups: Vec<Group> = (0..1000).map(|_| route.group(None)).collect();
        for hundred in groups.chunks(100) {
            assert_eq!(hundred.iter().filter(|g| **g == Group::Canary).count(), 10);
        }
        let at: Vec<usize> = (0..1000).filter(|&i| groups[i] == Group::Canary).collect();
        assert!(at.windows(2).all(|w| w[1] - w[0] == 10), "{at:?}");
        let none: Vec<_> = (0..200).map(|n| smooth(n, 0)).collect();
        assert!(none.iter().all(|c| !c), "weight 0 sends none");
        assert!((0..200).all(|n| smooth(n, 100)), "weight 100 sends all");
    }

    #[test]
    fn the_header_sends_to_the_canary_without_using_a_weighted_turn() {
        let tester = route(0, Some(("X-Corral-Canary", "always")));
        let mut headers = HeaderMap::new();
        assert_eq!(tester.group(Some(&headers)), Group::Stable);
        headers.insert("x-corral-canary", HeaderValue::from_static("always"));
        assert_eq!(tester.group(Some(&headers)), Group::Canary);
        headers.insert("x-corral-canary", HeaderValue::from_static("never"));
        assert_eq!(tester.group(Some(&headers)), Group::Stable);
        assert_eq!(
            tester.next.load(Ordering::Relaxed),
            2,
            "header hits are not counted"
        );
        let bad = route(0, Some(("bad name", "always")));
        assert_eq!(bad.group(Some(&headers)), Group::Stable);
    }

    proptest! {
        /// Any window of 100 consecutive requests, from any start, has exactly `weight`
        /// canary requests, and no two are closer than `100 / weight` rounded down.
        #[test]
        fn any_hundred_consecutive_requests_hold_exactly_the_weight(
            weight in 0u64..=100, start in 0u64..10_000,
        ) {
            let canary: Vec<u64> = (start..start + 300).filter(|&n| smooth(n, weight)).collect();
            let in_first = canary.iter().filter(|&&n| n < start + 100).count() as u64;
            prop_assert_eq!(in_first, weight);
            prop_assert_eq!(canary.len() as u64, 3 * weight);
            if let Some(gap) = 100u64.checked_div(weight) {
                prop_assert!(canary.windows(2).all(|w| w[1] - w[0] >= gap));
            }
        }
    }
}
