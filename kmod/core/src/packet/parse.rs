// SPDX-License-Identifier: GPL-2.0
//! Ethernet frame parsing.

use super::{
    arr, be16, byte, ipv4_header_checksum_ok, ipv6_upper_layer_checksum, Arp, Headers, Ipv4, Ipv6,
    MacAddr, ParseError, VlanTag, ARP_LEN, ETH_HLEN, ETH_P_8021AD, ETH_P_8021Q, ETH_P_ARP,
    ETH_P_IPV4, ETH_P_IPV6, ICMP6_ECHO_REPLY, ICMP6_ECHO_REQUEST, ICMP6_NEIGHBOR_SOLICIT,
    ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST, IPPROTO_AH, IPPROTO_DSTOPTS, IPPROTO_FRAGMENT,
    IPPROTO_HOPOPTS, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_NONE, IPPROTO_ROUTING, IPPROTO_TCP,
    IPPROTO_UDP, IPV4_HLEN, IPV6_HLEN, IPV6_UNSPECIFIED, L3, L4, MAX_IPV6_EXT_HEADERS,
    ND_OPT_SOURCE_LLADDR, VLAN_HLEN,
};

/// Parses an Ethernet frame, starting at the destination MAC.
///
/// Accepts an untagged or single-802.1Q-tagged frame; parses Ethernet/IPv4 ARP, IPv4
/// (verifying the header checksum) and IPv6 (walking up to [`MAX_IPV6_EXT_HEADERS`]
/// extension headers: Hop-by-Hop, Routing, Fragment, Destination Options, AH; stopping at
/// ESP, No Next Header and anything else), then TCP, UDP, ICMP, ICMPv6. The IP length
/// fields bound what is looked at: Ethernet padding after the IP packet is ignored.
/// Other ethertypes give [`L3::Other`].
pub fn parse(frame: &[u8]) -> Result<Headers, ParseError> {
    parse_head(frame, frame.len())
}

/// Like [`parse`] for a frame of `frame_len` bytes of which only the first `head.len()`
/// are at hand (the kernel makes the headers linear, not a 64 KiB GSO payload). The IP
/// length fields are checked against `frame_len`; everything parsed must lie in `head`.
/// A Neighbor Solicitation longer than `head` is not reported as [`L4::Nd`] (its checksum
/// cannot be verified).
pub fn parse_head(head: &[u8], frame_len: usize) -> Result<Headers, ParseError> {
    let frame = head;
    if frame_len < frame.len() {
        return Err(ParseError::BadTotalLen);
    }
    let dst_mac: MacAddr = arr(frame, 0).ok_or(ParseError::Truncated)?;
    let src_mac: MacAddr = arr(frame, 6).ok_or(ParseError::Truncated)?;
    let mut ethertype = be16(frame, 12).ok_or(ParseError::Truncated)?;
    let mut l3_offset = ETH_HLEN;
    let mut vlan = None;
    if ethertype == ETH_P_8021AD {
        return Err(ParseError::StackedVlan);
    }
    if ethertype == ETH_P_8021Q {
        let tci = be16(frame, ETH_HLEN).ok_or(ParseError::Truncated)?;
        ethertype = be16(frame, ETH_HLEN + 2).ok_or(ParseError::Truncated)?;
        if ethertype == ETH_P_8021Q || ethertype == ETH_P_8021AD {
            return Err(ParseError::StackedVlan);
        }
        l3_offset = ETH_HLEN + VLAN_HLEN;
        vlan = Some(VlanTag {
            id: tci & 0x0fff,
            pcp: (tci >> 13) as u8,
            dei: tci & 0x1000 != 0,
        });
    }
    let l3b = frame.get(l3_offset..).unwrap_or(&[]);
    // Bytes of L3 the whole frame holds (`l3b` may be a prefix of them).
    let l3_avail = frame_len.saturating_sub(l3_offset);
    let (l3, l4) = match ethertype {
        ETH_P_ARP => (L3::Arp(parse_arp(l3b)?), L4::None),
        ETH_P_IPV4 => parse_ipv4(l3b, l3_avail)?,
        ETH_P_IPV6 => parse_ipv6(l3b, l3_avail, l3_offset)?,
        other => (L3::Other(other), L4::None),
    };
    Ok(Headers {
        dst_mac,
        src_mac,
        vlan,
        ethertype,
        l3_offset,
        l3,
        l4,
    })
}

fn parse_arp(b: &[u8]) -> Result<Arp, ParseError> {
    if b.len() < ARP_LEN {
        return Err(ParseError::Truncated);
    }
    let fields = (be16(b, 0), be16(b, 2), byte(b, 4), byte(b, 5));
    if fields != (Some(1), Some(ETH_P_IPV4), Some(6), Some(4)) {
        return Err(ParseError::BadArp);
    }
    let t = ParseError::Truncated;
    Ok(Arp {
        op: be16(b, 6).ok_or(t)?,
        sha: arr(b, 8).ok_or(t)?,
        spa: arr(b, 14).ok_or(t)?,
        tha: arr(b, 18).ok_or(t)?,
        tpa: arr(b, 24).ok_or(t)?,
    })
}

