//! The agent's desired state: ports, their addresses, and what each API call does to them.
//!
//! Every mutation follows one order: check, persist, then program the kernel. A port is on
//! disk before its address is handed out or its binding is acknowledged, so a crash at any
//! point loses nothing; a kernel change that did not happen is made by the next
//! reconciliation. All of this runs under one lock (see api.rs): calls are short, and one
//! writer keeps the kernel tables and the records in step.

use crate::config::Node;
use crate::ipam::Ipam;
use crate::k8s::network::NetView;
use crate::k8s::remote_pods::RemotePod;
use crate::kernel::{
    self, Desired, Kernel, KernelError, NhSpace, NodeWant, PortWant, Summary, VipWant, NH_BASE,
};
use crate::metrics::Metrics;
use crate::overlay::{self, OverlayIds, OverlayView};
use crate::policy::{self, Services};
use crate::store::{Binding, Port, Store, StoreError};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use tracing::{info, warn};
use vrouter_port_api::{
    annotation, split_vm_name, Health, PortAdd, PortInfo, PortRecord, PortState, SyncPorts,
    SyncReport, VmCfg,
};

/// An API error: HTTP status and the `{"error"}` text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiErr {
    pub status: u16,
    pub msg: String,
}

impl ApiErr {
    fn new(status: u16, msg: impl Into<String>) -> ApiErr {
        ApiErr {
            status,
            msg: msg.into(),
        }
    }
    fn bad(msg: impl Into<String>) -> ApiErr {
        ApiErr::new(400, msg)
    }
    fn not_found(msg: impl Into<String>) -> ApiErr {
        ApiErr::new(404, msg)
    }
}

impl From<StoreError> for ApiErr {
    fn from(e: StoreError) -> ApiErr {
        ApiErr::new(500, format!("persisting the port failed: {e}"))
    }
}

impl From<KernelError> for ApiErr {
    fn from(e: KernelError) -> ApiErr {
        ApiErr::new(if e.unavailable() { 503 } else { 500 }, e.to_string())
    }
}

/// A port with what the kernel currently has of it.
struct Entry {
    port: Port,
    /// The vif index while programmed.
    vif: Option<u32>,
}

impl Entry {
    fn state(&self) -> PortState {
        match (&self.port.binding, self.vif) {
            (None, _) => PortState::Reserved,
            (Some(_), Some(_)) => PortState::Active,
            (Some(_), None) => PortState::Down,
        }
    }
}

pub struct Agent {
    pub node: Node,
    store: Store,
    ipam: Ipam,
    ports: BTreeMap<String, Entry>,
    want: NodeWant,
    /// Service VIPs with their composite ids (fixed at load; ports' ids avoid them).
    vips: Vec<VipWant>,
    /// Networks whose ports' vifs send new flows to the agent.
    flow_nets: BTreeSet<String>,
    /// Every port's vif sends new flows to the agent: with `[kubernetes]`, where any pod
    /// may open a connection to a Service VIP, as TF's vRouter sends every new flow of a
    /// Kubernetes pod to its agent.
    every_port_flows: bool,
    /// The last reconciliation reached the kernel and set up the node.
    kernel_ok: bool,
    kernel_reason: String,
    /// Next-fit cursor of nexthop ids.
    next_nh: u32,
    /// The agent's nexthop ids in the module's table (its size from INFO_GET).
    nh_space: NhSpace,
    /// Networks and namespace choices from the Kubernetes API (k8s/network.rs); None
    /// until the first view arrives (no pod gets a port before: its namespace may be
    /// isolated).
    net_view: Option<NetView>,
    /// The other nodes' pods by address (k8s/remote_pods.rs).
    remote_pods: HashMap<IpAddr, RemotePod>,
    /// Why a pod of this node has no port (its network does not exist, the pool is
    /// exhausted): what `GET /vm-cfg` answers the CNI, which kubelet shows in the pod's
    /// events. By VM name.
    pod_problems: HashMap<String, String>,
    /// The other nodes and the encapsulation from the Kubernetes API (k8s/nodes.rs);
    /// None until the first view: the overlay's kernel state is left alone until then.
    overlay_view: Option<OverlayView>,
    /// The overlay's nexthop ids, kept while the agent runs (ports' and VIPs' avoid them).
    overlay_ids: OverlayIds,
    /// The kernel's overlay nexthops when the agent started: the first plan adopts
    /// those it wants, so a restart does not renumber (and disturb) the tunnels.
    adoptable: OverlayIds,
    /// What the last overlay plan could not do (logged when it changes).
    overlay_problems: Vec<String>,
    pub metrics: Arc<Metrics>,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn node_want(node: &Node, api: &NetView) -> NodeWant {
    let mut addrs: Vec<IpAddr> = vec![node.gateway.into()];
    if node.dns != node.gateway {
        addrs.push(node.dns.into());
    }
    if let Some(g) = node.gateway_v6 {
        addrs.push(g.into());
    }
    if let Some(d) = node.dns_v6.filter(|d| Some(*d) != node.gateway_v6) {
        addrs.push(d.into());
    }
    NodeWant {
        vhost: node.raw.vhost.name.clone(),
        vhost_ip: node.raw.vhost.address,
        vhost_ip6: node.raw.vhost.address_v6,
        fabric: node.raw.fabric_interface.clone(),
        fabric_ip: None,
        vrfs: node
            .networks
            .iter()
            .chain(api.nets.values())
            .map(|n| (n.vrf, addrs.clone()))
            .collect(),
        pod_cidrs: std::iter::once(ipnet::IpNet::V4(node.pod_cidr))
            .chain(node.pod_cidr_v6.map(ipnet::IpNet::V6))
            .collect(),
        retired_vrfs: BTreeSet::new(),
        overlay: None,
    }
}

impl Agent {
    /// Loads the persisted ports and rebuilds the address pools from them. Returns the
    /// problems found (reported, never fatal: the records stay on disk).
    pub fn load(node: Node, metrics: Arc<Metrics>) -> Result<(Agent, Vec<String>), StoreError> {
        let store = Store::open(&node.raw.state_dir)?;
        let (loaded, mut problems) = store.load()?;
        let mut ipam = Ipam::new(
            node.pod_cidr,
            &node.reserved_v4(),
            node.pod_cidr_v6,
            &node.reserved_v6(),
        );
        let mut ports = BTreeMap::new();
        let mut nhs = HashSet::new();
        for p in loaded {
            if let Err(e) = ipam.mark_v4(p.ipv4) {
                problems.push(format!(
                    "port {} ({}): {e}; not loaded",
                    p.vmi_uuid, p.vm_name
                ));
                continue;
            }
            if let Some(a) = p.ipv6 {
                if let Err(e) = ipam.mark_v6(a) {
                    ipam.release_v4(p.ipv4);
                    problems.push(format!(
                        "port {} ({}): {e}; not loaded",
                        p.vmi_uuid, p.vm_name
                    ));
                    continue;
                }
            }
            if !nhs.insert(p.nh) {
                problems.push(format!(
                    "port {} ({}): nexthop {} used twice",
                    p.vmi_uuid, p.vm_name, p.nh
                ));
            }
            if node.network(&p.network).is_none() {
                problems.push(format!(
                    "port {} ({}): network {:?} is no longer configured",
                    p.vmi_uuid, p.vm_name, p.network
                ));
            }
            ports.insert(p.vmi_uuid.clone(), Entry { port: p, vif: None });
        }
        let want = node_want(&node, &NetView::default());
        let flow_nets = policy::flow_networks(&node);
        let every_port_flows = node.raw.kubernetes.is_some();
        let next_nh = ports
            .values()
            .map(|e| e.port.nh + 1)
            .max()
            .unwrap_or(NH_BASE);
        // The module's table size when it is loaded; the default until then (reconcile
        // reads it again and re-plans the VIPs when it differs). The overlay ids the
        // kernel has are kept from ports and VIPs until the first overlay plan.
        let mut k = Kernel::connect().ok();
        let nh_space = k
            .as_mut()
            .and_then(|k| k.limits().ok())
            .map(|l| l.nh_space)
            .unwrap_or_default();
        let adoptable = k
            .as_mut()
            .filter(|_| node.raw.kubernetes.is_some())
            .and_then(|k| k.overlay_ids(nh_space).ok())
            .unwrap_or_default();
        let mut a = Agent {
            node,
            store,
            ipam,
            ports,
            want,
            vips: Vec::new(),
            flow_nets,
            every_port_flows,
            kernel_ok: false,
            kernel_reason: "not synced yet".into(),
            next_nh,
            nh_space,
            net_view: None,
            remote_pods: HashMap::new(),
            pod_problems: HashMap::new(),
            overlay_view: None,
            overlay_ids: OverlayIds::default(),
            adoptable,
            overlay_problems: Vec::new(),
            metrics,
        };
        problems.extend(a.plan_vips());
        a.update_gauges();
        Ok((a, problems))
    }

