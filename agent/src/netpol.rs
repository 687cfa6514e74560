//! Kubernetes NetworkPolicy (networking.k8s.io/v1) for the verdicts of new pod flows.
//!
//! [`compile`] turns the API objects (policies, namespaces, pods) into an immutable
//! [`Compiled`] snapshot once; [`Compiled::verdict`] then decides one flow with two hash
//! lookups and a scan of the rules that apply to its two ends. Selectors are resolved at
//! compile time into pod-id bitsets and port names into small ids, so the per-flow path
//! neither allocates nor formats: a `Deny` borrows a name built here.
//!
//! The verdict is for pod traffic. Kubernetes always allows traffic from a pod's own node
//! (kubelet probes); that exemption is the caller's, as only it knows the local node's
//! addresses. An address that is not a pod IP (a node, a hostNetwork pod, anything outside
//! the cluster) has no policy of its own, so only the pod end of such a flow is checked.
//! `dst` and `dport` are the flow's real destination, i.e. after any service DNAT.
//!
//! Choices where the API leaves room:
//! - ipBlock matches any address, pod IPs included (the API says it is meant for
//!   cluster-external addresses but lets implementations apply it to pods).
//! - A pod never blocks traffic to itself (the Kubernetes docs' one exception; such traffic
//!   normally stays inside the pod, but a service hairpin can bring it here).
//! - Whatever cannot be understood is reported as a [`Problem`] and handled so that it
//!   never widens access. A bad peer or port entry is dropped from its rule, which then
//!   allows less; a rule left with no usable peer (or no usable port) is dropped, so the
//!   policy allows less while its pods stay isolated. A policy whose own podSelector or
//!   policyTypes is bad fails closed (see `Builder::add_policy`).
//! - Pods in a terminal phase (Succeeded, Failed) are not indexed: their IPs may already
//!   belong to a new pod. Should two indexed pods claim one IP, the first one keeps it.
//! - Named ports resolve against `spec.containers[].ports[]` only.

use ipnet::IpNet;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::IpAddr;

/// The label the API server puts on every namespace, holding the namespace's name.
const NAME_LABEL: &str = "kubernetes.io/metadata.name";

const TCP: u8 = 6;
const UDP: u8 = 17;
const SCTP: u8 = 132;

type Labels = BTreeMap<String, String>;

static NO_LABELS: Labels = BTreeMap::new();

/// Which way a flow crosses a pod's policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Ingress,
    Egress,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict<'a> {
    Allow,
    Deny { by: DeniedBy<'a> },
}

/// Which end refused a flow; displays as "egress of ns/pod" or "ingress of ns/pod".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeniedBy<'a> {
    pub direction: Direction,
    /// "namespace/name" of the isolated pod.
    pub pod: &'a str,
}

impl fmt::Display for DeniedBy<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} of {}", self.direction.as_str(), self.pod)
    }
}

/// A policy, or a part of one, that could not be applied. `why` starts with the field path
/// (e.g. `spec.ingress[0].from[1]: ...`) and says what was done instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub namespace: String,
    pub name: String,
    pub why: String,
}

/// All policies, resolved against the pods and namespaces they were compiled with.
#[derive(Debug, Default, PartialEq)]
pub struct Compiled {
    /// Every pod IP (both families) to its index in `pods`.
    by_ip: HashMap<IpAddr, usize>,
    pods: Vec<PodEntry>,
    rules: Vec<Rule>,
}

#[derive(Debug, PartialEq)]
struct PodEntry {
    /// "namespace/name", what a `Deny` names.
    key: String,
    /// Named container ports, for rules that name a port.
    ports: Vec<NamedPort>,
    /// Indices into `Compiled::rules`; `None` while no policy isolates the pod that way.
    ingress: Option<Vec<usize>>,
    egress: Option<Vec<usize>>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct NamedPort {
    name: usize,
    proto: u8,
    port: u16,
}

/// One ingress or egress rule. `None` means any peer, or any protocol and port.
#[derive(Debug, PartialEq)]
struct Rule {
    peers: Option<Peers>,
    ports: Option<Vec<PortMatch>>,
}

/// The union of a rule's peers.
#[derive(Debug, Default, PartialEq)]
struct Peers {
    pods: PodSet,
    blocks: Vec<Block>,
}

#[derive(Debug, PartialEq)]
struct Block {
    cidr: IpNet,
    except: Vec<IpNet>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum PortMatch {
    /// Traffic of `proto` to a port in `first..=last` (all ports when the entry has none).
    Range { proto: u8, first: u16, last: u16 },
    /// Traffic of `proto` to the destination pod's container port of that name and protocol.
    Named { proto: u8, name: usize },
}

/// What the port half of a rule looks at.
struct Flow<'a> {
    proto: u8,
    dport: u16,
    /// The destination pod's named ports; empty when the destination is not a pod.
    dst_ports: &'a [NamedPort],
}

/// A set of pod indices.
#[derive(Debug, Default, PartialEq)]
struct PodSet(Vec<u64>);

impl PodSet {
    fn insert(&mut self, i: usize) {
        let word = i / 64;
        if self.0.len() <= word {
            self.0.resize(word + 1, 0);
        }
        self.0[word] |= 1 << (i % 64);
    }

    fn contains(&self, i: usize) -> bool {
        self.0.get(i / 64).is_some_and(|w| w >> (i % 64) & 1 == 1)
    }
}

impl Compiled {
    /// The verdict for a new flow. `proto` is the IP protocol number (6 TCP, 17 UDP,
    /// 132 SCTP, 1 ICMP, 58 ICMPv6, ...); `dport` is ignored by rules without ports, which
    /// are the only rules that match protocols other than TCP, UDP and SCTP.
    pub fn verdict(&self, proto: u8, src: IpAddr, dst: IpAddr, dport: u16) -> Verdict<'_> {
        let src_pod = self.pod_at(src);
        let dst_pod = self.pod_at(dst);
        if let (Some((s, _)), Some((d, _))) = (src_pod, dst_pod) {
            if s == d {
                return Verdict::Allow;
            }
        }
        let flow = Flow {
            proto,
            dport,
            dst_ports: dst_pod.map_or(&[][..], |(_, p)| &p.ports[..]),
        };
        if let Some((_, pod)) = src_pod {
            let peer = dst_pod.map(|(i, _)| i);
            if !self.admits(pod.egress.as_deref(), dst, peer, &flow) {
                return deny(Direction::Egress, pod);
            }
        }
        if let Some((_, pod)) = dst_pod {
            let peer = src_pod.map(|(i, _)| i);
            if !self.admits(pod.ingress.as_deref(), src, peer, &flow) {
                return deny(Direction::Ingress, pod);
            }
        }
        Verdict::Allow
    }

    fn pod_at(&self, ip: IpAddr) -> Option<(usize, &PodEntry)> {
        let i = *self.by_ip.get(&ip)?;
        Some((i, self.pods.get(i)?))
    }

    /// Whether one end lets the flow through: `rules` are that end's rules for the
    /// direction (`None`: not isolated), `peer` is the other end.
    fn admits(
        &self,
        rules: Option<&[usize]>,
        peer: IpAddr,
        peer_pod: Option<usize>,
        flow: &Flow,
    ) -> bool {
        let Some(rules) = rules else { return true };
        rules.iter().any(|&r| {
            self.rules
                .get(r)
                .is_some_and(|rule| rule.admits(peer, peer_pod, flow))
        })
    }
}

