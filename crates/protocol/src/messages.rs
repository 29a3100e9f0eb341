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
        /// A random id the browser keeps, so a removal can be enforced as a ban.
        #[serde(default)]
        identity: Option<String>,
        #[serde(default)]
        password: Option<String>,
        /// Proves the holder created the room: moderator again, past lock/password/lobby.
        #[serde(default)]
        host_key: Option<String>,
        /// A short note shown to moderators while waiting in the lobby.
        #[serde(default)]
        knock: Option<String>,
        /// The `resume_token` of a session that dropped less than 10 s ago.
        #[serde(default)]
        resume: Option<String>,
        /// The client can encrypt and decrypt media end to end (docs/e2ee.md); without it
        /// (or without a valid `e2ee_public_key`) it cannot enter a room with `e2ee` on.
        #[serde(default)]
        e2ee: bool,
        /// The client's ECDH identity public key (base64), shown to the others in its
        /// participant object so that each pair can derive a shared key.
        #[serde(default)]
        e2ee_public_key: Option<String>,
    },
    /// The client's one initial offer (its send-only audio and video transceivers).
    Offer {
        sdp: String,
        /// What each of the client's mids carries; absent: by m-line order (protocol.md).
        #[serde(default)]
        sources: Option<std::collections::BTreeMap<String, TrackSource>>,
        /// The client can receive other people's microphones on a fixed pool of audio
        /// transceivers in a large room (protocol.md, "Audio slots").
        #[serde(default)]
        audio_slots: bool,
    },
    /// The answer to a server offer.
    Answer {
        sdp: String,
    },
    /// Whether the microphone and camera are on.
    MediaState {
        audio: bool,
        video: bool,
        #[serde(default)]
        screen: bool,
    },
    Leave {},
    RaiseHand {
        raised: bool,
    },
    SetLobby {
        enabled: bool,
    },
    SetPassword {
        password: String,
    },
    RemovePassword {},
    SetLock {
        locked: bool,
    },
    SetAllowUnmute {
        allowed: bool,
    },
    Admit {
        id: ParticipantId,
    },
    Reject {
        id: ParticipantId,
    },
    Remove {
        id: ParticipantId,
    },
    Mute {
        id: ParticipantId,
        kind: TrackKind,
    },
    MuteAll {
        kind: TrackKind,
    },
    AllowUnmute {
        id: ParticipantId,
    },
    MakeModerator {
        id: ParticipantId,
    },
    Chat {
        text: String,
        #[serde(default)]
        to: Option<ParticipantId>,
    },
    React {
        emoji: String,
    },
    SetName {
        name: String,
    },
    SetQuality {
        quality: Quality,
    },
    SetChatHistory {
        enabled: bool,
    },
    /// Moderators: turn end-to-end encryption on (it cannot be turned off again).
    SetE2ee {
        enabled: bool,
    },
    /// Moderators: start or stop recording the meeting on the server.
    SetRecording {
        enabled: bool,
    },
    /// An opaque end-to-end key exchange message for one other participant of the room.
    E2ee {
        to: ParticipantId,
        payload: String,
    },
    /// The height (CSS pixels × devicePixelRatio) at which the client shows each other
    /// participant's camera; 0 for a tile that is hidden or off screen. Replaces the last one.
    ViewSizes {
        sizes: std::collections::BTreeMap<ParticipantId, u32>,
    },
}

/// At most this many entries in `view_sizes` (more people than a room holds by default).
pub const MAX_VIEW_SIZES: usize = 256;
/// Largest height accepted in `view_sizes`: an 8K screen's height twice over.
pub const MAX_VIEW_HEIGHT: u32 = 16_384;

impl ClientMessage {
    /// What is wrong with a `view_sizes` map, if anything (the JSON types are checked when
    /// decoding; these are the limits of docs/protocol.md).
    pub fn view_sizes_problem(
        sizes: &std::collections::BTreeMap<ParticipantId, u32>,
    ) -> Option<String> {
        if sizes.len() > MAX_VIEW_SIZES {
            return Some(format!(
                "view_sizes lists {} participants; at most {MAX_VIEW_SIZES}",
                sizes.len()
            ));
        }
        sizes
            .iter()
            .find(|(_, h)| **h > MAX_VIEW_HEIGHT)
            .map(|(id, h)| format!("view_sizes height {h} for {id} is over {MAX_VIEW_HEIGHT}"))
    }
}

const CLIENT_MESSAGE_TYPES: [&str; 27] = [
    "hello",
    "offer",
    "answer",
    "media_state",
    "leave",
    "raise_hand",
    "set_lobby",
    "set_password",
    "remove_password",
    "set_lock",
    "set_allow_unmute",
    "admit",
    "reject",
    "remove",
    "mute",
    "mute_all",
    "allow_unmute",
    "make_moderator",
    "chat",
    "react",
    "set_name",
    "set_quality",
    "set_chat_history",
    "set_e2ee",
    "set_recording",
    "e2ee",
    "view_sizes",
];

