//! The manifest types of what an instance may be (README "Users and limits"): the user and group it
//! runs as, its ulimits (docker compose's shape), nice, oomScoreAdjust and umask.
//!
//! Each value is checked while it is read, so serde_yaml points at it with its line and column.

use std::borrow::Cow;
use std::fmt;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A user or group: a name from `/etc/passwd` / `/etc/group`, or a numeric id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum IdRef {
    /// A numeric uid or gid.
    Id(u32),
    /// A user or group name.
    Name(String),
}

impl fmt::Display for IdRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdRef::Id(n) => write!(f, "{n}"),
            IdRef::Name(s) => f.write_str(s),
        }
    }
}

impl Serialize for IdRef {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            IdRef::Id(n) => s.serialize_u32(*n),
            IdRef::Name(name) => s.serialize_str(name),
        }
    }
}

impl<'de> Deserialize<'de> for IdRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// Accepts an integer id or a name (a string of digits is an id too).
        struct V;
        impl Visitor<'_> for V {
            type Value = IdRef;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a user or group name, or a numeric id from 0 to 4294967294")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<IdRef, E> {
                // 4294967295 is (uid_t)-1, which setuid reads as "leave unchanged".
                match u32::try_from(v) {
                    Ok(n) if n != u32::MAX => Ok(IdRef::Id(n)),
                    _ => Err(E::custom(format!(
                        "expected a numeric id from 0 to 4294967294, got {v}"
                    ))),
                }
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<IdRef, E> {
                match u64::try_from(v) {
                    Ok(v) => self.visit_u64(v),
                    Err(_) => Err(E::custom(format!(
                        "expected a numeric id from 0 to 4294967294, got {v}"
                    ))),
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<IdRef, E> {
                if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
                    return match v.parse::<u64>() {
                        Ok(n) => self.visit_u64(n),
                        Err(_) => self.visit_u64(u64::MAX),
                    };
                }
                if is_id_name(v) {
                    Ok(IdRef::Name(v.to_owned()))
                } else {
                    Err(E::custom(format!(
                        "{v:?} is not a user or group name; use letters, digits, `_`, `-` and `.` \
                         (not starting with `-`, at most 32 characters, e.g. www-data), or a numeric id"
                    )))
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// Whether `name` is a user or group name as shadow-utils accept them (`$` only at the end).
fn is_id_name(name: &str) -> bool {
    let body = name.strip_suffix('$').unwrap_or(name);
    (1..=32).contains(&name.len())
        && !body.is_empty()
        && !body.starts_with('-')
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

impl JsonSchema for IdRef {
    fn schema_name() -> Cow<'static, str> {
        "IdRef".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A name (e.g. `www-data`) or a numeric id.",
            "oneOf": [
                {"type": "integer", "minimum": 0, "maximum": u32::MAX - 1},
                {"type": "string", "pattern": "^([0-9]+|[A-Za-z0-9_.][A-Za-z0-9_.-]{0,31}\\$?)$"},
            ],
        })
    }
}

/// One limit's value: a number, or unlimited (`RLIM_INFINITY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LimitValue {
    /// This many (files, processes, bytes, … as the resource counts).
    Value(u64),
    /// No limit: written `unlimited` or `-1`.
    Unlimited,
}

impl LimitValue {
    /// The value `setrlimit` takes.
    pub fn raw(self) -> u64 {
        match self {
            LimitValue::Value(n) => n,
            LimitValue::Unlimited => u64::MAX,
        }
    }
}

impl fmt::Display for LimitValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LimitValue::Value(n) => write!(f, "{n}"),
            LimitValue::Unlimited => f.write_str("unlimited"),
        }
    }
}

impl Serialize for LimitValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            LimitValue::Value(n) => s.serialize_u64(*n),
            LimitValue::Unlimited => s.serialize_str("unlimited"),
        }
    }
}

/// What a limit's value may be, for error messages.
const LIMIT_EXPECTING: &str = "an integer ≥ 0, or unlimited (also written -1)";

/// Reads a number ≥ 0, `-1` or `unlimited`.
struct LimitVisitor;

