// SPDX-License-Identifier: GPL-2.0
//! The outer headers of the overlay's three encapsulations over an IPv4 underlay: built
//! for a packet a Tunnel nexthop sends ([`write_outer`]) and parsed off a packet the
//! fabric delivers ([`parse_decap`]).
//!
//! - **MPLSoUDP** (RFC 7510): IPv4 + UDP to port 6635 + one MPLS label stack entry + the
//!   inner IP packet.
//! - **MPLSoGRE** (RFC 4023): IPv4 (protocol 47) + 4-byte GRE (protocol 0x8847) + one
//!   MPLS label stack entry + the inner IP packet.
//! - **VXLAN** (RFC 7348): IPv4 + UDP to port 4789 + VXLAN + inner Ethernet + the inner
//!   IP packet.
//!
//! Decisions worth knowing:
//! - **Sending**: DF is set (the fabric never fragments a tunnel packet; the caller sizes
//!   inner packets to the fabric MTU), UDP checksums are 0 (allowed over IPv4 by
//!   RFC 7510 §5 and RFC 7348 §5) and the UDP source port carries the inner flow's hash
//!   ([`udp_source_port`]) so that the fabric's ECMP spreads flows, not tunnels.
//! - **Receiving**: the outer IPv4 header checksum is verified ([`TunnelError::BadIpHeader`]);
//!   UDP and GRE checksums are not. Protocol 47 always names a tunnel (vrouter owns GRE on
//!   the fabric, as TF does): any fragment of it, or a GRE protocol other than MPLS, is an
//!   error. A UDP packet is a tunnel only when its destination port says so, which only an
//!   unfragmented packet or a first fragment shows: a first fragment to 6635/4789 is
//!   [`TunnelError::Fragment`], a non-first UDP fragment is `Ok(None)` (for the host).
//! - **VXLAN's inner frame** must carry IPv4 or IPv6: vrouter routes, it does not bridge
//!   ARP or other ethertypes over the overlay.

use super::packet::{
    arr, be16, ipv4_header_checksum, ipv4_header_checksum_ok, put, put16, ETH_HLEN, ETH_P_IPV4,
    ETH_P_IPV6, IPPROTO_UDP, IPV4_HLEN, VLAN_HLEN, VROUTER_MAC,
};
use super::uapi::{nh_flag, MPLS_LABEL_LIMIT, NH_TUNNEL_FLAGS, VXLAN_VNI_LIMIT};

/// UDP destination port of MPLSoUDP (RFC 7510).
pub const MPLS_UDP_PORT: u16 = 6635;
/// UDP destination port of VXLAN (RFC 7348).
pub const VXLAN_PORT: u16 = 4789;
/// Ethertype (and GRE protocol) of unicast MPLS.
pub const ETH_P_MPLS_UC: u16 = 0x8847;
/// IP protocol number: GRE.
pub const IPPROTO_GRE: u8 = 47;
/// TTL of the outer header and of the MPLS label stack entry.
pub const TUNNEL_TTL: u8 = 64;

/// Length of a UDP header.
const UDP_HLEN: usize = 8;
/// Length of the GRE header without optional fields.
const GRE_HLEN: usize = 4;
/// Length of one GRE optional field (checksum + reserved, key, sequence number).
const GRE_OPT_LEN: usize = 4;
/// Length of one MPLS label stack entry.
const MPLS_HLEN: usize = 4;
/// Length of the VXLAN header.
const VXLAN_HLEN: usize = 8;
/// Length of an underlay Ethernet header with one 802.1Q tag.
const L2_TAGGED_HLEN: usize = ETH_HLEN + VLAN_HLEN;
/// Longest outer header stack: tagged Ethernet + VXLAN's overhead.
const MAX_OUTER: usize = L2_TAGGED_HLEN + Encap::Vxlan.overhead();

