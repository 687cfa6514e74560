//! Programming vrouter.ko: the agent is the single writer of its tables.
//!
//! Two ways in, one model: [`Desired`] is everything the kernel should hold for this node
//! (the vhost vif, the Receive nexthop, per-network gateway and default routes, for every
//! bound port a Virtual vif, an Encap nexthop and /32 + /128 routes, and for every service
//! VIP an ECMP composite over its local backends' nexthops with a host route to it).
//! - [`Kernel::add_port`] / [`Kernel::remove_port`] make the few changes of one CNI call
//!   directly (the fast path of ADD and DEL);
//! - [`Kernel::reconcile`] reads the tables back and makes the smallest set of changes that
//!   turns them into `Desired`: at start, periodically, and after the module was reloaded.
//!   What already matches is not touched, so pods that forward keep forwarding.
//!
//! Ownership: Virtual vifs, the vhost vif, nexthop 1 and nexthops from [`NH_BASE`] on, and
//! every route of the VRFs the networks use belong to the agent; anything else (other
//! nexthop ids, other VRFs) is left alone for the operator.
//! Within the agent's ids ([`NhSpace`]: up to the table size the module reports), ports
//! count up from [`NH_BASE`] and VIP composites sit near the top; the vifs of networks with
//! a policy or a service carry vif flag POLICY.

use crate::overlay::{self, OverlayIds, OverlayWant};
use crate::policy::Service;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use tracing::debug;
use vrouter_client::nh::eth_header;
use vrouter_client::vif::{format_mac, parse_mac};
use vrouter_client::{
    errno, Client, DecapTable, Error, MplsLabel, Nexthop, NexthopAdd, Route, Vif, VifAdd,
    VifSelector, VxlanVni,
};
use vrouter_uapi::{
    addr_family, nh_flag, nh_type, rt_flag, vif_flag, vif_type, COMPOSITE_MAX, NH_FLAGS_SETTABLE,
    VROUTER_MAC,
};

/// The Discard nexthop (always present): where a VIP without a local backend leads.
pub const NH_DISCARD: u32 = 0;
/// The Receive nexthop: to the host through the vhost vif.
pub const NH_RECEIVE: u32 = 1;
/// The host's VRF: the vhost vif's, where the host's packets to pods are routed.
pub const HOST_VRF: u32 = 0;
/// Port nexthops are numbered from here.
pub const NH_BASE: u32 = 100;
/// VIP ids are hashed into at most this many ids at the top of the table.
const NH_VIP_SLOTS: u32 = 4096;

/// The agent's nexthop ids: [`NH_BASE`] up to the size of the module's table, which the
/// module reports in INFO_GET (its `vr_nexthops` parameter), so a module loaded with
/// another size is used as it is rather than refused id by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NhSpace {
    table_size: u32,
}

impl Default for NhSpace {
    fn default() -> Self {
        NhSpace::new(vrouter_uapi::DEFAULT_NEXTHOPS)
    }
}

impl NhSpace {
    pub fn new(table_size: u32) -> Self {
        NhSpace { table_size }
    }

    pub fn table_size(self) -> u32 {
        self.table_size
    }

    /// The ids the agent may give out (empty when the table is not larger than NH_BASE).
    pub fn ids(self) -> std::ops::Range<u32> {
        NH_BASE..self.table_size.max(NH_BASE)
    }

    /// How many ids at the top of [`Self::ids`] the VIP hash spreads over: a quarter of
    /// the space at most, so a small table keeps room for ports.
    fn vip_slots(self) -> u32 {
        (self.ids().len() as u32 / 4).clamp(1, NH_VIP_SLOTS)
    }

    /// The order the overlay's new ids are taken in (overlay.rs): down from just below
    /// the VIP block, where ports (counting up from the bottom) arrive last, then the
    /// VIP block itself, top down.
    pub fn overlay_candidates(self) -> impl Iterator<Item = u32> {
        let ids = self.ids();
        let block = ids.end.saturating_sub(self.vip_slots()).max(ids.start);
        (ids.start..block).rev().chain((block..ids.end).rev())
    }

    /// The first free id at or after `from`, wrapping around; None when all are used.
    pub fn next_free(self, from: u32, used: &BTreeSet<u32>) -> Option<u32> {
        let ids = self.ids();
        let from = from.clamp(ids.start, ids.end);
        (from..ids.end)
            .chain(ids.start..from)
            .find(|n| !used.contains(n))
    }

    /// Why no id was free, for the CNI's answer and the log.
    pub fn exhausted(self) -> String {
        format!(
            "no free nexthop id: the module's table holds {} (agent ids from {NH_BASE}; \
             load vrouter with a larger vr_nexthops)",
            self.table_size
        )
    }
}

/// The module's table sizes the agent plans with (INFO_GET).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub nh_space: NhSpace,
    /// The MPLS label table's size (`vr_mpls_labels`): VRF labels must fit in it.
    pub mpls_labels: u32,
}

/// The node-wide part of the desired state.
#[derive(Debug, Clone)]
pub struct NodeWant {
    pub vhost: String,
    pub vhost_ip: Option<Ipv4Addr>,
    pub vhost_ip6: Option<Ipv6Addr>,
    pub fabric: Option<String>,
    /// This node's address on the fabric (its InternalIP): the fabric vif's address, by
    /// which the datapath knows the tunnel packets for this node.
    pub fabric_ip: Option<Ipv4Addr>,
    /// Per network VRF: addresses answered by the host (gateway, DNS), proxied.
    pub vrfs: BTreeMap<u32, Vec<IpAddr>>,
    /// This node's pod prefixes: in VRF 0 (the host's) the agent owns the host routes
    /// inside them, one per local pod address, and nothing else.
    pub pod_cidrs: Vec<ipnet::IpNet>,
    /// VRFs of networks that are gone (deleted in the API): their routes are removed.
    pub retired_vrfs: BTreeSet<u32>,
    /// The overlay to other nodes. None while it is not known (no view of the other
    /// nodes yet, or no [kubernetes]): the overlay's kernel state (tunnel and translate
    /// nexthops, labelled routes, the label and VNI tables) is then left as it is, so an
    /// agent that restarts does not cut the node off until it has read the API.
    pub overlay: Option<OverlayWant>,
}

impl NodeWant {
    /// Whether `r` is the agent's to keep or delete: a labelled route (to another node)
    /// once the overlay is known, any other route of a network VRF, or a pod's host route
    /// in VRF 0.
    fn owns(&self, r: &Route) -> bool {
        if r.label.is_some() {
            return self.overlay.is_some();
        }
        r.vrf != HOST_VRF
            || (r.prefix_len == if r.prefix.is_ipv4() { 32 } else { 128 }
                && self.pod_cidrs.iter().any(|c| c.contains(&r.prefix)))
    }

    /// The VRFs the overlay serves: every network's and the host's.
    pub fn overlay_vrfs(&self) -> BTreeSet<u32> {
        self.vrfs.keys().copied().chain([HOST_VRF]).collect()
    }

    /// The VRFs whose routes the reconciliation reads: the networks', the retired
    /// networks' (to empty them) and the host's.
    fn route_vrfs(&self) -> BTreeSet<u32> {
        self.vrfs
            .keys()
            .copied()
            .chain(self.retired_vrfs.iter().copied())
            .chain([HOST_VRF])
            .collect()
    }
}

/// One bound port as the kernel should see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortWant {
    pub host_ifname: String,
    pub vrf: u32,
    pub nh: u32,
    pub mac: [u8; 6],
    pub ipv4: Ipv4Addr,
    pub ipv6: Option<Ipv6Addr>,
    /// The vif sends new flows to the agent (vif flag POLICY): the network has a policy
    /// or a service, or is routed to another network (isolation, ports.rs).
    pub policy: bool,
    /// Other networks' VRFs with a route to this port (besides the host's).
    pub routed_from: Vec<u32>,
}

