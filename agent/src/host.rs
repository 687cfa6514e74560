//! The host's side of the node: the vhost device up, its addresses, and routes to this
//! node's pod CIDRs through it. With them the host reaches its own pods: kubelet's HTTP
//! and TCP probes, `kubectl exec/logs` port-forwards, hostNetwork pods (TF: "agents on a
//! node, e.g. kubelet, can communicate with all pods on that node"). The datapath side is
//! the VRF 0 host route of every local pod (kernel.rs `port_routes`), proxy-ARP'd, so the
//! host resolves each pod address on the vhost device to the vRouter MAC.
//!
//! Other nodes' pods are reached the same way: their pod CIDRs are routed through the
//! vhost device too, and the datapath's VRF 0 sends them through the tunnel to their node
//! (overlay.rs). Those routes carry the protocol [`REMOTE_PROTO`], so the agent finds its
//! own again (after a restart too) and removes those of nodes that left.
//!
//! Every step is idempotent (replace semantics): it runs at every resync and repairs what
//! an operator or a module reload took away.

use crate::masquerade::Masquerade;
use futures_util::TryStreamExt;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use rtnetlink::packet_route::address::{AddressAttribute, AddressFlags};
use rtnetlink::packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteMetric, RouteProtocol,
};
use rtnetlink::{Handle, LinkUnspec, RouteMessageBuilder};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The protocol of the routes to other nodes' pods: no registered routing daemon's
/// (iproute2's rt_protos), so `ip route` shows them as `proto 118`.
const REMOTE_PROTO: u8 = 118;

/// What the host side should hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostWant {
    pub vhost: String,
    pub addr: Option<Ipv4Addr>,
    pub addr6: Option<Ipv6Addr>,
    pub pod_cidr: Ipv4Net,
    pub pod_cidr6: Option<Ipv6Net>,
    /// Other nodes' pods; None while the overlay is not known (the routes to them stay
    /// as they are).
    pub remote: Option<RemoteWant>,
    /// The pods' egress beyond the pod networks (masquerade.rs); None: not translated.
    pub masquerade: Option<Masquerade>,
}

/// The routes to other nodes' pods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteWant {
    pub pod_cidrs: Vec<IpNet>,
    /// The source of the host's packets to them: this node's fabric addresses (a remote
    /// pod's reply reaches them through its node's host; vhost addresses are the same
    /// on every node). A family without one gets no routes.
    pub src: Option<Ipv4Addr>,
    pub src6: Option<Ipv6Addr>,
    /// The route's MTU: the pods' (host.rs packets must fit the tunnel like theirs).
    pub mtu: u32,
}