/// IPv4 flags/fragment-offset word: Don't Fragment.
const IP_DF: u16 = 0x4000;
/// IPv4 flags/fragment-offset word: More Fragments.
const IP_MF: u16 = 0x2000;
/// IPv4 flags/fragment-offset word: the offset.
const IP_OFFSET: u16 = 0x1fff;

/// GRE flags (first byte): checksum present.
const GRE_CSUM: u8 = 0x80;
/// GRE flags (first byte): routing present (RFC 1701; not supported).
const GRE_ROUTING: u8 = 0x40;
/// GRE flags (first byte): key present (RFC 2890).
const GRE_KEY: u8 = 0x20;
/// GRE flags (first byte): sequence number present (RFC 2890).
const GRE_SEQ: u8 = 0x10;
/// GRE second byte: the version.
const GRE_VERSION: u8 = 0x07;

/// MPLS label stack entry: bottom of stack.
const MPLS_BOS: u32 = 0x100;
/// MPLS label stack entry: the label's shift.
const MPLS_LABEL_SHIFT: u32 = 12;

/// VXLAN flags: the VNI is valid.
const VXLAN_FLAG_I: u8 = 0x08;

/// First UDP source port handed out for flow entropy (the IANA dynamic range).
const ENTROPY_PORT_BASE: u16 = 0xc000;
/// Mask of the flow-hash bits in the UDP source port (16384 ports).
const ENTROPY_PORT_MASK: u32 = 0x3fff;

/// One of the overlay's encapsulations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encap {
    /// MPLS over UDP (RFC 7510).
    MplsOverUdp,
    /// MPLS over GRE (RFC 4023).
    MplsOverGre,
    /// VXLAN (RFC 7348).
    Vxlan,
}

impl Encap {
    /// The encapsulation a tunnel nexthop's flags name (exactly one of the three tunnel
    /// flags), else None. Other flags (VALID, POLICY, ...) are ignored.
    pub fn from_nh_flags(flags: u32) -> Option<Encap> {
        match flags & NH_TUNNEL_FLAGS {
            nh_flag::TUNNEL_UDP_MPLS => Some(Encap::MplsOverUdp),
            nh_flag::TUNNEL_GRE => Some(Encap::MplsOverGre),
            nh_flag::TUNNEL_VXLAN => Some(Encap::Vxlan),
            _ => None,
        }
    }

    /// Bytes between the underlay L2 header and the inner IP header: IPv4 20 + (UDP 8 +
    /// MPLS 4 | GRE 4 + MPLS 4 | UDP 8 + VXLAN 8 + inner Ethernet 14).
    pub const fn overhead(self) -> usize {
        IPV4_HLEN
            + match self {
                Encap::MplsOverUdp => UDP_HLEN + MPLS_HLEN,
                Encap::MplsOverGre => GRE_HLEN + MPLS_HLEN,
                Encap::Vxlan => UDP_HLEN + VXLAN_HLEN + ETH_HLEN,
            }
    }

    /// Bytes from the outer IPv4 header to what the tunnel carries: VXLAN's inner
    /// Ethernet header, or the MPLS label stack entry (for offloads, which need to know
    /// where the tunnel's own headers end).
    pub const fn payload_offset(self) -> usize {
        IPV4_HLEN
            + match self {
                Encap::MplsOverUdp => UDP_HLEN,
                Encap::MplsOverGre => GRE_HLEN,
                Encap::Vxlan => UDP_HLEN + VXLAN_HLEN,
            }
    }

    /// The first label (MPLS, 20 bits) or VNI (VXLAN, 24 bits) that does not fit.
    const fn label_limit(self) -> u32 {
        match self {
            Encap::MplsOverUdp | Encap::MplsOverGre => MPLS_LABEL_LIMIT,
            Encap::Vxlan => VXLAN_VNI_LIMIT,
        }
    }

    /// The outer IPv4 header's protocol.
    const fn ip_proto(self) -> u8 {
        match self {
            Encap::MplsOverUdp | Encap::Vxlan => IPPROTO_UDP,
            Encap::MplsOverGre => IPPROTO_GRE,
        }
    }
}