impl PortWant {
    fn has_addr(&self, a: IpAddr) -> bool {
        match a {
            IpAddr::V4(a) => a == self.ipv4,
            IpAddr::V6(a) => Some(a) == self.ipv6,
        }
    }
}

/// A service address in a VRF: a proxied host route to an ECMP composite over the Encap
/// nexthops of the backends that are local pods. One per (VRF, VIP), for every service on
/// that VIP whatever its port: a route cannot tell ports apart (the flow loop does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VipWant {
    pub vrf: u32,
    pub vip: IpAddr,
    /// The composite's id, fixed for the agent's lifetime.
    pub nh: u32,
    /// Backend addresses of the VIP's services, in config order, each once.
    pub backends: Vec<IpAddr>,
}

pub struct Desired<'a> {
    pub node: &'a NodeWant,
    pub ports: Vec<PortWant>,
    pub vips: &'a [VipWant],
}

/// What a reconciliation did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub added: usize,
    pub removed: usize,
    pub errors: Vec<String>,
    /// Vif index of every port that is programmed, by host interface name; ports missing
    /// here are down (their host interface does not exist, or the kernel refused them).
    pub vifs: HashMap<String, u32>,
    /// The vhost vif had to be created (its link must be brought up).
    pub vhost_created: bool,
}

/// Why a kernel operation failed, in words for the API and the logs.
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    #[error("vrouter kernel module not available: {0}")]
    Unavailable(String),
    #[error("{what}: {err}")]
    Refused { what: String, err: Error },
}

impl KernelError {
    pub fn unavailable(&self) -> bool {
        matches!(self, KernelError::Unavailable(_))
    }
}

fn refused(what: impl Into<String>) -> impl FnOnce(Error) -> KernelError {
    let what = what.into();
    move |err| match err {
        Error::NotLoaded | Error::Io(_) => KernelError::Unavailable(err.to_string()),
        err => KernelError::Refused { what, err },
    }
}

fn is_enoent(e: &Error) -> bool {
    e.errno() == Some(errno::ENOENT)
}

/// Whether a network interface exists in the agent's namespace.
pub fn interface_exists(name: &str) -> bool {
    valid_ifname(name) && std::path::Path::new("/sys/class/net").join(name).exists()
}

pub fn valid_ifname(name: &str) -> bool {
    !name.is_empty()
        && name.len() < 16
        && !name.contains(['/', ' ', ':'])
        && name != "."
        && name != ".."
}

/// A /32 or /128 whose address the datapath answers ARP and ND for.
fn host_route(vrf: u32, addr: IpAddr, nh: u32) -> Route {
    let len = if addr.is_ipv4() { 32 } else { 128 };
    let mut r = Route::new(vrf, addr, len, nh);
    r.flags = rt_flag::PROXY_ARP;
    r
}

/// A port's host routes in its network's VRF, in the VRFs routed to it (`routed_from`),
/// and in the host's VRF: the host reaches every local pod whatever its network (kubelet
/// probes, host.rs). Pod addresses come from the node's one pool, so they never clash.
pub fn port_routes(p: &PortWant) -> Vec<Route> {
    let addrs = std::iter::once(IpAddr::V4(p.ipv4)).chain(p.ipv6.map(IpAddr::V6));
    let mut vrfs = vec![p.vrf];
    vrfs.extend(p.routed_from.iter().copied());
    if p.vrf != HOST_VRF {
        vrfs.push(HOST_VRF);
    }
    vrfs.sort_unstable();
    vrfs.dedup();
    addrs
        .flat_map(|a| vrfs.iter().map(move |&vrf| host_route(vrf, a, p.nh)))
        .collect()
}

fn port_nh(p: &PortWant, oif: u32) -> NexthopAdd {
    NexthopAdd {
        id: p.nh,
        kind: nh_type::ENCAP,
        family: addr_family::INET,
        oif: Some(oif),
        encap: eth_header(p.mac, VROUTER_MAC, None),
        ..Default::default()
    }
}

fn node_routes(n: &NodeWant) -> Vec<Route> {
    let mut v = Vec::new();
    for (&vrf, addrs) in &n.vrfs {
        for a in addrs {
            v.push(host_route(vrf, *a, NH_RECEIVE));
        }
        v.push(Route::new(
            vrf,
            IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            0,
            NH_RECEIVE,
        ));
        v.push(Route::new(
            vrf,
            IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            0,
            NH_RECEIVE,
        ));
    }
    v
}

/// Routes by (VRF, prefix, prefix length).
type RouteMap = BTreeMap<(u32, IpAddr, u8), Route>;

/// Every route the agent wants: the overlay's, the node's, the live ports' and the VIPs'
/// (a local route wins over another node's prefix with the same key).
fn wanted_routes(
    n: &NodeWant,
    live: &[&PortWant],
    vip_routes: Vec<Route>,
    overlay_routes: Vec<Route>,
) -> RouteMap {
    let mut routes = RouteMap::new();
    for r in overlay_routes
        .into_iter()
        .chain(node_routes(n))
        .chain(live.iter().flat_map(|p| port_routes(p)))
        .chain(vip_routes)
    {
        routes.insert((r.vrf, r.prefix, r.prefix_len), r);
    }
    routes
}

/// The local backends' nexthops of a VIP: each pod once, in backend order (a stable order
/// keeps the datapath's member choice for a flow). Backends on other nodes are skipped;
/// the flow loop translates to them.
fn vip_members(v: &VipWant, live: &[&PortWant]) -> Vec<u32> {
    let mut m = Vec::new();
    for &b in &v.backends {
        match live.iter().find(|p| p.vrf == v.vrf && p.has_addr(b)) {
            Some(p) if !m.contains(&p.nh) => m.push(p.nh),
            Some(_) => {}
            None => {
                debug!(vrf = v.vrf, vip = %v.vip, backend = %b, "service backend is not a local pod; not in the composite")
            }
        }
    }
    m
}

/// [`vip_members`], capped at what a composite holds (the rest is reported in `s`).
fn composite_members(v: &VipWant, live: &[&PortWant], s: &mut Summary) -> Vec<u32> {
    let mut members = vip_members(v, live);
    if members.len() > COMPOSITE_MAX {
        // Several services on one VIP can add up to more than a composite holds.
        let why = format!(
            "{} local backends, the composite takes the first {COMPOSITE_MAX}",
            members.len()
        );
        s.errors
            .push(format!("service VIP {} in VRF {}: {why}", v.vip, v.vrf));
        members.truncate(COMPOSITE_MAX);
    }
    members
}

fn vip_nh(v: &VipWant, members: Vec<u32>) -> NexthopAdd {
    NexthopAdd {
        id: v.nh,
        kind: nh_type::COMPOSITE,
        family: if v.vip.is_ipv4() {
            addr_family::INET
        } else {
            addr_family::INET6
        },
        flags: nh_flag::COMPOSITE_ECMP,
        vrf: v.vrf,
        members,
        ..Default::default()
    }
}

/// Whether the kernel's route `have` is `want` (LABEL_VALID follows the label).
fn same_route(have: &Route, want: &Route) -> bool {
    let flags = |r: &Route| r.flags & !rt_flag::LABEL_VALID;
    have.nh_id == want.nh_id && flags(have) == flags(want) && have.label == want.label
}

/// Whether the kernel's nexthop is what `w` would make (VALID is the kernel's own flag).
fn same_nh(h: &Nexthop, w: &NexthopAdd) -> bool {
    let labels = if w.labels.is_empty() {
        h.labels.iter().all(|&l| l == 0)
    } else {
        h.labels == w.labels
    };
    h.kind == w.kind
        && h.family == w.family
        && h.flags & NH_FLAGS_SETTABLE == w.flags
        && h.vrf == w.vrf
        && h.oif == w.oif
        && h.encap == w.encap
        && h.members == w.members
        && h.tun_sip == w.tun_sip
        && h.tun_dip == w.tun_dip
        && labels
}