impl ClientMessage {
    /// The wire name of the message type, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Hello { .. } => "hello",
            Self::Offer { .. } => "offer",
            Self::Answer { .. } => "answer",
            Self::MediaState { .. } => "media_state",
            Self::Leave {} => "leave",
            Self::RaiseHand { .. } => "raise_hand",
            Self::SetLobby { .. } => "set_lobby",
            Self::SetPassword { .. } => "set_password",
            Self::RemovePassword {} => "remove_password",
            Self::SetLock { .. } => "set_lock",
            Self::SetAllowUnmute { .. } => "set_allow_unmute",
            Self::Admit { .. } => "admit",
            Self::Reject { .. } => "reject",
            Self::Remove { .. } => "remove",
            Self::Mute { .. } => "mute",
            Self::MuteAll { .. } => "mute_all",
            Self::AllowUnmute { .. } => "allow_unmute",
            Self::MakeModerator { .. } => "make_moderator",
            Self::Chat { .. } => "chat",
            Self::React { .. } => "react",
            Self::SetName { .. } => "set_name",
            Self::SetQuality { .. } => "set_quality",
            Self::SetChatHistory { .. } => "set_chat_history",
            Self::SetE2ee { .. } => "set_e2ee",
            Self::SetRecording { .. } => "set_recording",
            Self::E2ee { .. } => "e2ee",
            Self::ViewSizes { .. } => "view_sizes",
        }
    }
}

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
    /// Sharing their screen.
    #[serde(default)]
    pub screen: bool,
    pub moderator: bool,
    pub hand_raised: bool,
    /// Place in the raised-hand queue (increases with each raise in the room); None when lowered.
    #[serde(default)]
    pub hand_seq: Option<u64>,
    /// A moderator muted this person's audio and it has not been allowed again; the server
    /// drops their audio meanwhile.
    pub audio_blocked: bool,
    /// Same for video.
    pub video_blocked: bool,
    /// Their end-to-end encryption identity key (base64 ECDH public key), if their client can
    /// do end-to-end encryption. The server only passes it on.
    #[serde(default)]
    pub e2ee_public_key: Option<String>,
}

/// Room settings everyone in the room may see. `password` only says whether one is set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomSettings {
    pub lobby: bool,
    pub locked: bool,
    pub password: bool,
    pub allow_unmute: bool,
    /// Newcomers receive the last 100 group chat messages.
    #[serde(default)]
    pub chat_history: bool,
    /// Media and chat are end-to-end encrypted; once on, it stays on for the room's life.
    #[serde(default)]
    pub e2ee: bool,
    /// The server is recording the meeting (everyone is told, newcomers before they enter).
    #[serde(default)]
    pub recording: bool,
}

/// Where a track comes from on its sender's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrackSource {
    Microphone,
    Camera,
    Screen,
    ScreenAudio,
}

impl TrackSource {
    pub fn kind(self) -> TrackKind {
        match self {
            Self::Microphone | Self::ScreenAudio => TrackKind::Audio,
            Self::Camera | Self::Screen => TrackKind::Video,
        }
    }
}

/// What a participant wants to receive (`set_quality`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Quality {
    /// Video of everyone.
    #[default]
    High,
    /// Video of at most 9 people, most recent speakers first.
    Standard,
    /// Only the current speaker's video (and screen shares).
    Low,
    /// No video at all.
    AudioOnly,
}

/// One chat message as delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Counts the room's messages from 1.
    pub seq: u64,
    pub from: ParticipantId,
    pub name: DisplayName,
    pub text: String,
    /// None: to everyone; else the one recipient (private).
    pub to: Option<ParticipantId>,
}

/// The reactions a participant may send.
pub const REACTIONS: [&str; 6] = ["👍", "👏", "😂", "😮", "❤️", "🎉"];

/// Someone waiting in the lobby, as moderators see them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LobbyEntry {
    pub id: ParticipantId,
    pub name: DisplayName,
    pub knock: Option<String>,
}

/// Why someone left the room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeaveReason {
    Left,
    Removed,
    Disconnected,
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
    pub source: TrackSource,
}

