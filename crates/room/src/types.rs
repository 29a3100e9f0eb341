//! The crate's inputs and outputs and its configuration: what the server hands `Rooms` and
//! what it gets back. Every module names them from here.

use moot_protocol::{
    DisplayName, ErrorCode, LeaveReason, ParticipantId, Quality, RoomName, ServerMessage, TrackKind,
};
use std::net::IpAddr;

/// Limits and policy for all rooms of one server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomsConfig {
    /// A join is refused with `room_full` once this many people are in the room; the lobby of a
    /// room holds at most this many people too.
    pub max_participants_per_room: usize,
    /// Refuse to create rooms whose names are guessable ([`guessable::is_guessable`]).
    pub require_unguessable_names: bool,
    /// Creating a room beyond this many is refused with `too_many_rooms`; joining an existing
    /// room is not affected.
    pub max_rooms: usize,
    /// New rooms start with end-to-end encryption on (`rooms.e2ee_by_default`).
    pub e2ee_by_default: bool,
    /// The server can record (its operator named a recording directory): `set_recording`
    /// is refused with `recording_unavailable` otherwise.
    pub recording_available: bool,
}

impl Default for RoomsConfig {
    fn default() -> Self {
        // The protocol documents 100 as the default limit (docs/protocol.md, "Errors").
        Self {
            max_participants_per_room: 100,
            require_unguessable_names: false,
            max_rooms: 1000,
            e2ee_by_default: false,
            recording_available: false,
        }
    }
}

/// What a `hello` brings besides the room and display name. The server passes the client's
/// fields as received; this crate normalises them (see each field).
#[derive(Clone, PartialEq, Eq)]
pub struct JoinRequest {
    /// The browser's random identity, used to enforce bans. One that is not 16–64 characters
    /// of `A–Z a–z 0–9 - _` is treated as absent.
    pub identity: Option<String>,
    pub password: Option<String>,
    pub host_key: Option<String>,
    /// A note to the moderators while waiting in the lobby: control characters removed,
    /// trimmed, cut to 200 characters; empty means none.
    pub knock: Option<String>,
    /// The client's address, for password throttling only: never output, and forgotten
    /// 15 minutes after its last failed password.
    pub client: IpAddr,
    /// A fresh random secret from the server; becomes the room's host key if this join
    /// creates the room, and is otherwise ignored.
    pub new_host_key: String,
    /// `hello.resume`: the resume token of an earlier session of this participant. If it is the
    /// current token of someone in the room whose connection dropped less than
    /// [`RESUME_GRACE`] ago, this join continues that session (see [`Output::Resumed`]);
    /// otherwise it is ignored and the join goes on as a new person's.
    pub resume: Option<String>,
    /// A fresh random secret from the server: becomes this participant's resume token (sent
    /// in `welcome`). It must be unguessable and unique; an empty token never matches.
    pub new_resume_token: String,
    /// `hello.e2ee`: the client can do end-to-end encryption.
    pub e2ee: bool,
    /// `hello.e2ee_public_key`, as received. Only a valid one ([`valid_e2ee_public_key`]) with
    /// `e2ee` makes the participant E2EE-capable; it then appears in their participant object.
    pub e2ee_public_key: Option<String>,
    /// `password` already checked against the room's password hash outside the rooms' lock
    /// ([`Rooms::password_to_check`], [`verify_password`]): Argon2 takes tens of milliseconds
    /// and must not stall every room. Used only if the room still has that hash; otherwise
    /// the room checks the password itself.
    pub password_check: Option<PasswordCheck>,
}

/// The result of checking a join's password against a room's password hash.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordCheck {
    /// The PHC string the password was checked against.
    pub phc: String,
    pub matches: bool,
}

impl std::fmt::Debug for PasswordCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordCheck")
            .field("matches", &self.matches)
            .finish_non_exhaustive()
    }
}

impl JoinRequest {
    /// A request with nothing but the client address, a new host key and a new resume token.
    pub fn new(
        client: IpAddr,
        new_host_key: impl Into<String>,
        new_resume_token: impl Into<String>,
    ) -> Self {
        Self {
            identity: None,
            password: None,
            host_key: None,
            knock: None,
            client,
            new_host_key: new_host_key.into(),
            resume: None,
            new_resume_token: new_resume_token.into(),
            e2ee: false,
            e2ee_public_key: None,
            password_check: None,
        }
    }
}

/// Secrets stay out of logs: the password and host keys are shown only as present or absent.
impl std::fmt::Debug for JoinRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinRequest")
            .field("identity", &self.identity.as_ref().map(|_| "…"))
            .field("password", &self.password.as_ref().map(|_| "…"))
            .field("host_key", &self.host_key.as_ref().map(|_| "…"))
            .field("knock", &self.knock)
            .field("resume", &self.resume.as_ref().map(|_| "…"))
            .finish_non_exhaustive()
    }
}

