//! Kubernetes-style durations (`100ms`, `10s`, `5m`), byte sizes (`300Mi`) and int-or-percent.
//!
//! Each type parses in its `Deserialize` impl so serde_yaml reports the line and column of a bad
//! value, serializes back to a canonical string, and has a hand-written JSON Schema.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A duration written as `100ms`, `10s`, `5m`, `1h30m` (Go's `time.ParseDuration` syntax).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DurationSpec(pub Duration);

/// A byte size written as a Kubernetes quantity: `300Mi`, `1Gi`, `500M`, `1024`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ByteSize(pub u64);

/// A count (`1`) or a percentage of `instances` (`25%`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IntOrPercent {
    /// An absolute count.
    Int(u32),
    /// A percentage, 0 to 100.
    Percent(u32),
}

/// Duration units, longest first, with their length in nanoseconds.
const DURATION_UNITS: [(&str, u128); 7] = [
    ("h", 3_600_000_000_000),
    ("m", 60_000_000_000),
    ("s", 1_000_000_000),
    ("ms", 1_000_000),
    ("us", 1_000),
    ("µs", 1_000),
    ("ns", 1),
];

impl FromStr for DurationSpec {
    type Err = String;

    /// Parses Go duration syntax: one or more `<number><unit>` with units h, m, s, ms, us, ns.
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = |why: &str| {
            format!("{why}, got {s:?}; write a number with a unit such as 100ms, 10s, 5m or 1h30m")
        };
        if s.is_empty() {
            return Err(bad("expected a duration"));
        }
        if s == "0" {
            return Ok(Self(Duration::ZERO));
        }
        let mut rest = s;
        let mut total_ns: u128 = 0;
        while !rest.is_empty() {
            let num_len = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(rest.len());
            if num_len == 0 {
                return Err(bad("expected a duration"));
            }
            let (num, after) = rest.split_at(num_len);
            let unit_len = after
                .find(|c: char| c.is_ascii_digit() || c == '.')
                .unwrap_or(after.len());
            let (unit, next) = after.split_at(unit_len);
            if unit.is_empty() {
                return Err(bad("a duration needs a unit (h, m, s, ms, us, ns)"));
            }
            let Some(&(_, unit_ns)) = DURATION_UNITS.iter().find(|(u, _)| *u == unit) else {
                return Err(bad(&format!("unknown duration unit {unit:?}")));
            };
            total_ns = total_ns
                .checked_add(scale_decimal(num, unit_ns).ok_or_else(|| bad("expected a duration"))?)
                .ok_or_else(|| bad("duration too long"))?;
            rest = next;
        }
        let secs = u64::try_from(total_ns / 1_000_000_000).map_err(|_| bad("duration too long"))?;
        let nanos =
            u32::try_from(total_ns % 1_000_000_000).map_err(|_| bad("duration too long"))?;
        Ok(Self(Duration::new(secs, nanos)))
    }
}

/// `num` (digits with at most one `.`) times `unit`, truncated to an integer; `None` if malformed.
fn scale_decimal(num: &str, unit: u128) -> Option<u128> {
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    if (int.is_empty() && frac.is_empty()) || frac.contains('.') {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let int: u128 = if int.is_empty() { 0 } else { int.parse().ok()? };
    // Digits past the 18th cannot matter for nanoseconds or bytes of any supported unit.
    let frac = &frac[..frac.len().min(18)];
    let frac_value: u128 = if frac.is_empty() {
        0
    } else {
        frac.parse().ok()?
    };
    let value = int
        .checked_mul(unit)?
        .checked_add(frac_value.checked_mul(unit)? / 10u128.pow(frac.len() as u32))?;
    Some(value)
}

impl fmt::Display for DurationSpec {
    /// Canonical form, as Go prints it but without zero parts: `1h30m`, `1.5s`, `100ms`, `0s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total = self.0.as_nanos();
        if total == 0 {
            return f.write_str("0s");
        }
        let (h, rem) = (total / 3_600_000_000_000, total % 3_600_000_000_000);
        let (m, rem) = (rem / 60_000_000_000, rem % 60_000_000_000);
        if h > 0 {
            write!(f, "{h}h")?;
        }
        if m > 0 {
            write!(f, "{m}m")?;
        }
        if rem == 0 {
            return Ok(());
        }
        let (value, unit, digits) = if h > 0 || m > 0 || rem >= 1_000_000_000 {
            (rem, "s", 9)
        } else if rem >= 1_000_000 {
            (rem, "ms", 6)
        } else if rem >= 1_000 {
            (rem, "us", 3)
        } else {
            (rem, "ns", 0)
        };
        let scale = 10u128.pow(digits);
        let (whole, frac) = (value / scale, value % scale);
        if frac == 0 {
            write!(f, "{whole}{unit}")
        } else {
            let frac = format!("{frac:0width$}", width = digits as usize);
            write!(f, "{whole}.{}{unit}", frac.trim_end_matches('0'))
        }
    }
}