    /// The service VIPs' composite ids, around the ports' and the overlay's nexthops;
    /// returns the VIPs that got no id.
    fn plan_vips(&mut self) -> Vec<String> {
        let used = self
            .ports
            .values()
            .map(|e| e.port.nh)
            .chain(self.overlay_ids.ids())
            .chain(self.adoptable.ids())
            .collect();
        let (vips, problems) =
            kernel::vip_wants(Services::from_node(&self.node).all(), &used, self.nh_space);
        self.vips = vips;
        problems
    }

    /// The host side of the vhost device (host.rs).
    pub fn host_want(&self) -> crate::host::HostWant {
        let v = &self.node.raw.vhost;
        let remote = self.want.overlay.as_ref().map(|o| crate::host::RemoteWant {
            pod_cidrs: o.tunnels.iter().flat_map(|t| t.pod_cidrs.clone()).collect(),
            src: self.overlay_view.as_ref().and_then(|v| v.fabric_ip),
            src6: self.overlay_view.as_ref().and_then(|v| v.fabric_ip6),
            mtu: self.node.pod_mtu(),
        });
        let pools: Vec<ipnet::IpNet> = std::iter::once(ipnet::IpNet::V4(self.node.pod_cidr))
            .chain(self.node.pod_cidr_v6.map(ipnet::IpNet::V6))
            .collect();
        // A Kubernetes node's pods reach beyond the cluster (the API server first). Pods
        // and nodes talk without translation: a pod's reply to another node's host, whose
        // request came through the tunnel, must keep the pod's address.
        let view = self.overlay_view.as_ref();
        let remotes = view.into_iter().flat_map(|o| &o.remotes);
        let node_addrs = view
            .into_iter()
            .flat_map(|o| {
                o.fabric_ip
                    .map(IpAddr::V4)
                    .into_iter()
                    .chain(o.fabric_ip6.map(IpAddr::V6))
            })
            .chain(remotes.clone().map(|r| IpAddr::V4(r.addr)))
            .map(ipnet::IpNet::from);
        let masquerade = self
            .every_port_flows
            .then(|| crate::masquerade::Masquerade {
                untranslated: pools
                    .iter()
                    .copied()
                    .chain(remotes.flat_map(|r| r.pod_cidrs.clone()))
                    .chain(node_addrs)
                    .collect(),
                sources: pools,
            });
        crate::host::HostWant {
            vhost: v.name.clone(),
            addr: v.address,
            addr6: v.address_v6,
            pod_cidr: self.node.pod_cidr,
            pod_cidr6: self.node.pod_cidr_v6,
            remote,
            masquerade,
        }
    }

    fn update_gauges(&self) {
        let count = |s: PortState| self.ports.values().filter(|e| e.state() == s).count() as i64;
        self.metrics.set_ports(
            count(PortState::Reserved),
            count(PortState::Active),
            count(PortState::Down),
        );
        self.metrics
            .set_addresses(self.ipam.in_use_v4() as i64, self.ipam.in_use_v6() as i64);
        self.metrics.set_kernel_ready(self.kernel_ok);
    }

    fn by_name(&self, vm_name: &str) -> Option<&Entry> {
        self.ports.values().find(|e| e.port.vm_name == vm_name)
    }

    fn want(&self, p: &Port) -> Option<PortWant> {
        let b = p.binding.as_ref()?;
        let routed_from = self.routed_from(p);
        Some(PortWant {
            host_ifname: b.host_ifname.clone(),
            vrf: p.vrf,
            nh: p.nh,
            mac: kernel::mac_bytes(&p.mac)?,
            ipv4: p.ipv4,
            ipv6: p.ipv6,
            policy: self.every_port_flows
                || self.flow_nets.contains(&p.network)
                || !routed_from.is_empty(),
            routed_from,
        })
    }

    /// The pod that holds `ip`: a bound port of this node, else a pod of another node
    /// (its network as this node would give it: the networks are the same everywhere).
    /// What the flow loop hands to `Policies::evaluate` and the isolation check for each
    /// end of a flow (None: no pod's address).
    pub fn endpoint(&self, ip: IpAddr) -> Option<crate::flows::Endpoint> {
        let local = self.ports.values().map(|e| &e.port).find(|p| {
            p.binding.is_some() && (IpAddr::V4(p.ipv4) == ip || p.ipv6.map(IpAddr::V6) == Some(ip))
        });
        let (network, vrf) = match local {
            Some(p) => (p.network.clone(), p.vrf),
            None => {
                let r = self.remote_pods.get(&ip)?;
                let net = self.network_of(&r.namespace, r.network.as_deref()).ok()?;
                (net.name, net.vrf)
            }
        };
        Some(crate::flows::Endpoint {
            isolated: self.isolated(&network),
            services_open: self
                .net_view
                .as_ref()
                .is_some_and(|v| v.services_open.contains(&network)),
            network,
            vrf,
        })
    }

    /// Whether `ip` is one of this node's own addresses (the vhost device's, the fabric
    /// InternalIPs): Kubernetes lets a node always reach its pods (kubelet's probes).
    pub fn is_this_node(&self, ip: IpAddr) -> bool {
        let v = &self.node.raw.vhost;
        let view = self.overlay_view.as_ref();
        let mine = [
            v.address.map(IpAddr::V4),
            v.address_v6.map(IpAddr::V6),
            view.and_then(|o| o.fabric_ip).map(IpAddr::V4),
            view.and_then(|o| o.fabric_ip6).map(IpAddr::V6),
        ];
        mine.contains(&Some(ip))
    }

