//! When a forwarded packet leaves: in the same call that received it, not a timer later.

use crate::ice_tcp_tests::write_audio;
use crate::test_net::prelude::*;
use crate::test_net::{in_sfu, Net};

/// RTCP packet types (RFC 3550 and later) are 192–223 in the second byte; an RTP packet's
/// second byte is its marker bit and payload type (Opus: 111), never in that range.
fn is_rtp(datagram: &[u8]) -> bool {
    datagram.len() >= 12 && datagram[0] >> 6 == 2 && !(192..=223).contains(&datagram[1])
}

#[test]
fn a_packet_is_forwarded_within_the_call_that_received_it() {
    let mut net = Net::new(Instant::now());
    let group = GroupId(1);
    net.join(1, 0, "198.51.100.1:5001", group, 1);
    net.join(2, 0, "198.51.100.2:5002", group, 1);
    let mut frame = 0u64;
    for _ in 0..3000 {
        net.step();
        if net.clients.iter().all(|c| c.connected) {
            frame += 1;
            let (now, mid) = (net.now, net.clients[0].audio_mids[0]);
            write_audio(&mut net.clients[0].rtc, mid, now, frame);
        }
        if net.received_from(1, PeerId(1)) >= 20 {
            break;
        }
    }
    assert!(net.received_from(1, PeerId(1)) >= 20, "audio flows");
    // A few more steps, so that what is still in flight from the joins has arrived.
    for _ in 0..5 {
        net.step();
    }
    let listener = net.clients[1].addr;
    let mut forwarded = 0;
    for _ in 0..10 {
        net.now += Duration::from_millis(20);
        let now = net.now;
        frame += 1;
        let speaker = &mut net.clients[0];
        write_audio(&mut speaker.rtc, speaker.audio_mids[0], now, frame);
        speaker
            .rtc
            .handle_input(Input::Timeout(now))
            .expect("client timeout");
        let mut sent = Vec::new();
        loop {
            match speaker.rtc.poll_output().expect("client rtc") {
                str0m::Output::Transmit(t) => sent.push(t),
                str0m::Output::Event(_) => {}
                str0m::Output::Timeout(_) => break,
            }
        }
        // The datagrams only: no `handle_timeout` of the SFU's between them and the check.
        let sfu = &mut net.sfus[0];
        let demux = &mut net.demux[0];
        for t in &sent {
            in_sfu(|| {
                let id = demux
                    .route(Protocol::Udp, speaker.addr, &t.contents)
                    .expect("the speaker's address is bound");
                sfu.handle_receive(
                    now,
                    id,
                    Protocol::Udp,
                    speaker.addr,
                    t.destination,
                    &t.contents,
                )
            });
        }
        while let Some(output) = sfu.poll_output() {
            if let SfuOutput::Transmit(t) = output {
                if t.destination == listener && is_rtp(&t.contents) {
                    forwarded += 1;
                }
            }
        }
    }
    assert_eq!(
        forwarded, 10,
        "each frame left with the datagram that brought it"
    );
}
