//! Parser paths with hand-built frames.

mod packet_common;

use packet_common::*;
use vrouter_core::packet::*;

fn ok(f: &[u8]) -> Headers {
    match parse(f) {
        Ok(h) => h,
        Err(e) => panic!("parse failed: {e:?} on {f:02x?}"),
    }
}

fn v4(h: &Headers) -> Ipv4 {
    match h.l3 {
        L3::Ipv4(ip) => ip,
        other => panic!("not IPv4: {other:?}"),
    }
}

fn v6(h: &Headers) -> Ipv6 {
    match h.l3 {
        L3::Ipv6(ip) => ip,
        other => panic!("not IPv6: {other:?}"),
    }
}

#[test]
fn arp_request() {
    let mut f = eth([0xff; 6], MAC_A, 0x0806);
    f.extend_from_slice(&arp(1, MAC_A, IP_A, [0; 6], IP_B));
    f.resize(60, 0); // Ethernet padding
    let h = ok(&f);
    assert_eq!(h.dst_mac, [0xff; 6]);
    assert_eq!(h.src_mac, MAC_A);
    assert_eq!(h.vlan, None);
    assert_eq!(h.ethertype, ETH_P_ARP);
    assert_eq!(h.l3_offset, 14);
    assert_eq!(
        h.l3,
        L3::Arp(Arp {
            op: ARP_OP_REQUEST,
            sha: MAC_A,
            spa: IP_A,
            tha: [0; 6],
            tpa: IP_B
        })
    );
    assert_eq!(h.l4, L4::None);
    assert_eq!(h.l4_offset(), None);
    assert_eq!(h.l3_len(), Some(28));
    assert_eq!(h.five_tuple(), None);
}

#[test]
fn arp_not_ethernet_ipv4_or_short() {
    let mut p = arp(1, MAC_A, IP_A, [0; 6], IP_B);
    p[1] = 6; // hardware type IEEE 802
    assert_eq!(parse(&frame(0x0806, &p)), Err(ParseError::BadArp));
    let mut p = arp(1, MAC_A, IP_A, [0; 6], IP_B);
    p[5] = 16; // protocol length
    assert_eq!(parse(&frame(0x0806, &p)), Err(ParseError::BadArp));
    let p = arp(1, MAC_A, IP_A, [0; 6], IP_B);
    assert_eq!(parse(&frame(0x0806, &p[..27])), Err(ParseError::Truncated));
}

#[test]
fn ipv4_tcp() {
    let f = frame(0x0800, &ipv4(IP_A, IP_B, 6, &tcp(40000, 443, 0x12)));
    let h = ok(&f);
    let ip = v4(&h);
    assert_eq!(
        (ip.src, ip.dst, ip.proto, ip.ttl, ip.tos),
        (IP_A, IP_B, 6, 64, 0x10)
    );
    assert_eq!((ip.header_len, ip.total_len, ip.id), (20, 40, 0x1234));
    assert!(ip.dont_fragment && !ip.more_fragments && !ip.is_fragment && !ip.offset_nonzero);
    assert_eq!(
        h.l4,
        L4::Tcp {
            sport: 40000,
            dport: 443,
            flags: 0x12
        }
    );
    assert_eq!(h.l4_offset(), Some(34));
    assert_eq!(h.l3_len(), Some(40));
    assert_eq!(
        h.five_tuple(),
        Some(FiveTuple {
            src: IpAddr::V4(IP_A),
            dst: IpAddr::V4(IP_B),
            proto: 6,
            sport: 40000,
            dport: 443
        })
    );
}

#[test]
fn ipv4_udp_with_options_and_padding() {
    let mut f = frame(
        0x0800,
        &ipv4_full(IP_A, IP_B, 17, 3, 0, &[0x94, 4, 0, 0], &udp(68, 67, b"")),
    );
    f.resize(60, 0xee); // padding after the 32-byte IP packet
    let h = ok(&f);
    let ip = v4(&h);
    assert_eq!((ip.header_len, ip.total_len, ip.ttl), (24, 32, 3));
    assert_eq!(
        h.l4,
        L4::Udp {
            sport: 68,
            dport: 67
        }
    );
    assert_eq!(h.l4_offset(), Some(14 + 24));
    assert_eq!(h.l3_offset + h.l3_len().unwrap(), 14 + 32);
}

