//! One participant's signaling WebSocket: the protocol state machine of docs/protocol.md.
//!
//! Every bad input gets an `error` naming the problem and changes nothing else. A client
//! that goes silent (no message and no Pong for `DEAD_AFTER`) or cannot keep up with its
//! queue is removed, so a dead tab never haunts a room.

use crate::hub::{Hub, Outbound};
use crate::media::MediaCommand;
use axum::extract::ws::{Message, WebSocket};
use futures_util::{SinkExt, StreamExt};
use moot_protocol::{
    decode_client_message, ClientMessage, DisplayName, ErrorCode, LeaveReason, ParticipantId,
    RoomName, ServerMessage, MAX_MESSAGE_BYTES, PROTOCOL_VERSION,
};
use moot_room::{Action, Input, JoinRequest};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const PING_INTERVAL: Duration = Duration::from_secs(5);
pub const DEAD_AFTER: Duration = Duration::from_secs(15);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    AwaitHello,
    /// Hello accepted: in the room, or waiting in its lobby.
    Entered,
}

// One `Next` lives at a time, briefly: its size does not matter.
#[allow(clippy::large_enum_variant)]
enum Next {
    Continue,
    /// The client said `leave`: close, and tell the others it left (not "disconnected").
    Leave,
    /// Send this message (if any), then close.
    Close(Option<ServerMessage>),
    /// Writing to the client failed: it is gone or going.
    WriteFailed,
    /// A valid `hello`: join once its password (if any) is checked, off the rooms' lock.
    Join(Box<Join>),
    /// `set_password`: hashed off the rooms' lock if the room would take it.
    SetPassword(String),
}

struct Join {
    room: RoomName,
    name: DisplayName,
    request: JoinRequest,
}

pub async fn run(
    socket: WebSocket,
    hub: Arc<Hub>,
    client_ip: IpAddr,
    context: crate::limits::SessionContext,
) {
    let metrics = context.metrics;
    // Every message sent is counted on its way out (errors by code, for /metrics).
    let text = |msg: &ServerMessage| {
        metrics.count_sent(msg);
        text(msg)
    };
    let (mut id, mut outbound) = hub.register();
    let connection = crate::media::ConnectionId(id.0);
    let (mut sink, mut stream) = socket.split();
    let mut phase = Phase::AwaitHello;
    let mut reason = LeaveReason::Disconnected;
    let mut last_heard = Instant::now();
    let mut bucket = TokenBucket::new(Instant::now(), context.rate);
    let mut ping = tokio::time::interval(PING_INTERVAL);
    ping.tick().await; // the first tick is immediate
    loop {
        let next = tokio::select! {
            // Read before writing: a client's last words (`leave`) come before its close.
            biased;
            frame = stream.next() => {
                let Some(Ok(frame)) = frame else { break };
                last_heard = Instant::now();
                on_frame(frame, id, &mut phase, &mut bucket, &hub, client_ip)
            }
            out = outbound.recv() => match out {
                Some(Outbound::Message(msg)) => Next::from_send(sink.send(text(&msg)).await),
                Some(Outbound::Close(msg)) => Next::Close(Some(msg)),
                Some(Outbound::Rebind(resumed)) => {
                    // This connection resumed an earlier participant: act as them from now on.
                    id = resumed;
                    Next::Continue
                }
                // The hub dropped our queue: we were too slow or were removed.
                None => Next::Close(None),
            },
            _ = ping.tick() => {
                if last_heard.elapsed() > DEAD_AFTER {
                    tracing::info!(participant = %id, "no sign of life; removing");
                    Next::Close(None)
                } else {
                    Next::from_send(sink.send(Message::Ping(Default::default())).await)
                }
            }
        };
        match next {
            Next::Continue => {}
            Next::Join(join) => {
                let Join {
                    room,
                    name,
                    mut request,
                } = *join;
                hub.check_password_first(&room, &mut request).await;
                hub.room_input(Input::Join {
                    id,
                    room,
                    name,
                    request,
                });
            }
            Next::SetPassword(password) => hub.set_password(id, password).await,
            Next::Leave => {
                reason = LeaveReason::Left;
                let _ = sink.close().await;
                break;
            }
            Next::Close(last) => {
                if let Some(msg) = last {
                    let _ = sink.send(text(&msg)).await;
                }
                let _ = sink.close().await;
                break;
            }
            Next::WriteFailed => {
                // The client closed its end; a `leave` it sent just before may still be
                // unread. Honour it, so a polite goodbye is never taken for a dropped line.
                if said_goodbye(&mut stream).await {
                    reason = LeaveReason::Left;
                }
                break;
            }
        }
    }
    hub.leave(id, reason, connection);
}