/// The first `len` bytes of a packet of which `b` holds a prefix and the frame `avail`.
fn packet_view(b: &[u8], len: usize, avail: usize) -> Result<&[u8], ParseError> {
    if len > avail {
        return Err(ParseError::Truncated);
    }
    Ok(b.get(..len).unwrap_or(b))
}

fn parse_ipv4(b: &[u8], avail: usize) -> Result<(L3, L4), ParseError> {
    let h: [u8; IPV4_HLEN] = arr(b, 0).ok_or(ParseError::Truncated)?;
    let [vihl, tos, tl0, tl1, id0, id1, fo0, fo1, ttl, proto, _, _, s0, s1, s2, s3, d0, d1, d2, d3] =
        h;
    if vihl >> 4 != 4 {
        return Err(ParseError::BadVersion);
    }
    let ihl = usize::from(vihl & 0x0f) * 4;
    if ihl < IPV4_HLEN {
        return Err(ParseError::BadHeaderLen);
    }
    let total_len = u16::from_be_bytes([tl0, tl1]);
    let header = b.get(..ihl).ok_or(ParseError::Truncated)?;
    if usize::from(total_len) < ihl {
        return Err(ParseError::BadTotalLen);
    }
    let packet = packet_view(b, usize::from(total_len), avail)?;
    if !ipv4_header_checksum_ok(header) {
        return Err(ParseError::BadChecksum);
    }
    let frag = u16::from_be_bytes([fo0, fo1]);
    let frag_offset = frag & 0x1fff;
    let more_fragments = frag & 0x2000 != 0;
    let ip = Ipv4 {
        src: [s0, s1, s2, s3],
        dst: [d0, d1, d2, d3],
        proto,
        ttl,
        tos,
        // ihl <= 60.
        header_len: ihl as u8,
        total_len,
        id: u16::from_be_bytes([id0, id1]),
        dont_fragment: frag & 0x4000 != 0,
        more_fragments,
        frag_offset,
        is_fragment: more_fragments || frag_offset != 0,
        offset_nonzero: frag_offset != 0,
    };
    let l4 = if ip.offset_nonzero {
        L4::None
    } else {
        let payload = packet.get(ihl..).unwrap_or(&[]);
        match proto {
            IPPROTO_TCP => parse_tcp(payload)?,
            IPPROTO_UDP => parse_udp(payload)?,
            IPPROTO_ICMP => parse_icmp4(payload)?,
            other => L4::Other(other),
        }
    };
    Ok((L3::Ipv4(ip), l4))
}

fn parse_ipv6(b: &[u8], avail: usize, l3_offset: usize) -> Result<(L3, L4), ParseError> {
    let h: [u8; 8] = arr(b, 0).ok_or(ParseError::Truncated)?;
    let src: [u8; 16] = arr(b, 8).ok_or(ParseError::Truncated)?;
    let dst: [u8; 16] = arr(b, 24).ok_or(ParseError::Truncated)?;
    let [b0, b1, fl1, fl2, pl0, pl1, first_nh, hop_limit] = h;
    if b0 >> 4 != 6 {
        return Err(ParseError::BadVersion);
    }
    let payload_len = u16::from_be_bytes([pl0, pl1]);
    let packet = packet_view(b, IPV6_HLEN + usize::from(payload_len), avail)?;

    // The bytes after the headers walked so far (a suffix of `packet`).
    let mut rest = packet.get(IPV6_HLEN..).unwrap_or(&[]);
    let mut nh = first_nh;
    let mut walked = 0usize;
    let mut is_fragment = false;
    let mut offset_nonzero = false;
    while matches!(
        nh,
        IPPROTO_HOPOPTS | IPPROTO_ROUTING | IPPROTO_FRAGMENT | IPPROTO_DSTOPTS | IPPROTO_AH
    ) {
        if nh == IPPROTO_HOPOPTS && walked != 0 {
            return Err(ParseError::BadExtHeader);
        }
        if walked >= MAX_IPV6_EXT_HEADERS {
            return Err(ParseError::TooManyExtHeaders);
        }
        walked += 1;
        let [next, len_field]: [u8; 2] = arr(rest, 0).ok_or(ParseError::Truncated)?;
        let len = match nh {
            IPPROTO_FRAGMENT => {
                let fo = be16(rest, 2).ok_or(ParseError::Truncated)?;
                let offset = fo >> 3;
                let more = fo & 1 != 0;
                // An atomic fragment (offset 0, M clear; RFC 6946) is a whole packet.
                if offset != 0 || more {
                    is_fragment = true;
                }
                offset_nonzero = offset != 0;
                8
            }
            IPPROTO_AH => (usize::from(len_field) + 2) * 4,
            _ => (usize::from(len_field) + 1) * 8,
        };
        let (_, tail) = rest.split_at_checked(len).ok_or(ParseError::Truncated)?;
        rest = tail;
        nh = next;
        if offset_nonzero {
            // What follows is the middle of the datagram, not headers.
            break;
        }
    }

    // Offset of the upper-layer header in the IPv6 packet.
    let off = packet
        .len()
        .checked_sub(rest.len())
        .ok_or(ParseError::Truncated)?;
    let mut ip = Ipv6 {
        src,
        dst,
        next_header: nh,
        hop_limit,
        traffic_class: (b0 << 4) | (b1 >> 4),
        flow_label: (u32::from(b1 & 0x0f) << 16) | u32::from(u16::from_be_bytes([fl1, fl2])),
        payload_len,
        l4_offset: 0,
        is_fragment,
        offset_nonzero,
    };
    ip.l4_offset = l3_offset.checked_add(off).ok_or(ParseError::Truncated)?;
    let l4 = if offset_nonzero {
        L4::None
    } else {
        match nh {
            IPPROTO_TCP => parse_tcp(rest)?,
            IPPROTO_UDP => parse_udp(rest)?,
            IPPROTO_ICMPV6 => parse_icmp6(rest, &ip)?,
            IPPROTO_NONE => L4::None,
            other => L4::Other(other),
        }
    };
    Ok((L3::Ipv6(ip), l4))
}

