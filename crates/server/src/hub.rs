//! The hub wires the sans-IO rooms to live connections and to the media workers.
//!
//! Rooms live behind one mutex: every room input is short (no I/O under the lock) and its
//! outputs are dispatched right away, in order, to per-session bounded queues and to the media
//! workers (`MediaHandle::send`). Ordering matters: `Joined` reaches the media worker before
//! the client can possibly send its offer (it only does so after `welcome`). What the media
//! workers say comes back as `MediaEvent`s, read by `run_media_events` on a task of its own.

use crate::media::{ConnectionId, MediaCommand, MediaEvent, MediaHandle};
use crate::sync::lock;
use crate::turn_credentials::TurnCredentials;
use moot_protocol::{LeaveReason, ParticipantId, RoomName, ServerMessage};
use moot_room::{
    hash_password, verify_password, Action, Input, JoinRequest, Output, PasswordCheck, Rooms,
    RoomsConfig,
};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};
use tokio::sync::mpsc;

/// How many messages may wait for a slow client before it is disconnected.
pub const SESSION_QUEUE: usize = 512;

/// What a session's writer receives.
#[derive(Debug)]
pub enum Outbound {
    Message(ServerMessage),
    /// Send this (fatal) message, then close the connection.
    Close(ServerMessage),
    /// The connection resumed this participant; the session takes its id.
    Rebind(ParticipantId),
}

/// A live connection's queue, under the participant it speaks for. `connection` is the id the
/// connection was registered with: after a resume the participant's entry belongs to the newer
/// connection, and the older one's goodbye must not touch it.
struct Session {
    connection: ConnectionId,
    sender: mpsc::Sender<Outbound>,
}

pub struct Hub {
    rooms: Mutex<Rooms>,
    sessions: Mutex<HashMap<ParticipantId, Session>>,
    /// Set by `close_all` (the server is shutting down): a session that registers later is
    /// closed with it at once. Its connection was admitted before draining began but its
    /// task registered after the notice went out; it would otherwise never hear it and keep
    /// the connection (and the shutdown's grace period) open. Locked after `sessions`.
    closing: Mutex<Option<ServerMessage>>,
    next_id: AtomicU64,
    media: MediaHandle,
    /// Hands each `welcome` its TURN credentials; None without a relay.
    turn: Option<TurnCredentials>,
    /// Room passwords are checked and hashed (Argon2id: ~19 MiB and tens of ms each) on
    /// blocking threads, at most this many at once, so a burst of attempts bounds its memory
    /// and CPU.
    password_checks: tokio::sync::Semaphore,
}

/// Password checks and hashes running at once (see `Hub::password_checks`).
const CONCURRENT_PASSWORD_CHECKS: usize = 2;

impl Hub {
    pub fn new(config: RoomsConfig, media: MediaHandle, turn: Option<TurnCredentials>) -> Self {
        Self {
            rooms: Mutex::new(Rooms::new(config)),
            sessions: Mutex::new(HashMap::new()),
            closing: Mutex::new(None),
            next_id: AtomicU64::new(1),
            media,
            turn,
            password_checks: tokio::sync::Semaphore::new(CONCURRENT_PASSWORD_CHECKS),
        }
    }

    /// Checks a join's password before the join, outside the rooms' lock, when the room would
    /// check it now (`Rooms::password_to_check`): Argon2 under that lock would stall every
    /// room's signaling for each attempt. Sets `request.password_check`.
    pub async fn check_password_first(&self, room: &RoomName, request: &mut JoinRequest) {
        let Some(password) = request.password.clone() else {
            return;
        };
        let phc =
            lock(&self.rooms).password_to_check(Instant::now(), room, request.client, &password);
        let Some(phc) = phc else {
            return;
        };
        let Ok(_permit) = self.password_checks.acquire().await else {
            return; // closed: never happens; the room then checks it itself
        };
        let hash = phc.clone();
        let matches = tokio::task::spawn_blocking(move || verify_password(&hash, &password))
            .await
            .unwrap_or(false);
        request.password_check = Some(PasswordCheck { phc, matches });
    }

    /// A `set_password`, hashed outside the rooms' lock (Argon2 takes tens of milliseconds;
    /// under that lock it would stall every room's signaling) when the room would take it
    /// (`Rooms::password_to_hash`): anyone else's request goes to the room unhashed and is
    /// answered as before, so only moderators can make the server run Argon2.
    pub async fn set_password(&self, id: ParticipantId, password: String) {
        let salt: [u8; 16] = rand::random();
        let mut hashed = None;
        if lock(&self.rooms).password_to_hash(id, &password) {
            if let Ok(_permit) = self.password_checks.acquire().await {
                let plain = password.clone();
                hashed = tokio::task::spawn_blocking(move || hash_password(&plain, &salt))
                    .await
                    .ok();
            }
        }
        let action = Action::SetPassword {
            password,
            salt,
            hashed,
        };
        self.room_input(Input::Moderate { id, action });
    }

