//! Checksums against published vectors, TTL / hop-limit rewrites, lookup3 vectors.

mod packet_common;

use packet_common::*;
use vrouter_core::packet::*;

#[test]
fn rfc1071_example() {
    // RFC 1071 §3: bytes 00 01 f2 03 f4 f5 f6 f7 sum to 0xddf2 (ones' complement).
    let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
    assert_eq!(checksum(&[&data], 0), !0xddf2);
    let mut c = Checksum::new();
    c.add(&data);
    assert_eq!(c.partial(), 0xddf2);
    assert_eq!(c.finish(), 0x220d);
    // Split at odd boundaries: same stream, same sum.
    assert_eq!(
        checksum(&[&data[..1], &data[1..4], &[], &data[4..7], &data[7..]], 0),
        0x220d
    );
    // Starting from a partial sum is the same as prepending the bytes.
    assert_eq!(
        checksum(
            &[&data[4..]],
            u32::from(Checksum::new().add(&data[..4]).partial())
        ),
        0x220d
    );
}

#[test]
fn wikipedia_ipv4_header() {
    // en.wikipedia.org/wiki/Internet_checksum: checksum b861.
    let hdr = [
        0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8, 0x00,
        0x01, 0xc0, 0xa8, 0x00, 0xc7,
    ];
    assert_eq!(ipv4_header_checksum(&hdr), 0xb861);
    assert!(ipv4_header_checksum_ok(&hdr));
    let mut zeroed = hdr;
    zeroed[10] = 0;
    zeroed[11] = 0;
    assert_eq!(ipv4_header_checksum(&zeroed), 0xb861);
    assert_eq!(checksum(&[&zeroed], 0), 0xb861);
    assert!(!ipv4_header_checksum_ok(&zeroed));
    // Degenerate inputs do not panic.
    assert_eq!(ipv4_header_checksum(&[]), 0xffff);
    assert_eq!(ipv4_header_checksum(&hdr[..11]), checksum(&[&hdr[..10]], 0));
}

#[test]
fn ipv6_pseudo_header_matches_naive() {
    let msg = icmp6(&IP6_A, &IP6_B, 128, 0, &[0, 1, 0, 1, 0xaa, 0xbb, 0xcc]);
    assert_eq!(ipv6_upper_layer_checksum(IP6_A, IP6_B, 58, &msg), 0);
    let mut zeroed = msg.clone();
    zeroed[2] = 0;
    zeroed[3] = 0;
    assert_eq!(
        ipv6_upper_layer_checksum(IP6_A, IP6_B, 58, &zeroed).to_be_bytes(),
        [msg[2], msg[3]]
    );
    let pseudo = ipv6_pseudo_header_sum(IP6_A, IP6_B, msg.len() as u32, 58);
    assert_eq!(checksum(&[&msg], pseudo), 0);
    // IPv4 pseudo-header for UDP.
    let u = udp(1, 2, b"abc");
    let mut p = Vec::new();
    p.extend_from_slice(&IP_A);
    p.extend_from_slice(&IP_B);
    p.extend_from_slice(&[0, 17, 0, u.len() as u8]);
    assert_eq!(
        checksum(
            &[&u],
            ipv4_pseudo_header_sum(IP_A, IP_B, 17, u.len() as u16)
        ),
        naive_csum(&[&p, &u])
    );
}

#[test]
fn csum_replace16_matches_recompute() {
    let hdr = ipv4(IP_A, IP_B, 6, &[]);
    let old = u16::from_be_bytes([hdr[8], hdr[9]]);
    let mut new = hdr.clone();
    new[8] = 17;
    new[10] = 0;
    new[11] = 0;
    let want = naive_csum(&[&new]);
    let got = csum_replace16(
        u16::from_be_bytes([hdr[10], hdr[11]]),
        old,
        u16::from_be_bytes([17, 6]),
    );
    assert_eq!(got, want);
}