impl Visitor<'_> for LimitVisitor {
    type Value = LimitValue;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(LIMIT_EXPECTING)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<LimitValue, E> {
        if v == u64::MAX {
            return Ok(LimitValue::Unlimited);
        }
        Ok(LimitValue::Value(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<LimitValue, E> {
        match v {
            -1 => Ok(LimitValue::Unlimited),
            v if v >= 0 => Ok(LimitValue::Value(v as u64)),
            v => Err(E::custom(format!("expected {LIMIT_EXPECTING}, got {v}"))),
        }
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<LimitValue, E> {
        match v {
            "unlimited" | "infinity" | "-1" => Ok(LimitValue::Unlimited),
            v => v
                .parse::<u64>()
                .map(LimitValue::Value)
                .map_err(|_| E::custom(format!("expected {LIMIT_EXPECTING}, got {v:?}"))),
        }
    }
}

impl<'de> Deserialize<'de> for LimitValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LimitVisitor)
    }
}

/// A resource limit, docker compose's shape: one value for both the soft and the hard limit
/// (`65536`), or `{soft: 4096, hard: 65536}`. `-1` and `unlimited` mean no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ulimit {
    /// The limit the process meets (it may raise it up to `hard` itself).
    pub soft: LimitValue,
    /// The ceiling (only root may raise it).
    pub hard: LimitValue,
}

impl Serialize for Ulimit {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        if self.soft == self.hard {
            return self.soft.serialize(s);
        }
        let mut map = s.serialize_map(Some(2))?;
        map.serialize_entry("soft", &self.soft)?;
        map.serialize_entry("hard", &self.hard)?;
        map.end()
    }
}

impl<'de> Deserialize<'de> for Ulimit {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// A single value, or a `{soft, hard}` map.
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Ulimit;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{LIMIT_EXPECTING}, or {{soft: N, hard: N}}")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Ulimit, E> {
                LimitVisitor.visit_u64(v).map(Ulimit::both)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Ulimit, E> {
                LimitVisitor.visit_i64(v).map(Ulimit::both)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Ulimit, E> {
                LimitVisitor.visit_str(v).map(Ulimit::both)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ulimit, A::Error> {
                let (mut soft, mut hard) = (None, None);
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "soft" => soft = Some(map.next_value::<LimitValue>()?),
                        "hard" => hard = Some(map.next_value::<LimitValue>()?),
                        other => return Err(de::Error::unknown_field(other, &["soft", "hard"])),
                    }
                }
                match (soft, hard) {
                    (Some(soft), Some(hard)) => Ok(Ulimit { soft, hard }),
                    (None, _) => Err(de::Error::missing_field("soft")),
                    (_, None) => Err(de::Error::missing_field("hard")),
                }
            }
        }
        d.deserialize_any(V)
    }
}

impl Ulimit {
    /// The same value for soft and hard.
    fn both(v: LimitValue) -> Ulimit {
        Ulimit { soft: v, hard: v }
    }
}

impl JsonSchema for Ulimit {
    fn schema_name() -> Cow<'static, str> {
        "Ulimit".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let value = json_schema!({
            "oneOf": [
                {"type": "integer", "minimum": -1},
                {"enum": ["unlimited", "infinity"]},
            ],
        });
        json_schema!({
            "description": "One value for the soft and hard limit, or {soft, hard}; -1 or `unlimited` for no limit.",
            "oneOf": [
                value.clone(),
                {
                    "type": "object",
                    "properties": {"soft": value.clone(), "hard": value},
                    "required": ["soft", "hard"],
                    "additionalProperties": false,
                },
            ],
        })
    }
}

/// Resource limits (`setrlimit`), docker compose's `ulimits`: each a value for soft and hard,
/// or `{soft, hard}`; `-1` or `unlimited` means no limit (`RLIM_INFINITY`). Set in the child
/// before it changes user; a hard limit above the controller's own needs a root controller.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Ulimits {
    /// Core dump size, bytes (`RLIMIT_CORE`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub core: Option<Ulimit>,
    /// CPU time, seconds (`RLIMIT_CPU`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<Ulimit>,
    /// Data segment size, bytes (`RLIMIT_DATA`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Ulimit>,
    /// Largest file written, bytes (`RLIMIT_FSIZE`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fsize: Option<Ulimit>,
    /// File locks (`RLIMIT_LOCKS`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locks: Option<Ulimit>,
    /// Locked memory, bytes (`RLIMIT_MEMLOCK`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memlock: Option<Ulimit>,
    /// POSIX message queue bytes (`RLIMIT_MSGQUEUE`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msgqueue: Option<Ulimit>,
    /// Ceiling of the nice value, as 20 − nice (`RLIMIT_NICE`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nice: Option<Ulimit>,
    /// Open files (`RLIMIT_NOFILE`); at most the kernel's `fs.nr_open`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nofile: Option<Ulimit>,
    /// Processes and threads of the app's user, all of them (`RLIMIT_NPROC`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nproc: Option<Ulimit>,
    /// Resident set, bytes (`RLIMIT_RSS`; not enforced by Linux).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rss: Option<Ulimit>,
    /// Real-time priority ceiling (`RLIMIT_RTPRIO`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtprio: Option<Ulimit>,
    /// Real-time CPU time, microseconds (`RLIMIT_RTTIME`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rttime: Option<Ulimit>,
    /// Queued signals (`RLIMIT_SIGPENDING`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sigpending: Option<Ulimit>,
    /// Stack size, bytes (`RLIMIT_STACK`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<Ulimit>,
}

