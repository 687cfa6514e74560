//! The agent's configuration file (TOML; `agent/vrouter-agent.example.toml` documents
//! every key). Parsing is strict: an unknown key, a wrong type or an inconsistent value is
//! one error that names the field.

use ipnet::{Ipv4Net, Ipv6Net};
use serde::Deserialize;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

/// The VRF of the host (vhost0) and the fabric; pod networks live in others.
pub const HOST_VRF: u32 = 0;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    pub node_name: String,
    #[serde(default = "default_cluster")]
    pub cluster_name: String,
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Where ports are persisted (`<state-dir>/ports/<vmi-uuid>.json`).
    pub state_dir: PathBuf,
    /// This node's pod addresses; every network of the node draws from it.
    pub pod_cidr: Ipv4Net,
    pub pod_cidr_v6: Option<Ipv6Net>,
    /// The pods' gateway (answered by the datapath's proxy ARP); default: the first address.
    pub gateway: Option<Ipv4Addr>,
    pub gateway_v6: Option<Ipv6Addr>,
    /// DNS server handed to pods; default: the gateway.
    pub dns: Option<Ipv4Addr>,
    pub dns_v6: Option<Ipv6Addr>,
    #[serde(default = "default_mtu")]
    pub mtu: u32,
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
        Vhost { name: default_vhost_name(), address: None, address_v6: None }
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
}

fn default_cluster() -> String {
    "k8s".into()
}
fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], vrouter_port_api::DEFAULT_PORT))
}
fn default_mtu() -> u32 {
    1500
}
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

/// A network after defaults and isolation are applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Net {
    pub name: String,
    pub vrf: u32,
    pub uuid: String,
    pub namespaces: Vec<String>,
}

/// The config, checked and completed.
#[derive(Debug, Clone)]
pub struct Node {
    pub raw: Config,
    pub gateway: Ipv4Addr,
    pub gateway_v6: Option<Ipv6Addr>,
    pub dns: Ipv4Addr,
    pub dns_v6: Option<Ipv6Addr>,
    pub networks: Vec<Net>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {err}")]
    Read { path: String, err: std::io::Error },
    #[error("{path}: {err}")]
    Parse { path: String, err: String },
    #[error("{path}: {field}: {why}")]
    Invalid { path: String, field: String, why: String },
}

