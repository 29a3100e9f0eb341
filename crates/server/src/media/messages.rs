//! What signaling and the media workers say to each other: commands in, events out.

use moot_protocol::{ParticipantId, Quality, ServerMessage, TrackSource};
use moot_sfu::GroupId;
use std::collections::HashMap;

/// A signaling connection, as registered with the hub. A participant resumed by a newer
/// connection keeps its id; what media says about a peer goes to the connection the peer
/// was added for only, never to a newer one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnectionId(pub u64);

/// What the media workers tell signaling, in protocol terms.
#[derive(Debug)]
pub enum MediaEvent {
    /// Send `message` to participant `to`, if its session is still `connection` (None: any).
    Message {
        to: ParticipantId,
        connection: Option<ConnectionId>,
        message: ServerMessage,
    },
    /// The participant's media session ended or could not start: close its signaling with
    /// this fatal message (if its session is still `connection`).
    Ended {
        id: ParticipantId,
        connection: Option<ConnectionId>,
        message: ServerMessage,
    },
    /// The dominant speaker of `id`'s room changed to `id`.
    DominantSpeaker { id: ParticipantId },
    /// A worker stopped recording `group` by itself (a limit reached, the disk); `reason`
    /// says why, for its moderators.
    RecordingStopped { group: GroupId, reason: String },
}

#[derive(Debug, Clone)]
pub enum MediaCommand {
    AddPeer {
        id: ParticipantId,
        /// The room instance, as the SFU's group.
        group: GroupId,
        /// The connection this media session belongs to: what the SFU says about this peer
        /// goes to that connection only, never to a newer one that resumed the participant.
        connection: ConnectionId,
    },
    RemovePeer {
        id: ParticipantId,
    },
    /// Start recording `group` (a room instance). Every worker hears it: each records the
    /// tracks its own peers publish, those of peers it gets later included.
    StartRecording {
        group: GroupId,
        /// When the recording started (wall clock): its folder's name, the same on every
        /// worker.
        started_at: std::time::SystemTime,
    },
    /// Stop recording `group`, on every worker.
    StopRecording {
        group: GroupId,
    },
    Offer {
        id: ParticipantId,
        sdp: String,
        sources: HashMap<String, TrackSource>,
        /// The client can receive microphones on audio slots.
        audio_slots: bool,
    },
    Answer {
        id: ParticipantId,
        sdp: String,
    },
    SetPermissions {
        id: ParticipantId,
        audio: bool,
        video: bool,
    },
    SetQuality {
        id: ParticipantId,
        quality: Quality,
    },
    /// The heights at which `id` shows each other participant's camera (`view_sizes`).
    ViewSizes {
        id: ParticipantId,
        sizes: Vec<(ParticipantId, u32)>,
    },
}

impl MediaCommand {
    /// The participant whose worker takes the command (None: every worker takes it).
    pub(super) fn participant(&self) -> Option<ParticipantId> {
        match self {
            Self::AddPeer { id, .. }
            | Self::RemovePeer { id }
            | Self::Offer { id, .. }
            | Self::Answer { id, .. }
            | Self::SetPermissions { id, .. }
            | Self::SetQuality { id, .. }
            | Self::ViewSizes { id, .. } => Some(*id),
            Self::StartRecording { .. } | Self::StopRecording { .. } => None,
        }
    }
}