fn deny(direction: Direction, pod: &PodEntry) -> Verdict<'_> {
    Verdict::Deny {
        by: DeniedBy {
            direction,
            pod: &pod.key,
        },
    }
}

impl Rule {
    fn admits(&self, peer: IpAddr, peer_pod: Option<usize>, flow: &Flow) -> bool {
        let ports_ok = match &self.ports {
            None => true,
            Some(ports) => ports.iter().any(|p| p.admits(flow)),
        };
        ports_ok
            && match &self.peers {
                None => true,
                Some(peers) => peers.admit(peer, peer_pod),
            }
    }
}

impl Peers {
    fn admit(&self, addr: IpAddr, pod: Option<usize>) -> bool {
        pod.is_some_and(|p| self.pods.contains(p)) || self.blocks.iter().any(|b| b.contains(addr))
    }
}

impl Block {
    fn contains(&self, addr: IpAddr) -> bool {
        self.cidr.contains(&addr) && !self.except.iter().any(|e| e.contains(&addr))
    }
}

impl PortMatch {
    fn admits(&self, flow: &Flow) -> bool {
        match *self {
            PortMatch::Range { proto, first, last } => {
                proto == flow.proto && (first..=last).contains(&flow.dport)
            }
            PortMatch::Named { proto, name } => {
                proto == flow.proto
                    && flow
                        .dst_ports
                        .iter()
                        .any(|p| p.name == name && p.proto == proto && p.port == flow.dport)
            }
        }
    }
}

/// Compiles all policies against all namespaces and pods. Problems are reported and
/// skipped (never by widening access); they do not stop the other policies.
pub fn compile(
    policies: &[NetworkPolicy],
    namespaces: &[Namespace],
    pods: &[Pod],
) -> (Compiled, Vec<Problem>) {
    let mut b = Builder::default();
    // Namespaces first: a pod's namespace that is not in the list gets only its name label.
    for ns in namespaces {
        b.add_namespace(ns);
    }
    for pod in pods {
        b.add_pod(pod);
    }
    for policy in policies {
        b.add_policy(policy);
    }
    let compiled = Compiled {
        by_ip: b.by_ip,
        pods: b.entries,
        rules: b.rules,
    };
    (compiled, b.problems)
}

/// Compile-time state; `pods` and `entries` are parallel.
#[derive(Default)]
struct Builder<'a> {
    ns_index: HashMap<&'a str, usize>,
    ns_labels: Vec<Labels>,
    pods: Vec<PodView<'a>>,
    entries: Vec<PodEntry>,
    by_ip: HashMap<IpAddr, usize>,
    port_names: HashMap<&'a str, usize>,
    rules: Vec<Rule>,
    problems: Vec<Problem>,
}

/// What selectors look at.
struct PodView<'a> {
    namespace: &'a str,
    ns: usize,
    labels: &'a Labels,
}

/// The policy a problem is reported against.
#[derive(Clone, Copy)]
struct Ctx<'p> {
    namespace: &'p str,
    name: &'p str,
}

impl<'a> Builder<'a> {
    fn add_namespace(&mut self, ns: &'a Namespace) {
        let Some(name) = ns.metadata.name.as_deref() else {
            return;
        };
        let mut labels = ns.metadata.labels.clone().unwrap_or_default();
        labels.insert(NAME_LABEL.to_string(), name.to_string());
        self.ns_index.insert(name, self.ns_labels.len());
        self.ns_labels.push(labels);
    }

    fn namespace(&mut self, name: &'a str) -> usize {
        if let Some(&i) = self.ns_index.get(name) {
            return i;
        }
        let i = self.ns_labels.len();
        self.ns_labels
            .push(Labels::from([(NAME_LABEL.to_string(), name.to_string())]));
        self.ns_index.insert(name, i);
        i
    }

    fn add_pod(&mut self, pod: &'a Pod) {
        let spec = pod.spec.as_ref();
        if spec.and_then(|s| s.host_network) == Some(true) {
            return; // its IPs are the node's
        }
        let status = pod.status.as_ref();
        if matches!(
            status.and_then(|s| s.phase.as_deref()),
            Some("Succeeded" | "Failed")
        ) {
            return; // its IP may already be another pod's
        }
        let (Some(namespace), Some(name)) = (
            pod.metadata.namespace.as_deref(),
            pod.metadata.name.as_deref(),
        ) else {
            return;
        };
        let ips: Vec<IpAddr> = match status.and_then(|s| s.pod_ips.as_deref()) {
            Some(list) if !list.is_empty() => {
                list.iter().filter_map(|p| p.ip.parse().ok()).collect()
            }
            _ => status
                .and_then(|s| s.pod_ip.as_deref())
                .and_then(|ip| ip.parse().ok())
                .into_iter()
                .collect(),
        };
        if ips.is_empty() {
            return; // no flow can name it yet
        }
        let index = self.entries.len();
        for ip in ips {
            self.by_ip.entry(ip).or_insert(index);
        }
        let ports = self.named_ports(pod);
        let ns = self.namespace(namespace);
        self.pods.push(PodView {
            namespace,
            ns,
            labels: pod.metadata.labels.as_ref().unwrap_or(&NO_LABELS),
        });
        self.entries.push(PodEntry {
            key: format!("{namespace}/{name}"),
            ports,
            ingress: None,
            egress: None,
        });
    }

    fn named_ports(&mut self, pod: &'a Pod) -> Vec<NamedPort> {
        let containers = pod.spec.iter().flat_map(|s| &s.containers);
        let mut out = Vec::new();
        for port in containers.flat_map(|c| c.ports.iter().flatten()) {
            let Some(name) = port.name.as_deref() else {
                continue;
            };
            let (Ok(proto), Ok(number)) = (
                protocol(port.protocol.as_deref()),
                port_number(port.container_port),
            ) else {
                continue; // the API server would have refused it
            };
            out.push(NamedPort {
                name: self.port_name(name),
                proto,
                port: number,
            });
        }
        out
    }

    fn port_name(&mut self, name: &'a str) -> usize {
        let next = self.port_names.len();
        *self.port_names.entry(name).or_insert(next)
    }

    fn report(&mut self, ctx: Ctx, why: String) {
        self.problems.push(Problem {
            namespace: ctx.namespace.to_string(),
            name: ctx.name.to_string(),
            why,
        });
    }