    pub fn media(&self) -> &MediaHandle {
        &self.media
    }

    /// A fresh participant id and the queue its session writer reads.
    pub fn register(&self) -> (ParticipantId, mpsc::Receiver<Outbound>) {
        let id = ParticipantId(self.next_id.fetch_add(1, Ordering::Relaxed));
        let (tx, rx) = mpsc::channel(SESSION_QUEUE);
        let mut sessions = lock(&self.sessions);
        if let Some(message) = lock(&self.closing).clone() {
            let _ = tx.try_send(Outbound::Close(message));
        }
        sessions.insert(
            id,
            Session {
                connection: ConnectionId(id.0),
                sender: tx,
            },
        );
        (id, rx)
    }

    /// The session ended. After `leave` the participant is gone; after a dropped connection
    /// the room keeps them for the resume grace period (their media peer goes at once: its
    /// ICE session is dead anyway, and a resumed session brings a new one).
    /// `connection` is the id the ending connection registered with.
    pub fn leave(&self, id: ParticipantId, reason: LeaveReason, connection: ConnectionId) {
        {
            let mut sessions = lock(&self.sessions);
            if sessions
                .get(&id)
                .is_some_and(|s| s.connection != connection)
            {
                // A newer connection resumed this participant: this one just goes.
                return;
            }
            sessions.remove(&id);
        }
        self.media.send(MediaCommand::RemovePeer { id });
        match reason {
            LeaveReason::Disconnected => self.room_input(Input::Disconnect { id }),
            _ => self.room_input(Input::Leave { id, reason }),
        }
    }