/// Why a tunnel header could not be written or parsed. Each variant is a distinct drop
/// reason for counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TunnelError {
    /// The buffer is too short for the headers (or a length field claims more bytes than
    /// the packet holds, or fewer than its headers need).
    Short,
    /// The label does not fit in 20 bits (MPLS) or the VNI in 24 bits (VXLAN).
    LabelRange,
    /// Outer addresses are not 4 bytes (only an IPv4 underlay is built here).
    AddressLength,
    /// The underlay L2 header is not 14 or 18 bytes (0 is allowed: none).
    L2Length,
    /// The packet is larger than an IPv4 total length can say.
    TooLong,
    /// The IP version is not 4.
    NotIpv4,
    /// IHL below 5, total length below the header length, or a wrong header checksum.
    BadIpHeader,
    /// A fragment of a tunnel packet (vrouter sends them with DF; it does not reassemble).
    Fragment,
    /// Reserved for callers that require a tunnel: [`parse_decap`] answers `Ok(None)`.
    NotATunnel,
    /// GRE with the routing bit, a version other than 0, or a protocol other than MPLS.
    BadGre,
    /// The MPLS label stack entry is not the bottom of the stack (one label only).
    NotBottomOfStack,
    /// VXLAN without the I (valid VNI) flag.
    BadVxlan,
    /// The inner packet is not IPv4 or IPv6 (MPLS: its first nibble; VXLAN: its ethertype).
    BadInner,
}

/// What the outer headers say about one tunnelled packet to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outer<'a> {
    /// The encapsulation.
    pub encap: Encap,
    /// The underlay Ethernet header (14 or 18 bytes: destination = next hop on the
    /// fabric, source = fabric NIC, its ethertype is overwritten with 0x0800), or empty
    /// for none.
    pub l2: &'a [u8],
    /// Outer source address, 4 bytes, network order.
    pub sip: &'a [u8],
    /// Outer destination address, 4 bytes, network order.
    pub dip: &'a [u8],
    /// MPLS label (20 bits) or VXLAN VNI (24 bits).
    pub label: u32,
    /// Whether the inner packet is IPv6 (VXLAN's inner ethertype; MPLS does not say).
    pub inner_v6: bool,
    /// Length of the inner IP packet (from its IP header to its end).
    pub inner_len: usize,
    /// The inner flow's hash: the UDP source port is taken from it ([`udp_source_port`]).
    pub flow_hash: u32,
    /// The outer IPv4 identification.
    pub ip_id: u16,
}

/// The UDP source port for a flow hash (49152..=65535): entropy for the fabric's ECMP
/// (RFC 7510 §3, RFC 7348 §5). The hash's halves are folded so both count.
pub fn udp_source_port(flow_hash: u32) -> u16 {
    let folded = (flow_hash ^ (flow_hash >> 16)) & ENTROPY_PORT_MASK;
    // folded <= 0x3fff: the cast keeps every bit.
    ENTROPY_PORT_BASE | folded as u16
}

/// Writes the whole outer header stack at the start of `buf`: the L2 header (ethertype
/// IPv4), IPv4 (IHL 5, TOS 0, the given id, DF, TTL [`TUNNEL_TTL`], header checksum),
/// then UDP (checksum 0) + MPLS, GRE + MPLS, or UDP + VXLAN + inner Ethernet (to
/// [`VROUTER_MAC`], from the underlay header's source MAC or else [`VROUTER_MAC`]). The MPLS entry is `label << 12 | S | TUNNEL_TTL`.
/// Returns the bytes written, `l2.len() + encap.overhead()`; writes nothing on error.
pub fn write_outer(buf: &mut [u8], o: &Outer<'_>) -> Result<usize, TunnelError> {
    let (sip, dip, total) = check_outer(o)?;
    let len = o.l2.len() + o.encap.overhead();
    if buf.len() < len {
        return Err(TunnelError::Short);
    }
    let mut stack = [0u8; MAX_OUTER];
    let hdr = stack.get_mut(..len).ok_or(TunnelError::Short)?;
    fill_outer(hdr, o, sip, dip, total).ok_or(TunnelError::Short)?;
    put(buf, 0, hdr).ok_or(TunnelError::Short)?;
    Ok(len)
}

