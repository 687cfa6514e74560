// SPDX-License-Identifier: GPL-2.0
//! The overlay on the wire: packets routed to a Tunnel nexthop leave the fabric vif in
//! MPLSoUDP, MPLSoGRE or VXLAN; tunnel packets addressed to this node that arrive on the
//! fabric vif are decapsulated, and the MPLS label or VNI names the nexthop that takes
//! the inner packet (a VRF translate nexthop routes it in its VRF).
//!
//! The fabric vif passes everything else to the host stack untouched (the rx handler
//! declines it). Unlike TF, which moves the node's address to vhost0 and relays the
//! host's traffic through the datapath, the node's address stays on the NIC: attaching
//! or detaching the fabric vif then cannot cut the node off its fabric (kubelet keeps its
//! API server), and the host's own traffic costs the datapath nothing.

use super::forward::{self, drop_packet, HEAD};
use super::vif::Vif;
use super::Router;
use crate::kapi::percpu::PacketCtx;
use crate::kapi::rcu;
use crate::kapi::skb::{Skb, TunnelError, TunnelHeaders, TunnelKind};
use crate::uapi::drop_reason as DR;
use crate::vrcore::nexthop::{self, Action, Tunnel};
use crate::vrcore::packet::{self, Headers, ETH_HLEN, IPV4_HLEN, L3};
use crate::vrcore::tunnel::{self as wire, Decap, Encap, Outer};

/// Sends `skb` (a routed packet, Ethernet header first, inner IP header at
/// `h.l3_offset`) through tunnel `t` out of the fabric vif `out`, with `label` (the MPLS
/// label or VNI). A GSO packet stays whole where the kernel can segment it after the
/// outer headers went on (VXLAN); otherwise it is cut into frames first.
#[allow(clippy::too_many_arguments)]
pub(super) fn output(
    r: &Router,
    vif: &Vif,
    out: &Vif,
    skb: Skb,
    h: &Headers,
    t: &Tunnel<'_>,
    label: Option<u32>,
    ctx: &PacketCtx,
) {
    let Some(label) = t.label.or(label) else {
        // a tunnel route without a label: nothing tells the other end where it goes
        return drop_packet(r, vif, skb, DR::INVALID_LABEL, ctx);
    };
    // one hash for the packet: every segment of it takes the same UDP source port
    let hash = packet::flow_hash(h);
    if !skb.is_gso() || gso_stays_whole(&skb, h, t.encap) {
        return encap_one(r, vif, out, skb, h, t, label, hash, ctx);
    }
    match skb.segment(h.l3_offset as u32) {
        Ok(segments) => {
            for seg in segments {
                encap_one(r, vif, out, seg, h, t, label, hash, ctx);
            }
        }
        Err(skb) => drop_packet(r, vif, skb, DR::NO_MEMORY, ctx),
    }
}

/// Whether a GSO packet can go into the tunnel whole, to be segmented late with its
/// outer headers. Only VXLAN: the kernel cannot segment MPLS inside UDP or GRE (both
/// layers would need the skb's one inner protocol). Not a packet that is a tunnel
/// packet already (one level of tunnel offload), nor one whose outer IPv4 length would
/// not fit 16 bits.
fn gso_stays_whole(skb: &Skb, h: &Headers, encap: Encap) -> bool {
    let inner_len = (skb.len() as usize).saturating_sub(h.l3_offset);
    encap == Encap::Vxlan
        && !skb.is_encapsulated()
        && inner_len + encap.overhead() <= usize::from(u16::MAX)
}

