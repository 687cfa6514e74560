//! The overlay between nodes (issue 13): what the kernel should hold so that pods reach
//! the pods of other nodes through tunnels, planned without touching the kernel.
//!
//! - Sending: one Tunnel nexthop per other node (its InternalIP as the outer
//!   destination, this node's as the source, no underlay header: the host's routing
//!   sends the outer packet), and in every VRF of the node a route for each of that
//!   node's pod CIDRs to it, labelled with the VRF's label.
//! - Receiving: one VRF-translate nexthop per VRF of the node, and the VRF's label as
//!   both MPLS label and VXLAN VNI leading to it.
//!
//! A VRF's label is `LABEL_BASE + vrf`: VRFs are the same on every node (the TOML
//! networks, and `status.vrf` allocated once in the API), so every node computes the same
//! label for a VRF without talking to the others.
//!
//! Nexthop ids ([`assign_ids`]): kept while the agent runs, taken from the ids the kernel
//! already has for the same destination or VRF after a restart, never one of a port or
//! VIP; new ones count down from below the VIP block, while ports count up from the
//! bottom of the space.

use crate::kernel::NhSpace;
use ipnet::IpNet;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, Ipv6Addr};
use vrouter_client::{Nexthop, NexthopAdd, Route};
use vrouter_uapi::{addr_family, nh_flag, nh_type, rt_flag};

/// MPLS labels 0-15 are reserved (RFC 3032); a VRF's label is this plus the VRF.
pub const LABEL_BASE: u32 = 16;

/// The label (MPLS label and VXLAN VNI) of `vrf`.
pub fn label(vrf: u32) -> Option<u32> {
    vrf.checked_add(LABEL_BASE)
}

/// Whether `vrf`'s label fits a module table of `capacity` MPLS labels (VNIs go up to
/// 2^24, beyond any label table).
pub fn label_fits(vrf: u32, capacity: u32) -> bool {
    label(vrf).is_some_and(|l| l < capacity)
}

/// How packets travel between nodes: the cluster's `encapsulation` setting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Encapsulation {
    #[default]
    MplsOverUdp,
    MplsOverGre,
    Vxlan,
}

impl Encapsulation {
    /// The setting's value: `mpls-over-udp`, `mpls-over-gre`, `vxlan`.
    pub fn parse(s: &str) -> Result<Encapsulation, String> {
        match s.trim() {
            "mpls-over-udp" => Ok(Encapsulation::MplsOverUdp),
            "mpls-over-gre" => Ok(Encapsulation::MplsOverGre),
            "vxlan" => Ok(Encapsulation::Vxlan),
            other => Err(format!(
                "encapsulation {other:?} is not mpls-over-udp, mpls-over-gre or vxlan"
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Encapsulation::MplsOverUdp => "mpls-over-udp",
            Encapsulation::MplsOverGre => "mpls-over-gre",
            Encapsulation::Vxlan => "vxlan",
        }
    }

    /// The Tunnel nexthop flag that selects it.
    pub fn nh_flag(self) -> u32 {
        match self {
            Encapsulation::MplsOverUdp => nh_flag::TUNNEL_UDP_MPLS,
            Encapsulation::MplsOverGre => nh_flag::TUNNEL_GRE,
            Encapsulation::Vxlan => nh_flag::TUNNEL_VXLAN,
        }
    }
}

/// Another node of the cluster, as the Kubernetes API has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteNode {
    pub name: String,
    /// Its InternalIP: the tunnels' outer destination.
    pub addr: Ipv4Addr,
    pub pod_cidrs: Vec<IpNet>,
}

/// What the API says about the overlay (k8s/nodes.rs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OverlayView {
    /// This node's InternalIP: the tunnels' outer source, the fabric vif's address.
    pub fabric_ip: Option<Ipv4Addr>,
    /// This node's IPv6 InternalIP: the host's source towards other nodes' IPv6 pods.
    pub fabric_ip6: Option<Ipv6Addr>,
    /// The other nodes, by name.
    pub remotes: Vec<RemoteNode>,
    pub encap: Encapsulation,
}

