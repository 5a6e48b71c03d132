//! Time zones by IANA name, from the host's tzdb (`/usr/share/zoneinfo`, package `tzdata`).

use jiff::tz::TimeZone;

/// An IANA name this host's tzdb does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ZoneError(String);

/// The zone named `name` (`Europe/Paris`, `UTC`); the error says the closest name this host
/// knows, or that it has no tzdb at all.
pub fn zone(name: &str) -> Result<TimeZone, ZoneError> {
    if let Ok(tz) = TimeZone::get(name) {
        return Ok(tz);
    }
    let db = jiff::tz::db();
    if db.is_definitively_empty() {
        return Err(ZoneError(format!(
            "unknown time zone `{name}`: this host has no time zone database (install the tzdata package, or set TZDIR)"
        )));
    }
    let lower = name.to_ascii_lowercase();
    let guess = db
        .available()
        .map(|n| n.as_str().to_owned())
        .map(|n| (strsim::levenshtein(&lower, &n.to_ascii_lowercase()), n))
        .filter(|(d, _)| *d <= 3)
        .min();
    let hint = match guess {
        Some((_, n)) => format!("; did you mean `{n}`?"),
        None => "; write an IANA name such as `Europe/Paris`, `America/New_York` or `UTC` (see /usr/share/zoneinfo)".into(),
    };
    Err(ZoneError(format!("unknown time zone `{name}`{hint}")))
}

/// The host's own zone (`TZ`, else `/etc/localtime`), as cron and PM2 use; UTC if neither says.
pub fn local_zone() -> TimeZone {
    TimeZone::system()
}
