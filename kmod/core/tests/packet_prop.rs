//! Property tests: the parser never panics, incremental checksums equal full ones,
//! builders round-trip through the parser with valid checksums, hashing is a function of
//! the tuple, member selection stays in range.

mod packet_common;

use packet_common::*;
use proptest::prelude::*;
use vrouter_core::packet::*;

/// What must hold of any `Ok` parse of `f`.
fn consistent(f: &[u8], h: &Headers) {
    assert!(h.l3_offset == 14 || h.l3_offset == 18);
    assert!(h.l3_offset <= f.len());
    if let Some(len) = h.l3_len() {
        assert!(h.l3_offset + len <= f.len());
    }
    if let Some(off) = h.l4_offset() {
        assert!(off <= h.l3_offset + h.l3_len().unwrap());
    }
    match h.l3 {
        L3::Ipv4(ip) => {
            assert!(ip.header_len >= 20 && ip.header_len <= 60);
            assert!(ip.total_len >= u16::from(ip.header_len));
            assert!(ipv4_header_checksum_ok(
                &f[h.l3_offset..h.l3_offset + usize::from(ip.header_len)]
            ));
            if ip.offset_nonzero {
                assert_eq!(h.l4, L4::None);
            }
        }
        L3::Ipv6(ip) => {
            assert!(ip.l4_offset >= h.l3_offset + 40);
            if ip.offset_nonzero {
                assert_eq!(h.l4, L4::None);
            }
        }
        _ => assert_eq!(h.l4, L4::None),
    }
    let _ = flow_hash(h);
    let _ = may_send_icmp4_error(h);
    let _ = may_send_icmp6_error(h);
}

fn check_any(f: &[u8]) {
    if let Ok(h) = parse(f) {
        consistent(f, &h);
    }
}

/// A random IPv4 header (IHL 5..=15, random fields, valid checksum) and TTL >= 2.
fn ipv4_header() -> impl Strategy<Value = Vec<u8>> {
    (
        5usize..=15,
        proptest::collection::vec(any::<u8>(), 60),
        2u8..=255,
    )
        .prop_map(|(ihl, bytes, ttl)| {
            let mut h = bytes[..ihl * 4].to_vec();
            h[0] = 0x40 | ihl as u8;
            h[8] = ttl;
            h[10] = 0;
            h[11] = 0;
            let c = naive_csum(&[&h]);
            h[10..12].copy_from_slice(&c.to_be_bytes());
            h
        })
}