    /// A bad `spec.podSelector` fails closed: every pod of the namespace is isolated in the
    /// policy's directions and gets none of its rules. Unknown `policyTypes` likewise make
    /// the policy isolate both directions. A missing spec is the empty spec the API
    /// server would default to: all pods of the namespace, Ingress, no rules.
    fn add_policy(&mut self, policy: &'a NetworkPolicy) {
        let name = policy.metadata.name.as_deref().unwrap_or("");
        let Some(namespace) = policy.metadata.namespace.as_deref() else {
            self.problems.push(Problem {
                namespace: String::new(),
                name: name.to_string(),
                why: "metadata.namespace: missing; policy skipped".to_string(),
            });
            return;
        };
        let ctx = Ctx { namespace, name };
        let spec = policy.spec.as_ref();
        let (selected, rules_usable) =
            match Selector::parse(spec.and_then(|s| s.pod_selector.as_ref())) {
                Ok(sel) => (self.select(namespace, |labels| sel.matches(labels)), true),
                Err(why) => {
                    self.report(
                        ctx,
                        format!(
                            "spec.podSelector: {why}; isolating every pod of the namespace \
                             with none of the policy's rules"
                        ),
                    );
                    (self.select(namespace, |_| true), false)
                }
            };
        let (ingress, egress) = self.directions(ctx, spec);
        if ingress {
            let rules = spec.and_then(|s| s.ingress.as_deref()).unwrap_or(&[]);
            let ids = if rules_usable {
                let rules = rules
                    .iter()
                    .map(|r| (r.from.as_deref(), r.ports.as_deref()));
                self.add_rules(ctx, "ingress", "from", rules)
            } else {
                Vec::new()
            };
            for &p in &selected {
                self.entries[p]
                    .ingress
                    .get_or_insert_with(Vec::new)
                    .extend(&ids);
            }
        }
        if egress {
            let rules = spec.and_then(|s| s.egress.as_deref()).unwrap_or(&[]);
            let ids = if rules_usable {
                let rules = rules.iter().map(|r| (r.to.as_deref(), r.ports.as_deref()));
                self.add_rules(ctx, "egress", "to", rules)
            } else {
                Vec::new()
            };
            for &p in &selected {
                self.entries[p]
                    .egress
                    .get_or_insert_with(Vec::new)
                    .extend(&ids);
            }
        }
    }

    /// Indices of the pods of `namespace` whose labels `matches` accepts.
    fn select(&self, namespace: &str, matches: impl Fn(&Labels) -> bool) -> Vec<usize> {
        self.pods
            .iter()
            .enumerate()
            .filter(|(_, p)| p.namespace == namespace && matches(p.labels))
            .map(|(i, _)| i)
            .collect()
    }

    /// (isolates ingress, isolates egress). Without policyTypes: Ingress always, plus
    /// Egress if there are egress rules (the API server's defaulting).
    fn directions(&mut self, ctx: Ctx, spec: Option<&NetworkPolicySpec>) -> (bool, bool) {
        let types = spec.and_then(|s| s.policy_types.as_deref()).unwrap_or(&[]);
        if types.is_empty() {
            let has_egress = spec
                .and_then(|s| s.egress.as_ref())
                .is_some_and(|e| !e.is_empty());
            return (true, has_egress);
        }
        let (mut ingress, mut egress, mut unknown) = (false, false, false);
        for (i, t) in types.iter().enumerate() {
            match t.as_str() {
                "Ingress" => ingress = true,
                "Egress" => egress = true,
                other => {
                    unknown = true;
                    self.report(
                        ctx,
                        format!(
                            "spec.policyTypes[{i}]: unknown type {other:?}; the policy \
                             isolates both Ingress and Egress"
                        ),
                    );
                }
            }
        }
        if unknown {
            (true, true)
        } else {
            (ingress, egress)
        }
    }

    /// Compiles one direction's rules; returns the indices of those kept.
    fn add_rules(
        &mut self,
        ctx: Ctx,
        dir: &str,
        peers_field: &str,
        rules: impl Iterator<
            Item = (
                Option<&'a [NetworkPolicyPeer]>,
                Option<&'a [NetworkPolicyPort]>,
            ),
        >,
    ) -> Vec<usize> {
        let mut ids = Vec::new();
        for (i, (peers, ports)) in rules.enumerate() {
            let at = format!("spec.{dir}[{i}]");
            let peers = self.add_peers(ctx, &at, peers_field, ctx.namespace, peers);
            let ports = self.add_ports(ctx, &at, ports);
            match (peers, ports) {
                (Some(peers), Some(ports)) => {
                    ids.push(self.rules.len());
                    self.rules.push(Rule { peers, ports });
                }
                (None, _) => self.report(
                    ctx,
                    format!("{at}: no usable peer left; rule skipped (it allows nothing)"),
                ),
                (_, None) => self.report(
                    ctx,
                    format!("{at}: no usable port left; rule skipped (it allows nothing)"),
                ),
            }
        }
        ids
    }

    /// `Some(None)`: any peer. `None`: peers were listed but none is usable, so the rule
    /// must go (an empty list would mean "any").
    fn add_peers(
        &mut self,
        ctx: Ctx,
        at: &str,
        field: &str,
        namespace: &str,
        peers: Option<&[NetworkPolicyPeer]>,
    ) -> Option<Option<Peers>> {
        let peers = match peers {
            None | Some([]) => return Some(None),
            Some(list) => list,
        };
        let mut out = Peers::default();
        let mut usable = false;
        for (j, peer) in peers.iter().enumerate() {
            match self.peer(namespace, peer, &mut out) {
                Ok(()) => usable = true,
                Err(why) => self.report(ctx, format!("{at}.{field}[{j}]: {why}; peer skipped")),
            }
        }
        usable.then_some(Some(out))
    }

    /// Adds one peer to `out`, or leaves `out` untouched and says why it cannot.
    fn peer(
        &self,
        namespace: &str,
        peer: &NetworkPolicyPeer,
        out: &mut Peers,
    ) -> Result<(), String> {
        match (&peer.ip_block, &peer.namespace_selector, &peer.pod_selector) {
            (Some(block), None, None) => {
                out.blocks.push(ip_block(block)?);
                Ok(())
            }
            (Some(_), _, _) => {
                Err("ipBlock cannot be combined with namespaceSelector or podSelector".into())
            }
            (None, None, None) => {
                Err("sets none of ipBlock, namespaceSelector, podSelector".into())
            }
            (None, namespaces, pods) => {
                let pod_sel =
                    Selector::parse(pods.as_ref()).map_err(|e| format!("podSelector: {e}"))?;
                let ns_sel = match namespaces {
                    None => None,
                    Some(s) => Some(
                        Selector::parse(Some(s)).map_err(|e| format!("namespaceSelector: {e}"))?,
                    ),
                };
                for (i, pod) in self.pods.iter().enumerate() {
                    let ns_ok = match &ns_sel {
                        None => pod.namespace == namespace,
                        Some(sel) => self.ns_labels.get(pod.ns).is_some_and(|l| sel.matches(l)),
                    };
                    if ns_ok && pod_sel.matches(pod.labels) {
                        out.pods.insert(i);
                    }
                }
                Ok(())
            }
        }
    }

    /// `Some(None)`: any protocol and port. `None`: ports were listed but none is usable.
    fn add_ports(
        &mut self,
        ctx: Ctx,
        at: &str,
        ports: Option<&'a [NetworkPolicyPort]>,
    ) -> Option<Option<Vec<PortMatch>>> {
        let ports = match ports {
            None | Some([]) => return Some(None),
            Some(list) => list,
        };
        let mut out = Vec::new();
        for (j, port) in ports.iter().enumerate() {
            match self.port(port) {
                Ok(m) => out.push(m),
                Err(why) => self.report(ctx, format!("{at}.ports[{j}]: {why}; port skipped")),
            }
        }
        (!out.is_empty()).then_some(Some(out))
    }

