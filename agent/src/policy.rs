//! Network policy and services as the flow-miss loop asks about them: built once from the
//! config, then pure lookups. A verdict is wanted for every new flow (thousands a second),
//! so the allow path neither allocates nor formats: rule names are built here, up front,
//! and only copied into a `Deny`.

use crate::config::{Action, Direction, Node, PortRange, Proto, ServiceProto};
use crate::published::Published;
use ipnet::IpNet;
use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// IP protocol numbers the policy knows.
pub mod proto {
    pub const ICMP: u8 = 1;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    pub const ICMPV6: u8 = 58;
}

/// The 5-tuple of a new flow, as the source pod sent it. For ICMP echo flows the ports
/// hold the echo identifier (the datapath's key), not ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowQuery {
    pub proto: u8,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
}

impl FlowQuery {
    /// A hash of the whole tuple for [`Service::pick`]. Deterministic, so evaluating a
    /// flow again (the Hold audit) picks the same backend; finished with murmur3's mixer
    /// because `pick` uses the high bits, which must depend on the source port too.
    pub fn hash(&self) -> u32 {
        let mut h: u32 = 0x811c_9dc5;
        let mut eat = |bytes: &[u8]| {
            for &b in bytes {
                h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
            }
        };
        eat(&[self.proto]);
        for a in [self.src, self.dst] {
            match a {
                IpAddr::V4(a) => eat(&a.octets()),
                IpAddr::V6(a) => eat(&a.octets()),
            }
        }
        eat(&self.sport.to_be_bytes());
        eat(&self.dport.to_be_bytes());
        h ^= h >> 16;
        h = h.wrapping_mul(0x85eb_ca6b);
        h ^= h >> 13;
        h = h.wrapping_mul(0xc2b2_ae35);
        h ^ (h >> 16)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    /// `rule` names what denied the flow, for the operator ("net blue ingress rule 2: ...").
    Deny {
        rule: String,
    },
}

struct Rule {
    allow: bool,
    proto: Proto,
    cidr: Option<IpNet>,
    ports: Option<PortRange>,
    name: String,
}

impl Rule {
    /// `peer` is the other end: the destination for egress, the source for ingress.
    fn matches(&self, q: &FlowQuery, peer: IpAddr) -> bool {
        let proto = match self.proto {
            Proto::Any => true,
            Proto::Tcp => q.proto == proto::TCP,
            Proto::Udp => q.proto == proto::UDP,
            Proto::Icmp => {
                q.proto
                    == if peer.is_ipv4() {
                        proto::ICMP
                    } else {
                        proto::ICMPV6
                    }
            }
        };
        // Config allows ports only on tcp and udp rules, so they never match ICMP.
        proto
            && self.cidr.is_none_or(|c| c.contains(&peer))
            && self.ports.is_none_or(|p| (p.lo..=p.hi).contains(&q.dport))
    }
}

/// One direction of one network's policy.
struct Side {
    rules: Vec<Rule>,
    default_allow: bool,
    default_name: String,
}

impl Side {
    /// The name of what denies the flow, if something does.
    fn check(&self, q: &FlowQuery, peer: IpAddr) -> Option<&str> {
        let (allow, name) = match self.rules.iter().find(|r| r.matches(q, peer)) {
            Some(r) => (r.allow, &r.name),
            None => (self.default_allow, &self.default_name),
        };
        (!allow).then_some(name.as_str())
    }
}

struct NetPolicy {
    ingress: Side,
    egress: Side,
}

fn direction_name(d: Direction) -> &'static str {
    match d {
        Direction::Ingress => "ingress",
        Direction::Egress => "egress",
    }
}

fn proto_name(p: Proto) -> &'static str {
    match p {
        Proto::Tcp => "tcp",
        Proto::Udp => "udp",
        Proto::Icmp => "icmp",
        Proto::Any => "any",
    }
}

/// The policies of the networks that have one.
pub struct Policies {
    nets: HashMap<String, NetPolicy>,
}

