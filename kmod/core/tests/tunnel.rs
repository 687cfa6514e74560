//! Overlay tunnel headers: exact bytes, write/parse round trips, every error, and a
//! parser that never panics.

mod packet_common;
mod rng;

use packet_common::*;
use proptest::prelude::*;
use rng::Rng;
use vrouter_core::packet::{parse, L3, L4, VROUTER_MAC};
use vrouter_core::tunnel::*;
use vrouter_core::uapi::nh_flag;

const SIP: [u8; 4] = [10, 0, 0, 1];
const DIP: [u8; 4] = [10, 0, 0, 2];
const ALL: [Encap; 3] = [Encap::MplsOverUdp, Encap::MplsOverGre, Encap::Vxlan];

/// An underlay Ethernet header whose ethertype `write_outer` must overwrite.
fn l2_untagged() -> Vec<u8> {
    eth(MAC_B, MAC_A, 0xffff)
}

/// An 802.1Q-tagged underlay Ethernet header (VID 100), inner ethertype to overwrite.
fn l2_tagged() -> Vec<u8> {
    let mut l2 = eth(MAC_B, MAC_A, 0x8100);
    l2.extend_from_slice(&[0x00, 0x64, 0x12, 0x34]);
    l2
}

fn inner4() -> Vec<u8> {
    ipv4(IP_A, IP_B, 17, &udp(1000, 53, b"query"))
}

fn inner6() -> Vec<u8> {
    ipv6(IP6_A, IP6_B, 17, &udp(1000, 53, b"query"))
}

fn outer<'a>(encap: Encap, l2: &'a [u8], label: u32, inner: &[u8]) -> Outer<'a> {
    Outer {
        encap,
        l2,
        sip: &SIP,
        dip: &DIP,
        label,
        inner_v6: inner.first().is_some_and(|b| b >> 4 == 6),
        inner_len: inner.len(),
        flow_hash: 0xdead_beef,
        ip_id: 0x1234,
    }
}

/// A whole tunnel packet from the outer IPv4 header on (no L2).
fn packet(encap: Encap, label: u32, inner: &[u8]) -> Vec<u8> {
    let o = outer(encap, &[], label, inner);
    let mut p = vec![0u8; encap.overhead()];
    assert_eq!(write_outer(&mut p, &o), Ok(encap.overhead()));
    p.extend_from_slice(inner);
    p
}

/// Recomputes the IPv4 header checksum (IHL from the packet) after an edit.
fn fix_ip_csum(p: &mut [u8]) {
    let ihl = usize::from(p[0] & 0x0f) * 4;
    p[10] = 0;
    p[11] = 0;
    let c = naive_csum(&[&p[..ihl]]);
    p[10..12].copy_from_slice(&c.to_be_bytes());
}

/// Offset of the MPLS entry (from the IPv4 header) in the packets `packet` builds.
fn mpls_off(encap: Encap) -> usize {
    match encap {
        Encap::MplsOverUdp => 28,
        Encap::MplsOverGre => 24,
        Encap::Vxlan => panic!("no MPLS in VXLAN"),
    }
}

#[test]
fn overhead_and_flags() {
    assert_eq!(Encap::MplsOverUdp.overhead(), 32);
    assert_eq!(Encap::MplsOverGre.overhead(), 28);
    assert_eq!(Encap::Vxlan.overhead(), 50);
    let v = nh_flag::VALID;
    assert_eq!(
        Encap::from_nh_flags(v | nh_flag::TUNNEL_UDP_MPLS),
        Some(Encap::MplsOverUdp)
    );
    assert_eq!(
        Encap::from_nh_flags(nh_flag::TUNNEL_GRE),
        Some(Encap::MplsOverGre)
    );
    assert_eq!(
        Encap::from_nh_flags(v | nh_flag::POLICY | nh_flag::TUNNEL_VXLAN),
        Some(Encap::Vxlan)
    );
    assert_eq!(Encap::from_nh_flags(v), None);
    assert_eq!(Encap::from_nh_flags(0), None);
    assert_eq!(
        Encap::from_nh_flags(nh_flag::TUNNEL_GRE | nh_flag::TUNNEL_VXLAN),
        None
    );
    assert_eq!(
        Encap::from_nh_flags(nh_flag::TUNNEL_UDP_MPLS | nh_flag::TUNNEL_GRE),
        None
    );
}