/// One tunnel: to one node address (two Node objects with one address share it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunnelWant {
    pub dip: Ipv4Addr,
    pub nh: u32,
    pub pod_cidrs: Vec<IpNet>,
}

/// The overlay as the kernel should hold it (`NodeWant::overlay`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OverlayWant {
    pub encap: Encapsulation,
    /// VRF -> its VRF-translate nexthop id: the VRFs whose label fits the module's table.
    pub vrfs: BTreeMap<u32, u32>,
    /// Empty while this node's own address is unknown (no outer source).
    pub tunnels: Vec<TunnelWant>,
}

/// The overlay's nexthop ids.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OverlayIds {
    /// By tunnel destination.
    pub tunnels: BTreeMap<Ipv4Addr, u32>,
    /// By VRF.
    pub translates: BTreeMap<u32, u32>,
}

impl OverlayIds {
    pub fn ids(&self) -> impl Iterator<Item = u32> + '_ {
        self.tunnels
            .values()
            .chain(self.translates.values())
            .copied()
    }

    /// The kernel's tunnel (IPv4) and VRF-translate nexthops among the agent's ids: what
    /// an agent that restarts adopts. The lowest id wins where two share a key.
    pub fn from_kernel(nhs: &[Nexthop], space: NhSpace) -> OverlayIds {
        let mut ids = OverlayIds::default();
        let mut mine: Vec<&Nexthop> = nhs.iter().filter(|h| space.ids().contains(&h.id)).collect();
        mine.sort_by_key(|h| h.id);
        for h in mine {
            match (h.kind, h.tun_dip) {
                (nh_type::TUNNEL, Some(std::net::IpAddr::V4(dip))) => {
                    ids.tunnels.entry(dip).or_insert(h.id);
                }
                (nh_type::VRF_TRANSLATE, _) => {
                    ids.translates.entry(h.vrf).or_insert(h.id);
                }
                _ => {}
            }
        }
        ids
    }
}

/// Ids for the wanted tunnel destinations and VRFs. Each keeps the id it `held`, else
/// takes the one the kernel had at start (`adoptable`), as long as that id is in `space`
/// and no port or VIP (`used`) has it; a key without one gets the first free id counting
/// down from below the VIP block. Ids held or adoptable for keys no longer wanted are not
/// given out in this pass: the kernel still has them until the reconciliation that
/// follows deletes them. Returns the ids and the keys that got none.
pub fn assign_ids(
    held: &OverlayIds,
    adoptable: &OverlayIds,
    dips: &BTreeSet<Ipv4Addr>,
    vrfs: &BTreeSet<u32>,
    used: &BTreeSet<u32>,
    space: NhSpace,
) -> (OverlayIds, Vec<String>) {
    let mut out = OverlayIds::default();
    let mut taken: BTreeSet<u32> = used.clone();
    taken.extend(held.ids().chain(adoptable.ids()));
    let mut given = BTreeSet::new();
    let mut problems = Vec::new();
    let mut pick = |prior: [Option<&u32>; 2], what: String| -> Option<u32> {
        let kept = prior
            .into_iter()
            .flatten()
            .copied()
            .find(|id| space.ids().contains(id) && !used.contains(id) && !given.contains(id));
        let id = kept.or_else(|| space.overlay_candidates().find(|id| !taken.contains(id)));
        match id {
            Some(id) => {
                taken.insert(id);
                given.insert(id);
            }
            None => problems.push(format!("{what}: {}", space.exhausted())),
        }
        id
    };
    for dip in dips {
        let prior = [held.tunnels.get(dip), adoptable.tunnels.get(dip)];
        if let Some(id) = pick(prior, format!("tunnel to {dip}")) {
            out.tunnels.insert(*dip, id);
        }
    }
    for vrf in vrfs {
        let prior = [held.translates.get(vrf), adoptable.translates.get(vrf)];
        if let Some(id) = pick(prior, format!("VRF-translate nexthop of VRF {vrf}")) {
            out.translates.insert(*vrf, id);
        }
    }
    (out, problems)
}