fn parse_tcp(p: &[u8]) -> Result<L4, ParseError> {
    let h: [u8; 20] = arr(p, 0).ok_or(ParseError::TruncatedL4)?;
    let [s0, s1, d0, d1, _, _, _, _, _, _, _, _, _, flags, _, _, _, _, _, _] = h;
    Ok(L4::Tcp {
        sport: u16::from_be_bytes([s0, s1]),
        dport: u16::from_be_bytes([d0, d1]),
        flags,
    })
}

fn parse_udp(p: &[u8]) -> Result<L4, ParseError> {
    let [s0, s1, d0, d1, _, _, _, _]: [u8; 8] = arr(p, 0).ok_or(ParseError::TruncatedL4)?;
    Ok(L4::Udp {
        sport: u16::from_be_bytes([s0, s1]),
        dport: u16::from_be_bytes([d0, d1]),
    })
}

fn parse_icmp4(p: &[u8]) -> Result<L4, ParseError> {
    let [ty, code, _, _, i0, i1, _, _]: [u8; 8] = arr(p, 0).ok_or(ParseError::TruncatedL4)?;
    let id = if ty == ICMP_ECHO_REQUEST || ty == ICMP_ECHO_REPLY {
        u16::from_be_bytes([i0, i1])
    } else {
        0
    };
    Ok(L4::Icmp { ty, code, id })
}

fn parse_icmp6(p: &[u8], ip: &Ipv6) -> Result<L4, ParseError> {
    let [ty, code, _, _]: [u8; 4] = arr(p, 0).ok_or(ParseError::TruncatedL4)?;
    Ok(match ty {
        ICMP6_ECHO_REQUEST | ICMP6_ECHO_REPLY => {
            let id = be16(p, 4).ok_or(ParseError::TruncatedL4)?;
            L4::Icmp6 { ty, code, id }
        }
        ICMP6_NEIGHBOR_SOLICIT => parse_ns(p, code, ip).unwrap_or(L4::Icmp6 { ty, code, id: 0 }),
        _ => L4::Icmp6 { ty, code, id: 0 },
    })
}

/// A Neighbor Solicitation passing RFC 4861 §7.1.1, else `None`.
fn parse_ns(p: &[u8], code: u8, ip: &Ipv6) -> Option<L4> {
    if ip.hop_limit != 255 || code != 0 || p.len() < 24 {
        return None;
    }
    if ipv6_upper_layer_checksum(ip.src, ip.dst, IPPROTO_ICMPV6, p) != 0 {
        return None;
    }
    let target: [u8; 16] = arr(p, 8)?;
    if target.first() == Some(&0xff) {
        return None;
    }
    let mut opts = p.get(24..)?;
    let mut sll = None;
    // Each round consumes at least 8 bytes.
    while let Some(&[ty, len]) = opts.first_chunk::<2>() {
        let len = usize::from(len) * 8;
        if len == 0 {
            return None;
        }
        let (opt, rest) = opts.split_at_checked(len)?;
        if ty == ND_OPT_SOURCE_LLADDR && len == 8 {
            sll = arr::<6>(opt, 2);
        }
        opts = rest;
    }
    if !opts.is_empty() {
        // A single trailing byte: not a whole option.
        return None;
    }
    if ip.src == IPV6_UNSPECIFIED {
        // DAD: no source link-layer option, and sent to a solicited-node address.
        let solicited_node_prefix = [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff];
        if sll.is_some() || ip.dst.first_chunk::<13>() != Some(&solicited_node_prefix) {
            return None;
        }
    }
    Some(L4::Nd { target, sll })
}