/// A moderator action, one per protocol message of that name.
#[derive(Clone, PartialEq, Eq)]
pub enum Action {
    SetLobby(bool),
    /// `salt` must be fresh random bytes from the server.
    SetPassword {
        password: String,
        salt: [u8; 16],
        /// [`hash_password`] of `password` and `salt`, made by the caller outside the lock it
        /// keeps `Rooms` under when [`Rooms::password_to_hash`] said so: Argon2 takes tens of
        /// milliseconds and must not stall every room. None: the room hashes it itself.
        hashed: Option<String>,
    },
    RemovePassword,
    SetLock(bool),
    SetAllowUnmute(bool),
    Admit(ParticipantId),
    Reject(ParticipantId),
    Remove(ParticipantId),
    Mute(ParticipantId, TrackKind),
    MuteAll(TrackKind),
    AllowUnmute(ParticipantId),
    MakeModerator(ParticipantId),
    /// Whether people who join later receive the room's last [`CHAT_HISTORY_LEN`] group
    /// messages. The room always keeps them in memory (never private messages; all of them
    /// are gone with the room), so turning this on also shares messages sent before it was
    /// turned on: moderators should know that enabling it shows newcomers what was said
    /// earlier, not only what is said from now on.
    SetChatHistory(bool),
    /// Turns end-to-end encryption on (refused while someone in the room cannot do it) or
    /// off (always refused once on: see docs/e2ee.md).
    SetE2ee(bool),
    /// Start or stop recording on the server.
    SetRecording(bool),
}

impl Action {
    /// The protocol message this action comes from, for error messages.
    pub fn wire_name(&self) -> &'static str {
        match self {
            Self::SetLobby(_) => "set_lobby",
            Self::SetPassword { .. } => "set_password",
            Self::RemovePassword => "remove_password",
            Self::SetLock(_) => "set_lock",
            Self::SetAllowUnmute(_) => "set_allow_unmute",
            Self::Admit(_) => "admit",
            Self::Reject(_) => "reject",
            Self::Remove(_) => "remove",
            Self::Mute(..) => "mute",
            Self::MuteAll(_) => "mute_all",
            Self::AllowUnmute(_) => "allow_unmute",
            Self::MakeModerator(_) => "make_moderator",
            Self::SetChatHistory(_) => "set_chat_history",
            Self::SetE2ee(_) => "set_e2ee",
            Self::SetRecording(_) => "set_recording",
        }
    }
}

/// The password never appears in debug output.
impl std::fmt::Debug for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::SetPassword { .. } => f.write_str("SetPassword { .. }"),
            Self::SetLobby(on) => write!(f, "SetLobby({on})"),
            Self::RemovePassword => f.write_str("RemovePassword"),
            Self::SetLock(on) => write!(f, "SetLock({on})"),
            Self::SetAllowUnmute(on) => write!(f, "SetAllowUnmute({on})"),
            Self::Admit(id) => write!(f, "Admit({id})"),
            Self::Reject(id) => write!(f, "Reject({id})"),
            Self::Remove(id) => write!(f, "Remove({id})"),
            Self::Mute(id, kind) => write!(f, "Mute({id}, {kind:?})"),
            Self::MuteAll(kind) => write!(f, "MuteAll({kind:?})"),
            Self::AllowUnmute(id) => write!(f, "AllowUnmute({id})"),
            Self::MakeModerator(id) => write!(f, "MakeModerator({id})"),
            Self::SetChatHistory(on) => write!(f, "SetChatHistory({on})"),
            Self::SetE2ee(on) => write!(f, "SetE2ee({on})"),
            Self::SetRecording(on) => write!(f, "SetRecording({on})"),
        }
    }
}

/// Something that happened to a participant, as reported by the server.
///
/// Not `#[non_exhaustive]` on purpose: when a feature adds an input, the server should fail to
/// compile until it decides where that input comes from.
// Inputs are handled one at a time and never stored, so the size of `Join` costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A connection said `hello` (already validated) and wants to enter `room`.
    Join {
        id: ParticipantId,
        room: RoomName,
        name: DisplayName,
        request: JoinRequest,
    },
    /// The participant sent `leave`, closed its socket or timed out. Also for someone waiting
    /// in a lobby: they just vanish from the lobby list.
    Leave {
        id: ParticipantId,
        reason: LeaveReason,
    },
    /// The participant's microphone, camera or screen share was turned on or off.
    MediaState {
        id: ParticipantId,
        audio: bool,
        video: bool,
        screen: bool,
    },
    /// `raise_hand`.
    RaiseHand { id: ParticipantId, raised: bool },
    /// A moderator action from `id` (who may turn out not to be a moderator).
    Moderate { id: ParticipantId, action: Action },
    /// `chat`, as received (this crate trims and checks the text).
    Chat {
        id: ParticipantId,
        text: String,
        to: Option<ParticipantId>,
    },
    /// `react`, as received (this crate checks the emoji).
    React { id: ParticipantId, emoji: String },
    /// `set_name`, with a name the server has already validated.
    SetName {
        id: ParticipantId,
        name: DisplayName,
    },
    /// `set_quality`.
    SetQuality { id: ParticipantId, quality: Quality },
    /// `e2ee`: an opaque key exchange message for `to`, as received (this crate checks the
    /// payload's size and alphabet, that both are in the same room, and the rate).
    E2ee {
        id: ParticipantId,
        to: ParticipantId,
        payload: String,
    },
    /// The server stopped recording room `instance` by itself (`recording.max_minutes`
    /// reached, the disk nearly full, a file that cannot be written): everyone is told it
    /// stopped, and each moderator why (`reason`, a sentence). Ignored for a room that is not
    /// recording any more.
    RecordingEnded {
        instance: RoomInstanceId,
        reason: String,
    },
    /// The SFU decided who speaks in `room_of`'s room (`None`: nobody); `dominant_speaker` is
    /// broadcast to that room if it changed. A speaker who is not in that room is ignored.
    DominantSpeaker {
        id: Option<ParticipantId>,
        room_of: ParticipantId,
    },
    /// The connection dropped without `leave`: the member stays for [`RESUME_GRACE`] without
    /// anyone being told (the server removes their media peer itself), then leaves with reason
    /// `disconnected` (see [`Rooms::handle_timeout`]). Someone waiting in a lobby just
    /// vanishes from it, as with `Leave`.
    Disconnect { id: ParticipantId },
}

