//! Audio slots (slots.rs) on the sans-IO test network: real str0m clients, one SFU.

use crate::test_net::prelude::*;
use crate::test_net::Net;

const FRAME: Duration = Duration::from_millis(20);
const LOUD: i8 = -20;

/// A room on SFU A whose audio is selective above `limit` people.
fn net(limit: usize, slots: bool) -> Net {
    let mut net = Net::new(Instant::now());
    net.sfus[0].set_selective_audio_after(limit);
    net.audio_slots = slots;
    net
}

fn join(net: &mut Net, ids: impl IntoIterator<Item = u64>) {
    for id in ids {
        net.join(id, 0, &format!("198.51.100.{id}:5000"), GroupId(1), 1);
    }
}

/// Runs for `time`, everyone in `sending` writing a frame every 20 ms at its level.
fn talk(net: &mut Net, time: Duration, frame: &mut u64, sending: &[u64]) {
    let end = net.now + time;
    let mut next = net.now;
    while net.now < end {
        net.step();
        if net.now >= next {
            *frame += 1;
            next += FRAME;
            net.write_frame(*frame, |p| sending.contains(&p.0));
        }
    }
}

fn connect(net: &mut Net) {
    for _ in 0..10_000 {
        if net.clients.iter().all(|c| c.connected) {
            return;
        }
        net.step();
    }
    panic!("clients did not connect");
}

fn last_offer(net: &Net, client: usize) -> (&[OfferedTrack], &[Mid]) {
    let c = &net.clients[client];
    (
        c.offers.last().expect("an offer"),
        c.slot_offers.last().expect("an offer"),
    )
}

/// Every slot stream the client received is one stream: each frame's first sequence number
/// follows the last one's, and timestamps never go back.
fn assert_gapless(net: &Net, client: usize, slots: &[Mid]) {
    for mid in slots {
        let Some(frames) = net.clients[client].frames.get(mid) else {
            continue;
        };
        for pair in frames.windows(2) {
            let ((_, end, ts), (start, _, next_ts)) = (pair[0], pair[1]);
            assert_eq!(start, end + 1, "gap on slot {mid}: {pair:?}");
            assert!(next_ts > ts, "timestamp went back on slot {mid}: {pair:?}");
        }
    }
}

/// A room of 8 (large: selective above 3), everyone on slots and connected, everyone's
/// microphone published by a second of silence, as browsers' are. Returns the room, its
/// people and the last frame number written.
fn published_room_of_eight() -> (Net, Vec<u64>, u64) {
    let mut net = net(3, true);
    let people: Vec<u64> = (1..=8).collect();
    join(&mut net, people.clone());
    connect(&mut net);
    let mut frame = 0;
    talk(&mut net, Duration::from_secs(1), &mut frame, &people);
    (net, people, frame)
}