/// The composite ids of `services`' VIPs in `space`, avoiding `used` (the ports'
/// nexthops). Each (VRF, VIP) hashes to a slot at the top of the space and takes the first
/// free id from there, in (VRF, VIP) order: an id depends neither on the order of
/// `[[services]]` nor on anything else that changes while the agent runs, and mostly stays
/// across restarts.
pub fn vip_wants(
    services: &[Service],
    used: &BTreeSet<u32>,
    space: NhSpace,
) -> (Vec<VipWant>, Vec<String>) {
    let mut vips: Vec<VipWant> = Vec::new();
    // Kubernetes Services (no VRF of their own) have no composite: their flows are
    // translated by the flow loop alone.
    for s in services {
        let Some(vrf) = s.vrf else { continue };
        let i = match vips.iter().position(|v| v.vrf == vrf && v.vip == s.vip) {
            Some(i) => i,
            None => {
                vips.push(VipWant {
                    vrf,
                    vip: s.vip,
                    nh: 0,
                    backends: Vec::new(),
                });
                vips.len() - 1
            }
        };
        for b in &s.backends {
            if !vips[i].backends.contains(&b.ip()) {
                vips[i].backends.push(b.ip());
            }
        }
    }
    vips.sort_by_key(|v| (v.vrf, v.vip));
    let mut taken = used.clone();
    let mut problems = Vec::new();
    let (all, slots) = (space.ids(), space.vip_slots());
    vips.retain_mut(|v| {
        let slot = vip_slot(v.vrf, v.vip) % slots;
        // The hashed block first, wrapping around in it, then the rest of the space down.
        let top = all.end.saturating_sub(1);
        let block = (0..slots).map(|k| top - (slot + k) % slots);
        let rest = (all.start..all.end.saturating_sub(slots)).rev();
        let mut ids = block.chain(rest).filter(|id| all.contains(id));
        match ids.find(|id| !taken.contains(id)) {
            Some(id) => {
                taken.insert(id);
                v.nh = id;
                true
            }
            None => {
                problems.push(format!(
                    "service VIP {} in VRF {}: {}",
                    v.vip,
                    v.vrf,
                    space.exhausted()
                ));
                false
            }
        }
    });
    (vips, problems)
}

fn vip_slot(vrf: u32, vip: IpAddr) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    let octets = match vip {
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
        IpAddr::V6(a) => a.octets(),
    };
    for b in vrf.to_be_bytes().into_iter().chain(octets) {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    h
}

const VIF_FLAGS: u32 = vif_flag::L3_ENABLED | vif_flag::L2_ENABLED;

fn vif_flags(p: &PortWant) -> u32 {
    if p.policy {
        VIF_FLAGS | vif_flag::POLICY
    } else {
        VIF_FLAGS
    }
}

/// A pod's vif carries the pod's addresses, as TF's does (`vrctl vif --list` shows them).
fn virtual_vif(p: &PortWant) -> VifAdd {
    VifAdd {
        kind: vif_type::VIRTUAL,
        name: Some(p.host_ifname.clone()),
        vrf: p.vrf,
        flags: vif_flags(p),
        ip: Some(p.ipv4),
        ip6: p.ipv6,
        ..Default::default()
    }
}

/// A connection to the module, opened per batch of work: a fresh socket resolves the
/// family again, so a module that was unloaded and loaded in between is simply found.
pub struct Kernel {
    c: Client,
}

impl Kernel {
    pub fn connect() -> Result<Kernel, KernelError> {
        Client::connect()
            .map(|c| Kernel { c })
            .map_err(|e| KernelError::Unavailable(e.to_string()))
    }

    /// The loaded module's table sizes: the agent's nexthop ids, the MPLS labels.
    pub fn limits(&mut self) -> Result<Limits, KernelError> {
        let info = self.c.info().map_err(refused("read the module's limits"))?;
        Ok(Limits {
            nh_space: NhSpace::new(info.nexthops),
            mpls_labels: info.mpls_labels,
        })
    }

    /// The kernel's overlay nexthops in `space`, for an agent that starts to adopt.
    pub fn overlay_ids(&mut self, space: NhSpace) -> Result<OverlayIds, KernelError> {
        let nhs = self.c.nh_dump().map_err(refused("nexthop dump"))?;
        Ok(OverlayIds::from_kernel(&nhs, space))
    }

    /// The vif for `host_ifname` in `vrf`, the Encap nexthop and the routes of one port.
    /// Returns the vif index.
    pub fn add_port(&mut self, p: &PortWant) -> Result<u32, KernelError> {
        let vif = self.ensure_vif(p)?;
        self.c
            .nh_add(&port_nh(p, vif))
            .map_err(refused(format!("nexthop {} for {}", p.nh, p.host_ifname)))?;
        for r in port_routes(p) {
            self.c.rt_add(&r).map_err(refused(format!(
                "route {}/{} in VRF {}",
                r.prefix, r.prefix_len, r.vrf
            )))?;
        }
        Ok(vif)
    }

    fn ensure_vif(&mut self, p: &PortWant) -> Result<u32, KernelError> {
        let by_name = VifSelector::Name(p.host_ifname.clone());
        match self.c.vif_get(&by_name, None) {
            Ok(v) if v.kind == vif_type::VIRTUAL && v.vrf == p.vrf => {
                if v.flags != vif_flags(p) {
                    self.set_vif_flags(p)?;
                }
                return Ok(v.idx);
            }
            Ok(_) => self
                .c
                .vif_del(&by_name)
                .map_err(refused(format!("replacing vif {}", p.host_ifname)))?,
            Err(e) if is_enoent(&e) => {}
            Err(e) => return Err(refused(format!("vif {}", p.host_ifname))(e)),
        }
        let v = self
            .c
            .vif_add(&virtual_vif(p))
            .map_err(refused(format!("vif for {}", p.host_ifname)))?;
        Ok(v.idx)
    }

    /// VIF_NEW for a device that is attached already changes its flags in place: the pod
    /// keeps forwarding. A module that refuses it (EEXIST) gets no delete and re-add; the
    /// error is reported and the vif keeps its old flags.
    fn set_vif_flags(&mut self, p: &PortWant) -> Result<(), KernelError> {
        self.c
            .vif_add(&virtual_vif(p))
            .map(|_| ())
            .map_err(refused(format!(
                "flags {:#x} of vif {}",
                vif_flags(p),
                p.host_ifname
            )))
    }

    /// Removes what `add_port` made; what is already gone is fine.
    pub fn remove_port(&mut self, p: &PortWant) -> Result<(), KernelError> {
        for r in port_routes(p) {
            match self.c.rt_del(r.vrf, r.prefix, r.prefix_len) {
                Err(e) if !is_enoent(&e) => {
                    return Err(refused(format!("route {}/{}", r.prefix, r.prefix_len))(e))
                }
                _ => {}
            }
        }
        match self.c.nh_del(p.nh) {
            // Still a member of a service composite: the next reconciliation takes it
            // out, then deletes it. The vif goes now all the same.
            Err(e) if e.errno() == Some(errno::EBUSY) => {
                debug!(nh = p.nh, host_ifname = %p.host_ifname, "port nexthop still in a composite; left to the reconciliation")
            }
            Err(e) if !is_enoent(&e) => return Err(refused(format!("nexthop {}", p.nh))(e)),
            _ => {}
        }
        self.remove_vif(&p.host_ifname)
    }

    pub fn remove_vif(&mut self, host_ifname: &str) -> Result<(), KernelError> {
        match self.c.vif_del(&VifSelector::Name(host_ifname.into())) {
            Err(e) if !is_enoent(&e) => Err(refused(format!("vif {host_ifname}"))(e)),
            _ => Ok(()),
        }
    }