/// Reads what is left of a closing connection (briefly); true if it contains `leave`.
async fn said_goodbye(stream: &mut futures_util::stream::SplitStream<WebSocket>) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_millis(500);
    while let Ok(Some(Ok(frame))) = tokio::time::timeout_at(deadline, stream.next()).await {
        if let Message::Text(text) = frame {
            if matches!(
                decode_client_message(text.as_str()),
                Ok(ClientMessage::Leave {})
            ) {
                return true;
            }
        }
    }
    false
}

impl Next {
    fn from_send<E>(result: Result<(), E>) -> Self {
        match result {
            Ok(()) => Self::Continue,
            Err(_) => Self::WriteFailed,
        }
    }
}

fn text(msg: &ServerMessage) -> Message {
    Message::Text(msg.to_json().into())
}

fn on_frame(
    frame: Message,
    id: ParticipantId,
    phase: &mut Phase,
    bucket: &mut TokenBucket,
    hub: &Hub,
    client_ip: IpAddr,
) -> Next {
    let reply = |msg: ServerMessage| {
        hub.deliver(id, Outbound::Message(msg));
        Next::Continue
    };
    let text = match frame {
        Message::Text(text) => text,
        Message::Binary(_) => {
            return reply(ServerMessage::error(
                ErrorCode::BadFrame,
                "binary frames are not part of the protocol; send JSON text",
            ))
        }
        Message::Ping(_) | Message::Pong(_) => return Next::Continue,
        Message::Close(_) => return Next::Close(None),
    };
    if text.len() > MAX_MESSAGE_BYTES {
        return reply(ServerMessage::error(
            ErrorCode::TooLarge,
            format!(
                "message of {} bytes is over the limit of {MAX_MESSAGE_BYTES} bytes",
                text.len()
            ),
        ));
    }
    if !bucket.take(Instant::now()) {
        return reply(ServerMessage::error(
            ErrorCode::RateLimited,
            "too many messages; slow down",
        ));
    }
    let message = match decode_client_message(text.as_str()) {
        Ok(message) => message,
        Err(e) => return reply(ServerMessage::error(e.code(), e.to_string())),
    };
    match (*phase, message) {
        (
            Phase::AwaitHello,
            ClientMessage::Hello {
                version,
                room,
                name,
                identity,
                password,
                host_key,
                knock,
                resume,
                e2ee,
                e2ee_public_key,
            },
        ) => {
            if version != PROTOCOL_VERSION {
                return Next::Close(Some(ServerMessage::fatal(
                    ErrorCode::VersionMismatch,
                    format!("this server speaks protocol version {PROTOCOL_VERSION}, not {version}; reload the page"),
                )));
            }
            let room = match RoomName::parse(&room) {
                Ok(room) => room,
                Err(e) => {
                    return Next::Close(Some(ServerMessage::fatal(
                        ErrorCode::BadRoomName,
                        e.to_string(),
                    )))
                }
            };
            let name = match DisplayName::parse(&name) {
                Ok(name) => name,
                Err(e) => {
                    return Next::Close(Some(ServerMessage::fatal(
                        ErrorCode::BadDisplayName,
                        e.to_string(),
                    )))
                }
            };
            *phase = Phase::Entered;
            let request = JoinRequest {
                identity,
                password,
                host_key,
                knock,
                client: client_ip,
                new_host_key: random_token(32),
                resume,
                new_resume_token: random_token(32),
                e2ee,
                e2ee_public_key,
                password_check: None,
            };
            Next::Join(Box::new(Join {
                room,
                name,
                request,
            }))
        }
        (Phase::AwaitHello, other) => Next::Close(Some(ServerMessage::fatal(
            ErrorCode::OutOfOrder,
            format!("the first message must be hello, not {}", other.kind()),
        ))),
        (Phase::Entered, message) => in_room(id, message, hub),
    }
}