impl Node {
    pub fn load(path: &Path) -> Result<Node, ConfigError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|err| ConfigError::Read { path: p.clone(), err })?;
        Node::parse(&text).map_err(|e| match e {
            ConfigError::Parse { err, .. } => ConfigError::Parse { path: p.clone(), err },
            ConfigError::Invalid { field, why, .. } => ConfigError::Invalid { path: p.clone(), field, why },
            other => other,
        })
    }

    pub fn parse(text: &str) -> Result<Node, ConfigError> {
        let raw: Config = toml::from_str(text).map_err(|e| {
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
            ConfigError::Parse { path: String::new(), err }
        })?;
        let bad = |field: &str, why: String| ConfigError::Invalid { path: String::new(), field: field.into(), why };

        if raw.node_name.is_empty() {
            return Err(bad("node-name", "must not be empty".into()));
        }
        if raw.cluster_name.is_empty() || raw.cluster_name.contains("__") {
            return Err(bad("cluster-name", "must be non-empty and must not contain \"__\"".into()));
        }
        let v4 = raw.pod_cidr;
        if v4.prefix_len() > 29 {
            return Err(bad("pod-cidr", format!("{v4} is too small (at most /29)")));
        }
        if v4.network() != v4.addr() {
            return Err(bad("pod-cidr", format!("{v4} has host bits set (did you mean {}?)", v4.trunc())));
        }
        let gateway = raw.gateway.unwrap_or_else(|| first_host_v4(&v4));
        if !v4.contains(&gateway) || gateway == v4.network() || gateway == v4.broadcast() {
            return Err(bad("gateway", format!("{gateway} is not a host address of pod-cidr {v4}")));
        }
        let dns = raw.dns.unwrap_or(gateway);
        if let Some(v6) = raw.pod_cidr_v6 {
            if v6.prefix_len() > 120 {
                return Err(bad("pod-cidr-v6", format!("{v6} is too small (at most /120)")));
            }
            if v6.network() != v6.addr() {
                return Err(bad("pod-cidr-v6", format!("{v6} has host bits set")));
            }
        }
        let gateway_v6 = match (raw.pod_cidr_v6, raw.gateway_v6) {
            (None, Some(_)) => return Err(bad("gateway-v6", "set without pod-cidr-v6".into())),
            (Some(n), Some(g)) if !n.contains(&g) || g == n.network() => {
                return Err(bad("gateway-v6", format!("{g} is not a host address of pod-cidr-v6 {n}")))
            }
            (Some(n), g) => Some(g.unwrap_or_else(|| first_host_v6(&n))),
            (None, None) => None,
        };
        if raw.dns_v6.is_some() && gateway_v6.is_none() {
            return Err(bad("dns-v6", "set without pod-cidr-v6".into()));
        }
        let dns_v6 = raw.dns_v6.or(gateway_v6);
        if !(68..=65535).contains(&raw.mtu) {
            return Err(bad("mtu", format!("{} is outside 68..65535", raw.mtu)));
        }
        if !(raw.resync_interval > 0.0 && raw.resync_interval <= 3600.0) {
            return Err(bad("resync-interval", format!("{} is outside (0, 3600] seconds", raw.resync_interval)));
        }
        if raw.vhost.name.is_empty() || raw.vhost.name.len() > 15 {
            return Err(bad("vhost.name", format!("{:?} is not a valid interface name", raw.vhost.name)));
        }
        let networks = networks(&raw).map_err(|(field, why)| bad(&field, why))?;
        Ok(Node { gateway, gateway_v6, dns, dns_v6, networks, raw })
    }

    /// The network a pod of `namespace` belongs to.
    pub fn network_for(&self, namespace: &str) -> &Net {
        self.networks
            .iter()
            .find(|n| n.namespaces.iter().any(|ns| ns == namespace))
            .or_else(|| self.networks.iter().find(|n| n.namespaces.is_empty()))
            .unwrap_or(&self.networks[0])
    }

    pub fn network(&self, name: &str) -> Option<&Net> {
        self.networks.iter().find(|n| n.name == name)
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
            return Err((f("vrf"), format!("VRF {} is already network {:?}'s", n.vrf, o.name)));
        }
        if n.namespaces.is_empty() && out.iter().any(|o| o.namespaces.is_empty()) {
            return Err((f("namespaces"), "only one network may be the default (no namespaces)".into()));
        }
        if let Some(u) = &n.uuid {
            if uuid::Uuid::parse_str(u).is_err() {
                return Err((f("uuid"), format!("{u:?} is not a uuid")));
            }
        }
        for ns in &n.namespaces {
            if let Some(o) = out.iter().find(|o| o.namespaces.contains(ns)) {
                return Err((f("namespaces"), format!("namespace {ns:?} is already in network {:?}", o.name)));
            }
        }
        out.push(Net {
            name: n.name.clone(),
            vrf: n.vrf,
            uuid: n.uuid.clone().unwrap_or_else(|| derived_uuid("vn", &n.name)),
            namespaces: n.namespaces.clone(),
        });
    }
    if !out.iter().any(|n| n.namespaces.is_empty()) {
        let name = format!("{}-default-pod-network", raw.cluster_name);
        if out.iter().any(|o| o.vrf == 1) {
            return Err(("networks".into(), "no default network (one without namespaces) and VRF 1 is taken".into()));
        }
        out.push(Net { uuid: derived_uuid("vn", &name), name, vrf: 1, namespaces: Vec::new() });
    }
    for (i, ns) in raw.isolated_namespaces.iter().enumerate() {
        let field = format!("isolated-namespaces[{i}]");
        if ns.is_empty() {
            return Err((field, "must not be empty".into()));
        }
        if out.iter().any(|o| o.namespaces.contains(ns)) {
            return Err((field, format!("namespace {ns:?} is also listed in a network")));
        }
        let vrf = raw
            .isolated_vrf_base
            .checked_add(i as u32)
            .filter(|v| *v != HOST_VRF)
            .ok_or_else(|| ("isolated-vrf-base".to_string(), "VRF out of range".to_string()))?;
        if let Some(o) = out.iter().find(|o| o.vrf == vrf) {
            return Err((field, format!("its VRF {vrf} (isolated-vrf-base + {i}) is network {:?}'s", o.name)));
        }
        let name = format!("{}-{ns}-pod-network", raw.cluster_name);
        out.push(Net { uuid: derived_uuid("vn", &name), name, vrf, namespaces: vec![ns.clone()] });
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
    }

    #[test]
    fn isolated_namespaces_get_their_own_vrf() {
        let n = Node::parse(&format!("{MIN}isolated-namespaces = [\"secure\", \"red\"]\n")).unwrap();
        assert_eq!(n.network_for("secure").vrf, 100);
        assert_eq!(n.network_for("red").vrf, 101);
        assert_eq!(n.network_for("red").name, "k8s-red-pod-network");
        assert_eq!(n.network_for("default").vrf, 1);
        assert_ne!(n.network_for("red").uuid, n.network_for("secure").uuid);
    }

    #[test]
    fn errors_name_the_field() {
        assert!(err(&format!("{MIN}pod-cidrr = \"x\"\n")).contains("pod-cidrr"));
        assert!(err("node-name = \"n\"\nstate-dir = \"/x\"\npod-cidr = \"10.32.0.1/24\"\n").contains("pod-cidr: "));
        assert!(err(&format!("{MIN}gateway = \"10.33.0.1\"\n")).contains("gateway: "));
        assert!(err(&format!("{MIN}mtu = 10\n")).contains("mtu: "));
        assert!(err(&format!("{MIN}gateway-v6 = \"fd00::1\"\n")).contains("gateway-v6: set without"));
        assert!(err(&format!("{MIN}[[networks]]\nname = \"a\"\nvrf = 0\n")).contains("networks[0].vrf"));
        assert!(err(&format!("{MIN}[[networks]]\nname = \"a\"\nvrf = 2\n[[networks]]\nname = \"b\"\nvrf = 2\n"))
            .contains("networks[1].vrf"));
        assert!(err(&format!("{MIN}[[networks]]\nname = \"a\"\nvrf = 2\n[[networks]]\nname = \"b\"\nvrf = 3\n"))
            .contains("networks[1].namespaces: only one"));
        assert!(err("state-dir = \"/x\"\npod-cidr = \"10.32.0.0/24\"\n").contains("node-name"));
        assert!(err(&format!("{MIN}resync-interval = \"fast\"\n")).contains("resync-interval"));
    }

    #[test]
    fn derived_uuids_are_stable_and_distinct() {
        assert_eq!(derived_uuid("vn", "a"), derived_uuid("vn", "a"));
        assert_ne!(derived_uuid("vn", "a"), derived_uuid("vn", "b"));
        assert!(uuid::Uuid::parse_str(&derived_uuid("vn", "a")).is_ok());
    }
}