/// Something the server must do. Drain with [`Rooms::poll_output`] after every input, in order:
/// the order is meaningful (e.g. `Left` comes before anyone is told, so media stops first;
/// `Permissions` comes before anyone is told about a mute).
///
/// Not `#[non_exhaustive]` on purpose, for the same reason as [`Input`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Deliver this message to that participant's connection.
    Send {
        to: ParticipantId,
        message: ServerMessage,
    },
    /// `id` is now in room instance `instance` (after admission if there was a lobby): the
    /// server connects its media there. It may send both audio and video until a
    /// `Permissions` output says otherwise.
    Joined {
        id: ParticipantId,
        instance: RoomInstanceId,
    },
    /// Fatal for that session: the server sends `ServerMessage::fatal(code, message)` and
    /// closes it. Used for every refusal (room_full, room_locked, password_required,
    /// wrong_password, too_many_attempts, guessable_room_name, removed, declined). Afterwards
    /// this crate has forgotten `id`: a later `Leave` for it is `RoomError::UnknownParticipant`.
    Refused {
        id: ParticipantId,
        code: ErrorCode,
        message: String,
    },
    /// `id` is out of `instance` (left, disconnected or removed): its media must stop being
    /// forwarded at once.
    Left {
        id: ParticipantId,
        instance: RoomInstanceId,
    },
    /// Which media the SFU may forward from `id` (false while a moderator mute is in force).
    /// Emitted whenever it changes for someone in the room.
    Permissions {
        id: ParticipantId,
        audio: bool,
        video: bool,
    },
    /// The first participant is about to enter a new room (comes before its `Joined`).
    RoomCreated {
        instance: RoomInstanceId,
        room: RoomName,
    },
    /// Every trace of the room (participants, settings, password hash, bans, chat) is gone
    /// from memory.
    RoomDestroyed {
        instance: RoomInstanceId,
        room: RoomName,
    },
    /// Start or stop recording the room's media (a moderator said so, or, to stop, the
    /// meeting became end-to-end encrypted). Starting comes after everyone was told in
    /// `settings`; stopping before, so nothing is recorded that people were told is not.
    /// A room that ends while recording stops it too (before `RoomDestroyed`).
    Recording {
        instance: RoomInstanceId,
        enabled: bool,
    },
    /// What `id` wants to receive; the SFU enforces it. Emitted on every `set_quality`, and
    /// when a session resumes with a quality other than `High` (a new member receives `High`).
    Quality { id: ParticipantId, quality: Quality },
    /// A new connection (`connection`, the id the server gave it) resumed participant
    /// `participant`: the server moves its session over to `participant` and forgets
    /// `connection`, which this crate never records. Comes before the `Joined { id:
    /// participant, .. }` and the resumed `welcome` (which is addressed to `participant`).
    Resumed {
        connection: ParticipantId,
        participant: ParticipantId,
    },
}

/// Distinguishes successive lives of a room with the same name: when a room empties and is
/// re-created later it gets a new instance id. Numbered from 1 in creation order.
///
/// The server keys media routing by instance rather than by name, so that nothing from a
/// destroyed room (a late packet, a stale track) can leak into a new room of the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoomInstanceId(pub u64);

/// Bad input from the server: an input that does not fit the current state. Such an input
/// changes nothing and produces no output; it points at a bug in the caller, not at a client
/// misbehaving (clients are checked by the server before anything reaches this crate).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RoomError {
    #[error("participant {0} is not in any room")]
    UnknownParticipant(ParticipantId),
    #[error("participant {id} is already in (or waiting for) room {room}")]
    AlreadyJoined { id: ParticipantId, room: RoomName },
}
