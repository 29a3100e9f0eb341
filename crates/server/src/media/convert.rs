//! The one place where the SFU's terms and the protocol's meet: what a command from signaling
//! means to the SFU, and what the SFU's signals mean to a client or a room.

use super::messages::{ConnectionId, MediaEvent};
use moot_protocol::{
    ErrorCode, ParticipantId, Quality, ServerMessage, TrackInfo, TrackKind, TrackSource,
};
use moot_sfu::{MediaKind, PeerId, ReceiveVideo, SfuError, Signal, Source};

pub fn peer(id: ParticipantId) -> PeerId {
    PeerId(id.0)
}

pub fn participant(peer: PeerId) -> ParticipantId {
    ParticipantId(peer.0)
}

/// The SFU's view of a protocol source.
pub fn sfu_source(source: TrackSource) -> Source {
    match source {
        TrackSource::Microphone => Source::Microphone,
        TrackSource::Camera => Source::Camera,
        TrackSource::Screen => Source::Screen,
        TrackSource::ScreenAudio => Source::ScreenAudio,
    }
}

fn protocol_source(source: Source) -> TrackSource {
    match source {
        Source::Microphone => TrackSource::Microphone,
        Source::Camera => TrackSource::Camera,
        Source::Screen => TrackSource::Screen,
        Source::ScreenAudio => TrackSource::ScreenAudio,
    }
}

/// A quality setting as the video a subscriber receives (docs/protocol.md, `set_quality`).
pub fn receive_video(quality: Quality) -> ReceiveVideo {
    match quality {
        Quality::High => ReceiveVideo::All,
        Quality::Standard => ReceiveVideo::STANDARD,
        Quality::Low => ReceiveVideo::LOW,
        Quality::AudioOnly => ReceiveVideo::None,
    }
}

/// What the client is told when its offer or answer is refused: a fixed text per kind of
/// fault (the SFU's own error text, which can quote the SDP, stays in the server's log).
pub fn sdp_error(error: &SfuError, what: &str) -> ServerMessage {
    match error {
        SfuError::AlreadyNegotiated => ServerMessage::error(
            ErrorCode::OutOfOrder,
            "only one offer is accepted; answer the server's offers instead",
        ),
        SfuError::NoOfferOutstanding => ServerMessage::error(
            ErrorCode::OutOfOrder,
            "answer received but no offer from the server is outstanding",
        ),
        SfuError::UnknownPeer => ServerMessage::error(
            ErrorCode::OutOfOrder,
            format!("{what} received before joining a room"),
        ),
        SfuError::PeerExists => ServerMessage::error(
            ErrorCode::OutOfOrder,
            format!("{what} received for a media session that already exists"),
        ),
        SfuError::BadSdp(_) => ServerMessage::error(
            ErrorCode::BadSdp,
            format!("bad {what}: the SDP could not be parsed"),
        ),
        SfuError::Negotiation(_) => ServerMessage::error(
            ErrorCode::BadSdp,
            format!("bad {what}: the SDP could not be negotiated (no usable media or codec)"),
        ),
        // `SfuError` is non-exhaustive: a kind added later is still bad SDP to the client.
        _ => ServerMessage::error(ErrorCode::BadSdp, format!("bad {what}")),
    }
}

/// What signaling makes of one SFU signal; `connection_of` says which connection a peer's
/// media session belongs to.
pub fn signal_event(
    signal: Signal,
    connection_of: impl Fn(ParticipantId) -> Option<ConnectionId>,
) -> MediaEvent {
    let message = |peer: PeerId, message: ServerMessage| {
        let to = participant(peer);
        MediaEvent::Message {
            to,
            connection: connection_of(to),
            message,
        }
    };
    match signal {
        Signal::Offer {
            peer,
            sdp,
            tracks,
            slots,
        } => {
            let tracks = tracks
                .into_iter()
                .map(|t| TrackInfo {
                    mid: t.mid,
                    participant: participant(t.publisher),
                    source: protocol_source(t.source),
                    kind: match t.kind {
                        MediaKind::Audio => TrackKind::Audio,
                        MediaKind::Video => TrackKind::Video,
                    },
                })
                .collect();
            message(peer, ServerMessage::Offer { sdp, tracks, slots })
        }
        Signal::SlotOwner {
            peer,
            mid,
            publisher,
        } => message(
            peer,
            ServerMessage::Slot {
                mid: mid.to_string(),
                participant: participant(publisher),
            },
        ),
        Signal::Layers { peer, mid, active } => message(
            peer,
            ServerMessage::Layers {
                mid: mid.to_string(),
                active: active.iter().map(|rid| rid.to_string()).collect(),
            },
        ),
        Signal::PeerGone { peer, cause } => {
            let id = participant(peer);
            MediaEvent::Ended {
                id,
                connection: connection_of(id),
                message: media_ended(&cause.to_string()),
            }
        }
        Signal::DominantSpeaker { peer, .. } => MediaEvent::DominantSpeaker {
            id: participant(peer),
        },
    }
}

/// The fatal message of a participant whose media session ended or could not start.
pub fn media_ended(reason: &str) -> ServerMessage {
    ServerMessage::fatal(
        ErrorCode::ServerError,
        format!("the media connection ended ({reason}); please rejoin"),
    )
}