/// What the tunnel carries starts where `payload_offset` says: the MPLS entry, or VXLAN's
/// inner Ethernet header (to the router MAC, inner ethertype before the inner packet).
#[test]
fn payload_offset_names_what_the_tunnel_carries() {
    for encap in ALL {
        let inner = inner4();
        let p = packet(encap, 77, &inner);
        let off = encap.payload_offset();
        match encap {
            Encap::Vxlan => {
                assert_eq!(off + 14, encap.overhead());
                assert_eq!(&p[off..off + 6], &VROUTER_MAC);
                assert_eq!(&p[off + 12..off + 14], &[0x08, 0x00]);
            }
            _ => {
                assert_eq!(off, mpls_off(encap));
                assert_eq!(off + 4, encap.overhead());
            }
        }
        assert_eq!(&p[encap.overhead()..], &inner[..]);
    }
}

#[test]
fn mpls_over_udp_exact_bytes() {
    let l2 = l2_untagged();
    let o = Outer {
        encap: Encap::MplsOverUdp,
        l2: &l2,
        sip: &SIP,
        dip: &DIP,
        label: 0x12345,
        inner_v6: false,
        inner_len: 100,
        flow_hash: 0x0000_0123,
        ip_id: 0xbeef,
    };
    #[rustfmt::skip]
    let want: [u8; 46] = [
        // Ethernet: MAC_B <- MAC_A, IPv4.
        0x02, 0, 0, 0, 0, 0x0b, 0x02, 0, 0, 0, 0, 0x0a, 0x08, 0x00,
        // IPv4: 45, TOS 0, total 132, id beef, DF, TTL 64, UDP, checksum, addresses.
        0x45, 0x00, 0x00, 0x84, 0xbe, 0xef, 0x40, 0x00, 0x40, 0x11, 0x67, 0x77,
        10, 0, 0, 1, 10, 0, 0, 2,
        // UDP: 0xc123 -> 6635, length 112, checksum 0.
        0xc1, 0x23, 0x19, 0xeb, 0x00, 0x70, 0x00, 0x00,
        // MPLS: label 0x12345, TC 0, S, TTL 64.
        0x12, 0x34, 0x51, 0x40,
    ];
    let mut buf = [0xccu8; 64];
    assert_eq!(write_outer(&mut buf, &o), Ok(46));
    assert_eq!(&buf[..46], &want[..]);
    assert!(buf[46..].iter().all(|&b| b == 0xcc), "wrote past the stack");
    assert_eq!(naive_csum(&[&buf[14..34]]), 0, "IPv4 header checksum");
}

#[test]
fn vxlan_exact_bytes_tagged_l2() {
    let l2 = l2_tagged();
    let o = Outer {
        encap: Encap::Vxlan,
        l2: &l2,
        sip: &[192, 168, 1, 1],
        dip: &[192, 168, 1, 2],
        label: 0xab_cdef,
        inner_v6: true,
        inner_len: 60,
        flow_hash: 0x1234_5678,
        ip_id: 1,
    };
    #[rustfmt::skip]
    let want: [u8; 68] = [
        // Ethernet + 802.1Q VID 100, inner ethertype IPv4.
        0x02, 0, 0, 0, 0, 0x0b, 0x02, 0, 0, 0, 0, 0x0a, 0x81, 0x00, 0x00, 0x64, 0x08, 0x00,
        // IPv4: total 110, id 1, DF, TTL 64, UDP.
        0x45, 0x00, 0x00, 0x6e, 0x00, 0x01, 0x40, 0x00, 0x40, 0x11, 0xb7, 0x2a,
        192, 168, 1, 1, 192, 168, 1, 2,
        // UDP: 0xc44c -> 4789, length 90, checksum 0.
        0xc4, 0x4c, 0x12, 0xb5, 0x00, 0x5a, 0x00, 0x00,
        // VXLAN: I flag, VNI abcdef.
        0x08, 0x00, 0x00, 0x00, 0xab, 0xcd, 0xef, 0x00,
        // Inner Ethernet: router MAC <- the underlay header's source, IPv6.
        0x00, 0x00, 0x5e, 0x00, 0x01, 0x00, 0x02, 0, 0, 0, 0, 0x0a, 0x86, 0xdd,
    ];
    let mut buf = [0xccu8; 80];
    assert_eq!(write_outer(&mut buf, &o), Ok(68));
    assert_eq!(&buf[..68], &want[..]);
    assert!(buf[68..].iter().all(|&b| b == 0xcc), "wrote past the stack");
    assert_eq!(naive_csum(&[&buf[18..38]]), 0, "IPv4 header checksum");
}

