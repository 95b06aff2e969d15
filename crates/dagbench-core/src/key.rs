//! Object keys that come from outside (a message's `input_key`): relative,
//! no `.`/`..` segments, so a processor can never be steered out of its store
//! or its run's prefix.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Longest object key, in bytes (the S3 limit).
pub const MAX_KEY_LEN: usize = 1024;

/// Why a string is not a safe relative object key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("object key is empty")]
    Empty,
    #[error("object key {0:?} is longer than {MAX_KEY_LEN} bytes")]
    TooLong(String),
    #[error("object key {0:?} must be relative (no leading `/`)")]
    Absolute(String),
    #[error("object key {0:?} has an empty segment (`//` or a trailing `/`)")]
    EmptySegment(String),
    #[error("object key {0:?} has a `.` or `..` segment")]
    DotSegment(String),
    #[error("object key {key:?} contains {found:?}, which is not allowed in keys")]
    BadCharacter { key: String, found: char },
}

/// A validated relative object key such as `run-1/jobs/s7-l1.json`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ObjectKey(String);

impl ObjectKey {
    pub fn new(value: impl Into<String>) -> Result<Self, KeyError> {
        let value = value.into();
        validate_key(&value)?;
        Ok(Self(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Checks the key rules; see [`KeyError`] for what is rejected.
pub fn validate_key(key: &str) -> Result<(), KeyError> {
    if key.is_empty() {
        return Err(KeyError::Empty);
    }
    if key.len() > MAX_KEY_LEN {
        return Err(KeyError::TooLong(key.to_owned()));
    }
    if let Some(found) = key.chars().find(|&c| c == '\\' || c.is_control()) {
        return Err(KeyError::BadCharacter {
            key: key.to_owned(),
            found,
        });
    }
    if key.starts_with('/') {
        return Err(KeyError::Absolute(key.to_owned()));
    }
    for segment in key.split('/') {
        match segment {
            "" => return Err(KeyError::EmptySegment(key.to_owned())),
            "." | ".." => return Err(KeyError::DotSegment(key.to_owned())),
            _ => {}
        }
    }
    Ok(())
}

impl TryFrom<String> for ObjectKey {
    type Error = KeyError;
    fn try_from(value: String) -> Result<Self, KeyError> {
        Self::new(value)
    }
}

impl From<ObjectKey> for String {
    fn from(key: ObjectKey) -> String {
        key.0
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_relative_keys() {
        for key in [
            "jobs/job-123.json",
            "run-1/jobs/s7-l1.json",
            "a",
            "a/..b/c..",
        ] {
            assert_eq!(ObjectKey::new(key).unwrap().as_str(), key);
        }
    }

    #[test]
    fn rejects_escaping_keys() {
        let cases: &[(&str, &str)] = &[
            ("", "object key is empty"),
            (
                "/etc/passwd",
                "object key \"/etc/passwd\" must be relative (no leading `/`)",
            ),
            ("../x", "object key \"../x\" has a `.` or `..` segment"),
            (
                "a/../../x",
                "object key \"a/../../x\" has a `.` or `..` segment",
            ),
            ("a/./b", "object key \"a/./b\" has a `.` or `..` segment"),
            (
                "a//b",
                "object key \"a//b\" has an empty segment (`//` or a trailing `/`)",
            ),
            (
                "a/",
                "object key \"a/\" has an empty segment (`//` or a trailing `/`)",
            ),
            (
                "a\\..\\b",
                "object key \"a\\\\..\\\\b\" contains '\\\\', which is not allowed in keys",
            ),
            (
                "a\0b",
                "object key \"a\\0b\" contains '\\0', which is not allowed in keys",
            ),
        ];
        for (key, expected) in cases {
            assert_eq!(
                &ObjectKey::new(*key).unwrap_err().to_string(),
                expected,
                "{key:?}"
            );
        }
        assert!(matches!(
            ObjectKey::new("k".repeat(1025)),
            Err(KeyError::TooLong(_))
        ));
    }
}
