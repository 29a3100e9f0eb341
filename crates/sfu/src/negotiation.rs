//! Server-driven renegotiation and peer removal. Methods of `Sfu`, split from lib.rs to keep
//! files small.

use crate::peer::SubState;
use crate::{OfferedTrack, PeerId, Sfu, SfuOutput, TrackKey};
use str0m::media::{Direction, MediaKind};

impl Sfu {
    /// Makes an offer for pending track changes, if the peer may renegotiate now.
    pub(crate) fn negotiate_if_wanted(&mut self, id: PeerId) {
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        if !peer.wants_negotiation() {
            return;
        }
        let mut subs = std::mem::take(&mut peer.subscriptions);
        let mut slots = std::mem::take(&mut peer.slots);
        let applied = peer.with_rtc(|rtc| {
            let mut api = rtc.sdp_api();
            for slot in &mut slots {
                match slot.state {
                    SubState::ToOpen => {
                        let stream = Some("slots".to_string());
                        let mid = api.add_media(
                            MediaKind::Audio,
                            Direction::SendOnly,
                            stream,
                            None,
                            None,
                        );
                        slot.state = SubState::Negotiating(mid);
                    }
                    SubState::ToStop(mid) => {
                        api.stop_media(mid);
                        slot.state = SubState::NegotiatingStop(mid);
                    }
                    _ => {}
                }
            }
            for sub in &mut subs {
                match sub.state {
                    SubState::ToOpen => {
                        let stream = format!("p{}", sub.source.peer.0);
                        let mid =
                            api.add_media(sub.kind, Direction::SendOnly, Some(stream), None, None);
                        sub.state = SubState::Negotiating(mid);
                    }
                    SubState::ToStop(mid) => {
                        api.stop_media(mid);
                        sub.state = SubState::NegotiatingStop(mid);
                    }
                    _ => {}
                }
            }
            Ok(api.apply())
        });
        peer.subscriptions = subs;
        peer.slots = slots;
        match applied {
            Ok(Some((offer, pending))) => {
                peer.pending = Some(pending);
                let tracks: Vec<OfferedTrack> = peer
                    .subscriptions
                    .iter()
                    .filter_map(|s| match s.state {
                        SubState::Negotiating(mid) | SubState::Open(mid) if !s.source_gone => {
                            Some(OfferedTrack {
                                mid: mid.to_string(),
                                publisher: s.source.peer,
                                kind: s.kind,
                                source: s.label,
                            })
                        }
                        _ => None,
                    })
                    .collect();
                let slots: Vec<String> = peer
                    .slots
                    .iter()
                    .filter_map(|s| match s.state {
                        SubState::Negotiating(mid) | SubState::Open(mid) if !s.gone => {
                            Some(mid.to_string())
                        }
                        _ => None,
                    })
                    .collect();
                tracing::debug!(
                    peer = id.0,
                    tracks = tracks.len(),
                    slots = slots.len(),
                    "offer"
                );
                self.outputs.push_back(SfuOutput::Offer {
                    peer: id,
                    sdp: offer.to_sdp_string(),
                    tracks,
                    slots,
                });
            }
            Ok(None) => {}
            Err(_) => self.faulted.push(id),
        }
    }

    /// Takes a peer out of every table and tells its subscribers' sessions to stop its tracks.
    pub(crate) fn detach(&mut self, id: PeerId) {
        let Some(peer) = self.peers.remove(&id) else {
            return;
        };
        self.demux.remove_peer(id);
        if let Some(subscribers) = self.slot_subscribers.get_mut(&peer.group) {
            subscribers.retain(|p| *p != id);
            if subscribers.is_empty() {
                self.slot_subscribers.remove(&peer.group);
            }
        }
        // Not just `next_timeout`: the entry made when the peer was added may still be there.
        self.timers.retain(|(_, p)| *p != id);
        if let Some(members) = self.groups.get_mut(&peer.group) {
            members.retain(|p| *p != id);
            if members.is_empty() {
                self.groups.remove(&peer.group);
            }
        }
        // Stop receiving from this peer.
        for sub in &peer.subscriptions {
            if let SubState::Open(mid) = sub.state {
                if let Some(track) = self.tracks.get_mut(&sub.source) {
                    track.subscribers.retain(|s| *s != (id, mid));
                }
            }
        }
        // Stop sending this peer's tracks to anyone.
        for mid in &peer.published {
            let key = TrackKey {
                peer: id,
                mid: *mid,
            };
            self.tracks.remove(&key);
            self.remote_needs.remove(&key);
        }
        if let Some(detector) = self.speakers.get_mut(&peer.group) {
            detector.remove(id);
        }
        if !self.groups.contains_key(&peer.group) {
            self.speakers.remove(&peer.group);
        }
        self.unsubscribe_group(peer.group, id);
    }
}