#[test]
fn gre_bytes() {
    let p = packet(Encap::MplsOverGre, 17, &inner4());
    assert_eq!(p[9], 47);
    assert_eq!(&p[20..28], &[0, 0, 0x88, 0x47, 0x00, 0x01, 0x11, 0x40]);
    assert_eq!(naive_csum(&[&p[..20]]), 0);
}

#[test]
fn round_trip_every_encap_family_and_l2() {
    for encap in ALL {
        for inner in [inner4(), inner6()] {
            for l2 in [vec![], l2_untagged(), l2_tagged()] {
                let label = match encap {
                    Encap::Vxlan => 0xff_fffe,
                    _ => 0xf_fffe,
                };
                let o = outer(encap, &l2, label, &inner);
                let mut f = vec![0u8; l2.len() + encap.overhead()];
                assert_eq!(write_outer(&mut f, &o), Ok(f.len()));
                f.extend_from_slice(&inner);
                let d = decap_of(&f[l2.len()..]).unwrap().unwrap();
                let v6 = inner[0] >> 4 == 6;
                assert_eq!(d.encap, encap);
                assert_eq!(d.label, label);
                assert_eq!((d.sip, d.dip), (SIP, DIP));
                assert_eq!(d.inner_v6, v6);
                let rest = &f[l2.len() + d.inner_offset..];
                if encap == Encap::Vxlan {
                    assert_eq!(d.inner_offset, encap.overhead() - 14);
                    let et: u16 = if v6 { 0x86dd } else { 0x0800 };
                    // from the sender's fabric MAC when the nexthop gives one
                    let src: [u8; 6] = l2.get(6..12).map_or(VROUTER_MAC, |m| m.try_into().unwrap());
                    assert_eq!(&rest[..14], &eth(VROUTER_MAC, src, et)[..]);
                    assert_eq!(&rest[14..], &inner[..]);
                } else {
                    assert_eq!(d.inner_offset, encap.overhead());
                    assert_eq!(rest, &inner[..]);
                }
            }
        }
    }
}

#[test]
fn outer_frame_parses_as_ipv4() {
    for encap in ALL {
        let l2 = l2_untagged();
        let inner = inner4();
        let o = outer(encap, &l2, 5, &inner);
        let mut f = vec![0u8; 14 + encap.overhead()];
        write_outer(&mut f, &o).unwrap();
        f.extend_from_slice(&inner);
        let h = parse(&f).unwrap();
        let L3::Ipv4(ip) = h.l3 else {
            panic!("not IPv4: {:?}", h.l3)
        };
        assert_eq!(usize::from(ip.total_len), f.len() - 14);
        assert!(ip.dont_fragment && !ip.is_fragment);
        assert_eq!(ip.ttl, TUNNEL_TTL);
        match (encap, h.l4) {
            (Encap::MplsOverGre, L4::Other(47)) => {}
            (Encap::MplsOverUdp, L4::Udp { sport, dport }) => {
                assert_eq!(
                    (sport, dport),
                    (udp_source_port(0xdead_beef), MPLS_UDP_PORT)
                )
            }
            (Encap::Vxlan, L4::Udp { sport, dport }) => {
                assert_eq!((sport, dport), (udp_source_port(0xdead_beef), VXLAN_PORT))
            }
            other => panic!("{other:?}"),
        }
        if encap != Encap::MplsOverGre {
            let udp_len = u16::from_be_bytes([f[38], f[39]]);
            assert_eq!(usize::from(udp_len), f.len() - 34);
        }
    }
}

