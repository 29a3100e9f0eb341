//! One live room: its members in join order, its lobby, its settings and secrets, and the
//! notifications it sends.
//!
//! A `Room` trusts its caller ([`crate::Rooms`]) to have checked registry-wide rules (the
//! participant is not elsewhere, the entry rules, capacity); it keeps its own members
//! consistent and emits the messages the protocol promises.

mod away;
mod chat;
mod chat_log;
mod state;

use crate::bucket::Bucket;
use crate::chat::{CHAT_BURST, CHAT_REFILL, REACTION_BURST, REACTION_REFILL};
use crate::secrets::secrets_equal;
use crate::throttle::Failures;
use crate::types::{Output, RoomInstanceId};
use chat_log::ChatLog;
use moot_protocol::{
    DisplayName, ErrorCode, LeaveReason, LobbyEntry, Participant, ParticipantId, Quality, RoomName,
    RoomSettings, ServerMessage,
};
use std::collections::{HashSet, VecDeque};
use std::time::Instant;

/// One person in a room.
#[derive(Clone)]
struct Member {
    participant: Participant,
    /// The browser identity from `hello`, if valid: what a removal bans.
    identity: Option<String>,
    /// The secret that lets a new connection continue this member's session.
    resume_token: String,
    /// Set while the connection is gone: the member leaves at this time unless resumed.
    away_until: Option<Instant>,
    /// What this member wants to receive.
    quality: Quality,
    /// While away: key exchange messages sent to this member, `(from, payload)` in arrival
    /// order, delivered right after the resumed `welcome` (see `Room::hold_e2ee`).
    held_e2ee: VecDeque<(ParticipantId, String)>,
    chat_bucket: Bucket,
    reaction_bucket: Bucket,
    e2ee_bucket: Bucket,
}

/// Hand-written so that the resume token never reaches a log.
impl std::fmt::Debug for Member {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Member")
            .field("participant", &self.participant)
            .field("away_until", &self.away_until)
            .field("quality", &self.quality)
            .field("held_e2ee", &self.held_e2ee.len())
            .finish_non_exhaustive()
    }
}

/// Who is about to enter, with the secrets that come with them.
#[derive(Clone)]
pub(crate) struct Newcomer {
    pub(crate) id: ParticipantId,
    pub(crate) name: DisplayName,
    pub(crate) identity: Option<String>,
    /// Set only for an E2EE-capable client (see `JoinRequest::e2ee_key`).
    pub(crate) e2ee_public_key: Option<String>,
    pub(crate) resume_token: String,
}

/// One person waiting in the lobby.
#[derive(Clone)]
pub(crate) struct Waiter {
    pub(crate) entry: LobbyEntry,
    pub(crate) identity: Option<String>,
    pub(crate) e2ee_public_key: Option<String>,
    pub(crate) resume_token: String,
}

impl Waiter {
    pub(crate) fn into_newcomer(self) -> Newcomer {
        Newcomer {
            id: self.entry.id,
            name: self.entry.name,
            identity: self.identity,
            e2ee_public_key: self.e2ee_public_key,
            resume_token: self.resume_token,
        }
    }
}

/// The settings of a new room (docs/protocol.md: `allow_unmute` defaults to true).
pub(crate) const INITIAL_SETTINGS: RoomSettings = RoomSettings {
    lobby: false,
    locked: false,
    password: false,
    allow_unmute: true,
    chat_history: false,
    e2ee: false,
    recording: false,
};