fn ifindex(name: &str) -> Option<u32> {
    std::fs::read_to_string(format!("/sys/class/net/{name}/ifindex"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn link_is_up(name: &str) -> bool {
    std::fs::read_to_string(format!("/sys/class/net/{name}/flags"))
        .ok()
        .and_then(|s| u32::from_str_radix(s.trim().trim_start_matches("0x"), 16).ok())
        .is_some_and(|f| f & 1 != 0)
}

/// Brings the vhost device up (the module creates it down, like any new netdevice), gives
/// it its addresses and routes the pod CIDRs through it, sourced from those addresses.
/// Nothing to do while the device does not exist (the module is not loaded).
pub async fn ensure(w: &HostWant) -> Result<(), String> {
    let Some(index) = ifindex(&w.vhost) else {
        return Ok(());
    };
    let (conn, handle, _) = rtnetlink::new_connection().map_err(|e| e.to_string())?;
    let task = tokio::spawn(conn);
    let r = apply(&handle, index, w).await;
    task.abort();
    r
}

async fn apply(h: &Handle, index: u32, w: &HostWant) -> Result<(), String> {
    let ctx = |what: &str| {
        let what = format!("{what} on {}", w.vhost);
        move |e: rtnetlink::Error| format!("{what}: {e}")
    };
    if !link_is_up(&w.vhost) {
        h.link()
            .set(LinkUnspec::new_with_index(index).up().build())
            .execute()
            .await
            .map_err(ctx("link up"))?;
    }
    if let Some(a) = w.addr {
        h.address()
            .add(index, IpAddr::V4(a), 32)
            .replace()
            .execute()
            .await
            .map_err(ctx("address"))?;
        let route = RouteMessageBuilder::<Ipv4Addr>::new()
            .destination_prefix(w.pod_cidr.network(), w.pod_cidr.prefix_len())
            .output_interface(index)
            .pref_source(a)
            .build();
        h.route()
            .add(route)
            .replace()
            .execute()
            .await
            .map_err(ctx("pod CIDR route"))?;
    }
    if let (Some(a), Some(c)) = (w.addr6, w.pod_cidr6) {
        // Without duplicate address detection: a tentative address cannot be the
        // preferred source of the route below (EINVAL until DAD ends).
        let mut add = h.address().add(index, IpAddr::V6(a), 128).replace();
        add.message_mut()
            .attributes
            .push(AddressAttribute::Flags(AddressFlags::Nodad));
        add.execute().await.map_err(ctx("IPv6 address"))?;
        let route = RouteMessageBuilder::<Ipv6Addr>::new()
            .destination_prefix(c.network(), c.prefix_len())
            .output_interface(index)
            .pref_source(a)
            .build();
        h.route()
            .add(route)
            .replace()
            .execute()
            .await
            .map_err(ctx("IPv6 pod CIDR route"))?;
    }
    if let Some(r) = &w.remote {
        remote_routes(h, index, r)
            .await
            .map_err(ctx("routes to other nodes' pods"))?;
        forward_between_nodes()?;
    }
    if let Some(m) = &w.masquerade {
        crate::masquerade::ensure(m)?;
        forward_between_nodes()?;
    }
    Ok(())
}

/// The host forwards between the vhost device and the fabric, as Kubernetes' network
/// model wants (no NAT between nodes and pods): a pod's packet to another node's address
/// leaves through the host's routing, and the answer to a host that reached another
/// node's pod comes back the same way.
fn forward_between_nodes() -> Result<(), String> {
    for knob in [
        "/proc/sys/net/ipv4/ip_forward",
        "/proc/sys/net/ipv6/conf/all/forwarding",
    ] {
        if std::fs::read_to_string(knob).is_ok_and(|v| v.trim() == "1") {
            continue;
        }
        std::fs::write(knob, "1").map_err(|e| format!("{knob}: {e}"))?;
    }
    Ok(())
}

/// The routes to other nodes' pods through vif device `index`: each wanted one replaced,
/// those of nodes that left deleted.
async fn remote_routes(h: &Handle, index: u32, w: &RemoteWant) -> Result<(), rtnetlink::Error> {
    let wanted = routable(w);
    for (net, src) in &wanted {
        if let Some(r) = remote_route(*net, *src, index, w.mtu) {
            h.route().add(r).replace().execute().await?;
        }
    }
    let nets: Vec<IpNet> = wanted.iter().map(|(n, _)| *n).collect();
    let dumps = [
        RouteMessageBuilder::<Ipv4Addr>::new().build(),
        RouteMessageBuilder::<Ipv6Addr>::new().build(),
    ];
    for family in dumps {
        let mut dump = h.route().get(family).execute();
        let mut stale = Vec::new();
        while let Some(m) = dump.try_next().await? {
            if remote_prefix(&m, index).is_some_and(|n| !nets.contains(&n)) {
                stale.push(m);
            }
        }
        for m in stale {
            h.route().del(m).execute().await?;
        }
    }
    Ok(())
}

/// The wanted prefixes with the source their family has; a family without a source
/// address gets none.
fn routable(w: &RemoteWant) -> Vec<(IpNet, IpAddr)> {
    w.pod_cidrs
        .iter()
        .filter_map(|n| {
            let src = match n {
                IpNet::V4(_) => w.src.map(IpAddr::V4),
                IpNet::V6(_) => w.src6.map(IpAddr::V6),
            };
            Some((n.trunc(), src?))
        })
        .collect()
}

/// A route to `net` out of device `index`, sourced from `src` (of `net`'s family), with
/// the pods' MTU.
fn remote_route(net: IpNet, src: IpAddr, index: u32, mtu: u32) -> Option<RouteMessage> {
    let proto = RouteProtocol::Other(REMOTE_PROTO);
    let mut m = match (net, src) {
        (IpNet::V4(n), IpAddr::V4(s)) => RouteMessageBuilder::<Ipv4Addr>::new()
            .destination_prefix(n.network(), n.prefix_len())
            .pref_source(s)
            .output_interface(index)
            .protocol(proto)
            .build(),
        (IpNet::V6(n), IpAddr::V6(s)) => RouteMessageBuilder::<Ipv6Addr>::new()
            .destination_prefix(n.network(), n.prefix_len())
            .pref_source(s)
            .output_interface(index)
            .protocol(proto)
            .build(),
        _ => return None,
    };
    m.attributes
        .push(RouteAttribute::Metrics(vec![RouteMetric::Mtu(mtu)]));
    Some(m)
}

/// The prefix of `m` when it is one of the agent's routes to other nodes' pods through
/// device `index` (main table).
fn remote_prefix(m: &RouteMessage, index: u32) -> Option<IpNet> {
    let h = &m.header;
    if h.protocol != RouteProtocol::Other(REMOTE_PROTO) || h.table != RouteHeader::RT_TABLE_MAIN {
        return None;
    }
    let mut oif = None;
    let mut dst = None;
    for a in &m.attributes {
        match a {
            RouteAttribute::Oif(i) => oif = Some(*i),
            RouteAttribute::Destination(RouteAddress::Inet(a)) => dst = Some(IpAddr::V4(*a)),
            RouteAttribute::Destination(RouteAddress::Inet6(a)) => dst = Some(IpAddr::V6(*a)),
            _ => {}
        }
    }
    if oif != Some(index) {
        return None;
    }
    IpNet::new(dst?, h.destination_prefix_length).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn want(cidrs: &[&str], src6: Option<&str>) -> RemoteWant {
        RemoteWant {
            pod_cidrs: cidrs.iter().map(|c| c.parse().unwrap()).collect(),
            src: Some("10.77.0.11".parse().unwrap()),
            src6: src6.map(|s| s.parse().unwrap()),
            mtu: 1450,
        }
    }

    #[test]
    fn remote_routes_need_a_source_of_their_family() {
        let w = want(&["10.32.2.0/24", "fd00:32::200/120"], None);
        let r = routable(&w);
        assert_eq!(r.len(), 1, "no IPv6 source: no IPv6 route");
        assert_eq!(r[0].0.to_string(), "10.32.2.0/24");
        let w = want(&["10.32.2.0/24", "fd00:32::200/120"], Some("fd77::11"));
        assert_eq!(routable(&w).len(), 2);
    }

    #[test]
    fn the_agents_remote_routes_are_found_by_protocol_and_device() {
        let net: IpNet = "10.32.2.0/24".parse().unwrap();
        let m = remote_route(net, "10.77.0.11".parse().unwrap(), 7, 1450).unwrap();
        assert!(m
            .attributes
            .contains(&RouteAttribute::Metrics(vec![RouteMetric::Mtu(1450)])));
        assert_eq!(remote_prefix(&m, 7), Some(net));
        assert_eq!(remote_prefix(&m, 8), None, "another device's");
        let mut other = m.clone();
        other.header.protocol = RouteProtocol::Boot;
        assert_eq!(remote_prefix(&other, 7), None, "the operator's");
        let net6: IpNet = "fd00:32::200/120".parse().unwrap();
        let m6 = remote_route(net6, "fd77::11".parse().unwrap(), 7, 1450).unwrap();
        assert_eq!(remote_prefix(&m6, 7), Some(net6));
        assert!(remote_route(net6, "10.77.0.11".parse().unwrap(), 7, 1450).is_none());
    }
}