#[test]
fn udp_source_port_range_and_spread() {
    let mut r = Rng(7);
    let mut seen = std::collections::HashSet::new();
    for _ in 0..10_000 {
        let p = udp_source_port(r.next() as u32);
        assert!((49152..=65535).contains(&p));
        seen.insert(p);
    }
    assert!(seen.len() > 7000, "only {} ports", seen.len());
    for h in [0, 1, u32::MAX, 0x3fff, 0x4000, 0xffff_0000] {
        assert!(udp_source_port(h) >= 49152);
    }
    let low: std::collections::HashSet<u16> = (0..16384).map(udp_source_port).collect();
    assert_eq!(low.len(), 16384, "consecutive hashes collide");
    assert_ne!(udp_source_port(1), udp_source_port(2));
    assert_ne!(udp_source_port(0x1_0000), udp_source_port(0x2_0000));
}

/// `write_outer` fails with `err` and leaves the buffer as it was.
fn refused(o: &Outer<'_>, buf_len: usize, err: TunnelError) {
    let mut buf = vec![0xccu8; buf_len];
    assert_eq!(write_outer(&mut buf, o), Err(err), "{o:?}");
    assert!(buf.iter().all(|&b| b == 0xcc), "wrote on error: {o:?}");
}

/// The first label (MPLS) or VNI (VXLAN) that does not fit.
fn label_limit(encap: Encap) -> u32 {
    if encap == Encap::Vxlan {
        1 << 24
    } else {
        1 << 20
    }
}

#[test]
fn write_errors() {
    let inner = inner4();
    let six = [0u8; 16];
    for encap in ALL {
        let good = outer(encap, &[], 1, &inner);
        let limit = label_limit(encap);
        let mut ok = vec![0u8; 128];
        for (label, want) in [(limit - 1, None), (limit, Some(TunnelError::LabelRange))] {
            let mut o = good;
            o.label = label;
            match want {
                None => assert!(write_outer(&mut ok, &o).is_ok()),
                Some(e) => refused(&o, 128, e),
            }
        }
        let mut o = good;
        o.label = u32::MAX;
        refused(&o, 128, TunnelError::LabelRange);
        for (sip, dip) in [
            (&six[..], &DIP[..]),
            (&SIP[..], &six[..]),
            (&SIP[..], &SIP[..3]),
        ] {
            let mut o = good;
            (o.sip, o.dip) = (sip, dip);
            refused(&o, 128, TunnelError::AddressLength);
        }
        for bad in [1, 6, 13, 15, 17, 19] {
            let l2 = vec![0u8; bad];
            let mut o = good;
            o.l2 = &l2;
            refused(&o, 128, TunnelError::L2Length);
        }
        let max = 65535 - encap.overhead();
        let mut o = good;
        o.inner_len = max;
        assert!(write_outer(&mut ok, &o).is_ok());
        assert_eq!(&ok[2..4], &[0xff, 0xff]);
        for big in [max + 1, usize::MAX] {
            o.inner_len = big;
            refused(&o, 128, TunnelError::TooLong);
        }
        let l2 = l2_tagged();
        let mut tagged = good;
        tagged.l2 = &l2;
        let need = 18 + encap.overhead();
        for short in [0, 1, 18, need - 1] {
            refused(&tagged, short, TunnelError::Short);
        }
        let mut exact = vec![0u8; need];
        assert_eq!(write_outer(&mut exact, &tagged), Ok(need));
    }
}

#[test]
fn parse_truncated_never_panics() {
    for encap in ALL {
        for inner in [inner4(), inner6()] {
            let full = packet(encap, 99, &inner);
            let stack = encap.overhead() + 1;
            for len in 0..=stack {
                // As cut: the total length now lies.
                assert!(decap_of(&full[..len]).is_err(), "{encap:?} cut at {len}");
                // Cut with the IPv4 total length (and checksum) saying so.
                if (20..stack).contains(&len) {
                    let mut p = full[..len].to_vec();
                    p[2..4].copy_from_slice(&(len as u16).to_be_bytes());
                    fix_ip_csum(&mut p);
                    let r = decap_of(&p);
                    assert!(!matches!(r, Ok(Some(_))), "{encap:?} at {len}: {r:?}");
                }
            }
        }
    }
    assert_eq!(decap_of(&[]), Err(TunnelError::Short));
}

