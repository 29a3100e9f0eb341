//! One live room: its members in join order, its lobby, its settings and secrets, and the
//! notifications it sends.
//!
//! A `Room` trusts its caller ([`crate::Rooms`]) to have checked registry-wide rules (the
//! participant is not elsewhere, the entry rules, capacity); it keeps its own members
//! consistent and emits the messages the protocol promises.

use crate::admission::{secrets_equal, Failures};
use crate::{Output, RoomInstanceId};
use moot_protocol::{
    DisplayName, ErrorCode, LeaveReason, LobbyEntry, Participant, ParticipantId, RoomName,
    RoomSettings, ServerMessage, TrackKind,
};
use std::collections::{HashSet, VecDeque};

/// One person in a room.
#[derive(Debug, Clone)]
struct Member {
    participant: Participant,
    /// The browser identity from `hello`, if valid: what a removal bans.
    identity: Option<String>,
}

/// One person waiting in the lobby.
#[derive(Debug, Clone)]
pub(crate) struct Waiter {
    pub(crate) entry: LobbyEntry,
    pub(crate) identity: Option<String>,
}

/// The settings of a new room (docs/protocol.md: `allow_unmute` defaults to true).
pub(crate) const INITIAL_SETTINGS: RoomSettings = RoomSettings {
    lobby: false,
    locked: false,
    password: false,
    allow_unmute: true,
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

    /// Everyone in join order, as the wire shows them.
    pub(crate) fn participants(&self) -> Vec<Participant> {
        self.members.iter().map(|m| m.participant.clone()).collect()
    }

    pub(crate) fn member_ids(&self) -> Vec<ParticipantId> {
        self.members.iter().map(|m| m.participant.id).collect()
    }

    /// Adds `id` (the caller has checked every entry rule), welcomes it with everyone already
    /// there, and tells those people about it. `host_key` goes into the welcome (creator only).
    pub(crate) fn enter(
        &mut self,
        id: ParticipantId,
        name: DisplayName,
        identity: Option<String>,
        moderator: bool,
        host_key: Option<String>,
        out: &mut VecDeque<Output>,
    ) {
        debug_assert!(!self.contains(id), "caller checks for double joins");
        // Media starts off: the client reports what it really sends with `media_state`.
        let you = Participant {
            id,
            name,
            audio: false,
            video: false,
            moderator,
            hand_raised: false,
            audio_blocked: false,
            video_blocked: false,
        };
        out.push_back(Output::Joined {
            id,
            instance: self.instance,
        });
        out.push_back(Output::Send {
            to: id,
            message: ServerMessage::Welcome {
                version: moot_protocol::PROTOCOL_VERSION,
                you: you.clone(),
                room: self.name.clone(),
                participants: self.participants(),
                settings: self.settings,
                host_key,
            },
        });
        let joined = ServerMessage::ParticipantJoined {
            participant: you.clone(),
        };
        self.broadcast(Some(id), joined, out);
        self.members.push(Member {
            participant: you,
            identity,
        });
        if moderator && !self.lobby.is_empty() {
            self.send_lobby_to(id, out);
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

    /// The current lobby list to every moderator.
    pub(crate) fn send_lobby(&self, out: &mut VecDeque<Output>) {
        for member in self.members.iter().filter(|m| m.participant.moderator) {
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

    /// Records `id`'s microphone and camera state and tells everyone else if it changed.
    /// Turning on media a moderator blocked lifts the block if `allow_unmute` is on, and is
    /// refused with `not_allowed` (changing nothing) otherwise. Returns false (and does
    /// nothing) if `id` is not here.
    pub(crate) fn set_media(
        &mut self,
        id: ParticipantId,
        audio: bool,
        video: bool,
        out: &mut VecDeque<Output>,
    ) -> bool {
        let Some(index) = self.position(id) else {
            return false;
        };
        let allow_unmute = self.settings.allow_unmute;
        let participant = &mut self.members[index].participant;
        let unblock_audio = audio && participant.audio_blocked;
        let unblock_video = video && participant.video_blocked;
        if (unblock_audio || unblock_video) && !allow_unmute {
            let what = match (unblock_audio, unblock_video) {
                (true, true) => "microphone and camera",
                (true, false) => "microphone",
                _ => "camera",
            };
            out.push_back(Output::Send {
                to: id,
                message: ServerMessage::error(
                    ErrorCode::NotAllowed,
                    format!(
                        "a moderator turned off your {what} and participants may not turn it \
                         back on themselves: raise your hand to ask a moderator"
                    ),
                ),
            });
            return true;
        }
        if participant.audio == audio && participant.video == video {
            // Clients may repeat their state (e.g. after a device change); saying nothing keeps
            // the others from re-rendering for no reason.
            return true;
        }
        participant.audio = audio;
        participant.video = video;
        if unblock_audio || unblock_video {
            participant.audio_blocked &= !unblock_audio;
            participant.video_blocked &= !unblock_video;
            out.push_back(permissions(participant));
        }
        let participant = participant.clone();
        // The sender already knows its own state, so it is not told.
        self.broadcast(
            Some(id),
            ServerMessage::ParticipantUpdated { participant },
            out,
        );
        true
    }

    /// Raises or lowers `id`'s hand and tells everyone, the sender included. Returns false if
    /// `id` is not here.
    pub(crate) fn raise_hand(
        &mut self,
        id: ParticipantId,
        raised: bool,
        out: &mut VecDeque<Output>,
    ) -> bool {
        let Some(index) = self.position(id) else {
            return false;
        };
        let participant = &mut self.members[index].participant;
        if participant.hand_raised != raised {
            participant.hand_raised = raised;
            let participant = participant.clone();
            self.broadcast(None, ServerMessage::ParticipantUpdated { participant }, out);
        }
        true
    }

    /// A moderator mute of `kind` for member `id` (nothing if already in force): the SFU stops
    /// forwarding first, then the target and everyone are told.
    pub(crate) fn mute(&mut self, id: ParticipantId, kind: TrackKind, out: &mut VecDeque<Output>) {
        let Some(index) = self.position(id) else {
            return;
        };
        let participant = &mut self.members[index].participant;
        let (on, blocked) = match kind {
            TrackKind::Audio => (&mut participant.audio, &mut participant.audio_blocked),
            TrackKind::Video => (&mut participant.video, &mut participant.video_blocked),
        };
        if *blocked {
            return;
        }
        *blocked = true;
        *on = false;
        out.push_back(permissions(participant));
        out.push_back(Output::Send {
            to: id,
            message: ServerMessage::Muted { kind },
        });
        let participant = participant.clone();
        self.broadcast(None, ServerMessage::ParticipantUpdated { participant }, out);
    }

    /// Lifts both moderator mutes of member `id` and lowers their hand (nothing if neither).
    pub(crate) fn allow_unmute(&mut self, id: ParticipantId, out: &mut VecDeque<Output>) {
        let Some(index) = self.position(id) else {
            return;
        };
        let participant = &mut self.members[index].participant;
        let was_blocked = participant.audio_blocked || participant.video_blocked;
        if !was_blocked && !participant.hand_raised {
            return;
        }
        participant.audio_blocked = false;
        participant.video_blocked = false;
        participant.hand_raised = false;
        if was_blocked {
            out.push_back(permissions(participant));
        }
        let participant = participant.clone();
        self.broadcast(None, ServerMessage::ParticipantUpdated { participant }, out);
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

    /// Sends `message` to every member except `except` (if any), in join order.
    fn broadcast(
        &self,
        except: Option<ParticipantId>,
        message: ServerMessage,
        out: &mut VecDeque<Output>,
    ) {
        for member in &self.members {
            let to = member.participant.id;
            if Some(to) != except {
                out.push_back(Output::Send {
                    to,
                    message: message.clone(),
                });
            }
        }
    }
}

fn permissions(participant: &Participant) -> Output {
    Output::Permissions {
        id: participant.id,
        audio: !participant.audio_blocked,
        video: !participant.video_blocked,
    }
}