    /// Whether `ip` is in a pod network: this node's pools or another node's pod CIDRs.
    /// An address outside them is reached through the host, and answers through it.
    pub fn is_pod_address(&self, ip: IpAddr) -> bool {
        let n = &self.node;
        let remote = self.overlay_view.iter().flat_map(|o| &o.remotes);
        let local = match ip {
            IpAddr::V4(a) => n.pod_cidr.contains(&a),
            IpAddr::V6(a) => n.pod_cidr_v6.is_some_and(|c| c.contains(&a)),
        };
        local || remote.flat_map(|r| &r.pod_cidrs).any(|c| c.contains(&ip))
    }

    /// The other nodes' pod addresses (k8s/remote_pods.rs).
    pub fn set_remote_pods(&mut self, pods: HashMap<IpAddr, RemotePod>) {
        self.remote_pods = pods;
    }

    fn isolated(&self, network: &str) -> bool {
        self.net_view
            .as_ref()
            .is_some_and(|v| v.isolated.contains(network))
    }

    /// TF's namespace isolation, one-way: an isolated namespace's pods open connections to
    /// the default network's and get the replies; nothing of another network opens one to
    /// them. The agent routes both ways between each isolated network's VRF and the
    /// default network's (the other network's pods' host routes in each), and the ports of
    /// both sides send new flows to the agent, whose verdicts (flows.rs `isolation`) let
    /// only the isolated side open. The VRFs besides its own and the host's where `p` is
    /// routed.
    fn routed_from(&self, p: &Port) -> Vec<u32> {
        let Some(view) = self.net_view.as_ref().filter(|v| !v.isolated.is_empty()) else {
            return Vec::new();
        };
        let default = self.node.default_network();
        if view.isolated.contains(&p.network) {
            vec![default.vrf]
        } else if p.network == default.name {
            view.isolated
                .iter()
                .filter_map(|k| view.nets.get(k))
                .map(|n| n.vrf)
                .filter(|&v| v != p.vrf)
                .collect()
        } else {
            Vec::new()
        }
    }

    fn vm_cfg(&self, p: &Port) -> VmCfg {
        VmCfg {
            id: p.vmi_uuid.clone(),
            vm_uuid: p.vm_uuid.clone(),
            vn_id: p.vn_uuid.clone(),
            vn_name: p.network.clone(),
            mac_address: p.mac.clone(),
            sub_interface: false,
            vlan_id: -1,
            annotations: {
                let n = self
                    .ports
                    .values()
                    .filter(|e| e.port.vm_name == p.vm_name)
                    .count()
                    .max(1);
                let mut a = vec![
                    annotation("index", &format!("{}/{n}", p.index)),
                    annotation("network", &p.network),
                    annotation("kind", "Pod"),
                ];
                a.extend(p.interface.as_deref().map(|i| annotation("interface", i)));
                a
            },
        }
    }

    /// Whether the Kubernetes API decides which ports exist ([kubernetes]): then a port is
    /// made when its pod is bound to the node and goes with the pod (k8s/pods.rs), and
    /// `GET /vm-cfg` only reads.
    pub fn kube_managed(&self) -> bool {
        self.node.raw.kubernetes.is_some()
    }

    /// `GET /vm-cfg/<vm-name>`: the pod's interface; without [kubernetes] it is reserved on
    /// first ask, with it only read (404 until the pod watch made it: the CNI polls).
    pub fn vm_cfg_request(
        &mut self,
        vm_name: &str,
        vm_uuid: Option<&str>,
    ) -> Result<Vec<VmCfg>, ApiErr> {
        if !self.kube_managed() {
            return self.reserve(vm_name, vm_uuid);
        }
        let mine = self.pod_ports(vm_name);
        match mine.first() {
            Some(p) if vm_uuid.is_none_or(|u| u == p.vm_uuid) => {
                Ok(mine.iter().map(|p| self.vm_cfg(p)).collect())
            }
            Some(_) => Err(ApiErr::not_found(format!(
                "{vm_name}: the port is still the previous pod's of that name"
            ))),
            None => Err(ApiErr::not_found(match self.pod_problems.get(vm_name) {
                Some(why) => format!("{vm_name}: no port: {why}"),
                None => format!(
                    "{vm_name}: no port yet (made when the pod is bound to node {})",
                    self.node.raw.node_name
                ),
            })),
        }
    }

    /// The pod's `k8s.v1.cni.cncf.io/network-status` (the multus / NPWG form): every
    /// interface with its network, addresses and MAC; None while it has no port.
    pub fn network_status(&self, vm_name: &str) -> Option<String> {
        let ports = self.pod_ports(vm_name);
        if ports.is_empty() {
            return None;
        }
        let list: Vec<serde_json::Value> = ports
            .iter()
            .map(|p| {
                let mut ips = vec![p.ipv4.to_string()];
                ips.extend(p.ipv6.map(|a| a.to_string()));
                serde_json::json!({
                    "name": p.attachment.clone().unwrap_or_else(|| p.network.clone()),
                    "interface": p.interface.as_deref().unwrap_or("eth0"),
                    "ips": ips,
                    "mac": p.mac,
                    "default": p.index == 0,
                    "dns": {},
                })
            })
            .collect();
        serde_json::to_string(&list).ok()
    }

    /// Why the pod watch could not give pod `vm_name` its ports, if it could not.
    pub fn pod_problem(&self, vm_name: &str) -> Option<&str> {
        self.pod_problems.get(vm_name).map(String::as_str)
    }

    /// A pod's ports, eth0 first.
    fn pod_ports(&self, vm_name: &str) -> Vec<&Port> {
        let mut v: Vec<&Port> = self
            .ports
            .values()
            .map(|e| &e.port)
            .filter(|p| p.vm_name == vm_name)
            .collect();
        v.sort_by_key(|p| p.index);
        v
    }

    /// The pod watch's pass (k8s/pods.rs): every pod of `pods` that is not terminating gets
    /// a port if it has none; a port whose pod is not in `pods` (gone, finished, or an
    /// older pod of the same name) is released. Returns (created, released).
    pub fn sync_pods(&mut self, pods: &[crate::k8s::pods::PodWant]) -> (usize, usize) {
        let cluster = &self.node.raw.cluster_name;
        let want: HashMap<String, &crate::k8s::pods::PodWant> = pods
            .iter()
            .map(|p| (format!("{cluster}__{}__{}", p.namespace, p.name), p))
            .collect();
        let gone: BTreeSet<String> = self
            .ports
            .values()
            .filter(|e| {
                want.get(&e.port.vm_name)
                    .is_none_or(|p| p.uid != e.port.vm_uuid)
            })
            .map(|e| e.port.vm_uuid.clone())
            .collect();
        let mut released = 0;
        for vm in &gone {
            match self.delete_vm(vm) {
                Ok(()) => released += 1,
                Err(e) => {
                    warn!(vm_uuid = %vm, error = %e.msg, "releasing the port of a pod that is gone")
                }
            }
        }
        if self.net_view.is_none() {
            return (0, released); // no port before the networks are known (set_net_view)
        }
        let mut created = 0;
        let mut problems = HashMap::new();
        for (name, p) in &want {
            if p.terminating || self.by_name(name).is_some() {
                continue;
            }
            match self.make_pod_ports(name, p) {
                Ok(()) => created += 1,
                Err(why) => {
                    if self.pod_problems.get(name) != Some(&why) {
                        self.metrics.pod_port_error();
                        warn!(pod = %format!("{}/{}", p.namespace, p.name), problem = %why, "no port for the pod");
                    }
                    problems.insert(name.clone(), why);
                }
            }
        }
        self.pod_problems = problems;
        (created, released)
    }

