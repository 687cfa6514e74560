// SPDX-License-Identifier: GPL-2.0
//! What happens to a packet that enters through a vif: the datapath answers ARP and IPv6
//! neighbour solicitations for proxied addresses, routes IP packets sent to the vRouter
//! MAC in the vif's VRF (longest-prefix match, TTL, nexthop action) and counts every drop
//! by reason. Everything runs under the caller's RCU read lock, without other locks.

use super::flow::OnMiss;
use super::vif::{stat, Vif};
use super::Router;
use crate::kapi::percpu::PacketCtx;
use crate::kapi::rcu;
use crate::kapi::skb::Skb;
use crate::uapi::{drop_reason as DR, rt_flag, vif_flag, vrf_stat as VS};
use crate::vrcore::nexthop::{self, Action, Resolution};
use crate::vrcore::packet::{self, Arp, Headers, L3, L4, VROUTER_MAC};
use crate::vrcore::route::{Family, Match};

/// Bytes made linear and writable before parsing: Ethernet, a VLAN tag, IPv6 with
/// extension headers and the L4 header fit.
pub(super) const HEAD: u32 = 256;
const ETH_P_IP: u16 = 0x0800;
const ETH_P_IPV6: u16 = 0x86dd;

pub fn input(r: &Router, vif: &Vif, skb: Skb, ctx: &PacketCtx, guard: &rcu::Guard) {
    count_rx(vif, &skb, ctx);
    resume(r, vif, skb, ctx, guard)
}

pub(super) fn count_rx(vif: &Vif, skb: &Skb, ctx: &PacketCtx) {
    let stats = vif.stats.local(ctx);
    stats[stat::RX_PACKETS].add(1, ctx);
    stats[stat::RX_BYTES].add(u64::from(skb.len()), ctx);
}

/// The datapath after receive accounting: also where packets a flow held come back in
/// once the agent's verdict is there.
pub fn resume(r: &Router, vif: &Vif, mut skb: Skb, ctx: &PacketCtx, guard: &rcu::Guard) {
    let frame_len = skb.len() as usize;
    let parsed = match skb.head_mut(HEAD) {
        Some(head) => packet::parse_head(head, frame_len),
        None => return drop_packet(r, vif, skb, DR::PULL, ctx),
    };
    let Ok(h) = parsed else {
        return drop_packet(r, vif, skb, DR::INVALID_PACKET, ctx);
    };
    match h.l3 {
        L3::Arp(arp) => arp_input(r, vif, skb, &h, &arp, ctx, guard),
        L3::Ipv6(ip) if matches!(h.l4, L4::Nd { .. }) => {
            if let L4::Nd { target, sll } = h.l4 {
                nd_input(r, vif, skb, &h, ip.src, target, sll, ctx, guard)
            }
        }
        // Only L3 routing: frames not sent to the vRouter's MAC would need a bridge table.
        L3::Ipv4(_) | L3::Ipv6(_) if h.dst_mac != VROUTER_MAC => {
            drop_packet(r, vif, skb, DR::L2_NO_ROUTE, ctx)
        }
        L3::Ipv4(_) | L3::Ipv6(_) => route_input(r, vif, skb, &h, ctx, guard),
        L3::Other(_) => drop_packet(r, vif, skb, DR::INVALID_PROTOCOL, ctx),
    }
}

/// A packet a flow held, back with the verdict: through the flow step again (which
/// applies it, NAT included) and routed in the flow's VRF `vrf` (the vif's, or for a
/// decapsulated packet its label's).
pub fn resume_held(
    r: &Router,
    vif: &Vif,
    vrf: u32,
    mut skb: Skb,
    ctx: &PacketCtx,
    guard: &rcu::Guard,
) {
    let frame_len = skb.len() as usize;
    let parsed = skb
        .head_mut(HEAD)
        .and_then(|head| packet::parse_head(head, frame_len).ok());
    let Some(h) = parsed.filter(|h| matches!(h.l3, L3::Ipv4(_) | L3::Ipv6(_))) else {
        return drop_packet(r, vif, skb, DR::INVALID_PACKET, ctx);
    };
    if let Some((skb, h)) = super::flow::input(r, vif, vrf, skb, &h, OnMiss::Hold, ctx, guard) {
        route(r, vif, vrf, skb, &h, ctx, guard);
    }
}

pub(super) fn drop_packet(r: &Router, vif: &Vif, skb: Skb, reason: u32, ctx: &PacketCtx) {
    r.stats.drop(reason, ctx);
    vif.stats.local(ctx)[stat::DROPS].add(1, ctx);
    drop(skb);
}