    fn port(&mut self, port: &'a NetworkPolicyPort) -> Result<PortMatch, String> {
        let proto = protocol(port.protocol.as_deref())?;
        match (&port.port, port.end_port) {
            (None, None) => Ok(PortMatch::Range {
                proto,
                first: 0,
                last: u16::MAX,
            }),
            (None, Some(_)) => Err("endPort without port".into()),
            (Some(IntOrString::Int(n)), end) => {
                let first = port_number(*n)?;
                let last = match end {
                    None => first,
                    Some(e) => port_number(e).map_err(|why| format!("endPort: {why}"))?,
                };
                if last < first {
                    return Err(format!("endPort {last} is below port {first}"));
                }
                Ok(PortMatch::Range { proto, first, last })
            }
            (Some(IntOrString::String(_)), Some(_)) => {
                Err("endPort cannot go with a named port".into())
            }
            (Some(IntOrString::String(name)), None) if name.is_empty() => {
                Err("empty port name".into())
            }
            (Some(IntOrString::String(name)), None) => Ok(PortMatch::Named {
                proto,
                name: self.port_name(name),
            }),
        }
    }
}

/// TCP unless named; Kubernetes spells protocols in capitals.
fn protocol(name: Option<&str>) -> Result<u8, String> {
    match name {
        None | Some("TCP") => Ok(TCP),
        Some("UDP") => Ok(UDP),
        Some("SCTP") => Ok(SCTP),
        Some(other) => Err(format!("unknown protocol {other:?}")),
    }
}

fn port_number(n: i32) -> Result<u16, String> {
    match u16::try_from(n) {
        Ok(p) if p != 0 => Ok(p),
        _ => Err(format!("port {n} is not in 1-65535")),
    }
}

fn ip_block(block: &IPBlock) -> Result<Block, String> {
    let cidr = parse_cidr(&block.cidr).map_err(|e| format!("ipBlock.cidr: {e}"))?;
    let mut except = Vec::new();
    for (k, e) in block.except.iter().flatten().enumerate() {
        let net = parse_cidr(e).map_err(|why| format!("ipBlock.except[{k}]: {why}"))?;
        // Strictly inside, as the API server validates; an except we cannot honour
        // would widen the block, so the whole peer goes.
        if !cidr.contains(&net) || net.prefix_len() <= cidr.prefix_len() {
            return Err(format!(
                "ipBlock.except[{k}]: {e:?} is not strictly inside cidr {:?}",
                block.cidr
            ));
        }
        except.push(net);
    }
    Ok(Block { cidr, except })
}

/// Host bits are cleared, as Go's ParseCIDR does.
fn parse_cidr(s: &str) -> Result<IpNet, String> {
    s.parse::<IpNet>()
        .map(|n| n.trunc())
        .map_err(|_| format!("{s:?} is not a CIDR"))
}

/// A parsed label selector: matchLabels and matchExpressions, all of which must hold.
#[derive(Default)]
struct Selector<'s> {
    labels: Vec<(&'s str, &'s str)>,
    requirements: Vec<Requirement<'s>>,
}

