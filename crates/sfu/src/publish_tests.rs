//! A track is published (offered to the others) when its first packet arrives, not when its
//! m-line is negotiated: a browser offers four send m-lines (microphone, camera, screen and
//! its sound), and in a large meeting most of them never carry anything. Also what publishers
//! are asked to send: Opus with DTX.

use crate::ice_tcp_tests::write_audio;
use crate::test_net::prelude::*;
use crate::test_net::{Client, Net};

/// The source of every track `listener` was offered from `publisher`, once each.
fn offered_sources(listener: &Client, publisher: PeerId) -> Vec<Source> {
    let mut sources: Vec<Source> = listener
        .offers
        .iter()
        .flatten()
        .filter(|t| t.publisher == publisher)
        .map(|t| t.source)
        .collect();
    sources.dedup();
    sources
}

/// Audio frames `listener` received on the mid it was offered for `publisher`'s `source`.
fn received_of(listener: &Client, publisher: PeerId, source: Source) -> usize {
    let mids: Vec<Mid> = listener
        .offers
        .iter()
        .flatten()
        .filter(|t| t.publisher == publisher && t.source == source)
        .map(|t| Mid::from(t.mid.as_str()))
        .collect();
    mids.iter()
        .filter_map(|mid| listener.received.get(mid))
        .sum()
}

#[test]
fn a_track_is_offered_to_the_others_only_once_it_carries_media() {
    let mut net = Net::new(Instant::now());
    let group = GroupId(1);
    // Peer 1 has a microphone m-line and a screen-sound m-line; peer 2 a microphone.
    net.join(1, 0, "198.51.100.1:5001", group, 2);
    net.join(2, 0, "198.51.100.2:5002", group, 1);
    let (first, second) = (PeerId(1), PeerId(2));
    let mut frame = 0u64;
    // Peer 1 shares its screen's sound but keeps its microphone off; peer 2 talks.
    for _ in 0..3000 {
        net.step();
        if net.clients.iter().all(|c| c.connected) {
            frame += 1;
            let now = net.now;
            let mids = net.clients[0].audio_mids.clone();
            write_audio(&mut net.clients[0].rtc, mids[1], now, frame);
            let mid = net.clients[1].audio_mids[0];
            write_audio(&mut net.clients[1].rtc, mid, now, frame);
        }
        if received_of(&net.clients[1], first, Source::ScreenAudio) >= 20
            && received_of(&net.clients[0], second, Source::Microphone) >= 20
        {
            break;
        }
    }
    assert!(received_of(&net.clients[1], first, Source::ScreenAudio) >= 20);
    assert!(received_of(&net.clients[0], second, Source::Microphone) >= 20);
    // The silent microphone was never offered; the screen's sound, though it sent first, is
    // still told apart from the microphone by its m-line order.
    assert_eq!(
        offered_sources(&net.clients[1], first),
        vec![Source::ScreenAudio]
    );
    // The microphone comes on: it is offered now, and heard.
    for _ in 0..3000 {
        net.step();
        frame += 1;
        let now = net.now;
        let mids = net.clients[0].audio_mids.clone();
        for mid in mids {
            write_audio(&mut net.clients[0].rtc, mid, now, frame);
        }
        if received_of(&net.clients[1], first, Source::Microphone) >= 20 {
            break;
        }
    }
    assert!(received_of(&net.clients[1], first, Source::Microphone) >= 20);
    let mut sources = offered_sources(&net.clients[1], first);
    sources.sort_by_key(|s| *s as u8);
    assert_eq!(sources, vec![Source::Microphone, Source::ScreenAudio]);
}

/// The Opus line of the SFU's answer to a browser-like offer (Opus without `usedtx`).
fn answered_opus_fmtp(opus_dtx: bool) -> String {
    let now = Instant::now();
    let mut sfu = Sfu::new(SfuConfig {
        opus_dtx,
        ..crate::test_net::sfu_config(crate::test_net::addr("192.0.2.1:10000"), 1)
    });
    let mut rtc = str0m::Rtc::builder()
        .clear_codecs()
        .enable_opus(true, false)
        .build(now);
    let mut api = rtc.sdp_api();
    api.add_media(
        MediaKind::Audio,
        str0m::media::Direction::SendOnly,
        None,
        None,
        None,
    );
    let (offer, _) = api.apply().expect("changes to offer");
    let offer = offer.to_sdp_string();
    assert!(!offer.contains("usedtx"), "the offer leaves DTX unsaid");
    sfu.add_peer(now, PeerId(1), GroupId(1)).expect("new peer");
    let answer = sfu
        .accept_offer(now, PeerId(1), &offer, HashMap::new())
        .expect("answered");
    answer
        .lines()
        .find(|l| l.starts_with("a=fmtp:111 "))
        .unwrap_or_else(|| panic!("no Opus fmtp in the answer:\n{answer}"))
        .to_owned()
}

#[test]
fn browsers_are_asked_for_opus_dtx_unless_it_is_configured_off() {
    let on = answered_opus_fmtp(true);
    assert!(on.contains("usedtx=1"), "{on}");
    // What browsers' own Opus line says is kept.
    assert!(
        on.contains("useinbandfec=1") && on.contains("minptime=10"),
        "{on}"
    );
    let off = answered_opus_fmtp(false);
    assert!(!off.contains("usedtx"), "{off}");
    assert!(off.contains("useinbandfec=1"), "{off}");
}
