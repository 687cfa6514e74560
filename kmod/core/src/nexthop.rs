// SPDX-License-Identifier: GPL-2.0
//! Nexthops: what they are, which configurations are valid, and how a routed packet's
//! nexthop resolves to one action (ECMP composites pick a member by flow hash, so one
//! flow always takes the same member).

use super::tunnel::Encap;
use super::uapi::{
    addr_family, drop_reason, nh_flag, nh_type, vrf_stat, COMPOSITE_MAX, ENCAP_MAX, NH_TUNNEL_FLAGS,
};

/// Longest tunnel endpoint address (IPv6).
pub const TUNNEL_ADDR_MAX: usize = 16;

/// One nexthop, immutable once published (a change publishes a new one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Nexthop {
    pub id: u32,
    /// `nh_type` value.
    pub kind: u32,
    /// AF_INET or AF_INET6 (display only).
    pub family: u32,
    /// `nh_flag` bits.
    pub flags: u32,
    pub vrf: u32,
    /// Outgoing vif (Encap, Tunnel) or the host vif (Receive, L2 Receive).
    pub oif: u32,
    /// Encap: the pod's Ethernet header; Tunnel: the underlay's (optional).
    encap: [u8; ENCAP_MAX],
    encap_len: u8,
    /// Tunnel: outer source and destination addresses, network byte order, `tun_len`
    /// bytes each (4 for AF_INET, 16 for AF_INET6).
    tun_sip: [u8; TUNNEL_ADDR_MAX],
    tun_dip: [u8; TUNNEL_ADDR_MAX],
    tun_len: u8,
    members: [u32; COMPOSITE_MAX],
    labels: [u32; COMPOSITE_MAX],
    member_count: u8,
}

/// Why a nexthop configuration is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NhError {
    /// Nexthop 0 is the discard nexthop; it cannot be replaced or deleted.
    Reserved,
    UnknownType,
    /// Encap, Tunnel and Receive nexthops need an outgoing vif.
    MissingOif,
    /// The outgoing vif does not exist.
    NoSuchVif,
    /// Encap data must be an Ethernet header: 14 bytes, or 18 with an 802.1Q tag.
    EncapLength,
    EncapTooLong,
    NoMembers,
    TooManyMembers,
    /// More labels than members.
    LabelCount,
    /// A member nexthop does not exist.
    NoSuchMember,
    /// A composite cannot contain itself or another composite.
    NestedComposite,
    /// Replacing a composite's member with a composite would nest composites.
    MemberOfComposite,
    UnsupportedFlags,
    /// A Tunnel nexthop carries exactly one of MPLSoGRE, MPLSoUDP, VXLAN.
    TunnelFlags,
    /// Tunnel flags on a nexthop that is not a Tunnel.
    TunnelFlagsOnOtherType,
    /// A Tunnel nexthop without its source or destination address.
    MissingTunnelAddress,
    /// Tunnel addresses are 4 bytes for AF_INET, 16 for AF_INET6 (the nexthop's family).
    TunnelAddressLength,
}

impl Nexthop {
    /// The discard nexthop, id 0, present from load to unload.
    pub const fn discard() -> Nexthop {
        Nexthop {
            id: 0,
            kind: nh_type::DISCARD,
            family: 2,
            flags: nh_flag::VALID,
            vrf: 0,
            oif: 0,
            encap: [0; ENCAP_MAX],
            encap_len: 0,
            tun_sip: [0; TUNNEL_ADDR_MAX],
            tun_dip: [0; TUNNEL_ADDR_MAX],
            tun_len: 0,
            members: [0; COMPOSITE_MAX],
            labels: [0; COMPOSITE_MAX],
            member_count: 0,
        }
    }

    /// A nexthop of `kind` with no encap data and no members yet.
    pub const fn new(id: u32, kind: u32, family: u32, flags: u32, vrf: u32, oif: u32) -> Nexthop {
        let mut nh = Nexthop::discard();
        nh.id = id;
        nh.kind = kind;
        nh.family = family;
        nh.flags = flags | nh_flag::VALID;
        nh.vrf = vrf;
        nh.oif = oif;
        nh
    }

