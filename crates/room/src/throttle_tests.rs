//! Unit tests of the throttle arithmetic.

use super::*;
use std::net::{Ipv4Addr, Ipv6Addr};

#[test]
fn waits_are_free_then_double_from_one_second_up_to_five_minutes() {
    let secs = |failures| wait_after(failures, ADDRESS_FREE_FAILURES).as_secs();
    assert_eq!([secs(0), secs(1), secs(2), secs(3)], [0, 0, 0, 0]);
    let doubling: Vec<u64> = (4..=14).map(secs).collect();
    assert_eq!(doubling, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
    assert_eq!(secs(usize::MAX), 300, "no overflow");
    assert_eq!(wait_after(20, ROOM_FREE_FAILURES), Duration::ZERO);
    assert_eq!(wait_after(21, ROOM_FREE_FAILURES), FIRST_WAIT);
    assert_eq!(wait_after(23, ROOM_FREE_FAILURES).as_secs(), 4);
}

#[test]
fn failures_age_out_of_the_fifteen_minute_window() {
    let start = Instant::now();
    let mut failures = Failures::default();
    for i in 0..4 {
        failures.record(start + Duration::from_secs(i));
    }
    // 4th failure at 3 s: 1 s of wait, until 4 s.
    let at = |s: f64| start + Duration::from_secs_f64(s);
    assert_eq!(
        failures.wait_left(at(3.5), 3),
        Some(Duration::from_millis(500))
    );
    assert_eq!(failures.wait_left(at(4.0), 3), None);
    // Once the first failure is 15 minutes old, only 3 count: no more wait even after a new one.
    failures.record(at(900.0));
    assert_eq!(
        failures.wait_left(at(900.0), 3),
        Some(Duration::from_secs(1))
    );
    assert_eq!(failures.times.len(), 4, "the 0 s failure was pruned");
    assert_eq!(failures.wait_left(at(2000.0), 3), None);
    assert!(failures.is_empty());
}

#[test]
fn failure_history_is_bounded() {
    let start = Instant::now();
    let mut failures = Failures::default();
    for i in 0..1000 {
        failures.record(start + Duration::from_millis(i));
    }
    assert_eq!(failures.times.len(), MAX_KEPT_FAILURES);
    assert_eq!(
        failures.wait_left(start, 3),
        Some(MAX_WAIT + Duration::from_millis(999))
    );
}

#[test]
fn address_throttle_forgets_addresses_fifteen_minutes_after_their_last_failure() {
    let start = Instant::now();
    let mut throttle = AddressThrottle::default();
    let a = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    let b = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));
    throttle.record(start, a);
    throttle.record(start + Duration::from_secs(600), b);
    throttle.record(start + Duration::from_secs(600), a);
    assert_eq!(throttle.len(), 2);
    throttle.prune(start + Duration::from_secs(899));
    assert_eq!(throttle.len(), 2);
    throttle.prune(start + Duration::from_secs(1499));
    assert_eq!(
        throttle.len(),
        2,
        "both still have a failure inside the window"
    );
    throttle.prune(start + Duration::from_secs(1500));
    assert_eq!(throttle.len(), 0);
    assert!(throttle.expiry.is_empty());
}

#[test]
fn ipv6_addresses_are_throttled_by_their_64_bit_prefix() {
    let one: Ipv6Addr = "2001:db8:1:2:aaaa::1".parse().expect("valid");
    let same_net: Ipv6Addr = "2001:db8:1:2:ffff:1:2:3".parse().expect("valid");
    let other_net: Ipv6Addr = "2001:db8:1:3::1".parse().expect("valid");
    assert_eq!(address_key(one.into()), address_key(same_net.into()));
    assert_ne!(address_key(one.into()), address_key(other_net.into()));
    let mapped: Ipv6Addr = "::ffff:192.0.2.7".parse().expect("valid");
    assert_eq!(
        address_key(mapped.into()),
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7))
    );
    let v4 = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 8));
    assert_eq!(address_key(v4), v4, "IPv4 addresses stay whole");
}
