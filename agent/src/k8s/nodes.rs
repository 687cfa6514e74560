//! The other nodes of the cluster, and the overlay's cluster-wide setting: what the agent
//! needs to reach their pods through tunnels (overlay.rs).
//!
//! A reflector store of all Nodes: every node but this one with an IPv4 InternalIP and
//! pod CIDRs is a [`RemoteNode`]; this node's InternalIP is its fabric address (the
//! tunnels' outer source). A Node that cannot be used is skipped and reported (log and a
//! Warning Event on it); the others go on. A second store holds the one ConfigMap
//! `kube-system/vrouter-overlay`, whose `encapsulation` picks the tunnels' kind; a
//! change re-programs every tunnel nexthop in place. As network.rs does, each watch marks
//! a debounced pass that compiles both stores and hands the result to the agent.

use super::report::{reference, Reports};
use super::{DEBOUNCE, RESYNC};
use crate::api::Shared;
use crate::overlay::{Encapsulation, OverlayView, RemoteNode};
use ipnet::IpNet;
use k8s_openapi::api::core::v1::{ConfigMap, Node};
use kube::runtime::{reflector, watcher, WatchStreamExt};
use kube::{Api, ResourceExt};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tracing::{info, warn};

/// The overlay's settings: ConfigMap `kube-system/vrouter-overlay`.
pub const SETTINGS_NAMESPACE: &str = "kube-system";
pub const SETTINGS_NAME: &str = "vrouter-overlay";
/// Its key: `mpls-over-udp` (the default), `mpls-over-gre` or `vxlan`.
pub const ENCAPSULATION: &str = "encapsulation";
/// How long the first pass waits for the settings' first listing: a cluster that does
/// not let the agent read them still gets its overlay, with the default encapsulation.
const SETTINGS_WAIT: Duration = Duration::from_secs(10);

/// The Nodes compiled: the view for the agent, and what was wrong, by Node name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Compiled {
    pub fabric_ip: Option<Ipv4Addr>,
    pub fabric_ip6: Option<Ipv6Addr>,
    pub remotes: Vec<RemoteNode>,
    pub problems: BTreeMap<String, String>,
}

/// A Node's InternalIPs: the first IPv4 and the first IPv6 one.
fn internal_ips(node: &Node) -> (Option<Ipv4Addr>, Option<Ipv6Addr>) {
    let addrs = node.status.as_ref().and_then(|s| s.addresses.as_ref());
    let internal = addrs
        .into_iter()
        .flatten()
        .filter(|a| a.type_ == "InternalIP")
        .filter_map(|a| a.address.trim().parse::<IpAddr>().ok());
    let (mut v4, mut v6) = (None, None);
    for a in internal {
        match a {
            IpAddr::V4(a) => v4 = v4.or(Some(a)),
            IpAddr::V6(a) => v6 = v6.or(Some(a)),
        }
    }
    (v4, v6)
}

/// A Node's pod prefixes: `spec.podCIDRs`, or the older single `spec.podCIDR`.
fn pod_cidrs(node: &Node) -> Result<Vec<IpNet>, String> {
    let list = super::node::pod_cidr_list(node);
    if list.is_empty() {
        return Err("no podCIDRs (yet)".into());
    }
    list.iter()
        .map(|c| match c.trim().parse::<IpNet>() {
            Ok(n) if n.trunc() == n => Ok(n),
            Ok(n) => Err(format!("podCIDR {n} has host bits set")),
            Err(e) => Err(format!("podCIDR {c:?}: {e}")),
        })
        .collect()
}

fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// The other nodes (by name) and this one's fabric addresses from all Nodes
/// (`self_name` is this node's). A Node without an IPv4 InternalIP or pod CIDRs, at this
/// node's own address, or whose pod CIDRs overlap this node's or an older node's, is
/// skipped and said in `problems` (oldest first: on every node the same one loses).
pub fn compile(nodes: &[Node], self_name: &str) -> Compiled {
    let mut c = Compiled::default();
    let mut nodes: Vec<&Node> = nodes.iter().collect();
    nodes.sort_by_key(|n| (n.creation_timestamp().map(|t| t.0), n.name_any()));
    let me = nodes.iter().find(|n| n.name_any() == self_name);
    let mut taken: Vec<IpNet> = Vec::new();
    match me {
        Some(n) => {
            (c.fabric_ip, c.fabric_ip6) = internal_ips(n);
            if c.fabric_ip.is_none() {
                let why = "no IPv4 InternalIP: this node sends no tunnels (its fabric address)";
                c.problems.insert(self_name.into(), why.into());
            }
            taken.extend(pod_cidrs(n).unwrap_or_default());
        }
        None => {
            let why = "this node's Node object is not in the API";
            c.problems.insert(self_name.into(), why.into());
        }
    }
    for n in nodes.into_iter().filter(|n| n.name_any() != self_name) {
        match remote(n, c.fabric_ip, &taken) {
            Ok(r) => {
                taken.extend(&r.pod_cidrs);
                c.remotes.push(r);
            }
            Err(why) => {
                c.problems.insert(n.name_any(), why);
            }
        }
    }
    c.remotes.sort_by(|a, b| a.name.cmp(&b.name));
    c
}

/// Another node, unless it cannot be used (why not).
fn remote(n: &Node, own_ip: Option<Ipv4Addr>, taken: &[IpNet]) -> Result<RemoteNode, String> {
    let addr = internal_ips(n)
        .0
        .ok_or("no IPv4 InternalIP: no tunnel to it (skipped)")?;
    if Some(addr) == own_ip {
        return Err(format!("its InternalIP {addr} is this node's (skipped)"));
    }
    let pod_cidrs = pod_cidrs(n).map_err(|e| format!("{e}: no routes to its pods (skipped)"))?;
    if let Some((c, t)) = pod_cidrs
        .iter()
        .find_map(|c| taken.iter().find(|t| overlaps(c, t)).map(|t| (c, t)))
    {
        return Err(format!(
            "podCIDR {c} overlaps {t}, of an older node (skipped)"
        ));
    }
    Ok(RemoteNode {
        name: n.name_any(),
        addr,
        pod_cidrs,
    })
}

/// The encapsulation the settings ConfigMap (`cms`: what the store holds) asks for: the
/// default without it or its key; `previous` and why, when its value is unknown.
pub fn encapsulation(
    cms: &[ConfigMap],
    previous: Encapsulation,
) -> (Encapsulation, Option<String>) {
    let value = cms
        .iter()
        .find(|c| c.name_any() == SETTINGS_NAME)
        .and_then(|c| c.data.as_ref())
        .and_then(|d| d.get(ENCAPSULATION));
    match value.map(|v| Encapsulation::parse(v)) {
        None => (Encapsulation::default(), None),
        Some(Ok(e)) => (e, None),
        Some(Err(why)) => (
            previous,
            Some(format!("{why}; keeping {}", previous.name())),
        ),
    }
}

