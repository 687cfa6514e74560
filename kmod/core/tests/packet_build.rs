//! Builders (ARP reply, Neighbor Advertisement, ICMP Time Exceeded) and the ICMP error
//! policy.

mod packet_common;

use packet_common::*;
use vrouter_core::packet::*;

const GW: [u8; 4] = [10, 1, 1, 1];
const GW6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];

fn request() -> Arp {
    Arp {
        op: ARP_OP_REQUEST,
        sha: MAC_A,
        spa: IP_A,
        tha: [0; 6],
        tpa: GW,
    }
}

#[test]
fn arp_reply_bytes() {
    let mut out = [0xccu8; 64];
    let n = build_arp_reply(&mut out, &request(), MAC_B, VROUTER_MAC).unwrap();
    assert_eq!(n, 42);
    assert_eq!(n, ARP_REPLY_LEN);
    let mut want = eth(MAC_B, VROUTER_MAC, 0x0806);
    want.extend_from_slice(&arp(2, VROUTER_MAC, GW, MAC_A, IP_A));
    assert_eq!(&out[..n], &want[..]);
    assert!(out[n..].iter().all(|&b| b == 0xcc), "wrote past the frame");
    let h = parse(&out[..n]).unwrap();
    assert_eq!(
        h.l3,
        L3::Arp(Arp {
            op: ARP_OP_REPLY,
            sha: VROUTER_MAC,
            spa: GW,
            tha: MAC_A,
            tpa: IP_A
        })
    );
    assert_eq!((h.dst_mac, h.src_mac), (MAC_B, VROUTER_MAC));
}

#[test]
fn arp_reply_refusals() {
    let mut out = [0u8; 42];
    assert_eq!(
        build_arp_reply(&mut out[..41], &request(), MAC_A, VROUTER_MAC),
        Err(BuildError::BufferTooSmall)
    );
    let reply = Arp {
        op: ARP_OP_REPLY,
        ..request()
    };
    assert_eq!(
        build_arp_reply(&mut out, &reply, MAC_A, VROUTER_MAC),
        Err(BuildError::NotARequest)
    );
}

#[test]
fn gratuitous_and_probe() {
    assert!(!is_gratuitous_or_probe(&request()));
    assert!(is_gratuitous_or_probe(&Arp {
        spa: GW,
        ..request()
    }));
    assert!(is_gratuitous_or_probe(&Arp {
        spa: [0; 4],
        ..request()
    }));
}

fn check_na(frame: &[u8], dst_ip: [u8; 16], dst_mac: [u8; 6], flags: u8) {
    assert_eq!(frame.len(), 86);
    let h = parse(frame).unwrap();
    assert_eq!(
        (h.dst_mac, h.src_mac, h.ethertype),
        (dst_mac, VROUTER_MAC, ETH_P_IPV6)
    );
    let L3::Ipv6(ip) = h.l3 else {
        panic!("not IPv6")
    };
    assert_eq!(
        (ip.src, ip.dst, ip.hop_limit, ip.next_header, ip.payload_len),
        (GW6, dst_ip, 255, 58, 32)
    );
    assert_eq!(
        h.l4,
        L4::Icmp6 {
            ty: 136,
            code: 0,
            id: 0
        }
    );
    let icmp = &frame[54..];
    assert!(icmp6_ok(&GW6, &dst_ip, icmp), "NA checksum");
    assert_eq!(ipv6_upper_layer_checksum(GW6, dst_ip, 58, icmp), 0);
    assert_eq!(icmp[4], flags);
    assert_eq!(&icmp[5..8], &[0, 0, 0]);
    assert_eq!(&icmp[8..24], &GW6);
    assert_eq!(&icmp[24..26], &[2, 1]);
    assert_eq!(&icmp[26..32], &VROUTER_MAC);
}