#[test]
fn parse_fragments() {
    for encap in ALL {
        let mut p = packet(encap, 3, &inner4());
        p[6] = 0x20; // MF, offset 0: a first fragment.
        fix_ip_csum(&mut p);
        assert_eq!(decap_of(&p), Err(TunnelError::Fragment), "{encap:?}");
        p[6] = 0x00;
        p[7] = 0x10; // offset 16 (128 bytes), a last fragment.
        fix_ip_csum(&mut p);
        let want = if encap == Encap::MplsOverGre {
            Err(TunnelError::Fragment)
        } else {
            Ok(None) // No UDP header to say it is a tunnel.
        };
        assert_eq!(decap_of(&p), want, "{encap:?}");
    }
}

#[test]
fn parse_mpls_errors() {
    for encap in [Encap::MplsOverUdp, Encap::MplsOverGre] {
        let m = mpls_off(encap);
        let mut p = packet(encap, 3, &inner4());
        p[m + 2] &= !0x01; // S bit.
        assert_eq!(decap_of(&p), Err(TunnelError::NotBottomOfStack));
        for nibble in [0u8, 5, 7, 0xf] {
            let mut p = packet(encap, 3, &inner4());
            p[m + 4] = (nibble << 4) | 5;
            assert_eq!(decap_of(&p), Err(TunnelError::BadInner), "{nibble}");
        }
    }
}

#[test]
fn parse_gre_variants() {
    let mut p = packet(Encap::MplsOverGre, 3, &inner4());
    p[21] = 1; // version 1
    assert_eq!(decap_of(&p), Err(TunnelError::BadGre));
    let mut p = packet(Encap::MplsOverGre, 3, &inner4());
    p[20] = 0x40; // routing present
    assert_eq!(decap_of(&p), Err(TunnelError::BadGre));
    let mut p = packet(Encap::MplsOverGre, 3, &inner4());
    p[22..24].copy_from_slice(&[0x08, 0x00]); // GRE protocol IPv4
    assert_eq!(decap_of(&p), Err(TunnelError::BadGre));

    // Checksum + key + sequence: 12 bytes of optional fields skipped.
    let inner = inner6();
    for (flags, opts) in [(0x80u8, 4usize), (0x20, 4), (0x30, 8), (0xb0, 12)] {
        let mut gre = vec![flags, 0, 0x88, 0x47];
        gre.extend(std::iter::repeat_n(0xee, opts));
        gre.extend_from_slice(&[0x00, 0x07, 0xb1, 0x40]); // label 123, S
        gre.extend_from_slice(&inner);
        let p = ipv4_full(SIP, DIP, 47, 64, 0x4000, &[], &gre);
        let d = decap_of(&p).unwrap().unwrap();
        assert_eq!(d.encap, Encap::MplsOverGre);
        assert_eq!(d.label, 123);
        assert!(d.inner_v6);
        assert_eq!(d.inner_offset, 20 + 4 + opts + 4);
        assert_eq!(&p[d.inner_offset..], &inner[..]);
    }
}

#[test]
fn parse_vxlan_errors() {
    let mut p = packet(Encap::Vxlan, 3, &inner4());
    p[28] = 0x00; // I flag
    assert_eq!(decap_of(&p), Err(TunnelError::BadVxlan));
    let mut p = packet(Encap::Vxlan, 3, &inner4());
    p[28] = 0xff; // I flag with reserved bits: ignored (RFC 7348).
    assert_eq!(decap_of(&p).unwrap().unwrap().label, 3);
    for et in [0x0806u16, 0x8100, 0x8847] {
        let mut p = packet(Encap::Vxlan, 3, &inner4());
        p[48..50].copy_from_slice(&et.to_be_bytes());
        assert_eq!(decap_of(&p), Err(TunnelError::BadInner), "{et:#x}");
    }
}

