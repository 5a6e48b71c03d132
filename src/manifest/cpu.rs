//! A Kubernetes CPU quantity (`500m`, `1.5`, `2`): cores, counted in millicores.
//!
//! Parses in its `Deserialize` impl (YAML strings, integers and floats, as Kubernetes accepts
//! `cpu: 1.5` unquoted) so serde_yaml reports the line and column of a bad value, serializes
//! back to Kubernetes' canonical string (`2`, `1500m`), and has a hand-written JSON Schema.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// CPU time as a Kubernetes quantity, in millicores (1000 = one core): `500m`, `1.5`, `2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CpuQuantity(pub u32);

/// The most a quantity may say: a million cores (in millicores), beyond any machine.
const MAX_MILLICORES: u64 = 1_000_000_000;

/// Regex for CPU quantities: cores (`2`, `1.5`, `.5`) or millicores (`500m`).
pub const CPU_PATTERN: &str = r"^([0-9]+(\.[0-9]{0,3})?|\.[0-9]{1,3}|[0-9]+m)$";

impl FromStr for CpuQuantity {
    type Err = String;

    /// Parses cores with at most three decimals (`1.5`, `0.25`) or whole millicores (`500m`);
    /// more than 0.
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = |why: &str| {
            format!("{why}, got {s:?}; write cores such as \"1.5\" or \"2\", or millicores such as \"500m\"")
        };
        let millis = match s.strip_suffix('m') {
            Some(m) if !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit()) => {
                m.parse::<u64>()
                    .map_err(|_| bad("a CPU quantity too large"))?
            }
            Some(_) => return Err(bad("expected a whole number of millicores before m")),
            None => {
                let (int, frac) = s.split_once('.').unwrap_or((s, ""));
                let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
                if (int.is_empty() && frac.is_empty()) || !digits(int) || !digits(frac) {
                    return Err(bad("expected a CPU quantity"));
                }
                if frac.len() > 3 {
                    return Err(bad("a CPU quantity is precise to 1m (0.001 cores) at most"));
                }
                let int: u64 = if int.is_empty() {
                    0
                } else {
                    int.parse().map_err(|_| bad("a CPU quantity too large"))?
                };
                let frac: u64 = format!("{frac:0<3}").parse().unwrap_or(0);
                int.checked_mul(1000)
                    .and_then(|m| m.checked_add(frac))
                    .ok_or_else(|| bad("a CPU quantity too large"))?
            }
        };
        if millis == 0 {
            return Err(bad("a CPU limit of 0 would never let the app run"));
        }
        if millis > MAX_MILLICORES {
            return Err(bad("a CPU quantity too large (at most a million cores)"));
        }
        Ok(Self(millis as u32))
    }
}

impl fmt::Display for CpuQuantity {
    /// Kubernetes' canonical form: whole cores as `2`, anything else in millicores (`1500m`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_multiple_of(1000) {
            write!(f, "{}", self.0 / 1000)
        } else {
            write!(f, "{}m", self.0)
        }
    }
}

impl Serialize for CpuQuantity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Reads strings, integers (`2`) and floats (`1.5`), as Kubernetes does.
struct CpuVisitor;

impl Visitor<'_> for CpuVisitor {
    type Value = CpuQuantity;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a CPU quantity such as \"500m\", 1.5 or 2")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<CpuQuantity, E> {
        v.parse().map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<CpuQuantity, E> {
        v.to_string().parse().map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<CpuQuantity, E> {
        match u64::try_from(v) {
            Ok(u) => self.visit_u64(u),
            Err(_) => Err(E::custom(format!(
                "a CPU quantity cannot be negative, got {v}; write cores such as \"1.5\" or millicores such as \"500m\""
            ))),
        }
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<CpuQuantity, E> {
        if !v.is_finite() || v < 0.0 {
            return Err(E::custom(format!(
                "expected a CPU quantity such as \"500m\" or 1.5, got {v}"
            )));
        }
        v.to_string().parse().map_err(E::custom)
    }
}

impl<'de> Deserialize<'de> for CpuQuantity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(CpuVisitor)
    }
}