#[test]
fn neighbor_advert() {
    let mut out = [0u8; 128];
    let n = build_neighbor_advert(&mut out, IP6_A, MAC_A, GW6, VROUTER_MAC, false).unwrap();
    assert_eq!(n, NEIGHBOR_ADVERT_LEN);
    check_na(&out[..n], IP6_A, MAC_A, 0x60);
    let n = build_neighbor_advert(&mut out, IP6_A, MAC_A, GW6, VROUTER_MAC, true).unwrap();
    check_na(&out[..n], IP6_A, MAC_A, 0xe0);
    // DAD: to all-nodes, not solicited.
    let n = build_neighbor_advert(&mut out, [0; 16], MAC_A, GW6, VROUTER_MAC, false).unwrap();
    check_na(&out[..n], IPV6_ALL_NODES, [0x33, 0x33, 0, 0, 0, 1], 0x20);
    assert_eq!(
        build_neighbor_advert(&mut out[..85], IP6_A, MAC_A, GW6, VROUTER_MAC, false),
        Err(BuildError::BufferTooSmall)
    );
}

#[test]
fn neighbor_advert_answers_parsed_solicitation() {
    let ns = ns_frame(IP6_A, GW6, Some(MAC_B), &[]);
    let h = parse(&ns).unwrap();
    let (L3::Ipv6(ip), L4::Nd { target, sll }) = (h.l3, h.l4) else {
        panic!("{h:?}")
    };
    let mut out = [0u8; 86];
    let n = build_neighbor_advert(
        &mut out,
        ip.src,
        sll.unwrap_or(h.src_mac),
        target,
        VROUTER_MAC,
        true,
    )
    .unwrap();
    check_na(&out[..n], IP6_A, MAC_B, 0xe0);
}

fn check_icmp4_te(frame: &[u8], orig: &[u8], quote_len: usize) {
    let h = parse(frame).unwrap();
    assert_eq!((h.dst_mac, h.src_mac), (MAC_A, VROUTER_MAC));
    let L3::Ipv4(ip) = h.l3 else {
        panic!("not IPv4")
    };
    assert_eq!(
        (ip.src, ip.dst, ip.proto, ip.ttl),
        (GW, [orig[12], orig[13], orig[14], orig[15]], 1, 64)
    );
    assert!(!ip.dont_fragment && !ip.is_fragment);
    assert_eq!(ip.header_len, 20);
    assert_eq!(usize::from(ip.total_len), 28 + quote_len);
    assert_eq!(frame.len(), 14 + 28 + quote_len);
    assert_eq!(naive_csum(&[&frame[14..34]]), 0, "IP checksum");
    let icmp = &frame[34..];
    assert_eq!(naive_csum(&[icmp]), 0, "ICMP checksum");
    assert_eq!(
        h.l4,
        L4::Icmp {
            ty: 11,
            code: 0,
            id: 0
        }
    );
    assert_eq!(&icmp[4..8], &[0; 4]);
    assert_eq!(&icmp[8..], &orig[..quote_len]);
}

#[test]
fn icmp4_time_exceeded() {
    let orig = ipv4_full(IP_A, IP_B, 17, 1, 0, &[], &udp(33434, 33435, &[0x55; 32]));
    assert_eq!(icmp4_time_exceeded_len(&orig), Ok(14 + 28 + 28));
    let mut out = [0u8; 200];
    let n = build_icmp4_time_exceeded(&mut out, &orig, GW, MAC_A, VROUTER_MAC).unwrap();
    check_icmp4_te(&out[..n], &orig, 28);
    // TOS: internetwork control + the original's TOS bits (0x10).
    assert_eq!(out[15], 0xd0);
    // Options are quoted with the header; 8 bytes of payload still.
    let orig = ipv4_full(
        IP_A,
        IP_B,
        6,
        1,
        0,
        &[1, 1, 1, 1, 1, 1, 1, 0],
        &tcp(1, 2, 2),
    );
    let n = build_icmp4_time_exceeded(&mut out, &orig, GW, MAC_A, VROUTER_MAC).unwrap();
    check_icmp4_te(&out[..n], &orig, 36);
    // Short payload: quoted as is; bytes after total_len (padding) are not.
    let mut orig = ipv4_full(IP_A, IP_B, 47, 1, 0, &[], &[1, 2, 3]);
    orig.extend_from_slice(&[0xee; 10]);
    let n = build_icmp4_time_exceeded(&mut out, &orig, GW, MAC_A, VROUTER_MAC).unwrap();
    check_icmp4_te(&out[..n], &orig, 23);
    // Refusals.
    assert_eq!(
        build_icmp4_time_exceeded(&mut out[..60], &orig, GW, MAC_A, VROUTER_MAC),
        Err(BuildError::BufferTooSmall)
    );
    assert_eq!(
        build_icmp4_time_exceeded(&mut out, &orig[..19], GW, MAC_A, VROUTER_MAC),
        Err(BuildError::BadOriginal)
    );
    let v6 = ipv6(IP6_A, IP6_B, 59, &[]);
    assert_eq!(
        build_icmp4_time_exceeded(&mut out, &v6, GW, MAC_A, VROUTER_MAC),
        Err(BuildError::BadOriginal)
    );
    let mut long_ihl = ipv4(IP_A, IP_B, 17, &[0; 4]);
    long_ihl[0] = 0x4f;
    assert_eq!(
        icmp4_time_exceeded_len(&long_ihl),
        Err(BuildError::BadOriginal)
    );
}