    pub fn set_encap(&mut self, data: &[u8]) -> Result<(), NhError> {
        let dst = self
            .encap
            .get_mut(..data.len())
            .ok_or(NhError::EncapTooLong)?;
        dst.copy_from_slice(data);
        self.encap_len = data.len() as u8;
        Ok(())
    }

    /// Sets a tunnel's outer source and destination addresses (network byte order): 4
    /// bytes each for an AF_INET nexthop, 16 for AF_INET6.
    pub fn set_tunnel(&mut self, sip: &[u8], dip: &[u8]) -> Result<(), NhError> {
        let len = match self.family {
            addr_family::INET => 4,
            addr_family::INET6 => 16,
            _ => return Err(NhError::TunnelAddressLength),
        };
        if sip.len() != len || dip.len() != len {
            return Err(NhError::TunnelAddressLength);
        }
        let s = self
            .tun_sip
            .get_mut(..len)
            .ok_or(NhError::TunnelAddressLength)?;
        s.copy_from_slice(sip);
        let d = self
            .tun_dip
            .get_mut(..len)
            .ok_or(NhError::TunnelAddressLength)?;
        d.copy_from_slice(dip);
        self.tun_len = len as u8;
        Ok(())
    }

    /// Sets the members (and optional per-member labels, 0 when absent).
    pub fn set_members(
        &mut self,
        members: impl Iterator<Item = u32>,
        labels: impl Iterator<Item = u32>,
    ) -> Result<(), NhError> {
        let mut n = 0usize;
        for m in members {
            *self.members.get_mut(n).ok_or(NhError::TooManyMembers)? = m;
            n += 1;
        }
        for (l, label) in labels.enumerate() {
            if l >= n {
                return Err(NhError::LabelCount);
            }
            *self.labels.get_mut(l).ok_or(NhError::LabelCount)? = label;
        }
        self.member_count = n as u8;
        Ok(())
    }

    pub fn encap(&self) -> &[u8] {
        self.encap.get(..self.encap_len as usize).unwrap_or(&[])
    }

    /// Tunnel: the outer source address (empty when unset).
    pub fn tun_sip(&self) -> &[u8] {
        self.tun_sip.get(..self.tun_len as usize).unwrap_or(&[])
    }

    /// Tunnel: the outer destination address (empty when unset).
    pub fn tun_dip(&self) -> &[u8] {
        self.tun_dip.get(..self.tun_len as usize).unwrap_or(&[])
    }

    pub fn members(&self) -> &[u32] {
        self.members
            .get(..self.member_count as usize)
            .unwrap_or(&[])
    }

    pub fn labels(&self) -> &[u32] {
        self.labels.get(..self.member_count as usize).unwrap_or(&[])
    }

    pub fn is_composite(&self) -> bool {
        self.kind == nh_type::COMPOSITE
    }

    /// Nexthop ids this one holds a reference on (its composite members).
    pub fn references(&self) -> &[u32] {
        self.members()
    }
}

/// Read access to the nexthop table (the kernel's RCU table, a model in tests).
pub trait Nexthops {
    fn nexthop(&self, id: u32) -> Option<&Nexthop>;
    /// Whether some composite lists `id` as a member.
    fn in_composite(&self, id: u32) -> bool;
}

