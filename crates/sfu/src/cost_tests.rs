//! A fixed, repeatable workload for counting the forwarding path's instructions with
//! callgrind (docs/performance.md, "Counting instructions"): wall-clock benchmarks on these
//! shared VMs vary by ±15% between runs of one build; this count varies by well under 1%.
//!
//! An audio room on the sans-IO network (virtual clock, real str0m clients): once everyone is
//! connected, the publishers send for one second (so that their tracks are published to
//! everyone), then only the talkers go on for `MOOT_COST_TALK_SECS`. Count only the SFU's
//! work with `--toggle-collect='*in_sfu*'`, and subtract a run of a shorter talk to leave
//! out the joins. In the ordinary test run it checks that the talk reached everyone.
//!
//! `MOOT_COST_PEOPLE` (default 20), `MOOT_COST_TALKERS` (default all), `MOOT_COST_TALK_SECS`
//! (default 2), `MOOT_COST_SILENT_PUBLISH` (default 1: the silent ones publish during the
//! first second, so everyone holds a stream per microphone; 0: they never send; 2: they
//! send silence all along, as browsers' microphones in a large room do),
//! `MOOT_COST_SELECTIVE_AFTER` (the SFU's `selective_audio_after`, default 0: off),
//! `MOOT_COST_SLOTS` (1: the clients receive on audio slots; default 0).

use crate::test_net::prelude::*;
use crate::test_net::Net;

const FRAME: Duration = Duration::from_millis(20);
const PUBLISH: Duration = Duration::from_secs(1);

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn cost_of_forwarding_an_audio_room() {
    let people = setting("MOOT_COST_PEOPLE", 20);
    let talkers = setting("MOOT_COST_TALKERS", people).min(people) as usize;
    let talk = Duration::from_secs(setting("MOOT_COST_TALK_SECS", 2));
    let silent_publish = setting("MOOT_COST_SILENT_PUBLISH", 1);
    let mut net = Net::new(Instant::now());
    net.sfus[0].set_selective_audio_after(setting("MOOT_COST_SELECTIVE_AFTER", 0) as usize);
    net.audio_slots = setting("MOOT_COST_SLOTS", 0) == 1;
    for id in 1..=talkers as u64 {
        net.levels.insert(PeerId(id), -20);
    }
    let group = GroupId(1);
    for id in 1..=people {
        net.join(id, 0, &format!("198.51.100.{id}:5000"), group, 1);
    }
    let mut frame = 0u64;
    let mut next_frame = net.now;
    let mut talk_from = None;
    let mut forwarded_before_talk = None;
    for _ in 0..1_000_000 {
        net.step();
        let Some(from) = talk_from else {
            if net.clients.iter().all(|c| c.connected) {
                talk_from = Some(net.now + PUBLISH);
                next_frame = net.now;
            }
            continue;
        };
        if net.now >= from + talk {
            break;
        }
        if forwarded_before_talk.is_none() && net.now >= from {
            forwarded_before_talk = Some(net.sfus[0].stats().packets_forwarded);
        }
        if net.now >= next_frame {
            frame += 1;
            next_frame += FRAME;
            let everyone = silent_publish == 2 || (silent_publish == 1 && net.now < from);
            net.write_frame(frame, |p| everyone || p.0 <= talkers as u64);
        }
    }
    let stats = net.sfus[0].stats();
    let talked = stats.packets_forwarded - forwarded_before_talk.unwrap_or(0);
    println!(
        "forwarded {} packets, {talked} of them while {talkers} of {people} talked",
        stats.packets_forwarded
    );
    // Nearly every frame of the talk reached everyone else.
    let frames = (talk.as_millis() / FRAME.as_millis()) as u64;
    let expected = talkers as u64 * (people - 1) * frames;
    assert!(
        talked * 10 >= expected * 9,
        "{talked} of {expected}: {stats:?}"
    );
}