/// One packet into the tunnel (a frame, or a GSO packet segmented later): the inner TTL
/// goes down by one, the inner Ethernet header is replaced by the outer headers, and
/// the packet leaves `out` (with the nexthop's underlay Ethernet header), or goes by the
/// host's routing (without one: the kernel resolves the next hop, as for its own
/// tunnels; the agent need not track neighbours).
#[allow(clippy::too_many_arguments)]
fn encap_one(
    r: &Router,
    vif: &Vif,
    out: &Vif,
    mut skb: Skb,
    h: &Headers,
    t: &Tunnel<'_>,
    label: u32,
    flow_hash: u32,
    ctx: &PacketCtx,
) {
    let l3 = h.l3_offset;
    let inner_len = (skb.len() as usize).saturating_sub(l3);
    let outer_len = t.l2.len() + t.encap.overhead();
    if !skb.adjust_head(outer_len as i32 - l3 as i32) {
        return drop_packet(r, vif, skb, DR::PUSH, ctx);
    }
    let Some(head) = skb.head_mut(outer_len as u32 + HEAD) else {
        return drop_packet(r, vif, skb, DR::PULL, ctx);
    };
    let inner_v6 = matches!(h.l3, L3::Ipv6(_));
    let rewritten = if inner_v6 {
        packet::ipv6_decrement_hop_limit(head, outer_len).is_ok()
    } else {
        packet::ipv4_decrement_ttl(head, outer_len).is_ok()
    };
    let outer = Outer {
        encap: t.encap,
        l2: t.l2,
        sip: &t.sip,
        dip: &t.dip,
        label,
        inner_v6,
        inner_len,
        flow_hash,
        // DF is set: the ID of an atomic datagram means nothing (RFC 6864)
        ip_id: 0,
    };
    if !rewritten || wire::write_outer(head, &outer).is_err() {
        return drop_packet(r, vif, skb, DR::REWRITE_FAIL, ctx);
    }
    // The fabric never fragments a tunnel packet (DF): each frame must fit its MTU.
    match skb.tunnelled(&tunnel_headers(h, t), out.dev.mtu()) {
        Ok(()) => {}
        Err(TunnelError::TooBig) => return drop_packet(r, vif, skb, DR::FRAGMENTS, ctx),
        Err(TunnelError::NoMemory) => return drop_packet(r, vif, skb, DR::NO_MEMORY, ctx),
        Err(TunnelError::Invalid) => return drop_packet(r, vif, skb, DR::REWRITE_FAIL, ctx),
    }
    if t.l2.is_empty() {
        // no underlay header given: the host's routing finds the next hop
        forward::count_tx(out, &skb, ctx);
        skb.ip_output(&out.dev);
    } else {
        forward::output(out, skb, t.l2.len() as u32, ctx);
    }
}

/// Where the headers of a packet of `h` lie once tunnel `t`'s outer headers are on.
fn tunnel_headers(h: &Headers, t: &Tunnel<'_>) -> TunnelHeaders {
    let outer_l3 = t.l2.len();
    let inner_l3 = outer_l3 + t.encap.overhead();
    // the inner transport header keeps its distance from the inner IP header
    let inner_l4 = h
        .l4_offset()
        .and_then(|l4| l4.checked_sub(h.l3_offset))
        .map_or(inner_l3, |d| inner_l3 + d);
    TunnelHeaders {
        kind: match t.encap {
            Encap::Vxlan => TunnelKind::Vxlan,
            Encap::MplsOverUdp => TunnelKind::MplsOverUdp,
            Encap::MplsOverGre => TunnelKind::MplsOverGre,
        },
        outer_l3: outer_l3 as u32,
        outer_l4: (outer_l3 + IPV4_HLEN) as u32,
        inner_mac: (outer_l3 + t.encap.payload_offset()) as u32,
        inner_l3: inner_l3 as u32,
        inner_l4: inner_l4 as u32,
    }
}

/// A frame received on the fabric vif. A tunnel packet for this node is decapsulated
/// and taken (None); anything else is given back for the host stack.
pub(super) fn fabric_input(
    r: &Router,
    vif: &Vif,
    mut skb: Skb,
    ctx: &PacketCtx,
    guard: &rcu::Guard,
) -> Option<Skb> {
    let frame_len = skb.len() as usize;
    // read only: the host's frames go on unchanged (and uncopied when shared)
    let found = skb.head(HEAD).and_then(|head| find_tunnel(head, frame_len));
    let Some((l3, tunnel)) = found else {
        return Some(skb);
    };
    let d = match tunnel {
        Ok(d) if for_this_node(r, vif, &d, guard) => d,
        Ok(_) => return Some(skb), // another node's: the host routes or drops it
        Err(()) => {
            forward::count_rx(vif, &skb, ctx);
            drop_packet(r, vif, skb, DR::INVALID_PACKET, ctx);
            return None;
        }
    };
    forward::count_rx(vif, &skb, ctx);
    decap(r, vif, skb, l3, &d, ctx, guard);
    None
}

