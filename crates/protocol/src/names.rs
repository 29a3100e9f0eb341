//! Validated names that cross crate boundaries.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a room or display name was refused. The text is shown to people as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    #[error("a room name must be 1 to 128 characters long")]
    RoomNameLength,
    #[error("a room name may only contain the letters A-Z, digits, '-' and '_' (found {0:?})")]
    RoomNameCharacter(char),
    #[error("the room name {0:?} is reserved")]
    RoomNameReserved(String),
    #[error("a display name must be 1 to 64 characters long after trimming spaces")]
    DisplayNameLength,
    #[error("a display name may not contain control characters")]
    DisplayNameControl,
}

/// Paths the server uses for itself; a room cannot be called this.
const RESERVED_ROOM_NAMES: [&str; 5] = ["api", "assets", "healthz", "metrics", "privacy"];

/// A room name in canonical (lower-case) form. Matching is case-insensitive because people
/// retype links by hand; the canonical form is what rooms are keyed by.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct RoomName(String);

impl RoomName {
    pub const MAX_LEN: usize = 128;

    /// Validates and canonicalises a room name as typed in a URL path.
    pub fn parse(raw: &str) -> Result<Self, NameError> {
        if raw.is_empty() || raw.len() > Self::MAX_LEN {
            return Err(NameError::RoomNameLength);
        }
        if let Some(bad) = raw
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(NameError::RoomNameCharacter(bad));
        }
        let canonical = raw.to_ascii_lowercase();
        if RESERVED_ROOM_NAMES.contains(&canonical.as_str()) {
            return Err(NameError::RoomNameReserved(canonical));
        }
        Ok(Self(canonical))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RoomName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A person's display name: trimmed, 1–64 Unicode scalar values, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DisplayName(String);

impl DisplayName {
    pub const MAX_CHARS: usize = 64;

    pub fn parse(raw: &str) -> Result<Self, NameError> {
        let trimmed = raw.trim();
        let count = trimmed.chars().count();
        if count == 0 || count > Self::MAX_CHARS {
            return Err(NameError::DisplayNameLength);
        }
        if trimmed.chars().any(char::is_control) {
            return Err(NameError::DisplayNameControl);
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for DisplayName {
    type Error = NameError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<DisplayName> for String {
    fn from(value: DisplayName) -> Self {
        value.0
    }
}

impl fmt::Display for DisplayName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A participant id, assigned by the server, unique for the server's lifetime.
/// On the wire it is `"p<number>"`; clients treat it as opaque.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParticipantId(pub u64);

impl fmt::Display for ParticipantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "p{}", self.0)
    }
}

impl Serialize for ParticipantId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ParticipantId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.strip_prefix('p')
            .and_then(|n| n.parse().ok())
            .map(ParticipantId)
            .ok_or_else(|| serde::de::Error::custom("participant id must look like p123"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_names_are_case_insensitive() {
        let a = RoomName::parse("Team-Sync_1").expect("valid");
        let b = RoomName::parse("team-sync_1").expect("valid");
        assert_eq!(a, b);
        assert_eq!(a.as_str(), "team-sync_1");
    }

    #[test]
    fn room_name_rules() {
        assert_eq!(RoomName::parse(""), Err(NameError::RoomNameLength));
        assert!(RoomName::parse(&"a".repeat(128)).is_ok());
        assert_eq!(
            RoomName::parse(&"a".repeat(129)),
            Err(NameError::RoomNameLength)
        );
        assert_eq!(
            RoomName::parse("a b"),
            Err(NameError::RoomNameCharacter(' '))
        );
        assert_eq!(
            RoomName::parse("../etc"),
            Err(NameError::RoomNameCharacter('.'))
        );
        assert_eq!(
            RoomName::parse("café"),
            Err(NameError::RoomNameCharacter('é'))
        );
        assert!(matches!(
            RoomName::parse("API"),
            Err(NameError::RoomNameReserved(_))
        ));
    }

    #[test]
    fn display_names_trim_and_bound() {
        assert_eq!(
            DisplayName::parse("  Zoë 🎉 ").expect("valid").as_str(),
            "Zoë 🎉"
        );
        assert_eq!(DisplayName::parse("   "), Err(NameError::DisplayNameLength));
        assert!(DisplayName::parse(&"界".repeat(64)).is_ok());
        assert_eq!(
            DisplayName::parse(&"界".repeat(65)),
            Err(NameError::DisplayNameLength)
        );
        assert_eq!(
            DisplayName::parse("a\u{7}b"),
            Err(NameError::DisplayNameControl)
        );
        assert_eq!(
            DisplayName::parse("<img src=x onerror=alert(1)>")
                .expect("text is fine")
                .as_str(),
            "<img src=x onerror=alert(1)>"
        );
    }

    #[test]
    fn participant_ids_round_trip() {
        let id = ParticipantId(42);
        let json = serde_json::to_string(&id).expect("serialises");
        assert_eq!(json, "\"p42\"");
        assert_eq!(
            serde_json::from_str::<ParticipantId>(&json).expect("parses"),
            id
        );
        assert!(serde_json::from_str::<ParticipantId>("\"x1\"").is_err());
    }
}