#[test]
fn icmp6_time_exceeded() {
    let mut out = vec![0u8; 14 + 1280 + 100];
    for payload in [0usize, 8, 100, 1232 - 40, 1232 - 39, 3000] {
        let orig = ipv6_full(
            IP6_A,
            IP6_B,
            17,
            1,
            &udp(1, 2, &vec![0x5a; payload.saturating_sub(8)]),
        );
        let orig_len = orig.len();
        let quote = orig_len.min(1232);
        assert_eq!(icmp6_time_exceeded_len(&orig), Ok(14 + 48 + quote));
        let n = build_icmp6_time_exceeded(&mut out, &orig, GW6, MAC_A, VROUTER_MAC).unwrap();
        assert_eq!(n, 14 + 48 + quote);
        assert!(n <= 14 + 1280);
        let f = &out[..n];
        let h = parse(f).unwrap();
        let L3::Ipv6(ip) = h.l3 else {
            panic!("not IPv6")
        };
        assert_eq!(
            (ip.src, ip.dst, ip.hop_limit, ip.next_header),
            (GW6, IP6_A, 64, 58)
        );
        assert_eq!(usize::from(ip.payload_len), 8 + quote);
        assert_eq!(
            h.l4,
            L4::Icmp6 {
                ty: 3,
                code: 0,
                id: 0
            }
        );
        assert!(icmp6_ok(&GW6, &IP6_A, &f[54..]), "ICMPv6 checksum");
        assert_eq!(&f[58..62], &[0; 4]);
        assert_eq!(&f[62..], &orig[..quote]);
        // `out` must hold the whole frame.
        assert_eq!(
            build_icmp6_time_exceeded(&mut out[..n - 1], &orig, GW6, MAC_A, VROUTER_MAC),
            Err(BuildError::BufferTooSmall)
        );
    }
    // Trailing bytes beyond the payload length are not quoted.
    let mut orig = ipv6_full(IP6_A, IP6_B, 59, 1, &[]);
    orig.extend_from_slice(&[0xee; 6]);
    assert_eq!(icmp6_time_exceeded_len(&orig), Ok(14 + 48 + 40));
    assert_eq!(
        icmp6_time_exceeded_len(&orig[..39]),
        Err(BuildError::BadOriginal)
    );
    assert_eq!(
        icmp6_time_exceeded_len(&ipv4(IP_A, IP_B, 6, &[0; 40])),
        Err(BuildError::BadOriginal)
    );
}

fn h4(src: [u8; 4], dst: [u8; 4], proto: u8, frag: u16, payload: &[u8]) -> Headers {
    parse(&frame(
        0x0800,
        &ipv4_full(src, dst, proto, 1, frag, &[], payload),
    ))
    .unwrap()
}