pub(crate) struct Room {
    instance: RoomInstanceId,
    name: RoomName,
    host_key: String,
    /// In join (or admission) order, which is also "present longest" order for succession.
    /// A `Vec` because rooms are small (100 by default) and every change is broadcast to all
    /// members anyway, so a linear search costs nothing extra.
    members: Vec<Member>,
    /// In arrival order.
    lobby: Vec<Waiter>,
    settings: RoomSettings,
    /// Argon2id PHC string of the password, if one is set.
    password: Option<String>,
    /// Identities removed from this instance.
    banned: HashSet<String>,
    /// Failed passwords for this room, from all addresses.
    pub(crate) failures: Failures,
    chat: ChatLog,
    /// The last `hand_seq` handed out; 0 means none yet.
    last_hand_seq: u64,
    /// Who the SFU last said speaks, as last told to the room.
    dominant: Option<ParticipantId>,
}

/// Hand-written so that the host key and password hash never reach a log.
impl std::fmt::Debug for Room {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Room")
            .field("instance", &self.instance)
            .field("name", &self.name)
            .field("members", &self.members.len())
            .field("lobby", &self.lobby.len())
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Room {
    pub(crate) fn new(instance: RoomInstanceId, name: RoomName, host_key: String) -> Self {
        Self {
            instance,
            name,
            host_key,
            members: Vec::new(),
            lobby: Vec::new(),
            settings: INITIAL_SETTINGS,
            password: None,
            banned: HashSet::new(),
            failures: Failures::default(),
            chat: ChatLog::default(),
            last_hand_seq: 0,
            dominant: None,
        }
    }

    pub(crate) fn instance(&self) -> RoomInstanceId {
        self.instance
    }

    pub(crate) fn name(&self) -> &RoomName {
        &self.name
    }

    pub(crate) fn len(&self) -> usize {
        self.members.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub(crate) fn lobby_len(&self) -> usize {
        self.lobby.len()
    }

    pub(crate) fn settings(&self) -> RoomSettings {
        self.settings
    }

    pub(crate) fn is_banned(&self, identity: &str) -> bool {
        self.banned.contains(identity)
    }

    pub(crate) fn host_key_matches(&self, key: &str) -> bool {
        secrets_equal(&self.host_key, key)
    }

    pub(crate) fn password_hash(&self) -> Option<&str> {
        self.password.as_deref()
    }

    pub(crate) fn contains(&self, id: ParticipantId) -> bool {
        self.position(id).is_some()
    }

    pub(crate) fn is_moderator(&self, id: ParticipantId) -> bool {
        self.position(id)
            .is_some_and(|i| self.members[i].participant.moderator)
    }

    /// Takes one of `id`'s key exchange tokens: `None` if `id` is not here, else whether
    /// there was one.
    pub(crate) fn take_e2ee_token(&mut self, id: ParticipantId, now: Instant) -> Option<bool> {
        let index = self.position(id)?;
        Some(self.members[index].e2ee_bucket.take(now))
    }

    /// Whether `id` is here and connected (broadcasts skip an away member; key exchange
    /// messages to one are held, see `Room::hold_e2ee`).
    pub(crate) fn is_present(&self, id: ParticipantId) -> bool {
        self.position(id)
            .is_some_and(|i| self.members[i].away_until.is_none())
    }

    /// Whether everyone here can do end-to-end encryption; else the names of those who cannot.
    pub(crate) fn e2ee_incapable(&self) -> Vec<String> {
        self.members
            .iter()
            .filter(|m| m.participant.e2ee_public_key.is_none())
            .map(|m| m.participant.name.to_string())
            .collect()
    }

    /// Everyone in join order, as the wire shows them.
    pub(crate) fn participants(&self) -> Vec<Participant> {
        self.members.iter().map(|m| m.participant.clone()).collect()
    }

    pub(crate) fn member_ids(&self) -> Vec<ParticipantId> {
        self.members.iter().map(|m| m.participant.id).collect()
    }

    /// Adds the newcomer (the caller has checked every entry rule), welcomes them with
    /// everyone already there, and tells those people about it. `host_key` goes into the
    /// welcome (creator only).
    pub(crate) fn enter(
        &mut self,
        newcomer: Newcomer,
        moderator: bool,
        host_key: Option<String>,
        out: &mut VecDeque<Output>,
    ) {
        let Newcomer {
            id,
            name,
            identity,
            e2ee_public_key,
            resume_token,
        } = newcomer;
        debug_assert!(!self.contains(id), "caller checks for double joins");
        // Media starts off: the client reports what it really sends with `media_state`.
        let you = Participant {
            id,
            name,
            audio: false,
            video: false,
            screen: false,
            moderator,
            hand_raised: false,
            hand_seq: None,
            audio_blocked: false,
            video_blocked: false,
            e2ee_public_key,
        };
        out.push_back(Output::Joined {
            id,
            instance: self.instance,
        });
        self.welcome(&you, host_key, resume_token.clone(), false, out);
        let joined = ServerMessage::ParticipantJoined {
            participant: you.clone(),
        };
        self.broadcast(Some(id), joined, out);
        self.members.push(Member {
            participant: you,
            identity,
            resume_token,
            away_until: None,
            quality: Quality::High,
            held_e2ee: VecDeque::new(),
            chat_bucket: Bucket::new(CHAT_BURST, CHAT_REFILL),
            reaction_bucket: Bucket::new(REACTION_BURST, REACTION_REFILL),
            e2ee_bucket: Bucket::new(crate::E2EE_BURST, crate::E2EE_REFILL),
        });
        if moderator && !self.lobby.is_empty() {
            self.send_lobby_to(id, out);
        }
    }

    /// `welcome` to `you` (with everyone else here), then what a newcomer needs to catch up:
    /// the chat history if the room shares it, and who is speaking if anyone is.
    fn welcome(
        &self,
        you: &Participant,
        host_key: Option<String>,
        resume_token: String,
        resumed: bool,
        out: &mut VecDeque<Output>,
    ) {
        let id = you.id;
        let participants = self
            .members
            .iter()
            .filter(|m| m.participant.id != id)
            .map(|m| m.participant.clone())
            .collect();
        out.push_back(Output::Send {
            to: id,
            message: ServerMessage::Welcome {
                version: moot_protocol::PROTOCOL_VERSION,
                you: you.clone(),
                room: self.name.clone(),
                participants,
                settings: self.settings,
                host_key,
                resume_token,
                resumed,
                // Filled in by the server, which has the TURN config and the clock.
                ice_servers: Vec::new(),
            },
        });
        if self.settings.chat_history {
            out.push_back(Output::Send {
                to: id,
                message: ServerMessage::ChatHistory {
                    messages: self.chat.history(),
                },
            });
        }
        if let Some(speaker) = self.dominant {
            out.push_back(Output::Send {
                to: id,
                message: ServerMessage::DominantSpeaker { id: Some(speaker) },
            });
        }
    }

    /// Puts `waiter` in the lobby: they hear `waiting`, the moderators the new list.
    pub(crate) fn wait(&mut self, waiter: Waiter, out: &mut VecDeque<Output>) {
        let id = waiter.entry.id;
        self.lobby.push(waiter);
        out.push_back(Output::Send {
            to: id,
            message: ServerMessage::Waiting {},
        });
        self.send_lobby(out);
    }

    /// Takes `id` out of the lobby (the caller tells the moderators with `send_lobby`).
    pub(crate) fn take_waiter(&mut self, id: ParticipantId) -> Option<Waiter> {
        let index = self.lobby.iter().position(|w| w.entry.id == id)?;
        Some(self.lobby.remove(index))
    }

    /// Empties the lobby, in arrival order.
    pub(crate) fn take_lobby(&mut self) -> Vec<Waiter> {
        std::mem::take(&mut self.lobby)
    }

    /// The current lobby list to every moderator (who is connected).
    pub(crate) fn send_lobby(&self, out: &mut VecDeque<Output>) {
        let present = self.members.iter().filter(|m| m.away_until.is_none());
        for member in present.filter(|m| m.participant.moderator) {
            self.send_lobby_to(member.participant.id, out);
        }
    }

    fn send_lobby_to(&self, to: ParticipantId, out: &mut VecDeque<Output>) {
        let waiting = self.lobby.iter().map(|w| w.entry.clone()).collect();
        out.push_back(Output::Send {
            to,
            message: ServerMessage::Lobby { waiting },
        });
    }

    /// Removes `id` and tells the others why; if that took the last moderator, the member
    /// present longest becomes one. Returns false (and does nothing) if `id` is not here.
    pub(crate) fn leave(
        &mut self,
        id: ParticipantId,
        reason: LeaveReason,
        out: &mut VecDeque<Output>,
    ) -> bool {
        let Some(index) = self.position(id) else {
            return false;
        };
        let gone = self.members.remove(index);
        // Keys from someone who left are of no use to whoever resumes after.
        self.forget_held_e2ee_from(id);
        // `Left` first: the server must stop forwarding this person's media before the others
        // are told they are gone, so no frame of theirs arrives after their tile is removed.
        out.push_back(Output::Left {
            id,
            instance: self.instance,
        });
        if reason == LeaveReason::Removed {
            if let Some(identity) = gone.identity {
                self.banned.insert(identity);
            }
            out.push_back(Output::Refused {
                id,
                code: ErrorCode::Removed,
                message: "a moderator removed you from this meeting".into(),
            });
        }
        self.broadcast(None, ServerMessage::ParticipantLeft { id, reason }, out);
        if gone.participant.moderator {
            self.ensure_moderator(out);
        }
        if self.dominant == Some(id) {
            self.dominant = None;
            self.broadcast(None, ServerMessage::DominantSpeaker { id: None }, out);
        }
        true
    }

    /// If nobody moderates any more, the member present longest does.
    fn ensure_moderator(&mut self, out: &mut VecDeque<Output>) {
        if self.members.is_empty() || self.members.iter().any(|m| m.participant.moderator) {
            return;
        }
        let heir = self.members[0].participant.id;
        self.make_moderator(heir, out);
    }

    /// Makes `id` (a member) a moderator, tells everyone, and shows them the lobby.
    pub(crate) fn make_moderator(&mut self, id: ParticipantId, out: &mut VecDeque<Output>) {
        let Some(index) = self.position(id) else {
            return;
        };
        let participant = &mut self.members[index].participant;
        if participant.moderator {
            return;
        }
        participant.moderator = true;
        let participant = participant.clone();
        self.broadcast(None, ServerMessage::ParticipantUpdated { participant }, out);
        if !self.lobby.is_empty() {
            self.send_lobby_to(id, out);
        }
    }

    /// Applies `change` to the settings and tells everyone if they changed (or `always`).
    pub(crate) fn update_settings(
        &mut self,
        always: bool,
        change: impl FnOnce(&mut RoomSettings),
        out: &mut VecDeque<Output>,
    ) -> bool {
        let before = self.settings;
        change(&mut self.settings);
        let changed = before != self.settings;
        if changed || always {
            let settings = self.settings;
            self.broadcast(None, ServerMessage::Settings { settings }, out);
        }
        changed
    }

    pub(crate) fn set_password_hash(&mut self, phc: Option<String>) {
        self.password = phc;
    }

    fn position(&self, id: ParticipantId) -> Option<usize> {
        self.members.iter().position(|m| m.participant.id == id)
    }

    /// Sends `message` to every member except `except` (if any), in join order. Members whose
    /// connection is gone are skipped: nobody could deliver it, and a resumed session starts
    /// from a fresh `welcome` that holds the current state.
    fn broadcast(
        &self,
        except: Option<ParticipantId>,
        message: ServerMessage,
        out: &mut VecDeque<Output>,
    ) {
        for member in &self.members {
            let to = member.participant.id;
            if Some(to) != except && member.away_until.is_none() {
                out.push_back(Output::Send {
                    to,
                    message: message.clone(),
                });
            }
        }
    }
}