/// Checks everything [`write_outer`] needs before it writes a byte; returns the outer
/// addresses and the IPv4 total length.
fn check_outer(o: &Outer<'_>) -> Result<([u8; 4], [u8; 4], u16), TunnelError> {
    if o.label >= o.encap.label_limit() {
        return Err(TunnelError::LabelRange);
    }
    let sip = <[u8; 4]>::try_from(o.sip).map_err(|_| TunnelError::AddressLength)?;
    let dip = <[u8; 4]>::try_from(o.dip).map_err(|_| TunnelError::AddressLength)?;
    if !matches!(o.l2.len(), 0 | ETH_HLEN | L2_TAGGED_HLEN) {
        return Err(TunnelError::L2Length);
    }
    let total = o
        .encap
        .overhead()
        .checked_add(o.inner_len)
        .and_then(|t| u16::try_from(t).ok())
        .ok_or(TunnelError::TooLong)?;
    Ok((sip, dip, total))
}

/// Fills `hdr` (exactly `l2.len() + overhead` bytes) with the checked header stack.
fn fill_outer(hdr: &mut [u8], o: &Outer<'_>, sip: [u8; 4], dip: [u8; 4], total: u16) -> Option<()> {
    let ip = o.l2.len();
    put(hdr, 0, o.l2)?;
    if let Some(ethertype) = ip.checked_sub(2) {
        put16(hdr, ethertype, ETH_P_IPV4)?;
    }
    put(hdr, ip, &ipv4_header(o, sip, dip, total))?;
    let l4 = ip + IPV4_HLEN;
    // total >= overhead > IPV4_HLEN (checked by check_outer).
    let udp_len = total.saturating_sub(IPV4_HLEN as u16);
    let sport = udp_source_port(o.flow_hash);
    match o.encap {
        Encap::MplsOverUdp => {
            put(hdr, l4, &udp_header(sport, MPLS_UDP_PORT, udp_len))?;
            put(hdr, l4 + UDP_HLEN, &mpls_entry(o.label))
        }
        Encap::MplsOverGre => {
            put(hdr, l4, &gre_header())?;
            put(hdr, l4 + GRE_HLEN, &mpls_entry(o.label))
        }
        Encap::Vxlan => {
            put(hdr, l4, &udp_header(sport, VXLAN_PORT, udp_len))?;
            put(hdr, l4 + UDP_HLEN, &vxlan_header(o.label))?;
            inner_eth(
                hdr,
                l4 + UDP_HLEN + VXLAN_HLEN,
                inner_source(o.l2),
                o.inner_v6,
            )
        }
    }
}

/// The outer IPv4 header, with its checksum.
fn ipv4_header(o: &Outer<'_>, sip: [u8; 4], dip: [u8; 4], total: u16) -> [u8; IPV4_HLEN] {
    let [tl0, tl1] = total.to_be_bytes();
    let [id0, id1] = o.ip_id.to_be_bytes();
    let [fl0, fl1] = IP_DF.to_be_bytes();
    let [s0, s1, s2, s3] = sip;
    let [d0, d1, d2, d3] = dip;
    let proto = o.encap.ip_proto();
    let mut h = [
        0x45, 0, tl0, tl1, id0, id1, fl0, fl1, TUNNEL_TTL, proto, 0, 0, s0, s1, s2, s3, d0, d1, d2,
        d3,
    ];
    let [c0, c1] = ipv4_header_checksum(&h).to_be_bytes();
    h[10] = c0;
    h[11] = c1;
    h
}

/// A UDP header with checksum 0 (none).
fn udp_header(sport: u16, dport: u16, len: u16) -> [u8; UDP_HLEN] {
    let [s0, s1] = sport.to_be_bytes();
    let [d0, d1] = dport.to_be_bytes();
    let [l0, l1] = len.to_be_bytes();
    [s0, s1, d0, d1, l0, l1, 0, 0]
}

