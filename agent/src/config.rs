//! The agent's configuration file (TOML; `agent/vrouter-agent.example.toml` documents
//! every key). Parsing is strict: an unknown key, a wrong type or an inconsistent value is
//! one error that names the field.

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The VRF of the host (vhost0) and the fabric; pod networks live in others.
pub const HOST_VRF: u32 = 0;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    pub node_name: String,
    #[serde(default = "default_cluster")]
    pub cluster_name: String,
    /// The read-only TCP port API (TF's address; see `tcp_mutations`).
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// The Unix socket of the whole port API: mode 0600, peers with uid 0 only.
    #[serde(default = "default_socket")]
    pub socket: PathBuf,
    /// TF's behaviour: requests that change state are served on `listen` too, to any
    /// local user. Off by default.
    #[serde(default)]
    pub tcp_mutations: bool,
    /// Where ports are persisted (`<state-dir>/ports/<vmi-uuid>.json`).
    pub state_dir: PathBuf,
    /// This node's pod addresses; every network of the node draws from it. Required
    /// without `[kubernetes]`; with it, the Node object's podCIDRs are the pool instead.
    pub pod_cidr: Option<Ipv4Net>,
    pub pod_cidr_v6: Option<Ipv6Net>,
    /// The pods' gateway (answered by the datapath's proxy ARP); default: the first address.
    pub gateway: Option<Ipv4Addr>,
    pub gateway_v6: Option<Ipv6Addr>,
    /// DNS server handed to pods; default: the gateway.
    pub dns: Option<Ipv4Addr>,
    pub dns_v6: Option<Ipv6Addr>,
    /// The pods' MTU. Unset: the fabric's MTU less `tunnel-overhead` ([`Node::pod_mtu`]).
    pub mtu: Option<u32>,
    /// The fabric network's MTU; default: the fabric interface's own, else 1500.
    pub fabric_mtu: Option<u32>,
    /// What a tunnel adds to a pod's packet: VXLAN's 50 bytes, the largest of the three
    /// encapsulations (MPLSoUDP adds 32, MPLSoGRE 28).
    #[serde(default = "default_tunnel_overhead")]
    pub tunnel_overhead: u32,
    #[serde(default)]
    pub vhost: Vhost,
    /// A fabric NIC to attach as a Physical vif (optional).
    pub fabric_interface: Option<String>,
    /// Seconds between two reconciliations of the kernel tables with the desired state.
    #[serde(default = "default_resync")]
    pub resync_interval: f64,
    /// A reservation from `GET /vm-cfg` that no `POST /vm` bound is released by GC after
    /// this many seconds.
    #[serde(default = "default_reservation_ttl")]
    pub reservation_ttl: u64,
    /// `error`, `warn`, `info`, `debug`, `trace` (RUST_LOG overrides).
    #[serde(default = "default_log_level")]
    pub log_level: String,
    #[serde(default)]
    pub networks: Vec<Network>,
    /// Namespaces that get a network (and VRF) of their own, as TF's
    /// `opencontrail.org/isolation: "true"`: `<cluster>-<ns>-pod-network`.
    #[serde(default)]
    pub isolated_namespaces: Vec<String>,
    /// The VRF of the first isolated namespace; the next ones follow in list order.
    #[serde(default = "default_isolated_vrf_base")]
    pub isolated_vrf_base: u32,
    /// The Kubernetes API as the source of the node's pool (and, as kube-manager grows,
    /// of networks, pods and policy).
    pub kubernetes: Option<Kubernetes>,
    #[serde(default)]
    pub flows: Flows,
    #[serde(default)]
    pub services: Vec<ServiceEntry>,
}

/// The flow table as the agent manages it (the flow-miss loop).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Flows {
    /// An entry without packets for this long is deleted.
    #[serde(default = "default_aging")]
    pub aging_seconds: u64,
    /// A Hold entry older than this is evaluated again from a table dump: it covers
    /// FLOW_MISS notifications that were lost (socket overrun, agent restart).
    #[serde(default = "default_one_second")]
    pub hold_audit_seconds: f64,
    /// Seconds between two passes over the table (aging, Hold audit).
    #[serde(default = "default_one_second")]
    pub sweep_interval_seconds: f64,
}

impl Default for Flows {
    fn default() -> Self {
        Flows {
            aging_seconds: default_aging(),
            hold_audit_seconds: 1.0,
            sweep_interval_seconds: 1.0,
        }
    }
}

/// `[kubernetes]`: the agent watches the Kubernetes API (kube-manager role).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Kubernetes {
    /// A kubeconfig file; without it, the pod's service account (in-cluster), then
    /// $KUBECONFIG or ~/.kube/config.
    pub kubeconfig: Option<PathBuf>,
}

/// The node's pod CIDRs as the API gives them (Node.spec.podCIDRs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PodCidrs {
    pub v4: Ipv4Net,
    pub v6: Option<Ipv6Net>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Vhost {
    #[serde(default = "default_vhost_name")]
    pub name: String,
    /// The vhost vif's addresses (the source of ICMP errors the datapath sends).
    pub address: Option<Ipv4Addr>,
    pub address_v6: Option<Ipv6Addr>,
}