/// Watches the Nodes and the overlay's settings and hands the overlay's view to the
/// agent, for ever.
pub async fn run(client: kube::Client, shared: Arc<Shared>, node_name: String) {
    let mut reports = Reports::new(client.clone(), &node_name);
    let dirty = Arc::new(Notify::new());
    let (nodes, node_writer) = reflector::store::<Node>();
    let node_stream = reflector(
        node_writer,
        watcher(Api::<Node>::all(client.clone()), watcher::Config::default())
            .default_backoff()
            .modify(|n| n.managed_fields_mut().clear()),
    );
    let (settings, cm_writer) = reflector::store::<ConfigMap>();
    let cms = Api::<ConfigMap>::namespaced(client.clone(), SETTINGS_NAMESPACE);
    let by_name = watcher::Config::default().fields(&format!("metadata.name={SETTINGS_NAME}"));
    let cm_stream = reflector(cm_writer, watcher(cms, by_name).default_backoff());
    tokio::spawn(super::network::drive(node_stream, dirty.clone(), "node"));
    tokio::spawn(super::network::drive(
        cm_stream,
        dirty.clone(),
        "overlay settings",
    ));
    if nodes.wait_until_ready().await.is_err() {
        warn!("node store closed before it was ready");
        return;
    }
    if tokio::time::timeout(SETTINGS_WAIT, settings.wait_until_ready())
        .await
        .is_err()
    {
        warn!(configmap = %format!("{SETTINGS_NAMESPACE}/{SETTINGS_NAME}"), "overlay settings not readable yet; the default encapsulation until they are");
    }
    let mut encap = Encapsulation::default();
    let mut last: Option<OverlayView> = None;
    let mut logged = BTreeMap::new();
    loop {
        let all: Vec<Node> = nodes.state().iter().map(|n| (**n).clone()).collect();
        let mut c = compile(&all, &node_name);
        let cm: Vec<ConfigMap> = settings.state().iter().map(|c| (**c).clone()).collect();
        let (e, bad_setting) = encapsulation(&cm, encap);
        encap = e;
        if let Some(why) = &bad_setting {
            c.problems.insert(SETTINGS_KEY.into(), why.clone());
        }
        for (what, why) in c
            .problems
            .iter()
            .filter(|(k, v)| logged.get(*k) != Some(*v))
        {
            warn!(object = %what, problem = %why, "overlay");
        }
        logged.clone_from(&c.problems);
        report(&mut reports, &all, &cm, &c.problems).await;
        let view = OverlayView {
            fabric_ip: c.fabric_ip,
            fabric_ip6: c.fabric_ip6,
            remotes: c.remotes,
            encap,
        };
        if last.as_ref() != Some(&view) {
            info!(
                nodes = view.remotes.len(),
                fabric_ip = ?view.fabric_ip,
                encapsulation = encap.name(),
                "other nodes from the API"
            );
            hand_over(&shared, view.clone()).await;
            last = Some(view);
        }
        let _ = tokio::time::timeout(RESYNC, dirty.notified()).await;
        tokio::time::sleep(DEBOUNCE).await;
    }
}

/// Gives the agent the view and reconciles at once (tunnels and routes go in now, not at
/// the next periodic pass), then the host's routes to the other nodes' pods.
async fn hand_over(shared: &Arc<Shared>, view: OverlayView) {
    let s = shared.clone();
    let host = tokio::task::spawn_blocking(move || {
        let mut a = s.agent.lock().ok()?;
        a.set_overlay_view(view);
        a.reconcile().ok().map(|_| a.host_want())
    })
    .await
    .ok()
    .flatten();
    if let Some(w) = host {
        if let Err(e) = crate::host::ensure(&w).await {
            warn!(vhost = %w.vhost, error = %e, "host side of the vhost device");
        }
    }
}

/// Where a bad encapsulation setting is filed among the Nodes' problems (no Node name
/// has a slash).
const SETTINGS_KEY: &str = "kube-system/vrouter-overlay";