/// The basic GRE header: no optional fields, version 0, protocol MPLS.
fn gre_header() -> [u8; GRE_HLEN] {
    let [p0, p1] = ETH_P_MPLS_UC.to_be_bytes();
    [0, 0, p0, p1]
}

/// The one MPLS label stack entry: label, TC 0, bottom of stack, TTL [`TUNNEL_TTL`].
fn mpls_entry(label: u32) -> [u8; MPLS_HLEN] {
    ((label << MPLS_LABEL_SHIFT) | MPLS_BOS | u32::from(TUNNEL_TTL)).to_be_bytes()
}

/// The VXLAN header: I flag, the 24-bit VNI, reserved bytes 0.
fn vxlan_header(vni: u32) -> [u8; VXLAN_HLEN] {
    let [_, v0, v1, v2] = vni.to_be_bytes();
    [VXLAN_FLAG_I, 0, 0, 0, v0, v1, v2, 0]
}

/// The inner source MAC of a VXLAN frame: the sender's fabric MAC (the underlay header's
/// source) when the nexthop gives one, else the router MAC. A Linux VXLAN device drops
/// frames that come from its own MAC as loops, and the peer's device takes the router
/// MAC (the inner destination) to accept them.
fn inner_source(l2: &[u8]) -> [u8; 6] {
    arr(l2, VROUTER_MAC.len()).unwrap_or(VROUTER_MAC)
}

/// VXLAN's inner Ethernet header at `off`: to the router MAC (the receiving vrouter
/// routes the inner packet) from `src`, ethertype of the inner family.
fn inner_eth(hdr: &mut [u8], off: usize, src: [u8; 6], v6: bool) -> Option<()> {
    put(hdr, off, &VROUTER_MAC)?;
    put(hdr, off + VROUTER_MAC.len(), &src)?;
    let ethertype = if v6 { ETH_P_IPV6 } else { ETH_P_IPV4 };
    put16(hdr, off + 2 * VROUTER_MAC.len(), ethertype)
}

/// Writes the Ethernet header a decapsulated packet travels on with inside the vRouter:
/// to and from the vRouter's MAC, with the inner packet's EtherType. The caller makes room
/// for it at the start of `frame` (MPLS carried none; VXLAN's is rewritten).
pub fn write_inner_eth(frame: &mut [u8], inner_v6: bool) -> Result<(), TunnelError> {
    let eth = frame.get_mut(..ETH_HLEN).ok_or(TunnelError::Short)?;
    let ethertype = if inner_v6 { ETH_P_IPV6 } else { ETH_P_IPV4 };
    put(eth, 0, &VROUTER_MAC).ok_or(TunnelError::Short)?;
    put(eth, VROUTER_MAC.len(), &VROUTER_MAC).ok_or(TunnelError::Short)?;
    put16(eth, 2 * VROUTER_MAC.len(), ethertype).ok_or(TunnelError::Short)?;
    Ok(())
}

/// What parsing a received tunnel packet found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decap {
    /// The encapsulation.
    pub encap: Encap,
    /// The MPLS label or the VNI.
    pub label: u32,
    /// Outer source IPv4 address.
    pub sip: [u8; 4],
    /// Outer destination IPv4 address.
    pub dip: [u8; 4],
    /// Offset (from the start of the slice given to [`parse_decap`]) of the inner IP
    /// header (MPLS) or of the inner Ethernet header (VXLAN).
    pub inner_offset: usize,
    /// Whether the inner packet is IPv6 (MPLS: from the first nibble after the label;
    /// VXLAN: from the inner ethertype).
    pub inner_v6: bool,
}