/// Re-fixes the IPv4 header checksum of a frame after a mutation, so that mutations
/// reach the code past the checksum check.
fn fix_ipv4_checksum(f: &mut [u8]) {
    for off in [14usize, 18] {
        if f.len() >= off + 20 && f[off] >> 4 == 4 && f[off - 2..off] == [0x08, 0x00] {
            let ihl = usize::from(f[off] & 15) * 4;
            if ihl >= 20 && f.len() >= off + ihl {
                f[off + 10] = 0;
                f[off + 11] = 0;
                let c = naive_csum(&[&f[off..off + ihl]]);
                f[off + 10..off + 12].copy_from_slice(&c.to_be_bytes());
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    #[test]
    fn parse_random_bytes(f in proptest::collection::vec(any::<u8>(), 0..256)) {
        check_any(&f);
    }

    /// Random bytes behind a plausible Ethernet header, so the L3 parsers see them.
    #[test]
    fn parse_random_l3(et in prop_oneof![Just(0x0800u16), Just(0x86dd), Just(0x0806), Just(0x8100)],
                       mut body in proptest::collection::vec(any::<u8>(), 0..200),
                       version in 0u8..16) {
        if let Some(b) = body.first_mut() {
            *b = (version << 4) | (*b & 15);
        }
        let mut f = frame(et, &body);
        fix_ipv4_checksum(&mut f);
        check_any(&f);
    }

    #[test]
    fn parse_mutated_valid_frames(which in any::<prop::sample::Index>(),
                                  edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
                                  cut in any::<prop::sample::Index>(),
                                  fix in any::<bool>()) {
        let frames = sample_frames();
        let mut f = frames[which.index(frames.len())].clone();
        for (at, b) in edits {
            let i = at.index(f.len());
            f[i] = b;
        }
        if fix {
            fix_ipv4_checksum(&mut f);
        }
        check_any(&f);
        let n = cut.index(f.len() + 1);
        check_any(&f[..n]);
    }

    #[test]
    fn ttl_incremental_checksum_equals_recompute(hdr in ipv4_header(), pad in 0usize..4) {
        let mut f = vec![0u8; pad];
        f.extend_from_slice(&hdr);
        let ttl = hdr[8];
        prop_assert_eq!(ipv4_decrement_ttl(&mut f, pad), Ok(ttl - 1));
        let new = &f[pad..];
        prop_assert_eq!(new[8], ttl - 1);
        let mut zeroed = new.to_vec();
        zeroed[10] = 0;
        zeroed[11] = 0;
        let full = naive_csum(&[&zeroed]);
        prop_assert_eq!(u16::from_be_bytes([new[10], new[11]]), full);
        prop_assert_eq!(ipv4_header_checksum(new), full);
        prop_assert!(ipv4_header_checksum_ok(new));
        prop_assert_eq!(&new[..8], &hdr[..8]);
        prop_assert_eq!(&new[12..], &hdr[12..]);
    }

    #[test]
    fn csum_replace16_equals_recompute(mut data in proptest::collection::vec(any::<u8>(), 4..64),
                                       at in any::<prop::sample::Index>(), new in any::<u16>()) {
        data[0] |= 1; // never all-zero data
        let words = data.len() / 2;
        let i = 1 + at.index(words - 1); // word 0 stays non-zero
        let old = u16::from_be_bytes([data[2 * i], data[2 * i + 1]]);
        let check = naive_csum(&[&data]);
        data[2 * i..2 * i + 2].copy_from_slice(&new.to_be_bytes());
        prop_assert_eq!(csum_replace16(check, old, new), naive_csum(&[&data]));
    }

    #[test]
    fn checksum_parts_equal_naive(data in proptest::collection::vec(any::<u8>(), 0..300),
                                  cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..5),
                                  initial in any::<u16>()) {
        let mut points: Vec<usize> = cuts.iter().map(|c| c.index(data.len() + 1)).collect();
        points.sort();
        let mut parts = Vec::new();
        let mut last = 0;
        for p in points {
            parts.push(&data[last..p]);
            last = p;
        }
        parts.push(&data[last..]);
        let with_initial = naive_csum(&[&initial.to_be_bytes(), &data]);
        prop_assert_eq!(checksum(&parts, u32::from(initial)), with_initial);
        prop_assert_eq!(checksum(&parts, 0), naive_csum(&[&data]));
    }

    #[test]
    fn arp_reply_round_trip(sha in any::<[u8; 6]>(), spa in any::<[u8; 4]>(), tpa in any::<[u8; 4]>(),
                            src_mac in any::<[u8; 6]>(), our in any::<[u8; 6]>()) {
        let req = Arp { op: ARP_OP_REQUEST, sha, spa, tha: [0; 6], tpa };
        let mut out = [0u8; 42];
        prop_assert_eq!(build_arp_reply(&mut out, &req, src_mac, our), Ok(42));
        let h = parse(&out).unwrap();
        prop_assert_eq!((h.dst_mac, h.src_mac), (src_mac, our));
        prop_assert_eq!(h.l3, L3::Arp(Arp { op: ARP_OP_REPLY, sha: our, spa: tpa, tha: sha, tpa: spa }));
    }

    #[test]
    fn neighbor_advert_round_trip(src in any::<[u8; 16]>(), dad in any::<bool>(), mac in any::<[u8; 6]>(),
                                  target in any::<[u8; 16]>(), our in any::<[u8; 6]>(), router in any::<bool>()) {
        let src = if dad { [0; 16] } else { src };
        let mut out = [0u8; 86];
        prop_assert_eq!(build_neighbor_advert(&mut out, src, mac, target, our, router), Ok(86));
        let h = parse(&out).unwrap();
        let L3::Ipv6(ip) = h.l3 else { panic!("not IPv6") };
        let dst = if dad { IPV6_ALL_NODES } else { src };
        prop_assert_eq!((ip.src, ip.dst, ip.hop_limit), (target, dst, 255));
        prop_assert_eq!(h.dst_mac, if dad { [0x33, 0x33, 0, 0, 0, 1] } else { mac });
        prop_assert_eq!(h.l4, L4::Icmp6 { ty: 136, code: 0, id: 0 });
        prop_assert!(icmp6_ok(&target, &dst, &out[54..]));
        let flags = (if router { 0x80 } else { 0 }) | (if dad { 0 } else { 0x40 }) | 0x20;
        prop_assert_eq!(out[58], flags);
    }

    #[test]
    fn icmp4_time_exceeded_round_trip(src in any::<[u8; 4]>(), dst in any::<[u8; 4]>(), proto in any::<u8>(),
                                      opts in 0usize..=10, payload in proptest::collection::vec(any::<u8>(), 0..100),
                                      trailer in 0usize..20, gw in any::<[u8; 4]>()) {
        let mut orig = ipv4_full(src, dst, proto, 1, 0, &vec![1; opts * 4], &payload);
        orig.extend(std::iter::repeat_n(0xee, trailer));
        let quote = 20 + opts * 4 + payload.len().min(8);
        let mut out = [0u8; 200];
        let n = build_icmp4_time_exceeded(&mut out, &orig, gw, MAC_A, MAC_B).unwrap();
        prop_assert_eq!(n, 14 + 28 + quote);
        prop_assert_eq!(icmp4_time_exceeded_len(&orig), Ok(n));
        let h = parse(&out[..n]).unwrap();
        let L3::Ipv4(ip) = h.l3 else { panic!("not IPv4") };
        prop_assert_eq!((ip.src, ip.dst, ip.ttl, ip.proto, ip.dont_fragment), (gw, src, 64, 1, false));
        prop_assert_eq!(naive_csum(&[&out[14..34]]), 0);
        prop_assert_eq!(naive_csum(&[&out[34..n]]), 0);
        prop_assert_eq!(h.l4, L4::Icmp { ty: 11, code: 0, id: 0 });
        prop_assert_eq!(&out[42..n], &orig[..quote]);
    }

    #[test]
    fn icmp6_time_exceeded_round_trip(src in any::<[u8; 16]>(), dst in any::<[u8; 16]>(),
                                      len in 0usize..2000, trailer in 0usize..20, gw in any::<[u8; 16]>()) {
        let mut orig = ipv6_full(src, dst, 17, 1, &vec![0x77; len]);
        orig.extend(std::iter::repeat_n(0xee, trailer));
        let quote = (40 + len).min(1232);
        let mut out = vec![0u8; 14 + 1280];
        let n = build_icmp6_time_exceeded(&mut out, &orig, gw, MAC_A, MAC_B).unwrap();
        prop_assert_eq!(n, 14 + 48 + quote);
        let h = parse(&out[..n]).unwrap();
        let L3::Ipv6(ip) = h.l3 else { panic!("not IPv6") };
        prop_assert_eq!((ip.src, ip.dst, ip.hop_limit), (gw, src, 64));
        prop_assert!(icmp6_ok(&gw, &src, &out[54..n]));
        prop_assert_eq!(&out[62..n], &orig[..quote]);
    }

    #[test]
    fn builders_never_panic(out_len in 0usize..1400, orig in proptest::collection::vec(any::<u8>(), 0..1400),
                            version in 0u8..16) {
        let mut orig = orig;
        if let Some(b) = orig.first_mut() {
            *b = (version << 4) | (*b & 15);
        }
        let mut out = vec![0u8; out_len];
        let r4 = build_icmp4_time_exceeded(&mut out, &orig, IP_A, MAC_A, MAC_B);
        if let Ok(n) = r4 {
            prop_assert_eq!(Ok(n), icmp4_time_exceeded_len(&orig));
            prop_assert!(parse(&out[..n]).is_ok());
        }
        let r6 = build_icmp6_time_exceeded(&mut out, &orig, IP6_A, MAC_A, MAC_B);
        if let Ok(n) = r6 {
            prop_assert_eq!(Ok(n), icmp6_time_exceeded_len(&orig));
            prop_assert!(n <= 14 + 1280);
            prop_assert!(parse(&out[..n]).is_ok());
        }
        let _ = build_arp_reply(&mut out, &Arp { op: 1, sha: MAC_A, spa: IP_A, tha: MAC_B, tpa: IP_B }, MAC_A, MAC_B);
        let _ = build_neighbor_advert(&mut out, IP6_A, MAC_A, IP6_B, MAC_B, true);
        let _ = ipv4_decrement_ttl(&mut out, out_len / 3);
        let _ = ipv6_decrement_hop_limit(&mut out, out_len / 3);
    }

    #[test]
    fn flow_hash_depends_on_the_tuple_only(sport in any::<u16>(), dport in any::<u16>(),
                                           src in any::<[u8; 4]>(), dst in any::<[u8; 4]>(),
                                           ttl1 in 1u8..=255, ttl2 in 1u8..=255, tcp_flags in any::<u8>()) {
        let a = frame(0x0800, &ipv4_full(src, dst, 17, ttl1, 0, &[], &udp(sport, dport, b"one")));
        let b = frame(0x0800, &ipv4_full(src, dst, 17, ttl2, 0x4000, &[], &udp(sport, dport, b"two")));
        let (ha, hb) = (parse(&a).unwrap(), parse(&b).unwrap());
        prop_assert_eq!(flow_hash(&ha), flow_hash(&hb));
        let t = parse(&frame(0x0800, &ipv4(src, dst, 6, &tcp(sport, dport, tcp_flags)))).unwrap();
        let t2 = parse(&frame(0x0800, &ipv4(src, dst, 6, &tcp(sport, dport, !tcp_flags)))).unwrap();
        prop_assert_eq!(flow_hash(&t), flow_hash(&t2));
        let tuple = t.five_tuple().unwrap();
        prop_assert_eq!(flow_hash(&t), hash_tuple(&tuple, 0));
    }

    #[test]
    fn pick_member_in_range(hash in any::<u32>(), n in 0usize..10_000) {
        match pick_member(hash, n) {
            None => prop_assert_eq!(n, 0),
            Some(i) => prop_assert!(i < n),
        }
        prop_assert!(pick_member(hash, usize::MAX).is_some());
    }
}