#[test]
fn icmp4_error_policy() {
    let udp_p = udp(1, 2, b"");
    assert!(may_send_icmp4_error(&h4(IP_A, IP_B, 17, 0, &udp_p)));
    assert!(may_send_icmp4_error(&h4(
        IP_A,
        IP_B,
        6,
        0x2000,
        &tcp(1, 2, 2)
    ))); // first fragment
    assert!(!may_send_icmp4_error(&h4(IP_A, IP_B, 17, 0x0001, &udp_p))); // later fragment
    for (ty, allowed) in [
        (8, true),
        (0, true),
        (13, true),
        (3, false),
        (4, false),
        (5, false),
        (11, false),
        (12, false),
        (40, false),
    ] {
        let h = h4(IP_A, IP_B, 1, 0, &icmp4(ty, 0, [0; 4], &[0; 28]));
        assert_eq!(may_send_icmp4_error(&h), allowed, "ICMP type {ty}");
    }
    assert!(!may_send_icmp4_error(&h4(
        IP_A,
        [224, 0, 0, 5],
        17,
        0,
        &udp_p
    )));
    assert!(!may_send_icmp4_error(&h4(IP_A, [255; 4], 17, 0, &udp_p)));
    assert!(!may_send_icmp4_error(&h4([0; 4], IP_B, 17, 0, &udp_p)));
    assert!(!may_send_icmp4_error(&h4(
        [127, 0, 0, 1],
        IP_B,
        17,
        0,
        &udp_p
    )));
    assert!(!may_send_icmp4_error(&h4(
        [239, 1, 1, 1],
        IP_B,
        17,
        0,
        &udp_p
    )));
    let mut bcast = h4(IP_A, IP_B, 17, 0, &udp_p);
    bcast.dst_mac = [0xff; 6];
    assert!(!may_send_icmp4_error(&bcast));
    let v6 = parse(&frame(0x86dd, &ipv6(IP6_A, IP6_B, 59, &[]))).unwrap();
    assert!(!may_send_icmp4_error(&v6));
}

#[test]
fn icmp6_error_policy() {
    let h = |src: [u8; 16], dst: [u8; 16], nh: u8, payload: &[u8]| {
        parse(&frame(0x86dd, &ipv6(src, dst, nh, payload))).unwrap()
    };
    let u = udp(1, 2, b"");
    assert!(may_send_icmp6_error(&h(IP6_A, IP6_B, 17, &u)));
    for (ty, allowed) in [
        (128, true),
        (129, true),
        (1, false),
        (2, false),
        (3, false),
        (4, false),
        (127, false),
        (137, false),
    ] {
        let m = icmp6(&IP6_A, &IP6_B, ty, 0, &[0; 40]);
        assert_eq!(
            may_send_icmp6_error(&h(IP6_A, IP6_B, 58, &m)),
            allowed,
            "ICMPv6 type {ty}"
        );
    }
    let mut mc = IP6_B;
    mc[0] = 0xff;
    assert!(!may_send_icmp6_error(&h(IP6_A, mc, 17, &u)));
    assert!(!may_send_icmp6_error(&h(mc, IP6_B, 17, &u)));
    assert!(!may_send_icmp6_error(&h([0; 16], IP6_B, 17, &u)));
    let mut lo = [0; 16];
    lo[15] = 1;
    assert!(!may_send_icmp6_error(&h(lo, IP6_B, 17, &u)));
    let later_fragment = [17, 0, 0x00, 0x10, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
    assert!(!may_send_icmp6_error(&h(IP6_A, IP6_B, 44, &later_fragment)));
    let mut mcast_mac = h(IP6_A, IP6_B, 17, &u);
    mcast_mac.dst_mac = [0x33, 0x33, 0, 0, 0, 1];
    assert!(!may_send_icmp6_error(&mcast_mac));
    assert!(!may_send_icmp6_error(
        &parse(&frame(0x0800, &ipv4(IP_A, IP_B, 17, &u))).unwrap()
    ));
}

/// The datapath's sequence for an expiring IPv4 packet: refuse to decrement, check the
/// policy, build the error from the untouched packet.
#[test]
fn expired_ipv4_end_to_end() {
    let mut f = frame(
        0x0800,
        &ipv4_full(IP_A, IP_B, 17, 1, 0, &[], &udp(40000, 33434, &[0; 12])),
    );
    let h = parse(&f).unwrap();
    assert_eq!(
        ipv4_decrement_ttl(&mut f, h.l3_offset),
        Err(RewriteError::Expired)
    );
    assert!(may_send_icmp4_error(&h));
    let l3 = &f[h.l3_offset..h.l3_offset + h.l3_len().unwrap()];
    let mut out = vec![0u8; icmp4_time_exceeded_len(l3).unwrap()];
    let n = build_icmp4_time_exceeded(&mut out, l3, GW, h.src_mac, VROUTER_MAC).unwrap();
    assert_eq!(n, out.len());
    let reply = parse(&out).unwrap();
    assert!(
        !may_send_icmp4_error(&reply),
        "no error about our own error"
    );
}