/// Checks a new or replacing nexthop against the table; `vif_exists` answers for oifs.
pub fn validate(
    nh: &Nexthop,
    table: &impl Nexthops,
    vif_exists: impl Fn(u32) -> bool,
) -> Result<(), NhError> {
    if nh.id == 0 {
        return Err(NhError::Reserved);
    }
    if nh.flags & !(nh_flag::VALID | nh_flag::POLICY | nh_flag::COMPOSITE_ECMP | NH_TUNNEL_FLAGS)
        != 0
    {
        return Err(NhError::UnsupportedFlags);
    }
    if nh.kind != nh_type::TUNNEL && nh.flags & NH_TUNNEL_FLAGS != 0 {
        return Err(NhError::TunnelFlagsOnOtherType);
    }
    match nh.kind {
        nh_type::DISCARD | nh_type::RESOLVE => Ok(()),
        nh_type::RECEIVE | nh_type::L2_RECEIVE => {
            if vif_exists(nh.oif) {
                Ok(())
            } else {
                Err(NhError::NoSuchVif)
            }
        }
        nh_type::ENCAP => {
            if !vif_exists(nh.oif) {
                return Err(NhError::NoSuchVif);
            }
            match nh.encap().len() {
                14 | 18 => Ok(()),
                _ => Err(NhError::EncapLength),
            }
        }
        nh_type::COMPOSITE => {
            if nh.members().is_empty() {
                return Err(NhError::NoMembers);
            }
            if table.in_composite(nh.id) {
                return Err(NhError::MemberOfComposite);
            }
            for &m in nh.members() {
                if m == nh.id {
                    return Err(NhError::NestedComposite);
                }
                match table.nexthop(m) {
                    None => return Err(NhError::NoSuchMember),
                    Some(member) if member.is_composite() => return Err(NhError::NestedComposite),
                    Some(_) => {}
                }
            }
            Ok(())
        }
        nh_type::TUNNEL => {
            if (nh.flags & NH_TUNNEL_FLAGS).count_ones() != 1 {
                return Err(NhError::TunnelFlags);
            }
            if !vif_exists(nh.oif) {
                return Err(NhError::NoSuchVif);
            }
            if nh.tun_len == 0 {
                return Err(NhError::MissingTunnelAddress);
            }
            // The underlay's Ethernet header, when given, is a whole one.
            match nh.encap().len() {
                0 | 14 | 18 => Ok(()),
                _ => Err(NhError::EncapLength),
            }
        }
        // Names the VRF a decapsulated packet is routed in (an MPLS label's or a VNI's).
        nh_type::VRF_TRANSLATE => Ok(()),
        _ => Err(NhError::UnknownType),
    }
}

/// What to do with a routed packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action<'a> {
    /// Drop, counting `reason` (a `drop_reason` value).
    Drop(u32),
    /// Deliver to the host stack through vif `oif` (the vhost).
    Host { oif: u32 },
    /// Replace the L2 header with `header` and send out of vif `oif`.
    Encap { oif: u32, header: &'a [u8] },
    /// Put the packet in a tunnel to another node and send it out of the fabric vif.
    Tunnel(Tunnel<'a>),
    /// Route the packet again in VRF `vrf` (only a decapsulated packet may do this: a
    /// route to a VRF translate nexthop would let VRFs route into each other in a loop).
    Translate { vrf: u32 },
}

/// Where and how a tunnel nexthop sends: the outer headers come from these.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tunnel<'a> {
    /// The fabric vif.
    pub oif: u32,
    pub encap: Encap,
    /// The underlay's Ethernet header (14 or 18 bytes), or empty: the host's routing
    /// then sends the outer packet.
    pub l2: &'a [u8],
    /// Outer IPv4 source (this node) and destination (the other node).
    pub sip: [u8; 4],
    pub dip: [u8; 4],
    /// The ECMP composite member's label, when the composite gives one (else the
    /// route's label is used).
    pub label: Option<u32>,
}

/// An action plus the per-VRF counters (`vrf_stat` values) it accounts to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resolution<'a> {
    pub action: Action<'a>,
    /// The VRF of the nexthop that produced the action.
    pub vrf: u32,
    pub stats: [Option<u32>; 2],
}

/// Picks one of `n` members for a flow: multiply-shift maps the 32-bit hash onto 0..n
/// without the bias-prone, slower `%`.
pub fn pick(hash: u32, n: usize) -> Option<usize> {
    if n == 0 {
        return None;
    }
    Some(((u64::from(hash) * n as u64) >> 32) as usize)
}

/// Resolves nexthop `id` for a packet whose flow hash is `flow_hash`.
pub fn resolve<T: Nexthops>(table: &T, id: u32, flow_hash: u32) -> Resolution<'_> {
    resolve_with(table, id, || flow_hash)
}