    /// Makes the kernel hold exactly `want` (within what the agent owns).
    pub fn reconcile(&mut self, want: &Desired<'_>) -> Result<Summary, KernelError> {
        let mut s = Summary::default();
        let n = want.node;
        let vifs = self.c.vif_list(None).map_err(refused("vif dump"))?;

        // The host vif and its Receive nexthop come first: every route leads there.
        let vhost = self.ensure_vhost(n, &vifs, &mut s)?;
        let fabric = self.ensure_fabric(n, &vifs, &mut s);
        let nhs = self.nexthops()?;
        self.ensure_receive_nh(vhost, &nhs, &mut s)?;

        let live = self.reconcile_ports(&want.ports, &vifs, &nhs, &mut s)?;
        let (vip_nhs, vip_routes) = self.reconcile_vips(want.vips, &live, &nhs, &mut s);
        // Tunnels leave by the fabric vif, or by the vhost vif when the node has none
        // (the host's routing sends the outer packet either way).
        let (overlay_nhs, overlay_routes) =
            self.reconcile_overlay(n, fabric.unwrap_or(vhost), &nhs, &mut s);

        // Routes of the agent's VRFs: add what is missing or different, delete the rest.
        let mut routes = wanted_routes(n, &live, vip_routes, overlay_routes);
        self.remove_stale_routes(n, &mut routes, &mut s)?;
        self.add_routes(&routes, &mut s);

        // Stale nexthops (after the routes and labels that used them), then stale vifs
        // (a nexthop refers to its vif).
        let wanted_nh: BTreeSet<u32> = live
            .iter()
            .map(|p| p.nh)
            .chain(vip_nhs)
            .chain(overlay_nhs)
            .collect();
        self.remove_stale_nexthops(&nhs, &wanted_nh, n.overlay.is_some(), &mut s);
        self.remove_stale_vifs(&vifs, &mut s);
        Ok(s)
    }

    /// The vhost vif's index; the vif is created when the dump `vifs` lacks it.
    fn ensure_vhost(
        &mut self,
        n: &NodeWant,
        vifs: &[Vif],
        s: &mut Summary,
    ) -> Result<u32, KernelError> {
        match vifs
            .iter()
            .find(|v| v.name == n.vhost && v.kind == vif_type::HOST)
        {
            Some(v) => Ok(v.idx),
            None => {
                let req = VifAdd {
                    kind: vif_type::HOST,
                    name: Some(n.vhost.clone()),
                    mac: Some(VROUTER_MAC),
                    flags: VIF_FLAGS,
                    ip: n.vhost_ip,
                    ip6: n.vhost_ip6,
                    ..Default::default()
                };
                s.added += 1;
                s.vhost_created = true;
                Ok(self
                    .c
                    .vif_add(&req)
                    .map_err(refused(format!("host vif {}", n.vhost)))?
                    .idx)
            }
        }
    }

    /// The fabric's physical vif when the node has one, with the node's fabric address
    /// (tunnel packets to it are decapsulated): made when the dump `vifs` lacks it,
    /// made again when its address is not that one (a vif's address does not change in
    /// place; the host's traffic goes on meanwhile, it never depends on the vif). Returns
    /// its index; a refusal is reported and the reconciliation goes on.
    fn ensure_fabric(&mut self, n: &NodeWant, vifs: &[Vif], s: &mut Summary) -> Option<u32> {
        let f = n.fabric.as_ref()?;
        let have = vifs
            .iter()
            .find(|v| &v.name == f && v.kind == vif_type::PHYSICAL);
        if let Some(v) = have {
            if fabric_vif_fits(v, n.fabric_ip) {
                return Some(v.idx);
            }
            if let Err(e) = self.c.vif_del(&VifSelector::Name(f.clone())) {
                let e = refused(format!("re-addressing fabric vif {f}"))(e);
                s.errors.push(e.to_string());
                return Some(v.idx);
            }
            s.removed += 1;
        }
        let req = VifAdd {
            kind: vif_type::PHYSICAL,
            name: Some(f.clone()),
            flags: VIF_FLAGS,
            ip: n.fabric_ip,
            ..Default::default()
        };
        match self.c.vif_add(&req) {
            Ok(v) => {
                s.added += 1;
                Some(v.idx)
            }
            Err(e) => {
                let e = refused(format!("fabric vif {f}"))(e);
                s.errors.push(e.to_string());
                None
            }
        }
    }

    /// The overlay (overlay.rs), once it is known: a VRF-translate nexthop per VRF with
    /// its label and VNI, a tunnel nexthop per other node out of vif `oif`. Returns the
    /// overlay's nexthops that exist and the routes to the other nodes' pods through them.
    fn reconcile_overlay(
        &mut self,
        n: &NodeWant,
        oif: u32,
        nhs: &BTreeMap<u32, Nexthop>,
        s: &mut Summary,
    ) -> (BTreeSet<u32>, Vec<Route>) {
        let Some(o) = &n.overlay else {
            return Default::default();
        };
        let mut live = BTreeSet::new();
        let mut translates = BTreeMap::new();
        for (&vrf, &id) in &o.vrfs {
            let what = || format!("VRF-translate nexthop {id} of VRF {vrf}");
            if self.ensure_nh(&overlay::translate_nh(vrf, id), nhs, what, s) {
                live.insert(id);
                translates.insert(vrf, id);
            }
        }
        let labels = overlay::decap_entries(&translates);
        self.reconcile_decap::<MplsLabel>(&labels, s);
        self.reconcile_decap::<VxlanVni>(&labels, s);
        // Without this node's address there is no outer source: no tunnels.
        let Some(sip) = n.fabric_ip else {
            return (live, Vec::new());
        };
        let mut tunnels = Vec::new();
        for t in &o.tunnels {
            let nh = overlay::tunnel_nh(t, o.encap, oif, sip);
            let what = || format!("tunnel nexthop {} to {}", t.nh, t.dip);
            if self.ensure_nh(&nh, nhs, what, s) {
                live.insert(t.nh);
                tunnels.push(t);
            }
        }
        let vrfs: BTreeSet<u32> = o.vrfs.keys().copied().collect();
        (live, overlay::routes(&vrfs, &tunnels))
    }

    /// Nexthop `nh`, unless `nhs` has it as it is (NH_NEW replaces one of the same id in
    /// place: a tunnel keeps its id when the encapsulation changes). Whether the kernel
    /// holds a nexthop of that id and type afterwards: a refused replacement leaves the
    /// old one forwarding (the error is in `s`).
    fn ensure_nh(
        &mut self,
        nh: &NexthopAdd,
        nhs: &BTreeMap<u32, Nexthop>,
        what: impl FnOnce() -> String,
        s: &mut Summary,
    ) -> bool {
        let have = nhs.get(&nh.id);
        if have.is_some_and(|h| same_nh(h, nh)) {
            return true;
        }
        match self.c.nh_add(nh) {
            Ok(_) => {
                s.added += 1;
                true
            }
            Err(e) => {
                s.errors.push(refused(what())(e).to_string());
                have.is_some_and(|h| h.kind == nh.kind)
            }
        }
    }

    /// Makes decap table `T` (MPLS labels or VXLAN VNIs) hold exactly `want` (index ->
    /// nexthop): the agent owns the whole table.
    fn reconcile_decap<T: DecapTable>(&mut self, want: &BTreeMap<u32, u32>, s: &mut Summary) {
        let have = match self.c.decap_dump::<T>() {
            Ok(h) => h.iter().map(|e| (e.index(), e.nh())).collect::<Vec<_>>(),
            Err(e) => {
                let e = refused(format!("{} dump", T::WHAT))(e);
                s.errors.push(e.to_string());
                return;
            }
        };
        let (add, del) = overlay::decap_changes(&have, want);
        for i in del {
            match self.c.decap_del::<T>(i) {
                Ok(()) => s.removed += 1,
                Err(e) if is_enoent(&e) => {}
                Err(e) => s
                    .errors
                    .push(refused(format!("stale {} {i}", T::WHAT))(e).to_string()),
            }
        }
        for (i, nh) in add {
            match self.c.decap_add::<T>(i, nh) {
                Ok(_) => s.added += 1,
                Err(e) => s
                    .errors
                    .push(refused(format!("{} {i} to nexthop {nh}", T::WHAT))(e).to_string()),
            }
        }
    }