    /// Every interface of a pod (eth0, then one per attachment), all or none: a pod whose
    /// second network is missing gets no eth0 either, so nothing half-made waits for it.
    fn make_pod_ports(
        &mut self,
        vm_name: &str,
        p: &crate::k8s::pods::PodWant,
    ) -> Result<(), String> {
        let mut nets = vec![(None, self.pod_network(p)?)];
        for (i, a) in p
            .attachments
            .as_ref()
            .map_err(Clone::clone)?
            .iter()
            .enumerate()
        {
            let ifname = crate::k8s::attachments::ifname(a, i + 1);
            if nets
                .iter()
                .any(|(n, _)| n.as_ref().is_some_and(|(n, _)| *n == ifname))
            {
                return Err(format!("two attachments want interface {ifname}"));
            }
            let nad = format!("{}/{}", a.namespace, a.name);
            let view = self
                .net_view
                .as_ref()
                .ok_or("the networks are not read from the API yet")?;
            nets.push((Some((ifname, nad)), view.network_of_attachment(a)?.clone()));
        }
        let mut made = Vec::new();
        for (index, (extra, net)) in nets.into_iter().enumerate() {
            match self.reserve_in(vm_name, Some(&p.uid), net, index as u32, extra) {
                Ok(cfg) => made.extend(cfg.into_iter().map(|c| c.id)),
                Err(e) => {
                    for vmi in made {
                        let _ = self.drop_port(&vmi, None);
                    }
                    return Err(e.msg);
                }
            }
        }
        Ok(())
    }

    /// A pod's network: its annotation's, its namespace's (API), else the TOML mapping.
    fn pod_network(&self, p: &crate::k8s::pods::PodWant) -> Result<crate::config::Net, String> {
        self.network_of(&p.namespace, p.network.as_deref())
    }

    /// The network of a pod in `namespace` with network annotation `annotation`.
    fn network_of(
        &self,
        namespace: &str,
        annotation: Option<&str>,
    ) -> Result<crate::config::Net, String> {
        let Some(view) = &self.net_view else {
            return Err("the networks are not read from the API yet".into());
        };
        match view.network_for(namespace, annotation, &self.node.raw.cluster_name)? {
            Some(n) => Ok(n.clone()),
            None => Ok(self.node.network_for(namespace).clone()),
        }
    }

    /// The networks of the API changed: their VRFs get their gateway and default routes
    /// at the next reconciliation; new pods go to the networks the view names.
    pub fn set_net_view(&mut self, view: NetView) {
        let mut want = node_want(&self.node, &view);
        let before = self.want.vrfs.keys().chain(&self.want.retired_vrfs);
        want.retired_vrfs = before
            .filter(|v| !want.vrfs.contains_key(v))
            .copied()
            .collect();
        // What the nodes' view gave (set_overlay_view) stays; the overlay is planned
        // again at the next reconciliation, with the new VRFs.
        want.fabric_ip = self.want.fabric_ip;
        want.overlay = self.want.overlay.take();
        self.want = want;
        self.move_ports(&view);
        self.net_view = Some(view);
    }

    /// The other nodes and the encapsulation from the API changed (k8s/nodes.rs): the
    /// fabric vif gets this node's address, and tunnels, labels and routes follow at the
    /// next reconciliation.
    pub fn set_overlay_view(&mut self, view: OverlayView) {
        self.want.fabric_ip = view.fabric_ip;
        self.overlay_view = Some(view);
    }

    /// The overlay to program (overlay.rs): an id for every other node's tunnel and every
    /// VRF's translate nexthop, then the plan. None while the API's view of the nodes or
    /// of the networks is missing: the kernel's overlay state is left as it is then (an
    /// agent that restarts does not tear down what it will want again).
    fn plan_overlay(&mut self, label_capacity: u32) {
        let Some(view) = self
            .overlay_view
            .as_ref()
            .filter(|_| self.net_view.is_some())
        else {
            self.want.overlay = None;
            return;
        };
        let vrfs = self.want.overlay_vrfs();
        let used: BTreeSet<u32> = self
            .ports
            .values()
            .map(|e| e.port.nh)
            .chain(self.vips.iter().map(|v| v.nh))
            .collect();
        let dips = overlay::wanted_dips(view);
        let labelled: BTreeSet<u32> = vrfs
            .iter()
            .copied()
            .filter(|v| overlay::label_fits(*v, label_capacity))
            .collect();
        let (ids, mut problems) = overlay::assign_ids(
            &self.overlay_ids,
            &self.adoptable,
            &dips,
            &labelled,
            &used,
            self.nh_space,
        );
        let (want, more) = overlay::plan(view, &ids, &vrfs, label_capacity);
        problems.extend(more);
        self.overlay_ids = ids;
        self.adoptable = OverlayIds::default();
        self.want.overlay = Some(want);
        if problems != self.overlay_problems {
            for p in &problems {
                warn!(problem = %p, "overlay");
            }
            self.overlay_problems = problems;
        }
    }

    /// A network whose VRF changed (it lost a VRF clash and was allocated again): its
    /// ports follow, the record first; the reconciliation that follows moves the vifs and
    /// removes their routes from the old VRF.
    fn move_ports(&mut self, view: &NetView) {
        for e in self.ports.values_mut() {
            let Some(net) = view
                .nets
                .get(&e.port.network)
                .filter(|n| n.vrf != e.port.vrf)
            else {
                continue;
            };
            let mut port = e.port.clone();
            port.vrf = net.vrf;
            match self.store.save(&port) {
                Ok(()) => {
                    info!(vmi = %port.vmi_uuid, network = %port.network, from = e.port.vrf, to = port.vrf, "port moves to its network's new VRF");
                    e.port = port;
                }
                Err(err) => {
                    warn!(vmi = %port.vmi_uuid, error = %err, "moving the port to its network's new VRF")
                }
            }
        }
    }