/// Like `resolve`, computing the flow hash only when a composite needs it.
pub fn resolve_with<T: Nexthops>(
    table: &T,
    id: u32,
    flow_hash: impl FnOnce() -> u32,
) -> Resolution<'_> {
    let Some(nh) = table.nexthop(id) else {
        return Resolution {
            action: Action::Drop(drop_reason::INVALID_NH),
            vrf: 0,
            stats: [None, None],
        };
    };
    if !nh.is_composite() {
        return resolve_single(nh, None);
    }
    let picked = pick(flow_hash(), nh.members().len());
    let member = picked
        .and_then(|i| nh.members().get(i))
        .and_then(|&m| table.nexthop(m));
    // Label 0 is MPLS's reserved IPv4 explicit null: it stands for "no label" here.
    let label = picked
        .and_then(|i| nh.labels().get(i))
        .copied()
        .filter(|&l| l != 0);
    match member {
        // Members are never composites (validate), so one level is all there is.
        Some(m) if !m.is_composite() => {
            let mut res = resolve_single(m, Some(nh.vrf));
            if let Action::Tunnel(t) = &mut res.action {
                t.label = label;
            }
            res
        }
        _ => Resolution {
            action: Action::Drop(drop_reason::INVALID_NH),
            vrf: nh.vrf,
            stats: [Some(vrf_stat::ECMP_COMPOSITES), None],
        },
    }
}

fn resolve_single(nh: &Nexthop, composite_vrf: Option<u32>) -> Resolution<'_> {
    let (action, stat) = match nh.kind {
        nh_type::DISCARD => (Action::Drop(drop_reason::DISCARD), vrf_stat::DISCARDS),
        // Resolve would trap to the agent; there is no agent channel yet.
        nh_type::RESOLVE => (Action::Drop(drop_reason::TRAP_NO_IF), vrf_stat::RESOLVES),
        nh_type::RECEIVE => (Action::Host { oif: nh.oif }, vrf_stat::RECEIVES),
        nh_type::L2_RECEIVE => (Action::Host { oif: nh.oif }, vrf_stat::L2_RECEIVES),
        nh_type::ENCAP => (
            Action::Encap {
                oif: nh.oif,
                header: nh.encap(),
            },
            vrf_stat::ENCAPS,
        ),
        nh_type::TUNNEL => match tunnel_action(nh) {
            Some((t, stat)) => (Action::Tunnel(t), stat),
            None => {
                return Resolution {
                    action: Action::Drop(drop_reason::INVALID_NH),
                    vrf: nh.vrf,
                    stats: [None, None],
                }
            }
        },
        nh_type::VRF_TRANSLATE => (Action::Translate { vrf: nh.vrf }, vrf_stat::VRF_TRANSLATES),
        _ => {
            return Resolution {
                action: Action::Drop(drop_reason::INVALID_NH),
                vrf: nh.vrf,
                stats: [None, None],
            }
        }
    };
    let ecmp = composite_vrf.map(|_| vrf_stat::ECMP_COMPOSITES);
    Resolution {
        action,
        vrf: composite_vrf.unwrap_or(nh.vrf),
        stats: [Some(stat), ecmp],
    }
}