    /// The kernel's nexthops by id.
    fn nexthops(&mut self) -> Result<BTreeMap<u32, Nexthop>, KernelError> {
        Ok(self
            .c
            .nh_dump()
            .map_err(refused("nexthop dump"))?
            .into_iter()
            .map(|h| (h.id, h))
            .collect())
    }

    /// The Receive nexthop, to the host through vif `vhost`, unless `nhs` has it already.
    fn ensure_receive_nh(
        &mut self,
        vhost: u32,
        nhs: &BTreeMap<u32, Nexthop>,
        s: &mut Summary,
    ) -> Result<(), KernelError> {
        let rcv = NexthopAdd {
            id: NH_RECEIVE,
            kind: nh_type::RECEIVE,
            oif: Some(vhost),
            ..Default::default()
        };
        if !nhs.get(&NH_RECEIVE).is_some_and(|h| same_nh(h, &rcv)) {
            self.c.nh_add(&rcv).map_err(refused("receive nexthop 1"))?;
            s.added += 1;
        }
        Ok(())
    }

    /// Ports: vif and nexthop for each whose host interface exists. Returns the ports
    /// that are programmed (recorded in `s.vifs` too); the routes and VIPs build on them.
    fn reconcile_ports<'w>(
        &mut self,
        ports: &'w [PortWant],
        vifs: &[Vif],
        nhs: &BTreeMap<u32, Nexthop>,
        s: &mut Summary,
    ) -> Result<Vec<&'w PortWant>, KernelError> {
        let by_name: HashMap<&str, _> = vifs.iter().map(|v| (v.name.as_str(), v)).collect();
        let mut live: Vec<&PortWant> = Vec::new();
        for p in ports {
            if !interface_exists(&p.host_ifname) {
                continue;
            }
            let have = by_name.get(p.host_ifname.as_str()).copied();
            let Some(vif) = self.reconcile_port_vif(p, have, s)? else {
                continue;
            };
            if !self.reconcile_port_nh(p, vif, nhs, s) {
                continue;
            }
            s.vifs.insert(p.host_ifname.clone(), vif);
            live.push(p);
        }
        Ok(live)
    }

    /// A port's vif index: the kernel's vif `have` when it fits (its flags updated in
    /// place), else a new one. None when the kernel refused it (the error is in `s`).
    fn reconcile_port_vif(
        &mut self,
        p: &PortWant,
        have: Option<&Vif>,
        s: &mut Summary,
    ) -> Result<Option<u32>, KernelError> {
        let vif = match have {
            Some(v) if v.kind == vif_type::VIRTUAL && v.vrf == p.vrf => {
                // A flag change must not take a forwarding port down: on failure
                // the port stays programmed with its old flags.
                if v.flags != vif_flags(p) {
                    match self.set_vif_flags(p) {
                        Ok(()) => s.added += 1,
                        Err(e) if e.unavailable() => return Err(e),
                        Err(e) => s.errors.push(e.to_string()),
                    }
                }
                Ok(v.idx)
            }
            _ => {
                s.added += 1;
                self.ensure_vif(p)
            }
        };
        match vif {
            Ok(i) => Ok(Some(i)),
            Err(e) if e.unavailable() => Err(e),
            Err(e) => {
                s.errors.push(e.to_string());
                Ok(None)
            }
        }
    }

    /// A port's Encap nexthop out of `vif`, unless `nhs` has it already. False when the
    /// kernel refused it (the error is in `s`): the port is not live then.
    fn reconcile_port_nh(
        &mut self,
        p: &PortWant,
        vif: u32,
        nhs: &BTreeMap<u32, Nexthop>,
        s: &mut Summary,
    ) -> bool {
        let nh = port_nh(p, vif);
        if !nhs.get(&p.nh).is_some_and(|h| same_nh(h, &nh)) {
            if let Err(e) = self.c.nh_add(&nh) {
                s.errors.push(
                    refused(format!("nexthop {} for {}", p.nh, p.host_ifname))(e).to_string(),
                );
                return false;
            }
            s.added += 1;
        }
        true
    }

    /// Service VIPs, once their members exist: a composite over the live backends and
    /// a route to it. A VIP without a local backend keeps its route, to the discard
    /// nexthop: it fails here, visibly (drop counters), instead of following the VRF's
    /// default route to the host, and ARP/ND for it do not change as backends come
    /// and go. The kernel refuses a composite without members anyway.
    /// Returns the composites the routes lead to and the VIPs' routes.
    fn reconcile_vips(
        &mut self,
        vips: &[VipWant],
        live: &[&PortWant],
        nhs: &BTreeMap<u32, Nexthop>,
        s: &mut Summary,
    ) -> (BTreeSet<u32>, Vec<Route>) {
        let mut vip_nhs = BTreeSet::new();
        let mut vip_routes = Vec::with_capacity(vips.len());
        for v in vips {
            let members = composite_members(v, live, s);
            let target = if members.is_empty() {
                NH_DISCARD
            } else {
                self.ensure_vip_nh(v, members, nhs, s)
            };
            if target == v.nh {
                vip_nhs.insert(v.nh);
            }
            vip_routes.push(host_route(v.vrf, v.vip, target));
        }
        (vip_nhs, vip_routes)
    }

    /// The nexthop VIP `v`'s route leads to: its composite over `members` (made unless
    /// `nhs` has it already), or when the kernel refuses that, the composite it had or
    /// else discard.
    fn ensure_vip_nh(
        &mut self,
        v: &VipWant,
        members: Vec<u32>,
        nhs: &BTreeMap<u32, Nexthop>,
        s: &mut Summary,
    ) -> u32 {
        let nh = vip_nh(v, members);
        if nhs.get(&v.nh).is_some_and(|h| same_nh(h, &nh)) {
            return v.nh;
        }
        match self.c.nh_add(&nh) {
            Ok(_) => {
                s.added += 1;
                v.nh
            }
            Err(e) => {
                s.errors.push(
                    refused(format!("composite nexthop {} for VIP {}", v.nh, v.vip))(e).to_string(),
                );
                // The previous members still forward; with none, discard.
                if nhs.get(&v.nh).is_some_and(|h| h.kind == nh_type::COMPOSITE) {
                    v.nh
                } else {
                    NH_DISCARD
                }
            }
        }
    }

    /// Deletes the agent's routes that are not in `routes` and takes those the kernel
    /// holds as wanted out of it, leaving there what is missing or different.
    fn remove_stale_routes(
        &mut self,
        n: &NodeWant,
        routes: &mut RouteMap,
        s: &mut Summary,
    ) -> Result<(), KernelError> {
        for vrf in n.route_vrfs() {
            for fam in [addr_family::INET, addr_family::INET6] {
                let Some(have) = self.route_dump(vrf, fam, s)? else {
                    continue;
                };
                for r in have.into_iter().filter(|r| n.owns(r)) {
                    self.keep_or_delete_route(vrf, r, routes, s);
                }
            }
        }
        Ok(())
    }

    /// The routes of one family in `vrf`; None when the kernel refused the dump (the
    /// error is in `s`).
    fn route_dump(
        &mut self,
        vrf: u32,
        fam: u32,
        s: &mut Summary,
    ) -> Result<Option<Vec<Route>>, KernelError> {
        match self.c.rt_dump(vrf, fam) {
            Ok(h) => Ok(Some(h)),
            Err(e) => {
                let e = refused(format!("route dump of VRF {vrf}"))(e);
                if e.unavailable() {
                    return Err(e);
                }
                s.errors.push(e.to_string());
                Ok(None)
            }
        }
    }

    /// Kernel route `r` of `vrf`: as wanted, it leaves `routes` (nothing to add);
    /// different, it stays there (to be replaced); not wanted, it is deleted.
    fn keep_or_delete_route(&mut self, vrf: u32, r: Route, routes: &mut RouteMap, s: &mut Summary) {
        let key = (vrf, r.prefix, r.prefix_len);
        match routes.get(&key) {
            Some(w) if same_route(&r, w) => {
                routes.remove(&key);
            }
            Some(_) => {}
            None => match self.c.rt_del(vrf, r.prefix, r.prefix_len) {
                Ok(()) => s.removed += 1,
                Err(e) if is_enoent(&e) => {}
                Err(e) => s.errors.push(
                    refused(format!("stale route {}/{}", r.prefix, r.prefix_len))(e).to_string(),
                ),
            },
        }
    }

    /// Adds `routes` (the kernel replaces a different one); a refusal is reported and
    /// the rest go on.
    fn add_routes(&mut self, routes: &RouteMap, s: &mut Summary) {
        for r in routes.values() {
            match self.c.rt_add(r) {
                Ok(()) => s.added += 1,
                Err(e) => s.errors.push(
                    refused(format!(
                        "route {}/{} in VRF {}",
                        r.prefix, r.prefix_len, r.vrf
                    ))(e)
                    .to_string(),
                ),
            }
        }
    }

    /// The agent's nexthops in `nhs` that are not `wanted`, composites first (they hold
    /// their members); the overlay's kinds only once the overlay is known.
    fn remove_stale_nexthops(
        &mut self,
        nhs: &BTreeMap<u32, Nexthop>,
        wanted: &BTreeSet<u32>,
        overlay_known: bool,
        s: &mut Summary,
    ) {
        let mut stale: Vec<&Nexthop> = nhs
            .values()
            .filter(|h| h.id >= NH_BASE && !wanted.contains(&h.id))
            .filter(|h| overlay_known || !is_overlay_kind(h.kind))
            .collect();
        stale.sort_by_key(|h| h.kind != nh_type::COMPOSITE);
        for id in stale.into_iter().map(|h| h.id) {
            match self.c.nh_del(id) {
                Ok(()) => s.removed += 1,
                Err(e) if is_enoent(&e) => {}
                Err(e) => s
                    .errors
                    .push(refused(format!("stale nexthop {id}"))(e).to_string()),
            }
        }
    }

    /// The Virtual vifs in `vifs` of no programmed port (`s.vifs`).
    fn remove_stale_vifs(&mut self, vifs: &[Vif], s: &mut Summary) {
        for v in vifs
            .iter()
            .filter(|v| v.kind == vif_type::VIRTUAL && !s.vifs.contains_key(&v.name))
        {
            match self.c.vif_del(&VifSelector::Name(v.name.clone())) {
                Ok(()) => s.removed += 1,
                Err(e) if is_enoent(&e) => {}
                Err(e) => s
                    .errors
                    .push(refused(format!("stale vif {}", v.name))(e).to_string()),
            }
        }
    }
}