/// The outer IPv4 header fields [`parse_decap`] uses.
struct OuterIp {
    sip: [u8; 4],
    dip: [u8; 4],
    proto: u8,
    /// Header length in bytes.
    ihl: usize,
    /// Total length, within the packet.
    total: usize,
    /// More Fragments set.
    more_fragments: bool,
    /// Fragment offset non-zero: no L4 header.
    offset_nonzero: bool,
}

/// What follows the outer IPv4 header, relative to its payload.
struct Inner {
    encap: Encap,
    label: u32,
    /// Offset of the inner packet in the outer IPv4 payload.
    offset: usize,
    v6: bool,
}

/// Parses a packet from its outer IPv4 header (the caller has skipped the Ethernet
/// header): `head` is its first bytes (the datapath makes only a bounded head linear),
/// `pkt_len` its whole length. `Ok(Some(..))` for a well-formed MPLSoUDP, MPLSoGRE or
/// VXLAN packet; `Ok(None)` for another IPv4 packet (another protocol or UDP port), which
/// the caller passes to the host; `Err` for a malformed IPv4 header or a malformed tunnel
/// packet. IP options are skipped; bytes after the IPv4 total length are ignored.
pub fn parse_decap(head: &[u8], pkt_len: usize) -> Result<Option<Decap>, TunnelError> {
    let ip = parse_outer_ipv4(head, pkt_len)?;
    let payload = head
        .get(ip.ihl..ip.total.min(head.len()))
        .ok_or(TunnelError::Short)?;
    let inner = match ip.proto {
        IPPROTO_GRE => parse_gre(&ip, payload)?,
        IPPROTO_UDP => match parse_udp(&ip, payload)? {
            Some(inner) => inner,
            None => return Ok(None),
        },
        _ => return Ok(None),
    };
    Ok(Some(Decap {
        encap: inner.encap,
        label: inner.label,
        sip: ip.sip,
        dip: ip.dip,
        inner_offset: ip.ihl + inner.offset,
        inner_v6: inner.v6,
    }))
}

/// Validates the outer IPv4 header: version, IHL, total length within the packet's
/// `pkt_len` bytes, header checksum.
fn parse_outer_ipv4(pkt: &[u8], pkt_len: usize) -> Result<OuterIp, TunnelError> {
    let first = pkt.first().ok_or(TunnelError::Short)?;
    if first >> 4 != 4 {
        return Err(TunnelError::NotIpv4);
    }
    let h: [u8; IPV4_HLEN] = arr(pkt, 0).ok_or(TunnelError::Short)?;
    let [vihl, _, tl0, tl1, _, _, fl0, fl1, _, proto, _, _, s0, s1, s2, s3, d0, d1, d2, d3] = h;
    let ihl = usize::from(vihl & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([tl0, tl1]));
    if ihl < IPV4_HLEN || total < ihl {
        return Err(TunnelError::BadIpHeader);
    }
    let header = pkt.get(..ihl).ok_or(TunnelError::Short)?;
    if total > pkt_len {
        return Err(TunnelError::Short);
    }
    if !ipv4_header_checksum_ok(header) {
        return Err(TunnelError::BadIpHeader);
    }
    let frag = u16::from_be_bytes([fl0, fl1]);
    Ok(OuterIp {
        sip: [s0, s1, s2, s3],
        dip: [d0, d1, d2, d3],
        proto,
        ihl,
        total,
        more_fragments: frag & IP_MF != 0,
        offset_nonzero: frag & IP_OFFSET != 0,
    })
}

