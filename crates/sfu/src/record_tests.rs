//! The recording tap, sans-IO: a recorded group's packets published on an SFU come out of it
//! once each, for the recorder, while recording lasts; a group spread over two SFUs is
//! recorded by each for its own publishers, never twice.

use crate::ice_tcp_tests::write_audio;
use crate::test_net::prelude::*;
use crate::test_net::Net;

/// Everyone talks, one frame each per 20 ms step, for `frames` frames.
fn talk(net: &mut Net, frame: &mut u64, frames: u64) {
    let until = *frame + frames;
    while *frame < until {
        net.step();
        if net.clients.iter().all(|c| c.connected) {
            *frame += 1;
            for c in &mut net.clients {
                write_audio(&mut c.rtc, c.audio_mids[0], net.now, *frame);
            }
        }
    }
    for _ in 0..20 {
        net.step();
    }
}

fn recorded_from(net: &Net, sfu: usize, publisher: u64) -> usize {
    let p = PeerId(publisher);
    net.recorded.iter().filter(|r| **r == (sfu, p)).count()
}

#[test]
fn a_recorded_group_s_packets_come_out_once_each_while_recording_lasts() {
    let mut net = Net::new(Instant::now());
    let group = GroupId(1);
    net.join(1, 0, "198.51.100.1:5001", group, 1);
    net.join(2, 0, "198.51.100.2:5002", group, 1);
    let mut frame = 0;
    talk(&mut net, &mut frame, 25);
    assert!(net.recorded.is_empty(), "nothing is recorded unless asked");
    let now = net.now;
    net.sfus[0].set_recorded(now, group, true);
    let tracks = net.sfus[0].published_here(group);
    let publishers: Vec<PeerId> = tracks.iter().map(|(t, _, _)| t.peer).collect();
    assert_eq!(publishers, [PeerId(1), PeerId(2)]);
    assert!(tracks
        .iter()
        .all(|(_, kind, source)| *kind == MediaKind::Audio && *source == Source::Microphone));
    let before = (
        net.received_from(1, PeerId(1)),
        net.received_from(0, PeerId(2)),
    );
    talk(&mut net, &mut frame, 50);
    let heard = (
        net.received_from(1, PeerId(1)) - before.0,
        net.received_from(0, PeerId(2)) - before.1,
    );
    // Each packet once: as many as the other person received, give or take what was in
    // flight when recording started.
    for (publisher, heard) in [(1, heard.0), (2, heard.1)] {
        let recorded = recorded_from(&net, 0, publisher);
        assert!(heard >= 45, "{publisher} was heard: {heard}");
        assert!(
            recorded.abs_diff(heard) <= 2,
            "{publisher}: {recorded} recorded, {heard} heard"
        );
    }
    let now = net.now;
    net.sfus[0].set_recorded(now, group, false);
    let total = net.recorded.len();
    talk(&mut net, &mut frame, 25);
    assert_eq!(net.recorded.len(), total, "nothing once recording stopped");
}

#[test]
fn a_spread_group_is_recorded_by_each_sfu_for_its_own_publishers() {
    let mut net = Net::new(Instant::now());
    let group = GroupId(1);
    for sfu in &mut net.sfus {
        sfu.set_spread(group, true);
    }
    net.join(1, 0, "198.51.100.1:5001", group, 1);
    net.join(2, 1, "198.51.100.2:5002", group, 1);
    let mut frame = 0;
    talk(&mut net, &mut frame, 25);
    let now = net.now;
    for sfu in &mut net.sfus {
        sfu.set_recorded(now, group, true);
    }
    talk(&mut net, &mut frame, 50);
    assert!(recorded_from(&net, 0, 1) >= 45, "A records its publisher");
    assert!(recorded_from(&net, 1, 2) >= 45, "B records its publisher");
    assert_eq!(
        recorded_from(&net, 0, 2),
        0,
        "A does not record what B relays to it"
    );
    assert_eq!(
        recorded_from(&net, 1, 1),
        0,
        "B does not record what A relays to it"
    );
    assert!(
        net.relayed > 0,
        "and the relay goes on beside the recording"
    );
}
