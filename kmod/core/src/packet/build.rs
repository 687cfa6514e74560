// SPDX-License-Identifier: GPL-2.0
//! Builders for the frames the router originates, and the policy for ICMP errors.

use super::{
    arr, checksum, ipv4_header_checksum, ipv6_upper_layer_checksum, put, put16, Arp, Headers,
    MacAddr, ARP_OP_REPLY, ARP_OP_REQUEST, ETH_HLEN, ETH_P_ARP, ETH_P_IPV4, ETH_P_IPV6,
    ICMP6_NEIGHBOR_ADVERT, ICMP6_REDIRECT, ICMP6_TIME_EXCEEDED, ICMP_TIME_EXCEEDED, IPPROTO_ICMP,
    IPPROTO_ICMPV6, IPV4_HLEN, IPV6_ALL_NODES, IPV6_HLEN, IPV6_MIN_MTU, IPV6_UNSPECIFIED, L3, L4,
    NA_FLAG_OVERRIDE, NA_FLAG_ROUTER, NA_FLAG_SOLICITED, ND_OPT_TARGET_LLADDR,
};

/// Why a builder refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BuildError {
    /// `out` is shorter than the frame.
    BufferTooSmall,
    /// The ARP packet to answer is not a request.
    NotARequest,
    /// The original packet to quote is not a whole IP header of the right version.
    BadOriginal,
}

/// Length of the ARP reply frame.
pub const ARP_REPLY_LEN: usize = ETH_HLEN + super::ARP_LEN;
/// Length of the Neighbor Advertisement frame (24-byte NA + 8-byte target LL option).
pub const NEIGHBOR_ADVERT_LEN: usize = ETH_HLEN + IPV6_HLEN + 32;
/// Hop limit / TTL of the ICMP errors the router originates.
pub const ICMP_ERROR_TTL: u8 = 64;

/// Offset of the IP header in the frames built here (untagged Ethernet).
const L3: usize = ETH_HLEN;

fn w(buf: &mut [u8], off: usize, bytes: &[u8]) -> Result<(), BuildError> {
    put(buf, off, bytes).ok_or(BuildError::BufferTooSmall)
}

fn w16(buf: &mut [u8], off: usize, v: u16) -> Result<(), BuildError> {
    put16(buf, off, v).ok_or(BuildError::BufferTooSmall)
}

fn eth(buf: &mut [u8], dst: MacAddr, src: MacAddr, ethertype: u16) -> Result<(), BuildError> {
    w(buf, 0, &dst)?;
    w(buf, 6, &src)?;
    w16(buf, 12, ethertype)
}

/// Whether an ARP packet is a gratuitous ARP (sender announces its own address:
/// spa == tpa) or an address probe (RFC 5227: spa == 0.0.0.0). Neither is answered.
pub fn is_gratuitous_or_probe(arp: &Arp) -> bool {
    arp.spa == arp.tpa || arp.spa == [0; 4]
}

/// Writes into `out` the ARP reply "`req.tpa` is-at `our_mac`" to the requester: Ethernet
/// dst `req_src_mac` (the request's Ethernet source), src `our_mac`; sha `our_mac`,
/// spa `req.tpa`, tha `req.sha`, tpa `req.spa`. Returns the frame length, 42
/// ([`ARP_REPLY_LEN`]; untagged, unpadded). `req.op` must be a request.
pub fn build_arp_reply(
    out: &mut [u8],
    req: &Arp,
    req_src_mac: MacAddr,
    our_mac: MacAddr,
) -> Result<usize, BuildError> {
    if req.op != ARP_OP_REQUEST {
        return Err(BuildError::NotARequest);
    }
    let buf = out
        .get_mut(..ARP_REPLY_LEN)
        .ok_or(BuildError::BufferTooSmall)?;
    eth(buf, req_src_mac, our_mac, ETH_P_ARP)?;
    w16(buf, L3, 1)?;
    w16(buf, L3 + 2, ETH_P_IPV4)?;
    w(buf, L3 + 4, &[6, 4])?;
    w16(buf, L3 + 6, ARP_OP_REPLY)?;
    w(buf, L3 + 8, &our_mac)?;
    w(buf, L3 + 14, &req.tpa)?;
    w(buf, L3 + 18, &req.sha)?;
    w(buf, L3 + 24, &req.spa)?;
    Ok(ARP_REPLY_LEN)
}