/// A Warning Event on each object with a problem (the Node, or the settings ConfigMap
/// under [`SETTINGS_KEY`]), once; objects whose problem went away are forgotten.
async fn report(
    reports: &mut Reports,
    nodes: &[Node],
    cms: &[ConfigMap],
    problems: &BTreeMap<String, String>,
) {
    for (what, why) in problems {
        let (r, reason) = if what == SETTINGS_KEY {
            let uid = cms.first().and_then(|c| c.uid());
            let ns = Some(SETTINGS_NAMESPACE);
            let r = reference("v1", "ConfigMap", ns, SETTINGS_NAME, uid.as_deref());
            (r, "BadEncapsulation")
        } else {
            let uid = nodes
                .iter()
                .find(|n| n.name_any() == *what)
                .and_then(|n| n.uid());
            (
                reference("v1", "Node", None, what, uid.as_deref()),
                "OverlayNode",
            )
        };
        reports.problem(r, reason, why).await;
    }
    reports.retain(|k| {
        let still = |key: &str| problems.contains_key(key);
        k.strip_prefix("Node//").is_some_and(still)
            || (k.strip_prefix("ConfigMap/") == Some(SETTINGS_KEY) && still(SETTINGS_KEY))
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{NodeAddress, NodeSpec, NodeStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

    /// A Node created `age` seconds before the others' reference time.
    fn aged(mut n: Node, age: i64) -> Node {
        let t = k8s_openapi::jiff::Timestamp::from_second(1_000_000 - age).unwrap();
        n.metadata.creation_timestamp = Some(Time(t));
        n
    }

    fn node(name: &str, addrs: &[(&str, &str)], cidrs: &[&str]) -> Node {
        let n = Node {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..Default::default()
            },
            spec: Some(NodeSpec {
                pod_cidrs: Some(cidrs.iter().map(|c| c.to_string()).collect()),
                ..Default::default()
            }),
            status: Some(NodeStatus {
                addresses: Some(
                    addrs
                        .iter()
                        .map(|(t, a)| NodeAddress {
                            type_: t.to_string(),
                            address: a.to_string(),
                        })
                        .collect(),
                ),
                ..Default::default()
            }),
        };
        aged(n, 1000)
    }

    fn cluster() -> Vec<Node> {
        vec![
            node(
                "node-2",
                &[("InternalIP", "10.77.0.12"), ("Hostname", "node-2")],
                &["10.32.2.0/24", "fd00:32::200/120"],
            ),
            node(
                "node-1",
                &[("InternalIP", "fd77::11"), ("InternalIP", "10.77.0.11")],
                &["10.32.1.0/24", "fd00:32::100/120"],
            ),
            node("node-3", &[("InternalIP", "10.77.0.13")], &["10.32.3.0/24"]),
        ]
    }

    fn names(c: &Compiled) -> Vec<&str> {
        c.remotes.iter().map(|r| r.name.as_str()).collect()
    }

    #[test]
    fn every_other_node_with_its_address_and_pod_cidrs() {
        let c = compile(&cluster(), "node-1");
        assert_eq!(c.fabric_ip, Some(Ipv4Addr::new(10, 77, 0, 11)));
        assert_eq!(c.fabric_ip6, Some("fd77::11".parse().unwrap()));
        assert_eq!(names(&c), ["node-2", "node-3"]);
        let n2 = &c.remotes[0];
        assert_eq!(n2.addr, Ipv4Addr::new(10, 77, 0, 12));
        assert_eq!(n2.pod_cidrs.len(), 2);
        assert!(c.problems.is_empty(), "{:?}", c.problems);
        // seen from node-3, node-1 is a remote one
        let c = compile(&cluster(), "node-3");
        assert_eq!(names(&c), ["node-1", "node-2"]);
        assert_eq!(c.fabric_ip, Some(Ipv4Addr::new(10, 77, 0, 13)));
    }

    #[test]
    fn the_older_single_pod_cidr_counts() {
        let mut n = node("old", &[("InternalIP", "10.77.0.20")], &[]);
        if let Some(s) = n.spec.as_mut() {
            s.pod_cidr = Some("10.32.20.0/24".into());
        }
        let mut all = cluster();
        all.push(n);
        let c = compile(&all, "node-1");
        let old = c.remotes.iter().find(|r| r.name == "old").unwrap();
        assert_eq!(old.pod_cidrs, ["10.32.20.0/24".parse::<IpNet>().unwrap()]);
    }

    #[test]
    fn bad_nodes_are_reported_and_the_rest_go_on() {
        let mut all = cluster();
        all.extend([
            node("no-ip", &[("ExternalIP", "192.0.2.1")], &["10.32.4.0/24"]),
            node("v6-only", &[("InternalIP", "fd77::15")], &["10.32.5.0/24"]),
            node("joining", &[("InternalIP", "10.77.0.16")], &[]),
            node(
                "bad-cidr",
                &[("InternalIP", "10.77.0.17")],
                &["10.32.7.1/24"],
            ),
            node("garbage", &[("InternalIP", "10.77.0.18")], &["nope"]),
            // younger than node-2, whose prefix it overlaps: it is the one skipped
            aged(
                node("clash", &[("InternalIP", "10.77.0.19")], &["10.32.2.0/25"]),
                10,
            ),
            node("mine", &[("InternalIP", "10.77.0.11")], &["10.32.9.0/24"]),
            node(
                "overlaps-me",
                &[("InternalIP", "10.77.0.21")],
                &["10.32.0.0/16"],
            ),
        ]);
        let c = compile(&all, "node-1");
        assert_eq!(names(&c), ["node-2", "node-3"]);
        let why = |n: &str| c.problems.get(n).cloned().unwrap_or_default();
        assert!(why("no-ip").contains("no IPv4 InternalIP"));
        assert!(why("v6-only").contains("no IPv4 InternalIP"));
        assert!(why("joining").contains("no podCIDRs"));
        assert!(why("bad-cidr").contains("host bits"));
        assert!(why("garbage").contains("\"nope\""));
        assert!(why("clash").contains("overlaps 10.32.2.0/24, of an older node"));
        assert!(why("mine").contains("is this node's"));
        assert!(why("overlaps-me").contains("overlaps 10.32.1.0/24"));
        assert_eq!(c.problems.len(), 8, "{:?}", c.problems);
    }

    #[test]
    fn a_node_that_leaves_disappears_and_self_problems_are_said() {
        let mut all = cluster();
        let c = compile(&all, "node-1");
        assert_eq!(names(&c), ["node-2", "node-3"]);
        all.retain(|n| n.name_any() != "node-2");
        let c = compile(&all, "node-1");
        assert_eq!(names(&c), ["node-3"]);
        // without its own Node object, or its own IPv4 address, this node sends nothing,
        // and says so
        let c = compile(&all, "node-9");
        assert_eq!(c.fabric_ip, None);
        assert!(c.problems["node-9"].contains("not in the API"));
        let all = vec![node("me", &[("InternalIP", "fd77::1")], &["10.32.1.0/24"])];
        let c = compile(&all, "me");
        assert!(c.problems["me"].contains("no IPv4 InternalIP"));
    }

    fn settings(value: Option<&str>) -> Vec<ConfigMap> {
        vec![ConfigMap {
            metadata: ObjectMeta {
                name: Some(SETTINGS_NAME.into()),
                namespace: Some(SETTINGS_NAMESPACE.into()),
                ..Default::default()
            },
            data: value.map(|v| BTreeMap::from([(ENCAPSULATION.to_string(), v.to_string())])),
            ..Default::default()
        }]
    }

    #[test]
    fn the_encapsulation_setting() {
        assert_eq!(
            SETTINGS_KEY,
            format!("{SETTINGS_NAMESPACE}/{SETTINGS_NAME}")
        );
        let gre = Encapsulation::MplsOverGre;
        assert_eq!(encapsulation(&[], gre), (Encapsulation::MplsOverUdp, None));
        assert_eq!(
            encapsulation(&settings(None), gre),
            (Encapsulation::MplsOverUdp, None)
        );
        assert_eq!(
            encapsulation(&settings(Some("vxlan")), gre),
            (Encapsulation::Vxlan, None)
        );
        // an unknown value keeps what was there, and says why
        let (e, why) = encapsulation(&settings(Some("ipip")), gre);
        assert_eq!(e, gre);
        let why = why.unwrap_or_default();
        assert!(
            why.contains("\"ipip\"") && why.contains("keeping mpls-over-gre"),
            "{why}"
        );
    }
}
