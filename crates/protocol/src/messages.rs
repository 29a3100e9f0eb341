//! The JSON messages of protocol version 1.

use crate::names::{DisplayName, ParticipantId, RoomName};
use serde::{Deserialize, Serialize};

/// Messages a client sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMessage {
    /// First message. `room` and `name` stay raw strings here so the server can answer a bad
    /// one with its specific error code rather than a generic `bad_message`.
    Hello {
        version: u32,
        room: String,
        name: String,
    },
    /// The client's one initial offer (its send-only audio and video transceivers).
    Offer {
        sdp: String,
    },
    /// The answer to a server offer.
    Answer {
        sdp: String,
    },
    /// Whether the microphone and camera are on.
    MediaState {
        audio: bool,
        video: bool,
    },
    Leave {},
}

const CLIENT_MESSAGE_TYPES: [&str; 5] = ["hello", "offer", "answer", "media_state", "leave"];

/// Why a client's text could not be decoded; each maps to one protocol error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    #[error("message is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("message must be a JSON object with a string field \"type\"")]
    NoType,
    #[error("unknown message type {0:?}")]
    UnknownType(String),
    #[error("bad {kind} message: {detail}")]
    BadMessage { kind: String, detail: String },
}

impl DecodeError {
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidJson(_) | Self::NoType => ErrorCode::InvalidJson,
            Self::UnknownType(_) => ErrorCode::UnknownType,
            Self::BadMessage { .. } => ErrorCode::BadMessage,
        }
    }
}

/// Decodes one client text frame, telling apart broken JSON, unknown types and bad fields.
pub fn decode_client_message(text: &str) -> Result<ClientMessage, DecodeError> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| DecodeError::InvalidJson(e.to_string()))?;
    let kind = value
        .get("type")
        .and_then(|t| t.as_str())
        .ok_or(DecodeError::NoType)?
        .to_owned();
    if !CLIENT_MESSAGE_TYPES.contains(&kind.as_str()) {
        // Bound what we echo back: the type came from an untrusted client.
        let shown: String = kind.chars().take(40).collect();
        return Err(DecodeError::UnknownType(shown));
    }
    serde_json::from_value(value).map_err(|e| DecodeError::BadMessage {
        kind,
        detail: e.to_string(),
    })
}

/// A person as other clients see them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participant {
    pub id: ParticipantId,
    pub name: DisplayName,
    /// Microphone on.
    pub audio: bool,
    /// Camera on.
    pub video: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrackKind {
    Audio,
    Video,
}

/// One remote track in a server offer: which transceiver (mid) carries whose media.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackInfo {
    pub mid: String,
    pub participant: ParticipantId,
    pub kind: TrackKind,
}

/// Messages the server sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    Welcome {
        version: u32,
        you: Participant,
        room: RoomName,
        participants: Vec<Participant>,
    },
    Answer {
        sdp: String,
    },
    Offer {
        sdp: String,
        tracks: Vec<TrackInfo>,
    },
    ParticipantJoined {
        participant: Participant,
    },
    ParticipantLeft {
        id: ParticipantId,
    },
    ParticipantUpdated {
        participant: Participant,
    },
    Error {
        code: ErrorCode,
        message: String,
        fatal: bool,
    },
}

impl ServerMessage {
    pub fn error(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Error {
            code,
            message: message.into(),
            fatal: false,
        }
    }

    pub fn fatal(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Error {
            code,
            message: message.into(),
            fatal: true,
        }
    }

    pub fn to_json(&self) -> String {
        // Serialising these plain structs cannot fail: no maps with non-string keys, no
        // failing Serialize impls.
        serde_json::to_string(self).expect("server messages always serialise")
    }
}

// RoomName only deserialises through validation, for clients (testkit) reading `welcome`.
impl<'de> Deserialize<'de> for RoomName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        RoomName::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    InvalidJson,
    UnknownType,
    BadMessage,
    TooLarge,
    BadFrame,
    OutOfOrder,
    VersionMismatch,
    BadRoomName,
    BadDisplayName,
    BadSdp,
    RateLimited,
    RoomFull,
    ServerError,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_each_client_message() {
        let hello = decode_client_message(r#"{"type":"hello","version":1,"room":"r","name":"A"}"#);
        assert_eq!(
            hello,
            Ok(ClientMessage::Hello {
                version: 1,
                room: "r".into(),
                name: "A".into()
            })
        );
        assert_eq!(
            decode_client_message(r#"{"type":"leave"}"#),
            Ok(ClientMessage::Leave {})
        );
        assert_eq!(
            decode_client_message(r#"{"type":"media_state","audio":true,"video":false}"#),
            Ok(ClientMessage::MediaState {
                audio: true,
                video: false
            })
        );
    }

    #[test]
    fn tells_bad_inputs_apart() {
        assert_eq!(
            decode_client_message("{not json").map_err(|e| e.code()),
            Err(ErrorCode::InvalidJson)
        );
        assert_eq!(
            decode_client_message("[1,2]").map_err(|e| e.code()),
            Err(ErrorCode::InvalidJson)
        );
        assert_eq!(
            decode_client_message(r#"{"type":"launch_missiles"}"#).map_err(|e| e.code()),
            Err(ErrorCode::UnknownType)
        );
        let bad = decode_client_message(r#"{"type":"offer","sdp":5}"#);
        assert_eq!(
            bad.clone().map_err(|e| e.code()),
            Err(ErrorCode::BadMessage)
        );
        assert!(bad.expect_err("bad field").to_string().contains("offer"));
    }

    #[test]
    fn server_messages_have_documented_shape() {
        let msg = ServerMessage::ParticipantLeft {
            id: ParticipantId(7),
        };
        assert_eq!(msg.to_json(), r#"{"type":"participant_left","id":"p7"}"#);
        let err = ServerMessage::error(ErrorCode::OutOfOrder, "x");
        assert_eq!(
            err.to_json(),
            r#"{"type":"error","code":"out_of_order","message":"x","fatal":false}"#
        );
    }
}