impl Ulimits {
    /// Whether no limit is set.
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }

    /// The limits set, by their manifest name, in a fixed order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, Ulimit)> + '_ {
        [
            ("core", self.core),
            ("cpu", self.cpu),
            ("data", self.data),
            ("fsize", self.fsize),
            ("locks", self.locks),
            ("memlock", self.memlock),
            ("msgqueue", self.msgqueue),
            ("nice", self.nice),
            ("nofile", self.nofile),
            ("nproc", self.nproc),
            ("rss", self.rss),
            ("rtprio", self.rtprio),
            ("rttime", self.rttime),
            ("sigpending", self.sigpending),
            ("stack", self.stack),
        ]
        .into_iter()
        .filter_map(|(name, limit)| limit.map(|l| (name, l)))
    }
}

/// The file mode creation mask, an octal string such as `"0022"` or `"027"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Umask(pub u32);

impl fmt::Display for Umask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04o}", self.0)
    }
}

impl Serialize for Umask {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

/// What a umask may be, for error messages.
const UMASK_EXPECTING: &str =
    "an octal string of 3 or 4 digits from 0 to 7, quoted, such as \"0022\" or \"0027\"";

/// Parses `0022`-style octal text.
pub fn parse_umask(v: &str) -> Result<Umask, String> {
    let digits = v.strip_prefix("0o").unwrap_or(v);
    if !(3..=4).contains(&digits.len()) || !digits.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return Err(format!("expected {UMASK_EXPECTING}, got {v:?}"));
    }
    match u32::from_str_radix(digits, 8) {
        Ok(n) if n <= 0o777 => Ok(Umask(n)),
        _ => Err(format!(
            "{v:?} is above 0777: a umask only masks permission bits; give e.g. \"0022\""
        )),
    }
}

impl<'de> Deserialize<'de> for Umask {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// A quoted octal string; an unquoted number gets a sentence about quoting.
        struct V;
        impl Visitor<'_> for V {
            type Value = Umask;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(UMASK_EXPECTING)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Umask, E> {
                parse_umask(v).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Umask, E> {
                Err(E::custom(format!(
                    "umask must be a quoted octal string (YAML reads {v} as a decimal number, or \
                     a leading 0 as octal); write it quoted, e.g. \"0022\""
                )))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Umask, E> {
                Err(E::custom(format!("expected {UMASK_EXPECTING}, got {v}")))
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for Umask {
    fn schema_name() -> Cow<'static, str> {
        "Umask".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "An octal file mode creation mask, quoted: \"0022\", \"0027\", \"0077\".",
            "type": "string",
            "pattern": "^(0o)?[0-7]{3,4}$",
        })
    }
}

/// A `nice` value, −20 (most favoured) to 19 (least); `null` means unset.
pub fn opt_nice<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i32>, D::Error> {
    /// `nice` for the `Some` case.
    struct Nice(i32);
    impl<'de> Deserialize<'de> for Nice {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            super::fields::int_in(d, -20, 19, "a nice value from -20 (most favoured) to 19")
                .map(|n| Nice(n as i32))
        }
    }
    Ok(Option::<Nice>::deserialize(d)?.map(|n| n.0))
}

/// An `oom_score_adj` value, −1000 (never killed) to 1000 (killed first); `null` means unset.
pub fn opt_oom_score_adj<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i32>, D::Error> {
    /// `oomScoreAdjust` for the `Some` case.
    struct Adj(i32);
    impl<'de> Deserialize<'de> for Adj {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            super::fields::int_in(
                d,
                -1000,
                1000,
                "an oom_score_adj from -1000 (never killed) to 1000 (killed first)",
            )
            .map(|n| Adj(n as i32))
        }
    }
    Ok(Option::<Adj>::deserialize(d)?.map(|n| n.0))
}

#[cfg(test)]
#[path = "confine_tests.rs"]
mod tests;