enum Requirement<'s> {
    In(&'s str, &'s [String]),
    NotIn(&'s str, &'s [String]),
    Exists(&'s str),
    DoesNotExist(&'s str),
}

impl<'s> Selector<'s> {
    /// `None` is the empty selector, which matches everything. Operators and their
    /// values are checked as the API server checks them.
    fn parse(sel: Option<&'s LabelSelector>) -> Result<Self, String> {
        let Some(sel) = sel else {
            return Ok(Selector::default());
        };
        let labels = sel
            .match_labels
            .iter()
            .flatten()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let mut requirements = Vec::new();
        for (i, e) in sel.match_expressions.iter().flatten().enumerate() {
            let key = e.key.as_str();
            let values = e.values.as_deref().unwrap_or(&[]);
            let r = match (e.operator.as_str(), values.is_empty()) {
                ("In", false) => Requirement::In(key, values),
                ("NotIn", false) => Requirement::NotIn(key, values),
                ("Exists", true) => Requirement::Exists(key),
                ("DoesNotExist", true) => Requirement::DoesNotExist(key),
                ("In" | "NotIn", true) => {
                    return Err(format!(
                        "matchExpressions[{i}]: {} needs values",
                        e.operator
                    ))
                }
                ("Exists" | "DoesNotExist", false) => {
                    return Err(format!(
                        "matchExpressions[{i}]: {} takes no values",
                        e.operator
                    ))
                }
                (op, _) => return Err(format!("matchExpressions[{i}]: unknown operator {op:?}")),
            };
            requirements.push(r);
        }
        Ok(Selector {
            labels,
            requirements,
        })
    }

    fn matches(&self, labels: &Labels) -> bool {
        let has = |k: &str, v: &str| labels.get(k).is_some_and(|l| l == v);
        self.labels.iter().all(|&(k, v)| has(k, v))
            && self.requirements.iter().all(|r| match *r {
                Requirement::In(k, vs) => labels.get(k).is_some_and(|l| vs.contains(l)),
                Requirement::NotIn(k, vs) => labels.get(k).is_none_or(|l| !vs.contains(l)),
                Requirement::Exists(k) => labels.contains_key(k),
                Requirement::DoesNotExist(k) => !labels.contains_key(k),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};
    use std::net::{Ipv4Addr, Ipv6Addr};

    const PODS: [&str; 9] = [
        "x/a", "x/b", "x/c", "y/a", "y/b", "y/c", "z/a", "z/b", "z/c",
    ];
    const ICMP: u8 = 1;

    type Matrix = [[bool; 9]; 9];

    /// Pod `i` of `PODS`: x=1, y=2, z=3 and a=1, b=2, c=3 give 10.0.ns.pod and fd00::ns:pod.
    fn ip(i: usize, v6: bool) -> IpAddr {
        let (n, p) = (i as u16 / 3 + 1, i as u16 % 3 + 1);
        match v6 {
            false => IpAddr::V4(Ipv4Addr::new(10, 0, n as u8, p as u8)),
            true => IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, n, p)),
        }
    }

    fn v4(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn namespace(name: &str, labels: Value) -> Namespace {
        serde_json::from_value(json!({"metadata": {"name": name, "labels": labels}})).unwrap()
    }

    /// A pod serving ports 80 and 81 on TCP, UDP and SCTP from two containers, named like
    /// the Kubernetes e2e pods ("serve-80-tcp").
    fn pod(ns: &str, name: &str, ips: &[IpAddr]) -> Pod {
        let ports = |n: u16| {
            json!([
                {"name": format!("serve-{n}-tcp"), "containerPort": n},
                {"name": format!("serve-{n}-udp"), "containerPort": n, "protocol": "UDP"},
                {"name": format!("serve-{n}-sctp"), "containerPort": n, "protocol": "SCTP"},
            ])
        };
        let ips: Vec<Value> = ips.iter().map(|ip| json!({"ip": ip.to_string()})).collect();
        serde_json::from_value(json!({
            "metadata": {"namespace": ns, "name": name, "labels": {"pod": name}},
            "spec": {"containers": [
                {"name": "cont-80", "ports": ports(80)},
                {"name": "cont-81", "ports": ports(81)},
            ]},
            "status": {"phase": "Running", "podIPs": ips},
        }))
        .unwrap()
    }

    fn policy(ns: &str, name: &str, spec: Value) -> NetworkPolicy {
        serde_json::from_value(json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"namespace": ns, "name": name},
            "spec": spec,
        }))
        .unwrap()
    }

    /// Namespaces x, y, z labelled ns=<name> (z also restricted=true; none carries the
    /// name label, which compile adds), each with pods a, b, c labelled pod=<name>.
    fn cluster() -> (Vec<Namespace>, Vec<Pod>) {
        let namespaces = vec![
            namespace("x", json!({"ns": "x"})),
            namespace("y", json!({"ns": "y"})),
            namespace("z", json!({"ns": "z", "restricted": "true"})),
        ];
        let pods = PODS
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let (ns, name) = p.split_once('/').unwrap();
                pod(ns, name, &[ip(i, false), ip(i, true)])
            })
            .collect();
        (namespaces, pods)
    }

    /// Compiles against the standard cluster, expecting no problems.
    fn compiled(policies: &[NetworkPolicy]) -> Compiled {
        let (namespaces, pods) = cluster();
        let (c, problems) = compile(policies, &namespaces, &pods);
        assert!(problems.is_empty(), "unexpected problems: {problems:#?}");
        c
    }

    fn observe(c: &Compiled, v6: bool, proto: u8, port: u16) -> Matrix {
        let mut m = [[false; 9]; 9];
        for (from, row) in m.iter_mut().enumerate() {
            for (to, cell) in row.iter_mut().enumerate() {
                *cell = c.verdict(proto, ip(from, v6), ip(to, v6), port) == Verdict::Allow;
            }
        }
        m
    }

    fn pattern_matches(pattern: &str, pod: &str) -> bool {
        if pattern == "*" {
            return true;
        }
        let (pn, pp) = pattern.split_once('/').unwrap();
        let (n, p) = pod.split_once('/').unwrap();
        (pn == "*" || pn == n) && (pp == "*" || pp == p)
    }

    /// Builds a matrix from clauses applied in order, e.g. "*->*; !*->x/a; y/*->x/a":
    /// `FROM->TO` allows, `!FROM->TO` denies; patterns are `ns/pod` with `*` for either
    /// part, or `*` for all. Everything starts denied; a pod always reaches itself.
    fn expect(desc: &str) -> Matrix {
        let mut m = [[false; 9]; 9];
        for clause in desc.split(';').map(str::trim).filter(|c| !c.is_empty()) {
            let (allow, clause) = match clause.strip_prefix('!') {
                Some(rest) => (false, rest),
                None => (true, clause),
            };
            let (from, to) = clause.split_once("->").expect("clause is FROM->TO");
            for (i, src) in PODS.iter().enumerate() {
                for (j, dst) in PODS.iter().enumerate() {
                    if pattern_matches(from.trim(), src) && pattern_matches(to.trim(), dst) {
                        m[i][j] = allow;
                    }
                }
            }
        }
        for (i, row) in m.iter_mut().enumerate() {
            row[i] = true;
        }
        m
    }

    fn render(m: &Matrix) -> String {
        let mut s = String::from("from\\to");
        for p in PODS {
            s += &format!(" {p}");
        }
        for (i, row) in m.iter().enumerate() {
            s += &format!("\n{:7}", PODS[i]);
            for &allowed in row {
                s += if allowed { "  . " } else { "  X " };
            }
        }
        s
    }

    fn check_family(c: &Compiled, v6: bool, proto: u8, port: u16, desc: &str) {
        let want = expect(desc);
        let got = observe(c, v6, proto, port);
        let family = if v6 { "IPv6" } else { "IPv4" };
        assert!(
            want == got,
            "proto {proto} port {port} {family}: \"{desc}\"\nexpected (. allowed, X denied):\n{}\nobserved:\n{}",
            render(&want),
            render(&got)
        );
    }

    /// Checks the matrix over IPv4 and IPv6: both addresses index the same pod.
    fn check(c: &Compiled, proto: u8, port: u16, desc: &str) {
        check_family(c, false, proto, port, desc);
        check_family(c, true, proto, port, desc);
    }

    fn deny_all_ingress(ns: &str) -> NetworkPolicy {
        policy(
            ns,
            "deny-all",
            json!({"podSelector": {}, "policyTypes": ["Ingress"]}),
        )
    }

    /// A policy on x/a allowing ingress by the given rules.
    fn ingress_to_xa(rules: Value) -> NetworkPolicy {
        policy(
            "x",
            "allow-to-a",
            json!({"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": rules}),
        )
    }

    #[test]
    fn no_policy_allows_everything() {
        let c = compiled(&[]);
        check(&c, TCP, 80, "*->*");
        check(&c, ICMP, 0, "*->*");
    }

    #[test]
    fn default_deny_ingress() {
        let c = compiled(&[deny_all_ingress("x")]);
        check(&c, TCP, 80, "*->*; !*->x/*");
        check(&c, UDP, 81, "*->*; !*->x/*");
        check(&c, ICMP, 0, "*->*; !*->x/*");
    }

    #[test]
    fn default_deny_egress() {
        let c = compiled(&[policy(
            "x",
            "deny-egress",
            json!({"podSelector": {}, "policyTypes": ["Egress"]}),
        )]);
        check(&c, TCP, 80, "*->*; !x/*->*");
        check(&c, SCTP, 80, "*->*; !x/*->*");
    }

    #[test]
    fn allow_all_ingress_overrides_deny() {
        let c = compiled(&[
            deny_all_ingress("x"),
            policy(
                "x",
                "allow-all",
                json!({"podSelector": {}, "ingress": [{}]}),
            ),
        ]);
        check(&c, TCP, 80, "*->*");
        // An empty `from` list is also "all sources".
        let c = compiled(&[
            deny_all_ingress("x"),
            policy(
                "x",
                "allow-all",
                json!({"podSelector": {}, "ingress": [{"from": []}]}),
            ),
        ]);
        check(&c, TCP, 81, "*->*");
    }

    #[test]
    fn pod_selector_peer() {
        let c = compiled(&[ingress_to_xa(
            json!([{"from": [{"podSelector": {"matchLabels": {"pod": "b"}}}]}]),
        )]);
        check(&c, TCP, 80, "*->*; !*->x/a; x/b->x/a");
    }

    #[test]
    fn namespace_selector_peer() {
        let c = compiled(&[ingress_to_xa(
            json!([{"from": [{"namespaceSelector": {"matchLabels": {"ns": "y"}}}]}]),
        )]);
        check(&c, TCP, 80, "*->*; !*->x/a; y/*->x/a");
    }

    #[test]
    fn namespace_and_pod_selector_in_one_peer_or_two() {
        let both = json!({"namespaceSelector": {"matchLabels": {"ns": "y"}},
                          "podSelector": {"matchLabels": {"pod": "b"}}});
        let c = compiled(&[ingress_to_xa(json!([{"from": [both]}]))]);
        check(&c, TCP, 80, "*->*; !*->x/a; y/b->x/a");

        let either = json!([{"namespaceSelector": {"matchLabels": {"ns": "y"}}},
                            {"podSelector": {"matchLabels": {"pod": "b"}}}]);
        let c = compiled(&[ingress_to_xa(json!([{"from": either}]))]);
        check(&c, TCP, 80, "*->*; !*->x/a; y/*->x/a; x/b->x/a");
    }

    #[test]
    fn namespace_selector_match_expressions() {
        // The name label is not in the input: compile supplies it.
        let not_in = json!({"matchExpressions": [
            {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["y"]}]});
        let c = compiled(&[ingress_to_xa(
            json!([{"from": [{"namespaceSelector": not_in}]}]),
        )]);
        check(&c, TCP, 80, "*->*; !*->x/a; x/*->x/a; z/*->x/a");

        let missing =
            json!({"matchExpressions": [{"key": "restricted", "operator": "DoesNotExist"}]});
        let c = compiled(&[ingress_to_xa(
            json!([{"from": [{"namespaceSelector": missing}]}]),
        )]);
        check(&c, TCP, 80, "*->*; !*->x/a; x/*->x/a; y/*->x/a");
    }

    #[test]
    fn pod_selector_match_expressions() {
        // In, across all namespaces.
        let peer = json!({"namespaceSelector": {}, "podSelector": {"matchExpressions": [
            {"key": "pod", "operator": "In", "values": ["a", "b"]}]}});
        let c = compiled(&[ingress_to_xa(json!([{"from": [peer]}]))]);
        check(&c, TCP, 80, "*->*; !*->x/a; */a->x/a; */b->x/a");

        // Exists, in the policy's namespace; the policy selects its pods with NotIn.
        let c = compiled(&[policy(
            "x",
            "not-a",
            json!({
                "podSelector": {"matchExpressions": [
                    {"key": "pod", "operator": "NotIn", "values": ["a"]}]},
                "ingress": [{"from": [{"podSelector": {"matchExpressions": [
                    {"key": "pod", "operator": "Exists"}]}}]}],
            }),
        )]);
        check(&c, TCP, 80, "*->*; !*->x/b; !*->x/c; x/*->x/b; x/*->x/c");
    }

    #[test]
    fn ip_block_with_except() {
        // x accepts 10.0.0.0/16 but for y's 10.0.2.0/24; IPv6 has no allowed block.
        let c = compiled(&[policy(
            "x",
            "from-block",
            json!({"podSelector": {}, "ingress": [{"from": [{"ipBlock":
                {"cidr": "10.0.0.0/16", "except": ["10.0.2.0/24"]}}]}]}),
        )]);
        check_family(&c, false, TCP, 80, "*->*; !*->x/*; x/*->x/*; z/*->x/*");
        check_family(&c, true, TCP, 80, "*->*; !*->x/*");
        // Addresses that are not pods match too.
        assert_eq!(
            c.verdict(TCP, v4("10.0.9.9"), ip(0, false), 80),
            Verdict::Allow
        );
        assert!(matches!(
            c.verdict(TCP, v4("10.1.0.1"), ip(0, false), 80),
            Verdict::Deny { .. }
        ));
    }

    #[test]
    fn ipv6_ip_block() {
        // fd00::2:0/112 is namespace y's IPv6 pods; the IPv4 side allows nothing.
        let c = compiled(&[policy(
            "x",
            "from-v6",
            json!({"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "fd00::2:0/112"}}]}]}),
        )]);
        check_family(&c, true, TCP, 80, "*->*; !*->x/*; y/*->x/*");
        check_family(&c, false, TCP, 80, "*->*; !*->x/*");
    }

    #[test]
    fn numbered_port() {
        let c = compiled(&[ingress_to_xa(json!([{"ports": [{"port": 80}]}]))]);
        check(&c, TCP, 80, "*->*");
        check(&c, TCP, 81, "*->*; !*->x/a");
        check(&c, UDP, 80, "*->*; !*->x/a");
    }

    #[test]
    fn named_port() {
        let c = compiled(&[ingress_to_xa(
            json!([{"ports": [{"port": "serve-81-tcp"}]}]),
        )]);
        check(&c, TCP, 81, "*->*");
        check(&c, TCP, 80, "*->*; !*->x/a");

        let c = compiled(&[ingress_to_xa(
            json!([{"ports": [{"port": "serve-81-udp", "protocol": "UDP"}]}]),
        )]);
        check(&c, UDP, 81, "*->*");
        check(&c, TCP, 81, "*->*; !*->x/a");

        // Name and protocol must both match: serve-81-udp is not a TCP port.
        let c = compiled(&[ingress_to_xa(
            json!([{"ports": [{"port": "serve-81-udp"}]}]),
        )]);
        check(&c, TCP, 81, "*->*; !*->x/a");
        check(&c, UDP, 81, "*->*; !*->x/a");
    }

    #[test]
    fn end_port_range() {
        let c = compiled(&[ingress_to_xa(
            json!([{"ports": [{"port": 80, "endPort": 81}]}]),
        )]);
        check(&c, TCP, 80, "*->*");
        check(&c, TCP, 81, "*->*");
        check(&c, TCP, 82, "*->*; !*->x/a");

        let c = compiled(&[ingress_to_xa(
            json!([{"ports": [{"port": 81, "endPort": 90}]}]),
        )]);
        check(&c, TCP, 80, "*->*; !*->x/a");
        check(&c, TCP, 90, "*->*");
    }

    #[test]
    fn udp_versus_tcp() {
        let c = compiled(&[ingress_to_xa(
            json!([{"ports": [{"protocol": "UDP", "port": 80}]}]),
        )]);
        check(&c, UDP, 80, "*->*");
        check(&c, TCP, 80, "*->*; !*->x/a");
        // A protocol without a port is every port of it.
        let c = compiled(&[ingress_to_xa(json!([{"ports": [{"protocol": "UDP"}]}]))]);
        check(&c, UDP, 5353, "*->*");
        check(&c, TCP, 80, "*->*; !*->x/a");
    }

    #[test]
    fn sctp() {
        let c = compiled(&[ingress_to_xa(
            json!([{"ports": [{"protocol": "SCTP", "port": 80}]}]),
        )]);
        check(&c, SCTP, 80, "*->*");
        check(&c, SCTP, 81, "*->*; !*->x/a");
        check(&c, TCP, 80, "*->*; !*->x/a");
        check(&c, UDP, 80, "*->*; !*->x/a");
    }

    #[test]
    fn two_policies_are_a_union() {
        let c = compiled(&[
            ingress_to_xa(json!([{"from": [{"podSelector": {"matchLabels": {"pod": "b"}}}]}])),
            policy(
                "x",
                "y-on-81",
                json!({"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{
                    "from": [{"namespaceSelector": {"matchLabels": {"ns": "y"}}}],
                    "ports": [{"port": 81}]}]}),
            ),
        ]);
        check(&c, TCP, 80, "*->*; !*->x/a; x/b->x/a");
        check(&c, TCP, 81, "*->*; !*->x/a; x/b->x/a; y/*->x/a");
    }

    #[test]
    fn egress_with_port() {
        let c = compiled(&[policy(
            "x",
            "a-out-80",
            json!({"podSelector": {"matchLabels": {"pod": "a"}}, "policyTypes": ["Egress"],
                   "egress": [{"ports": [{"port": 80}]}]}),
        )]);
        check(&c, TCP, 80, "*->*");
        check(&c, TCP, 81, "*->*; !x/a->*");
    }

    #[test]
    fn egress_named_port_resolves_on_the_destination() {
        let c = compiled(&[policy(
            "x",
            "a-out-named",
            json!({"podSelector": {"matchLabels": {"pod": "a"}}, "policyTypes": ["Egress"],
                   "egress": [{"ports": [{"port": "serve-81-tcp"}]}]}),
        )]);
        check(&c, TCP, 81, "*->*");
        check(&c, TCP, 80, "*->*; !x/a->*");
        // A destination that is not a pod has no named ports.
        assert!(matches!(
            c.verdict(TCP, ip(0, false), v4("192.0.2.1"), 81),
            Verdict::Deny { .. }
        ));
    }

    #[test]
    fn egress_to_ip_block() {
        let c = compiled(&[policy(
            "x",
            "a-to-z",
            json!({"podSelector": {"matchLabels": {"pod": "a"}}, "policyTypes": ["Egress"],
                   "egress": [{"to": [{"ipBlock": {"cidr": "10.0.3.0/24"}}]}]}),
        )]);
        check_family(&c, false, TCP, 80, "*->*; !x/a->*; x/a->z/*");
        check_family(&c, true, TCP, 80, "*->*; !x/a->*");
    }

    #[test]
    fn egress_only_policy_ignores_its_ingress_rules() {
        // policyTypes [Egress] without egress rules denies all egress; the ingress
        // section does not isolate x/a for ingress.
        let c = compiled(&[policy(
            "x",
            "egress-only",
            json!({"podSelector": {"matchLabels": {"pod": "a"}}, "policyTypes": ["Egress"],
                   "ingress": [{"from": [{"podSelector": {"matchLabels": {"pod": "b"}}}]}]}),
        )]);
        check(&c, TCP, 80, "*->*; !x/a->*");
    }

    #[test]
    fn unset_policy_types_with_egress_rules_isolate_both() {
        let c = compiled(&[policy(
            "x",
            "a-to-b",
            json!({"podSelector": {"matchLabels": {"pod": "a"}},
                   "egress": [{"to": [{"podSelector": {"matchLabels": {"pod": "b"}}}]}]}),
        )]);
        check(&c, TCP, 80, "*->*; !*->x/a; !x/a->*; x/a->x/b");
    }

    #[test]
    fn both_ends_must_allow() {
        let c = compiled(&[
            policy(
                "x",
                "out-to-y",
                json!({"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": [
                    {"namespaceSelector": {"matchLabels": {"ns": "y"}}}]}]}),
            ),
            policy(
                "y",
                "b-from-xa",
                json!({"podSelector": {"matchLabels": {"pod": "b"}}, "ingress": [{"from": [
                    {"namespaceSelector": {"matchLabels": {"ns": "x"}},
                     "podSelector": {"matchLabels": {"pod": "a"}}}]}]}),
            ),
        ]);
        check(&c, TCP, 80, "*->*; !x/*->*; x/*->y/*; !*->y/b; x/a->y/b");
    }

    #[test]
    fn policy_selecting_nothing() {
        let c = compiled(&[policy(
            "x",
            "nobody",
            json!({"podSelector": {"matchLabels": {"pod": "nobody"}}, "policyTypes": ["Ingress", "Egress"]}),
        )]);
        check(&c, TCP, 80, "*->*");
    }

    #[test]
    fn invalid_cidr_is_reported_and_the_rest_applies() {
        let (namespaces, pods) = cluster();
        let policies = [
            deny_all_ingress("x"),
            policy(
                "x",
                "bad-cidr",
                json!({"podSelector": {}, "ingress": [{"from": [
                    {"ipBlock": {"cidr": "10.0.2.0/33"}},
                    {"podSelector": {"matchLabels": {"pod": "b"}}}]}]}),
            ),
            deny_all_ingress("y"),
        ];
        let (c, problems) = compile(&policies, &namespaces, &pods);
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert_eq!(
            (problems[0].namespace.as_str(), problems[0].name.as_str()),
            ("x", "bad-cidr")
        );
        assert!(
            problems[0]
                .why
                .starts_with("spec.ingress[0].from[0]: ipBlock.cidr"),
            "{}",
            problems[0].why
        );
        check(&c, TCP, 80, "*->*; !*->x/*; x/b->x/*; !*->y/*");
    }

    #[test]
    fn a_rule_whose_only_peer_is_bad_allows_nothing() {
        let (namespaces, pods) = cluster();
        let policies = [ingress_to_xa(
            json!([{"from": [{"ipBlock": {"cidr": "nonsense"}}]}]),
        )];
        let (c, problems) = compile(&policies, &namespaces, &pods);
        assert_eq!(problems.len(), 2, "{problems:#?}"); // the peer, then the rule
        check(&c, TCP, 80, "*->*; !*->x/a");
    }

    #[test]
    fn icmp_only_matches_rules_without_ports() {
        let c = compiled(&[
            ingress_to_xa(json!([{"ports": [{"port": 80}]}])),
            policy(
                "x",
                "y-anything",
                json!({"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{"from": [
                    {"namespaceSelector": {"matchLabels": {"ns": "y"}}}]}]}),
            ),
        ]);
        check(&c, ICMP, 0, "*->*; !*->x/a; y/*->x/a");
        check(&c, 58, 0, "*->*; !*->x/a; y/*->x/a"); // ICMPv6
        check(&c, TCP, 80, "*->*");
    }

    #[test]
    fn deny_names_the_side_and_pod() {
        let c = compiled(&[
            policy(
                "x",
                "deny-egress",
                json!({"podSelector": {}, "policyTypes": ["Egress"]}),
            ),
            deny_all_ingress("y"),
        ]);
        // Both ends refuse: egress is checked first.
        let Verdict::Deny { by } = c.verdict(TCP, ip(0, false), ip(4, false), 80) else {
            panic!("allowed");
        };
        assert_eq!(by.to_string(), "egress of x/a");
        let Verdict::Deny { by } = c.verdict(TCP, ip(8, true), ip(4, true), 80) else {
            panic!("allowed");
        };
        assert_eq!(by.to_string(), "ingress of y/b");
        assert_eq!(by.direction, Direction::Ingress);
    }

    #[test]
    fn addresses_that_are_not_pods_have_no_policy() {
        let c = compiled(&[
            deny_all_ingress("x"),
            policy(
                "y",
                "deny-egress",
                json!({"podSelector": {}, "policyTypes": ["Egress"]}),
            ),
            policy(
                "z",
                "out-to-world",
                json!({"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": [
                    {"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}}]}]}),
            ),
        ]);
        let outside = v4("203.0.113.7");
        assert!(matches!(
            c.verdict(TCP, outside, ip(0, false), 80),
            Verdict::Deny { .. }
        ));
        assert_eq!(c.verdict(TCP, outside, ip(3, false), 80), Verdict::Allow);
        assert!(matches!(
            c.verdict(UDP, ip(3, false), outside, 53),
            Verdict::Deny { .. }
        ));
        assert_eq!(c.verdict(UDP, ip(6, false), outside, 53), Verdict::Allow);
        assert!(matches!(
            c.verdict(TCP, ip(6, false), ip(3, false), 80),
            Verdict::Deny { .. }
        ));
        assert_eq!(
            c.verdict(TCP, outside, v4("198.51.100.1"), 80),
            Verdict::Allow
        );
    }

    #[test]
    fn host_network_and_finished_pods_are_not_pods() {
        let (namespaces, mut pods) = cluster();
        let node = v4("192.168.0.10");
        let mut host = pod("x", "host", &[node]);
        host.spec.as_mut().unwrap().host_network = Some(true);
        host.metadata.labels = Some(Labels::from([("pod".into(), "b".into())]));
        pods.push(host);
        // A finished pod still listing x/c's address, labelled like x/b.
        let mut done = pod("x", "done", &[ip(2, false)]);
        done.metadata.labels = Some(Labels::from([("pod".into(), "b".into())]));
        done.status.as_mut().unwrap().phase = Some("Succeeded".into());
        pods.insert(0, done);
        let policies = [
            ingress_to_xa(json!([{"from": [{"podSelector": {"matchLabels": {"pod": "b"}}}]}])),
            policy(
                "x",
                "deny-egress",
                json!({"podSelector": {}, "policyTypes": ["Egress"]}),
            ),
        ];
        let (c, problems) = compile(&policies, &namespaces, &pods);
        assert!(problems.is_empty());
        // The hostNetwork pod's label does not make the node's address pod=b, and the
        // namespace's egress policy does not isolate it.
        assert!(matches!(
            c.verdict(TCP, node, ip(0, false), 80),
            Verdict::Deny { .. }
        ));
        assert_eq!(c.verdict(TCP, node, ip(3, false), 80), Verdict::Allow);
        // x/c keeps its address and its own labels.
        let Verdict::Deny { by } = c.verdict(TCP, ip(2, false), ip(3, false), 80) else {
            panic!("allowed");
        };
        assert_eq!(by.pod, "x/c");
    }

    #[test]
    fn named_ports_differ_per_pod() {
        let (namespaces, mut pods) = cluster();
        let web = |port: u16| json!([{"name": "web", "containerPort": port}]);
        for (p, port) in [(0, 8080), (1, 9090)] {
            let spec = pods[p].spec.as_mut().unwrap();
            spec.containers[0].ports = serde_json::from_value(web(port)).unwrap();
        }
        let policies = [policy(
            "z",
            "a-to-web",
            json!({"podSelector": {"matchLabels": {"pod": "a"}}, "policyTypes": ["Egress"],
                   "egress": [{"ports": [{"port": "web"}]}]}),
        )];
        let (c, problems) = compile(&policies, &namespaces, &pods);
        assert!(problems.is_empty());
        let za = ip(6, false);
        assert_eq!(c.verdict(TCP, za, ip(0, false), 8080), Verdict::Allow);
        assert!(matches!(
            c.verdict(TCP, za, ip(0, false), 9090),
            Verdict::Deny { .. }
        ));
        assert_eq!(c.verdict(TCP, za, ip(1, false), 9090), Verdict::Allow);
        assert!(matches!(
            c.verdict(TCP, za, ip(2, false), 8080),
            Verdict::Deny { .. }
        ));
    }

    #[test]
    fn namespaces_missing_from_the_input_still_have_their_name_label() {
        let (_, mut pods) = cluster();
        pods.push(pod("w", "a", &[v4("10.0.4.1")]));
        let policies = [ingress_to_xa(
            json!([{"from": [{"namespaceSelector": {"matchLabels":
            {"kubernetes.io/metadata.name": "w"}}}]}]),
        )];
        let (c, problems) = compile(&policies, &[], &pods);
        assert!(problems.is_empty());
        assert_eq!(
            c.verdict(TCP, v4("10.0.4.1"), ip(0, false), 80),
            Verdict::Allow
        );
        assert!(matches!(
            c.verdict(TCP, ip(1, false), ip(0, false), 80),
            Verdict::Deny { .. }
        ));
    }

    /// Every bad part is reported with its field path and skipped; nothing widens.
    #[test]
    fn bad_parts_are_reported_and_never_widen() {
        let (namespaces, pods) = cluster();
        let by_b = json!({"podSelector": {"matchLabels": {"pod": "b"}}});
        let policies = [
            // Each rule has one good port (80) after one bad entry.
            ingress_to_xa(json!([
                {"from": [by_b], "ports": [{"port": 81, "endPort": 80}, {"port": 80}]},
                {"from": [by_b], "ports": [{"port": "serve-81-tcp", "endPort": 90}, {"port": 80}]},
                {"from": [by_b], "ports": [{"port": 81, "protocol": "tcp"}, {"port": 80}]},
                {"from": [by_b], "ports": [{"endPort": 81}, {"port": 80}]},
                {"from": [by_b], "ports": [{"port": 0}, {"port": 70000}, {"port": 80}]},
                // Bad peers: except outside cidr, ipBlock with a selector, empty peer,
                // unknown operator; the y/c peer stays.
                {"from": [
                    {"ipBlock": {"cidr": "10.0.0.0/16", "except": ["10.1.0.0/24"]}},
                    {"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": {}},
                    {},
                    {"podSelector": {"matchExpressions": [{"key": "pod", "operator": "Near"}]}},
                    {"namespaceSelector": {"matchLabels": {"ns": "y"}}, "podSelector": {"matchLabels": {"pod": "c"}}},
                ]},
                // Nothing usable in ports: the rule goes instead of allowing every port.
                {"ports": [{"port": 80, "protocol": "ICMP"}]},
            ])),
            // A bad podSelector isolates all of y with no rules.
            policy(
                "y",
                "bad-selector",
                json!({"podSelector": {"matchExpressions": [{"key": "pod", "operator": "In"}]},
                       "ingress": [{}]}),
            ),
            // An unknown policy type isolates both directions.
            policy(
                "z",
                "bad-type",
                json!({"podSelector": {"matchLabels": {"pod": "a"}}, "policyTypes": ["Ingres"],
                       "ingress": [{"from": [{"podSelector": {}}]}]}),
            ),
        ];
        let (c, problems) = compile(&policies, &namespaces, &pods);
        let whys: Vec<&str> = problems.iter().map(|p| p.why.as_str()).collect();
        assert_eq!(problems.len(), 14, "{whys:#?}");
        for (needle, at) in [
            ("endPort 80 is below port 81", "spec.ingress[0].ports[0]"),
            (
                "endPort cannot go with a named port",
                "spec.ingress[1].ports[0]",
            ),
            ("unknown protocol \"tcp\"", "spec.ingress[2].ports[0]"),
            ("endPort without port", "spec.ingress[3].ports[0]"),
            ("port 0 is not in 1-65535", "spec.ingress[4].ports[0]"),
            ("port 70000 is not in 1-65535", "spec.ingress[4].ports[1]"),
            ("not strictly inside", "spec.ingress[5].from[0]"),
            ("cannot be combined", "spec.ingress[5].from[1]"),
            ("sets none of", "spec.ingress[5].from[2]"),
            ("unknown operator \"Near\"", "spec.ingress[5].from[3]"),
            ("unknown protocol \"ICMP\"", "spec.ingress[6].ports[0]"),
            ("no usable port left", "spec.ingress[6]"),
            ("In needs values", "spec.podSelector"),
            ("unknown type \"Ingres\"", "spec.policyTypes[0]"),
        ] {
            assert!(
                whys.iter().any(|w| w.starts_with(at) && w.contains(needle)),
                "no problem at {at} saying {needle}: {whys:#?}"
            );
        }
        // x/a: from x/b on port 80 and from y/c; all of y isolated; z/a sends nothing
        // and accepts from z.
        let base = "*->*; !*->x/a; !*->y/*; !z/a->*; !*->z/a; z/*->z/a";
        check(&c, TCP, 80, &format!("{base}; x/b->x/a; y/c->x/a"));
        check(&c, TCP, 81, &format!("{base}; y/c->x/a"));
    }
}