/// The overlay to program: the VRFs whose label fits the module's table of
/// `label_capacity` MPLS labels (the others are reported), and one tunnel per remote node
/// address while this node's own address is known. Keys without an id are left out
/// (`assign_ids` reported them).
pub fn plan(
    view: &OverlayView,
    ids: &OverlayIds,
    vrfs: &BTreeSet<u32>,
    label_capacity: u32,
) -> (OverlayWant, Vec<String>) {
    let mut problems = Vec::new();
    let mut want = OverlayWant {
        encap: view.encap,
        ..Default::default()
    };
    for &vrf in vrfs {
        if !label_fits(vrf, label_capacity) {
            problems.push(format!(
                "VRF {vrf}: its label {LABEL_BASE}+{vrf} does not fit the module's {label_capacity} MPLS labels (vr_mpls_labels); no overlay in it"
            ));
        } else if let Some(&id) = ids.translates.get(&vrf) {
            want.vrfs.insert(vrf, id);
        }
    }
    if view.fabric_ip.is_none() {
        return (want, problems);
    }
    let mut by_dip: BTreeMap<Ipv4Addr, Vec<IpNet>> = BTreeMap::new();
    for r in &view.remotes {
        by_dip.entry(r.addr).or_default().extend(&r.pod_cidrs);
    }
    for (dip, pod_cidrs) in by_dip {
        if let Some(&nh) = ids.tunnels.get(&dip) {
            want.tunnels.push(TunnelWant { dip, nh, pod_cidrs });
        }
    }
    (want, problems)
}

/// The tunnel destinations [`plan`] will want from `view` (for [`assign_ids`]).
pub fn wanted_dips(view: &OverlayView) -> BTreeSet<Ipv4Addr> {
    match view.fabric_ip {
        Some(_) => view.remotes.iter().map(|r| r.addr).collect(),
        None => BTreeSet::new(),
    }
}

/// A tunnel's nexthop out of vif `oif` from `sip`: no underlay header, so the host's
/// routing sends the outer packet (the agent tracks no neighbours).
pub fn tunnel_nh(t: &TunnelWant, encap: Encapsulation, oif: u32, sip: Ipv4Addr) -> NexthopAdd {
    NexthopAdd {
        id: t.nh,
        kind: nh_type::TUNNEL,
        family: addr_family::INET,
        flags: encap.nh_flag(),
        oif: Some(oif),
        tun_sip: Some(sip.into()),
        tun_dip: Some(t.dip.into()),
        ..Default::default()
    }
}

/// The nexthop a VRF's label leads to: the inner packet is routed in `vrf`.
pub fn translate_nh(vrf: u32, id: u32) -> NexthopAdd {
    NexthopAdd {
        id,
        kind: nh_type::VRF_TRANSLATE,
        family: addr_family::INET,
        vrf,
        ..Default::default()
    }
}

/// In every VRF of `vrfs`, each pod CIDR of each tunnel in `tunnels`, labelled with the
/// VRF's label: the other node routes the inner packet in the same VRF. The vRouter
/// answers ARP and ND for their addresses: the host routes them on the vhost device
/// without a gateway (host.rs), so it asks for each remote pod's address there.
pub fn routes(vrfs: &BTreeSet<u32>, tunnels: &[&TunnelWant]) -> Vec<Route> {
    let mut v = Vec::new();
    for &vrf in vrfs {
        let Some(l) = label(vrf) else { continue };
        for t in tunnels {
            for c in &t.pod_cidrs {
                let mut r = Route::new(vrf, c.network(), c.prefix_len(), t.nh);
                r.label = Some(l);
                r.flags = rt_flag::PROXY_ARP;
                v.push(r);
            }
        }
    }
    v
}

/// The label (or VNI) -> nexthop entries of the VRFs in `translates` (VRF -> nexthop).
pub fn decap_entries(translates: &BTreeMap<u32, u32>) -> BTreeMap<u32, u32> {
    translates
        .iter()
        .filter_map(|(&vrf, &nh)| Some((label(vrf)?, nh)))
        .collect()
}