#[test]
fn parse_ip_options_and_padding() {
    let inner = inner4();
    let mut body = vec![0x00, 0x00, 0x91, 0x40]; // label 9, S
    body.extend_from_slice(&inner);
    let opts = [1, 1, 1, 1, 1, 1, 1, 0]; // NOPs, End
    let mut p = ipv4_full(SIP, DIP, 17, 64, 0x4000, &opts, &udp(50000, 6635, &body));
    let d = decap_of(&p).unwrap().unwrap();
    assert_eq!(
        (d.encap, d.label, d.inner_offset),
        (Encap::MplsOverUdp, 9, 40)
    );
    assert_eq!(&p[40..], &inner[..]);
    // Ethernet padding after the IPv4 total length is ignored.
    p.extend_from_slice(&[0; 6]);
    assert_eq!(decap_of(&p).unwrap().unwrap().inner_offset, 40);

    let mut vx = vec![0x08, 0, 0, 0, 0, 0, 42, 0];
    vx.extend_from_slice(&eth(MAC_A, MAC_B, 0x86dd));
    vx.extend_from_slice(&inner6());
    let p = ipv4_full(SIP, DIP, 17, 64, 0, &opts[..4], &udp(50000, 4789, &vx));
    let d = decap_of(&p).unwrap().unwrap();
    assert_eq!(
        (d.encap, d.label, d.inner_offset),
        (Encap::Vxlan, 42, 24 + 16)
    );
    assert!(d.inner_v6);
}

#[test]
fn parse_not_tunnels() {
    let body = [0x00, 0x00, 0x91, 0x40, 0x45, 0, 0, 0];
    for port in [53, 6634, 6636, 4790, 8472] {
        let p = ipv4(SIP, DIP, 17, &udp(6635, port, &body));
        assert_eq!(decap_of(&p), Ok(None), "port {port}");
    }
    let p = ipv4(SIP, DIP, 6, &tcp(1234, 6635, 0x02));
    assert_eq!(decap_of(&p), Ok(None));
    let p = ipv4(SIP, DIP, 1, &icmp4(8, 0, [0, 1, 0, 1], b"ping"));
    assert_eq!(decap_of(&p), Ok(None));
    let p = ipv6(IP6_A, IP6_B, 17, &udp(1, 6635, &body));
    assert_eq!(decap_of(&p), Err(TunnelError::NotIpv4));
}

#[test]
fn parse_bad_ip_headers() {
    let good = packet(Encap::MplsOverUdp, 3, &inner4());
    let mut p = good.clone();
    p[10] ^= 0x01;
    assert_eq!(decap_of(&p), Err(TunnelError::BadIpHeader), "checksum");
    for ihl in 0..5u8 {
        let mut p = good.clone();
        p[0] = 0x40 | ihl;
        assert_eq!(decap_of(&p), Err(TunnelError::BadIpHeader), "ihl {ihl}");
    }
    let mut p = good.clone();
    p[2..4].copy_from_slice(&19u16.to_be_bytes());
    fix_ip_csum(&mut p);
    assert_eq!(decap_of(&p), Err(TunnelError::BadIpHeader), "total < ihl");
    let mut p = good.clone();
    p[2..4].copy_from_slice(&((good.len() + 1) as u16).to_be_bytes());
    fix_ip_csum(&mut p);
    assert_eq!(decap_of(&p), Err(TunnelError::Short), "total > slice");
    let mut p = good.clone();
    p[24..26].copy_from_slice(&7u16.to_be_bytes()); // UDP length < 8
    assert_eq!(decap_of(&p), Err(TunnelError::Short));
    let mut p = good;
    p[24..26].copy_from_slice(&11u16.to_be_bytes()); // UDP ends inside MPLS
    assert_eq!(decap_of(&p), Err(TunnelError::Short));
}

fn any_encap() -> impl Strategy<Value = Encap> {
    prop_oneof![
        Just(Encap::MplsOverUdp),
        Just(Encap::MplsOverGre),
        Just(Encap::Vxlan)
    ]
}

