//! A published track's routing entry: who receives it, on which of their mids, and what the
//! SFU has learnt of it (its simulcast layers, when a keyframe was last asked for).

use crate::simulcast::Layers;
use crate::types::{GroupId, PeerId, Source};
use std::time::Instant;
use str0m::media::{MediaKind, Mid};

pub(crate) struct Track {
    pub kind: MediaKind,
    pub source: Source,
    /// Where this track goes: subscriber peer and the mid it is sent on there.
    pub subscribers: Vec<(PeerId, Mid)>,
    /// When a keyframe was last asked of its publisher (requests are throttled per track).
    pub last_keyframe_request: Option<Instant>,
    /// Simulcast layers seen on this track (empty when it is not simulcast).
    pub layers: Layers,
    pub group: GroupId,
    /// Published on another SFU and relayed here (`add_remote_track`).
    pub remote: bool,
    /// A microphone whose last packets were held back (silent, in a large room): the next
    /// one forwarded continues each subscriber's numbering without a gap.
    pub audio_held: bool,
}

impl Track {
    pub fn new(kind: MediaKind, source: Source, group: GroupId, remote: bool) -> Self {
        Self {
            kind,
            source,
            subscribers: Vec::new(),
            last_keyframe_request: None,
            layers: Layers::default(),
            group,
            remote,
            audio_held: false,
        }
    }
}