/// What turns a decap table holding `have` (index, nexthop) into `want`: the entries to
/// add or re-point, and the indexes to delete (the agent owns the whole table).
pub fn decap_changes(
    have: &[(u32, u32)],
    want: &BTreeMap<u32, u32>,
) -> (Vec<(u32, u32)>, Vec<u32>) {
    let add = want
        .iter()
        .filter(|(i, nh)| !have.contains(&(**i, **nh)))
        .map(|(&i, &nh)| (i, nh))
        .collect();
    let del = have
        .iter()
        .filter(|(i, _)| !want.contains_key(i))
        .map(|&(i, _)| i)
        .collect();
    (add, del)
}

#[cfg(test)]
mod tests {
    use super::*;
    use vrouter_client::Nexthop;

    fn remote(name: &str, addr: [u8; 4], cidrs: &[&str]) -> RemoteNode {
        RemoteNode {
            name: name.into(),
            addr: addr.into(),
            pod_cidrs: cidrs.iter().map(|c| c.parse().unwrap()).collect(),
        }
    }

    fn view(remotes: Vec<RemoteNode>) -> OverlayView {
        OverlayView {
            fabric_ip: Some([10, 77, 0, 11].into()),
            fabric_ip6: None,
            remotes,
            encap: Encapsulation::Vxlan,
        }
    }

    #[test]
    fn encapsulation_names_and_flags() {
        for (s, e, flag) in [
            (
                "mpls-over-udp",
                Encapsulation::MplsOverUdp,
                nh_flag::TUNNEL_UDP_MPLS,
            ),
            (
                "mpls-over-gre",
                Encapsulation::MplsOverGre,
                nh_flag::TUNNEL_GRE,
            ),
            (" vxlan\n", Encapsulation::Vxlan, nh_flag::TUNNEL_VXLAN),
        ] {
            let got = Encapsulation::parse(s).unwrap();
            assert_eq!((got, got.nh_flag()), (e, flag));
            assert_eq!(Encapsulation::parse(got.name()), Ok(got));
        }
        assert_eq!(Encapsulation::default(), Encapsulation::MplsOverUdp);
        assert!(Encapsulation::parse("VXLAN")
            .unwrap_err()
            .contains("\"VXLAN\""));
        assert!(Encapsulation::parse("").is_err());
    }

