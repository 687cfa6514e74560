//! Frame builders for the packet tests, written independently of the code under test
//! (their checksum is a naive word-by-word sum).
#![allow(dead_code)]

pub const MAC_A: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x0a];
pub const MAC_B: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x0b];
pub const IP_A: [u8; 4] = [10, 1, 1, 10];
pub const IP_B: [u8; 4] = [10, 2, 2, 20];
pub const IP6_A: [u8; 16] = [
    0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a,
];
pub const IP6_B: [u8; 16] = [
    0x20, 0x01, 0x0d, 0xb8, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0b,
];

/// Naive Internet checksum of the concatenation: 16-bit words summed in a u64.
pub fn naive_csum(parts: &[&[u8]]) -> u16 {
    let bytes: Vec<u8> = parts.concat();
    let mut sum: u64 = 0;
    for pair in bytes.chunks(2) {
        let hi = u64::from(pair[0]) << 8;
        let lo = if pair.len() > 1 {
            u64::from(pair[1])
        } else {
            0
        };
        sum += hi | lo;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

pub fn pseudo6(src: &[u8; 16], dst: &[u8; 16], len: usize, nh: u8) -> Vec<u8> {
    let mut p = Vec::new();
    p.extend_from_slice(src);
    p.extend_from_slice(dst);
    p.extend_from_slice(&(len as u32).to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, nh]);
    p
}

/// Whether an ICMPv6 (or other IPv6 upper-layer) message verifies.
pub fn icmp6_ok(src: &[u8; 16], dst: &[u8; 16], msg: &[u8]) -> bool {
    naive_csum(&[&pseudo6(src, dst, msg.len(), 58), msg]) == 0
}

pub fn eth(dst: [u8; 6], src: [u8; 6], ethertype: u16) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f
}

pub fn arp(op: u16, sha: [u8; 6], spa: [u8; 4], tha: [u8; 6], tpa: [u8; 4]) -> Vec<u8> {
    let mut p = vec![0, 1, 0x08, 0x00, 6, 4];
    p.extend_from_slice(&op.to_be_bytes());
    p.extend_from_slice(&sha);
    p.extend_from_slice(&spa);
    p.extend_from_slice(&tha);
    p.extend_from_slice(&tpa);
    p
}

/// IPv4 packet with options `opts` (multiple of 4 bytes), flags+offset word `frag`.
pub fn ipv4_full(
    src: [u8; 4],
    dst: [u8; 4],
    proto: u8,
    ttl: u8,
    frag: u16,
    opts: &[u8],
    payload: &[u8],
) -> Vec<u8> {
    let ihl = 20 + opts.len();
    let total = ihl + payload.len();
    let mut h = vec![0x40 | (ihl / 4) as u8, 0x10];
    h.extend_from_slice(&(total as u16).to_be_bytes());
    h.extend_from_slice(&0x1234u16.to_be_bytes());
    h.extend_from_slice(&frag.to_be_bytes());
    h.extend_from_slice(&[ttl, proto, 0, 0]);
    h.extend_from_slice(&src);
    h.extend_from_slice(&dst);
    h.extend_from_slice(opts);
    let c = naive_csum(&[&h]);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    h.extend_from_slice(payload);
    h
}

pub fn ipv4(src: [u8; 4], dst: [u8; 4], proto: u8, payload: &[u8]) -> Vec<u8> {
    ipv4_full(src, dst, proto, 64, 0x4000, &[], payload)
}

pub fn ipv6_full(src: [u8; 16], dst: [u8; 16], nh: u8, hop: u8, payload: &[u8]) -> Vec<u8> {
    let mut h = vec![0x6a, 0xb1, 0x23, 0x45];
    h.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    h.extend_from_slice(&[nh, hop]);
    h.extend_from_slice(&src);
    h.extend_from_slice(&dst);
    h.extend_from_slice(payload);
    h
}

pub fn ipv6(src: [u8; 16], dst: [u8; 16], nh: u8, payload: &[u8]) -> Vec<u8> {
    ipv6_full(src, dst, nh, 64, payload)
}

pub fn tcp(sport: u16, dport: u16, flags: u8) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend_from_slice(&sport.to_be_bytes());
    t.extend_from_slice(&dport.to_be_bytes());
    t.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    t
}