/// Size suffixes and their multipliers (Kubernetes quantities, no milli).
const SIZE_SUFFIXES: [(&str, u64); 8] = [
    ("Ki", 1 << 10),
    ("Mi", 1 << 20),
    ("Gi", 1 << 30),
    ("Ti", 1 << 40),
    ("k", 1_000),
    ("M", 1_000_000),
    ("G", 1_000_000_000),
    ("T", 1_000_000_000_000),
];

impl FromStr for ByteSize {
    type Err = String;

    /// Parses `<number>[suffix]` with suffixes Ki Mi Gi Ti (powers of 2) or k M G T (of 10).
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("expected a size such as 300Mi, 1Gi, 500M or 1024 (bytes), got {s:?}");
        let split = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(s.len());
        let (num, suffix) = s.split_at(split);
        let mult = if suffix.is_empty() {
            1
        } else {
            SIZE_SUFFIXES
                .iter()
                .find(|(u, _)| *u == suffix)
                .map(|&(_, m)| m)
                .ok_or_else(bad)?
        };
        let bytes = scale_decimal(num, u128::from(mult)).ok_or_else(bad)?;
        u64::try_from(bytes).map(Self).map_err(|_| bad())
    }
}

impl fmt::Display for ByteSize {
    /// Canonical form: the largest binary suffix that divides exactly, else plain bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (suffix, mult) in SIZE_SUFFIXES[..4].iter().rev() {
            if self.0 != 0 && self.0.is_multiple_of(*mult) {
                return write!(f, "{}{suffix}", self.0 / mult);
            }
        }
        write!(f, "{}", self.0)
    }
}

impl FromStr for IntOrPercent {
    type Err = String;

    /// Parses `3` or `25%` (0 to 100).
    fn from_str(s: &str) -> Result<Self, String> {
        let bad =
            || format!("expected a count such as 1 or a percentage such as \"25%\", got {s:?}");
        if let Some(p) = s.strip_suffix('%') {
            let p: u32 = p.parse().map_err(|_| bad())?;
            if p > 100 {
                return Err(format!("a percentage must be 0% to 100%, got {s:?}"));
            }
            Ok(Self::Percent(p))
        } else {
            s.parse().map(Self::Int).map_err(|_| bad())
        }
    }
}

impl fmt::Display for IntOrPercent {
    /// `3` or `25%`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Int(n) => write!(f, "{n}"),
            Self::Percent(p) => write!(f, "{p}%"),
        }
    }
}

impl IntOrPercent {
    /// The count for `total` instances, a percentage rounded up (Kubernetes' `maxSurge`).
    pub fn resolve_up(self, total: u32) -> u32 {
        match self {
            Self::Int(n) => n,
            Self::Percent(p) => ((u64::from(p) * u64::from(total)).div_ceil(100)) as u32,
        }
    }

    /// The count for `total` instances, a percentage rounded down (Kubernetes' `maxUnavailable`).
    pub fn resolve_down(self, total: u32) -> u32 {
        match self {
            Self::Int(n) => n,
            Self::Percent(p) => (u64::from(p) * u64::from(total) / 100) as u32,
        }
    }