    /// `GET /vm-cfg/<vm-name>` without [kubernetes]: the pod's interface, reserved on first ask.
    pub fn reserve(&mut self, vm_name: &str, vm_uuid: Option<&str>) -> Result<Vec<VmCfg>, ApiErr> {
        let Some((cluster, namespace, _pod)) = split_vm_name(vm_name) else {
            return Err(ApiErr::bad(format!(
                "{vm_name:?} is not a VM name <cluster>__<namespace>__<pod>"
            )));
        };
        if cluster != self.node.raw.cluster_name {
            return Err(ApiErr::not_found(format!(
                "{vm_name}: not of cluster {:?}",
                self.node.raw.cluster_name
            )));
        }
        if let Some(u) = vm_uuid.filter(|u| u.is_empty() || u.len() > 64 || u.contains('/')) {
            return Err(ApiErr::bad(format!("bad vm-uuid {u:?}")));
        }
        if let Some(e) = self.by_name(vm_name) {
            match vm_uuid {
                // A pod of the same name with another uid: the old one is gone for good
                // (names are unique at any one time), so its port goes with it.
                Some(u) if u != e.port.vm_uuid => {
                    let old = e.port.vm_uuid.clone();
                    info!(vm_name, old_uuid = %old, new_uuid = u, "pod re-created under the same name; releasing the old one");
                    self.delete_vm(&old)?;
                }
                _ => {
                    let vmi = e.port.vmi_uuid.clone();
                    return self.refresh(&vmi);
                }
            }
        }
        let net = self.node.network_for(namespace).clone();
        self.reserve_in(vm_name, vm_uuid, net, 0, None)
    }

    /// Makes interface `index` of `vm_name` in `net` (checked by the caller); `extra` is an
    /// extra interface's name in the pod and its NetworkAttachmentDefinition.
    fn reserve_in(
        &mut self,
        vm_name: &str,
        vm_uuid: Option<&str>,
        net: crate::config::Net,
        index: u32,
        extra: Option<(String, String)>,
    ) -> Result<Vec<VmCfg>, ApiErr> {
        let (interface, attachment) = extra.unzip();
        let ipv4 = self
            .ipam
            .allocate_v4()
            .map_err(|e| ApiErr::new(503, e.to_string()))?;
        let ipv6 = match self.ipam.allocate_v6() {
            Ok(a) => a,
            Err(e) => {
                self.ipam.release_v4(ipv4);
                return Err(ApiErr::new(503, e.to_string()));
            }
        };
        let used: BTreeSet<u32> = self
            .ports
            .values()
            .map(|e| e.port.nh)
            .chain(self.vips.iter().map(|v| v.nh))
            .chain(self.overlay_ids.ids())
            .chain(self.adoptable.ids())
            .collect();
        let Some(nh) = self.nh_space.next_free(self.next_nh, &used) else {
            self.ipam.release_v4(ipv4);
            if let Some(a) = ipv6 {
                self.ipam.release_v6(a);
            }
            return Err(ApiErr::new(503, self.nh_space.exhausted()));
        };
        self.next_nh = nh + 1;
        let port = Port {
            vmi_uuid: uuid::Uuid::new_v4().to_string(),
            vm_uuid: vm_uuid
                .map(str::to_string)
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            vm_name: vm_name.to_string(),
            network: net.name.clone(),
            vn_uuid: net.uuid.clone(),
            vrf: net.vrf,
            mac: kernel::mac_for(ipv4),
            ipv4,
            ipv6,
            nh,
            created: now(),
            index,
            interface,
            attachment,
            binding: None,
        };
        if let Err(e) = self.store.save(&port) {
            self.ipam.release_v4(ipv4);
            if let Some(a) = ipv6 {
                self.ipam.release_v6(a);
            }
            return Err(e.into());
        }
        info!(vm_name, vmi = %port.vmi_uuid, %ipv4, ipv6 = ?ipv6, vrf = port.vrf, "reserved");
        let cfg = self.vm_cfg(&port);
        self.ports
            .insert(port.vmi_uuid.clone(), Entry { port, vif: None });
        self.update_gauges();
        Ok(vec![cfg])
    }

    /// An existing reservation: its TTL starts again (an ADD is using it).
    fn refresh(&mut self, vmi: &str) -> Result<Vec<VmCfg>, ApiErr> {
        let e = self
            .ports
            .get_mut(vmi)
            .ok_or_else(|| ApiErr::new(500, "port vanished"))?;
        if e.port.binding.is_none() {
            e.port.created = now();
            self.store.save(&e.port)?;
        }
        let port = e.port.clone();
        Ok(vec![self.vm_cfg(&port)])
    }

    /// `POST /vm`: binds the host interface and programs the kernel before answering.
    pub fn bind(&mut self, req: &PortAdd) -> Result<(), ApiErr> {
        let missing = req.missing_fields();
        if !missing.is_empty() {
            return Err(ApiErr::bad(format!(
                "missing field(s): {}",
                missing.join(", ")
            )));
        }
        if !kernel::valid_ifname(&req.host_ifname) {
            return Err(ApiErr::bad(format!(
                "host-ifname {:?} is not an interface name",
                req.host_ifname
            )));
        }
        let e = self.ports.get(&req.vmi_uuid).ok_or_else(|| {
            ApiErr::not_found(format!(
                "vmi-uuid {} is unknown (ask GET /vm-cfg/{} first)",
                req.vmi_uuid, req.vm_name
            ))
        })?;
        let p = &e.port;
        for (field, got, want) in [
            ("vm-uuid", &req.vm_uuid, &p.vm_uuid),
            ("vm-name", &req.vm_name, &p.vm_name),
            ("vn-uuid", &req.vn_uuid, &p.vn_uuid),
        ] {
            if got != want {
                return Err(ApiErr::bad(format!(
                    "{field} {got:?} does not match port {}'s {want:?}",
                    req.vmi_uuid
                )));
            }
        }
        if !kernel::interface_exists(&req.host_ifname) {
            return Err(ApiErr::bad(format!(
                "host interface {} does not exist",
                req.host_ifname
            )));
        }
        if let Some(other) = self.ports.values().find(|o| {
            o.port.vmi_uuid != req.vmi_uuid
                && o.port
                    .binding
                    .as_ref()
                    .is_some_and(|b| b.host_ifname == req.host_ifname)
        }) {
            return Err(ApiErr::new(
                409,
                format!(
                    "host interface {} is bound to port {}",
                    req.host_ifname, other.port.vmi_uuid
                ),
            ));
        }
        if let Some(b) = p
            .binding
            .as_ref()
            .filter(|b| b.vm_id == req.vm_id && b.vm_ifname != req.vm_ifname)
        {
            return Err(ApiErr::new(
                409,
                format!(
                    "port {} is bound to {} of sandbox {}, not {}",
                    req.vmi_uuid, b.vm_ifname, b.vm_id, req.vm_ifname
                ),
            ));
        }
        let mut k = Kernel::connect()?;
        let old = self.want(p);
        let mut port = p.clone();
        port.binding = Some(Binding {
            vm_id: req.vm_id.clone(),
            vm_ifname: req.vm_ifname.clone(),
            host_ifname: req.host_ifname.clone(),
            vm_namespace: req.vm_namespace.clone(),
            time: if req.time.is_empty() {
                now().to_string()
            } else {
                req.time.clone()
            },
        });
        self.store.save(&port)?;
        let want = self
            .want(&port)
            .ok_or_else(|| ApiErr::new(500, format!("port {} has a bad MAC", port.vmi_uuid)))?;
        // A newer sandbox of the same pod on another host interface: the old vif goes.
        if let Some(o) = old.filter(|o| o.host_ifname != want.host_ifname) {
            if let Err(e) = k.remove_vif(&o.host_ifname) {
                warn!(error = %e, "removing the previous vif");
            }
        }
        let result = k.add_port(&want);
        let entry = self
            .ports
            .get_mut(&req.vmi_uuid)
            .ok_or_else(|| ApiErr::new(500, "port vanished"))?;
        entry.port = port;
        match result {
            Ok(vif) => {
                entry.vif = Some(vif);
                info!(vmi = %req.vmi_uuid, host_ifname = %req.host_ifname, vif, vm_id = %req.vm_id, "bound");
                self.update_gauges();
                Ok(())
            }
            Err(e) => {
                entry.vif = None;
                self.metrics.kernel_error();
                warn!(vmi = %req.vmi_uuid, error = %e, "programming the port failed");
                self.update_gauges();
                Err(e.into())
            }
        }
    }

