//! Flow hash and ECMP member selection: determinism and spread.

mod packet_common;
mod rng;

use packet_common::*;
use rng::Rng;
use vrouter_core::packet::*;

/// Counts per member for `tuples` hashed and picked among `n`; asserts every member gets
/// at least half its fair share and a chi-square far below anything a biased hash gives
/// (the 99.9999% quantile for 7 degrees of freedom is about 38).
fn assert_spread(tuples: &[FiveTuple], n: usize, what: &str) {
    let mut counts = vec![0usize; n];
    for t in tuples {
        let m = pick_member(hash_tuple(t, 0), n).unwrap();
        counts[m] += 1;
    }
    let expected = tuples.len() as f64 / n as f64;
    let chi2: f64 = counts
        .iter()
        .map(|&c| (c as f64 - expected).powi(2) / expected)
        .sum();
    for (i, &c) in counts.iter().enumerate() {
        assert!(
            c as f64 >= expected / 2.0,
            "{what}: n={n} member {i} got {c} ({counts:?})"
        );
    }
    assert!(chi2 < 40.0, "{what}: n={n} chi2={chi2:.1} {counts:?}");
}

#[test]
fn spread_random_tuples() {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let v4: Vec<FiveTuple> = (0..10_000)
        .map(|_| FiveTuple {
            src: IpAddr::V4(rng.bytes()),
            dst: IpAddr::V4(rng.bytes()),
            proto: if rng.next() & 1 == 0 { 6 } else { 17 },
            sport: rng.next() as u16,
            dport: rng.next() as u16,
        })
        .collect();
    let v6: Vec<FiveTuple> = (0..10_000)
        .map(|_| FiveTuple {
            src: IpAddr::V6(rng.bytes()),
            dst: IpAddr::V6(rng.bytes()),
            proto: 17,
            sport: rng.next() as u16,
            dport: rng.next() as u16,
        })
        .collect();
    for n in 2..=8 {
        assert_spread(&v4, n, "random v4");
        assert_spread(&v6, n, "random v6");
    }
}

/// The realistic hard case: one client, one server, only the source port moving.
#[test]
fn spread_sequential_ports() {
    let seq: Vec<FiveTuple> = (0..10_000u16)
        .map(|i| FiveTuple {
            src: IpAddr::V4(IP_A),
            dst: IpAddr::V4(IP_B),
            proto: 6,
            sport: 32768 + i,
            dport: 443,
        })
        .collect();
    // Pod addresses in a /16 talking to one service port.
    let hosts: Vec<FiveTuple> = (0..10_000u16)
        .map(|i| FiveTuple {
            src: IpAddr::V4([10, 244, (i >> 8) as u8, i as u8]),
            dst: IpAddr::V4([10, 96, 0, 10]),
            proto: 17,
            sport: 53000,
            dport: 53,
        })
        .collect();
    for n in 2..=8 {
        assert_spread(&seq, n, "sequential sport");
        assert_spread(&hosts, n, "sequential hosts");
    }
}

#[test]
fn flow_hash_uses_only_the_tuple() {
    let a = frame(
        0x0800,
        &ipv4_full(IP_A, IP_B, 6, 64, 0, &[], &tcp(1000, 80, 0x02)),
    );
    let mut b_l3 = ipv4_full(IP_A, IP_B, 6, 3, 0x4000, &[], &tcp(1000, 80, 0x10));
    b_l3.extend_from_slice(b"payload");
    // Fix the total length for the extra payload.
    b_l3[3] += 7;
    b_l3[10] = 0;
    b_l3[11] = 0;
    let c = naive_csum(&[&b_l3[..20]]);
    b_l3[10..12].copy_from_slice(&c.to_be_bytes());
    let mut b = eth(MAC_B, [2, 9, 9, 9, 9, 9], 0x8100);
    b.extend_from_slice(&[0, 7, 0x08, 0x00]);
    b.extend_from_slice(&b_l3);
    let (ha, hb) = (parse(&a).unwrap(), parse(&b).unwrap());
    assert_eq!(ha.five_tuple(), hb.five_tuple());
    assert_eq!(flow_hash(&ha), flow_hash(&hb));
    assert_eq!(flow_hash(&ha), hash_tuple(&ha.five_tuple().unwrap(), 0));
    // Another port, another hash (for these values).
    let c = parse(&frame(0x0800, &ipv4(IP_A, IP_B, 6, &tcp(1001, 80, 0x02)))).unwrap();
    assert_ne!(flow_hash(&ha), flow_hash(&c));
    // Seeds change the hash.
    assert_ne!(hash_tuple(&ha.five_tuple().unwrap(), 1), flow_hash(&ha));
}