    /// Whether this is zero whatever the instance count (`0` or `0%`).
    pub fn is_zero(self) -> bool {
        matches!(self, Self::Int(0) | Self::Percent(0))
    }
}

/// Serializes a value as its `Display` string.
macro_rules! serialize_as_string {
    ($t:ty) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
    };
}
serialize_as_string!(DurationSpec);
serialize_as_string!(ByteSize);

impl Serialize for IntOrPercent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Int(n) => s.serialize_u32(*n),
            Self::Percent(_) => s.collect_str(self),
        }
    }
}

/// A serde visitor that parses strings (and, when `ints` is set, integers) with `FromStr`.
struct ParseVisitor<T> {
    /// What the value should look like, for serde's "expected" messages.
    expecting: &'static str,
    /// Whether YAML integers are accepted (formatted then parsed).
    ints: bool,
    /// The target type.
    _t: std::marker::PhantomData<T>,
}

impl<T: FromStr<Err = String>> Visitor<'_> for ParseVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        v.parse().map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        if self.ints {
            v.to_string().parse().map_err(E::custom)
        } else {
            Err(E::custom(format!(
                "expected {}, got the bare number {v}; add a unit",
                self.expecting
            )))
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        match u64::try_from(v) {
            Ok(u) => self.visit_u64(u),
            Err(_) => Err(E::custom(format!(
                "expected {}, got the negative number {v}",
                self.expecting
            ))),
        }
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
        Err(E::custom(format!(
            "expected {}, got the number {v}; write it as a quoted string",
            self.expecting
        )))
    }
}

/// Deserializes a value through `ParseVisitor`.
macro_rules! deserialize_parsed {
    ($t:ty, $expecting:expr, $ints:expr) => {
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_any(ParseVisitor {
                    expecting: $expecting,
                    ints: $ints,
                    _t: std::marker::PhantomData,
                })
            }
        }
    };
}
deserialize_parsed!(
    DurationSpec,
    "a duration such as 100ms, 10s, 5m or 1h30m",
    false
);
deserialize_parsed!(ByteSize, "a size such as 300Mi, 1Gi, 500M or 1024", true);
deserialize_parsed!(
    IntOrPercent,
    "a count such as 1 or a percentage such as \"25%\"",
    true
);

/// Regex for Go durations, shared by the schema and its tests.
pub const DURATION_PATTERN: &str = r"^(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(h|m|s|ms|us|µs|ns))+)$";
/// Regex for byte-size strings.
pub const SIZE_PATTERN: &str = r"^([0-9]+(\.[0-9]*)?|\.[0-9]+)(Ki|Mi|Gi|Ti|k|M|G|T)?$";
/// Regex for percentages 0% to 100%.
pub const PERCENT_PATTERN: &str = r"^(100|[1-9]?[0-9])%$";

impl JsonSchema for DurationSpec {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A duration: a number with a unit (h, m, s, ms, us, ns), e.g. `100ms`, `10s`, `5m`, `1h30m`.",
            "type": "string",
            "pattern": DURATION_PATTERN,
        })
    }
}

impl JsonSchema for ByteSize {
    fn schema_name() -> Cow<'static, str> {
        "ByteSize".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A size in bytes, as a Kubernetes quantity: `300Mi`, `1Gi` (powers of 2), `500M` (powers of 10), or plain bytes.",
            "oneOf": [
                {"type": "string", "pattern": SIZE_PATTERN},
                {"type": "integer", "minimum": 0},
            ],
        })
    }
}

impl JsonSchema for IntOrPercent {
    fn schema_name() -> Cow<'static, str> {
        "IntOrPercent".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A count of instances (`1`) or a percentage of `instances` (`\"25%\"`).",
            "oneOf": [
                {"type": "integer", "minimum": 0},
                {"type": "string", "pattern": PERCENT_PATTERN},
            ],
        })
    }
}

#[cfg(test)]
#[path = "quantity_tests.rs"]
mod tests;