/// Writes into `out` an ICMPv6 Neighbor Advertisement for `target` answering a Neighbor
/// Solicitation from `ns_src_ip` / `ns_src_mac` (the NS's source link-layer option if it
/// had one, else its Ethernet source). IPv6 src `target`, hop limit 255, flags
/// Solicited + Override (+ Router when `router`), target link-layer option `our_mac`,
/// Ethernet src `our_mac`. Returns the frame length, 86 ([`NEIGHBOR_ADVERT_LEN`]).
///
/// DAD (`ns_src_ip` is `::`) is answered as RFC 4861 §7.2.4 says: to `ff02::1`
/// (Ethernet 33:33:00:00:00:01) with Solicited clear. Answering DAD tells the prober the
/// address is taken, so the caller must only do it for addresses the router itself owns
/// (never for the address the prober is trying to claim as its own).
pub fn build_neighbor_advert(
    out: &mut [u8],
    ns_src_ip: [u8; 16],
    ns_src_mac: MacAddr,
    target: [u8; 16],
    our_mac: MacAddr,
    router: bool,
) -> Result<usize, BuildError> {
    let buf = out
        .get_mut(..NEIGHBOR_ADVERT_LEN)
        .ok_or(BuildError::BufferTooSmall)?;
    let dad = ns_src_ip == IPV6_UNSPECIFIED;
    let (dst_ip, dst_mac, mut flags) = if dad {
        (IPV6_ALL_NODES, [0x33, 0x33, 0, 0, 0, 1], NA_FLAG_OVERRIDE)
    } else {
        (ns_src_ip, ns_src_mac, NA_FLAG_SOLICITED | NA_FLAG_OVERRIDE)
    };
    if router {
        flags |= NA_FLAG_ROUTER;
    }
    eth(buf, dst_mac, our_mac, ETH_P_IPV6)?;
    let icmp_len: u16 = 32;
    ipv6_header(buf, icmp_len, 255, target, dst_ip)?;
    let icmp = L3 + IPV6_HLEN;
    w(buf, icmp, &[ICMP6_NEIGHBOR_ADVERT, 0, 0, 0, flags, 0, 0, 0])?;
    w(buf, icmp + 8, &target)?;
    w(buf, icmp + 24, &[ND_OPT_TARGET_LLADDR, 1])?;
    w(buf, icmp + 26, &our_mac)?;
    let msg = buf.get(icmp..).ok_or(BuildError::BufferTooSmall)?;
    let sum = ipv6_upper_layer_checksum(target, dst_ip, IPPROTO_ICMPV6, msg);
    w16(buf, icmp + 2, sum)?;
    Ok(NEIGHBOR_ADVERT_LEN)
}

fn ipv6_header(
    buf: &mut [u8],
    payload_len: u16,
    hop_limit: u8,
    src: [u8; 16],
    dst: [u8; 16],
) -> Result<(), BuildError> {
    w(buf, L3, &[0x60, 0, 0, 0])?;
    w16(buf, L3 + 4, payload_len)?;
    w(buf, L3 + 6, &[IPPROTO_ICMPV6, hop_limit])?;
    w(buf, L3 + 8, &src)?;
    w(buf, L3 + 24, &dst)
}

/// The bytes of `orig` to quote in an ICMPv4 error: its header and up to 8 bytes more.
fn icmp4_quote(orig: &[u8]) -> Result<&[u8], BuildError> {
    let h: [u8; IPV4_HLEN] = arr(orig, 0).ok_or(BuildError::BadOriginal)?;
    let [vihl, _, tl0, tl1, ..] = h;
    let ihl = usize::from(vihl & 0x0f) * 4;
    if vihl >> 4 != 4 || ihl < IPV4_HLEN || orig.len() < ihl {
        return Err(BuildError::BadOriginal);
    }
    // The datagram ends at its total length (if sane), or where the bytes end.
    let total = usize::from(u16::from_be_bytes([tl0, tl1]));
    let end = if total >= ihl {
        total.min(orig.len())
    } else {
        orig.len()
    };
    let quote = end.min(ihl + 8);
    orig.get(..quote).ok_or(BuildError::BadOriginal)
}