impl Default for Vhost {
    fn default() -> Self {
        Vhost {
            name: default_vhost_name(),
            address: None,
            address_v6: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Network {
    pub name: String,
    pub vrf: u32,
    /// The VN uuid (`vn-id`); default: derived from the name.
    pub uuid: Option<String>,
    /// Namespaces placed in this network; empty = the default network.
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// With a policy the network's pods send every new flow to the agent for a verdict.
    pub policy: Option<Policy>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    #[default]
    Allow,
    Deny,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Flows towards the network's pods; the peer is the source.
    Ingress,
    /// Flows from the network's pods; the peer is the destination.
    Egress,
}

/// A rule's protocol: `icmp` is ICMP for IPv4 peers and ICMPv6 for IPv6 peers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
    Icmp,
    #[default]
    Any,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Policy {
    #[serde(default)]
    pub default_ingress: Action,
    #[serde(default)]
    pub default_egress: Action,
    /// Evaluated in order; the first rule that matches decides.
    #[serde(default)]
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Rule {
    pub direction: Direction,
    pub action: Action,
    #[serde(default)]
    pub proto: Proto,
    /// The peer's prefix (an address alone is a host prefix); none = any peer.
    #[serde(default, deserialize_with = "de_cidr")]
    pub cidr: Option<IpNet>,
    /// Destination ports (tcp and udp rules only); none = any port.
    pub ports: Option<PortRange>,
}

/// Destination ports `lo..=hi`: in TOML a port number, `"80"` or `"8000-8080"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    pub lo: u16,
    pub hi: u16,
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.lo == self.hi {
            write!(f, "{}", self.lo)
        } else {
            write!(f, "{}-{}", self.lo, self.hi)
        }
    }
}

fn port_number(s: &str) -> Result<u16, String> {
    match s.trim().parse::<u16>() {
        Ok(0) | Err(_) => Err(format!("{s:?} is not a port (1..65535)")),
        Ok(p) => Ok(p),
    }
}

impl FromStr for PortRange {
    type Err = String;
    fn from_str(s: &str) -> Result<PortRange, String> {
        let (lo, hi) = match s.split_once('-') {
            Some((a, b)) => (port_number(a)?, port_number(b)?),
            None => {
                let p = port_number(s)?;
                (p, p)
            }
        };
        if lo > hi {
            return Err(format!(
                "port range {s:?} is empty (low end above high end)"
            ));
        }
        Ok(PortRange { lo, hi })
    }
}

impl<'de> Deserialize<'de> for PortRange {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<PortRange, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = PortRange;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a port (1..65535) or a range \"lo-hi\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<PortRange, E> {
                u16::try_from(v)
                    .ok()
                    .filter(|p| *p != 0)
                    .map(|p| PortRange { lo: p, hi: p })
                    .ok_or_else(|| E::custom(format!("{v} is not a port (1..65535)")))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<PortRange, E> {
                s.parse().map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// A prefix without host bits, or an address alone as its host prefix.
fn de_cidr<'de, D: Deserializer<'de>>(d: D) -> Result<Option<IpNet>, D::Error> {
    let s = String::deserialize(d)?;
    let net = match s.parse::<IpNet>() {
        Ok(n) => n,
        Err(_) => s
            .parse::<IpAddr>()
            .map(IpNet::from)
            .map_err(|_| de::Error::custom(format!("{s:?} is not a prefix")))?,
    };
    if net.trunc() != net {
        return Err(de::Error::custom(format!(
            "{net} has host bits set (did you mean {}?)",
            net.trunc()
        )));
    }
    Ok(Some(net))
}

/// A `[[services]]` entry as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ServiceEntry {
    pub name: String,
    /// Default: the default network.
    pub network: Option<String>,
    pub vip: IpAddr,
    pub port: u16,
    #[serde(default)]
    pub proto: ServiceProto,
    /// `address:port`, IPv6 as `[address]:port`; the VIP's family.
    pub backends: Vec<SocketAddr>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceProto {
    #[default]
    Tcp,
    Udp,
}

impl ServiceProto {
    pub fn name(self) -> &'static str {
        match self {
            ServiceProto::Tcp => "tcp",
            ServiceProto::Udp => "udp",
        }
    }
}

/// A service after checks, with its network resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceDef {
    pub name: String,
    pub network: String,
    pub vrf: u32,
    pub vip: IpAddr,
    pub port: u16,
    pub proto: ServiceProto,
    pub backends: Vec<SocketAddr>,
}

/// At most this many backends per service (a composite nexthop's member limit).
pub const MAX_BACKENDS: usize = vrouter_uapi::COMPOSITE_MAX;

fn default_cluster() -> String {
    "k8s".into()
}
fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], vrouter_port_api::DEFAULT_PORT))
}
fn default_socket() -> PathBuf {
    PathBuf::from(vrouter_port_api::DEFAULT_SOCKET)
}
fn default_tunnel_overhead() -> u32 {
    50
}

/// A fabric MTU nobody configured or reported: Ethernet's.
const DEFAULT_FABRIC_MTU: u32 = 1500;
/// IPv4's minimum MTU: no pod MTU goes below it.
const MIN_MTU: u32 = 68;
fn default_resync() -> f64 {
    5.0
}
fn default_reservation_ttl() -> u64 {
    300
}
fn default_log_level() -> String {
    "info".into()
}
fn default_vhost_name() -> String {
    "vhost0".into()
}
fn default_isolated_vrf_base() -> u32 {
    100
}
fn default_aging() -> u64 {
    180
}
fn default_one_second() -> f64 {
    1.0
}

/// A network after defaults and isolation are applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Net {
    pub name: String,
    pub vrf: u32,
    pub uuid: String,
    pub namespaces: Vec<String>,
    pub policy: Option<Policy>,
}

/// The config, checked and completed.
#[derive(Debug, Clone)]
pub struct Node {
    pub raw: Config,
    /// The pod pools: `pod-cidr`(`-v6`), or the Node object's podCIDRs.
    pub pod_cidr: Ipv4Net,
    pub pod_cidr_v6: Option<Ipv6Net>,
    pub gateway: Ipv4Addr,
    pub gateway_v6: Option<Ipv6Addr>,
    pub dns: Ipv4Addr,
    pub dns_v6: Option<Ipv6Addr>,
    pub networks: Vec<Net>,
    pub services: Vec<ServiceDef>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {err}")]
    Read { path: String, err: std::io::Error },
    #[error("{path}: {err}")]
    Parse { path: String, err: String },
    #[error("{path}: {field}: {why}")]
    Invalid {
        path: String,
        field: String,
        why: String,
    },
}

