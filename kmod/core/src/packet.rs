// SPDX-License-Identifier: GPL-2.0
//! Packets as byte slices: parsing an Ethernet frame into a small `Copy` summary
//! ([`Headers`]), the flow hash used for ECMP, in-place TTL / hop-limit rewrites with
//! incremental checksum updates, and builders for the frames the router answers with
//! (ARP reply, IPv6 Neighbor Advertisement, ICMPv4 / ICMPv6 Time Exceeded).
//!
//! Everything works on `&[u8]` / `&mut [u8]` in network byte order, never allocates and
//! never panics: every access goes through `get`, every sum is wrapping or checked.
//!
//! Decisions worth knowing:
//! - **VLAN**: one 802.1Q tag (0x8100) is parsed into [`Headers::vlan`] (VID 0, priority
//!   tagging, is reported as such). Stacked tags (an outer 0x88a8, or a second 0x8100/0x88a8
//!   after the first tag) are rejected with [`ParseError::StackedVlan`]: vrouter ports are
//!   untagged or single-tagged, and skipping a tag would let a frame land in the wrong VRF.
//! - **IPv4 header checksum** is verified by [`parse`] ([`ParseError::BadChecksum`]), as
//!   RFC 1812 requires of a router; L4 checksums are not (offloads leave them partial), with
//!   one exception: a Neighbor Solicitation is only reported as [`L4::Nd`] when it passes
//!   all of RFC 4861 §7.1.1 including its checksum (the router answers it).
//! - **Fragments**: non-first fragments have no L4 ([`L4::None`]); [`Headers::five_tuple`]
//!   uses ports 0 for *every* fragment, first included, so all fragments of a datagram hash
//!   alike and follow the same ECMP member.
//! - **Errors about errors**: the builders do not judge; the datapath must ask
//!   [`may_send_icmp4_error`] / [`may_send_icmp6_error`] first. TTL / hop-limit rewrites
//!   refuse (and leave the packet untouched) at 0 or 1, so the error quotes the packet as
//!   received.
//! - **DAD**: [`build_neighbor_advert`] answers an NS from `::` to `ff02::1` with
//!   Solicited clear (RFC 4861 §7.2.4); the caller answers only for addresses the router
//!   owns.
//! - **Flow hash**: Bob Jenkins' lookup3 (Linux's `jhash`) over the 5-tuple, checked
//!   against the published vectors; [`pick_member`] maps it with multiply-shift.

mod build;
mod csum;
mod hash;
mod parse;
mod rewrite;

// The kernel compiles this file inside a private module and uses only part of the API:
// re-exports it does not use must not warn there.
#[allow(unused_imports)]
pub use build::{
    build_arp_reply, build_icmp4_time_exceeded, build_icmp6_time_exceeded, build_neighbor_advert,
    icmp4_time_exceeded_len, icmp6_time_exceeded_len, is_gratuitous_or_probe, may_send_icmp4_error,
    may_send_icmp6_error, BuildError, ARP_REPLY_LEN, ICMP_ERROR_TTL, NEIGHBOR_ADVERT_LEN,
};
#[allow(unused_imports)]
pub use csum::{
    checksum, csum_replace16, ipv4_header_checksum, ipv4_header_checksum_ok,
    ipv4_pseudo_header_sum, ipv6_pseudo_header_sum, ipv6_upper_layer_checksum, Checksum,
};
#[allow(unused_imports)]
pub use hash::{flow_hash, hash_tuple, lookup3, pick_member, FiveTuple, IpAddr};
#[allow(unused_imports)]
pub use parse::{parse, parse_head};
#[allow(unused_imports)]
pub use rewrite::{ipv4_decrement_ttl, ipv6_decrement_hop_limit, RewriteError};

/// A 48-bit Ethernet address.
pub type MacAddr = [u8; 6];