impl Policies {
    pub fn from_node(node: &Node) -> Policies {
        let mut nets = HashMap::new();
        for n in &node.networks {
            let Some(p) = &n.policy else { continue };
            let side = |d: Direction, default: Action| {
                let dir = direction_name(d);
                let rules = p
                    .rules
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| r.direction == d)
                    .map(|(i, r)| {
                        let action = if r.action == Action::Allow {
                            "allow"
                        } else {
                            "deny"
                        };
                        let mut name = format!(
                            "net {} {dir} rule {}: {action} {}",
                            n.name,
                            i + 1,
                            proto_name(r.proto)
                        );
                        if let Some(c) = r.cidr {
                            name += &format!(
                                " {} {c}",
                                if d == Direction::Ingress {
                                    "from"
                                } else {
                                    "to"
                                }
                            );
                        }
                        if let Some(ports) = r.ports {
                            name += &format!(" port {ports}");
                        }
                        Rule {
                            allow: r.action == Action::Allow,
                            proto: r.proto,
                            cidr: r.cidr,
                            ports: r.ports,
                            name,
                        }
                    })
                    .collect();
                Side {
                    rules,
                    default_allow: default == Action::Allow,
                    default_name: format!("net {} default-{dir} deny", n.name),
                }
            };
            let np = NetPolicy {
                ingress: side(Direction::Ingress, p.default_ingress),
                egress: side(Direction::Egress, p.default_egress),
            };
            nets.insert(n.name.clone(), np);
        }
        Policies { nets }
    }

    /// Whether the network has a `policy` table.
    #[cfg(test)]
    pub fn has_policy(&self, network: &str) -> bool {
        self.nets.contains_key(network)
    }

    /// A flow is allowed when the source pod's network lets it out (peer: the destination)
    /// and the destination pod's network lets it in (peer: the source). A side that is no
    /// local pod (None) or whose network has no policy does not restrict. With a service,
    /// ask with the backend as `dst` (the address the flow is translated to).
    pub fn evaluate(
        &self,
        src_network: Option<&str>,
        dst_network: Option<&str>,
        q: &FlowQuery,
    ) -> Verdict {
        let net = |n: Option<&str>| n.and_then(|n| self.nets.get(n));
        let denied = net(src_network)
            .and_then(|p| p.egress.check(q, q.dst))
            .or_else(|| net(dst_network).and_then(|p| p.ingress.check(q, q.src)));
        match denied {
            None => Verdict::Allow,
            Some(rule) => Verdict::Deny {
                rule: rule.to_string(),
            },
        }
    }
}

/// The networks whose pods' new flows go to the agent (vif flag POLICY): those with a
/// policy, and those with a service (the flow loop translates VIPs to backends).
pub fn flow_networks(node: &Node) -> BTreeSet<String> {
    node.networks
        .iter()
        .filter(|n| n.policy.is_some())
        .map(|n| n.name.clone())
        .chain(node.services.iter().map(|s| s.network.clone()))
        .collect()
}

/// A backend's address and port.
pub type Backend = SocketAddr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub name: String,
    pub network: String,
    /// The VRF whose pods reach the VIP; None for a Kubernetes Service, which every VRF
    /// reaches (its backends' namespace isolation still decides who may connect).
    pub vrf: Option<u32>,
    pub vip: IpAddr,
    pub port: u16,
    /// IP protocol number (tcp or udp).
    pub proto: u8,
    /// In config order (a Kubernetes Service's: sorted). Empty when a Kubernetes Service
    /// has no ready endpoint: its flows are dropped.
    pub backends: Vec<Backend>,
    /// sessionAffinity ClientIP: a client's flows all go to one backend.
    pub client_affinity: bool,
}

impl Service {
    /// The backend for a flow of hash `hash` ([`FlowQuery::hash`]): multiply-shift over
    /// the backend count, as the datapath picks an ECMP member.
    pub fn pick(&self, hash: u32) -> Option<Backend> {
        let i = (u64::from(hash) * self.backends.len() as u64) >> 32;
        self.backends.get(i as usize).copied()
    }

    /// The backend for new flow `q`: by its 5-tuple, or by its source address alone with
    /// client affinity.
    pub fn pick_for(&self, q: &FlowQuery) -> Option<Backend> {
        if self.client_affinity {
            self.pick(
                FlowQuery {
                    sport: 0,
                    dport: 0,
                    dst: q.src,
                    ..*q
                }
                .hash(),
            )
        } else {
            self.pick(q.hash())
        }
    }
}

pub struct Services {
    list: Vec<Service>,
    /// (vrf, proto, vip, port) -> index in `list`, for the services of one VRF.
    index: HashMap<(u32, u8, IpAddr, u16), usize>,
    /// (proto, vip, port) -> index in `list`, for the services every VRF reaches.
    cluster: HashMap<(u8, IpAddr, u16), usize>,
}

