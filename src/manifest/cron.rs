//! The manifest's schedule values: a cron expression (`spec.restartSchedule`, a CronJob's
//! `schedule`) and an IANA time zone name (`restartTimeZone`, `timeZone`), each checked while
//! it deserializes so that its error carries the value's line and column.

use std::borrow::Cow;
use std::fmt;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::fields::str_with;
use crate::schedule::{self, CronExpr};

/// A cron expression: 5 fields, 6 with seconds first, or a macro such as `@daily`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronSchedule(pub CronExpr);

/// An IANA time zone name this host's tzdb has, and the zone.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeZoneName {
    name: String,
    tz: jiff::tz::TimeZone,
}

impl TimeZoneName {
    /// The name as written.
    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// The zone.
    pub fn zone(&self) -> &jiff::tz::TimeZone {
        &self.tz
    }
}

impl CronSchedule {
    /// The schedule in `tz`, or in the host's zone without one.
    pub fn in_zone(&self, tz: Option<&TimeZoneName>) -> schedule::Schedule {
        schedule::Schedule {
            expr: self.0.clone(),
            tz: tz.map_or_else(schedule::local_zone, |t| t.tz.clone()),
        }
    }
}

impl<'de> Deserialize<'de> for CronSchedule {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        str_with(d, "a cron expression", |s| {
            CronExpr::parse(s)
                .map(Self)
                .map_err(|e| format!("{s:?}: {e}"))
        })
    }
}

impl Serialize for CronSchedule {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.as_str())
    }
}

impl fmt::Display for CronSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

impl JsonSchema for CronSchedule {
    fn schema_name() -> Cow<'static, str> {
        "CronSchedule".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A cron expression: 5 fields (minute hour day-of-month month day-of-week, e.g. \"0 3 * * *\"), 6 with seconds first (\"*/10 * * * * *\"), or @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly.",
            "type": "string",
            "minLength": 1,
        })
    }
}

impl<'de> Deserialize<'de> for TimeZoneName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        str_with(d, "an IANA time zone name", |s| {
            schedule::zone(s)
                .map(|tz| Self {
                    name: s.to_owned(),
                    tz,
                })
                .map_err(|e| e.to_string())
        })
    }
}

impl Serialize for TimeZoneName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name)
    }
}

impl fmt::Display for TimeZoneName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl JsonSchema for TimeZoneName {
    fn schema_name() -> Cow<'static, str> {
        "TimeZoneName".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "An IANA time zone name from the host's tzdb, such as `Europe/Paris` or `UTC`.",
            "type": "string",
            "minLength": 1,
        })
    }
}