pub fn udp(sport: u16, dport: u16, data: &[u8]) -> Vec<u8> {
    let mut u = Vec::new();
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&((8 + data.len()) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(data);
    u
}

/// ICMPv4 message with a correct checksum.
pub fn icmp4(ty: u8, code: u8, rest: [u8; 4], data: &[u8]) -> Vec<u8> {
    let mut m = vec![ty, code, 0, 0];
    m.extend_from_slice(&rest);
    m.extend_from_slice(data);
    let c = naive_csum(&[&m]);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    m
}

/// ICMPv6 message with a correct checksum for (src, dst).
pub fn icmp6(src: &[u8; 16], dst: &[u8; 16], ty: u8, code: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![ty, code, 0, 0];
    m.extend_from_slice(body);
    let c = naive_csum(&[&pseudo6(src, dst, m.len(), 58), &m]);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    m
}

pub fn solicited_node(target: &[u8; 16]) -> [u8; 16] {
    let mut a = [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0, 0];
    a[13..].copy_from_slice(&target[13..]);
    a
}

/// A whole NS frame (hop limit 255) from `src` for `target`, with optional SLLA and any
/// extra raw option bytes.
pub fn ns_frame(src: [u8; 16], target: [u8; 16], sll: Option<[u8; 6]>, extra: &[u8]) -> Vec<u8> {
    let dst = solicited_node(&target);
    let mut body = vec![0, 0, 0, 0];
    body.extend_from_slice(&target);
    body.extend_from_slice(extra);
    if let Some(mac) = sll {
        body.extend_from_slice(&[1, 1]);
        body.extend_from_slice(&mac);
    }
    let msg = icmp6(&src, &dst, 135, 0, &body);
    let mut f = eth([0x33, 0x33, 0xff, dst[13], dst[14], dst[15]], MAC_A, 0x86dd);
    f.extend_from_slice(&ipv6_full(src, dst, 58, 255, &msg));
    f
}

pub fn frame(ethertype: u16, l3: &[u8]) -> Vec<u8> {
    let mut f = eth(ROUTER_MAC, MAC_A, ethertype);
    f.extend_from_slice(l3);
    f
}

pub const ROUTER_MAC: [u8; 6] = [0x00, 0x00, 0x5e, 0x00, 0x01, 0x00];

/// A set of valid frames covering every parser path.
pub fn sample_frames() -> Vec<Vec<u8>> {
    let mut v = Vec::new();
    let mut a = eth([0xff; 6], MAC_A, 0x0806);
    a.extend_from_slice(&arp(1, MAC_A, IP_A, [0; 6], IP_B));
    v.push(a);
    v.push(frame(0x0800, &ipv4(IP_A, IP_B, 6, &tcp(1234, 80, 0x02))));
    v.push(frame(
        0x0800,
        &ipv4(IP_A, IP_B, 17, &udp(5353, 53, b"hello")),
    ));
    v.push(frame(
        0x0800,
        &ipv4(IP_A, IP_B, 1, &icmp4(8, 0, [0x12, 0x34, 0, 1], b"ping")),
    ));
    v.push(frame(
        0x0800,
        &ipv4_full(
            IP_A,
            IP_B,
            17,
            9,
            0x2000,
            &[1, 1, 1, 0],
            &udp(1, 2, &[0; 16]),
        ),
    ));
    v.push(frame(
        0x0800,
        &ipv4_full(IP_A, IP_B, 17, 9, 0x0003, &[], &[0; 16]),
    ));
    let mut t = eth(ROUTER_MAC, MAC_A, 0x8100);
    t.extend_from_slice(&[0xb0, 0x64, 0x08, 0x00]);
    t.extend_from_slice(&ipv4(IP_A, IP_B, 17, &udp(1, 2, b"x")));
    v.push(t);
    // IPv6 UDP behind Hop-by-Hop (8 bytes) and Destination Options (16 bytes).
    let mut ext = vec![60, 0, 1, 4, 0, 0, 0, 0];
    ext.extend_from_slice(&[17, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    ext.extend_from_slice(&udp(546, 547, b"dhcp"));
    v.push(frame(0x86dd, &ipv6(IP6_A, IP6_B, 0, &ext)));
    // First and non-first fragments.
    let mut fr = vec![17, 0, 0x00, 0x01, 0xde, 0xad, 0xbe, 0xef];
    fr.extend_from_slice(&udp(7, 8, &[0; 8]));
    v.push(frame(0x86dd, &ipv6(IP6_A, IP6_B, 44, &fr)));
    let mut fr2 = vec![17, 0, 0x00, 0x10, 0xde, 0xad, 0xbe, 0xef];
    fr2.extend_from_slice(&[0; 8]);
    v.push(frame(0x86dd, &ipv6(IP6_A, IP6_B, 44, &fr2)));
    v.push(frame(0x86dd, &ipv6(IP6_A, IP6_B, 6, &tcp(4000, 443, 0x12))));
    v.push(frame(
        0x86dd,
        &ipv6(
            IP6_A,
            IP6_B,
            58,
            &icmp6(&IP6_A, &IP6_B, 128, 0, &[0xbe, 0xef, 0, 1]),
        ),
    ));
    v.push(ns_frame(IP6_A, IP6_B, Some(MAC_A), &[]));
    v.push(ns_frame(IP6_A, IP6_B, None, &[]));
    v.push(ns_frame([0; 16], IP6_B, None, &[]));
    v
}