impl Services {
    /// The `[[services]]` of the config.
    pub fn from_node(node: &Node) -> Services {
        Services::new(Self::configured(node))
    }

    /// The `[[services]]` of the config, as a list to add others to.
    pub fn configured(node: &Node) -> Vec<Service> {
        node.services
            .iter()
            .map(|s| Service {
                name: s.name.clone(),
                network: s.network.clone(),
                vrf: Some(s.vrf),
                vip: s.vip,
                port: s.port,
                proto: match s.proto {
                    ServiceProto::Tcp => proto::TCP,
                    ServiceProto::Udp => proto::UDP,
                },
                backends: s.backends.clone(),
                client_affinity: false,
            })
            .collect()
    }

    /// Indexes `list`. Config rejects duplicate (network, vip, port, proto) and the API
    /// one (vip, port, proto); were there one anyway, the first in `list` wins.
    pub fn new(list: Vec<Service>) -> Services {
        let (mut index, mut cluster) = (HashMap::new(), HashMap::new());
        for (i, s) in list.iter().enumerate() {
            match s.vrf {
                Some(vrf) => index.entry((vrf, s.proto, s.vip, s.port)).or_insert(i),
                None => cluster.entry((s.proto, s.vip, s.port)).or_insert(i),
            };
        }
        Services {
            list,
            index,
            cluster,
        }
    }

    /// The service a flow to `vip`:`port` in `vrf` (the VRF of the source pod's network)
    /// is for: one of that VRF's, else one every VRF reaches.
    pub fn lookup(&self, vrf: u32, proto: u8, vip: IpAddr, port: u16) -> Option<&Service> {
        self.index
            .get(&(vrf, proto, vip, port))
            .or_else(|| self.cluster.get(&(proto, vip, port)))
            .and_then(|&i| self.list.get(i))
    }

    /// Every service, in config order.
    pub fn all(&self) -> &[Service] {
        &self.list
    }
}

/// The services the flow loop translates: the config's, and the Kubernetes API's, which
/// the service watch replaces whole when they change (k8s/services.rs). The flow loop
/// takes a snapshot per batch and, when the generation moves, removes the established
/// flows whose backend went.
pub struct ServiceTable {
    configured: Vec<Service>,
    published: Published<Services>,
}

impl ServiceTable {
    pub fn new(configured: Vec<Service>) -> ServiceTable {
        ServiceTable {
            published: Published::new(Services::new(configured.clone())),
            configured,
        }
    }

    pub fn snapshot(&self) -> Arc<Services> {
        self.published.snapshot()
    }

    /// Moves each time the services change.
    pub fn generation(&self) -> u64 {
        self.published.generation()
    }