#[test]
fn ipv4_icmp() {
    let f = frame(
        0x0800,
        &ipv4(IP_A, IP_B, 1, &icmp4(8, 0, [0xab, 0xcd, 0, 7], b"data")),
    );
    let h = ok(&f);
    assert_eq!(
        h.l4,
        L4::Icmp {
            ty: 8,
            code: 0,
            id: 0xabcd
        }
    );
    let t = h.five_tuple().unwrap();
    assert_eq!((t.proto, t.sport, t.dport), (1, 0xabcd, 0));
    let f = frame(
        0x0800,
        &ipv4(IP_A, IP_B, 1, &icmp4(0, 0, [0x01, 0x02, 0, 7], b"")),
    );
    assert_eq!(
        ok(&f).l4,
        L4::Icmp {
            ty: 0,
            code: 0,
            id: 0x0102
        }
    );
    // Not echo: no id.
    let f = frame(
        0x0800,
        &ipv4(IP_A, IP_B, 1, &icmp4(3, 1, [0xab, 0xcd, 0, 7], &[0; 28])),
    );
    assert_eq!(
        ok(&f).l4,
        L4::Icmp {
            ty: 3,
            code: 1,
            id: 0
        }
    );
}

#[test]
fn ipv4_fragments() {
    // First fragment: MF set, offset 0: L4 present, but the tuple has no ports.
    let f = frame(
        0x0800,
        &ipv4_full(IP_A, IP_B, 17, 64, 0x2000, &[], &udp(1000, 2000, &[0; 24])),
    );
    let h = ok(&f);
    let ip = v4(&h);
    assert!(ip.is_fragment && ip.more_fragments && !ip.offset_nonzero);
    assert_eq!(
        h.l4,
        L4::Udp {
            sport: 1000,
            dport: 2000
        }
    );
    assert_eq!(h.l4_offset(), Some(34));
    let t = h.five_tuple().unwrap();
    assert_eq!((t.sport, t.dport), (0, 0));
    // Last fragment: offset 4 (32 bytes), no L4.
    let f = frame(
        0x0800,
        &ipv4_full(IP_A, IP_B, 17, 64, 0x0004, &[], &[0xaa; 8]),
    );
    let h = ok(&f);
    let ip = v4(&h);
    assert!(ip.is_fragment && !ip.more_fragments && ip.offset_nonzero);
    assert_eq!(ip.frag_offset, 4);
    assert_eq!(h.l4, L4::None);
    assert_eq!(h.l4_offset(), None);
    // A first fragment too short for its L4 header is refused (tiny fragment).
    let f = frame(0x0800, &ipv4_full(IP_A, IP_B, 6, 64, 0x2000, &[], &[0; 8]));
    assert_eq!(parse(&f), Err(ParseError::TruncatedL4));
}