impl Node {
    /// Loads and checks the file; `from_api` are the node's podCIDRs when the file has a
    /// `[kubernetes]` table (see [`Config::kubernetes`]).
    pub fn load(path: &Path, from_api: Option<PodCidrs>) -> Result<Node, ConfigError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|err| ConfigError::Read {
            path: p.clone(),
            err,
        })?;
        Node::parse_with(&text, from_api).map_err(|e| match e {
            ConfigError::Parse { err, .. } => ConfigError::Parse {
                path: p.clone(),
                err,
            },
            ConfigError::Invalid { field, why, .. } => ConfigError::Invalid {
                path: p.clone(),
                field,
                why,
            },
            other => other,
        })
    }

    /// The `[kubernetes]` table of a config file, if it has one: then the node's pool
    /// comes from the API, and the file is loaded once it is known.
    pub fn kubernetes(path: &Path) -> Result<Option<Kubernetes>, ConfigError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|err| ConfigError::Read {
            path: p.clone(),
            err,
        })?;
        Node::parse_raw(&text)
            .map(|raw| raw.kubernetes)
            .map_err(|e| match e {
                ConfigError::Parse { err, .. } => ConfigError::Parse { path: p, err },
                other => other,
            })
    }

    #[cfg(test)]
    pub fn parse(text: &str) -> Result<Node, ConfigError> {
        Node::parse_with(text, None)
    }

    fn parse_raw(text: &str) -> Result<Config, ConfigError> {
        toml::from_str(text).map_err(|e| {
            // toml names unknown and missing keys itself; for a bad value, name the key
            // of the line the error points at.
            let at = e.span().map(|s| s.start.min(text.len()));
            let err = match at {
                Some(at) => {
                    let line = text[..at].matches('\n').count() + 1;
                    let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
                    let end = text[at..].find('\n').map_or(text.len(), |i| at + i);
                    match text[start..end].split_once('=') {
                        Some((key, _)) if at > start + key.len() => {
                            format!("line {line}: {}: {}", key.trim(), e.message())
                        }
                        _ => format!("line {line}: {}", e.message()),
                    }
                }
                None => e.message().to_string(),
            };
            ConfigError::Parse {
                path: String::new(),
                err,
            }
        })
    }

    pub fn parse_with(text: &str, from_api: Option<PodCidrs>) -> Result<Node, ConfigError> {
        let raw = Node::parse_raw(text)?;
        let bad = |field: &str, why: String| ConfigError::Invalid {
            path: String::new(),
            field: field.into(),
            why,
        };
        let (v4, pod_cidr_v6) = if raw.kubernetes.is_some() {
            for (key, set) in [
                ("pod-cidr", raw.pod_cidr.is_some()),
                ("pod-cidr-v6", raw.pod_cidr_v6.is_some()),
            ] {
                if set {
                    return Err(bad(
                        key,
                        "comes from the Node object's podCIDRs with [kubernetes]; remove it".into(),
                    ));
                }
            }
            let api = from_api.ok_or_else(|| {
                bad(
                    "pod-cidr",
                    "the Node object's podCIDRs are not known yet".into(),
                )
            })?;
            (api.v4, api.v6)
        } else {
            let v4 = raw.pod_cidr.ok_or_else(|| {
                bad(
                    "pod-cidr",
                    "required (or a [kubernetes] table: the Node object's podCIDRs)".into(),
                )
            })?;
            (v4, raw.pod_cidr_v6)
        };

        if raw.node_name.is_empty() {
            return Err(bad("node-name", "must not be empty".into()));
        }
        if raw.cluster_name.is_empty() || raw.cluster_name.contains("__") {
            return Err(bad(
                "cluster-name",
                "must be non-empty and must not contain \"__\"".into(),
            ));
        }
        // The CNI and the agent must agree on it whatever directory either starts in; an
        // address holds 107 bytes, and the agent binds it first one directory deeper.
        if !raw.socket.is_absolute() || raw.socket.as_os_str().len() > 96 {
            return Err(bad(
                "socket",
                format!(
                    "{} must be an absolute path of at most 96 bytes",
                    raw.socket.display()
                ),
            ));
        }
        if v4.prefix_len() > 29 {
            return Err(bad("pod-cidr", format!("{v4} is too small (at most /29)")));
        }
        if v4.network() != v4.addr() {
            return Err(bad(
                "pod-cidr",
                format!("{v4} has host bits set (did you mean {}?)", v4.trunc()),
            ));
        }
        let gateway = raw.gateway.unwrap_or_else(|| first_host_v4(&v4));
        if !v4.contains(&gateway) || gateway == v4.network() || gateway == v4.broadcast() {
            return Err(bad(
                "gateway",
                format!("{gateway} is not a host address of pod-cidr {v4}"),
            ));
        }
        let dns = raw.dns.unwrap_or(gateway);
        if let Some(v6) = pod_cidr_v6 {
            if v6.prefix_len() > 120 {
                return Err(bad(
                    "pod-cidr-v6",
                    format!("{v6} is too small (at most /120)"),
                ));
            }
            if v6.network() != v6.addr() {
                return Err(bad("pod-cidr-v6", format!("{v6} has host bits set")));
            }
        }
        let gateway_v6 = match (pod_cidr_v6, raw.gateway_v6) {
            (None, Some(_)) => return Err(bad("gateway-v6", "set without pod-cidr-v6".into())),
            (Some(n), Some(g)) if !n.contains(&g) || g == n.network() => {
                return Err(bad(
                    "gateway-v6",
                    format!("{g} is not a host address of pod-cidr-v6 {n}"),
                ))
            }
            (Some(n), g) => Some(g.unwrap_or_else(|| first_host_v6(&n))),
            (None, None) => None,
        };
        if raw.dns_v6.is_some() && gateway_v6.is_none() {
            return Err(bad("dns-v6", "set without pod-cidr-v6".into()));
        }
        let dns_v6 = raw.dns_v6.or(gateway_v6);
        for (key, mtu) in [("mtu", raw.mtu), ("fabric-mtu", raw.fabric_mtu)] {
            if let Some(m) = mtu.filter(|m| !(MIN_MTU..=65535).contains(m)) {
                return Err(bad(key, format!("{m} is outside {MIN_MTU}..65535")));
            }
        }
        if raw.tunnel_overhead > 1000 {
            return Err(bad(
                "tunnel-overhead",
                format!(
                    "{} bytes is not a tunnel's overhead (0..1000)",
                    raw.tunnel_overhead
                ),
            ));
        }
        if let Some(f) = raw
            .fabric_mtu
            .filter(|f| f.saturating_sub(raw.tunnel_overhead) < MIN_MTU)
        {
            return Err(bad(
                "tunnel-overhead",
                format!(
                    "fabric-mtu {f} less {} leaves pods less than {MIN_MTU}",
                    raw.tunnel_overhead
                ),
            ));
        }
        if !(raw.resync_interval > 0.0 && raw.resync_interval <= 3600.0) {
            return Err(bad(
                "resync-interval",
                format!("{} is outside (0, 3600] seconds", raw.resync_interval),
            ));
        }
        if raw.vhost.name.is_empty() || raw.vhost.name.len() > 15 {
            return Err(bad(
                "vhost.name",
                format!("{:?} is not a valid interface name", raw.vhost.name),
            ));
        }
        let f = &raw.flows;
        if f.aging_seconds == 0 {
            return Err(bad("flows.aging-seconds", "must be above 0".into()));
        }
        for (key, v) in [
            ("hold-audit-seconds", f.hold_audit_seconds),
            ("sweep-interval-seconds", f.sweep_interval_seconds),
        ] {
            if !(v > 0.0 && v <= 3600.0) {
                return Err(bad(
                    &format!("flows.{key}"),
                    format!("{v} is outside (0, 3600] seconds"),
                ));
            }
        }
        let networks = networks(&raw).map_err(|(field, why)| bad(&field, why))?;
        let mut node = Node {
            pod_cidr: v4,
            pod_cidr_v6,
            gateway,
            gateway_v6,
            dns,
            dns_v6,
            networks,
            services: Vec::new(),
            raw,
        };
        node.services = services(&node).map_err(|(field, why)| bad(&field, why))?;
        Ok(node)
    }

    /// The network a pod of `namespace` belongs to.
    pub fn network_for(&self, namespace: &str) -> &Net {
        self.networks
            .iter()
            .find(|n| n.namespaces.iter().any(|ns| ns == namespace))
            .unwrap_or_else(|| self.default_network())
    }

    /// The network without namespaces (there is always one, explicit or implicit).
    pub fn default_network(&self) -> &Net {
        self.networks
            .iter()
            .find(|n| n.namespaces.is_empty())
            .unwrap_or(&self.networks[0])
    }

    pub fn network(&self, name: &str) -> Option<&Net> {
        self.networks.iter().find(|n| n.name == name)
    }

    /// The pods' MTU: `mtu` when set, else the fabric's MTU less `tunnel-overhead`, so
    /// that a pod's full-size packet still fits the fabric once encapsulated. The
    /// fabric's MTU: `fabric-mtu`, else the fabric interface's own, else 1500.
    pub fn pod_mtu(&self) -> u32 {
        self.pod_mtu_with(|ifname| {
            std::fs::read_to_string(format!("/sys/class/net/{ifname}/mtu"))
                .ok()?
                .trim()
                .parse()
                .ok()
        })
    }

    /// [`Self::pod_mtu`] with `if_mtu` answering an interface's MTU.
    fn pod_mtu_with(&self, if_mtu: impl Fn(&str) -> Option<u32>) -> u32 {
        if let Some(m) = self.raw.mtu {
            return m;
        }
        let fabric = self
            .raw
            .fabric_mtu
            .or_else(|| {
                let f = self.raw.fabric_interface.as_deref()?;
                if_mtu(f).filter(|m| *m >= MIN_MTU)
            })
            .unwrap_or(DEFAULT_FABRIC_MTU);
        fabric.saturating_sub(self.raw.tunnel_overhead).max(MIN_MTU)
    }

    /// Addresses of the pod CIDRs that are never handed to pods.
    pub fn reserved_v4(&self) -> Vec<Ipv4Addr> {
        vec![self.gateway, self.dns]
    }

    pub fn reserved_v6(&self) -> Vec<Ipv6Addr> {
        self.gateway_v6.into_iter().chain(self.dns_v6).collect()
    }
}

