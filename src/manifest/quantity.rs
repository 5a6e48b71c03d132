//! Kubernetes-style durations (`100ms`, `10s`, `5m`), byte sizes (`300Mi`) and int-or-percent.
// STUB: to be written by the manifest work.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A duration written as `100ms`, `10s`, `5m`, `1h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct DurationSpec(pub std::time::Duration);

/// A byte size written as a Kubernetes quantity: `300Mi`, `1Gi`, `500M`, `1024`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct ByteSize(pub u64);

/// A count (`1`) or a percentage of `instances` (`25%`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum IntOrPercent {
    /// An absolute count.
    Int(u32),
    /// A percentage.
    Percent(u32),
}
