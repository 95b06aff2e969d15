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

/// Serde for epoch-millisecond `i64` fields of JSON documents: written as
/// RFC 3339 with milliseconds (the one convention for instants in JSON),
/// read from that or from the integer earlier versions wrote.
/// `#[serde(with = "dagbench_core::time::rfc3339")]`.
pub mod rfc3339 {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::Timestamp;

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Instant {
        Text(Timestamp),
        Millis(i64),
    }

    impl From<Instant> for i64 {
        fn from(i: Instant) -> Self {
            match i {
                Instant::Text(t) => t.unix_millis(),
                Instant::Millis(ms) => ms,
            }
        }
    }

    #[allow(clippy::trivially_copy_pass_by_ref)] // serde's signature
    pub fn serialize<S: Serializer>(ms: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&Timestamp::from_unix_millis(*ms))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        Instant::deserialize(d).map(i64::from)
    }

    /// The same for `Option<i64>` (`null` when absent).
    pub mod option {
        use serde::{Deserialize, Deserializer, Serializer};

        use super::{Instant, Timestamp};

        #[allow(clippy::ref_option)] // serde's signature
        pub fn serialize<S: Serializer>(ms: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
            match ms {
                Some(ms) => s.collect_str(&Timestamp::from_unix_millis(*ms)),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
            Option::<Instant>::deserialize(d).map(|i| i.map(i64::from))
        }
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
    fn json_instants_are_rfc3339_and_earlier_integers_still_read() {
        #[derive(Debug, PartialEq, Serialize, Deserialize)]
        struct Doc {
            #[serde(with = "rfc3339")]
            at: i64,
            #[serde(with = "rfc3339::option")]
            until: Option<i64>,
        }
        let doc = Doc {
            at: 1_768_998_896_789,
            until: None,
        };
        let text = serde_json::to_string(&doc).unwrap();
        assert_eq!(text, r#"{"at":"2026-01-21T12:34:56.789Z","until":null}"#);
        assert_eq!(serde_json::from_str::<Doc>(&text).unwrap(), doc);
        let old: Doc = serde_json::from_str(r#"{"at":1768998896789,"until":5}"#).unwrap();
        assert_eq!((old.at, old.until), (1_768_998_896_789, Some(5)));
        assert!(serde_json::from_str::<Doc>(r#"{"at":"yesterday","until":null}"#).is_err());
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
