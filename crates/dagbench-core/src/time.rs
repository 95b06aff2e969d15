//! Wall-clock instants as plain values (the core never reads a clock: time is
//! an input). On the wire an instant is RFC 3339 UTC with milliseconds,
//! `2026-01-21T12:34:56.789Z`.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

/// Milliseconds since the Unix epoch, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Timestamp(i64);

/// A string that is not an RFC 3339 instant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not an RFC 3339 timestamp such as 2026-01-21T12:34:56.789Z ({reason})")]
pub struct TimestampError {
    value: String,
    reason: String,
}

impl Timestamp {
    pub const fn from_unix_millis(millis: i64) -> Self {
        Self(millis)
    }

    /// `ms` milliseconds later (earlier if negative), saturating.
    #[must_use]
    pub const fn plus_millis(self, ms: i64) -> Self {
        Self(self.0.saturating_add(ms))
    }

    pub const fn unix_millis(self) -> i64 {
        self.0
    }

    /// Parses any RFC 3339 instant (any offset, any fraction) and keeps it to
    /// the millisecond, in UTC.
    pub fn parse(value: &str) -> Result<Self, TimestampError> {
        let parsed = OffsetDateTime::parse(value, &Rfc3339).map_err(|e| TimestampError {
            value: value.to_owned(),
            reason: e.to_string(),
        })?;
        let millis = parsed.unix_timestamp_nanos().div_euclid(1_000_000);
        Ok(Self(millis as i64))
    }

    fn datetime(self) -> OffsetDateTime {
        // Instants within ±9999 years are representable; anything beyond
        // (only reachable through `from_unix_millis`) shows as the epoch
        // rather than panicking.
        let nanos = i128::from(self.0) * 1_000_000;
        OffsetDateTime::from_unix_timestamp_nanos(nanos)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
            .to_offset(UtcOffset::UTC)
    }

    /// `(year, month, day, hour)` in UTC: the `output/YYYY/MM/DD/HH/` folders.
    pub fn utc_hour_parts(self) -> (i32, u8, u8, u8) {
        let dt = self.datetime();
        (dt.year(), u8::from(dt.month()), dt.day(), dt.hour())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let format = format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        );
        let text = self.datetime().format(&format).map_err(|_| fmt::Error)?;
        f.write_str(&text)
    }
}

impl TryFrom<String> for Timestamp {
    type Error = TimestampError;
    fn try_from(value: String) -> Result<Self, TimestampError> {
        Self::parse(&value)
    }
}

impl From<Timestamp> for String {
    fn from(ts: Timestamp) -> String {
        ts.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_milliseconds_in_utc() {
        let ts = Timestamp::parse("2026-01-21T12:34:56.789Z").unwrap();
        assert_eq!(ts.to_string(), "2026-01-21T12:34:56.789Z");
        assert_eq!(ts.utc_hour_parts(), (2026, 1, 21, 12));
        assert_eq!(
            Timestamp::from_unix_millis(0).to_string(),
            "1970-01-01T00:00:00.000Z"
        );
    }

    #[test]
    fn accepts_offsets_and_truncates_to_milliseconds() {
        let ts = Timestamp::parse("2026-01-21T13:34:56.7899+01:00").unwrap();
        assert_eq!(ts.to_string(), "2026-01-21T12:34:56.789Z");
        let ts = Timestamp::parse("2026-01-21T12:34:56Z").unwrap();
        assert_eq!(ts.to_string(), "2026-01-21T12:34:56.000Z");
    }

    #[test]
    fn rejects_non_rfc3339() {
        let err = Timestamp::parse("21/01/2026 12:34")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("\"21/01/2026 12:34\" is not an RFC 3339 timestamp"),
            "{err}"
        );
    }
}