fn is_overlay_kind(kind: u32) -> bool {
    matches!(kind, nh_type::TUNNEL | nh_type::VRF_TRANSLATE)
}

/// Whether the kernel's fabric vif `v` has the address the node wants on it (any, while
/// the node's address is not known).
fn fabric_vif_fits(v: &Vif, want: Option<Ipv4Addr>) -> bool {
    want.is_none_or(|ip| v.ip == ip)
}

/// A port's MAC: locally administered, derived from its IPv4 address (unique on the node).
pub fn mac_for(ip: Ipv4Addr) -> String {
    let o = ip.octets();
    format_mac(&[0x02, 0x00, o[0], o[1], o[2], o[3]])
}

pub fn mac_bytes(s: &str) -> Option<[u8; 6]> {
    parse_mac(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_routes_are_proxied_host_routes_in_the_network_and_host_vrfs() {
        let p = PortWant {
            host_ifname: "tapeth0-1".into(),
            vrf: 3,
            nh: 100,
            mac: [2, 0, 10, 0, 0, 2],
            ipv4: Ipv4Addr::new(10, 0, 0, 2),
            ipv6: Some("fd00::2".parse().unwrap()),
            policy: false,
            routed_from: Vec::new(),
        };
        let r = port_routes(&p);
        assert_eq!(r.len(), 4);
        assert!(r
            .iter()
            .all(|r| r.nh_id == 100 && r.flags == rt_flag::PROXY_ARP));
        let key = |r: &Route| (r.vrf, r.prefix_len);
        assert_eq!(
            r.iter().map(key).collect::<Vec<_>>(),
            [(HOST_VRF, 32), (3, 32), (HOST_VRF, 128), (3, 128)]
        );
        // routed from another network's VRF (isolation): there too, each VRF once
        let leaked = PortWant {
            routed_from: vec![1, 3],
            ..p.clone()
        };
        assert_eq!(
            port_routes(&leaked).iter().map(key).collect::<Vec<_>>(),
            [
                (HOST_VRF, 32),
                (1, 32),
                (3, 32),
                (HOST_VRF, 128),
                (1, 128),
                (3, 128)
            ]
        );
        let nh = port_nh(&p, 7);
        assert_eq!(nh.oif, Some(7));
        assert_eq!(&nh.encap[..6], &p.mac);
        assert_eq!(&nh.encap[6..12], &VROUTER_MAC);
    }

    #[test]
    fn node_routes_cover_gateway_and_default_per_vrf() {
        let n = NodeWant {
            vhost: "vhost0".into(),
            vhost_ip: None,
            vhost_ip6: None,
            fabric: None,
            fabric_ip: None,
            vrfs: BTreeMap::from([
                (1, vec![IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))]),
                (2, vec![]),
            ]),
            pod_cidrs: vec!["10.0.0.0/24".parse().unwrap()],
            retired_vrfs: BTreeSet::new(),
            overlay: None,
        };
        let r = node_routes(&n);
        assert_eq!(r.len(), 5);
        assert!(r.iter().all(|r| r.nh_id == NH_RECEIVE));
        assert_eq!(
            r.iter().filter(|r| r.flags == rt_flag::PROXY_ARP).count(),
            1
        );
    }

    #[test]
    fn host_vrf_ownership_is_pod_host_routes_only() {
        let n = NodeWant {
            vhost: "vhost0".into(),
            vhost_ip: None,
            vhost_ip6: None,
            fabric: None,
            fabric_ip: None,
            vrfs: BTreeMap::new(),
            pod_cidrs: vec![
                "10.0.0.0/24".parse().unwrap(),
                "fd00::/112".parse().unwrap(),
            ],
            retired_vrfs: BTreeSet::new(),
            overlay: None,
        };
        let r = |vrf, a: &str, len| Route::new(vrf, a.parse().unwrap(), len, 100);
        assert!(n.owns(&r(HOST_VRF, "10.0.0.7", 32)));
        assert!(n.owns(&r(HOST_VRF, "fd00::7", 128)));
        assert!(
            !n.owns(&r(HOST_VRF, "10.0.0.0", 24)),
            "the operator's prefix routes stay"
        );
        assert!(
            !n.owns(&r(HOST_VRF, "10.9.0.7", 32)),
            "host routes outside the pod CIDRs stay"
        );
        assert!(
            n.owns(&r(4, "10.9.0.0", 16)),
            "network VRFs are the agent's"
        );
    }

    fn overlay_node(overlay: Option<OverlayWant>) -> NodeWant {
        NodeWant {
            vhost: "vhost0".into(),
            vhost_ip: None,
            vhost_ip6: None,
            fabric: Some("eth1".into()),
            fabric_ip: Some(Ipv4Addr::new(10, 77, 0, 11)),
            vrfs: BTreeMap::from([(1, vec![])]),
            pod_cidrs: vec!["10.32.1.0/24".parse().unwrap()],
            retired_vrfs: BTreeSet::new(),
            overlay,
        }
    }

    #[test]
    fn labelled_routes_are_the_agents_once_the_overlay_is_known() {
        let mut to_node2 = Route::new(HOST_VRF, "10.32.2.0".parse().unwrap(), 24, 700);
        to_node2.label = Some(16);
        let mut in_net = to_node2;
        in_net.vrf = 1;
        in_net.label = Some(17);
        // before the API's view (an agent that restarts): the overlay's routes stay
        let unknown = overlay_node(None);
        assert!(!unknown.owns(&to_node2) && !unknown.owns(&in_net));
        let known = overlay_node(Some(OverlayWant::default()));
        assert!(known.owns(&to_node2) && known.owns(&in_net));
        let unlabelled = Route::new(HOST_VRF, "10.32.2.0".parse().unwrap(), 24, 700);
        assert!(
            !known.owns(&unlabelled),
            "the operator's prefix routes in VRF 0 stay"
        );
        assert_eq!(known.overlay_vrfs(), BTreeSet::from([HOST_VRF, 1]));
    }

    #[test]
    fn routes_compare_with_their_label() {
        let mut want = Route::new(1, "10.32.2.0".parse().unwrap(), 24, 700);
        want.label = Some(17);
        // as the kernel reports it: LABEL_VALID set with the label
        let mut have = want;
        have.flags |= rt_flag::LABEL_VALID;
        assert!(same_route(&have, &want));
        assert!(!same_route(
            &Route {
                label: Some(18),
                ..have
            },
            &want
        ));
        assert!(!same_route(
            &Route {
                label: None,
                flags: 0,
                ..have
            },
            &want
        ));
        assert!(!same_route(&Route { nh_id: 701, ..have }, &want));
        let plain = Route::new(1, "10.32.1.5".parse().unwrap(), 32, 100);
        assert!(same_route(&plain, &plain));
        assert!(!same_route(
            &Route {
                label: Some(17),
                ..plain
            },
            &plain
        ));
    }

    #[test]
    fn a_local_route_wins_over_another_nodes_prefix_with_the_same_key() {
        let n = overlay_node(Some(OverlayWant::default()));
        let p = port(1, 105, 5);
        let mut clash = Route::new(1, IpAddr::V4(p.ipv4), 32, 700);
        clash.label = Some(17);
        let mut remote = Route::new(1, "10.32.2.0".parse().unwrap(), 24, 700);
        remote.label = Some(17);
        let routes = wanted_routes(&n, &[&p], Vec::new(), vec![clash, remote]);
        assert_eq!(routes[&(1, IpAddr::V4(p.ipv4), 32)].nh_id, 105);
        assert_eq!(routes[&(1, remote.prefix, 24)].label, Some(17));
    }

    #[test]
    fn the_fabric_vif_carries_the_nodes_address() {
        let vif = |ip: [u8; 4]| Vif {
            idx: 1,
            rid: 0,
            kind: vif_type::PHYSICAL,
            type_name: "Physical".into(),
            os_idx: 3,
            name: "eth1".into(),
            vrf: 0,
            mcast_vrf: 0,
            mac: "02:00:00:00:00:01".into(),
            flags: VIF_FLAGS,
            mtu: 1500,
            ip: ip.into(),
            ip6: None,
            nh_id: 0,
            qos: 0,
            ref_cnt: 1,
            stats: Default::default(),
        };
        let me = Some(Ipv4Addr::new(10, 77, 0, 11));
        assert!(fabric_vif_fits(&vif([10, 77, 0, 11]), me));
        assert!(
            !fabric_vif_fits(&vif([0, 0, 0, 0]), me),
            "made again with it"
        );
        assert!(
            fabric_vif_fits(&vif([0, 0, 0, 0]), None),
            "unknown: left as it is"
        );
    }

    #[test]
    fn overlay_ids_count_down_below_the_vip_block_then_into_it() {
        let space = NhSpace::new(110);
        // 100..110: the VIP block is the top 2 (a quarter of 10)
        let order: Vec<u32> = space.overlay_candidates().collect();
        assert_eq!(order, [107, 106, 105, 104, 103, 102, 101, 100, 109, 108]);
        assert_eq!(NhSpace::new(16).overlay_candidates().count(), 0);
        assert!(is_overlay_kind(nh_type::TUNNEL) && is_overlay_kind(nh_type::VRF_TRANSLATE));
        assert!(!is_overlay_kind(nh_type::ENCAP) && !is_overlay_kind(nh_type::COMPOSITE));
    }

    fn port(vrf: u32, nh: u32, last: u8) -> PortWant {
        PortWant {
            host_ifname: format!("tap{nh}"),
            vrf,
            nh,
            mac: [2, 0, 10, 32, 0, last],
            ipv4: Ipv4Addr::new(10, 32, 0, last),
            ipv6: Some(format!("fd00:32::{last}").parse().unwrap()),
            policy: true,
            routed_from: Vec::new(),
        }
    }

    fn services(text: &str) -> Vec<Service> {
        let cfg = format!(
            "node-name = \"n\"\nstate-dir = \"/x\"\npod-cidr = \"10.32.0.0/24\"\npod-cidr-v6 = \"fd00:32::/112\"\n\
             [[networks]]\nname = \"a\"\nvrf = 1\n[[networks]]\nname = \"b\"\nvrf = 2\nnamespaces = [\"b\"]\n{text}"
        );
        crate::policy::Services::from_node(&crate::config::Node::parse(&cfg).unwrap())
            .all()
            .to_vec()
    }

    fn svc(name: &str, net: &str, vip: &str, port: u16, backends: &[&str]) -> String {
        let b: Vec<String> = backends.iter().map(|b| format!("{b:?}")).collect();
        format!(
            "[[services]]\nname = \"{name}\"\nnetwork = \"{net}\"\nvip = \"{vip}\"\nport = {port}\nbackends = [{}]\n",
            b.join(", ")
        )
    }

    #[test]
    fn one_vip_want_per_vrf_and_vip_with_the_union_of_backends() {
        let all = services(
            &[
                svc(
                    "web",
                    "a",
                    "10.96.0.1",
                    80,
                    &["10.32.0.5:8080", "10.32.0.6:8080"],
                ),
                svc(
                    "web-tls",
                    "a",
                    "10.96.0.1",
                    443,
                    &["10.32.0.6:8443", "10.32.0.7:8443"],
                ),
                svc("web", "b", "10.96.0.1", 80, &["10.32.0.9:80"]),
                svc("dns6", "a", "fd00:96::a", 53, &["[fd00:32::5]:53"]),
            ]
            .concat(),
        );
        let (v, problems) = vip_wants(&all, &BTreeSet::new(), NhSpace::default());
        assert!(problems.is_empty());
        assert_eq!(v.len(), 3);
        let a = v.iter().find(|w| w.vrf == 1 && w.vip.is_ipv4()).unwrap();
        let ips: Vec<IpAddr> = ["10.32.0.5", "10.32.0.6", "10.32.0.7"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(a.backends, ips);
        let ids: BTreeSet<u32> = v.iter().map(|w| w.nh).collect();
        assert_eq!(ids.len(), 3);
        let top = vrouter_uapi::DEFAULT_NEXTHOPS - 1;
        assert!(ids.iter().all(|&id| id > top - NH_VIP_SLOTS && id <= top));
    }

    #[test]
    fn ids_follow_the_module_table_size_and_run_out_loudly() {
        let one = svc("x", "a", "10.96.0.1", 80, &["10.32.0.5:80"]);
        let two = svc("y", "b", "10.96.0.2", 80, &["10.32.0.6:80"]);
        let all = services(&format!("{one}{two}"));
        // vr_nexthops=1024: the VIPs sit in the top quarter of 100..1024, inside the table.
        let small = NhSpace::new(1024);
        let (v, problems) = vip_wants(&all, &BTreeSet::new(), small);
        assert!(problems.is_empty(), "{problems:?}");
        assert!(
            v.iter().all(|w| (1024 - 231..1024).contains(&w.nh)),
            "{v:?}"
        );
        // Ports wrap around inside the space and skip what is used.
        let used: BTreeSet<u32> = [1022, 1023, 100].into();
        assert_eq!(small.next_free(1022, &used), Some(101));
        assert_eq!(small.next_free(5000, &used), Some(101));
        assert_eq!(small.next_free(0, &used), Some(101));
        // A full space is an error, not a reused id.
        let tiny = NhSpace::new(102);
        let full: BTreeSet<u32> = [100, 101].into();
        assert_eq!(tiny.next_free(100, &full), None);
        let (v, problems) = vip_wants(&all, &full, tiny);
        assert!(v.is_empty());
        assert_eq!(problems.len(), 2);
        assert!(problems[0].contains("table holds 102"), "{problems:?}");
        // One id left: the first VIP (in (VRF, VIP) order) gets it, the second is refused.
        let (v, problems) = vip_wants(&all, &[100].into(), tiny);
        assert_eq!((v.len(), v[0].nh, problems.len()), (1, 101, 1));
        // A table smaller than NH_BASE leaves the agent no id at all.
        let none = NhSpace::new(16);
        assert!(none.ids().is_empty());
        assert_eq!(none.next_free(100, &BTreeSet::new()), None);
        assert_eq!(vip_wants(&all, &BTreeSet::new(), none).0.len(), 0);
    }

    #[test]
    fn vip_ids_are_stable_avoid_port_ids_and_ignore_config_order() {
        let one = svc("x", "a", "10.96.0.1", 80, &["10.32.0.5:80"]);
        let two = svc("y", "b", "10.96.0.2", 80, &["10.32.0.6:80"]);
        let (v1, _) = vip_wants(
            &services(&format!("{one}{two}")),
            &BTreeSet::new(),
            NhSpace::default(),
        );
        let (v2, _) = vip_wants(
            &services(&format!("{two}{one}")),
            &BTreeSet::new(),
            NhSpace::default(),
        );
        assert_eq!(v1, v2);
        let (again, _) = vip_wants(
            &services(&format!("{one}{two}")),
            &BTreeSet::new(),
            NhSpace::default(),
        );
        assert_eq!(v1, again);
        // A port that already holds a VIP's preferred id pushes the VIP to the next one.
        let used: BTreeSet<u32> = v1.iter().map(|w| w.nh).collect();
        let (v3, _) = vip_wants(&services(&format!("{one}{two}")), &used, NhSpace::default());
        assert!(v3.iter().all(|w| !used.contains(&w.nh) && w.nh >= NH_BASE));
        assert_eq!(v3.iter().map(|w| w.nh).collect::<BTreeSet<_>>().len(), 2);
    }

    #[test]
    fn composite_members_are_the_local_backends_in_order() {
        let all = services(&svc(
            "web",
            "a",
            "10.96.0.1",
            80,
            &[
                "10.32.0.7:80",
                "10.32.0.99:80",
                "10.32.0.5:80",
                "10.32.0.7:81",
            ],
        ));
        let (v, _) = vip_wants(&all, &BTreeSet::new(), NhSpace::default());
        let (p5, p7, other_vrf) = (port(1, 105, 5), port(1, 107, 7), port(2, 199, 99));
        // .99 is a pod of another network's VRF here, so not a member; .7 counts once.
        assert_eq!(vip_members(&v[0], &[&p5, &p7, &other_vrf]), [107, 105]);
        assert_eq!(vip_members(&v[0], &[&p5]), [105]);
        assert!(vip_members(&v[0], &[]).is_empty());
        let nh = vip_nh(&v[0], vec![107, 105]);
        assert_eq!(
            (nh.kind, nh.flags, nh.family, nh.vrf, nh.id),
            (
                nh_type::COMPOSITE,
                nh_flag::COMPOSITE_ECMP,
                addr_family::INET,
                1,
                v[0].nh
            )
        );
        assert_eq!(nh.oif, None);
        let r = host_route(v[0].vrf, v[0].vip, nh.id);
        assert_eq!(
            (r.prefix_len, r.flags, r.nh_id),
            (32, rt_flag::PROXY_ARP, v[0].nh)
        );

        let all6 = services(&svc("dns", "a", "fd00:96::a", 53, &["[fd00:32::7]:53"]));
        let (v6, _) = vip_wants(&all6, &BTreeSet::new(), NhSpace::default());
        assert_eq!(vip_members(&v6[0], &[&p5, &p7]), [107]);
        assert_eq!(vip_nh(&v6[0], vec![107]).family, addr_family::INET6);
        assert_eq!(host_route(1, v6[0].vip, NH_DISCARD).prefix_len, 128);
    }

    #[test]
    fn kernel_nexthops_compare_without_the_valid_flag() {
        let v = VipWant {
            vrf: 1,
            vip: "10.96.0.1".parse().unwrap(),
            nh: 60000,
            backends: vec![],
        };
        let w = vip_nh(&v, vec![105, 107]);
        let have = Nexthop {
            id: 60000,
            kind: nh_type::COMPOSITE,
            family: addr_family::INET,
            flags: nh_flag::VALID | nh_flag::COMPOSITE_ECMP,
            vrf: 1,
            oif: None,
            encap: vec![],
            members: vec![105, 107],
            labels: vec![0, 0],
            ref_cnt: 2,
            rid: 0,
            tun_sip: None,
            tun_dip: None,
        };
        assert!(same_nh(&have, &w));
        assert!(!same_nh(
            &Nexthop {
                members: vec![107, 105],
                ..have.clone()
            },
            &w
        ));
        assert!(!same_nh(
            &Nexthop {
                members: vec![105],
                ..have.clone()
            },
            &w
        ));
        assert!(!same_nh(
            &Nexthop {
                flags: nh_flag::VALID,
                ..have.clone()
            },
            &w
        ));
        assert!(!same_nh(
            &Nexthop {
                labels: vec![0, 9],
                ..have.clone()
            },
            &w
        ));
        let p = port(1, 105, 5);
        let enc = port_nh(&p, 7);
        let have = Nexthop {
            id: 105,
            kind: nh_type::ENCAP,
            flags: nh_flag::VALID,
            vrf: 0,
            oif: Some(7),
            encap: enc.encap.clone(),
            members: vec![],
            labels: vec![],
            ..have
        };
        assert!(same_nh(&have, &enc));
        assert!(!same_nh(&have, &port_nh(&p, 8)));
    }

    #[test]
    fn policy_ports_get_the_policy_vif_flag() {
        let mut p = port(1, 105, 5);
        assert_eq!(
            virtual_vif(&p).flags,
            vif_flag::L3_ENABLED | vif_flag::L2_ENABLED | vif_flag::POLICY
        );
        p.policy = false;
        let v = virtual_vif(&p);
        assert_eq!(v.flags, vif_flag::L3_ENABLED | vif_flag::L2_ENABLED);
        assert_eq!(
            (v.kind, v.vrf, v.name.as_deref(), v.idx),
            (vif_type::VIRTUAL, 1, Some("tap105"), None)
        );
    }

    #[test]
    fn macs_are_local_and_follow_the_address() {
        assert_eq!(mac_for(Ipv4Addr::new(10, 32, 0, 5)), "02:00:0a:20:00:05");
        assert_eq!(mac_bytes("02:00:0a:20:00:05"), Some([2, 0, 10, 32, 0, 5]));
        assert!(
            valid_ifname("tapeth0-8a2b3c")
                && !valid_ifname("../x")
                && !valid_ifname("0123456789abcdef")
        );
    }
}
