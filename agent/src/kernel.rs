//! Programming vrouter.ko: the agent is the single writer of its tables.
//!
//! Two ways in, one model: [`Desired`] is everything the kernel should hold for this node
//! (the vhost vif, the Receive nexthop, per-network gateway and default routes, and for
//! every bound port a Virtual vif, an Encap nexthop and /32 + /128 routes).
//! - [`Kernel::add_port`] / [`Kernel::remove_port`] make the few changes of one CNI call
//!   directly (the fast path of ADD and DEL);
//! - [`Kernel::reconcile`] reads the tables back and makes the smallest set of changes that
//!   turns them into `Desired`: at start, periodically, and after the module was reloaded.
//!   What already matches is not touched, so pods that forward keep forwarding.
//!
//! Ownership: Virtual vifs, the vhost vif, nexthop 1 and nexthops from [`NH_BASE`] on, and
//! every route of the VRFs the networks use belong to the agent; anything else (other
//! nexthop ids, other VRFs) is left alone for the operator.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use vrouter_client::nh::eth_header;
use vrouter_client::vif::{format_mac, parse_mac};
use vrouter_client::{errno, Client, Error, NexthopAdd, Route, VifAdd, VifSelector};
use vrouter_uapi::{addr_family, nh_type, rt_flag, vif_flag, vif_type, VROUTER_MAC};

/// The Receive nexthop: to the host through the vhost vif.
pub const NH_RECEIVE: u32 = 1;
/// Port nexthops are numbered from here.
pub const NH_BASE: u32 = 100;

/// The node-wide part of the desired state.
#[derive(Debug, Clone)]
pub struct NodeWant {
    pub vhost: String,
    pub vhost_ip: Option<Ipv4Addr>,
    pub vhost_ip6: Option<Ipv6Addr>,
    pub fabric: Option<String>,
    /// Per network VRF: addresses answered by the host (gateway, DNS), proxied.
    pub vrfs: BTreeMap<u32, Vec<IpAddr>>,
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
}

pub struct Desired<'a> {
    pub node: &'a NodeWant,
    pub ports: Vec<PortWant>,
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
    !name.is_empty() && name.len() < 16 && !name.contains(['/', ' ', ':']) && name != "." && name != ".."
}

pub fn port_routes(p: &PortWant) -> Vec<Route> {
    let mut v = Vec::with_capacity(2);
    let mut r = Route::new(p.vrf, IpAddr::V4(p.ipv4), 32, p.nh);
    r.flags = rt_flag::PROXY_ARP;
    v.push(r);
    if let Some(a) = p.ipv6 {
        let mut r = Route::new(p.vrf, IpAddr::V6(a), 128, p.nh);
        r.flags = rt_flag::PROXY_ARP;
        v.push(r);
    }
    v
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
            let len = if a.is_ipv4() { 32 } else { 128 };
            let mut r = Route::new(vrf, *a, len, NH_RECEIVE);
            r.flags = rt_flag::PROXY_ARP;
            v.push(r);
        }
        v.push(Route::new(vrf, IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0, NH_RECEIVE));
        v.push(Route::new(vrf, IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0, NH_RECEIVE));
    }
    v
}

const VIF_FLAGS: u32 = vif_flag::L3_ENABLED | vif_flag::L2_ENABLED;

fn virtual_vif(name: &str, vrf: u32) -> VifAdd {
    VifAdd { kind: vif_type::VIRTUAL, name: Some(name.into()), vrf, flags: VIF_FLAGS, ..Default::default() }
}

/// A connection to the module, opened per batch of work: a fresh socket resolves the
/// family again, so a module that was unloaded and loaded in between is simply found.
pub struct Kernel {
    c: Client,
}

impl Kernel {
    pub fn connect() -> Result<Kernel, KernelError> {
        Client::connect().map(|c| Kernel { c }).map_err(|e| KernelError::Unavailable(e.to_string()))
    }

    /// The vif for `host_ifname` in `vrf`, the Encap nexthop and the routes of one port.
    /// Returns the vif index.
    pub fn add_port(&mut self, p: &PortWant) -> Result<u32, KernelError> {
        let vif = self.ensure_vif(p)?;
        self.c.nh_add(&port_nh(p, vif)).map_err(refused(format!("nexthop {} for {}", p.nh, p.host_ifname)))?;
        for r in port_routes(p) {
            self.c.rt_add(&r).map_err(refused(format!("route {}/{} in VRF {}", r.prefix, r.prefix_len, r.vrf)))?;
        }
        Ok(vif)
    }

