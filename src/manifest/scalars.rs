//! Parsing, printing and schemas of the manifest's small value types: names, counts, signals.
//!
//! Errors are raised inside `Deserialize` so serde_yaml reports where they are; each message
//! says what was expected, what was found, and gives an example.

use std::borrow::Cow;
use std::fmt;

use nix::sys::signal::Signal;
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::fields::{check_argv, str_with};
use super::types::{ApiVersion, AppName, Command, Instances, Kind, StopSignal};

/// Regex for app names (DNS labels).
pub const APP_NAME_PATTERN: &str = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";

impl TryFrom<String> for AppName {
    type Error = String;

    /// Accepts DNS labels: `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, 1 to 63 characters.
    fn try_from(s: String) -> Result<Self, String> {
        let ok_chars = s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if (1..=63).contains(&s.len()) && ok_chars && !s.starts_with('-') && !s.ends_with('-') {
            Ok(Self(s))
        } else {
            Err(format!(
                "{s:?} is not a valid app name; use 1 to 63 lowercase letters, digits and '-', starting and ending with a letter or digit (e.g. \"web-api\")"
            ))
        }
    }
}

impl<'de> Deserialize<'de> for AppName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        str_with(d, "an app name", |s| Self::try_from(s.to_owned()))
    }
}

impl From<AppName> for String {
    fn from(n: AppName) -> String {
        n.0
    }
}

impl AppName {
    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AppName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

impl JsonSchema for AppName {
    fn schema_name() -> Cow<'static, str> {
        "AppName".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A DNS label: lowercase letters, digits and `-`, 1 to 63 characters, starting and ending with a letter or digit.",
            "type": "string",
            "minLength": 1,
            "maxLength": 63,
            "pattern": APP_NAME_PATTERN,
        })
    }
}

impl Default for Instances {
    fn default() -> Self {
        Self::Count(1)
    }
}

impl Serialize for Instances {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Count(n) => s.serialize_u32(*n),
            Self::Max => s.serialize_str("max"),
        }
    }
}

