//! Driving the SFU: timers, and draining each peer's `Rtc` until it yields a timeout (str0m
//! freezes otherwise), acting on the events it yields on the way.

use crate::outbox::{EndCause, Signal};
use crate::peer::Announced;
use crate::{KeyframeRequestKind, PeerId, Sfu, ICE_RECOVERY};
use std::time::Instant;
use str0m::{Event, IceConnectionState, Output};

impl Sfu {
    /// Drives every peer whose timer is due.
    pub fn handle_timeout(&mut self, now: Instant) {
        for id in take_due(&mut self.ice_recovery_checks, now) {
            let lost = self.peers.get(&id).and_then(|p| p.ice_lost_at);
            if lost.is_some_and(|t| now.saturating_duration_since(t) >= ICE_RECOVERY) {
                self.outbox.faulted.push(id);
            }
        }
        if self.ranking.poll_timeout().is_some_and(|t| t <= now) {
            self.evaluate_speakers(now);
        }
        if self.next_adaptation.is_some_and(|t| t <= now) {
            self.adapt(now);
        }
        for key in take_due(&mut self.deferred_keyframes, now) {
            self.request_keyframe(now, key, KeyframeRequestKind::Pli);
        }
        // Only the peers whose timers are due: O(due · log peers), never a scan of all peers.
        let mut due = Vec::new();
        while let Some(&(at, id)) = self.timers.first() {
            if at > now {
                break;
            }
            self.timers.pop_first();
            due.push(id);
        }
        for id in due {
            if let Some(peer) = self.peers.get_mut(&id) {
                if peer.timeout_pass(now).is_err() {
                    self.outbox.faulted.push(id);
                }
                self.outbox.mark_dirty(id, peer);
            }
        }
        self.settle(now);
    }

    /// When `handle_timeout` should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let deferred = self.deferred_keyframes.iter().map(|(_, due)| *due);
        self.timers
            .first()
            .map(|(at, _)| *at)
            .into_iter()
            .chain(deferred)
            .chain(self.ranking.poll_timeout())
            .chain(self.next_adaptation)
            .chain(self.ice_recovery_checks.iter().map(|(_, due)| *due))
            .min()
    }

    pub(crate) fn mark_dirty(&mut self, id: PeerId) {
        if let Some(peer) = self.peers.get_mut(&id) {
            self.outbox.mark_dirty(id, peer);
        }
    }

    /// Finishes a call: drains every dirty peer (forwarding can dirty more), then removes
    /// faulted peers, until nothing is left to do.
    pub(crate) fn settle(&mut self, now: Instant) {
        loop {
            while let Some(id) = self.outbox.next_dirty() {
                if let Some(peer) = self.peers.get_mut(&id) {
                    peer.queued = false;
                    self.drain(now, id);
                }
            }
            if self.outbox.faulted.is_empty() {
                break;
            }
            for id in std::mem::take(&mut self.outbox.faulted) {
                let Some(peer) = self.peers.get(&id) else {
                    continue;
                };
                let cause = match peer.fault() {
                    Some(fault) => {
                        tracing::info!(peer = id.0, %fault, "media peer failed");
                        EndCause::Fault(fault.clone())
                    }
                    None => EndCause::ConnectionLost,
                };
                tracing::info!(peer = id.0, %cause, "media peer gone");
                self.detach(id);
                self.outbox.signal(Signal::PeerGone { peer: id, cause });
            }
        }
    }

    /// Polls one peer until str0m yields a timeout, acting on its events.
    pub(crate) fn drain(&mut self, now: Instant, id: PeerId) {
        if let Some(peer) = self.peers.get_mut(&id) {
            // Written packets wait in str0m's send queue until a timeout pass (its pacer's
            // queue state), and after a write str0m asks for one at once. Running it here,
            // before polling, saves the poll that would only say so and a turn of the worker's
            // loop, and the packets leave in this turn's sendmmsg.
            if std::mem::take(&mut peer.written) && peer.timeout_pass(now).is_err() {
                self.outbox.faulted.push(id);
                return;
            }
        }
        loop {
            self.negotiate_if_wanted(id);
            let Some(peer) = self.peers.get_mut(&id) else {
                return;
            };
            match peer.with_rtc(|rtc| rtc.poll_output()) {
                Ok(Output::Timeout(t)) => {
                    if let Some(old) = peer.next_timeout.replace(t) {
                        self.timers.remove(&(old, id));
                    }
                    self.timers.insert((t, id));
                    return;
                }
                Ok(Output::Transmit(t)) => self.outbox.transmit(t),
                Ok(Output::Event(event)) => self.on_event(now, id, event),
                Err(_) => {
                    self.outbox.faulted.push(id);
                    return;
                }
            }
        }
    }

    fn on_event(&mut self, now: Instant, id: PeerId, event: Event) {
        match event {
            Event::MediaAdded(added) if added.direction.is_receiving() => {
                if let Some(peer) = self.peers.get_mut(&id) {
                    peer.announced.push(Announced {
                        mid: added.mid,
                        kind: added.kind,
                        tried: false,
                    });
                }
            }
            Event::RtpPacket(packet) => self.forward(now, id, packet),
            Event::EgressBitrateEstimate(kind) => self.on_estimate(id, kind),
            Event::PeerStats(stats) => self.on_link_report(now, id, &stats),
            Event::KeyframeRequest(req) => {
                let source = self.peers[&id]
                    .subscription_on_mid(req.mid)
                    .map(|s| s.track);
                if let Some(source) = source {
                    self.request_keyframe(now, source, req.kind);
                }
            }
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                // Often transient (a busy or briefly offline client): browsers resume their
                // checks and the connection recovers. Give up only after ICE_RECOVERY.
                if let Some(peer) = self.peers.get_mut(&id) {
                    peer.ice_lost_at.get_or_insert(now);
                }
                self.ice_recovery_checks.push((id, now + ICE_RECOVERY));
            }
            Event::IceConnectionStateChange(_) => {
                if let Some(peer) = self.peers.get_mut(&id) {
                    peer.ice_lost_at = None;
                }
            }
            Event::Closed => self.outbox.faulted.push(id),
            Event::Connected => tracing::debug!(peer = id.0, "media connected"),
            _ => {}
        }
    }
}

/// Removes the entries of `list` due at `now` and returns them, in order. (These lists are
/// short: a peer's ICE check after a disconnect, a throttled keyframe request.)
fn take_due<T>(list: &mut Vec<(T, Instant)>, now: Instant) -> Vec<T> {
    if list.iter().all(|(_, due)| *due > now) {
        return Vec::new();
    }
    let (due, later): (Vec<_>, Vec<_>) = std::mem::take(list)
        .into_iter()
        .partition(|(_, due)| *due <= now);
    *list = later;
    due.into_iter().map(|(item, _)| item).collect()
}