/// Frame length [`build_icmp4_time_exceeded`] needs for `orig_l3`: 14 + 20 + 8 + quote.
pub fn icmp4_time_exceeded_len(orig_l3: &[u8]) -> Result<usize, BuildError> {
    Ok(L3 + IPV4_HLEN + 8 + icmp4_quote(orig_l3)?.len())
}

/// Writes into `out` an ICMPv4 Time Exceeded (type 11, code 0: TTL exceeded in transit)
/// about the IPv4 packet `orig_l3` (starting at its IP header), quoting its IP header and
/// the first 8 bytes of its payload (RFC 792). IPv4 header: TOS as Linux does
/// (internetwork-control precedence + the original's TOS bits), id 0, DF clear, TTL 64,
/// src `src_ip`, dst the original source. Returns the frame length
/// ([`icmp4_time_exceeded_len`], at most 102).
///
/// Ask [`may_send_icmp4_error`] first: this does not check that the original is not
/// itself an ICMP error.
pub fn build_icmp4_time_exceeded(
    out: &mut [u8],
    orig_l3: &[u8],
    src_ip: [u8; 4],
    eth_dst: MacAddr,
    eth_src: MacAddr,
) -> Result<usize, BuildError> {
    let quote = icmp4_quote(orig_l3)?;
    let orig_src: [u8; 4] = arr(orig_l3, 12).ok_or(BuildError::BadOriginal)?;
    let orig_tos = orig_l3.get(1).copied().unwrap_or(0);
    let icmp_len = 8 + quote.len();
    let ip_len = IPV4_HLEN + icmp_len;
    let len = L3 + ip_len;
    let buf = out.get_mut(..len).ok_or(BuildError::BufferTooSmall)?;
    eth(buf, eth_dst, eth_src, ETH_P_IPV4)?;
    // ip_len <= 20 + 8 + 68.
    w(buf, L3, &[0x45, 0xc0 | (orig_tos & 0x1e)])?;
    w16(buf, L3 + 2, ip_len as u16)?;
    w(
        buf,
        L3 + 4,
        &[0, 0, 0, 0, ICMP_ERROR_TTL, IPPROTO_ICMP, 0, 0],
    )?;
    w(buf, L3 + 12, &src_ip)?;
    w(buf, L3 + 16, &orig_src)?;
    let ip_sum = ipv4_header_checksum(buf.get(L3..L3 + IPV4_HLEN).unwrap_or(&[]));
    w16(buf, L3 + 10, ip_sum)?;
    let icmp = L3 + IPV4_HLEN;
    w(buf, icmp, &[ICMP_TIME_EXCEEDED, 0, 0, 0, 0, 0, 0, 0])?;
    w(buf, icmp + 8, quote)?;
    let sum = checksum(&[buf.get(icmp..).unwrap_or(&[])], 0);
    w16(buf, icmp + 2, sum)?;
    Ok(len)
}

/// The bytes of `orig` to quote in an ICMPv6 error: as much as fits in a 1280-byte packet.
fn icmp6_quote(orig: &[u8]) -> Result<&[u8], BuildError> {
    let [b0, _, _, _, pl0, pl1, _, _]: [u8; 8] = arr(orig, 0).ok_or(BuildError::BadOriginal)?;
    if b0 >> 4 != 6 || orig.len() < IPV6_HLEN {
        return Err(BuildError::BadOriginal);
    }
    let total = IPV6_HLEN + usize::from(u16::from_be_bytes([pl0, pl1]));
    let quote = total.min(orig.len()).min(IPV6_MIN_MTU - IPV6_HLEN - 8);
    orig.get(..quote).ok_or(BuildError::BadOriginal)
}

/// Frame length [`build_icmp6_time_exceeded`] needs for `orig_l3`: 14 + 40 + 8 + quote,
/// at most 14 + 1280.
pub fn icmp6_time_exceeded_len(orig_l3: &[u8]) -> Result<usize, BuildError> {
    Ok(L3 + IPV6_HLEN + 8 + icmp6_quote(orig_l3)?.len())
}