#[test]
fn icmp_echo_ids_differ() {
    let hashes: std::collections::HashSet<u32> = (0..64u16)
        .map(|id| {
            let m = icmp4(8, 0, [(id >> 8) as u8, id as u8, 0, 1], b"");
            flow_hash(&parse(&frame(0x0800, &ipv4(IP_A, IP_B, 1, &m))).unwrap())
        })
        .collect();
    assert_eq!(hashes.len(), 64);
    let hashes6: std::collections::HashSet<u32> = (0..64u16)
        .map(|id| {
            let m = icmp6(&IP6_A, &IP6_B, 128, 0, &[(id >> 8) as u8, id as u8, 0, 1]);
            flow_hash(&parse(&frame(0x86dd, &ipv6(IP6_A, IP6_B, 58, &m))).unwrap())
        })
        .collect();
    assert_eq!(hashes6.len(), 64);
}

#[test]
fn fragments_of_a_datagram_hash_alike() {
    let first = frame(
        0x0800,
        &ipv4_full(IP_A, IP_B, 17, 64, 0x2000, &[], &udp(5000, 4789, &[0; 24])),
    );
    let last = frame(
        0x0800,
        &ipv4_full(IP_A, IP_B, 17, 64, 0x0004, &[], &[0xab; 8]),
    );
    assert_eq!(
        flow_hash(&parse(&first).unwrap()),
        flow_hash(&parse(&last).unwrap())
    );
    let mut f1 = vec![17, 0, 0x00, 0x01, 0, 0, 0, 9];
    f1.extend_from_slice(&udp(5000, 4789, &[0; 8]));
    let f2 = [17, 0, 0x00, 0x10, 0, 0, 0, 9, 1, 2, 3, 4];
    let h1 = parse(&frame(0x86dd, &ipv6(IP6_A, IP6_B, 44, &f1))).unwrap();
    let h2 = parse(&frame(0x86dd, &ipv6(IP6_A, IP6_B, 44, &f2))).unwrap();
    assert_eq!(flow_hash(&h1), flow_hash(&h2));
}

#[test]
fn non_ip_frames_hash_by_macs() {
    let mut a = eth([0xff; 6], MAC_A, 0x0806);
    a.extend_from_slice(&arp(1, MAC_A, IP_A, [0; 6], IP_B));
    let mut b = eth([0xff; 6], MAC_A, 0x0806);
    b.extend_from_slice(&arp(1, MAC_A, IP_A, [0; 6], [9, 9, 9, 9]));
    let mut c = eth([0xff; 6], MAC_B, 0x0806);
    c.extend_from_slice(&arp(1, MAC_B, IP_A, [0; 6], IP_B));
    let (a, b, c) = (parse(&a).unwrap(), parse(&b).unwrap(), parse(&c).unwrap());
    assert_eq!(flow_hash(&a), flow_hash(&b));
    assert_ne!(flow_hash(&a), flow_hash(&c));
}

#[test]
fn pick_member_edges() {
    assert_eq!(pick_member(0x1234_5678, 0), None);
    assert_eq!(pick_member(u32::MAX, 1), Some(0));
    assert_eq!(pick_member(0, 7), Some(0));
    assert_eq!(pick_member(u32::MAX, 7), Some(6));
    assert_eq!(pick_member(0x8000_0000, 2), Some(1));
    assert_eq!(pick_member(0x7fff_ffff, 2), Some(0));
    assert_eq!(
        pick_member(u32::MAX, usize::MAX),
        Some(u32::MAX as usize - 1)
    );
}
