//! Which corral is on each end of the control socket, carried in HTTP headers that older peers
//! ignore: every request says the client's version, every reply the controller's.
//!
//! The compatibility rule: within `/v1`, routes and JSON fields are only ever added (a new
//! field has a default), so a client talks to any controller of the same or a newer version,
//! and to an older one as long as it uses only what that one had. When it does not (a route the
//! controller does not know, a reply it cannot read), the client names both versions and which
//! corral to use instead ([`ClientError::Mismatch`](super::ClientError::Mismatch)).

use hyper::header::HeaderMap;
use serde::{Deserialize, Serialize};

/// This corral's version (Cargo's `package.version`).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The header naming the sender's corral version, on requests (client) and replies (controller).
pub const VERSION_HEADER: &str = "corral-version";

/// The `reason` of the error reply to a route the controller does not know.
pub const UNKNOWN_ROUTE: &str = "UnknownRoute";

/// The start of the error sentence every controller so far sends for an unknown route (those
/// before [`UNKNOWN_ROUTE`] existed are recognised by it).
pub(super) const UNKNOWN_ROUTE_SENTENCE: &str = "no such API route";

/// One side's version, as `corral version -o json|yaml` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionInfo {
    /// corral's version, e.g. `0.1.0`.
    pub version: String,
    /// The control API it speaks, e.g. `v1`.
    pub api_version: String,
}

impl VersionInfo {
    /// This corral's.
    pub fn this() -> Self {
        Self::of(VERSION)
    }

    /// A corral of `version` (every version so far speaks `v1`).
    pub fn of(version: &str) -> Self {
        Self {
            version: version.to_owned(),
            api_version: "v1".to_owned(),
        }
    }
}

/// The version a peer sent in `headers`, if it sent one.
pub fn peer_version(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(VERSION_HEADER)?.to_str().ok()?;
    Some(value.trim().to_owned()).filter(|v| !v.is_empty())
}

/// What to do when this client and a controller of `controller` cannot work together, as a
/// sentence: which corral to run, or how to bring the controller up to this one.
pub fn advice(controller: &str, controller_exe: Option<&str>) -> String {
    let theirs = match controller_exe {
        Some(exe) => format!("corral {controller} (the controller runs {exe})"),
        None => format!("corral {controller}"),
    };
    if newer(controller, VERSION) {
        format!(
            "use {theirs} for this command, or stop that controller and start it with corral \
             {VERSION}"
        )
    } else {
        format!(
            "use {theirs} for this command, or upgrade the controller to corral {VERSION}: \
             install it, then run `corral upgrade`"
        )
    }
}

/// Whether version `a` is newer than `b` (dotted numbers; a pre-release tag compares as text).
pub fn newer(a: &str, b: &str) -> bool {
    let parts = |v: &str| -> Vec<u64> {
        v.split(['.', '-', '+'])
            .map_while(|p| p.parse::<u64>().ok())
            .collect()
    };
    match parts(a).cmp(&parts(b)) {
        std::cmp::Ordering::Equal => a > b,
        order => order == std::cmp::Ordering::Greater,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_dotted_versions_as_numbers() {
        assert!(newer("0.10.0", "0.9.1"));
        assert!(newer("1.0.0", "0.99.99"));
        assert!(!newer("0.1.0", "0.1.0"));
        assert!(!newer("0.1.0", "0.2.0"));
    }

    #[test]
    fn advice_names_the_version_to_use() {
        let old = advice("0.0.9", Some("/usr/bin/corral"));
        assert!(old.contains("use corral 0.0.9 (the controller runs /usr/bin/corral)"));
        assert!(old.contains(&format!("upgrade the controller to corral {VERSION}")));
        let new = advice("99.0.0", None);
        assert!(new.contains("use corral 99.0.0 for this command"), "{new}");
        assert!(
            new.contains(&format!("start it with corral {VERSION}")),
            "{new}"
        );
    }
}