/// Writes into `out` an ICMPv6 Time Exceeded (type 3, code 0: hop limit exceeded in
/// transit) about the IPv6 packet `orig_l3` (starting at its IPv6 header), quoting as much
/// of it as fits in a 1280-byte IPv6 packet (RFC 4443 §2.4(c)); hop limit 64, src
/// `src_ip`, dst the original source. Returns the frame length
/// ([`icmp6_time_exceeded_len`]); `out` must hold all of it.
///
/// Ask [`may_send_icmp6_error`] first.
pub fn build_icmp6_time_exceeded(
    out: &mut [u8],
    orig_l3: &[u8],
    src_ip: [u8; 16],
    eth_dst: MacAddr,
    eth_src: MacAddr,
) -> Result<usize, BuildError> {
    let quote = icmp6_quote(orig_l3)?;
    let orig_src: [u8; 16] = arr(orig_l3, 8).ok_or(BuildError::BadOriginal)?;
    let icmp_len = 8 + quote.len();
    let len = L3 + IPV6_HLEN + icmp_len;
    let buf = out.get_mut(..len).ok_or(BuildError::BufferTooSmall)?;
    eth(buf, eth_dst, eth_src, ETH_P_IPV6)?;
    // icmp_len <= 1240.
    ipv6_header(buf, icmp_len as u16, ICMP_ERROR_TTL, src_ip, orig_src)?;
    let icmp = L3 + IPV6_HLEN;
    w(buf, icmp, &[ICMP6_TIME_EXCEEDED, 0, 0, 0, 0, 0, 0, 0])?;
    w(buf, icmp + 8, quote)?;
    let msg = buf.get(icmp..).ok_or(BuildError::BufferTooSmall)?;
    let sum = ipv6_upper_layer_checksum(src_ip, orig_src, IPPROTO_ICMPV6, msg);
    w16(buf, icmp + 2, sum)?;
    Ok(len)
}

fn is_group_mac(mac: &MacAddr) -> bool {
    mac.first().is_some_and(|b| b & 1 != 0)
}

/// Whether an ICMPv4 error may be sent about this packet (RFC 1122 §3.2.2, RFC 1812
/// §4.3.2.7). False for: non-IPv4; non-first fragments; ICMP messages other than the
/// informational ones (echo, router advertisement/solicitation, timestamp, information,
/// address mask: types 0, 8, 9, 10, 13..=18), i.e. errors and unknown types; packets sent
/// to an Ethernet broadcast/multicast address; IPv4 destinations in 224.0.0.0/3
/// (multicast, class E, 255.255.255.255); sources that are not one host: 0.0.0.0/8,
/// 127.0.0.0/8, 224.0.0.0/3.
pub fn may_send_icmp4_error(h: &Headers) -> bool {
    let L3::Ipv4(ip) = &h.l3 else {
        return false;
    };
    if ip.offset_nonzero || is_group_mac(&h.dst_mac) {
        return false;
    }
    if let L4::Icmp { ty, .. } = h.l4 {
        if !matches!(ty, 0 | 8 | 9 | 10 | 13..=18) {
            return false;
        }
    }
    let [d0, ..] = ip.dst;
    let [s0, ..] = ip.src;
    !(d0 >= 224 || s0 == 0 || s0 == 127 || s0 >= 224)
}

/// Whether an ICMPv6 error may be sent about this packet (RFC 4443 §2.4(e)). False for:
/// non-IPv6; ICMPv6 errors (type < 128) and Redirects; non-first fragments (their
/// protocol cannot be checked); multicast destinations or Ethernet group destinations;
/// unspecified, loopback or multicast sources.
pub fn may_send_icmp6_error(h: &Headers) -> bool {
    let L3::Ipv6(ip) = &h.l3 else {
        return false;
    };
    if ip.offset_nonzero || is_group_mac(&h.dst_mac) {
        return false;
    }
    if let L4::Icmp6 { ty, .. } = h.l4 {
        if ty < 128 || ty == ICMP6_REDIRECT {
            return false;
        }
    }
    const LOOPBACK: [u8; 16] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    let multicast = |a: &[u8; 16]| a.first() == Some(&0xff);
    !(multicast(&ip.dst) || multicast(&ip.src) || ip.src == IPV6_UNSPECIFIED || ip.src == LOOPBACK)
}