/// Routes a message from someone who said hello (in the room or waiting in its lobby).
/// Permissions are the room's business: it answers `not_allowed` itself.
fn in_room(id: ParticipantId, message: ClientMessage, hub: &Hub) -> Next {
    let moderate = |action: Action| {
        hub.room_input(Input::Moderate { id, action });
        Next::Continue
    };
    match message {
        ClientMessage::Hello { .. } => {
            hub.deliver(
                id,
                Outbound::Message(ServerMessage::error(
                    ErrorCode::OutOfOrder,
                    "hello was already received",
                )),
            );
            Next::Continue
        }
        ClientMessage::Offer {
            sdp,
            sources,
            audio_slots,
        } => {
            let sources = sources.unwrap_or_default().into_iter().collect();
            hub.media().send(MediaCommand::Offer {
                id,
                sdp,
                sources,
                audio_slots,
            });
            Next::Continue
        }
        ClientMessage::Answer { sdp } => {
            hub.media().send(MediaCommand::Answer { id, sdp });
            Next::Continue
        }
        ClientMessage::MediaState {
            audio,
            video,
            screen,
        } => {
            hub.room_input(Input::MediaState {
                id,
                audio,
                video,
                screen,
            });
            Next::Continue
        }
        ClientMessage::Chat { text, to } => {
            hub.room_input(Input::Chat { id, text, to });
            Next::Continue
        }
        ClientMessage::React { emoji } => {
            hub.room_input(Input::React { id, emoji });
            Next::Continue
        }
        ClientMessage::SetName { name } => {
            match DisplayName::parse(&name) {
                Ok(name) => hub.room_input(Input::SetName { id, name }),
                Err(e) => hub.deliver(
                    id,
                    Outbound::Message(ServerMessage::error(
                        ErrorCode::BadDisplayName,
                        e.to_string(),
                    )),
                ),
            }
            Next::Continue
        }
        ClientMessage::SetQuality { quality } => {
            hub.room_input(Input::SetQuality { id, quality });
            Next::Continue
        }
        ClientMessage::ViewSizes { sizes } => {
            match ClientMessage::view_sizes_problem(&sizes) {
                Some(problem) => hub.deliver(
                    id,
                    Outbound::Message(ServerMessage::error(ErrorCode::BadMessage, problem)),
                ),
                None => hub.media().send(MediaCommand::ViewSizes {
                    id,
                    sizes: sizes.into_iter().collect(),
                }),
            }
            Next::Continue
        }
        ClientMessage::SetChatHistory { enabled } => moderate(Action::SetChatHistory(enabled)),
        ClientMessage::SetE2ee { enabled } => moderate(Action::SetE2ee(enabled)),
        ClientMessage::SetRecording { enabled } => moderate(Action::SetRecording(enabled)),
        ClientMessage::E2ee { to, payload } => {
            // Opaque to the server: the room checks only the envelope and relays it.
            hub.room_input(Input::E2ee { id, to, payload });
            Next::Continue
        }
        ClientMessage::RaiseHand { raised } => {
            hub.room_input(Input::RaiseHand { id, raised });
            Next::Continue
        }
        ClientMessage::Leave {} => Next::Leave,
        ClientMessage::SetLobby { enabled } => moderate(Action::SetLobby(enabled)),
        ClientMessage::SetPassword { password } => Next::SetPassword(password),
        ClientMessage::RemovePassword {} => moderate(Action::RemovePassword),
        ClientMessage::SetLock { locked } => moderate(Action::SetLock(locked)),
        ClientMessage::SetAllowUnmute { allowed } => moderate(Action::SetAllowUnmute(allowed)),
        ClientMessage::Admit { id: target } => moderate(Action::Admit(target)),
        ClientMessage::Reject { id: target } => moderate(Action::Reject(target)),
        ClientMessage::Remove { id: target } => moderate(Action::Remove(target)),
        ClientMessage::Mute { id: target, kind } => moderate(Action::Mute(target, kind)),
        ClientMessage::MuteAll { kind } => moderate(Action::MuteAll(kind)),
        ClientMessage::AllowUnmute { id: target } => moderate(Action::AllowUnmute(target)),
        ClientMessage::MakeModerator { id: target } => moderate(Action::MakeModerator(target)),
    }
}

/// A random token of `len` characters from a URL-safe alphabet (host keys).
fn random_token(len: usize) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// A token bucket: `rate.per_second` sustained, `rate.burst` at once (config `limits.*`).
struct TokenBucket {
    tokens: f64,
    last: Instant,
    rate: crate::limits::RateLimit,
}

impl TokenBucket {
    fn new(now: Instant, rate: crate::limits::RateLimit) -> Self {
        Self {
            tokens: rate.burst,
            last: now,
            rate,
        }
    }

    fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate.per_second).min(self.rate.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_burst_then_refills() {
        let start = Instant::now();
        let rate = crate::limits::RateLimit {
            per_second: 50.0,
            burst: 100.0,
        };
        let mut bucket = TokenBucket::new(start, rate);
        for _ in 0..100 {
            assert!(bucket.take(start));
        }
        assert!(!bucket.take(start));
        assert!(bucket.take(start + Duration::from_millis(100)));
    }
}