fn first_host_v4(n: &Ipv4Net) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(n.network()) + 1)
}

fn first_host_v6(n: &Ipv6Net) -> Ipv6Addr {
    Ipv6Addr::from(u128::from(n.network()) + 1)
}

/// A stable uuid for a network name (the VN uuid when the config gives none).
pub fn derived_uuid(kind: &str, name: &str) -> String {
    // FNV-1a over the name, spread into a version-8 ("custom") uuid: stable across
    // restarts and nodes, which is all a VN id needs here.
    let mut h: u128 = 0x6c62272e07bb014262b821756295c58d;
    for b in kind.bytes().chain([0]).chain(name.bytes()) {
        h ^= u128::from(b);
        h = h.wrapping_mul(0x0000000001000000000000000000013B);
    }
    let b = h.to_be_bytes();
    let mut u = uuid::Builder::from_custom_bytes(b);
    u.set_variant(uuid::Variant::RFC4122);
    u.into_uuid().to_string()
}

fn networks(raw: &Config) -> Result<Vec<Net>, (String, String)> {
    let mut out: Vec<Net> = Vec::new();
    for (i, n) in raw.networks.iter().enumerate() {
        let f = |k: &str| format!("networks[{i}].{k}");
        if n.name.is_empty() {
            return Err((f("name"), "must not be empty".into()));
        }
        if out.iter().any(|o| o.name == n.name) {
            return Err((f("name"), format!("{:?} appears twice", n.name)));
        }
        if n.vrf == HOST_VRF {
            return Err((f("vrf"), "VRF 0 is the host's (vhost0, fabric)".into()));
        }
        if let Some(o) = out.iter().find(|o| o.vrf == n.vrf) {
            return Err((
                f("vrf"),
                format!("VRF {} is already network {:?}'s", n.vrf, o.name),
            ));
        }
        if n.namespaces.is_empty() && out.iter().any(|o| o.namespaces.is_empty()) {
            return Err((
                f("namespaces"),
                "only one network may be the default (no namespaces)".into(),
            ));
        }
        if let Some(u) = &n.uuid {
            if uuid::Uuid::parse_str(u).is_err() {
                return Err((f("uuid"), format!("{u:?} is not a uuid")));
            }
        }
        for ns in &n.namespaces {
            if let Some(o) = out.iter().find(|o| o.namespaces.contains(ns)) {
                return Err((
                    f("namespaces"),
                    format!("namespace {ns:?} is already in network {:?}", o.name),
                ));
            }
        }
        for (j, r) in n.policy.iter().flat_map(|p| p.rules.iter()).enumerate() {
            if r.ports.is_some() && !matches!(r.proto, Proto::Tcp | Proto::Udp) {
                return Err((
                    f(&format!("policy.rules[{j}].ports")),
                    "ports need proto \"tcp\" or \"udp\"".into(),
                ));
            }
        }
        out.push(Net {
            name: n.name.clone(),
            vrf: n.vrf,
            uuid: n
                .uuid
                .clone()
                .unwrap_or_else(|| derived_uuid("vn", &n.name)),
            namespaces: n.namespaces.clone(),
            policy: n.policy.clone(),
        });
    }
    if !out.iter().any(|n| n.namespaces.is_empty()) {
        let name = format!("{}-default-pod-network", raw.cluster_name);
        if out.iter().any(|o| o.vrf == 1) {
            return Err((
                "networks".into(),
                "no default network (one without namespaces) and VRF 1 is taken".into(),
            ));
        }
        out.push(Net {
            uuid: derived_uuid("vn", &name),
            name,
            vrf: 1,
            namespaces: Vec::new(),
            policy: None,
        });
    }
    for (i, ns) in raw.isolated_namespaces.iter().enumerate() {
        let field = format!("isolated-namespaces[{i}]");
        if ns.is_empty() {
            return Err((field, "must not be empty".into()));
        }
        if out.iter().any(|o| o.namespaces.contains(ns)) {
            return Err((
                field,
                format!("namespace {ns:?} is also listed in a network"),
            ));
        }
        let vrf = raw
            .isolated_vrf_base
            .checked_add(i as u32)
            .filter(|v| *v != HOST_VRF)
            .ok_or_else(|| {
                (
                    "isolated-vrf-base".to_string(),
                    "VRF out of range".to_string(),
                )
            })?;
        if let Some(o) = out.iter().find(|o| o.vrf == vrf) {
            return Err((
                field,
                format!(
                    "its VRF {vrf} (isolated-vrf-base + {i}) is network {:?}'s",
                    o.name
                ),
            ));
        }
        let name = format!("{}-{ns}-pod-network", raw.cluster_name);
        out.push(Net {
            uuid: derived_uuid("vn", &name),
            name,
            vrf,
            namespaces: vec![ns.clone()],
            policy: None,
        });
    }
    Ok(out)
}