    fn ensure_vif(&mut self, p: &PortWant) -> Result<u32, KernelError> {
        let by_name = VifSelector::Name(p.host_ifname.clone());
        match self.c.vif_get(&by_name, None) {
            Ok(v) if v.kind == vif_type::VIRTUAL && v.vrf == p.vrf => return Ok(v.idx),
            Ok(_) => self.c.vif_del(&by_name).map_err(refused(format!("replacing vif {}", p.host_ifname)))?,
            Err(e) if is_enoent(&e) => {}
            Err(e) => return Err(refused(format!("vif {}", p.host_ifname))(e)),
        }
        let v = self.c.vif_add(&virtual_vif(&p.host_ifname, p.vrf)).map_err(refused(format!("vif for {}", p.host_ifname)))?;
        Ok(v.idx)
    }

    /// Removes what `add_port` made; what is already gone is fine.
    pub fn remove_port(&mut self, p: &PortWant) -> Result<(), KernelError> {
        for r in port_routes(p) {
            match self.c.rt_del(r.vrf, r.prefix, r.prefix_len) {
                Err(e) if !is_enoent(&e) => return Err(refused(format!("route {}/{}", r.prefix, r.prefix_len))(e)),
                _ => {}
            }
        }
        match self.c.nh_del(p.nh) {
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
        let vhost = match vifs.iter().find(|v| v.name == n.vhost && v.kind == vif_type::HOST) {
            Some(v) => v.idx,
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
                self.c.vif_add(&req).map_err(refused(format!("host vif {}", n.vhost)))?.idx
            }
        };
        if let Some(f) = &n.fabric {
            if !vifs.iter().any(|v| &v.name == f && v.kind == vif_type::PHYSICAL) {
                let req = VifAdd { kind: vif_type::PHYSICAL, name: Some(f.clone()), flags: VIF_FLAGS, ..Default::default() };
                match self.c.vif_add(&req) {
                    Ok(_) => s.added += 1,
                    Err(e) => s.errors.push(refused(format!("fabric vif {f}"))(e).to_string()),
                }
            }
        }
        let nhs: BTreeMap<u32, _> = self.c.nh_dump().map_err(refused("nexthop dump"))?.into_iter().map(|h| (h.id, h)).collect();
        let rcv = NexthopAdd { id: NH_RECEIVE, kind: nh_type::RECEIVE, oif: Some(vhost), ..Default::default() };
        if !nhs.get(&NH_RECEIVE).is_some_and(|h| h.kind == rcv.kind && h.oif == rcv.oif) {
            self.c.nh_add(&rcv).map_err(refused("receive nexthop 1"))?;
            s.added += 1;
        }

        // Ports: vif and nexthop for each whose host interface exists.
        let by_name: HashMap<&str, _> = vifs.iter().map(|v| (v.name.as_str(), v)).collect();
        let mut live: Vec<&PortWant> = Vec::new();
        for p in &want.ports {
            if !interface_exists(&p.host_ifname) {
                continue;
            }
            let vif = match by_name.get(p.host_ifname.as_str()) {
                Some(v) if v.kind == vif_type::VIRTUAL && v.vrf == p.vrf => Ok(v.idx),
                _ => {
                    s.added += 1;
                    self.ensure_vif(p)
                }
            };
            let vif = match vif {
                Ok(i) => i,
                Err(e) if e.unavailable() => return Err(e),
                Err(e) => {
                    s.errors.push(e.to_string());
                    continue;
                }
            };
            let nh = port_nh(p, vif);
            let same = nhs.get(&p.nh).is_some_and(|h| h.kind == nh.kind && h.oif == nh.oif && h.encap == nh.encap);
            if !same {
                if let Err(e) = self.c.nh_add(&nh) {
                    s.errors.push(refused(format!("nexthop {} for {}", p.nh, p.host_ifname))(e).to_string());
                    continue;
                }
                s.added += 1;
            }
            s.vifs.insert(p.host_ifname.clone(), vif);
            live.push(p);
        }

        // Routes of the agent's VRFs: add what is missing or different, delete the rest.
        let mut routes: BTreeMap<(u32, IpAddr, u8), Route> = BTreeMap::new();
        for r in node_routes(n).into_iter().chain(live.iter().flat_map(|p| port_routes(p))) {
            routes.insert((r.vrf, r.prefix, r.prefix_len), r);
        }
        for &vrf in n.vrfs.keys() {
            for fam in [addr_family::INET, addr_family::INET6] {
                let have = match self.c.rt_dump(vrf, fam) {
                    Ok(h) => h,
                    Err(e) => {
                        let e = refused(format!("route dump of VRF {vrf}"))(e);
                        if e.unavailable() {
                            return Err(e);
                        }
                        s.errors.push(e.to_string());
                        continue;
                    }
                };
                for r in have {
                    let key = (vrf, r.prefix, r.prefix_len);
                    match routes.get(&key) {
                        Some(w) if w.nh_id == r.nh_id && w.flags == r.flags && r.label.is_none() => {
                            routes.remove(&key);
                        }
                        Some(_) => {}
                        None => match self.c.rt_del(vrf, r.prefix, r.prefix_len) {
                            Ok(()) => s.removed += 1,
                            Err(e) if is_enoent(&e) => {}
                            Err(e) => s.errors.push(refused(format!("stale route {}/{}", r.prefix, r.prefix_len))(e).to_string()),
                        },
                    }
                }
            }
        }
        for r in routes.values() {
            match self.c.rt_add(r) {
                Ok(()) => s.added += 1,
                Err(e) => s.errors.push(refused(format!("route {}/{} in VRF {}", r.prefix, r.prefix_len, r.vrf))(e).to_string()),
            }
        }

        // Stale nexthops, then stale vifs (a nexthop refers to its vif).
        let wanted_nh: BTreeSet<u32> = live.iter().map(|p| p.nh).collect();
        for &id in nhs.keys().filter(|&&id| id >= NH_BASE && !wanted_nh.contains(&id)) {
            match self.c.nh_del(id) {
                Ok(()) => s.removed += 1,
                Err(e) if is_enoent(&e) => {}
                Err(e) => s.errors.push(refused(format!("stale nexthop {id}"))(e).to_string()),
            }
        }
        for v in vifs.iter().filter(|v| v.kind == vif_type::VIRTUAL && !s.vifs.contains_key(&v.name)) {
            match self.c.vif_del(&VifSelector::Name(v.name.clone())) {
                Ok(()) => s.removed += 1,
                Err(e) if is_enoent(&e) => {}
                Err(e) => s.errors.push(refused(format!("stale vif {}", v.name))(e).to_string()),
            }
        }
        Ok(s)
    }
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
    fn port_routes_are_proxied_host_routes() {
        let p = PortWant {
            host_ifname: "tapeth0-1".into(),
            vrf: 3,
            nh: 100,
            mac: [2, 0, 10, 0, 0, 2],
            ipv4: Ipv4Addr::new(10, 0, 0, 2),
            ipv6: Some("fd00::2".parse().unwrap()),
        };
        let r = port_routes(&p);
        assert_eq!(r.len(), 2);
        assert!(r.iter().all(|r| r.vrf == 3 && r.nh_id == 100 && r.flags == rt_flag::PROXY_ARP));
        assert_eq!((r[0].prefix_len, r[1].prefix_len), (32, 128));
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
            vrfs: BTreeMap::from([(1, vec![IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))]), (2, vec![])]),
        };
        let r = node_routes(&n);
        assert_eq!(r.len(), 5);
        assert!(r.iter().all(|r| r.nh_id == NH_RECEIVE));
        assert_eq!(r.iter().filter(|r| r.flags == rt_flag::PROXY_ARP).count(), 1);
    }

    #[test]
    fn macs_are_local_and_follow_the_address() {
        assert_eq!(mac_for(Ipv4Addr::new(10, 32, 0, 5)), "02:00:0a:20:00:05");
        assert_eq!(mac_bytes("02:00:0a:20:00:05"), Some([2, 0, 10, 32, 0, 5]));
        assert!(valid_ifname("tapeth0-8a2b3c") && !valid_ifname("../x") && !valid_ifname("0123456789abcdef"));
    }
}