#[test]
fn a_large_room_hears_its_voices_on_slots_as_gapless_streams() {
    let (mut net, people, mut frame) = published_room_of_eight();
    let (tracks, slots) = last_offer(&net, 0);
    assert_eq!(slots.len(), SLOT_COUNT, "the listener has its slots");
    assert!(
        tracks.iter().all(|t| t.source != Source::Microphone),
        "no microphone is a track of its own: {tracks:?}"
    );
    let slots = slots.to_vec();

    // Person 2 speaks: client 0 hears them.
    net.levels.insert(PeerId(2), LOUD);
    talk(&mut net, Duration::from_secs(1), &mut frame, &people);
    let heard = net.received_from(0, PeerId(2));
    assert!(heard >= 45, "heard {heard} of 50 frames of person 2");

    // Then 3, 4, 5 and 6 too, all at once: every slot is taken.
    for p in 3..=6 {
        net.levels.insert(PeerId(p), LOUD);
    }
    talk(&mut net, Duration::from_secs(1), &mut frame, &people);
    // Everyone stops; person 7 speaks. The slot silent longest changes hands.
    for p in 2..=6 {
        net.levels.insert(PeerId(p), -127);
    }
    talk(&mut net, Duration::from_millis(300), &mut frame, &people);
    net.levels.insert(PeerId(7), LOUD);
    let changes_before = net.clients[0].slot_messages;
    talk(&mut net, Duration::from_secs(2), &mut frame, &people);
    let heard = net.received_from(0, PeerId(7));
    assert!(heard >= 90, "heard {heard} of 100 frames of person 7");
    assert_eq!(net.received_from(0, PeerId(8)), 0, "silence of 8 sent");
    // Five owners, then person 7 on a slot that carried someone else before (and perhaps
    // the recent speaker it displaced, still heard, on one whose owner fell silent).
    assert_eq!(changes_before, SLOT_COUNT);
    let changes = net.clients[0].slot_messages - changes_before;
    assert!((1..=2).contains(&changes), "{changes} slot changes");
    assert_gapless(&net, 0, &slots);
    // The client receives on its 5 slots, not on a receiver per microphone.
    let c = &net.clients[0];
    assert!(c.received.keys().all(|mid| slots.contains(mid)));
}

#[test]
fn more_voices_than_slots_keep_their_slots_and_the_extra_one_waits() {
    let (mut net, people, mut frame) = published_room_of_eight();
    let messages_before = net.clients[0].slot_messages;
    // Six people (2..=7) speak at once; client 0 has five slots.
    for p in 2..=7 {
        net.levels.insert(PeerId(p), LOUD);
    }
    let before: Vec<usize> = (2..=7).map(|p| net.received_from(0, PeerId(p))).collect();
    talk(&mut net, Duration::from_secs(2), &mut frame, &people);
    let heard: Vec<usize> = (2..=7)
        .zip(&before)
        .map(|(p, b)| net.received_from(0, PeerId(p)) - b)
        .collect();
    let full = heard.iter().filter(|n| **n >= 90).count();
    let none = heard.iter().filter(|n| **n <= 5).count();
    assert_eq!((full, none), (5, 1), "five heard whole, one not: {heard:?}");
    // No flapping: each slot changed hands at most once or twice.
    let messages = net.clients[0].slot_messages - messages_before;
    assert!(messages <= 2 * SLOT_COUNT, "{messages} slot changes");
    let slots = last_offer(&net, 0).1.to_vec();
    assert_gapless(&net, 0, &slots);
}

/// A room of 3 (small: selective above 3), everyone able to use slots, person 2 talking for
/// a second. Returns the room and the last frame number written.
fn small_room_where_2_talks() -> (Net, u64) {
    let mut net = net(3, true);
    join(&mut net, 1..=3);
    connect(&mut net);
    let mut frame = 0;
    net.levels.insert(PeerId(2), LOUD);
    talk(&mut net, Duration::from_secs(1), &mut frame, &[1, 2, 3]);
    (net, frame)
}