impl<'de> Deserialize<'de> for Instances {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// Accepts a non-negative integer or `"max"`.
        struct V;
        impl Visitor<'_> for V {
            type Value = Instances;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer ≥ 0 or \"max\"")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Instances, E> {
                u32::try_from(v).map(Instances::Count).map_err(|_| bad(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Instances, E> {
                match u64::try_from(v) {
                    Ok(u) => self.visit_u64(u),
                    Err(_) => Err(bad(v)),
                }
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Instances, E> {
                Err(bad(v))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Instances, E> {
                Err(bad(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Instances, E> {
                if v == "max" {
                    Ok(Instances::Max)
                } else {
                    Err(bad(format_args!("{v:?}")))
                }
            }
        }
        /// The error for anything else.
        fn bad<E: de::Error>(got: impl fmt::Display) -> E {
            E::custom(format!("expected an integer ≥ 0 or \"max\", got {got}"))
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for Instances {
    fn schema_name() -> Cow<'static, str> {
        "Instances".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "How many instances: an integer ≥ 0, or \"max\" for one per online CPU.",
            "oneOf": [
                {"type": "integer", "minimum": 0, "maximum": u32::MAX},
                {"const": "max"},
            ],
        })
    }
}

/// Signals a stop may start with; the names accepted, with or without the `SIG` prefix.
pub const STOP_SIGNALS: [Signal; 10] = [
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGHUP,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGKILL,
    Signal::SIGWINCH,
    Signal::SIGABRT,
    Signal::SIGALRM,
];

impl TryFrom<String> for StopSignal {
    type Error = String;

    /// Accepts `SIGTERM` or `TERM` (and the other names of [`STOP_SIGNALS`]).
    fn try_from(s: String) -> Result<Self, String> {
        let full = if s.starts_with("SIG") {
            s.clone()
        } else {
            format!("SIG{s}")
        };
        STOP_SIGNALS
            .iter()
            .find(|sig| sig.as_str() == full)
            .map(|&sig| Self(sig))
            .ok_or_else(|| {
                let names: Vec<&str> = STOP_SIGNALS.iter().map(|s| s.as_str()).collect();
                format!(
                    "{s:?} is not a stop signal; use one of {}",
                    names.join(", ")
                )
            })
    }
}

impl<'de> Deserialize<'de> for StopSignal {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        str_with(d, "a signal name", |s| Self::try_from(s.to_owned()))
    }
}

impl From<StopSignal> for String {
    fn from(s: StopSignal) -> String {
        s.0.as_str().into()
    }
}

impl JsonSchema for StopSignal {
    fn schema_name() -> Cow<'static, str> {
        "StopSignal".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let mut names: Vec<String> = STOP_SIGNALS.iter().map(|s| s.as_str().into()).collect();
        names.extend(STOP_SIGNALS.iter().map(|s| s.as_str()[3..].to_string()));
        json_schema!({
            "description": "A signal name, with or without the `SIG` prefix: SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2, SIGKILL, SIGWINCH, SIGABRT, SIGALRM.",
            "type": "string",
            "enum": names,
        })
    }
}

impl<'de> Deserialize<'de> for Command {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// Accepts a non-empty argv list or a non-blank shell line.
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Command;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of arguments like [\"node\", \"server.js\"] or a shell line")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Command, E> {
                if v.trim().is_empty() {
                    return Err(E::custom("the command is blank; give the program to run, e.g. [\"node\", \"server.js\"]"));
                }
                Ok(Command::Shell(v.to_owned()))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Command, A::Error> {
                let mut argv = Vec::new();
                while let Some(arg) = seq.next_element::<String>()? {
                    argv.push(arg);
                }
                check_argv(&argv).map_err(de::Error::custom)?;
                Ok(Command::Argv(argv))
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for Command {
    fn schema_name() -> Cow<'static, str> {
        "Command".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "The program: a list is exec'd directly (argv); a string runs under `sh -c`, as `exec LINE` when it is one simple command.",
            "oneOf": [
                {"type": "array", "items": {"type": "string"}, "minItems": 1},
                {"type": "string", "minLength": 1},
            ],
        })
    }
}

/// Deserializes a one-value enum from its only accepted string, with a clear error.
macro_rules! only_value {
    ($t:ty, $variant:expr, $text:literal, $field:literal) => {
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                str_with(d, $text, |s| {
                    if s == $text {
                        Ok($variant)
                    } else {
                        Err(format!(
                            concat!($field, " must be ", $text, ", got {:?}"),
                            s
                        ))
                    }
                })
            }
        }
    };
}
only_value!(ApiVersion, ApiVersion::V1, "corral/v1", "apiVersion");

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        str_with(d, "App, Job or CronJob", |s| match s {
            "App" => Ok(Kind::App),
            "Job" => Ok(Kind::Job),
            "CronJob" => Ok(Kind::CronJob),
            _ => Err(format!("kind must be App, Job or CronJob, got {s:?}")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_names_are_dns_labels() {
        for good in ["web", "a", "web-2", "0ab", &"a".repeat(63)] {
            assert!(AppName::try_from(good.to_string()).is_ok(), "{good}");
        }
        for bad in ["", "Web", "-web", "web-", "we_b", "we.b", &"a".repeat(64)] {
            let err = AppName::try_from(bad.to_string()).unwrap_err();
            assert!(err.contains("e.g. \"web-api\""), "{err}");
        }
    }

    #[test]
    fn instances_read_counts_and_max() {
        let i = |s: &str| serde_yaml::from_str::<Instances>(s).map_err(|e| e.to_string());
        assert_eq!(i("4"), Ok(Instances::Count(4)));
        assert_eq!(i("0"), Ok(Instances::Count(0)));
        assert_eq!(i("max"), Ok(Instances::Max));
        let err = i("lots").unwrap_err();
        assert!(
            err.starts_with("expected an integer ≥ 0 or \"max\", got \"lots\""),
            "{err}"
        );
        assert!(i("-1").unwrap_err().contains("got -1"));
    }

    #[test]
    fn stop_signals_accept_both_spellings() {
        let sig = |s: &str| StopSignal::try_from(s.to_string()).map(|s| s.0);
        assert_eq!(sig("SIGTERM"), Ok(Signal::SIGTERM));
        assert_eq!(sig("INT"), Ok(Signal::SIGINT));
        assert_eq!(sig("USR2"), Ok(Signal::SIGUSR2));
        let err = sig("SIGFOO").unwrap_err();
        assert!(err.contains("SIGTERM, SIGINT"), "{err}");
        assert!(sig("STOP").is_err());
        assert_eq!(String::from(StopSignal(Signal::SIGHUP)), "SIGHUP");
    }

    #[test]
    fn commands_must_name_a_program() {
        let c = |s: &str| serde_yaml::from_str::<Command>(s).map_err(|e| e.to_string());
        assert_eq!(c("[a, b]"), Ok(Command::Argv(vec!["a".into(), "b".into()])));
        assert_eq!(c("npm start"), Ok(Command::Shell("npm start".into())));
        assert!(c("[]").unwrap_err().contains("empty"));
        assert!(c("['']").unwrap_err().contains("blank"));
        assert!(c("' '").unwrap_err().contains("blank"));
    }

    #[test]
    fn api_version_and_kind_say_what_they_must_be() {
        let e = serde_yaml::from_str::<ApiVersion>("v1")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("apiVersion must be corral/v1"), "{e}");
        let e = serde_yaml::from_str::<Kind>("Deployment")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("kind must be App, Job or CronJob"), "{e}");
        assert_eq!(serde_yaml::from_str::<Kind>("App").ok(), Some(Kind::App));
        assert_eq!(serde_yaml::from_str::<Kind>("Job").ok(), Some(Kind::Job));
        assert_eq!(
            serde_yaml::from_str::<Kind>("CronJob").ok(),
            Some(Kind::CronJob)
        );
    }
}
