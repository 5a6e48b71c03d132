//! Cron schedules (`spec.restartSchedule`, `kind: CronJob`): expressions parsed by `croner`,
//! time zones from the host's tzdb through `jiff`, and the pure decisions of when to run.
//!
//! An expression has 5 fields (minute hour day-of-month month day-of-week), or 6 with seconds
//! first (corral's extension, which tests use), or is a macro: `@yearly` (`@annually`),
//! `@monthly`, `@weekly`, `@daily` (`@midnight`), `@hourly`. Nothing here reads the clock: every
//! function takes the time it is asked about.

pub mod decide;
mod zone;

#[cfg(test)]
mod tests;

use std::fmt;

use croner::parser::{CronParser, Seconds, Year};
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};

pub use zone::{local_zone, zone, ZoneError};

/// A parsed cron expression, without its time zone.
#[derive(Clone)]
pub struct CronExpr {
    text: String,
    /// Boxed: a `Cron` is 400-odd bytes, and manifests hold one per schedule.
    cron: Box<croner::Cron>,
    seconds: bool,
}

/// Why an expression is not a schedule; the message names the field and its range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ExprError(String);

/// The fields of a 6-field expression, in order, with what each takes.
const FIELDS: [(&str, &str); 6] = [
    ("second", "0-59"),
    ("minute", "0-59"),
    ("hour", "0-23"),
    ("day of month", "1-31"),
    ("month", "1-12 or JAN-DEC"),
    ("day of week", "0-7 (0 and 7 are Sunday) or SUN-SAT"),
];

/// The macros and the expression each stands for (croner knows all but `@midnight`).
const MACROS: [&str; 7] = [
    "@yearly",
    "@annually",
    "@monthly",
    "@weekly",
    "@daily",
    "@midnight",
    "@hourly",
];

fn parser() -> CronParser {
    // Vixie cron's rules: a day matches if day-of-month OR day-of-week matches; `0/10` is not
    // shorthand for `*/10`.
    CronParser::builder()
        .seconds(Seconds::Optional)
        .year(Year::Disallowed)
        .build()
}

impl CronExpr {
    /// Parses an expression; the error says which field is wrong and what it takes.
    pub fn parse(text: &str) -> Result<Self, ExprError> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(ExprError(
                "a schedule is empty; write 5 fields such as \"0 3 * * *\" (03:00 every day), 6 with seconds first, or a macro such as @daily".into(),
            ));
        }
        if let Some(name) = trimmed.strip_prefix('@') {
            let lower = format!("@{}", name.to_ascii_lowercase());
            if !MACROS.contains(&lower.as_str()) {
                return Err(ExprError(format!(
                    "unknown macro `{trimmed}`; use one of {}",
                    MACROS.join(", ")
                )));
            }
            let croner_name = if lower == "@midnight" {
                "@daily"
            } else {
                &lower
            };
            let cron = parser()
                .parse(croner_name)
                .map_err(|e| ExprError(format!("`{trimmed}`: {e}")))?;
            return Ok(Self {
                text: trimmed.to_owned(),
                cron: Box::new(cron),
                seconds: false,
            });
        }
        let fields: Vec<&str> = trimmed.split_whitespace().collect();
        if fields.len() != 5 && fields.len() != 6 {
            return Err(ExprError(format!(
                "has {} field{}; write 5 (minute hour day-of-month month day-of-week, e.g. \"0 3 * * *\"), 6 with seconds first (\"*/10 * * * * *\"), or a macro such as @daily",
                fields.len(),
                if fields.len() == 1 { "" } else { "s" },
            )));
        }
        match parser().parse(trimmed) {
            Ok(cron) => Ok(Self {
                text: trimmed.to_owned(),
                cron: Box::new(cron),
                seconds: fields.len() == 6,
            }),
            Err(e) => Err(ExprError(blame(&fields, &e.to_string()))),
        }
    }

    /// The expression as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether it has a seconds field (corral's extension, which Kubernetes cannot take).
    pub fn has_seconds(&self) -> bool {
        self.seconds
    }

    /// The first fire time strictly after `after`, in `tz`; `None` if there is none (a
    /// pattern such as `0 0 30 2 *` never fires).
    pub fn next_after(&self, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        let start = after.to_zoned(tz.clone());
        self.cron
            .find_next_occurrence(&start, false)
            .ok()
            .map(|z: Zoned| z.timestamp())
    }

    /// The last fire time at or before `at`, in `tz`, no earlier than `not_before` (a bounded
    /// search: `None` when there is none in that window).
    pub fn last_at_or_before(
        &self,
        at: Timestamp,
        not_before: Timestamp,
        tz: &TimeZone,
    ) -> Option<Timestamp> {
        let start = at.to_zoned(tz.clone());
        let found = self.cron.find_previous_occurrence(&start, true).ok()?;
        let found = found.timestamp();
        (found >= not_before).then_some(found)
    }
}

impl fmt::Debug for CronExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CronExpr({:?})", self.text)
    }
}

impl PartialEq for CronExpr {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for CronExpr {}

impl fmt::Display for CronExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Names the field croner refused: each field is tried alone (the others `*`), so the message
/// says "field 2 (hour): `25` is out of 0-23" rather than croner's "Number out of bounds".
fn blame(fields: &[&str], whole: &str) -> String {
    let names = &FIELDS[6 - fields.len()..];
    for (i, field) in fields.iter().enumerate() {
        let probe: Vec<&str> = (0..fields.len())
            .map(|j| if j == i { *field } else { "*" })
            .collect();
        let Err(e) = parser().parse(&probe.join(" ")) else {
            continue;
        };
        let (name, range) = names[i];
        let why = reword(&e.to_string());
        return if why.contains("out of bounds") {
            format!("field {} ({name}): `{field}` is out of {range}", i + 1)
        } else {
            format!("field {} ({name}): `{field}`: {why}; {name} takes {range}, `*`, lists `a,b`, ranges `a-b` and steps `*/n` or `a-b/n`", i + 1)
        };
    }
    reword(whole)
}

/// croner's message, as a clause: no "Component error:" prefix, no final period.
fn reword(message: &str) -> String {
    let m = message
        .trim_start_matches("Component error: ")
        .trim_start_matches("Invalid pattern: ")
        .trim_start_matches("Pattern contains illegal characters: ")
        .trim_end_matches('.');
    let m = m.replace("CronPattern contains illegal", "illegal");
    let mut chars = m.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => m,
    }
}

/// A schedule: an expression in a time zone.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// The expression.
    pub expr: CronExpr,
    /// The zone its fields are read in.
    pub tz: TimeZone,
}

impl Schedule {
    /// The first fire time strictly after `after`.
    pub fn next_after(&self, after: Timestamp) -> Option<Timestamp> {
        self.expr.next_after(after, &self.tz)
    }

    /// The zone's IANA name (`UTC` when the host's zone has none).
    pub fn zone_name(&self) -> String {
        self.tz.iana_name().unwrap_or("UTC").to_owned()
    }

    /// The shortest gap between two fire times among the next `count` after `from` (for the
    /// warning when runs cannot finish between fires).
    pub fn shortest_gap(&self, from: Timestamp, count: usize) -> Option<jiff::SignedDuration> {
        let mut prev = self.next_after(from)?;
        let mut shortest: Option<jiff::SignedDuration> = None;
        for _ in 1..count {
            let Some(next) = self.next_after(prev) else {
                break;
            };
            let gap = next.duration_since(prev);
            shortest = Some(shortest.map_or(gap, |s| s.min(gap)));
            prev = next;
        }
        shortest
    }
}