#[test]
fn slots_come_when_the_room_grows_and_go_when_it_shrinks() {
    let (mut net, mut frame) = small_room_where_2_talks();
    // Small: one track per microphone, no slots.
    let (tracks, slots) = last_offer(&net, 0);
    assert!(slots.is_empty());
    assert_eq!(
        tracks
            .iter()
            .filter(|t| t.source == Source::Microphone)
            .count(),
        2
    );

    // A fourth person makes the room large: slots replace the microphone tracks.
    join(&mut net, [4]);
    connect(&mut net);
    talk(&mut net, Duration::from_secs(1), &mut frame, &[1, 2, 3, 4]);
    let (tracks, slots) = last_offer(&net, 0);
    assert_eq!(slots.len(), SLOT_COUNT);
    assert!(tracks.iter().all(|t| t.source != Source::Microphone));
    let before = net.received_from(0, PeerId(2));
    talk(&mut net, Duration::from_secs(1), &mut frame, &[1, 2, 3, 4]);
    assert!(net.received_from(0, PeerId(2)) - before >= 45);

    // They leave again: back to one track per microphone, all of them heard.
    net.sfus[0].remove_peer(net.now, PeerId(4));
    net.clients.retain(|c| c.id != PeerId(4));
    talk(&mut net, Duration::from_secs(1), &mut frame, &[1, 2, 3]);
    let (tracks, slots) = last_offer(&net, 0);
    assert!(slots.is_empty(), "slots stopped: {slots:?}");
    let microphones: Vec<PeerId> = tracks
        .iter()
        .filter(|t| t.source == Source::Microphone)
        .map(|t| t.publisher)
        .collect();
    assert_eq!(microphones, [PeerId(2), PeerId(3)]);
    let before = net.received_from(0, PeerId(2));
    talk(&mut net, Duration::from_secs(1), &mut frame, &[1, 2, 3]);
    assert!(net.received_from(0, PeerId(2)) - before >= 45);
}

#[test]
fn a_client_without_slots_keeps_a_track_per_microphone_beside_one_with_them() {
    let mut net = net(2, false);
    join(&mut net, [1]);
    net.audio_slots = true;
    join(&mut net, [2, 3]);
    connect(&mut net);
    let mut frame = 0;
    net.levels.insert(PeerId(3), LOUD);
    talk(&mut net, Duration::from_secs(2), &mut frame, &[1, 2, 3]);
    let (tracks, slots) = last_offer(&net, 0);
    assert!(slots.is_empty());
    assert_eq!(
        tracks.len(),
        2,
        "client 1 gets both microphones: {tracks:?}"
    );
    assert_eq!(last_offer(&net, 1).1.len(), SLOT_COUNT);
    for client in [0, 1] {
        let heard = net.received_from(client, PeerId(3));
        assert!(heard >= 45, "client {client} heard {heard} frames of 3");
    }
}

#[test]
fn a_room_that_grows_shrinks_and_grows_before_answering_ends_with_five_slots() {
    let (mut net, mut frame) = small_room_where_2_talks();
    // A fourth joins (slots offered to 1..=3), leaves before anyone answers, and a fifth
    // joins: the slots being negotiated are stopped, new ones come.
    join(&mut net, [4]);
    net.sfus[0].remove_peer(net.now, PeerId(4));
    net.clients.retain(|c| c.id != PeerId(4));
    join(&mut net, [5]);
    connect(&mut net);
    talk(&mut net, Duration::from_secs(2), &mut frame, &[1, 2, 3, 5]);
    let (tracks, slots) = last_offer(&net, 0);
    assert!(tracks.iter().all(|t| t.source != Source::Microphone));
    let slots = slots.to_vec();
    assert_eq!(slots.len(), SLOT_COUNT, "{slots:?}");
    // Every slot m-line ever offered but the last five is stopped (inactive), not left
    // open and unused.
    let offered: std::collections::BTreeSet<Mid> = net.clients[0]
        .slot_offers
        .iter()
        .flatten()
        .copied()
        .collect();
    assert!(
        offered.len() > SLOT_COUNT,
        "the first slots were offered: {offered:?}"
    );
    let peer = net.sfus[0].peer_mut(PeerId(1)).expect("peer 1");
    for mid in offered.iter().filter(|m| !slots.contains(m)) {
        let direction = peer
            .with_rtc(|rtc| Ok(rtc.media(*mid).map(|m| m.direction())))
            .expect("rtc");
        assert!(
            matches!(direction, None | Some(str0m::media::Direction::Inactive)),
            "slot {mid} left {direction:?}"
        );
    }
    let before = net.received_from(0, PeerId(2));
    talk(&mut net, Duration::from_secs(1), &mut frame, &[1, 2, 3, 5]);
    assert!(net.received_from(0, PeerId(2)) - before >= 45);
}