#[test]
fn ipv4_invalid() {
    let good = ipv4(IP_A, IP_B, 17, &udp(1, 2, b"abc"));
    let with = |i: usize, b: u8| {
        let mut p = good.clone();
        p[i] = b;
        // Keep the checksum right so only the intended field is wrong.
        p[10] = 0;
        p[11] = 0;
        let ihl = usize::from(p[0] & 15) * 4;
        let c = naive_csum(&[&p[..ihl.clamp(20, p.len())]]);
        p[10..12].copy_from_slice(&c.to_be_bytes());
        frame(0x0800, &p)
    };
    assert_eq!(parse(&with(0, 0x65)), Err(ParseError::BadVersion));
    assert_eq!(parse(&with(0, 0x44)), Err(ParseError::BadHeaderLen));
    assert_eq!(parse(&with(0, 0x4f)), Err(ParseError::Truncated)); // IHL 60 > 31 bytes
    assert_eq!(parse(&with(3, 19)), Err(ParseError::BadTotalLen));
    assert_eq!(parse(&with(3, 32)), Err(ParseError::Truncated));
    let mut bad = good.clone();
    bad[10] ^= 1;
    assert_eq!(parse(&frame(0x0800, &bad)), Err(ParseError::BadChecksum));
    // UDP needs 8 bytes, TCP 20, ICMP 8.
    assert_eq!(
        parse(&frame(0x0800, &ipv4(IP_A, IP_B, 17, &[0; 7]))),
        Err(ParseError::TruncatedL4)
    );
    assert_eq!(
        parse(&frame(0x0800, &ipv4(IP_A, IP_B, 6, &[0; 19]))),
        Err(ParseError::TruncatedL4)
    );
    assert_eq!(
        parse(&frame(0x0800, &ipv4(IP_A, IP_B, 1, &[8, 0, 0]))),
        Err(ParseError::TruncatedL4)
    );
    // Unknown protocol: reported, not parsed, even with no payload.
    assert_eq!(
        ok(&frame(0x0800, &ipv4(IP_A, IP_B, 47, &[]))).l4,
        L4::Other(47)
    );
}

#[test]
fn vlan_tagged() {
    let mut f = eth(ROUTER_MAC, MAC_A, 0x8100);
    f.extend_from_slice(&[0xb0, 0x64, 0x08, 0x00]); // PCP 5, DEI 1, VID 100
    f.extend_from_slice(&ipv4(IP_A, IP_B, 17, &udp(5, 6, b"")));
    let h = ok(&f);
    assert_eq!(
        h.vlan,
        Some(VlanTag {
            id: 100,
            pcp: 5,
            dei: true
        })
    );
    assert_eq!(h.ethertype, ETH_P_IPV4);
    assert_eq!(h.l3_offset, 18);
    assert_eq!(h.l4, L4::Udp { sport: 5, dport: 6 });
    assert_eq!(h.l4_offset(), Some(38));
    // Priority tag (VID 0).
    f[14] = 0x20;
    f[15] = 0x00;
    assert_eq!(
        ok(&f).vlan,
        Some(VlanTag {
            id: 0,
            pcp: 1,
            dei: false
        })
    );
}

#[test]
fn stacked_vlan_rejected() {
    let mut f = eth(ROUTER_MAC, MAC_A, 0x88a8);
    f.extend_from_slice(&[0, 10, 0x81, 0x00, 0, 20, 0x08, 0x00]);
    f.extend_from_slice(&ipv4(IP_A, IP_B, 17, &udp(5, 6, b"")));
    assert_eq!(parse(&f), Err(ParseError::StackedVlan));
    f[12] = 0x81;
    f[13] = 0x00;
    assert_eq!(parse(&f), Err(ParseError::StackedVlan));
    f[16] = 0x88;
    f[17] = 0xa8;
    assert_eq!(parse(&f), Err(ParseError::StackedVlan));
    // Tag without the inner ethertype.
    assert_eq!(parse(&f[..16]), Err(ParseError::Truncated));
}

#[test]
fn other_ethertypes() {
    let h = ok(&frame(0x88cc, &[1, 2, 3]));
    assert_eq!(
        (h.l3, h.l4, h.ethertype),
        (L3::Other(0x88cc), L4::None, 0x88cc)
    );
    assert_eq!(
        (h.l3_len(), h.l4_offset(), h.five_tuple()),
        (None, None, None)
    );
    // 802.3 length field.
    assert_eq!(ok(&frame(0x0030, &[0; 48])).l3, L3::Other(0x30));
    // Bare Ethernet header.
    assert_eq!(ok(&eth(MAC_B, MAC_A, 0x9000)).l3, L3::Other(0x9000));
    assert_eq!(parse(&[0; 13]), Err(ParseError::Truncated));
}