    #[test]
    fn labels_skip_the_reserved_ones_and_must_fit_the_table() {
        assert_eq!(label(0), Some(16));
        assert_eq!(label(101), Some(117));
        assert_eq!(label(u32::MAX), None);
        assert!(label_fits(5103, 5120) && !label_fits(5104, 5120));
        assert!(!label_fits(u32::MAX, u32::MAX));
        let ids = OverlayIds {
            translates: BTreeMap::from([(0, 900), (1, 901), (5103, 902), (5104, 903)]),
            ..Default::default()
        };
        // 5120 labels: the last is 5119, VRF 5103's
        let vrfs = BTreeSet::from([0, 1, 5103, 5104]);
        let (want, problems) = plan(&view(vec![]), &ids, &vrfs, 5120);
        assert_eq!(want.vrfs, BTreeMap::from([(0, 900), (1, 901), (5103, 902)]));
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("VRF 5104"), "{problems:?}");
        assert_eq!(
            decap_entries(&want.vrfs),
            BTreeMap::from([(16, 900), (17, 901), (5119, 902)])
        );
    }

    #[test]
    fn one_tunnel_per_node_address_and_none_without_our_own() {
        let remotes = vec![
            remote("b", [10, 77, 0, 12], &["10.32.2.0/24", "fd00:32::200/120"]),
            remote("c", [10, 77, 0, 13], &["10.32.3.0/24"]),
            // a second Node object with b's address shares b's tunnel
            remote("b2", [10, 77, 0, 12], &["10.32.9.0/24"]),
        ];
        let v = view(remotes);
        let dips = wanted_dips(&v);
        assert_eq!(dips.len(), 2);
        let (ids, problems) = assign_ids(
            &OverlayIds::default(),
            &OverlayIds::default(),
            &dips,
            &BTreeSet::from([0, 1]),
            &BTreeSet::new(),
            NhSpace::new(1024),
        );
        assert!(problems.is_empty());
        let (want, _) = plan(&v, &ids, &BTreeSet::from([0, 1]), 5120);
        assert_eq!(want.tunnels.len(), 2);
        let b = &want.tunnels[0];
        assert_eq!(b.dip, Ipv4Addr::new(10, 77, 0, 12));
        assert_eq!(b.pod_cidrs.len(), 3);
        // without this node's address: no outer source, no tunnels; labels still
        let no_ip = OverlayView {
            fabric_ip: None,
            ..v.clone()
        };
        assert!(wanted_dips(&no_ip).is_empty());
        let (want, _) = plan(&no_ip, &ids, &BTreeSet::from([0, 1]), 5120);
        assert!(want.tunnels.is_empty());
        assert_eq!(want.vrfs.len(), 2);
    }

    #[test]
    fn ids_avoid_ports_and_vips_and_count_down_below_the_vip_block() {
        let space = NhSpace::new(1024);
        let used: BTreeSet<u32> = [100, 101, 1023, 1022].into();
        let dips = BTreeSet::from([Ipv4Addr::new(10, 0, 0, 2), Ipv4Addr::new(10, 0, 0, 3)]);
        let (ids, problems) = assign_ids(
            &OverlayIds::default(),
            &OverlayIds::default(),
            &dips,
            &BTreeSet::from([0]),
            &used,
            space,
        );
        assert!(problems.is_empty());
        let all: Vec<u32> = ids.ids().collect();
        let below_vips = 1024 - 231; // the VIP block is a quarter of 100..1024
        assert_eq!(all, [below_vips - 1, below_vips - 2, below_vips - 3]);
        assert!(all.iter().all(|id| !used.contains(id)));
    }

    #[test]
    fn ids_stay_while_nodes_come_and_go() {
        let space = NhSpace::new(1024);
        let none = OverlayIds::default();
        let a = Ipv4Addr::new(10, 0, 0, 2);
        let b = Ipv4Addr::new(10, 0, 0, 3);
        let c = Ipv4Addr::new(10, 0, 0, 4);
        let vrfs = BTreeSet::from([0]);
        let used = BTreeSet::new();
        let (first, _) = assign_ids(&none, &none, &[a, b].into(), &vrfs, &used, space);
        // a new node does not renumber the others
        let (second, _) = assign_ids(&first, &none, &[a, b, c].into(), &vrfs, &used, space);
        assert_eq!(second.tunnels[&a], first.tunnels[&a]);
        assert_eq!(second.tunnels[&b], first.tunnels[&b]);
        assert_eq!(second.translates, first.translates);
        // a node that leaves: its id is not given to a newcomer in the same pass
        let d = Ipv4Addr::new(10, 0, 0, 5);
        let (third, _) = assign_ids(&second, &none, &[a, d].into(), &vrfs, &used, space);
        assert!(!third.tunnels.contains_key(&b));
        assert_eq!(third.tunnels[&a], first.tunnels[&a]);
        assert!(!second.ids().any(|id| id == third.tunnels[&d]));
    }

    fn kernel_nh(id: u32, kind: u32, vrf: u32, dip: Option<&str>) -> Nexthop {
        Nexthop {
            id,
            kind,
            family: addr_family::INET,
            flags: nh_flag::VALID,
            vrf,
            oif: None,
            encap: vec![],
            members: vec![],
            labels: vec![],
            ref_cnt: 1,
            rid: 0,
            tun_sip: dip.map(|_| "10.77.0.11".parse().unwrap()),
            tun_dip: dip.map(|d| d.parse().unwrap()),
        }
    }

    #[test]
    fn a_restarted_agent_adopts_the_kernels_ids() {
        let space = NhSpace::new(1024);
        let kernel = [
            kernel_nh(1, nh_type::RECEIVE, 0, None),
            kernel_nh(500, nh_type::TUNNEL, 0, Some("10.0.0.2")),
            kernel_nh(501, nh_type::TUNNEL, 0, Some("10.0.0.9")),
            kernel_nh(502, nh_type::VRF_TRANSLATE, 1, None),
            kernel_nh(503, nh_type::VRF_TRANSLATE, 0, None),
            kernel_nh(504, nh_type::TUNNEL, 0, Some("fd00::2")),
            kernel_nh(505, nh_type::TUNNEL, 0, Some("10.0.0.2")),
            kernel_nh(2000, nh_type::TUNNEL, 0, Some("10.0.0.3")),
        ];
        let adopt = OverlayIds::from_kernel(&kernel, space);
        assert_eq!(
            adopt.tunnels,
            BTreeMap::from([
                ("10.0.0.2".parse().unwrap(), 500),
                ("10.0.0.9".parse().unwrap(), 501)
            ])
        );
        assert_eq!(adopt.translates, BTreeMap::from([(1, 502), (0, 503)]));
        let a: Ipv4Addr = "10.0.0.2".parse().unwrap();
        let new: Ipv4Addr = "10.0.0.7".parse().unwrap();
        let none = OverlayIds::default();
        // a port took 502 meanwhile: VRF 1 gets another id; the gone node's 501 is not
        // reused in this pass
        let used = BTreeSet::from([502]);
        let (ids, problems) = assign_ids(
            &none,
            &adopt,
            &[a, new].into(),
            &[0, 1].into(),
            &used,
            space,
        );
        assert!(problems.is_empty());
        assert_eq!(ids.tunnels[&a], 500);
        assert_eq!(ids.translates[&0], 503);
        assert!(![500, 501, 502, 503].contains(&ids.translates[&1]));
        assert!(![500, 501, 502, 503].contains(&ids.tunnels[&new]));
    }

    #[test]
    fn a_full_space_is_reported_not_reused() {
        let space = NhSpace::new(102);
        let used = BTreeSet::from([100]);
        let (ids, problems) = assign_ids(
            &OverlayIds::default(),
            &OverlayIds::default(),
            &[Ipv4Addr::new(10, 0, 0, 2)].into(),
            &[0].into(),
            &used,
            space,
        );
        assert_eq!(ids.ids().collect::<Vec<_>>(), [101]);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("VRF 0") && problems[0].contains("table holds 102"));
    }

    #[test]
    fn routes_nexthops_and_decap_entries() {
        let t = TunnelWant {
            dip: [10, 77, 0, 12].into(),
            nh: 700,
            pod_cidrs: vec![
                "10.32.2.0/24".parse().unwrap(),
                "fd00:32::200/120".parse().unwrap(),
            ],
        };
        let r = routes(&BTreeSet::from([0, 3]), &[&t]);
        assert!(
            r.iter().all(|r| r.flags == rt_flag::PROXY_ARP),
            "answered ARP/ND"
        );
        let key = |r: &Route| (r.vrf, r.prefix.to_string(), r.prefix_len, r.nh_id, r.label);
        assert_eq!(
            r.iter().map(key).collect::<Vec<_>>(),
            [
                (0, "10.32.2.0".into(), 24, 700, Some(16)),
                (0, "fd00:32::200".into(), 120, 700, Some(16)),
                (3, "10.32.2.0".into(), 24, 700, Some(19)),
                (3, "fd00:32::200".into(), 120, 700, Some(19)),
            ]
        );
        let nh = tunnel_nh(&t, Encapsulation::MplsOverGre, 2, [10, 77, 0, 11].into());
        assert_eq!(
            (nh.kind, nh.family, nh.flags, nh.oif, nh.encap.len()),
            (
                nh_type::TUNNEL,
                addr_family::INET,
                nh_flag::TUNNEL_GRE,
                Some(2),
                0
            )
        );
        assert_eq!(nh.tun_dip, Some("10.77.0.12".parse().unwrap()));
        let tr = translate_nh(3, 701);
        assert_eq!(
            (tr.kind, tr.vrf, tr.id, tr.oif),
            (nh_type::VRF_TRANSLATE, 3, 701, None)
        );
        // decap tables: missing and re-pointed entries are added, unwanted ones deleted
        let want = BTreeMap::from([(16, 900), (19, 901)]);
        let (add, del) = decap_changes(&[(16, 900), (19, 5), (40, 6)], &want);
        assert_eq!(add, [(19, 901)]);
        assert_eq!(del, [40]);
        assert_eq!(
            decap_changes(&[(16, 900), (19, 901)], &want),
            (vec![], vec![])
        );
    }
}