/// The router's own MAC (IANA VRRP-style 00:00:5e:00:01:00, as Tungsten Fabric uses).
pub const VROUTER_MAC: MacAddr = [0x00, 0x00, 0x5e, 0x00, 0x01, 0x00];
/// ff:ff:ff:ff:ff:ff.
pub const BROADCAST_MAC: MacAddr = [0xff; 6];

/// Length of an Ethernet address.
pub const ETH_ALEN: usize = 6;
/// Length of an untagged Ethernet header.
pub const ETH_HLEN: usize = 14;
/// Length of an 802.1Q tag.
pub const VLAN_HLEN: usize = 4;
/// Ethertype IPv4.
pub const ETH_P_IPV4: u16 = 0x0800;
/// Ethertype ARP.
pub const ETH_P_ARP: u16 = 0x0806;
/// Ethertype 802.1Q (customer VLAN tag).
pub const ETH_P_8021Q: u16 = 0x8100;
/// Ethertype 802.1ad (service VLAN tag, QinQ outer tag).
pub const ETH_P_8021AD: u16 = 0x88a8;
/// Ethertype IPv6.
pub const ETH_P_IPV6: u16 = 0x86dd;

/// Length of an IPv4 header without options.
pub const IPV4_HLEN: usize = 20;
/// Length of the fixed IPv6 header.
pub const IPV6_HLEN: usize = 40;
/// IPv6 minimum link MTU (RFC 8200); bounds the size of ICMPv6 errors (RFC 4443).
pub const IPV6_MIN_MTU: usize = 1280;
/// Length of an Ethernet/IPv4 ARP packet (without the Ethernet header).
pub const ARP_LEN: usize = 28;
/// Most IPv6 extension headers [`parse`] walks before giving up.
pub const MAX_IPV6_EXT_HEADERS: usize = 8;

/// IP protocol number: IPv6 Hop-by-Hop Options.
pub const IPPROTO_HOPOPTS: u8 = 0;
/// IP protocol number: ICMP.
pub const IPPROTO_ICMP: u8 = 1;
/// IP protocol number: TCP.
pub const IPPROTO_TCP: u8 = 6;
/// IP protocol number: UDP.
pub const IPPROTO_UDP: u8 = 17;
/// IP protocol number: IPv6 Routing header.
pub const IPPROTO_ROUTING: u8 = 43;
/// IP protocol number: IPv6 Fragment header.
pub const IPPROTO_FRAGMENT: u8 = 44;
/// IP protocol number: Encapsulating Security Payload.
pub const IPPROTO_ESP: u8 = 50;
/// IP protocol number: Authentication Header.
pub const IPPROTO_AH: u8 = 51;
/// IP protocol number: ICMPv6.
pub const IPPROTO_ICMPV6: u8 = 58;
/// IP protocol number: IPv6 No Next Header.
pub const IPPROTO_NONE: u8 = 59;
/// IP protocol number: IPv6 Destination Options.
pub const IPPROTO_DSTOPTS: u8 = 60;

/// ARP operation: request.
pub const ARP_OP_REQUEST: u16 = 1;
/// ARP operation: reply.
pub const ARP_OP_REPLY: u16 = 2;

/// ICMPv4 type: Echo Reply.
pub const ICMP_ECHO_REPLY: u8 = 0;
/// ICMPv4 type: Destination Unreachable.
pub const ICMP_DEST_UNREACH: u8 = 3;
/// ICMPv4 type: Redirect.
pub const ICMP_REDIRECT: u8 = 5;
/// ICMPv4 type: Echo Request.
pub const ICMP_ECHO_REQUEST: u8 = 8;
/// ICMPv4 type: Time Exceeded.
pub const ICMP_TIME_EXCEEDED: u8 = 11;
/// ICMPv4 type: Parameter Problem.
pub const ICMP_PARAM_PROBLEM: u8 = 12;

