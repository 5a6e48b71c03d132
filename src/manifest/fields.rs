//! Field-level checks run inside deserialization, so serde_yaml reports their line and column.
//!
//! Each function is a `#[serde(deserialize_with = "...")]` target for a field of `types.rs`.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// Regex for environment variable names (what `sh` accepts).
pub const ENV_NAME_PATTERN: &str = "^[A-Za-z_][A-Za-z0-9_]*$";

/// Whether `name` is a valid environment variable name.
pub fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A TCP port, 1 to 65535.
pub fn port<'de, D: Deserializer<'de>>(d: D) -> Result<u16, D::Error> {
    int_in(d, 1, 65535, "a port from 1 to 65535").map(|n| n as u16)
}

/// An optional TCP port, 1 to 65535; `null` means unset.
pub fn opt_port<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u16>, D::Error> {
    /// `port` for the `Some` case.
    struct Port(u16);
    impl<'de> Deserialize<'de> for Port {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            port(d).map(Port)
        }
    }
    Ok(Option::<Port>::deserialize(d)?.map(|p| p.0))
}

/// A count that must be at least 1.
pub fn positive<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    int_in(d, 1, i64::from(u32::MAX), "an integer ≥ 1").map(|n| n as u32)
}

/// A canary weight: a percentage from 0 to 100.
pub fn weight<'de, D: Deserializer<'de>>(d: D) -> Result<u8, D::Error> {
    int_in(
        d,
        0,
        100,
        "a weight from 0 to 100 (the percentage sent to the canary; 100 promotes it)",
    )
    .map(|n| n as u8)
}

/// An optional count that must be at least 1; `null` means unset.
pub fn opt_positive<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    /// `positive` for the `Some` case.
    struct Positive(u32);
    impl<'de> Deserialize<'de> for Positive {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            positive(d).map(Positive)
        }
    }
    Ok(Option::<Positive>::deserialize(d)?.map(|p| p.0))
}

/// An integer in `min..=max`, checked inside the visitor so the error points at the value.
pub(crate) fn int_in<'de, D: Deserializer<'de>>(
    d: D,
    min: i64,
    max: i64,
    expecting: &'static str,
) -> Result<i64, D::Error> {
    /// Checks the range of an integer.
    struct V(i64, i64, &'static str);
    impl Visitor<'_> for V {
        type Value = i64;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.2)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
            if (self.0..=self.1).contains(&v) {
                Ok(v)
            } else {
                Err(E::custom(format!("expected {}, got {v}", self.2)))
            }
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
            match i64::try_from(v) {
                Ok(v) => self.visit_i64(v),
                Err(_) => Err(E::custom(format!("expected {}, got {v}", self.2))),
            }
        }
    }
    d.deserialize_i64(V(min, max, expecting))
}

/// Reads a string and converts it inside the visitor, so an error points at the value.
pub fn str_with<'de, D, T, F>(d: D, expecting: &'static str, convert: F) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    F: FnOnce(&str) -> Result<T, String>,
{
    /// Applies the conversion to the visited string.
    struct V<F>(F, &'static str);
    impl<T, F: FnOnce(&str) -> Result<T, String>> Visitor<'_> for V<F> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.1)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
            (self.0)(v).map_err(E::custom)
        }
    }
    d.deserialize_str(V(convert, expecting))
}

/// A non-empty argv whose first element (the program) is not blank.
pub fn argv<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let v = Vec::<String>::deserialize(d)?;
    check_argv(&v).map_err(de::Error::custom)?;
    Ok(v)
}

/// Checks an argv list: not empty, program not blank.
pub fn check_argv(v: &[String]) -> Result<(), String> {
    match v.first() {
        None => Err(
            "the command is empty; give at least the program, e.g. [\"node\", \"server.js\"]"
                .into(),
        ),
        Some(p) if p.trim().is_empty() => {
            Err("the command's program (first element) is blank; name the program to run".into())
        }
        Some(_) => Ok(()),
    }
}

/// An environment map: valid names, string values.
pub fn env<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    d.deserialize_map(EnvVisitor)
}

/// Visits an environment map, checking each name and value.
struct EnvVisitor;

impl<'de> Visitor<'de> for EnvVisitor {
    type Value = BTreeMap<String, String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map of environment variable names to string values")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(BTreeMap::new())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = BTreeMap::new();
        while let Some(EnvName(name)) = map.next_key()? {
            let value = map.next_value::<EnvValue>()?;
            out.insert(name, value.0);
        }
        Ok(out)
    }
}

/// An environment variable name, checked as it is read so the error points at it.
struct EnvName(String);

impl<'de> Deserialize<'de> for EnvName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        str_with(d, "an environment variable name", |name| {
            if is_env_name(name) {
                Ok(EnvName(name.to_owned()))
            } else {
                Err(format!(
                    "{name:?} is not a valid environment variable name; use letters, digits and _, not starting with a digit (e.g. NODE_ENV)"
                ))
            }
        })
    }
}

/// An environment value; numbers and booleans must be quoted, and the error says so.
struct EnvValue(String);

impl<'de> Deserialize<'de> for EnvValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// Accepts strings only, explaining how to write other scalars.
        struct V;
        impl Visitor<'_> for V {
            type Value = EnvValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<EnvValue, E> {
                Ok(EnvValue(v.to_owned()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<EnvValue, E> {
                Err(quote_it(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<EnvValue, E> {
                Err(quote_it(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<EnvValue, E> {
                Err(quote_it(v))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<EnvValue, E> {
                Err(quote_it(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// The error for an unquoted non-string environment value.
fn quote_it<E: de::Error>(v: impl fmt::Display) -> E {
    E::custom(format!("environment values are strings; quote it: \"{v}\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names_follow_the_shell_rule() {
        assert!(is_env_name("NODE_ENV"));
        assert!(is_env_name("_x1"));
        assert!(!is_env_name("1X"));
        assert!(!is_env_name("A-B"));
        assert!(!is_env_name(""));
    }

    #[test]
    fn argv_must_name_a_program() {
        assert!(check_argv(&[]).is_err());
        assert!(check_argv(&[" ".into()]).is_err());
        assert!(check_argv(&["node".into()]).is_ok());
    }
}