/// Sends a frame out of `vif`: to the host stack for the host vif (sending on vhost0
/// would loop back into the datapath), else on its device.
pub(super) fn output(vif: &Vif, skb: Skb, l3_offset: u32, ctx: &PacketCtx) {
    count_tx(vif, &skb, ctx);
    if vif.is_host() {
        skb.to_host(&vif.dev);
    } else {
        skb.xmit(&vif.dev, l3_offset);
    }
}

pub(super) fn count_tx(vif: &Vif, skb: &Skb, ctx: &PacketCtx) {
    let stats = vif.stats.local(ctx);
    stats[stat::TX_PACKETS].add(1, ctx);
    stats[stat::TX_BYTES].add(u64::from(skb.len()), ctx);
}

fn lookup(r: &Router, vrf: u32, h: &Headers) -> Option<Match> {
    match &h.l3 {
        L3::Ipv4(ip) => r.routes.lookup(vrf, Family::Inet, &ip.dst),
        L3::Ipv6(ip) => r.routes.lookup(vrf, Family::Inet6, &ip.dst),
        _ => None,
    }
}

fn route_input(r: &Router, vif: &Vif, skb: Skb, h: &Headers, ctx: &PacketCtx, guard: &rcu::Guard) {
    // Policy-enabled vifs pass the flow table first; NAT may change the headers. The
    // host's packets to a policy-enabled pod are looked up without making entries: the
    // replies of the pods' connections that leave through the host (to a Service's
    // backend outside the pod networks, say) find their reverse entries there.
    let on_miss = if vif.flags() & vif_flag::POLICY != 0 {
        OnMiss::Hold
    } else if vif.is_host() && to_policy_port(r, vif.cfg.vrf, h, guard) {
        OnMiss::Pass
    } else {
        return route(r, vif, vif.cfg.vrf, skb, h, ctx, guard);
    };
    if let Some((skb, h)) = super::flow::input(r, vif, vif.cfg.vrf, skb, h, on_miss, ctx, guard) {
        route(r, vif, vif.cfg.vrf, skb, &h, ctx, guard);
    }
}

/// Routes a packet that came in on `vif` in VRF `vrf`.
pub(super) fn route(
    r: &Router,
    vif: &Vif,
    vrf: u32,
    skb: Skb,
    h: &Headers,
    ctx: &PacketCtx,
    guard: &rcu::Guard,
) {
    // No route: the implicit default is the discard nexthop 0.
    let found = lookup(r, vrf, h);
    let nh = found.map_or(0, |m| m.data.nh);
    let label = found
        .filter(|m| m.data.flags & rt_flag::LABEL_VALID != 0)
        .map(|m| m.data.label);
    let nhs = r.nhs.rcu(guard);
    let res = nexthop::resolve_with(&nhs, nh, || packet::flow_hash(h));
    act(r, vif, vrf, res, label, skb, h, ctx, guard)
}

/// Routes a decapsulated packet (from another node) in VRF `vrf`, its label's. One for a
/// policy-enabled pod passes the flow table first, keyed in that VRF, as the pod's own
/// packets are: its policy and its namespace's isolation hold for other nodes' pods too.
pub(super) fn route_decapsulated(
    r: &Router,
    fabric: &Vif,
    vrf: u32,
    skb: Skb,
    h: &Headers,
    ctx: &PacketCtx,
    guard: &rcu::Guard,
) {
    if !to_policy_port(r, vrf, h, guard) {
        return route(r, fabric, vrf, skb, h, ctx, guard);
    }
    if let Some((skb, h)) = super::flow::input(r, fabric, vrf, skb, h, OnMiss::Hold, ctx, guard) {
        route(r, fabric, vrf, skb, &h, ctx, guard);
    }
}

/// Whether the route for `h` in `vrf` leads to a policy-enabled vif (TF: the
/// destination's nexthop has the policy flag).
fn to_policy_port(r: &Router, vrf: u32, h: &Headers, guard: &rcu::Guard) -> bool {
    let Some(m) = lookup(r, vrf, h) else {
        return false;
    };
    let nhs = r.nhs.rcu(guard);
    let res = nexthop::resolve_with(&nhs, m.data.nh, || packet::flow_hash(h));
    match res.action {
        Action::Encap { oif, .. } => r
            .vifs
            .get(oif, guard)
            .is_some_and(|v| v.flags() & vif_flag::POLICY != 0),
        _ => false,
    }
}