#[test]
fn ipv4_ttl_decrement() {
    let mut f = frame(0x0800, &ipv4(IP_A, IP_B, 6, &tcp(1, 2, 0)));
    assert_eq!(ipv4_decrement_ttl(&mut f, 14), Ok(63));
    assert_eq!(f[14 + 8], 63);
    assert!(ipv4_header_checksum_ok(&f[14..34]));
    let h = parse(&f).unwrap();
    assert!(matches!(h.l3, L3::Ipv4(Ipv4 { ttl: 63, .. })));
    // The Wikipedia header, TTL 0x40 -> 0x3f: checksum b861 -> b961.
    let mut hdr = [
        0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8, 0x00,
        0x01, 0xc0, 0xa8, 0x00, 0xc7,
    ];
    assert_eq!(ipv4_decrement_ttl(&mut hdr, 0), Ok(0x3f));
    assert_eq!(&hdr[10..12], &[0xb9, 0x61]);
    // TTL 2 -> 1 is forwarded; 1 and 0 are expired and untouched.
    let mut f = frame(
        0x0800,
        &ipv4_full(IP_A, IP_B, 17, 2, 0, &[], &udp(1, 2, b"")),
    );
    assert_eq!(ipv4_decrement_ttl(&mut f, 14), Ok(1));
    let before = f.clone();
    assert_eq!(ipv4_decrement_ttl(&mut f, 14), Err(RewriteError::Expired));
    assert_eq!(f, before);
    let mut f = frame(
        0x0800,
        &ipv4_full(IP_A, IP_B, 17, 0, 0, &[], &udp(1, 2, b"")),
    );
    assert_eq!(ipv4_decrement_ttl(&mut f, 14), Err(RewriteError::Expired));
    // Wrong version, short, offset past the end.
    let mut f = frame(0x86dd, &ipv6(IP6_A, IP6_B, 59, &[]));
    assert_eq!(
        ipv4_decrement_ttl(&mut f, 14),
        Err(RewriteError::BadVersion)
    );
    let mut short = frame(0x0800, &ipv4(IP_A, IP_B, 6, &[]))[..33].to_vec();
    assert_eq!(
        ipv4_decrement_ttl(&mut short, 14),
        Err(RewriteError::Truncated)
    );
    assert_eq!(
        ipv4_decrement_ttl(&mut short, usize::MAX),
        Err(RewriteError::Truncated)
    );
}

#[test]
fn ipv6_hop_limit_decrement() {
    let mut f = frame(0x86dd, &ipv6_full(IP6_A, IP6_B, 17, 2, &udp(1, 2, b"")));
    assert_eq!(ipv6_decrement_hop_limit(&mut f, 14), Ok(1));
    assert_eq!(f[14 + 7], 1);
    let before = f.clone();
    assert_eq!(
        ipv6_decrement_hop_limit(&mut f, 14),
        Err(RewriteError::Expired)
    );
    assert_eq!(f, before);
    let mut f = frame(0x0800, &ipv4(IP_A, IP_B, 6, &[]));
    assert_eq!(
        ipv6_decrement_hop_limit(&mut f, 14),
        Err(RewriteError::BadVersion)
    );
    assert_eq!(
        ipv6_decrement_hop_limit(&mut [0x60; 21], 14),
        Err(RewriteError::Truncated)
    );
    assert_eq!(
        ipv6_decrement_hop_limit(&mut [0x60; 8], 100),
        Err(RewriteError::Truncated)
    );
}

#[test]
fn lookup3_published_vectors() {
    // Bob Jenkins' lookup3.c driver5.
    assert_eq!(lookup3(b"", 0), 0xdeadbeef);
    assert_eq!(lookup3(b"Four score and seven years ago", 0), 0x17770551);
    assert_eq!(lookup3(b"Four score and seven years ago", 1), 0xcd628161);
    // A block of exactly 12 bytes ("hello world" and its NUL).
    assert_eq!(lookup3(b"hello world\0", 0), 0x14973b58);
    assert_eq!(lookup3(b"hello world\0", 1), 0x4746e99f);
}
