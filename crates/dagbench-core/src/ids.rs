//! Validated identifiers. A job id or run id ends up inside object keys and
//! file names, so the only characters allowed are those that are safe as a
//! single path segment everywhere: `[A-Za-z0-9._:-]`, never `.` or `..`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Longest job or run id, in bytes (all allowed characters are ASCII).
pub const MAX_ID_LEN: usize = 128;

/// Why a string is not a valid id. The message quotes the offending value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("{what} is empty")]
    Empty { what: &'static str },
    #[error(
        "{what} {:?} is {len} characters long; the limit is {MAX_ID_LEN}",
        shown(value)
    )]
    TooLong {
        what: &'static str,
        value: String,
        len: usize,
    },
    #[error("{what} {value:?} may not be `.` or `..`")]
    DotSegment { what: &'static str, value: String },
    #[error(
        "run id {value:?} contains `.` at position {position}; run ids may not (on the wire a job goes by <run id>.<job id>, and a dot in the run id would make two runs' jobs look alike); use `-` or `_`"
    )]
    DotInRunId { value: String, position: usize },
    #[error("run id {value:?} starts with `-`, which command lines would take for a flag")]
    LeadingDash { value: String },
    #[error(
        "{what} {:?} contains {found:?} at position {position}; allowed are letters, digits and {}",
        shown(value),
        if *what == "run id" { "`_:-`" } else { "`._:-`" }
    )]
    BadCharacter {
        what: &'static str,
        value: String,
        found: char,
        position: usize,
    },
}

/// `value` as an error quotes it: at most 60 characters, then `…`.
fn shown(value: &str) -> String {
    if value.chars().count() <= 60 {
        value.to_owned()
    } else {
        format!("{}…", value.chars().take(59).collect::<String>())
    }
}

/// Checks `value` against the id rules without allocating on success.
pub fn validate_id(what: &'static str, value: &str) -> Result<(), IdError> {
    if value.is_empty() {
        return Err(IdError::Empty { what });
    }
    if let Some((position, found)) = value.chars().enumerate().find(|&(_, c)| !is_id_char(c)) {
        return Err(IdError::BadCharacter {
            what,
            value: value.to_owned(),
            found,
            position,
        });
    }
    if value.len() > MAX_ID_LEN {
        return Err(IdError::TooLong {
            what,
            value: value.to_owned(),
            len: value.len(),
        });
    }
    if value == "." || value == ".." {
        return Err(IdError::DotSegment {
            what,
            value: value.to_owned(),
        });
    }
    Ok(())
}

fn is_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-')
}

/// Run ids also may not contain `.`: the separator of `<run id>.<job id>`,
/// nor start with `-` (a run id is passed on command lines).
fn validate_run_id(what: &'static str, value: &str) -> Result<(), IdError> {
    if let Some(position) = value.find('.') {
        return Err(IdError::DotInRunId {
            value: value.to_owned(),
            position,
        });
    }
    validate_id(what, value)?;
    if value.starts_with('-') {
        return Err(IdError::LeadingDash {
            value: value.to_owned(),
        });
    }
    match value.find('.') {
        Some(position) => Err(IdError::DotInRunId {
            value: value.to_owned(),
            position,
        }),
        None => Ok(()),
    }
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $what:literal, $validate:path) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Validates and wraps `value`.
            pub fn new(value: impl Into<String>) -> Result<Self, IdError> {
                let value = value.into();
                $validate($what, &value)?;
                Ok(Self(value))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(value: String) -> Result<Self, IdError> {
                Self::new(value)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(value: &str) -> Result<Self, IdError> {
                Self::new(value)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

string_id!(
    /// Identifies one job of a graph; safe as an object-key segment and a file name.
    JobId,
    "job id",
    validate_id
);
string_id!(
    /// Identifies one run (e.g. `baseline-256mb`); the top-level folder of its results.
    RunId,
    "run id",
    validate_run_id
);

/// Identifies one aircraft daily sequence. Numeric in the canonical JSON
/// (`"sequence_id": 7`); its decimal form keys the sequence's random numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SequenceId(pub u32);

impl fmt::Display for SequenceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl std::str::FromStr for SequenceId {
    type Err = std::num::ParseIntError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse().map(SequenceId)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_rejected(value: &str, expected: &str) {
        let err = JobId::new(value).unwrap_err().to_string();
        assert_eq!(err, expected);
    }

    #[test]
    fn run_ids_may_not_contain_dots_so_wire_ids_never_collide() {
        // Run `a.b` with job `c` and run `a` with job `b.c` would both be
        // `a.b.c` on the wire.
        let err = RunId::new("a.b").unwrap_err().to_string();
        assert!(err.contains("contains `.` at position 1"), "{err}");
        assert!(RunId::new("a-b_c:1").is_ok());
        assert!(JobId::new("b.c").is_ok());
    }

    #[test]
    fn accepts_safe_ids() {
        for id in [
            "a",
            "s7-l3",
            "merge",
            "job.1",
            "A:b_c-9",
            "..a",
            "a..",
            &"x".repeat(128),
        ] {
            assert_eq!(JobId::new(id).unwrap().as_str(), id);
        }
    }

    #[test]
    fn rejects_unsafe_ids_quoting_them() {
        check_rejected("", "job id is empty");
        check_rejected(".", "job id \".\" may not be `.` or `..`");
        check_rejected("..", "job id \"..\" may not be `.` or `..`");
        check_rejected(
            "a/b",
            "job id \"a/b\" contains '/' at position 1; allowed are letters, digits and `._:-`",
        );
        check_rejected(
            "../etc",
            "job id \"../etc\" contains '/' at position 2; allowed are letters, digits and `._:-`",
        );
        check_rejected(
            "a\\b",
            "job id \"a\\\\b\" contains '\\\\' at position 1; allowed are letters, digits and `._:-`",
        );
        check_rejected(
            "a\0",
            "job id \"a\\0\" contains '\\0' at position 1; allowed are letters, digits and `._:-`",
        );
        check_rejected(
            "two words",
            "job id \"two words\" contains ' ' at position 3; allowed are letters, digits and `._:-`",
        );
        check_rejected(
            "é",
            "job id \"é\" contains 'é' at position 0; allowed are letters, digits and `._:-`",
        );
        // A long id is quoted shortened: 59 characters and an ellipsis.
        let long = "x".repeat(129);
        check_rejected(
            &long,
            &format!(
                "job id \"{}…\" is 129 characters long; the limit is 128",
                "x".repeat(59)
            ),
        );
    }

    #[test]
    fn serde_validates() {
        let id: JobId = serde_json::from_str("\"s1-l1\"").unwrap();
        assert_eq!(id.as_str(), "s1-l1");
        let err = serde_json::from_str::<JobId>("\"a/b\"").unwrap_err();
        assert!(err.to_string().contains("contains '/'"), "{err}");
        let err = serde_json::from_str::<RunId>("\"..\"").unwrap_err();
        assert!(err.to_string().starts_with("run id \"..\""), "{err}");
    }

    #[test]
    fn sequence_id_is_a_number_on_the_wire() {
        assert_eq!(serde_json::to_string(&SequenceId(7)).unwrap(), "7");
        assert_eq!("42".parse::<SequenceId>().unwrap(), SequenceId(42));
    }
}