/// The UDP payload: MPLSoUDP or VXLAN by destination port, else `None`. A non-first
/// fragment has no UDP header to tell, so it is `None` too.
fn parse_udp(ip: &OuterIp, payload: &[u8]) -> Result<Option<Inner>, TunnelError> {
    if ip.offset_nonzero {
        return Ok(None);
    }
    let udp: [u8; UDP_HLEN] = arr(payload, 0).ok_or(TunnelError::Short)?;
    let [_, _, d0, d1, l0, l1, _, _] = udp;
    let encap = match u16::from_be_bytes([d0, d1]) {
        MPLS_UDP_PORT => Encap::MplsOverUdp,
        VXLAN_PORT => Encap::Vxlan,
        _ => return Ok(None),
    };
    if ip.more_fragments {
        return Err(TunnelError::Fragment);
    }
    let udp_len = usize::from(u16::from_be_bytes([l0, l1]));
    if udp_len < UDP_HLEN || udp_len > ip.total.saturating_sub(ip.ihl) {
        return Err(TunnelError::Short);
    }
    // the part of the UDP payload in the head (the parsers below need its first bytes)
    let body = payload
        .get(UDP_HLEN..udp_len.min(payload.len()))
        .ok_or(TunnelError::Short)?;
    let (label, offset, v6) = match encap {
        Encap::Vxlan => parse_vxlan(body)?,
        Encap::MplsOverUdp | Encap::MplsOverGre => parse_mpls(body)?,
    };
    Ok(Some(Inner {
        encap,
        label,
        offset: UDP_HLEN + offset,
        v6,
    }))
}

/// The GRE payload: version 0, protocol MPLS, optional checksum/key/sequence skipped.
fn parse_gre(ip: &OuterIp, payload: &[u8]) -> Result<Inner, TunnelError> {
    if ip.more_fragments || ip.offset_nonzero {
        return Err(TunnelError::Fragment);
    }
    let [f0, f1, p0, p1] = arr::<GRE_HLEN>(payload, 0).ok_or(TunnelError::Short)?;
    if f0 & GRE_ROUTING != 0
        || f1 & GRE_VERSION != 0
        || u16::from_be_bytes([p0, p1]) != ETH_P_MPLS_UC
    {
        return Err(TunnelError::BadGre);
    }
    let opts = [GRE_CSUM, GRE_KEY, GRE_SEQ]
        .iter()
        .filter(|&&flag| f0 & flag != 0)
        .count();
    let mpls_off = GRE_HLEN + opts * GRE_OPT_LEN;
    let body = payload.get(mpls_off..).ok_or(TunnelError::Short)?;
    let (label, offset, v6) = parse_mpls(body)?;
    Ok(Inner {
        encap: Encap::MplsOverGre,
        label,
        offset: mpls_off + offset,
        v6,
    })
}

/// One MPLS label stack entry (bottom of stack) and the inner IP version after it.
/// Returns the label, the inner packet's offset in `body` and whether it is IPv6.
fn parse_mpls(body: &[u8]) -> Result<(u32, usize, bool), TunnelError> {
    let entry = u32::from_be_bytes(arr(body, 0).ok_or(TunnelError::Short)?);
    if entry & MPLS_BOS == 0 {
        return Err(TunnelError::NotBottomOfStack);
    }
    let v6 = match body.get(MPLS_HLEN).ok_or(TunnelError::Short)? >> 4 {
        4 => false,
        6 => true,
        _ => return Err(TunnelError::BadInner),
    };
    Ok((entry >> MPLS_LABEL_SHIFT, MPLS_HLEN, v6))
}

/// The VXLAN header and the inner Ethernet header's ethertype. Returns the VNI, the
/// inner Ethernet header's offset in `body` and whether the inner packet is IPv6.
fn parse_vxlan(body: &[u8]) -> Result<(u32, usize, bool), TunnelError> {
    let vx: [u8; VXLAN_HLEN] = arr(body, 0).ok_or(TunnelError::Short)?;
    let [flags, _, _, _, v0, v1, v2, _] = vx;
    if flags & VXLAN_FLAG_I == 0 {
        return Err(TunnelError::BadVxlan);
    }
    let ethertype = be16(body, VXLAN_HLEN + 2 * VROUTER_MAC.len()).ok_or(TunnelError::Short)?;
    let v6 = match ethertype {
        ETH_P_IPV4 => false,
        ETH_P_IPV6 => true,
        _ => return Err(TunnelError::BadInner),
    };
    Ok((u32::from_be_bytes([0, v0, v1, v2]), VXLAN_HLEN, v6))
}