    /// `GET /vm/<vm-uuid>[/<vmi-uuid>]`: 404 until bound and programmed.
    pub fn info(&self, vm_uuid: &str, vmi: Option<&str>) -> Result<Vec<PortInfo>, ApiErr> {
        let out: Vec<PortInfo> = self
            .ports
            .values()
            .filter(|e| e.port.vm_uuid == vm_uuid && vmi.is_none_or(|v| v == e.port.vmi_uuid))
            .filter(|e| e.state() == PortState::Active)
            .map(|e| self.port_info(&e.port))
            .collect();
        if out.is_empty() {
            return Err(ApiErr::not_found(format!(
                "vm {vm_uuid}: no active port (retry)"
            )));
        }
        Ok(out)
    }

    fn port_info(&self, p: &Port) -> PortInfo {
        let n = &self.node;
        let v6 = p.ipv6.is_some();
        PortInfo {
            id: p.vmi_uuid.clone(),
            instance_id: p.vm_uuid.clone(),
            vn_id: p.vn_uuid.clone(),
            vm_project_id: String::new(),
            mac_address: p.mac.clone(),
            system_name: p
                .binding
                .as_ref()
                .map(|b| b.host_ifname.clone())
                .unwrap_or_default(),
            rx_vlan_id: -1,
            tx_vlan_id: -1,
            ip_address: p.ipv4.to_string(),
            plen: n.pod_cidr.prefix_len(),
            dns_server: n.dns.to_string(),
            gateway: n.gateway.to_string(),
            v6_ip_address: p.ipv6.map(|a| a.to_string()).unwrap_or_default(),
            v6_plen: n.pod_cidr_v6.filter(|_| v6).map(|c| c.prefix_len()),
            v6_dns_server: n
                .dns_v6
                .filter(|_| v6)
                .map(|a| a.to_string())
                .unwrap_or_default(),
            v6_gateway: n
                .gateway_v6
                .filter(|_| v6)
                .map(|a| a.to_string())
                .unwrap_or_default(),
            mtu: Some(n.pod_mtu()),
        }
    }

    /// Takes a bound port out of the kernel (best effort: a failure is counted and logged,
    /// a reconciliation removes what is left).
    fn unprogram(&self, p: &Port, k: Option<&mut Kernel>) {
        if let (Some(w), Some(k)) = (self.want(p), k) {
            if let Err(err) = k.remove_port(&w) {
                self.metrics.kernel_error();
                warn!(vmi = %p.vmi_uuid, error = %err, "removing the port from the kernel");
            }
        }
    }

    /// Unprograms and forgets one port, releasing its addresses. The kernel part is best
    /// effort (a reconciliation removes what is left); the record goes only once the
    /// kernel no longer forwards to it or cannot be reached.
    fn drop_port(&mut self, vmi: &str, k: Option<&mut Kernel>) -> Result<(), ApiErr> {
        let Some(e) = self.ports.get(vmi) else {
            return Ok(());
        };
        self.unprogram(&e.port, k);
        self.store.remove(vmi)?;
        if let Some(e) = self.ports.remove(vmi) {
            self.ipam.release_v4(e.port.ipv4);
            if let Some(a) = e.port.ipv6 {
                self.ipam.release_v6(a);
            }
            info!(vmi, vm_name = %e.port.vm_name, ip = %e.port.ipv4, "released");
        }
        Ok(())
    }

    /// `DELETE /vm/<vm-uuid>[/<vmi-uuid>]`.
    pub fn delete_vm(&mut self, vm_uuid: &str) -> Result<(), ApiErr> {
        self.delete(vm_uuid, None, None)
    }

    /// With `vm_id`, only ports that are unbound or bound to that sandbox go.
    pub fn delete(
        &mut self,
        vm_uuid: &str,
        vmi: Option<&str>,
        vm_id: Option<&str>,
    ) -> Result<(), ApiErr> {
        let owned = |e: &Entry| match (vm_id, &e.port.binding) {
            (Some(id), Some(b)) => b.vm_id == id,
            _ => true,
        };
        let vmis: Vec<String> = self
            .ports
            .values()
            .filter(|e| e.port.vm_uuid == vm_uuid && vmi.is_none_or(|v| v == e.port.vmi_uuid))
            .filter(|e| {
                let mine = owned(e);
                if !mine {
                    info!(vmi = %e.port.vmi_uuid, vm_id, "DELETE for another sandbox than the bound one: kept");
                }
                mine
            })
            .map(|e| e.port.vmi_uuid.clone())
            .collect();
        if vmis.is_empty() {
            return Ok(());
        }
        let mut k = Kernel::connect().ok();
        for v in vmis {
            // A sandbox's DEL while the pod lives (its sandbox is remade, the runtime
            // gives up on an ADD): the pod keeps its ports, all of them, for the next ADD;
            // they go with the pod (sync_pods).
            if self.kube_managed() && vm_id.is_some() {
                self.unbind(&v, k.as_mut())?;
            } else {
                self.drop_port(&v, k.as_mut())?;
            }
        }
        self.update_gauges();
        Ok(())
    }

    /// Takes a port off its sandbox: out of the kernel, binding forgotten, address kept.
    fn unbind(&mut self, vmi: &str, k: Option<&mut Kernel>) -> Result<(), ApiErr> {
        let Some(e) = self.ports.get(vmi) else {
            return Ok(());
        };
        self.unprogram(&e.port, k);
        let mut port = e.port.clone();
        port.binding = None;
        self.store.save(&port)?;
        info!(vmi, vm_name = %port.vm_name, "unbound (kept for the pod's next sandbox)");
        if let Some(e) = self.ports.get_mut(vmi) {
            e.port = port;
            e.vif = None;
        }
        Ok(())
    }