    /// Replaces the Kubernetes API's services by `api`. Returns whether that changed
    /// anything (an unchanged set keeps the snapshot and the generation).
    pub fn set_cluster(&self, api: Vec<Service>) -> bool {
        self.published.replace_with(|cur| {
            if cur.list.get(self.configured.len()..) == Some(api.as_slice()) {
                return None;
            }
            let mut list = self.configured.clone();
            list.extend(api);
            Some(Services::new(list))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: &str = "node-name = \"n1\"\nstate-dir = \"/tmp/x\"\npod-cidr = \"10.32.0.0/24\"\npod-cidr-v6 = \"fd00:32::/112\"\n";

    fn node(extra: &str) -> Node {
        Node::parse(&format!("{MIN}{extra}")).unwrap()
    }

    fn q(proto: u8, src: &str, dst: &str, dport: u16) -> FlowQuery {
        FlowQuery {
            proto,
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            sport: 40000,
            dport,
        }
    }

    fn deny(rule: &str) -> Verdict {
        Verdict::Deny { rule: rule.into() }
    }

    const WEB: &str = r#"
[[networks]]
name = "web"
vrf = 1
[networks.policy]
default-ingress = "deny"
[[networks.policy.rules]]
direction = "ingress"
action = "deny"
proto = "tcp"
cidr = "10.32.0.66"
[[networks.policy.rules]]
direction = "ingress"
action = "allow"
proto = "tcp"
ports = "80-81"
[[networks.policy.rules]]
direction = "ingress"
action = "allow"
proto = "icmp"
[[networks.policy.rules]]
direction = "egress"
action = "deny"
proto = "udp"
cidr = "0.0.0.0/0"
ports = 53
[[networks]]
name = "open"
vrf = 2
namespaces = ["open"]
"#;

    #[test]
    fn first_matching_rule_wins_else_the_default() {
        let p = Policies::from_node(&node(WEB));
        let web = Some("web");
        assert_eq!(
            p.evaluate(None, web, &q(proto::TCP, "10.32.0.5", "10.32.0.6", 80)),
            Verdict::Allow
        );
        assert_eq!(
            p.evaluate(None, web, &q(proto::TCP, "10.32.0.5", "10.32.0.6", 81)),
            Verdict::Allow
        );
        // Rule 1 (deny from .66) comes before rule 2 (allow port 80).
        assert_eq!(
            p.evaluate(None, web, &q(proto::TCP, "10.32.0.66", "10.32.0.6", 80)),
            deny("net web ingress rule 1: deny tcp from 10.32.0.66/32")
        );
        assert_eq!(
            p.evaluate(None, web, &q(proto::TCP, "10.32.0.5", "10.32.0.6", 22)),
            deny("net web default-ingress deny")
        );
        assert_eq!(
            p.evaluate(None, web, &q(proto::UDP, "10.32.0.5", "10.32.0.6", 80)),
            deny("net web default-ingress deny")
        );
        // Egress: only udp/53 to IPv4 peers is denied, the default allows the rest.
        assert_eq!(
            p.evaluate(web, None, &q(proto::UDP, "10.32.0.6", "8.8.8.8", 53)),
            deny("net web egress rule 4: deny udp to 0.0.0.0/0 port 53")
        );
        assert_eq!(
            p.evaluate(web, None, &q(proto::UDP, "fd00:32::6", "2001:db8::1", 53)),
            Verdict::Allow
        );
        assert_eq!(
            p.evaluate(web, None, &q(proto::TCP, "10.32.0.6", "8.8.8.8", 53)),
            Verdict::Allow
        );
    }

    #[test]
    fn both_ends_must_allow_and_unrestricted_sides_do_not_count() {
        let p = Policies::from_node(&node(WEB));
        let to_dns = q(proto::UDP, "10.32.0.6", "10.32.0.7", 53);
        // web -> web: egress denies first.
        assert_eq!(
            p.evaluate(Some("web"), Some("web"), &to_dns),
            deny("net web egress rule 4: deny udp to 0.0.0.0/0 port 53")
        );
        let http = q(proto::TCP, "10.32.0.6", "10.32.0.7", 80);
        assert_eq!(p.evaluate(Some("web"), Some("web"), &http), Verdict::Allow);
        // Egress allows, ingress denies.
        let ssh = q(proto::TCP, "10.32.0.6", "10.32.0.7", 22);
        assert_eq!(
            p.evaluate(Some("web"), Some("web"), &ssh),
            deny("net web default-ingress deny")
        );
        // A network without policy, no local pod, an unknown network: no restriction.
        assert_eq!(p.evaluate(Some("open"), Some("open"), &ssh), Verdict::Allow);
        assert_eq!(p.evaluate(None, None, &ssh), Verdict::Allow);
        assert_eq!(p.evaluate(Some("gone"), Some("open"), &ssh), Verdict::Allow);
        assert!(p.has_policy("web") && !p.has_policy("open") && !p.has_policy("gone"));
    }

    #[test]
    fn icmp_rules_follow_the_family_and_port_rules_never_match_icmp() {
        let p = Policies::from_node(&node(WEB));
        let web = Some("web");
        assert_eq!(
            p.evaluate(None, web, &q(proto::ICMP, "10.32.0.5", "10.32.0.6", 80)),
            Verdict::Allow
        );
        assert_eq!(
            p.evaluate(None, web, &q(proto::ICMPV6, "fd00:32::5", "fd00:32::6", 0)),
            Verdict::Allow
        );
        // ICMPv6 between IPv4 addresses is not "icmp"; nor is ICMP between IPv6 ones.
        assert_eq!(
            p.evaluate(None, web, &q(proto::ICMPV6, "10.32.0.5", "10.32.0.6", 0)),
            deny("net web default-ingress deny")
        );
        assert_eq!(
            p.evaluate(None, web, &q(proto::ICMP, "fd00:32::5", "fd00:32::6", 0)),
            deny("net web default-ingress deny")
        );
        // An echo identifier of 80 is no port 80: rule 2 (tcp 80-81) does not apply.
        let p = Policies::from_node(&node(
            "[[networks]]\nname = \"n\"\nvrf = 1\n[networks.policy]\ndefault-egress = \"deny\"\n\
             [[networks.policy.rules]]\ndirection = \"egress\"\naction = \"allow\"\nproto = \"tcp\"\nports = 80\n",
        ));
        assert_eq!(
            p.evaluate(Some("n"), None, &q(proto::ICMP, "10.32.0.5", "1.1.1.1", 80)),
            deny("net n default-egress deny")
        );
        assert_eq!(
            p.evaluate(Some("n"), None, &q(proto::TCP, "10.32.0.5", "1.1.1.1", 80)),
            Verdict::Allow
        );
    }

    #[test]
    fn cidr_rules_match_only_their_family() {
        let p = Policies::from_node(&node(
            "[[networks]]\nname = \"n\"\nvrf = 1\n[networks.policy]\n\
             [[networks.policy.rules]]\ndirection = \"ingress\"\naction = \"deny\"\ncidr = \"fd00:32::/64\"\n",
        ));
        assert_eq!(
            p.evaluate(
                None,
                Some("n"),
                &q(proto::TCP, "fd00:32::9", "fd00:32::6", 1)
            ),
            deny("net n ingress rule 1: deny any from fd00:32::/64")
        );
        assert_eq!(
            p.evaluate(None, Some("n"), &q(proto::TCP, "10.32.0.9", "10.32.0.6", 1)),
            Verdict::Allow
        );
        assert_eq!(
            p.evaluate(
                None,
                Some("n"),
                &q(proto::TCP, "fd00:33::9", "fd00:32::6", 1)
            ),
            Verdict::Allow
        );
    }

    #[test]
    fn an_empty_policy_table_allows_but_still_counts_as_policy() {
        let n = node("[[networks]]\nname = \"n\"\nvrf = 1\n[networks.policy]\n");
        let p = Policies::from_node(&n);
        assert!(p.has_policy("n"));
        assert_eq!(
            p.evaluate(
                Some("n"),
                Some("n"),
                &q(proto::TCP, "10.32.0.5", "10.32.0.6", 1)
            ),
            Verdict::Allow
        );
        assert_eq!(flow_networks(&n), BTreeSet::from(["n".to_string()]));
    }

    const SVC: &str = r#"
[[networks]]
name = "blue"
vrf = 2
namespaces = ["blue"]
[[services]]
name = "web"
vip = "10.96.0.10"
port = 80
backends = ["10.32.0.5:8080", "10.32.0.6:8080", "10.32.0.7:8080"]
[[services]]
name = "dns"
network = "blue"
vip = "fd00:96::a"
port = 53
proto = "udp"
backends = ["[fd00:32::5]:5353"]
"#;

    #[test]
    fn services_are_found_by_vrf_proto_vip_and_port() {
        let n = node(SVC);
        let s = Services::from_node(&n);
        let vip = "10.96.0.10".parse().unwrap();
        let web = s.lookup(1, proto::TCP, vip, 80).unwrap();
        assert_eq!(
            (web.name.as_str(), web.network.as_str(), web.backends.len()),
            ("web", "k8s-default-pod-network", 3)
        );
        assert!(s.lookup(1, proto::UDP, vip, 80).is_none());
        assert!(s.lookup(1, proto::TCP, vip, 81).is_none());
        assert!(s.lookup(2, proto::TCP, vip, 80).is_none());
        let dns = s
            .lookup(2, proto::UDP, "fd00:96::a".parse().unwrap(), 53)
            .unwrap();
        assert_eq!(
            dns.backends,
            ["[fd00:32::5]:5353".parse::<Backend>().unwrap()]
        );
        assert_eq!(s.all().len(), 2);
        assert_eq!(
            flow_networks(&n),
            BTreeSet::from(["blue".to_string(), "k8s-default-pod-network".to_string()])
        );
        assert!(Services::from_node(&node("")).all().is_empty());
    }

    #[test]
    fn pick_spreads_source_ports_over_the_backends_and_is_stable() {
        let s = Services::from_node(&node(SVC));
        let web = &s.all()[0];
        let mut count = [0usize; 3];
        for sport in 32768..34816u16 {
            let mut f = q(proto::TCP, "10.32.0.9", "10.96.0.10", 80);
            f.sport = sport;
            let b = web.pick(f.hash()).unwrap();
            assert_eq!(web.pick(f.hash()), Some(b));
            count[web.backends.iter().position(|x| *x == b).unwrap()] += 1;
        }
        // 2048 flows over 3 backends: each gets a fair share.
        assert!(count.iter().all(|&c| (550..=820).contains(&c)), "{count:?}");
        // Multiply-shift: the extremes of the hash map to the first and last backend.
        assert_eq!(web.pick(0), Some(web.backends[0]));
        assert_eq!(web.pick(u32::MAX), Some(web.backends[2]));
        let none = Service {
            backends: vec![],
            ..web.clone()
        };
        assert_eq!(none.pick(7), None);
    }

    #[test]
    fn hash_depends_on_every_field() {
        let base = q(proto::TCP, "10.32.0.9", "10.96.0.10", 80);
        let h = base.hash();
        for f in [
            FlowQuery {
                proto: proto::UDP,
                ..base
            },
            FlowQuery {
                src: "10.32.0.8".parse().unwrap(),
                ..base
            },
            FlowQuery {
                dst: "10.96.0.11".parse().unwrap(),
                ..base
            },
            FlowQuery {
                sport: base.sport + 1,
                ..base
            },
            FlowQuery { dport: 81, ..base },
            FlowQuery {
                src: base.dst,
                dst: base.src,
                ..base
            },
        ] {
            assert_ne!(f.hash(), h, "{f:?}");
        }
    }

    fn cluster(vip: &str, backends: &[&str]) -> Service {
        Service {
            name: format!("shop/{vip}"),
            network: String::new(),
            vrf: None,
            vip: vip.parse().unwrap(),
            port: 80,
            proto: proto::TCP,
            backends: backends.iter().map(|b| b.parse().unwrap()).collect(),
            client_affinity: false,
        }
    }

    #[test]
    fn a_vrfs_own_service_comes_before_a_cluster_one_on_the_same_vip() {
        let n = node(SVC);
        let mut list = Services::configured(&n);
        list.push(cluster("10.96.0.10", &["10.32.0.50:8080"]));
        list.push(cluster("10.96.0.11", &["10.32.0.51:8080"]));
        let s = Services::new(list);
        let vip = "10.96.0.10".parse().unwrap();
        assert_eq!(s.lookup(1, proto::TCP, vip, 80).unwrap().name, "web");
        assert_eq!(
            s.lookup(7, proto::TCP, vip, 80).unwrap().name,
            "shop/10.96.0.10"
        );
        let other = "10.96.0.11".parse().unwrap();
        assert!(s.lookup(1, proto::TCP, other, 80).is_some());
        assert!(s.lookup(1, proto::UDP, other, 80).is_none());
    }

    #[test]
    fn the_table_moves_its_generation_only_when_the_api_services_change() {
        let t = ServiceTable::new(Services::configured(&node(SVC)));
        let g = t.generation();
        assert!(t.set_cluster(vec![cluster("10.96.0.11", &["10.32.0.51:8080"])]));
        assert_eq!(t.generation(), g + 1);
        assert!(!t.set_cluster(vec![cluster("10.96.0.11", &["10.32.0.51:8080"])]));
        assert_eq!(t.generation(), g + 1);
        let snap = t.snapshot();
        assert_eq!(snap.all().len(), 3);
        assert!(t.set_cluster(Vec::new()));
        // A snapshot taken before keeps what it had; the configured services stay.
        assert_eq!(snap.all().len(), 3);
        assert_eq!(t.snapshot().all().len(), 2);
    }

    #[test]
    fn client_affinity_sends_every_flow_of_a_client_to_one_backend() {
        let mut s = cluster(
            "10.96.0.12",
            &[
                "10.32.0.51:80",
                "10.32.0.52:80",
                "10.32.0.53:80",
                "10.32.0.54:80",
            ],
        );
        let picks = |s: &Service, src: &str| -> BTreeSet<Backend> {
            (32768..32868u16)
                .map(|sport| {
                    let mut f = q(proto::TCP, src, "10.96.0.12", 80);
                    f.sport = sport;
                    s.pick_for(&f).unwrap()
                })
                .collect()
        };
        assert!(picks(&s, "10.32.0.9").len() > 1);
        s.client_affinity = true;
        assert_eq!(picks(&s, "10.32.0.9").len(), 1);
        let clients: BTreeSet<Backend> = (1..40)
            .flat_map(|i| picks(&s, &format!("10.32.1.{i}")))
            .collect();
        assert!(clients.len() > 1, "clients spread over the backends");
    }
}