proptest! {
    #[test]
    fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..160)) {
        if let Ok(Some(d)) = decap_of(&bytes) {
            prop_assert!(d.inner_offset < bytes.len());
        }
    }

    /// Valid-looking IPv4 headers with random payloads reach the tunnel parsers.
    #[test]
    fn parse_never_panics_behind_valid_ipv4(
        proto in prop_oneof![Just(17u8), Just(47u8), any::<u8>()],
        port in prop_oneof![Just(6635u16), Just(4789u16), any::<u16>()],
        frag in any::<u16>(),
        tail in proptest::collection::vec(any::<u8>(), 0..80),
    ) {
        let payload = if proto == 17 { udp(1, port, &tail) } else { tail };
        let p = ipv4_full(SIP, DIP, proto, 64, frag, &[], &payload);
        if let Ok(Some(d)) = decap_of(&p) {
            prop_assert!(d.inner_offset < p.len());
            prop_assert_eq!((d.sip, d.dip), (SIP, DIP));
        }
    }

    /// One corrupted byte in a real tunnel packet never panics the parser.
    #[test]
    fn parse_never_panics_corrupted(
        encap in any_encap(),
        at in 0usize..70,
        v in any::<u8>(),
        fix in any::<bool>(),
    ) {
        let mut p = packet(encap, 77, &inner6());
        let at = at % p.len();
        p[at] = v;
        if fix && p[0] >> 4 == 4 && (5..=15).contains(&(p[0] & 0x0f)) {
            fix_ip_csum(&mut p);
        }
        let _ = decap_of(&p);
    }

    #[test]
    fn round_trip_any(
        encap in any_encap(),
        label in any::<u32>(),
        sip in any::<[u8; 4]>(),
        dip in any::<[u8; 4]>(),
        hash in any::<u32>(),
        id in any::<u16>(),
        v6 in any::<bool>(),
    ) {
        let label = label % label_limit(encap);
        let inner = if v6 { inner6() } else { inner4() };
        let o = Outer { encap, l2: &[], sip: &sip, dip: &dip, label, inner_v6: v6,
            inner_len: inner.len(), flow_hash: hash, ip_id: id };
        let mut p = vec![0u8; encap.overhead()];
        prop_assert_eq!(write_outer(&mut p, &o), Ok(encap.overhead()));
        prop_assert_eq!(naive_csum(&[&p[..20]]), 0);
        p.extend_from_slice(&inner);
        let d = decap_of(&p).unwrap().unwrap();
        prop_assert_eq!((d.encap, d.label, d.sip, d.dip, d.inner_v6), (encap, label, sip, dip, v6));
    }
}

/// The whole packet in one slice, as most tests have it.
fn decap_of(p: &[u8]) -> Result<Option<Decap>, TunnelError> {
    parse_decap(p, p.len())
}

#[test]
fn a_head_of_a_longer_packet_is_enough() {
    for encap in [Encap::MplsOverUdp, Encap::MplsOverGre, Encap::Vxlan] {
        let mut buf = vec![0u8; 128 + 1400];
        let o = Outer {
            encap,
            l2: &[],
            sip: &[10, 0, 0, 1],
            dip: &[10, 0, 0, 2],
            label: 77,
            inner_v6: false,
            inner_len: 1400,
            flow_hash: 5,
            ip_id: 0,
        };
        let n = write_outer(&mut buf, &o).unwrap();
        if encap != Encap::Vxlan {
            buf[n] = 0x45;
        }
        let total = n + 1400;
        let d = parse_decap(&buf[..96], total).unwrap().unwrap();
        assert_eq!(d.label, 77, "{encap:?}");
        // but the packet must be as long as its IPv4 header says
        assert_eq!(parse_decap(&buf[..96], total - 1), Err(TunnelError::Short));
    }
}

#[test]
fn decapsulated_packets_get_a_vrouter_ethernet_header() {
    let mut f = [0xeeu8; 20];
    write_inner_eth(&mut f, true).unwrap();
    assert_eq!(&f[..6], &VROUTER_MAC);
    assert_eq!(&f[6..12], &VROUTER_MAC);
    assert_eq!(&f[12..14], &[0x86, 0xdd]);
    assert_eq!(&f[14..], &[0xee; 6], "the packet after it is left alone");
    write_inner_eth(&mut f, false).unwrap();
    assert_eq!(&f[12..14], &[0x08, 0x00]);
    assert_eq!(
        write_inner_eth(&mut [0; 13], false),
        Err(TunnelError::Short)
    );
}
