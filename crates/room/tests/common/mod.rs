//! Helpers shared by the integration tests: a harness with a controllable clock and
//! shorthands for the wire shapes.

#![allow(dead_code, unused_imports)] // each test binary uses a different subset

pub use moot_protocol::{
    ChatMessage, DisplayName, ErrorCode, LeaveReason, LobbyEntry, Participant, ParticipantId,
    Quality, RoomName, RoomSettings, ServerMessage, TrackKind, PROTOCOL_VERSION, REACTIONS,
};
pub use moot_room::{
    Action, Input, JoinRequest, Output, RoomError, RoomInstanceId, Rooms, RoomsConfig,
    CHAT_HISTORY_LEN, MAX_CHAT_CHARS, MAX_HELD_E2EE_PER_SENDER, RESUME_GRACE,
};
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

pub fn pid(n: u64) -> ParticipantId {
    ParticipantId(n)
}

pub fn room(name: &str) -> RoomName {
    RoomName::parse(name).expect("test room names are valid")
}

pub fn name(n: u64) -> DisplayName {
    DisplayName::parse(&format!("Person {n}")).expect("valid display name")
}

/// Participant `n` as freshly joined (not a moderator).
pub fn person(n: u64) -> Participant {
    Participant {
        id: pid(n),
        name: name(n),
        audio: false,
        video: false,
        screen: false,
        moderator: false,
        hand_raised: false,
        hand_seq: None,
        audio_blocked: false,
        video_blocked: false,
        e2ee_public_key: None,
    }
}

/// Participant `n` as a moderator.
pub fn moderator(n: u64) -> Participant {
    Participant {
        moderator: true,
        ..person(n)
    }
}

pub fn identity(n: u64) -> String {
    format!("identity-of-person-{n:04}")
}

pub fn host_key(n: u64) -> String {
    format!("host-key-made-for-{n:04}")
}

/// The resume token the server made for connection `n`.
pub fn resume_token(n: u64) -> String {
    format!("resume-token-made-for-{n:04}")
}

pub fn address(n: u64) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, (n / 250) as u8, (n % 250) as u8))
}

/// What participant `n` says in `hello` by default: its own identity and address.
pub fn request(n: u64) -> JoinRequest {
    JoinRequest {
        identity: Some(identity(n)),
        ..JoinRequest::new(address(n), host_key(n), resume_token(n))
    }
}

pub const INITIAL: RoomSettings = RoomSettings {
    lobby: false,
    locked: false,
    password: false,
    allow_unmute: true,
    chat_history: false,
    e2ee: false,
    recording: false,
};

pub fn send(to: u64, message: ServerMessage) -> Output {
    Output::Send {
        to: pid(to),
        message,
    }
}

pub fn welcome(you: Participant, room_name: &str, participants: Vec<Participant>) -> ServerMessage {
    welcome_with(you, room_name, participants, INITIAL, None)
}

pub fn welcome_with(
    you: Participant,
    room_name: &str,
    participants: Vec<Participant>,
    settings: RoomSettings,
    host_key: Option<String>,
) -> ServerMessage {
    ServerMessage::Welcome {
        version: PROTOCOL_VERSION,
        resume_token: resume_token(you.id.0),
        you,
        room: room(room_name),
        participants,
        settings,
        host_key,
        resumed: false,
        ice_servers: Vec::new(),
    }
}

/// A chat message `seq` from `from` as delivered.
pub fn chat_message(seq: u64, from: u64, text: &str, to: Option<u64>) -> ChatMessage {
    ChatMessage {
        seq,
        from: pid(from),
        name: name(from),
        text: text.into(),
        to: to.map(pid),
    }
}

pub fn chat(message: ChatMessage) -> ServerMessage {
    ServerMessage::Chat { message }
}

pub fn updated(participant: Participant) -> ServerMessage {
    ServerMessage::ParticipantUpdated { participant }
}

pub fn lobby(entries: &[u64]) -> ServerMessage {
    ServerMessage::Lobby {
        waiting: entries
            .iter()
            .map(|&n| LobbyEntry {
                id: pid(n),
                name: name(n),
                knock: None,
            })
            .collect(),
    }
}

/// The one `Refused` in `out` (which must hold nothing else).
pub fn refusal(out: &[Output]) -> (ParticipantId, ErrorCode, String) {
    match out {
        [Output::Refused { id, code, message }] => (*id, *code, message.clone()),
        _ => panic!("expected exactly one Refused, got {out:?}"),
    }
}

/// The one non-fatal error in `out` (which must hold nothing else), with its receiver.
pub fn error(out: &[Output]) -> (ParticipantId, ErrorCode, String) {
    match out {
        [Output::Send {
            to,
            message:
                ServerMessage::Error {
                    code,
                    message,
                    fatal: false,
                },
        }] => (*to, *code, message.clone()),
        _ => panic!("expected exactly one non-fatal error, got {out:?}"),
    }
}