/// A tunnel nexthop's action and its VRF counter. None for an IPv6 underlay, which the
/// datapath does not build yet.
fn tunnel_action(nh: &Nexthop) -> Option<(Tunnel<'_>, u32)> {
    let encap = Encap::from_nh_flags(nh.flags)?;
    let sip: [u8; 4] = nh.tun_sip().try_into().ok()?;
    let dip: [u8; 4] = nh.tun_dip().try_into().ok()?;
    let stat = match encap {
        Encap::MplsOverUdp => vrf_stat::UDP_MPLS_TUNNELS,
        Encap::MplsOverGre => vrf_stat::GRE_MPLS_TUNNELS,
        Encap::Vxlan => vrf_stat::VXLAN_TUNNELS,
    };
    let t = Tunnel {
        oif: nh.oif,
        encap,
        l2: nh.encap(),
        sip,
        dip,
        label: None,
    };
    Some((t, stat))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[derive(Default)]
    struct Table(BTreeMap<u32, Nexthop>);

    impl Nexthops for Table {
        fn nexthop(&self, id: u32) -> Option<&Nexthop> {
            self.0.get(&id)
        }
        fn in_composite(&self, id: u32) -> bool {
            self.0
                .values()
                .any(|n| n.is_composite() && n.members().contains(&id))
        }
    }

    fn encap(id: u32, oif: u32) -> Nexthop {
        let mut nh = Nexthop::new(id, nh_type::ENCAP, 2, 0, 1, oif);
        nh.set_encap(&[2, 0, 0, 0, 0, oif as u8, 0, 0, 0x5e, 0, 1, 0, 8, 0])
            .unwrap();
        nh
    }

    fn composite(id: u32, members: &[u32]) -> Nexthop {
        let mut nh = Nexthop::new(id, nh_type::COMPOSITE, 2, nh_flag::COMPOSITE_ECMP, 1, 0);
        nh.set_members(members.iter().copied(), core::iter::empty())
            .unwrap();
        nh
    }

    fn table() -> Table {
        let mut t = Table::default();
        t.0.insert(0, Nexthop::discard());
        t.0.insert(10, encap(10, 3));
        t.0.insert(11, encap(11, 4));
        t
    }

    #[test]
    fn validation_rejects_bad_configs() {
        let t = table();
        let vifs = |v: u32| v == 3 || v == 4 || v == 1;
        assert_eq!(
            validate(&Nexthop::discard(), &t, vifs),
            Err(NhError::Reserved)
        );
        assert_eq!(validate(&encap(12, 9), &t, vifs), Err(NhError::NoSuchVif));
        let mut short = encap(12, 3);
        short.set_encap(&[1, 2, 3]).unwrap();
        assert_eq!(validate(&short, &t, vifs), Err(NhError::EncapLength));
        assert_eq!(short.set_encap(&[0; 19]), Err(NhError::EncapTooLong));
        assert_eq!(
            validate(&composite(20, &[10, 99]), &t, vifs),
            Err(NhError::NoSuchMember)
        );
        assert_eq!(
            validate(&composite(20, &[10, 20]), &t, vifs),
            Err(NhError::NestedComposite)
        );
        assert_eq!(
            validate(&composite(20, &[]), &t, vifs),
            Err(NhError::NoMembers)
        );
        let mut t2 = table();
        t2.0.insert(20, composite(20, &[10, 11]));
        assert_eq!(
            validate(&composite(21, &[10, 20]), &t2, vifs),
            Err(NhError::NestedComposite)
        );
        // replacing member 10 with a composite would nest
        assert_eq!(
            validate(&composite(10, &[11]), &t2, vifs),
            Err(NhError::MemberOfComposite)
        );
        assert_eq!(validate(&composite(21, &[10, 11]), &t2, vifs), Ok(()));
        let too_many = Nexthop::new(22, nh_type::COMPOSITE, 2, 0, 1, 0)
            .set_members(0..(COMPOSITE_MAX as u32 + 1), core::iter::empty());
        assert_eq!(too_many, Err(NhError::TooManyMembers));
        let weird = Nexthop::new(24, 42, 2, 0, 0, 3);
        assert_eq!(validate(&weird, &t, vifs), Err(NhError::UnknownType));
    }

    fn tunnel(id: u32, family: u32, flags: u32, oif: u32) -> Nexthop {
        let mut nh = Nexthop::new(id, nh_type::TUNNEL, family, flags, 0, oif);
        match family {
            addr_family::INET6 => nh.set_tunnel(&[0xfd; 16], &[0xfe; 16]).unwrap(),
            _ => nh.set_tunnel(&[8, 0, 0, 2], &[8, 0, 0, 3]).unwrap(),
        }
        nh
    }

    #[test]
    fn tunnels_validate_flags_vif_and_addresses() {
        let t = table();
        let vifs = |v: u32| v == 3;
        for f in [
            nh_flag::TUNNEL_GRE,
            nh_flag::TUNNEL_UDP_MPLS,
            nh_flag::TUNNEL_VXLAN,
        ] {
            assert_eq!(validate(&tunnel(30, 2, f, 3), &t, vifs), Ok(()));
            assert_eq!(validate(&tunnel(30, 10, f, 3), &t, vifs), Ok(()));
        }
        let v4 = tunnel(30, addr_family::INET, nh_flag::TUNNEL_UDP_MPLS, 3);
        assert_eq!(v4.tun_sip(), [8, 0, 0, 2]);
        assert_eq!(v4.tun_dip(), [8, 0, 0, 3]);
        assert_eq!(
            validate(&tunnel(30, 2, 0, 3), &t, vifs),
            Err(NhError::TunnelFlags)
        );
        let two = nh_flag::TUNNEL_GRE | nh_flag::TUNNEL_VXLAN;
        assert_eq!(
            validate(&tunnel(30, 2, two, 3), &t, vifs),
            Err(NhError::TunnelFlags)
        );
        assert_eq!(
            validate(&tunnel(30, 2, nh_flag::TUNNEL_GRE, 9), &t, vifs),
            Err(NhError::NoSuchVif)
        );
        let bare = Nexthop::new(30, nh_type::TUNNEL, 2, nh_flag::TUNNEL_GRE, 0, 3);
        assert_eq!(
            validate(&bare, &t, vifs),
            Err(NhError::MissingTunnelAddress)
        );
        // address lengths follow the family, and a failed set changes nothing
        let mut nh = tunnel(30, addr_family::INET, nh_flag::TUNNEL_GRE, 3);
        assert_eq!(
            nh.set_tunnel(&[0; 16], &[0; 16]),
            Err(NhError::TunnelAddressLength)
        );
        assert_eq!(
            nh.set_tunnel(&[1, 2, 3, 4], &[0; 16]),
            Err(NhError::TunnelAddressLength)
        );
        assert_eq!(nh.tun_dip(), [8, 0, 0, 3]);
        let mut nh6 = Nexthop::new(31, nh_type::TUNNEL, addr_family::INET6, 0, 0, 3);
        assert_eq!(
            nh6.set_tunnel(&[1, 2, 3, 4], &[1, 2, 3, 4]),
            Err(NhError::TunnelAddressLength)
        );
        let mut odd = Nexthop::new(32, nh_type::TUNNEL, 7, 0, 0, 3);
        assert_eq!(
            odd.set_tunnel(&[1, 2, 3, 4], &[1, 2, 3, 4]),
            Err(NhError::TunnelAddressLength)
        );
        // the underlay header is optional, but whole when given
        nh.set_encap(&[0; 14]).unwrap();
        assert_eq!(validate(&nh, &t, vifs), Ok(()));
        nh.set_encap(&[0; 6]).unwrap();
        assert_eq!(validate(&nh, &t, vifs), Err(NhError::EncapLength));
        // tunnel flags belong to tunnels
        let mut e = encap(12, 3);
        e.flags |= nh_flag::TUNNEL_VXLAN;
        assert_eq!(validate(&e, &t, vifs), Err(NhError::TunnelFlagsOnOtherType));
    }

    #[test]
    fn tunnels_resolve_to_their_outer_headers() {
        let mut t = table();
        let mut udp = tunnel(30, 2, nh_flag::TUNNEL_UDP_MPLS, 3);
        udp.set_encap(&[0xaa; 14]).unwrap();
        t.0.insert(30, udp);
        let r = resolve(&t, 30, 0);
        let Action::Tunnel(tun) = r.action else {
            panic!("{:?}", r.action)
        };
        assert_eq!(tun.oif, 3);
        assert_eq!(tun.encap, Encap::MplsOverUdp);
        assert_eq!(tun.l2, &[0xaa; 14]);
        assert_eq!((tun.sip, tun.dip), ([8, 0, 0, 2], [8, 0, 0, 3]));
        assert_eq!(tun.label, None, "the route's label applies");
        assert_eq!(r.stats, [Some(vrf_stat::UDP_MPLS_TUNNELS), None]);
        // no underlay header: the host routes the outer packet
        t.0.insert(31, tunnel(31, 2, nh_flag::TUNNEL_VXLAN, 3));
        match resolve(&t, 31, 0).action {
            Action::Tunnel(tun) => assert!(tun.l2.is_empty()),
            other => panic!("{other:?}"),
        }
        // an IPv6 underlay: nothing can be sent yet
        let mut v6 = tunnel(32, addr_family::INET6, nh_flag::TUNNEL_GRE, 3);
        v6.set_encap(&[0xaa; 14]).unwrap();
        t.0.insert(32, v6);
        let r = resolve(&t, 32, 0);
        assert_eq!(r.action, Action::Drop(drop_reason::INVALID_NH));
        assert_eq!(r.stats, [None, None], "nothing was tunnelled");
        // an ECMP member's label wins over the route's; label 0 is none
        let mut c = composite(20, &[30, 30]);
        c.set_members([30, 30].into_iter(), [100, 0].into_iter())
            .unwrap();
        t.0.insert(20, c);
        let label = |h| match resolve(&t, 20, h).action {
            Action::Tunnel(tun) => tun.label,
            other => panic!("{other:?}"),
        };
        assert_eq!(label(0), Some(100));
        assert_eq!(label(u32::MAX), None);
    }

    #[test]
    fn vrf_translate_names_a_vrf() {
        let mut t = table();
        let nh = Nexthop::new(40, nh_type::VRF_TRANSLATE, 2, 0, 7, 0);
        assert_eq!(validate(&nh, &t, |_| false), Ok(()));
        t.0.insert(40, nh);
        let r = resolve(&t, 40, 0);
        assert_eq!(r.action, Action::Translate { vrf: 7 });
        assert_eq!(r.stats[0], Some(vrf_stat::VRF_TRANSLATES));
    }

    #[test]
    fn resolution_of_each_type() {
        let mut t = table();
        t.0.insert(1, Nexthop::new(1, nh_type::RECEIVE, 2, 0, 0, 1));
        t.0.insert(2, Nexthop::new(2, nh_type::RESOLVE, 2, 0, 0, 0));
        assert_eq!(resolve(&t, 0, 0).action, Action::Drop(drop_reason::DISCARD));
        assert_eq!(resolve(&t, 0, 0).stats[0], Some(vrf_stat::DISCARDS));
        assert_eq!(resolve(&t, 1, 0).action, Action::Host { oif: 1 });
        assert_eq!(
            resolve(&t, 2, 0).action,
            Action::Drop(drop_reason::TRAP_NO_IF)
        );
        assert_eq!(
            resolve(&t, 77, 0).action,
            Action::Drop(drop_reason::INVALID_NH)
        );
        match resolve(&t, 10, 0).action {
            Action::Encap { oif: 3, header } => assert_eq!(header.len(), 14),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ecmp_is_sticky_and_spreads() {
        let mut t = table();
        t.0.insert(20, composite(20, &[10, 11]));
        let oif = |h: u32| match resolve(&t, 20, h).action {
            Action::Encap { oif, .. } => oif,
            other => panic!("{other:?}"),
        };
        let mut seen = [0u32; 2];
        for i in 0..1000u32 {
            let h = i.wrapping_mul(0x9e37_79b9);
            assert_eq!(oif(h), oif(h), "same flow, same member");
            seen[(oif(h) - 3) as usize] += 1;
        }
        assert!(seen.iter().all(|&n| n > 300), "{seen:?}");
        assert_eq!(
            resolve(&t, 20, 0).stats,
            [Some(vrf_stat::ENCAPS), Some(vrf_stat::ECMP_COMPOSITES)]
        );
    }

    #[test]
    fn pick_is_in_range() {
        for n in 1..70usize {
            for h in [0u32, 1, u32::MAX, 0x8000_0000, 12345] {
                assert!(pick(h, n).unwrap() < n);
            }
        }
        assert_eq!(pick(5, 0), None);
    }
}
