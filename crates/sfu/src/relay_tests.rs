//! One group over two SFUs, sans-IO: a publisher on SFU A, a listener on SFU B and one on A,
//! on the network of `test_net`.

use crate::ice_tcp_tests::write_audio;
use crate::test_net::prelude::*;
use crate::test_net::Net;

#[test]
fn a_group_on_two_sfus_hears_everyone_through_the_relay() {
    let mut net = Net::new(Instant::now());
    let group = GroupId(1);
    for sfu in &mut net.sfus {
        sfu.set_spread(group, true);
    }
    // Peer 1 publishes on A, peer 2 listens (and speaks) on B, peer 3 on A.
    for (id, on, a) in [
        (1, 0, "198.51.100.1:5001"),
        (2, 1, "198.51.100.2:5002"),
        (3, 0, "198.51.100.3:5003"),
    ] {
        net.join(id, on, a, group, 1);
    }
    let mut frame = 0u64;
    for _ in 0..3000 {
        net.step();
        if net.clients.iter().all(|c| c.connected) {
            frame += 1;
            for c in &mut net.clients {
                write_audio(&mut c.rtc, c.audio_mids[0], net.now, frame);
            }
        }
        let done = (0..3).all(|i| {
            (1..=3)
                .filter(|p| net.clients[i].id != PeerId(*p))
                .all(|p| net.received_from(i, PeerId(p)) >= 20)
        });
        if done {
            break;
        }
    }
    for i in 0..3 {
        for p in (1..=3).map(PeerId).filter(|p| *p != net.clients[i].id) {
            assert!(
                net.received_from(i, p) >= 20,
                "{:?} got {} frames from {p:?} (offered {:?})",
                net.clients[i].id,
                net.received_from(i, p),
                net.clients[i].offered
            );
        }
    }
    assert!(net.relayed > 0, "packets crossed between the SFUs");
    // The publisher on B leaves: its track stops on A too, and A's peers are offered the stop.
    net.sfus[1].remove_peer(net.now, PeerId(2));
    net.sfus[0].remove_remote_peer(net.now, PeerId(2));
    for _ in 0..50 {
        net.step();
    }
    let before = net.received_from(0, PeerId(2));
    for _ in 0..50 {
        net.step();
    }
    assert_eq!(
        net.received_from(0, PeerId(2)),
        before,
        "nothing more from 2"
    );
    let a = &net.sfus[0];
    assert_eq!(a.remote_publishers(), 0, "A forgot the remote publisher");
    assert_eq!(a.tracks_of(PeerId(2)), 0);
    assert_eq!(
        a.open_subscriptions_to(PeerId(2)),
        0,
        "A's peers stop receiving 2's track"
    );
}