/// One entry of `welcome.ice_servers`: the shape of WebRTC's `RTCIceServer`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServer {
    /// "turn:host:port?transport=udp", "turns:host:port?transport=tcp", ...
    pub urls: Vec<String>,
    /// For TURN's shared-secret scheme: "<unix expiry time>:<random>".
    pub username: String,
    /// base64(HMAC-SHA1(shared secret, username)).
    pub credential: String,
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
        settings: RoomSettings,
        /// Only to the room's creator.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        host_key: Option<String>,
        /// Lets this participant resume within 10 s if the connection drops.
        resume_token: String,
        /// This welcome continues an earlier session (see "Reconnecting").
        #[serde(default)]
        resumed: bool,
        /// STUN/TURN servers for the client's RTCPeerConnection (`iceServers`), with
        /// short-lived credentials; empty when the instance has no TURN relay. The room logic
        /// leaves it empty: the server fills it in (it has the config and the clock).
        #[serde(default)]
        ice_servers: Vec<IceServer>,
    },
    Chat {
        message: ChatMessage,
    },
    ChatHistory {
        messages: Vec<ChatMessage>,
    },
    Reaction {
        id: ParticipantId,
        emoji: String,
    },
    DominantSpeaker {
        id: Option<ParticipantId>,
    },
    Waiting {},
    Lobby {
        waiting: Vec<LobbyEntry>,
    },
    Settings {
        settings: RoomSettings,
    },
    Muted {
        kind: TrackKind,
    },
    Answer {
        sdp: String,
    },
    Offer {
        sdp: String,
        tracks: Vec<TrackInfo>,
        /// The audio slots' mids (protocol.md, "Audio slots"); absent when none.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        slots: Vec<String>,
    },
    /// From now on the audio slot `mid` carries `participant`'s microphone.
    Slot {
        mid: String,
        participant: ParticipantId,
    },
    ParticipantJoined {
        participant: Participant,
    },
    ParticipantLeft {
        id: ParticipantId,
        reason: LeaveReason,
    },
    ParticipantUpdated {
        participant: Participant,
    },
    /// An end-to-end key exchange message from `from`, passed on as received.
    E2ee {
        from: ParticipantId,
        payload: String,
    },
    /// To a publisher: encode only these simulcast layers (RIDs) of the track it sends on
    /// `mid`; the others nobody receives now. Sent whenever the set changes.
    Layers {
        mid: String,
        active: Vec<String>,
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
    NotAllowed,
    UnknownParticipant,
    BadPassword,
    PasswordRequired,
    WrongPassword,
    TooManyAttempts,
    RoomLocked,
    Declined,
    Removed,
    GuessableRoomName,
    TooManyRooms,
    TooManyConnections,
    ServerShutdown,
    BadChat,
    BadReaction,
    E2eeUnsupported,
    BadE2ee,
    /// `set_recording` on a server whose operator did not turn recording on.
    RecordingUnavailable,
    /// `set_recording` in an end-to-end encrypted meeting: the server cannot see its media.
    RecordingEncrypted,
    /// To moderators: the server stopped a recording by itself (a limit, the disk); the
    /// message says why.
    RecordingStopped,
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
                name: "A".into(),
                identity: None,
                password: None,
                host_key: None,
                knock: None,
                resume: None,
                e2ee: false,
                e2ee_public_key: None,
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
                video: false,
                screen: false
            })
        );
    }

    #[test]
    fn decodes_moderator_actions() {
        assert_eq!(
            decode_client_message(r#"{"type":"mute","id":"p3","kind":"audio"}"#),
            Ok(ClientMessage::Mute {
                id: ParticipantId(3),
                kind: TrackKind::Audio
            })
        );
        assert_eq!(
            decode_client_message(r#"{"type":"remove_password"}"#),
            Ok(ClientMessage::RemovePassword {})
        );
        for kind in CLIENT_MESSAGE_TYPES {
            // Every listed type is known: a bare one is a bad message, never an unknown type.
            let decoded = decode_client_message(&format!(r#"{{"type":"{kind}","x":1}}"#));
            assert_eq!(
                decoded.map_err(|e| e.code()),
                Err(ErrorCode::BadMessage),
                "{kind}"
            );
        }
    }

    #[test]
    fn view_sizes_decode_and_have_limits() {
        let decoded = decode_client_message(r#"{"type":"view_sizes","sizes":{"p2":720,"p3":0}}"#);
        let Ok(ClientMessage::ViewSizes { sizes }) = decoded else {
            panic!("{decoded:?}");
        };
        assert_eq!(sizes.get(&ParticipantId(2)), Some(&720));
        assert_eq!(ClientMessage::view_sizes_problem(&sizes), None);
        for bad in [
            r#"{"type":"view_sizes","sizes":{"p2":-1}}"#,
            r#"{"type":"view_sizes","sizes":{"p2":1.5}}"#,
            r#"{"type":"view_sizes","sizes":{"bob":10}}"#,
            r#"{"type":"view_sizes","sizes":[1]}"#,
        ] {
            assert_eq!(
                decode_client_message(bad).map_err(|e| e.code()),
                Err(ErrorCode::BadMessage),
                "{bad}"
            );
        }
        let tall = [(ParticipantId(2), MAX_VIEW_HEIGHT + 1)]
            .into_iter()
            .collect();
        assert!(ClientMessage::view_sizes_problem(&tall).is_some());
        let many = (0..=MAX_VIEW_SIZES as u64)
            .map(|i| (ParticipantId(i), 1))
            .collect();
        assert!(ClientMessage::view_sizes_problem(&many).is_some());
        let layers = ServerMessage::Layers {
            mid: "1".into(),
            active: vec!["q".into(), "h".into()],
        };
        assert_eq!(
            layers.to_json(),
            r#"{"type":"layers","mid":"1","active":["q","h"]}"#
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
            reason: LeaveReason::Removed,
        };
        assert_eq!(
            msg.to_json(),
            r#"{"type":"participant_left","id":"p7","reason":"removed"}"#
        );
        let err = ServerMessage::error(ErrorCode::OutOfOrder, "x");
        assert_eq!(
            err.to_json(),
            r#"{"type":"error","code":"out_of_order","message":"x","fatal":false}"#
        );
    }
}