/// Carries out a nexthop's resolution for a packet that came in on `vif`, counting it to
/// VRF `vrf`; `label` is the route's (a tunnel's MPLS label or VNI).
#[allow(clippy::too_many_arguments)]
pub(super) fn act(
    r: &Router,
    vif: &Vif,
    vrf: u32,
    res: Resolution<'_>,
    label: Option<u32>,
    skb: Skb,
    h: &Headers,
    ctx: &PacketCtx,
    guard: &rcu::Guard,
) {
    for &s in res.stats.iter().flatten() {
        r.stats.vrf(vrf, s, ctx);
    }
    match res.action {
        Action::Drop(reason) => drop_packet(r, vif, skb, reason, ctx),
        Action::Host { oif } => match r.vifs.get(oif, guard).filter(|v| v.is_host()) {
            Some(host) => output(host, skb, h.l3_offset as u32, ctx),
            None => drop_packet(r, vif, skb, DR::INVALID_IF, ctx),
        },
        Action::Encap { oif, header } => match r.vifs.get(oif, guard) {
            Some(out) => encap_output(r, vif, out, skb, h, header, ctx, guard),
            None => drop_packet(r, vif, skb, DR::INVALID_IF, ctx),
        },
        Action::Tunnel(t) => match r.vifs.get(t.oif, guard) {
            Some(out) => {
                if let Some(skb) = ttl_left(r, vif, skb, h, ctx, guard) {
                    super::tunnel::output(r, vif, out, skb, h, &t, label, ctx);
                }
            }
            None => drop_packet(r, vif, skb, DR::INVALID_IF, ctx),
        },
        // Only a decapsulated packet changes VRF (its label's): a route that did could
        // send VRFs into each other in a loop.
        Action::Translate { .. } => drop_packet(r, vif, skb, DR::INVALID_NH, ctx),
    }
}

/// The packet back when its TTL (hop limit) allows one more hop; else ICMP time
/// exceeded goes to the sender and the packet is dropped.
fn ttl_left(
    r: &Router,
    vif: &Vif,
    mut skb: Skb,
    h: &Headers,
    ctx: &PacketCtx,
    guard: &rcu::Guard,
) -> Option<Skb> {
    let expired = match &h.l3 {
        L3::Ipv4(ip) => ip.ttl <= 1,
        L3::Ipv6(ip) => ip.hop_limit <= 1,
        _ => false,
    };
    if !expired {
        return Some(skb);
    }
    time_exceeded(r, vif, &mut skb, h, ctx, guard);
    drop_packet(r, vif, skb, DR::TTL_EXCEEDED, ctx);
    None
}

/// Routes out of `out`: TTL/hop limit down by one (ICMP time exceeded when it runs out),
/// the received L2 header replaced by the nexthop's.
#[allow(clippy::too_many_arguments)]
fn encap_output(
    r: &Router,
    vif: &Vif,
    out: &Vif,
    skb: Skb,
    h: &Headers,
    header: &[u8],
    ctx: &PacketCtx,
    guard: &rcu::Guard,
) {
    let l3 = h.l3_offset;
    let ethertype = match &h.l3 {
        L3::Ipv4(_) => ETH_P_IP,
        L3::Ipv6(_) => ETH_P_IPV6,
        _ => return drop_packet(r, vif, skb, DR::INVALID_PROTOCOL, ctx),
    };
    let Some(mut skb) = ttl_left(r, vif, skb, h, ctx, guard) else {
        return;
    };
    // Usually the new L2 header is as long as the old one: one pass rewrites both.
    let delta = header.len() as i32 - l3 as i32;
    if delta != 0 && !skb.adjust_head(delta) {
        return drop_packet(r, vif, skb, DR::PUSH, ctx);
    }
    let l3 = header.len();
    let Some(head) = skb.head_mut(HEAD) else {
        return drop_packet(r, vif, skb, DR::PULL, ctx);
    };
    let rewritten = match &h.l3 {
        L3::Ipv4(_) => packet::ipv4_decrement_ttl(head, l3).is_ok(),
        _ => packet::ipv6_decrement_hop_limit(head, l3).is_ok(),
    };
    let Some(l2) = head.get_mut(..l3).filter(|_| rewritten) else {
        return drop_packet(r, vif, skb, DR::REWRITE_FAIL, ctx);
    };
    l2.copy_from_slice(header);
    // The nexthop's header names IPv4; the packet decides.
    if let Some(et) = l2.len().checked_sub(2).and_then(|at| l2.get_mut(at..)) {
        et.copy_from_slice(&ethertype.to_be_bytes());
    }
    output(out, skb, header.len() as u32, ctx);
}