impl JsonSchema for CpuQuantity {
    fn schema_name() -> Cow<'static, str> {
        "CpuQuantity".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "CPU as a Kubernetes quantity: cores (`2`, `1.5`, at most three decimals) or millicores (`500m`); more than 0.",
            "oneOf": [
                {"type": "string", "pattern": CPU_PATTERN},
                {"type": "number", "exclusiveMinimum": 0},
            ],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cpu(s: &str) -> Result<u32, String> {
        s.parse::<CpuQuantity>().map(|c| c.0)
    }

    #[test]
    fn parses_cores_and_millicores_like_kubernetes() {
        assert_eq!(cpu("500m"), Ok(500));
        assert_eq!(cpu("1.5"), Ok(1500));
        assert_eq!(cpu("2"), Ok(2000));
        assert_eq!(cpu("0.25"), Ok(250));
        assert_eq!(cpu(".1"), Ok(100));
        assert_eq!(cpu("1."), Ok(1000));
        assert_eq!(cpu("1m"), Ok(1));
        assert_eq!(cpu("0.001"), Ok(1));
    }

    #[test]
    fn refuses_what_kubernetes_would_not_run() {
        for (text, why) in [
            ("0", "of 0 would never"),
            ("0m", "of 0 would never"),
            ("0.0001", "precise to 1m"),
            ("1.5m", "whole number of millicores"),
            ("m", "whole number of millicores"),
            ("", "expected a CPU quantity"),
            (".", "expected a CPU quantity"),
            ("-1", "expected a CPU quantity"),
            ("1 core", "expected a CPU quantity"),
            ("2Gi", "expected a CPU quantity"),
            ("1e3", "expected a CPU quantity"),
            ("99999999999", "too large"),
        ] {
            let err = cpu(text).expect_err(text);
            assert!(err.contains(why), "{text:?}: {err}");
            assert!(err.contains("500m"), "says how to fix it: {err}");
        }
    }

    #[test]
    fn yaml_numbers_and_strings_are_read() {
        let y = |s: &str| serde_yaml::from_str::<CpuQuantity>(s).map_err(|e| e.to_string());
        assert_eq!(y("1.5"), Ok(CpuQuantity(1500)));
        assert_eq!(y("2"), Ok(CpuQuantity(2000)));
        assert_eq!(y("500m"), Ok(CpuQuantity(500)));
        assert_eq!(y("'0.5'"), Ok(CpuQuantity(500)));
        assert!(y("-1").unwrap_err().contains("cannot be negative"));
        assert!(y("0").unwrap_err().contains("of 0"));
        assert!(y("[1]").is_err());
    }

    #[test]
    fn prints_canonically() {
        assert_eq!(CpuQuantity(2000).to_string(), "2");
        assert_eq!(CpuQuantity(1500).to_string(), "1500m");
        assert_eq!(CpuQuantity(1).to_string(), "1m");
    }

    #[test]
    fn the_schema_agrees_with_the_parser() {
        let schema = serde_json::to_value(schemars::schema_for!(CpuQuantity)).unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        use serde_json::json;
        for good in [
            json!("500m"),
            json!("1.5"),
            json!("2"),
            json!(1.5),
            json!(2),
        ] {
            assert!(validator.is_valid(&good), "rejects {good}");
        }
        for bad in [
            json!("1.5m"),
            json!("0.0001"),
            json!("2Gi"),
            json!(-1),
            json!(0),
        ] {
            assert!(!validator.is_valid(&bad), "accepts {bad}");
        }
    }

    proptest! {
        #[test]
        fn round_trips_through_text_and_yaml(m in 1u32..=1_000_000_000) {
            let q = CpuQuantity(m);
            prop_assert_eq!(q.to_string().parse::<CpuQuantity>(), Ok(q));
            let yaml = serde_yaml::to_string(&q).unwrap();
            prop_assert_eq!(serde_yaml::from_str::<CpuQuantity>(&yaml).unwrap(), q);
        }

        #[test]
        fn cores_with_three_decimals_are_exact(int in 0u32..1000, frac in 0u32..1000) {
            prop_assume!(int > 0 || frac > 0);
            let text = format!("{int}.{frac:03}");
            prop_assert_eq!(cpu(&text), Ok(int * 1000 + frac));
        }

        #[test]
        fn no_text_panics_the_parser(s in "\\PC{0,12}") {
            let _ = s.parse::<CpuQuantity>();
        }
    }
}
