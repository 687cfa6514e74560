//! The host's side of the node: the vhost device up, its addresses, and routes to this
//! node's pod CIDRs through it. With them the host reaches its own pods: kubelet's HTTP
//! and TCP probes, `kubectl exec/logs` port-forwards, hostNetwork pods (TF: "agents on a
//! node, e.g. kubelet, can communicate with all pods on that node"). The datapath side is
//! the VRF 0 host route of every local pod (kernel.rs `port_routes`), proxy-ARP'd, so the
//! host resolves each pod address on the vhost device to the vRouter MAC.
//!
//! Every step is idempotent (replace semantics): it runs at every resync and repairs what
//! an operator or a module reload took away.

use ipnet::{Ipv4Net, Ipv6Net};
use rtnetlink::{Handle, LinkUnspec, RouteMessageBuilder};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What the host side should hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostWant {
    pub vhost: String,
    pub addr: Option<Ipv4Addr>,
    pub addr6: Option<Ipv6Addr>,
    pub pod_cidr: Ipv4Net,
    pub pod_cidr6: Option<Ipv6Net>,
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
        h.address()
            .add(index, IpAddr::V6(a), 128)
            .replace()
            .execute()
            .await
            .map_err(ctx("IPv6 address"))?;
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
    Ok(())
}