fn services(node: &Node) -> Result<Vec<ServiceDef>, (String, String)> {
    let raw = &node.raw;
    let mut out: Vec<ServiceDef> = Vec::new();
    for (i, s) in raw.services.iter().enumerate() {
        let f = |k: &str| format!("services[{i}].{k}");
        if s.name.is_empty() {
            return Err((f("name"), "must not be empty".into()));
        }
        let net = match &s.network {
            Some(n) => node
                .network(n)
                .ok_or_else(|| (f("network"), format!("{n:?} is not a configured network")))?,
            None => node.default_network(),
        };
        let vip = s.vip;
        if vip.is_unspecified()
            || vip.is_loopback()
            || vip.is_multicast()
            || vip == IpAddr::V4(Ipv4Addr::BROADCAST)
        {
            return Err((f("vip"), format!("{vip} is not a unicast address")));
        }
        let in_pods = match vip {
            IpAddr::V4(a) => node.pod_cidr.contains(&a),
            IpAddr::V6(a) => node.pod_cidr_v6.is_some_and(|n| n.contains(&a)),
        };
        if in_pods {
            return Err((
                f("vip"),
                format!("{vip} is inside the pod CIDRs (a VIP must not be a pod address)"),
            ));
        }
        // The DNS addresses have host routes of their own in every network's VRF.
        if IpAddr::from(node.dns) == vip || node.dns_v6.map(IpAddr::from) == Some(vip) {
            return Err((f("vip"), format!("{vip} is the pods' DNS server")));
        }
        if s.port == 0 {
            return Err((f("port"), "must be 1..65535".into()));
        }
        if s.backends.is_empty() || s.backends.len() > MAX_BACKENDS {
            return Err((
                f("backends"),
                format!(
                    "{} backends; a service has 1..{MAX_BACKENDS}",
                    s.backends.len()
                ),
            ));
        }
        for (j, b) in s.backends.iter().enumerate() {
            let field = format!("services[{i}].backends[{j}]");
            if b.is_ipv4() != vip.is_ipv4() {
                return Err((field, format!("{b} is not of the VIP's family ({vip})")));
            }
            if b.port() == 0 || b.ip().is_unspecified() || b.ip().is_multicast() {
                return Err((field, format!("{b} is not a unicast address and port")));
            }
            if s.backends[..j].contains(b) {
                return Err((field, format!("{b} appears twice")));
            }
        }
        if let Some((k, o)) = out.iter().enumerate().find(|(_, o)| {
            o.vrf == net.vrf && o.vip == vip && o.port == s.port && o.proto == s.proto
        }) {
            return Err((
                format!("services[{i}]"),
                format!(
                    "{}:{}/{} in network {:?} is already services[{k}] ({:?})",
                    vip,
                    s.port,
                    s.proto.name(),
                    net.name,
                    o.name
                ),
            ));
        }
        out.push(ServiceDef {
            name: s.name.clone(),
            network: net.name.clone(),
            vrf: net.vrf,
            vip,
            port: s.port,
            proto: s.proto,
            backends: s.backends.clone(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: &str = "node-name = \"n1\"\nstate-dir = \"/tmp/x\"\npod-cidr = \"10.32.0.0/24\"\n";

    fn err(text: &str) -> String {
        Node::parse(text).unwrap_err().to_string()
    }

    #[test]
    fn minimal_config_gets_defaults() {
        let n = Node::parse(MIN).unwrap();
        assert_eq!(n.gateway, Ipv4Addr::new(10, 32, 0, 1));
        assert_eq!(n.dns, n.gateway);
        assert_eq!(n.raw.listen.to_string(), "127.0.0.1:9091");
        assert_eq!(n.raw.socket, Path::new("/run/vrouter/agent.sock"));
        assert!(!n.raw.tcp_mutations);
        let n = Node::parse(&format!(
            "{MIN}socket = \"/tmp/a.sock\"\ntcp-mutations = true\n"
        ))
        .unwrap();
        assert_eq!(n.raw.socket, Path::new("/tmp/a.sock"));
        assert!(n.raw.tcp_mutations);
        assert!(err(&format!("{MIN}socket = \"agent.sock\"\n"))
            .contains("socket: agent.sock must be an absolute path"));
        assert_eq!(n.networks.len(), 1);
        assert_eq!(n.networks[0].name, "k8s-default-pod-network");
        assert_eq!(n.networks[0].vrf, 1);
        assert_eq!(n.network_for("anything").vrf, 1);
        assert_eq!(n.raw.vhost.name, "vhost0");
    }

    #[test]
    fn the_example_file_parses() {
        let text = include_str!("../vrouter-agent.example.toml");
        let n = Node::parse(text).unwrap();
        assert!(n.gateway_v6.is_some());
        assert!(n.networks.len() >= 2);
        assert!(n
            .networks
            .iter()
            .any(|n| n.policy.as_ref().is_some_and(|p| !p.rules.is_empty())));
        assert!(n.services.len() >= 2 && n.services.iter().any(|s| s.vip.is_ipv6()));
        assert_eq!(n.raw.flows.aging_seconds, 180);
    }

    #[test]
    fn isolated_namespaces_get_their_own_vrf() {
        let n = Node::parse(&format!(
            "{MIN}isolated-namespaces = [\"secure\", \"red\"]\n"
        ))
        .unwrap();
        assert_eq!(n.network_for("secure").vrf, 100);
        assert_eq!(n.network_for("red").vrf, 101);
        assert_eq!(n.network_for("red").name, "k8s-red-pod-network");
        assert_eq!(n.network_for("default").vrf, 1);
        assert_ne!(n.network_for("red").uuid, n.network_for("secure").uuid);
    }

    #[test]
    fn kubernetes_takes_the_pool_from_the_api() {
        let base = "node-name = \"n1\"\nstate-dir = \"/tmp/x\"\n";
        let k8s = format!("{base}[kubernetes]\nkubeconfig = \"/etc/vrouter/kubeconfig\"\n");
        let api = PodCidrs {
            v4: "10.32.3.0/24".parse().unwrap(),
            v6: Some("fd00:32::300/120".parse().unwrap()),
        };
        let n = Node::parse_with(&k8s, Some(api)).unwrap();
        assert_eq!((n.pod_cidr, n.pod_cidr_v6), (api.v4, api.v6));
        assert_eq!(n.gateway.to_string(), "10.32.3.1");
        let e = |text: &str, api| Node::parse_with(text, api).unwrap_err().to_string();
        assert!(e(&k8s, None).contains("pod-cidr: the Node object's podCIDRs are not known yet"));
        assert!(e(&format!("pod-cidr = \"10.1.0.0/24\"\n{k8s}"), Some(api))
            .contains("pod-cidr: comes from the Node object"));
        assert!(
            e(&format!("pod-cidr-v6 = \"fd00::/112\"\n{k8s}"), Some(api))
                .contains("pod-cidr-v6: comes from the Node object")
        );
        assert!(e(base, None).contains("pod-cidr: required"));
        assert!(e(
            &format!("{base}[kubernetes]\nkubeconfg = \"x\"\n"),
            Some(api)
        )
        .contains("kubeconfg"));
    }

    #[test]
    fn errors_name_the_field() {
        assert!(err(&format!("{MIN}pod-cidrr = \"x\"\n")).contains("pod-cidrr"));
        assert!(
            err("node-name = \"n\"\nstate-dir = \"/x\"\npod-cidr = \"10.32.0.1/24\"\n")
                .contains("pod-cidr: ")
        );
        assert!(err(&format!("{MIN}gateway = \"10.33.0.1\"\n")).contains("gateway: "));
        assert!(err(&format!("{MIN}mtu = 10\n")).contains("mtu: "));
        assert!(
            err(&format!("{MIN}gateway-v6 = \"fd00::1\"\n")).contains("gateway-v6: set without")
        );
        assert!(
            err(&format!("{MIN}[[networks]]\nname = \"a\"\nvrf = 0\n")).contains("networks[0].vrf")
        );
        assert!(err(&format!(
            "{MIN}[[networks]]\nname = \"a\"\nvrf = 2\n[[networks]]\nname = \"b\"\nvrf = 2\n"
        ))
        .contains("networks[1].vrf"));
        assert!(err(&format!(
            "{MIN}[[networks]]\nname = \"a\"\nvrf = 2\n[[networks]]\nname = \"b\"\nvrf = 3\n"
        ))
        .contains("networks[1].namespaces: only one"));
        assert!(err("state-dir = \"/x\"\npod-cidr = \"10.32.0.0/24\"\n").contains("node-name"));
        assert!(err(&format!("{MIN}resync-interval = \"fast\"\n")).contains("resync-interval"));
    }

    #[test]
    fn the_pod_mtu_leaves_room_for_the_tunnel() {
        let none = |_: &str| None;
        let jumbo = |f: &str| (f == "eth1").then_some(9000);
        let mtu = |text: &str, if_mtu: &dyn Fn(&str) -> Option<u32>| {
            Node::parse(&format!("{MIN}{text}"))
                .unwrap()
                .pod_mtu_with(if_mtu)
        };
        assert_eq!(mtu("", &none), 1450, "Ethernet less VXLAN's 50 bytes");
        assert_eq!(mtu("fabric-mtu = 9000\n", &none), 8950);
        assert_eq!(
            mtu("fabric-mtu = 1500\ntunnel-overhead = 36\n", &none),
            1464
        );
        // the fabric interface's own MTU when fabric-mtu is not set
        assert_eq!(mtu("fabric-interface = \"eth1\"\n", &jumbo), 8950);
        assert_eq!(
            mtu("fabric-interface = \"eth1\"\nfabric-mtu = 1600\n", &jumbo),
            1550
        );
        assert_eq!(mtu("fabric-interface = \"eth0\"\n", &jumbo), 1450);
        // an explicit mtu is the pods' as it is
        assert_eq!(mtu("mtu = 1500\nfabric-mtu = 9000\n", &jumbo), 1500);
        assert!(err(&format!("{MIN}fabric-mtu = 60\n")).contains("fabric-mtu: 60"));
        assert!(err(&format!("{MIN}fabric-mtu = 100\n")).contains("tunnel-overhead: "));
        assert!(err(&format!("{MIN}tunnel-overhead = 5000\n")).contains("tunnel-overhead: "));
    }

    #[test]
    fn flows_defaults_and_limits() {
        let n = Node::parse(MIN).unwrap();
        let f = &n.raw.flows;
        assert_eq!(
            (
                f.aging_seconds,
                f.hold_audit_seconds,
                f.sweep_interval_seconds
            ),
            (180, 1.0, 1.0)
        );
        let n = Node::parse(&format!("{MIN}[flows]\naging-seconds = 60\nhold-audit-seconds = 0.5\nsweep-interval-seconds = 2\n"))
            .unwrap();
        assert_eq!(
            (
                n.raw.flows.aging_seconds,
                n.raw.flows.hold_audit_seconds,
                n.raw.flows.sweep_interval_seconds
            ),
            (60, 0.5, 2.0)
        );
        assert!(err(&format!("{MIN}[flows]\naging-seconds = 0\n"))
            .contains("flows.aging-seconds: must be above 0"));
        assert!(
            err(&format!("{MIN}[flows]\naging-seconds = -1\n")).contains("line 5: aging-seconds")
        );
        assert!(err(&format!("{MIN}[flows]\nhold-audit-seconds = 0\n"))
            .contains("flows.hold-audit-seconds: "));
        assert!(
            err(&format!("{MIN}[flows]\nsweep-interval-seconds = nan\n"))
                .contains("flows.sweep-interval-seconds: ")
        );
        assert!(err(&format!("{MIN}[flows]\naging = 5\n")).contains("aging"));
    }

    const POLICY: &str =
        "[[networks]]\nname = \"web\"\nvrf = 1\n[networks.policy]\ndefault-ingress = \"deny\"\n";

    fn rule(body: &str) -> String {
        format!("{MIN}{POLICY}[[networks.policy.rules]]\n{body}")
    }

    #[test]
    fn policies_parse_with_defaults() {
        let n = Node::parse(&rule(
            "direction = \"ingress\"\naction = \"allow\"\nproto = \"tcp\"\nports = \"8000-8080\"\ncidr = \"10.0.0.0/8\"\n\
             [[networks.policy.rules]]\ndirection = \"egress\"\naction = \"deny\"\nports = 53\nproto = \"udp\"\n\
             [[networks.policy.rules]]\ndirection = \"egress\"\naction = \"deny\"\ncidr = \"fd00::1\"\n",
        ))
        .unwrap();
        let p = n.network("web").unwrap().policy.as_ref().unwrap();
        assert_eq!(
            (p.default_ingress, p.default_egress),
            (Action::Deny, Action::Allow)
        );
        assert_eq!(p.rules.len(), 3);
        assert_eq!(p.rules[0].ports, Some(PortRange { lo: 8000, hi: 8080 }));
        assert_eq!(p.rules[0].cidr, Some("10.0.0.0/8".parse().unwrap()));
        assert_eq!(p.rules[1].ports, Some(PortRange { lo: 53, hi: 53 }));
        assert_eq!((p.rules[2].proto, p.rules[2].ports), (Proto::Any, None));
        assert_eq!(p.rules[2].cidr, Some("fd00::1/128".parse().unwrap()));
        // No [[networks]]: the implicit default network has no policy; isolated ones neither.
        let n = Node::parse(&format!("{MIN}isolated-namespaces = [\"x\"]\n")).unwrap();
        assert!(n.networks.iter().all(|n| n.policy.is_none()));
    }

    #[test]
    fn policy_errors_name_the_field() {
        let e = err(&rule("direction = \"in\"\naction = \"allow\"\n"));
        assert!(
            e.contains("line 10: direction: unknown variant `in`"),
            "{e}"
        );
        assert!(err(&rule("direction = \"ingress\"\naction = \"permit\"\n"))
            .contains("action: unknown variant"));
        assert!(err(&rule("direction = \"ingress\"\n")).contains("action"));
        assert!(err(&rule(
            "direction = \"ingress\"\naction = \"deny\"\nproto = \"sctp\"\n"
        ))
        .contains("proto: unknown variant"));
        assert!(err(&rule(
            "direction = \"ingress\"\naction = \"deny\"\nproto = \"icmp\"\nports = 80\n"
        ))
        .contains("networks[0].policy.rules[0].ports: ports need proto"));
        assert!(err(&rule(
            "direction = \"ingress\"\naction = \"deny\"\nports = \"1-2\"\n"
        ))
        .contains("rules[0].ports: ports need proto"));
        for bad in ["0", "65536", "\"90-80\"", "\"x\"", "\"1-\""] {
            let e = err(&rule(&format!(
                "direction = \"ingress\"\naction = \"deny\"\nproto = \"tcp\"\nports = {bad}\n"
            )));
            assert!(e.contains("line 13: ports: "), "{bad}: {e}");
        }
        let e = err(&rule(
            "direction = \"ingress\"\naction = \"deny\"\ncidr = \"10.1.2.3/8\"\n",
        ));
        assert!(
            e.contains("line 12: cidr: 10.1.2.3/8 has host bits set (did you mean 10.0.0.0/8?)"),
            "{e}"
        );
        assert!(err(&rule(
            "direction = \"ingress\"\naction = \"deny\"\ncidr = \"ten\"\n"
        ))
        .contains("cidr: \"ten\" is not a prefix"));
        assert!(err(&rule(
            "direction = \"ingress\"\naction = \"deny\"\nport = 80\n"
        ))
        .contains("port"));
        assert!(err(&format!("{MIN}{POLICY}default-egress = \"block\"\n"))
            .contains("default-egress: unknown variant"));
    }

    fn service(body: &str) -> String {
        format!("{MIN}pod-cidr-v6 = \"fd00:32::/112\"\n[[networks]]\nname = \"blue\"\nvrf = 2\nnamespaces = [\"blue\"]\n[[services]]\n{body}")
    }

    #[test]
    fn services_parse_and_resolve_their_network() {
        let n = Node::parse(&service(
            "name = \"web\"\nvip = \"10.96.0.10\"\nport = 80\nbackends = [\"10.32.0.5:8080\", \"10.32.0.6:8080\"]\n\
             [[services]]\nname = \"dns\"\nnetwork = \"blue\"\nvip = \"fd00:96::a\"\nport = 53\nproto = \"udp\"\nbackends = [\"[fd00:32::5]:53\"]\n\
             [[services]]\nname = \"web-udp\"\nvip = \"10.96.0.10\"\nport = 80\nproto = \"udp\"\nbackends = [\"10.32.0.5:8080\"]\n",
        ))
        .unwrap();
        assert_eq!(n.services.len(), 3);
        let web = &n.services[0];
        assert_eq!(
            (web.network.as_str(), web.vrf, web.proto),
            ("k8s-default-pod-network", 1, ServiceProto::Tcp)
        );
        assert_eq!(web.backends[1], "10.32.0.6:8080".parse().unwrap());
        let dns = &n.services[1];
        assert_eq!(
            (dns.network.as_str(), dns.vrf, dns.proto, dns.port),
            ("blue", 2, ServiceProto::Udp, 53)
        );
        // The same VIP and port in another network or with another protocol is another service.
        let twin = "name = \"a\"\nvip = \"10.96.0.1\"\nport = 80\nbackends = [\"10.32.0.5:80\"]\n[[services]]\nname = \"b\"\nnetwork = \"blue\"\nvip = \"10.96.0.1\"\nport = 80\nbackends = [\"10.32.0.5:80\"]\n";
        assert_eq!(Node::parse(&service(twin)).unwrap().services.len(), 2);
    }

    #[test]
    fn service_errors_name_the_field() {
        let ok =
            "name = \"web\"\nvip = \"10.96.0.10\"\nport = 80\nbackends = [\"10.32.0.5:8080\"]\n";
        let with = |k: &str, v: &str| {
            let body: String = ok
                .lines()
                .filter(|l| !l.starts_with(&format!("{k} =")))
                .map(|l| format!("{l}\n"))
                .collect();
            err(&service(&format!("{body}{k} = {v}\n")))
        };
        assert!(with("name", "\"\"").contains("services[0].name: must not be empty"));
        assert!(with("network", "\"red\"")
            .contains("services[0].network: \"red\" is not a configured network"));
        assert!(with("vip", "\"10.32.0.9\"")
            .contains("services[0].vip: 10.32.0.9 is inside the pod CIDRs"));
        assert!(with("vip", "\"fd00:32::9\"")
            .contains("services[0].vip: fd00:32::9 is inside the pod CIDRs"));
        assert!(with("vip", "\"10.32.0.1\"").contains("services[0].vip: "));
        assert!(with("vip", "\"0.0.0.0\"").contains("is not a unicast address"));
        assert!(with("vip", "\"224.0.0.1\"").contains("is not a unicast address"));
        assert!(with("vip", "\"10.96.0.300\"").contains("vip: "));
        assert!(with("port", "0").contains("services[0].port: must be 1..65535"));
        assert!(with("port", "70000").contains("port: "));
        assert!(with("proto", "\"icmp\"").contains("proto: unknown variant"));
        assert!(with("backends", "[]").contains("services[0].backends: 0 backends"));
        let many: Vec<String> = (0..65).map(|i| format!("\"10.33.0.{i}:80\"")).collect();
        assert!(with("backends", &format!("[{}]", many.join(",")))
            .contains("services[0].backends: 65 backends"));
        assert!(with("backends", "[\"[fd00:32::5]:80\"]")
            .contains("services[0].backends[0]: [fd00:32::5]:80 is not of the VIP's family"));
        assert!(with("backends", "[\"10.32.0.5:80\", \"10.32.0.5:80\"]")
            .contains("services[0].backends[1]: 10.32.0.5:80 appears twice"));
        assert!(with("backends", "[\"10.32.0.5:0\"]").contains("services[0].backends[0]: "));
        assert!(with("backends", "[\"10.32.0.5\"]").contains("backends: "));
        assert!(with("weight", "1").contains("weight"));
        let e = err(&service(&format!(
            "{ok}[[services]]\nname = \"again\"\nnetwork = \"k8s-default-pod-network\"\n{}",
            &ok[13..]
        )));
        assert!(
            e.contains("services[1]: 10.96.0.10:80/tcp in network \"k8s-default-pod-network\" is already services[0] (\"web\")"),
            "{e}"
        );
        let dns = err(&format!("{MIN}dns = \"10.96.0.53\"\n[[services]]\nname = \"d\"\nvip = \"10.96.0.53\"\nport = 53\nbackends = [\"10.32.0.5:53\"]\n"));
        assert!(dns.contains("services[0].vip: 10.96.0.53 is the pods' DNS server"));
    }

    #[test]
    fn derived_uuids_are_stable_and_distinct() {
        assert_eq!(derived_uuid("vn", "a"), derived_uuid("vn", "a"));
        assert_ne!(derived_uuid("vn", "a"), derived_uuid("vn", "b"));
        assert!(uuid::Uuid::parse_str(&derived_uuid("vn", "a")).is_ok());
    }
}