/// ICMPv6 type: Destination Unreachable.
pub const ICMP6_DEST_UNREACH: u8 = 1;
/// ICMPv6 type: Packet Too Big.
pub const ICMP6_PACKET_TOO_BIG: u8 = 2;
/// ICMPv6 type: Time Exceeded.
pub const ICMP6_TIME_EXCEEDED: u8 = 3;
/// ICMPv6 type: Parameter Problem.
pub const ICMP6_PARAM_PROBLEM: u8 = 4;
/// ICMPv6 type: Echo Request.
pub const ICMP6_ECHO_REQUEST: u8 = 128;
/// ICMPv6 type: Echo Reply.
pub const ICMP6_ECHO_REPLY: u8 = 129;
/// ICMPv6 type: Router Solicitation.
pub const ICMP6_ROUTER_SOLICIT: u8 = 133;
/// ICMPv6 type: Router Advertisement.
pub const ICMP6_ROUTER_ADVERT: u8 = 134;
/// ICMPv6 type: Neighbor Solicitation.
pub const ICMP6_NEIGHBOR_SOLICIT: u8 = 135;
/// ICMPv6 type: Neighbor Advertisement.
pub const ICMP6_NEIGHBOR_ADVERT: u8 = 136;
/// ICMPv6 type: Redirect.
pub const ICMP6_REDIRECT: u8 = 137;
/// Neighbor Discovery option: Source Link-Layer Address.
pub const ND_OPT_SOURCE_LLADDR: u8 = 1;
/// Neighbor Discovery option: Target Link-Layer Address.
pub const ND_OPT_TARGET_LLADDR: u8 = 2;
/// Neighbor Advertisement flag: Router.
pub const NA_FLAG_ROUTER: u8 = 0x80;
/// Neighbor Advertisement flag: Solicited.
pub const NA_FLAG_SOLICITED: u8 = 0x40;
/// Neighbor Advertisement flag: Override.
pub const NA_FLAG_OVERRIDE: u8 = 0x20;

/// The IPv6 unspecified address `::`.
pub const IPV6_UNSPECIFIED: [u8; 16] = [0; 16];
/// The IPv6 all-nodes link-local multicast address `ff02::1`.
pub const IPV6_ALL_NODES: [u8; 16] = [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];

/// Why [`parse`] refused a frame. Each variant is a distinct drop reason for counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// The frame ends inside a header (Ethernet, VLAN, ARP, IP, IPv6 extension header), or
    /// the IP length fields claim more bytes than the frame holds.
    Truncated,
    /// More than one VLAN tag (QinQ), which vrouter does not handle.
    StackedVlan,
    /// ARP for something other than Ethernet/IPv4 (hardware type 1, protocol 0x0800,
    /// lengths 6 and 4).
    BadArp,
    /// The IP version nibble disagrees with the ethertype.
    BadVersion,
    /// IPv4 IHL below 5.
    BadHeaderLen,
    /// IPv4 total length below the header length.
    BadTotalLen,
    /// IPv4 header checksum does not verify.
    BadChecksum,
    /// An IPv6 Hop-by-Hop Options header anywhere but right after the IPv6 header.
    BadExtHeader,
    /// More than [`MAX_IPV6_EXT_HEADERS`] IPv6 extension headers.
    TooManyExtHeaders,
    /// The (first-fragment or unfragmented) packet is too short for its L4 header: TCP
    /// 20 bytes, UDP 8, ICMPv4 8, ICMPv6 4 (8 for echo).
    TruncatedL4,
}

/// An 802.1Q tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VlanTag {
    /// VLAN identifier (12 bits); 0 for a priority-tagged frame.
    pub id: u16,
    /// Priority code point (3 bits).
    pub pcp: u8,
    /// Drop eligible indicator.
    pub dei: bool,
}

/// An Ethernet/IPv4 ARP packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arp {
    /// Operation ([`ARP_OP_REQUEST`], [`ARP_OP_REPLY`], ...).
    pub op: u16,
    /// Sender hardware address.
    pub sha: MacAddr,
    /// Sender protocol address.
    pub spa: [u8; 4],
    /// Target hardware address.
    pub tha: MacAddr,
    /// Target protocol address.
    pub tpa: [u8; 4],
}