#[test]
fn ipv6_udp_behind_hop_by_hop_and_dest_opts() {
    let mut ext = vec![60, 0, 1, 4, 0, 0, 0, 0]; // HBH, 8 bytes, PadN
    ext.extend_from_slice(&[17, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // DstOpts, 16
    ext.extend_from_slice(&udp(546, 547, b"dhcp"));
    let f = frame(0x86dd, &ipv6(IP6_A, IP6_B, 0, &ext));
    let h = ok(&f);
    let ip = v6(&h);
    assert_eq!(
        (ip.src, ip.dst, ip.next_header, ip.hop_limit),
        (IP6_A, IP6_B, 17, 64)
    );
    assert_eq!((ip.traffic_class, ip.flow_label), (0xab, 0x12345));
    assert_eq!(ip.payload_len as usize, ext.len());
    assert_eq!(ip.l4_offset, 14 + 40 + 24);
    assert!(!ip.is_fragment && !ip.offset_nonzero);
    assert_eq!(h.l4_offset(), Some(78));
    assert_eq!(
        h.l4,
        L4::Udp {
            sport: 546,
            dport: 547
        }
    );
    let t = h.five_tuple().unwrap();
    assert_eq!(
        (t.src, t.proto, t.sport, t.dport),
        (IpAddr::V6(IP6_A), 17, 546, 547)
    );
}

#[test]
fn ipv6_ext_header_rules() {
    // Hop-by-Hop after another extension header.
    let mut ext = vec![0, 0, 1, 4, 0, 0, 0, 0];
    ext.extend_from_slice(&[17, 0, 1, 4, 0, 0, 0, 0]);
    ext.extend_from_slice(&udp(1, 2, b""));
    assert_eq!(
        parse(&frame(0x86dd, &ipv6(IP6_A, IP6_B, 60, &ext))),
        Err(ParseError::BadExtHeader)
    );
    // Eight Destination Options headers are walked, nine are too many.
    for (n, expect) in [(8, Ok(17)), (9, Err(ParseError::TooManyExtHeaders))] {
        let mut ext = Vec::new();
        for i in 0..n {
            ext.extend_from_slice(&[if i + 1 == n { 17 } else { 60 }, 0, 1, 4, 0, 0, 0, 0]);
        }
        ext.extend_from_slice(&udp(1, 2, b""));
        let r = parse(&frame(0x86dd, &ipv6(IP6_A, IP6_B, 60, &ext)));
        assert_eq!(r.map(|h| v6(&h).next_header), expect, "{n} headers");
    }
    // Routing header (43) then AH (51): AH length is (len + 2) * 4.
    let mut ext = vec![51, 0, 0, 0, 0, 0, 0, 0];
    ext.extend_from_slice(&[6, 4, 0, 0, 0, 0, 0, 1]);
    ext.extend_from_slice(&[0; 16]); // rest of the 24-byte AH
    ext.extend_from_slice(&tcp(22, 2222, 0x10));
    let h = ok(&frame(0x86dd, &ipv6(IP6_A, IP6_B, 43, &ext)));
    assert_eq!(v6(&h).l4_offset, 14 + 40 + 8 + 24);
    assert_eq!(
        h.l4,
        L4::Tcp {
            sport: 22,
            dport: 2222,
            flags: 0x10
        }
    );
    // An extension header running past the payload.
    let ext = vec![17, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    assert_eq!(
        parse(&frame(0x86dd, &ipv6(IP6_A, IP6_B, 60, &ext))),
        Err(ParseError::Truncated)
    );
    // ESP stops the walk; No Next Header has no L4.
    let h = ok(&frame(0x86dd, &ipv6(IP6_A, IP6_B, 50, &[0; 16])));
    assert_eq!((v6(&h).next_header, h.l4), (50, L4::Other(50)));
    let h = ok(&frame(0x86dd, &ipv6(IP6_A, IP6_B, 59, &[])));
    assert_eq!((v6(&h).next_header, h.l4), (59, L4::None));
    assert_eq!(h.l4_offset(), Some(54));
}

#[test]
fn ipv6_invalid() {
    let mut p = ipv6(IP6_A, IP6_B, 17, &udp(1, 2, b"x"));
    p[0] = 0x40;
    assert_eq!(parse(&frame(0x86dd, &p)), Err(ParseError::BadVersion));
    let mut p = ipv6(IP6_A, IP6_B, 17, &udp(1, 2, b"x"));
    p[5] += 1; // payload length one past the frame
    assert_eq!(parse(&frame(0x86dd, &p)), Err(ParseError::Truncated));
    let p = ipv6(IP6_A, IP6_B, 17, &udp(1, 2, b"x"));
    assert_eq!(parse(&frame(0x86dd, &p[..39])), Err(ParseError::Truncated));
    assert_eq!(
        parse(&frame(0x86dd, &ipv6(IP6_A, IP6_B, 17, &[0; 7]))),
        Err(ParseError::TruncatedL4)
    );
    assert_eq!(
        parse(&frame(0x86dd, &ipv6(IP6_A, IP6_B, 58, &[128, 0, 0]))),
        Err(ParseError::TruncatedL4)
    );
    assert_eq!(
        parse(&frame(0x86dd, &ipv6(IP6_A, IP6_B, 58, &[128, 0, 0, 0, 1]))),
        Err(ParseError::TruncatedL4)
    );
}

#[test]
fn ipv6_fragment_header() {
    // First fragment (offset 0, M=1): L4 parsed, tuple without ports.
    let mut fr = vec![17, 0, 0x00, 0x01, 0xde, 0xad, 0xbe, 0xef];
    fr.extend_from_slice(&udp(7, 8, &[0; 8]));
    let h = ok(&frame(0x86dd, &ipv6(IP6_A, IP6_B, 44, &fr)));
    let ip = v6(&h);
    assert!(ip.is_fragment && !ip.offset_nonzero);
    assert_eq!((ip.next_header, ip.l4_offset), (17, 14 + 48));
    assert_eq!(h.l4, L4::Udp { sport: 7, dport: 8 });
    let t = h.five_tuple().unwrap();
    assert_eq!((t.proto, t.sport, t.dport), (17, 0, 0));
    // Non-first fragment (offset 2): no L4, whatever the bytes look like.
    let mut fr = vec![17, 0, 0x00, 0x10, 0xde, 0xad, 0xbe, 0xef];
    fr.extend_from_slice(&[0; 3]);
    let h = ok(&frame(0x86dd, &ipv6(IP6_A, IP6_B, 44, &fr)));
    let ip = v6(&h);
    assert!(ip.is_fragment && ip.offset_nonzero);
    assert_eq!(ip.next_header, 17);
    assert_eq!((h.l4, h.l4_offset()), (L4::None, None));
    // Atomic fragment (offset 0, M=0): a whole packet.
    let mut fr = vec![6, 0, 0, 0, 0, 0, 0, 1];
    fr.extend_from_slice(&tcp(1, 2, 0x02));
    let h = ok(&frame(0x86dd, &ipv6(IP6_A, IP6_B, 44, &fr)));
    assert!(!v6(&h).is_fragment);
    assert_eq!(h.five_tuple().unwrap().sport, 1);
    // Fragment header cut short.
    assert_eq!(
        parse(&frame(
            0x86dd,
            &ipv6(IP6_A, IP6_B, 44, &[17, 0, 0, 1, 0, 0])
        )),
        Err(ParseError::Truncated)
    );
}

#[test]
fn icmp6_echo() {
    let m = icmp6(&IP6_A, &IP6_B, 128, 0, &[0x42, 0x43, 0, 1, 9, 9]);
    let h = ok(&frame(0x86dd, &ipv6(IP6_A, IP6_B, 58, &m)));
    assert_eq!(
        h.l4,
        L4::Icmp6 {
            ty: 128,
            code: 0,
            id: 0x4243
        }
    );
    assert_eq!(h.five_tuple().unwrap().sport, 0x4243);
    let m = icmp6(&IP6_A, &IP6_B, 1, 4, &[0; 44]);
    assert_eq!(
        ok(&frame(0x86dd, &ipv6(IP6_A, IP6_B, 58, &m))).l4,
        L4::Icmp6 {
            ty: 1,
            code: 4,
            id: 0
        }
    );
}

#[test]
fn neighbor_solicitation_with_and_without_slla() {
    let h = ok(&ns_frame(IP6_A, IP6_B, Some(MAC_A), &[]));
    assert_eq!(
        h.l4,
        L4::Nd {
            target: IP6_B,
            sll: Some(MAC_A)
        }
    );
    assert_eq!(v6(&h).hop_limit, 255);
    let h = ok(&ns_frame(IP6_A, IP6_B, None, &[]));
    assert_eq!(
        h.l4,
        L4::Nd {
            target: IP6_B,
            sll: None
        }
    );
    // Other options (a nonce, type 14) around the SLLA are skipped.
    let nonce = [14, 1, 1, 2, 3, 4, 5, 6];
    let h = ok(&ns_frame(IP6_A, IP6_B, Some(MAC_B), &nonce));
    assert_eq!(
        h.l4,
        L4::Nd {
            target: IP6_B,
            sll: Some(MAC_B)
        }
    );
    // DAD: from ::, to the solicited-node address, without SLLA.
    let h = ok(&ns_frame([0; 16], IP6_B, None, &[]));
    assert_eq!(
        h.l4,
        L4::Nd {
            target: IP6_B,
            sll: None
        }
    );
}

#[test]
fn invalid_neighbor_solicitations_are_plain_icmp6() {
    let plain = L4::Icmp6 {
        ty: 135,
        code: 0,
        id: 0,
    };
    // DAD with an SLLA.
    assert_eq!(ok(&ns_frame([0; 16], IP6_B, Some(MAC_A), &[])).l4, plain);
    // Zero-length option.
    assert_eq!(
        ok(&ns_frame(IP6_A, IP6_B, None, &[3, 0, 0, 0, 0, 0, 0, 0])).l4,
        plain
    );
    // Option running past the message.
    assert_eq!(
        ok(&ns_frame(IP6_A, IP6_B, None, &[3, 2, 0, 0, 0, 0, 0, 0])).l4,
        plain
    );
    // Multicast target.
    let mut t = IP6_B;
    t[0] = 0xff;
    assert_eq!(ok(&ns_frame(IP6_A, t, None, &[])).l4, plain);
    // Hop limit not 255 (the checksum does not cover it).
    let mut f = ns_frame(IP6_A, IP6_B, None, &[]);
    f[14 + 7] = 254;
    assert_eq!(ok(&f).l4, plain);
    // Bad checksum.
    let mut f = ns_frame(IP6_A, IP6_B, None, &[]);
    f[14 + 40 + 2] ^= 0x80;
    assert_eq!(ok(&f).l4, plain);
    // Short message (20 bytes: no whole target).
    let dst = solicited_node(&IP6_B);
    let m = icmp6(&IP6_A, &dst, 135, 0, &[0; 16]);
    let h = ok(&frame(0x86dd, &ipv6_full(IP6_A, dst, 58, 255, &m)));
    assert_eq!(h.l4, plain);
    // Code not 0.
    let m = icmp6(&IP6_A, &dst, 135, 1, &[&[0u8; 4][..], &IP6_B[..]].concat());
    let h = ok(&frame(0x86dd, &ipv6_full(IP6_A, dst, 58, 255, &m)));
    assert_eq!(
        h.l4,
        L4::Icmp6 {
            ty: 135,
            code: 1,
            id: 0
        }
    );
}

/// Every prefix of every sample frame: no panic; an `Ok` is consistent with the bytes
/// it had, and any prefix that cuts the IP packet (or ARP, or Ethernet header) is an `Err`.
#[test]
fn every_prefix_of_valid_frames() {
    for f in sample_frames() {
        let full = ok(&f);
        let end = full.l3_offset + full.l3_len().unwrap_or(0);
        assert!(end <= f.len());
        for n in 0..f.len() {
            match parse(&f[..n]) {
                Ok(h) => {
                    assert!(
                        n >= end,
                        "prefix {n} of {f:02x?} accepted, packet ends at {end}"
                    );
                    assert_eq!(h, full);
                }
                Err(_) => assert!(n < end || n < 14),
            }
        }
    }
}