    /// Calls `tick` every second until `stop` changes.
    pub async fn run_ticks(self: Arc<Self>, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut every_second = tokio::time::interval(std::time::Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = every_second.tick() => self.tick(),
                _ = stop.changed() => return,
            }
        }
    }

    /// Expires resume grace periods; called about once a second.
    pub fn tick(&self) {
        let mut rooms = lock(&self.rooms);
        rooms.handle_timeout(Instant::now());
        while let Some(output) = rooms.poll_output() {
            self.dispatch(output);
        }
    }

    /// Queues a message for one session; a session whose queue is full is too slow and is
    /// closed rather than letting memory grow without bound.
    pub fn deliver(&self, to: ParticipantId, outbound: Outbound) {
        self.deliver_for_connection(to, None, outbound);
    }

    /// Like `deliver`, but only if `to`'s session is still the connection `connection` (None:
    /// any). Media messages use it: an offer made for a media session that a resumed
    /// connection has just replaced must not reach the new one.
    pub fn deliver_for_connection(
        &self,
        to: ParticipantId,
        connection: Option<ConnectionId>,
        outbound: Outbound,
    ) {
        let mut sessions = lock(&self.sessions);
        let Some(session) = sessions.get(&to) else {
            return;
        };
        if connection.is_some_and(|c| c != session.connection) {
            return;
        }
        if let Err(mpsc::error::TrySendError::Full(_)) = session.sender.try_send(outbound) {
            tracing::info!(participant = %to, "client too slow to read; disconnecting");
            sessions.remove(&to);
        }
    }

    /// People waiting in lobbies.
    pub fn waiting_count(&self) -> usize {
        lock(&self.rooms).waiting_count()
    }

    /// Tells every session `message` (fatal) and closes it: graceful shutdown. A session whose
    /// queue is full is closed without it.
    pub fn close_all(&self, message: &ServerMessage) {
        let senders: Vec<_> = {
            let sessions = lock(&self.sessions);
            *lock(&self.closing) = Some(message.clone());
            sessions.values().map(|s| s.sender.clone()).collect()
        };
        for sender in senders {
            let _ = sender.try_send(Outbound::Close(message.clone()));
        }
    }

    pub fn room_counts(&self) -> (usize, usize) {
        let rooms = lock(&self.rooms);
        (rooms.room_count(), rooms.participant_count())
    }

    /// Feeds one input to the rooms and dispatches every output, in order.
    pub fn room_input(&self, input: Input) {
        let mut rooms = lock(&self.rooms);
        if let Err(e) = rooms.handle(Instant::now(), input) {
            // Only reachable through our own sequencing (e.g. leave after a refused join).
            tracing::debug!("room input ignored: {e}");
        }
        while let Some(output) = rooms.poll_output() {
            self.dispatch(output);
        }
    }

    fn dispatch(&self, output: Output) {
        match output {
            Output::Send { to, mut message } => {
                if let (ServerMessage::Welcome { ice_servers, .. }, Some(turn)) =
                    (&mut message, &self.turn)
                {
                    // The room is sans-IO: the credentials need the wall clock, so here.
                    *ice_servers = vec![turn.issue(SystemTime::now())];
                }
                self.deliver(to, Outbound::Message(message))
            }
            Output::Joined { id, instance } => {
                let connection = lock(&self.sessions)
                    .get(&id)
                    .map_or(ConnectionId(id.0), |s| s.connection);
                self.media.send(MediaCommand::AddPeer {
                    id,
                    group: moot_sfu::GroupId(instance.0),
                    connection,
                });
            }
            Output::Refused { id, code, message } => {
                self.deliver(id, Outbound::Close(ServerMessage::fatal(code, message)));
            }
            Output::Left { id, .. } => self.media.send(MediaCommand::RemovePeer { id }),
            Output::Quality { id, quality } => {
                self.media.send(MediaCommand::SetQuality { id, quality });
            }
            Output::Resumed {
                connection,
                participant,
            } => {
                let mut sessions = lock(&self.sessions);
                if let Some(session) = sessions.remove(&connection) {
                    // Ordered before the welcome that follows, on the same queue.
                    let _ = session.sender.try_send(Outbound::Rebind(participant));
                    // An old connection still registered (not yet noticed dead) is dropped
                    // here: its queue closes, so its session ends, and its leave is ignored.
                    sessions.insert(participant, session);
                }
                // The old media session goes before the new one is added (`Joined` follows).
                self.media
                    .send(MediaCommand::RemovePeer { id: participant });
            }
            Output::Permissions { id, audio, video } => {
                self.media
                    .send(MediaCommand::SetPermissions { id, audio, video });
            }
            Output::RoomCreated { instance, .. } => {
                tracing::debug!(instance = instance.0, "room created");
            }
            Output::RoomDestroyed { instance, .. } => {
                tracing::debug!(instance = instance.0, "room destroyed");
            }
            Output::Recording { instance, enabled } => {
                tracing::info!(instance = instance.0, enabled, "recording");
                let group = moot_sfu::GroupId(instance.0);
                self.media.send(if enabled {
                    let started_at = SystemTime::now();
                    MediaCommand::StartRecording { group, started_at }
                } else {
                    MediaCommand::StopRecording { group }
                });
            }
        }
    }

    /// What a media worker said: a message for a participant's client, the end of its media
    /// session (its signaling ends too), or a room's new dominant speaker.
    pub fn media_event(&self, event: MediaEvent) {
        match event {
            MediaEvent::Message {
                to,
                connection,
                message,
            } => self.deliver_for_connection(to, connection, Outbound::Message(message)),
            MediaEvent::Ended {
                id,
                connection,
                message,
            } => self.deliver_for_connection(id, connection, Outbound::Close(message)),
            MediaEvent::DominantSpeaker { id } => self.room_input(Input::DominantSpeaker {
                id: Some(id),
                room_of: id,
            }),
            MediaEvent::RecordingStopped { group, reason } => {
                self.room_input(Input::RecordingEnded {
                    instance: moot_room::RoomInstanceId(group.0),
                    reason,
                })
            }
        }
    }

    /// Reads the media workers' events until every worker has ended.
    pub async fn run_media_events(
        self: Arc<Self>,
        mut events: mpsc::UnboundedReceiver<MediaEvent>,
    ) {
        while let Some(event) = events.recv().await {
            self.media_event(event);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use moot_protocol::ErrorCode;

    /// A connection admitted just before shutdown whose session registers just after the
    /// notice went out still gets it (it used to wait for a notice that never came, pinged
    /// forever, and held the shutdown's grace period open).
    #[test]
    fn a_session_registering_after_the_shutdown_notice_is_closed_at_once() {
        let (media, _ports, _events) = MediaHandle::new(1, 0, 0);
        let hub = Hub::new(RoomsConfig::default(), media, None);
        let (_, mut before) = hub.register();
        hub.close_all(&crate::limits::shutdown_message());
        let (_, mut after) = hub.register();
        for queue in [&mut before, &mut after] {
            let closed = queue.try_recv();
            assert!(
                matches!(
                    closed,
                    Ok(Outbound::Close(ServerMessage::Error {
                        code: ErrorCode::ServerShutdown,
                        ..
                    }))
                ),
                "{closed:?}"
            );
        }
    }
}