/// The IPv4 header fields the datapath uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4 {
    /// Source address.
    pub src: [u8; 4],
    /// Destination address.
    pub dst: [u8; 4],
    /// Protocol of the payload.
    pub proto: u8,
    /// Time to live.
    pub ttl: u8,
    /// Type of service / DSCP+ECN byte.
    pub tos: u8,
    /// Header length in bytes (IHL * 4, 20..=60).
    pub header_len: u8,
    /// Total length of the IP packet (header + payload); never more than the frame holds.
    pub total_len: u16,
    /// Identification.
    pub id: u16,
    /// Don't Fragment flag.
    pub dont_fragment: bool,
    /// More Fragments flag.
    pub more_fragments: bool,
    /// Fragment offset in 8-byte units.
    pub frag_offset: u16,
    /// A fragment: MF set or offset non-zero.
    pub is_fragment: bool,
    /// A non-first fragment (offset non-zero): there is no L4 header.
    pub offset_nonzero: bool,
}

/// The IPv6 header fields the datapath uses, after walking the extension headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv6 {
    /// Source address.
    pub src: [u8; 16],
    /// Destination address.
    pub dst: [u8; 16],
    /// The protocol after the extension headers walked: the upper-layer protocol, or
    /// [`IPPROTO_ESP`] / [`IPPROTO_NONE`], or (for a non-first fragment) the Fragment
    /// header's next header.
    pub next_header: u8,
    /// Hop limit.
    pub hop_limit: u8,
    /// Traffic class.
    pub traffic_class: u8,
    /// Flow label (20 bits).
    pub flow_label: u32,
    /// Payload length (everything after the fixed 40-byte header); fits the frame.
    pub payload_len: u16,
    /// Offset in the frame of the upper-layer header (after the extension headers).
    pub l4_offset: usize,
    /// A Fragment header was seen.
    pub is_fragment: bool,
    /// The Fragment header has a non-zero offset: there is no L4 header.
    pub offset_nonzero: bool,
}

/// The network layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L3 {
    /// Ethernet/IPv4 ARP.
    Arp(Arp),
    /// IPv4.
    Ipv4(Ipv4),
    /// IPv6.
    Ipv6(Ipv6),
    /// Any other ethertype; not parsed.
    Other(u16),
}

/// The transport layer (or the ICMP message), when present.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L4 {
    /// No L4 header: not IP, a non-first fragment, or IPv6 No Next Header.
    None,
    /// TCP.
    Tcp {
        /// Source port.
        sport: u16,
        /// Destination port.
        dport: u16,
        /// Flags byte (CWR ECE URG ACK PSH RST SYN FIN).
        flags: u8,
    },
    /// UDP.
    Udp {
        /// Source port.
        sport: u16,
        /// Destination port.
        dport: u16,
    },
    /// ICMPv4.
    Icmp {
        /// Type.
        ty: u8,
        /// Code.
        code: u8,
        /// Echo identifier for echo request/reply, else 0.
        id: u16,
    },
    /// ICMPv6, other than a valid Neighbor Solicitation.
    Icmp6 {
        /// Type.
        ty: u8,
        /// Code.
        code: u8,
        /// Echo identifier for echo request/reply, else 0.
        id: u16,
    },
    /// An ICMPv6 Neighbor Solicitation that passed RFC 4861 §7.1.1 validation (hop limit
    /// 255, code 0, at least 24 bytes, valid checksum, non-multicast target, well-formed
    /// options, no source link-layer option when the source is `::`). An invalid one is
    /// reported as [`L4::Icmp6`] with type 135.
    Nd {
        /// Target address.
        target: [u8; 16],
        /// Source link-layer address option, if present.
        sll: Option<MacAddr>,
    },
    /// Another IP protocol (including ESP and AH over IPv4); not parsed.
    Other(u8),
}