/// Sends ICMP time exceeded back to the sender, from the host vif's address (the node's),
/// when there is one and RFC 1812/4443 allow an error for this packet.
fn time_exceeded(
    r: &Router,
    vif: &Vif,
    skb: &mut Skb,
    h: &Headers,
    ctx: &PacketCtx,
    guard: &rcu::Guard,
) {
    let Some(host) = r.host_vif().and_then(|i| r.vifs.get(i, guard)) else {
        return;
    };
    let l3 = h.l3_offset;
    let Some(head) = skb.head_mut(HEAD) else {
        return;
    };
    let Some(orig) = head.get(l3..) else { return };
    let mut buf = [0u8; 14 + 48 + HEAD as usize];
    let built = match &h.l3 {
        L3::Ipv4(_) if packet::may_send_icmp4_error(h) && host.cfg.ip != 0 => {
            packet::build_icmp4_time_exceeded(
                &mut buf,
                orig,
                host.cfg.ip.to_be_bytes(),
                h.src_mac,
                VROUTER_MAC,
            )
        }
        L3::Ipv6(_) if packet::may_send_icmp6_error(h) && host.cfg.ip6 != [0; 16] => {
            packet::build_icmp6_time_exceeded(&mut buf, orig, host.cfg.ip6, h.src_mac, VROUTER_MAC)
        }
        _ => return,
    };
    let Ok(n) = built else { return };
    send_built(r, vif, buf.get(..n), ctx);
}

/// Copies a frame built on the stack into a new packet and sends it out of `vif`.
fn send_built(r: &Router, vif: &Vif, frame: Option<&[u8]>, ctx: &PacketCtx) {
    let Some(frame) = frame else { return };
    // Short frames are padded to the Ethernet minimum (zeroes from Skb::alloc).
    let len = frame.len().max(60);
    let Some(mut skb) = Skb::alloc(len as u32) else {
        r.stats.drop(DR::NO_MEMORY, ctx);
        return;
    };
    match skb
        .head_mut(len as u32)
        .and_then(|b| b.get_mut(..frame.len()))
    {
        Some(b) => b.copy_from_slice(frame),
        None => return,
    }
    output(vif, skb, 14, ctx);
}

fn proxied(m: Option<Match>) -> Option<[u8; 6]> {
    let m = m?;
    if m.data.flags & rt_flag::PROXY_ARP == 0 {
        return None;
    }
    // A stitched MAC answers for the address; otherwise the vRouter does.
    Some(if m.data.mac != [0; 6] {
        m.data.mac
    } else {
        VROUTER_MAC
    })
}

/// ARP requests for proxied addresses are answered with the vRouter MAC (or the route's
/// stitched MAC); anything else ARP is dropped.
#[allow(clippy::too_many_arguments)]
fn arp_input(
    r: &Router,
    vif: &Vif,
    skb: Skb,
    h: &Headers,
    arp: &Arp,
    ctx: &PacketCtx,
    guard: &rcu::Guard,
) {
    let _ = guard;
    if arp.op != packet::ARP_OP_REQUEST || packet::is_gratuitous_or_probe(arp) {
        return drop_packet(r, vif, skb, DR::INVALID_ARP, ctx);
    }
    let vrf = vif.cfg.vrf;
    let route = r.routes.lookup(vrf, Family::Inet, &arp.tpa);
    if route.is_some_and(|m| m.data.flags & rt_flag::TRAP_ARP != 0) {
        return drop_packet(r, vif, skb, DR::TRAP_NO_IF, ctx); // no agent channel yet
    }
    let Some(mac) = proxied(route) else {
        return drop_packet(r, vif, skb, DR::INVALID_ARP, ctx);
    };
    let mut buf = [0u8; 64];
    let Ok(n) = packet::build_arp_reply(&mut buf, arp, h.src_mac, mac) else {
        return drop_packet(r, vif, skb, DR::MISC, ctx);
    };
    r.stats.vrf(vrf, VS::ARP_VIRTUAL_PROXY, ctx);
    skb.consume();
    send_built(r, vif, buf.get(..n), ctx);
}

/// Neighbour solicitations for proxied IPv6 addresses get an advertisement with the
/// vRouter MAC (router flag set). Duplicate address detection probes get no answer.
#[allow(clippy::too_many_arguments)]
fn nd_input(
    r: &Router,
    vif: &Vif,
    skb: Skb,
    h: &Headers,
    src: [u8; 16],
    target: [u8; 16],
    sll: Option<[u8; 6]>,
    ctx: &PacketCtx,
    guard: &rcu::Guard,
) {
    let _ = guard;
    if src == [0; 16] {
        return skb.consume(); // DAD: the address is the sender's to claim
    }
    let vrf = vif.cfg.vrf;
    let Some(mac) = proxied(r.routes.lookup(vrf, Family::Inet6, &target)) else {
        return drop_packet(r, vif, skb, DR::INVALID_ARP, ctx);
    };
    let mut buf = [0u8; 128];
    let to = sll.unwrap_or(h.src_mac);
    let Ok(n) = packet::build_neighbor_advert(&mut buf, src, to, target, mac, true) else {
        return drop_packet(r, vif, skb, DR::MISC, ctx);
    };
    r.stats.vrf(vrf, VS::ND_VIRTUAL_PROXY, ctx);
    skb.consume();
    send_built(r, vif, buf.get(..n), ctx);
}