/// The rooms under test and a clock the test moves by hand.
pub struct Harness {
    pub rooms: Rooms,
    pub now: Instant,
}

impl Default for Harness {
    fn default() -> Self {
        Self::new(RoomsConfig::default())
    }
}

impl Harness {
    pub fn new(config: RoomsConfig) -> Self {
        Self {
            rooms: Rooms::new(config),
            now: Instant::now(),
        }
    }

    pub fn with_limit(max: usize) -> Self {
        Self::new(RoomsConfig {
            max_participants_per_room: max,
            ..RoomsConfig::default()
        })
    }

    pub fn advance(&mut self, seconds: f64) {
        self.now += Duration::from_secs_f64(seconds);
    }

    pub fn drain(&mut self) -> Vec<Output> {
        std::iter::from_fn(|| self.rooms.poll_output()).collect()
    }

    /// Feeds a valid input (panics on a `RoomError`) and returns what it produced.
    pub fn input(&mut self, input: Input) -> Vec<Output> {
        self.rooms.handle(self.now, input).expect("valid input");
        self.drain()
    }

    pub fn join(&mut self, n: u64, room_name: &str) -> Vec<Output> {
        self.join_with(n, room_name, request(n))
    }

    pub fn join_with(&mut self, n: u64, room_name: &str, request: JoinRequest) -> Vec<Output> {
        self.input(Input::Join {
            id: pid(n),
            room: room(room_name),
            name: name(n),
            request,
        })
    }

    /// Joins `n` with `password`.
    pub fn join_password(&mut self, n: u64, room_name: &str, password: &str) -> Vec<Output> {
        let request = JoinRequest {
            password: Some(password.into()),
            ..request(n)
        };
        self.join_with(n, room_name, request)
    }

    pub fn leave(&mut self, n: u64) -> Vec<Output> {
        self.leave_because(n, LeaveReason::Left)
    }

    pub fn leave_because(&mut self, n: u64, reason: LeaveReason) -> Vec<Output> {
        self.input(Input::Leave { id: pid(n), reason })
    }

    pub fn media(&mut self, n: u64, audio: bool, video: bool) -> Vec<Output> {
        self.input(Input::MediaState {
            id: pid(n),
            audio,
            video,
            screen: false,
        })
    }

    pub fn screen(&mut self, n: u64, screen: bool) -> Vec<Output> {
        let p = self
            .participants_everywhere()
            .into_iter()
            .find(|p| p.id == pid(n))
            .expect("a member");
        self.input(Input::MediaState {
            id: pid(n),
            audio: p.audio,
            video: p.video,
            screen,
        })
    }

    pub fn chat(&mut self, n: u64, text: &str, to: Option<u64>) -> Vec<Output> {
        self.input(Input::Chat {
            id: pid(n),
            text: text.into(),
            to: to.map(pid),
        })
    }

    pub fn react(&mut self, n: u64, emoji: &str) -> Vec<Output> {
        self.input(Input::React {
            id: pid(n),
            emoji: emoji.into(),
        })
    }

    pub fn disconnect(&mut self, n: u64) -> Vec<Output> {
        self.input(Input::Disconnect { id: pid(n) })
    }

    /// Connection `connection` says `hello` with `token` as its resume token.
    pub fn resume(&mut self, connection: u64, room_name: &str, token: &str) -> Vec<Output> {
        let request = JoinRequest {
            resume: Some(token.into()),
            ..request(connection)
        };
        self.join_with(connection, room_name, request)
    }

    /// Runs the timers at the current time.
    pub fn timeout(&mut self) -> Vec<Output> {
        self.rooms.handle_timeout(self.now);
        self.drain()
    }

    fn participants_everywhere(&self) -> Vec<Participant> {
        let rooms: Vec<RoomName> = ["alpha", "beta"].iter().map(|r| room(r)).collect();
        rooms
            .iter()
            .flat_map(|r| self.rooms.participants_of(r))
            .collect()
    }

    pub fn hand(&mut self, n: u64, raised: bool) -> Vec<Output> {
        self.input(Input::RaiseHand { id: pid(n), raised })
    }

    pub fn act(&mut self, n: u64, action: Action) -> Vec<Output> {
        self.input(Input::Moderate { id: pid(n), action })
    }

    pub fn set_password(&mut self, n: u64, password: &str) -> Vec<Output> {
        self.act(
            n,
            Action::SetPassword {
                password: password.into(),
                salt: [7; 16],
                hashed: None,
            },
        )
    }

    pub fn participants(&self, room_name: &str) -> Vec<Participant> {
        self.rooms.participants_of(&room(room_name))
    }

    /// Everyone `n`, `n+1`, … in `room_name`; the first creates it.
    pub fn fill(&mut self, room_name: &str, ids: impl IntoIterator<Item = u64>) {
        for n in ids {
            self.join(n, room_name);
        }
    }
}