    /// `POST /syncports`: removes bound ports not in the valid list (or, without a list,
    /// those whose host interface is gone), and reservations older than the TTL.
    pub fn sync_ports(&mut self, req: &SyncPorts) -> Result<SyncReport, ApiErr> {
        // By sandbox: the runtime lists (sandbox, eth0) only, and a pod's extra
        // interfaces (net1, ...) are that ADD's too.
        let valid: Option<HashSet<&str>> = req
            .valid_attachments
            .as_ref()
            .map(|v| v.iter().map(|a| a.container_id.as_str()).collect());
        let ttl = self.node.raw.reservation_ttl;
        let t = now();
        let stale: Vec<String> = self
            .ports
            .values()
            .filter(|e| match (&e.port.binding, &valid) {
                (None, _) => !self.kube_managed() && t.saturating_sub(e.port.created) > ttl,
                (Some(b), Some(valid)) => !valid.contains(b.vm_id.as_str()),
                (Some(b), None) => !kernel::interface_exists(&b.host_ifname),
            })
            .map(|e| e.port.vmi_uuid.clone())
            .collect();
        let mut k = Kernel::connect().ok();
        for v in &stale {
            match self.ports.get(v).map(|e| e.port.binding.is_some()) {
                Some(true) if self.kube_managed() => self.unbind(v, k.as_mut())?,
                _ => self.drop_port(v, k.as_mut())?,
            }
        }
        self.update_gauges();
        Ok(SyncReport { removed: stale })
    }

    /// Releases reservations that no `POST /vm` bound within the TTL (periodic).
    pub fn expire_reservations(&mut self) {
        if self.kube_managed() {
            return; // a pod's port lives as long as the pod
        }
        let ttl = self.node.raw.reservation_ttl;
        let t = now();
        let old: Vec<String> = self
            .ports
            .values()
            .filter(|e| e.port.binding.is_none() && t.saturating_sub(e.port.created) > ttl)
            .map(|e| e.port.vmi_uuid.clone())
            .collect();
        for v in old {
            if let Err(e) = self.drop_port(&v, None) {
                warn!(vmi = %v, error = %e.msg, "expiring a reservation");
            }
        }
        self.update_gauges();
    }

    pub fn records(&self) -> Vec<PortRecord> {
        self.ports
            .values()
            .map(|e| {
                let p = &e.port;
                let b = p.binding.clone();
                PortRecord {
                    vmi_uuid: p.vmi_uuid.clone(),
                    vm_uuid: p.vm_uuid.clone(),
                    vm_name: p.vm_name.clone(),
                    network: p.network.clone(),
                    vn_uuid: p.vn_uuid.clone(),
                    vrf: p.vrf,
                    mac_address: p.mac.clone(),
                    ip_address: p.ipv4.to_string(),
                    v6_ip_address: p.ipv6.map(|a| a.to_string()).unwrap_or_default(),
                    state: e.state(),
                    vm_id: b.as_ref().map(|b| b.vm_id.clone()).unwrap_or_default(),
                    vm_ifname: b.as_ref().map(|b| b.vm_ifname.clone()).unwrap_or_default(),
                    host_ifname: b
                        .as_ref()
                        .map(|b| b.host_ifname.clone())
                        .unwrap_or_default(),
                    vm_namespace: b
                        .as_ref()
                        .map(|b| b.vm_namespace.clone())
                        .unwrap_or_default(),
                    vif: e.vif,
                    nh: p.nh,
                }
            })
            .collect()
    }

    pub fn health(&self) -> Health {
        Health {
            ready: self.kernel_ok,
            kernel: self.kernel_ok,
            ports: self.ports.len(),
            reason: if self.kernel_ok {
                String::new()
            } else {
                self.kernel_reason.clone()
            },
        }
    }

    /// A module loaded with another `vr_nexthops` than the agent planned for: the VIPs
    /// move inside the new table, and ports whose ids lie beyond it are reported (their
    /// nexthops cannot be made until they are re-created).
    fn follow_nh_table(&mut self, space: NhSpace) {
        if space == self.nh_space {
            return;
        }
        info!(
            from = self.nh_space.table_size(),
            to = space.table_size(),
            "the module's nexthop table changed size"
        );
        self.nh_space = space;
        for problem in self.plan_vips() {
            warn!(%problem, "service");
        }
        for e in self.ports.values() {
            if !space.ids().contains(&e.port.nh) {
                warn!(
                    vmi = %e.port.vmi_uuid,
                    nh = e.port.nh,
                    table = space.table_size(),
                    "port nexthop beyond the module's table: delete and re-create the pod"
                );
            }
        }
    }

    /// Makes the kernel match the desired state; updates which ports are live.
    pub fn reconcile(&mut self) -> Result<Summary, KernelError> {
        let result = Kernel::connect().and_then(|mut k| {
            let limits = k.limits()?;
            self.follow_nh_table(limits.nh_space);
            self.plan_overlay(limits.mpls_labels);
            let ports = self
                .ports
                .values()
                .filter_map(|e| self.want(&e.port))
                .collect();
            k.reconcile(&Desired {
                node: &self.want,
                ports,
                vips: &self.vips,
            })
        });
        self.metrics.reconciled();
        match &result {
            Ok(s) => {
                for e in self.ports.values_mut() {
                    e.vif = e
                        .port
                        .binding
                        .as_ref()
                        .and_then(|b| s.vifs.get(&b.host_ifname).copied());
                }
                for err in &s.errors {
                    self.metrics.kernel_error();
                    warn!(error = %err, "reconcile");
                }
                if s.added + s.removed > 0 {
                    info!(
                        added = s.added,
                        removed = s.removed,
                        errors = s.errors.len(),
                        "kernel reconciled"
                    );
                }
                self.kernel_ok = true;
                self.kernel_reason.clear();
            }
            Err(e) => {
                if self.kernel_ok || self.kernel_reason != e.to_string() {
                    warn!(error = %e, "kernel not reachable");
                }
                if !e.unavailable() {
                    self.metrics.kernel_error();
                }
                if e.unavailable() {
                    for en in self.ports.values_mut() {
                        en.vif = None;
                    }
                }
                self.kernel_ok = false;
                self.kernel_reason = e.to_string();
            }
        }
        self.update_gauges();
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Net;
    use crate::k8s::pods::PodWant;

    fn agent(dir: &std::path::Path) -> Agent {
        let cfg = format!(
            "node-name = \"n\"\ncluster-name = \"k8s\"\nstate-dir = {:?}\npod-cidr = \"10.32.0.0/24\"\n",
            dir.to_str().unwrap()
        );
        let node = Node::parse(&cfg).unwrap();
        Agent::load(node, Arc::new(Metrics::new())).unwrap().0
    }

    fn pod(namespace: &str, name: &str) -> PodWant {
        PodWant {
            namespace: namespace.into(),
            name: name.into(),
            uid: format!("uid-{name}"),
            terminating: false,
            network: None,
            attachments: Ok(Vec::new()),
            status: None,
        }
    }

    /// The API's view with namespace "iso" isolated in network iso/k8s-iso-pod-network.
    fn isolated_view(vrf: u32) -> NetView {
        let key = "iso/k8s-iso-pod-network".to_string();
        let mut v = NetView::default();
        v.nets.insert(
            key.clone(),
            Net {
                name: key.clone(),
                vrf,
                uuid: "uid-iso".into(),
                namespaces: Vec::new(),
                policy: None,
            },
        );
        v.namespaces.insert("iso".into(), Ok(key.clone()));
        v.isolated.insert(key);
        v
    }

    #[test]
    fn another_nodes_pod_is_an_endpoint_of_its_namespaces_network() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = agent(dir.path());
        a.set_net_view(isolated_view(101));
        let remote = |ns: &str| RemotePod {
            namespace: ns.into(),
            network: None,
        };
        let iso: IpAddr = "10.32.1.5".parse().unwrap();
        let web: IpAddr = "fd00:32::1:6".parse().unwrap();
        a.set_remote_pods([(iso, remote("iso")), (web, remote("shop"))].into());
        let e = a.endpoint(iso).unwrap();
        assert_eq!(
            (e.network.as_str(), e.vrf, e.isolated),
            ("iso/k8s-iso-pod-network", 101, true)
        );
        let e = a.endpoint(web).unwrap();
        assert_eq!((e.vrf, e.isolated), (a.node.network_for("shop").vrf, false));
        assert_eq!(
            a.endpoint("10.32.1.7".parse().unwrap()),
            None,
            "nobody's address"
        );
    }