/// What [`parse`] learnt about a frame. Small and `Copy`; holds no reference to the frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Headers {
    /// Ethernet destination.
    pub dst_mac: MacAddr,
    /// Ethernet source.
    pub src_mac: MacAddr,
    /// The 802.1Q tag, if the frame had one.
    pub vlan: Option<VlanTag>,
    /// The ethertype after the VLAN tag, if any.
    pub ethertype: u16,
    /// Offset of the L3 header in the frame (14, or 18 when tagged).
    pub l3_offset: usize,
    /// The network layer.
    pub l3: L3,
    /// The transport layer.
    pub l4: L4,
}

impl Headers {
    /// Offset in the frame of the upper-layer header, for IPv4 and IPv6 packets that carry
    /// it (not for non-first fragments). Present even for protocols not parsed
    /// ([`L4::Other`]).
    pub fn l4_offset(&self) -> Option<usize> {
        match &self.l3 {
            L3::Ipv4(ip) if !ip.offset_nonzero => {
                self.l3_offset.checked_add(usize::from(ip.header_len))
            }
            L3::Ipv6(ip) if !ip.offset_nonzero => Some(ip.l4_offset),
            _ => None,
        }
    }

    /// Length of the L3 packet: IPv4 total length, IPv6 40 + payload length, 28 for ARP;
    /// `None` for other ethertypes. `l3_offset + l3_len()` is where Ethernet padding starts.
    pub fn l3_len(&self) -> Option<usize> {
        match &self.l3 {
            L3::Arp(_) => Some(ARP_LEN),
            L3::Ipv4(ip) => Some(usize::from(ip.total_len)),
            L3::Ipv6(ip) => IPV6_HLEN.checked_add(usize::from(ip.payload_len)),
            L3::Other(_) => None,
        }
    }

    /// The flow 5-tuple of an IP packet; `None` for ARP and other ethertypes.
    ///
    /// Ports are those of TCP/UDP; for ICMP / ICMPv6 echo the identifier is the source
    /// port (destination port 0); everything else has ports 0. Every fragment (the first
    /// included) gets ports 0 so that all fragments of a datagram share one tuple.
    pub fn five_tuple(&self) -> Option<FiveTuple> {
        let (src, dst, proto, frag) = match &self.l3 {
            L3::Ipv4(ip) => (
                IpAddr::V4(ip.src),
                IpAddr::V4(ip.dst),
                ip.proto,
                ip.is_fragment,
            ),
            L3::Ipv6(ip) => (
                IpAddr::V6(ip.src),
                IpAddr::V6(ip.dst),
                ip.next_header,
                ip.is_fragment,
            ),
            _ => return None,
        };
        let (sport, dport) = if frag {
            (0, 0)
        } else {
            match self.l4 {
                L4::Tcp { sport, dport, .. } | L4::Udp { sport, dport } => (sport, dport),
                L4::Icmp { id, .. } | L4::Icmp6 { id, .. } => (id, 0),
                _ => (0, 0),
            }
        };
        Some(FiveTuple {
            src,
            dst,
            proto,
            sport,
            dport,
        })
    }
}

/// `N` bytes at `off`, if the slice holds them.
pub(super) fn arr<const N: usize>(b: &[u8], off: usize) -> Option<[u8; N]> {
    b.get(off..)?.first_chunk::<N>().copied()
}

/// The big-endian `u16` at `off`.
pub(super) fn be16(b: &[u8], off: usize) -> Option<u16> {
    arr::<2>(b, off).map(u16::from_be_bytes)
}

/// The byte at `off`.
fn byte(b: &[u8], off: usize) -> Option<u8> {
    b.get(off).copied()
}

/// Copies `src` to `buf[off..]`; `None` (and nothing written) if it does not fit.
pub(super) fn put(buf: &mut [u8], off: usize, src: &[u8]) -> Option<()> {
    let dst = buf.get_mut(off..)?.get_mut(..src.len())?;
    for (d, s) in dst.iter_mut().zip(src) {
        *d = *s;
    }
    Some(())
}

/// Writes a big-endian `u16` at `off`.
pub(super) fn put16(buf: &mut [u8], off: usize, v: u16) -> Option<()> {
    put(buf, off, &v.to_be_bytes())
}
