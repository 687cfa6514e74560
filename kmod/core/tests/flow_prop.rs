//! Property tests of the flow key and the NAT rewrite: any bytes are safe to key and
//! rewrite; a rewrite of a valid IPv4/IPv6 TCP/UDP packet leaves valid checksums and the
//! fields its NAT bits name taken from the reverse key, and nothing else changed.

mod packet_common;

use packet_common::*;
use proptest::prelude::*;
use vrouter_core::flow::{nat_rewrite, FlowKey};
use vrouter_core::packet::parse;
use vrouter_core::uapi::{addr_family, flow_flag};

const NAT_BITS: u32 = flow_flag::SNAT | flow_flag::SPAT | flow_flag::DNAT | flow_flag::DPAT;

/// The pseudo-header + segment sum of an L4 segment: 0 when its checksum verifies.
fn l4_sum(src: &[u8], dst: &[u8], proto: u8, seg: &[u8]) -> u16 {
    let mut pseudo = Vec::new();
    pseudo.extend_from_slice(src);
    pseudo.extend_from_slice(dst);
    if src.len() == 4 {
        pseudo.extend_from_slice(&[0, proto]);
        pseudo.extend_from_slice(&(seg.len() as u16).to_be_bytes());
    } else {
        pseudo.extend_from_slice(&(seg.len() as u32).to_be_bytes());
        pseudo.extend_from_slice(&[0, 0, 0, proto]);
    }
    naive_csum(&[&pseudo, seg])
}

/// A frame with valid IPv4 header and L4 checksums.
fn packet(
    v6: bool,
    src: [u8; 16],
    dst: [u8; 16],
    tcp_not_udp: bool,
    sport: u16,
    dport: u16,
    data: &[u8],
) -> Vec<u8> {
    let (proto, mut seg, at) = if tcp_not_udp {
        let mut s = tcp(sport, dport, 0x18);
        s.extend_from_slice(data);
        (6, s, 16)
    } else {
        (17, udp(sport, dport, data), 6)
    };
    let (s, d) = if v6 {
        (&src[..], &dst[..])
    } else {
        (&src[..4], &dst[..4])
    };
    seg[at..at + 2].copy_from_slice(&[0, 0]);
    let mut c = l4_sum(s, d, proto, &seg);
    if proto == 17 && c == 0 {
        c = 0xffff;
    }
    seg[at..at + 2].copy_from_slice(&c.to_be_bytes());
    if v6 {
        frame(0x86dd, &ipv6(src, dst, proto, &seg))
    } else {
        frame(
            0x0800,
            &ipv4(
                src[..4].try_into().unwrap(),
                dst[..4].try_into().unwrap(),
                proto,
                &seg,
            ),
        )
    }
}

fn checksums_ok(f: &[u8]) -> bool {
    let h = parse(f).expect("still parses");
    let l4 = h.l4_offset().unwrap();
    let (src, dst, proto, v4) = match f[12..14] {
        [0x08, 0x00] => (&f[26..30], &f[30..34], f[23], true),
        _ => (&f[22..38], &f[38..54], f[20], false),
    };
    (!v4 || naive_csum(&[&f[14..34]]) == 0) && l4_sum(src, dst, proto, &f[l4..]) == 0
}

fn key_of(f: &[u8]) -> FlowKey {
    FlowKey::from_headers(1, &parse(f).unwrap()).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_bytes_key_and_rewrite_without_panic(f in proptest::collection::vec(any::<u8>(), 0..200),
                                               flags in any::<u32>(), vrf in any::<u32>(),
                                               rsrc in any::<[u8; 16]>(), v6 in any::<bool>()) {
        if let Ok(h) = parse(&f) {
            let key = FlowKey::from_headers(vrf, &h);
            let mut rkey = key.unwrap_or_default();
            rkey.family = if v6 { addr_family::INET6 } else { addr_family::INET } as u8;
            rkey.src = rsrc;
            let mut out = f.clone();
            let _ = nat_rewrite(&mut out, &h, flags, &rkey, flags & 1 == 1);
            prop_assert_eq!(out.len(), f.len(), "a rewrite never resizes the frame");
        }
    }

    #[test]
    fn the_reverse_of_the_reverse_is_the_key(v6 in any::<bool>(), src in any::<[u8; 16]>(),
                                             dst in any::<[u8; 16]>(), tcp in any::<bool>(),
                                             sport in any::<u16>(), dport in any::<u16>()) {
        let k = key_of(&packet(v6, src, dst, tcp, sport, dport, b"x"));
        prop_assert_eq!(k.reverse().reverse(), k);
        prop_assert_eq!((k.sport, k.dport), (sport, dport));
        prop_assert_eq!(FlowKey::from_words(&k.words()), k);
    }

    #[test]
    fn nat_keeps_checksums_and_takes_the_named_fields_from_the_reverse_key(
        v6 in any::<bool>(), tcp in any::<bool>(), src in any::<[u8; 16]>(),
        dst in any::<[u8; 16]>(), sport in any::<u16>(), dport in any::<u16>(),
        rsrc in any::<[u8; 16]>(), rdst in any::<[u8; 16]>(), rsport in any::<u16>(),
        rdport in any::<u16>(), flags in 0u32..16, data in proptest::collection::vec(any::<u8>(), 0..64)) {
        let flags = [flow_flag::SNAT, flow_flag::SPAT, flow_flag::DNAT, flow_flag::DPAT]
            .iter().enumerate().filter(|(i, _)| flags & (1 << i) != 0).fold(0, |a, (_, b)| a | b);
        let f = packet(v6, src, dst, tcp, sport, dport, &data);
        prop_assert!(checksums_ok(&f));
        // The reverse key is what the answer would carry: from the rewritten peer.
        let rkey = key_of(&packet(v6, rsrc, rdst, tcp, rsport, rdport, b""));
        let before = key_of(&f);
        let mut out = f.clone();
        nat_rewrite(&mut out, &parse(&f).unwrap(), flags, &rkey, false).unwrap();
        prop_assert!(checksums_ok(&out), "checksums after {:#x}", flags);
        let after = key_of(&out);
        let n = if v6 { 16 } else { 4 };
        let want_src = if flags & flow_flag::SNAT != 0 { rkey.dst } else { before.src };
        let want_dst = if flags & flow_flag::DNAT != 0 { rkey.src } else { before.dst };
        prop_assert_eq!(&after.src[..n], &want_src[..n]);
        prop_assert_eq!(&after.dst[..n], &want_dst[..n]);
        prop_assert_eq!(after.sport, if flags & flow_flag::SPAT != 0 { rkey.dport } else { before.sport });
        prop_assert_eq!(after.dport, if flags & flow_flag::DPAT != 0 { rkey.sport } else { before.dport });
        prop_assert_eq!(flags & !NAT_BITS, 0);
        // Past the L4 header the payload is untouched.
        prop_assert_eq!(&out[out.len() - data.len()..], &data[..]);
    }
}