    fn port_of<'a>(a: &'a Agent, pod: &str) -> &'a Port {
        &a.by_name(&format!("k8s__{pod}")).unwrap().port
    }

    #[test]
    fn a_full_nexthop_table_refuses_the_port_and_keeps_its_addresses_free() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = agent(dir.path());
        a.nh_space = NhSpace::new(NH_BASE + 2);
        let mut ids = Vec::new();
        for vm in ["k8s__default__a", "k8s__default__b"] {
            a.reserve(vm, None).unwrap();
            ids.push(a.by_name(vm).unwrap().port.nh);
        }
        assert_eq!(ids, [NH_BASE, NH_BASE + 1]);
        let in_use = a.ipam.in_use_v4();
        let err = a.reserve("k8s__default__c", None).unwrap_err();
        assert_eq!(err.status, 503);
        assert!(err.msg.contains("table holds 102"), "{}", err.msg);
        assert_eq!(
            a.ipam.in_use_v4(),
            in_use,
            "the refused port's address is free again"
        );
        assert!(a.by_name("k8s__default__c").is_none());
    }

    fn overlay_view() -> OverlayView {
        let remote = |name: &str, last: u8| overlay::RemoteNode {
            name: name.into(),
            addr: [10, 77, 0, last].into(),
            pod_cidrs: vec![format!("10.32.{last}.0/24").parse().unwrap()],
        };
        OverlayView {
            fabric_ip: Some([10, 77, 0, 11].into()),
            fabric_ip6: None,
            remotes: vec![remote("node-2", 12), remote("node-3", 13)],
            encap: overlay::Encapsulation::Vxlan,
        }
    }

    #[test]
    fn the_overlay_waits_for_the_nodes_and_the_networks() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = agent(dir.path());
        a.plan_overlay(5120);
        assert!(a.want.overlay.is_none());
        assert!(a.host_want().remote.is_none(), "the host's routes stay too");
        a.set_overlay_view(overlay_view());
        assert_eq!(a.want.fabric_ip, Some([10, 77, 0, 11].into()));
        a.plan_overlay(5120);
        assert!(a.want.overlay.is_none(), "no networks from the API yet");
        a.set_net_view(isolated_view(101));
        assert_eq!(a.want.fabric_ip, Some([10, 77, 0, 11].into()), "kept");
        a.plan_overlay(5120);
        let o = a.want.overlay.clone().unwrap();
        assert_eq!(o.encap, overlay::Encapsulation::Vxlan);
        assert_eq!(o.vrfs.keys().copied().collect::<Vec<_>>(), [0, 1, 101]);
        assert_eq!(o.tunnels.len(), 2);
        let remote = a.host_want().remote.unwrap();
        assert_eq!(remote.pod_cidrs.len(), 2);
        assert_eq!(remote.src, Some([10, 77, 0, 11].into()));
        assert_eq!(remote.mtu, 1450);
        // a new network's VRF gets its translate nexthop; the others keep their ids
        a.set_net_view(isolated_view(102));
        a.plan_overlay(5120);
        let again = a.want.overlay.clone().unwrap();
        assert_eq!(again.tunnels, o.tunnels);
        assert_eq!(again.vrfs[&1], o.vrfs[&1]);
        assert!(again.vrfs.contains_key(&102) && !again.vrfs.contains_key(&101));
        // a module with a small label table: the VRF whose label does not fit is left out
        a.plan_overlay(100);
        let small = a.want.overlay.clone().unwrap();
        assert_eq!(small.vrfs.keys().copied().collect::<Vec<_>>(), [0, 1]);
        assert_eq!(a.overlay_problems.len(), 1);
        assert!(
            !a.overlay_ids.translates.contains_key(&102),
            "no id spent on it"
        );
    }

    #[test]
    fn ports_vips_and_the_overlay_never_share_a_nexthop_id() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = agent(dir.path());
        a.nh_space = NhSpace::new(NH_BASE + 7);
        // what the kernel had when the agent started (a restart): kept from ports
        a.adoptable.tunnels.insert([10, 77, 0, 12].into(), NH_BASE);
        a.reserve("k8s__default__a", None).unwrap();
        let first = a.by_name("k8s__default__a").unwrap().port.nh;
        assert_ne!(first, NH_BASE);
        a.set_net_view(NetView::default());
        a.set_overlay_view(overlay_view());
        a.plan_overlay(5120);
        assert_eq!(
            a.overlay_ids.tunnels[&[10, 77, 0, 12].into()],
            NH_BASE,
            "adopted"
        );
        assert!(a.adoptable.ids().next().is_none());
        let overlay: BTreeSet<u32> = a.overlay_ids.ids().collect();
        assert_eq!(overlay.len(), 4, "two tunnels, VRFs 0 and 1");
        assert!(!overlay.contains(&first));
        for vm in ["k8s__default__b", "k8s__default__c"] {
            a.reserve(vm, None).unwrap();
            let nh = a.by_name(vm).unwrap().port.nh;
            assert!(!overlay.contains(&nh), "port {vm} took overlay id {nh}");
        }
        // the space is full now: the next port is refused, not given an overlay id
        let err = a.reserve("k8s__default__d", None).unwrap_err();
        assert_eq!(err.status, 503);
    }

    #[test]
    fn isolated_and_default_networks_route_to_each_other() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = agent(dir.path());
        a.set_net_view(isolated_view(101));
        a.sync_pods(&[pod("iso", "i"), pod("open", "o")]);
        let default_vrf = a.node.default_network().vrf;
        let (i, o) = (port_of(&a, "iso__i"), port_of(&a, "open__o"));
        assert_eq!(i.vrf, 101);
        assert_eq!(o.vrf, default_vrf);
        assert_eq!(a.routed_from(i), vec![default_vrf]);
        assert_eq!(a.routed_from(o), vec![101]);
        // without an isolated network nothing crosses
        a.set_net_view(NetView::default());
        let o = port_of(&a, "open__o");
        assert!(a.routed_from(o).is_empty());
    }

    #[test]
    fn a_network_that_gets_a_new_vrf_takes_its_ports_along() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = agent(dir.path());
        a.set_net_view(isolated_view(101));
        a.sync_pods(&[pod("iso", "i")]);
        a.set_net_view(isolated_view(102));
        assert_eq!(port_of(&a, "iso__i").vrf, 102);
        // and the record on disk says so
        let again = agent(dir.path());
        assert_eq!(port_of(&again, "iso__i").vrf, 102);
    }
}