/// The outer IPv4 header's offset and what parsing the tunnel headers found; None for
/// a frame that is no tunnel packet at all (the host's traffic).
fn find_tunnel(head: &[u8], frame_len: usize) -> Option<(usize, Result<Decap, ()>)> {
    let h = packet::parse_head(head, frame_len).ok()?;
    if !matches!(h.l3, L3::Ipv4(_)) {
        return None;
    }
    let l3 = h.l3_offset;
    let outer = head.get(l3..)?;
    match wire::parse_decap(outer, frame_len.saturating_sub(l3)) {
        Ok(Some(d)) => Some((l3, Ok(d))),
        Ok(None) => None,
        // An IPv4 header the host would refuse anyway is the host's to count; a
        // malformed tunnel packet is ours.
        Err(wire::TunnelError::NotIpv4 | wire::TunnelError::BadIpHeader) => None,
        Err(_) => Some((l3, Err(()))),
    }
}

/// Whether the outer destination is this node: the fabric vif's address, or the host
/// vif's when the fabric vif has none.
fn for_this_node(r: &Router, vif: &Vif, d: &Decap, guard: &rcu::Guard) -> bool {
    let dip = u32::from_be_bytes(d.dip);
    if vif.cfg.ip != 0 {
        return vif.cfg.ip == dip;
    }
    r.host_vif()
        .and_then(|i| r.vifs.get(i, guard))
        .is_some_and(|host| host.cfg.ip != 0 && host.cfg.ip == dip)
}

/// Strips the outer headers, leaving an Ethernet frame addressed to the vRouter, and
/// hands it to the nexthop the label or VNI names.
#[allow(clippy::too_many_arguments)]
fn decap(
    r: &Router,
    vif: &Vif,
    mut skb: Skb,
    l3: usize,
    d: &Decap,
    ctx: &PacketCtx,
    guard: &rcu::Guard,
) {
    let nh = match d.encap {
        Encap::Vxlan => r.vxlan.get(d.label, guard).ok_or(DR::INVALID_VNID),
        Encap::MplsOverUdp | Encap::MplsOverGre => r.mpls.get(d.label).ok_or(DR::INVALID_LABEL),
    };
    let nh = match nh {
        Ok(nh) => nh,
        Err(reason) => return drop_packet(r, vif, skb, reason, ctx),
    };
    // MPLS carries the bare IP packet: an Ethernet header goes back in front of it.
    // VXLAN carries a whole frame: its header is rewritten for the vRouter.
    let inner = l3 + d.inner_offset;
    let eth_start = match d.encap {
        Encap::Vxlan => inner,
        Encap::MplsOverUdp | Encap::MplsOverGre => inner.saturating_sub(ETH_HLEN),
    };
    skb.csum_invalidate();
    if !skb.adjust_head(-(eth_start as i32)) {
        return drop_packet(r, vif, skb, DR::PULL, ctx);
    }
    if !skb.decapsulated() {
        return drop_packet(r, vif, skb, DR::NO_MEMORY, ctx);
    }
    let frame_len = skb.len() as usize;
    let parsed = skb.head_mut(HEAD).and_then(|head| {
        wire::write_inner_eth(head, d.inner_v6).ok()?;
        packet::parse_head(head, frame_len).ok()
    });
    let Some(h) = parsed.filter(|h| matches!(h.l3, L3::Ipv4(_) | L3::Ipv6(_))) else {
        return drop_packet(r, vif, skb, DR::INVALID_PACKET, ctx);
    };
    let nhs = r.nhs.rcu(guard);
    let res = nexthop::resolve_with(&nhs, nh, || packet::flow_hash(&h));
    match res.action {
        // the label's VRF routes it, as a packet from one of its pods would be
        Action::Translate { vrf } => forward::route_decapsulated(r, vif, vrf, skb, &h, ctx, guard),
        // TF's label per interface: straight to the pod
        _ => forward::act(r, vif, res.vrf, res, None, skb, &h, ctx, guard),
    }
}
