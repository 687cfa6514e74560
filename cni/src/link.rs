//! Links, addresses and routes through rtnetlink, in whatever netns the handle's socket
//! lives in (see netns.rs).

use crate::spec::{code, CniError, CniResultT};
use futures::TryStreamExt;
use netlink_packet_route::address::{AddressAttribute, AddressFlags, AddressHeaderFlags};
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteScope, RouteType,
};
use netlink_packet_route::rule::RuleAction;
use netlink_packet_route::AddressFamily;
use rtnetlink::{Handle, LinkMessageBuilder, LinkUnspec, LinkVeth, RouteMessageBuilder};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::RawFd;

const ENODEV: i32 = 19;
const ENOENT: i32 = 2;
const EEXIST: i32 = 17;

/// The errno of a netlink error answer.
pub fn errno(e: &rtnetlink::Error) -> Option<i32> {
    match e {
        rtnetlink::Error::NetlinkError(m) => m.code.map(|c| -c.get()),
        _ => None,
    }
}

fn nl_err(what: impl Into<String>, e: rtnetlink::Error) -> CniError {
    let details = match errno(&e) {
        Some(n) => format!("{} (errno {n})", std::io::Error::from_raw_os_error(n)),
        None => e.to_string(),
    };
    CniError::new(code::NETLINK, what).with_details(details)
}

/// What we need of a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    pub mac: Option<[u8; 6]>,
    pub mtu: Option<u32>,
    pub up: bool,
    pub kind: Option<String>,
}

impl Link {
    fn from_message(m: &LinkMessage) -> Link {
        let mut l = Link {
            index: m.header.index,
            name: String::new(),
            mac: None,
            mtu: None,
            up: m.header.flags.contains(LinkFlags::Up),
            kind: None,
        };
        for a in &m.attributes {
            match a {
                LinkAttribute::IfName(n) => l.name = n.clone(),
                LinkAttribute::Address(b) if b.len() == 6 => {
                    let mut mac = [0u8; 6];
                    mac.copy_from_slice(b);
                    l.mac = Some(mac);
                }
                LinkAttribute::Mtu(m) => l.mtu = Some(*m),
                LinkAttribute::LinkInfo(infos) => {
                    for i in infos {
                        if let LinkInfo::Kind(k) = i {
                            l.kind = Some(k.to_string());
                        }
                    }
                }
                _ => {}
            }
        }
        l
    }

    pub fn mac_string(&self) -> Option<String> {
        self.mac.map(|m| vrouter_client::vif::format_mac(&m))
    }
}

/// The link called `name`, if any.
pub async fn get(h: &Handle, name: &str) -> CniResultT<Option<Link>> {
    let mut s = h.link().get().match_name(name.to_string()).execute();
    match s.try_next().await {
        Ok(Some(m)) => Ok(Some(Link::from_message(&m))),
        Ok(None) => Ok(None),
        Err(e) if matches!(errno(&e), Some(ENODEV) | Some(ENOENT)) => Ok(None),
        Err(e) => Err(nl_err(format!("failed to look up link {name}"), e)),
    }
}

/// Creates a veth pair `name` <-> `peer`, both with `mtu`, both down.
pub async fn create_veth(h: &Handle, name: &str, peer: &str, mtu: u32) -> CniResultT<()> {
    let peer_msg = LinkMessageBuilder::<LinkUnspec>::new()
        .name(peer.to_string())
        .mtu(mtu)
        .build();
    let msg = LinkMessageBuilder::<LinkVeth>::new_with_info_kind(InfoKind::Veth)
        .name(name.to_string())
        .mtu(mtu)
        .set_info_data(InfoData::Veth(InfoVeth::Peer(peer_msg)))
        .build();
    h.link().add(msg).execute().await.map_err(|e| {
        let what = if errno(&e) == Some(EEXIST) {
            format!("failed to create veth {name}/{peer}: a link with that name exists")
        } else {
            format!("failed to create veth {name}/{peer}")
        };
        nl_err(what, e)
    })
}

/// Deletes the link called `name`; Ok(false) when there is none.
pub async fn delete(h: &Handle, name: &str) -> CniResultT<bool> {
    let Some(l) = get(h, name).await? else {
        return Ok(false);
    };
    match h.link().del(l.index).execute().await {
        Ok(()) => Ok(true),
        Err(e) if matches!(errno(&e), Some(ENODEV) | Some(ENOENT)) => Ok(false),
        Err(e) => Err(nl_err(format!("failed to delete link {name}"), e)),
    }
}

/// Deletes link `index` if it is still called `name`; Ok(false) when it is not there.
pub async fn delete_exact(h: &Handle, name: &str, index: u32) -> CniResultT<bool> {
    match get(h, name).await? {
        Some(l) if l.index == index => {}
        _ => return Ok(false),
    }
    match h.link().del(index).execute().await {
        Ok(()) => Ok(true),
        Err(e) if matches!(errno(&e), Some(ENODEV) | Some(ENOENT)) => Ok(false),
        Err(e) => Err(nl_err(format!("failed to delete link {name}"), e)),
    }
}

/// Moves a link into the netns open at `fd`.
pub async fn move_to_netns(h: &Handle, index: u32, fd: RawFd) -> CniResultT<()> {
    let msg = LinkUnspec::new_with_index(index).setns_by_fd(fd).build();
    h.link()
        .change(msg)
        .execute()
        .await
        .map_err(|e| nl_err("failed to move the container end into the netns", e))
}

/// Renames a (down) link and sets its MAC and MTU.
pub async fn configure(
    h: &Handle,
    index: u32,
    name: &str,
    mac: Option<[u8; 6]>,
    mtu: u32,
) -> CniResultT<()> {
    let mut b = LinkUnspec::new_with_index(index)
        .name(name.to_string())
        .mtu(mtu);
    if let Some(m) = mac {
        b = b.address(m.to_vec());
    }
    h.link()
        .change(b.build())
        .execute()
        .await
        .map_err(|e| nl_err(format!("failed to set name/MAC/MTU of {name}"), e))
}

pub async fn set_mtu(h: &Handle, index: u32, mtu: u32) -> CniResultT<()> {
    let msg = LinkUnspec::new_with_index(index).mtu(mtu).build();
    h.link()
        .change(msg)
        .execute()
        .await
        .map_err(|e| nl_err(format!("failed to set MTU {mtu}"), e))
}

pub async fn set_mac(h: &Handle, index: u32, mac: [u8; 6]) -> CniResultT<()> {
    let msg = LinkUnspec::new_with_index(index)
        .address(mac.to_vec())
        .build();
    h.link()
        .change(msg)
        .execute()
        .await
        .map_err(|e| nl_err("failed to set the MAC address", e))
}

pub async fn set_up(h: &Handle, index: u32) -> CniResultT<()> {
    let msg = LinkUnspec::new_with_index(index).up().build();
    h.link()
        .change(msg)
        .execute()
        .await
        .map_err(|e| nl_err("failed to set the link up", e))
}

/// Adds `ip/plen` to the link; IPv6 addresses without DAD (usable at once).
/// `ip rule add from <src> lookup <table> priority <priority>`: what the interface with
/// address `src` sends leaves through its own table.
pub async fn add_source_rule(h: &Handle, src: IpAddr, table: u8, priority: u32) -> CniResultT<()> {
    let what = format!("failed to add rule from {src} lookup {table}");
    let req = h
        .rule()
        .add()
        .table_id(u32::from(table))
        .priority(priority)
        .action(RuleAction::ToTable)
        .replace();
    let r = match src {
        IpAddr::V4(a) => req.v4().source_prefix(a, 32).execute().await,
        IpAddr::V6(a) => req.v6().source_prefix(a, 128).execute().await,
    };
    r.map_err(|e| nl_err(what, e))
}

pub async fn add_address(h: &Handle, index: u32, ip: IpAddr, plen: u8) -> CniResultT<()> {
    let mut req = h.address().add(index, ip, plen);
    if ip.is_ipv6() {
        let m = req.message_mut();
        m.header.flags |= AddressHeaderFlags::Nodad;
        m.attributes
            .push(AddressAttribute::Flags(AddressFlags::Nodad));
    }
    match req.execute().await {
        Ok(()) => Ok(()),
        Err(e) => Err(nl_err(format!("failed to add address {ip}/{plen}"), e)),
    }
}

/// The (address, prefix length) pairs of a link.
pub async fn addresses(h: &Handle, index: u32) -> CniResultT<Vec<(IpAddr, u8)>> {
    let mut s = h.address().get().set_link_index_filter(index).execute();
    let mut out = Vec::new();
    while let Some(m) = s
        .try_next()
        .await
        .map_err(|e| nl_err("failed to list addresses", e))?
    {
        let mut addr = None;
        for a in &m.attributes {
            match a {
                // IFA_LOCAL is the local address on point-to-point links; prefer it.
                AddressAttribute::Local(ip) => addr = Some(*ip),
                AddressAttribute::Address(ip) if addr.is_none() => addr = Some(*ip),
                _ => {}
            }
        }
        if let Some(ip) = addr {
            out.push((ip, m.header.prefix_len));
        }
    }
    Ok(out)
}

/// A route as CHECK compares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub dst: IpAddr,
    pub plen: u8,
    pub gw: Option<IpAddr>,
    pub oif: Option<u32>,
    pub table: u32,
}

fn route_addr(a: &RouteAddress) -> Option<IpAddr> {
    match a {
        RouteAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
        RouteAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
        _ => None,
    }
}

fn route_from(m: &RouteMessage) -> Option<Route> {
    let v6 = m.header.address_family == AddressFamily::Inet6;
    let mut r = Route {
        dst: if v6 {
            IpAddr::V6(Ipv6Addr::UNSPECIFIED)
        } else {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        },
        plen: m.header.destination_prefix_length,
        gw: None,
        oif: None,
        table: u32::from(m.header.table),
    };
    if m.header.kind != RouteType::Unicast {
        return None;
    }
    for a in &m.attributes {
        match a {
            RouteAttribute::Destination(d) => r.dst = route_addr(d)?,
            RouteAttribute::Gateway(g) => r.gw = route_addr(g),
            RouteAttribute::Oif(i) => r.oif = Some(*i),
            RouteAttribute::Table(t) => r.table = *t,
            _ => {}
        }
    }
    Some(r)
}

/// The unicast routes of a family (all tables).
pub async fn routes(h: &Handle, v6: bool) -> CniResultT<Vec<Route>> {
    let msg = if v6 {
        RouteMessageBuilder::<Ipv6Addr>::new().build()
    } else {
        RouteMessageBuilder::<Ipv4Addr>::new().build()
    };
    let mut s = h.route().get(msg).execute();
    let mut out = Vec::new();
    while let Some(m) = s
        .try_next()
        .await
        .map_err(|e| nl_err("failed to list routes", e))?
    {
        if let Some(r) = route_from(&m) {
            out.push(r);
        }
    }
    Ok(out)
}

/// Is `gw` inside `ip/plen`?
pub fn in_subnet(ip: IpAddr, plen: u8, gw: IpAddr) -> bool {
    match (ip, gw) {
        (IpAddr::V4(a), IpAddr::V4(g)) => {
            let mask = if plen == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(plen.min(32)))
            };
            u32::from(a) & mask == u32::from(g) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(g)) => {
            let mask = if plen == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(plen.min(128)))
            };
            u128::from(a) & mask == u128::from(g) & mask
        }
        _ => false,
    }
}

/// Adds `dst/plen` via `gw` (or on-link when `gw` is None) out of `index`, in the main
/// table. A gateway outside the link's subnet first gets a link-scope host route, so
/// /32 and /128 pod addresses work too.
pub async fn add_route(
    h: &Handle,
    index: u32,
    dst: IpAddr,
    plen: u8,
    gw: Option<IpAddr>,
    local: Option<(IpAddr, u8)>,
) -> CniResultT<()> {
    add_route_in(h, RouteHeader::RT_TABLE_MAIN, index, dst, plen, gw, local).await
}

/// [`add_route`] in routing table `table`.
pub async fn add_route_in(
    h: &Handle,
    table: u8,
    index: u32,
    dst: IpAddr,
    plen: u8,
    gw: Option<IpAddr>,
    local: Option<(IpAddr, u8)>,
) -> CniResultT<()> {
    if let (Some(g), Some((ip, lp))) = (gw, local) {
        let link_local = matches!(g, IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80);
        if !link_local && !in_subnet(ip, lp, g) {
            let host_len = if g.is_ipv4() { 32 } else { 128 };
            Box::pin(add_route_in(h, table, index, g, host_len, None, None)).await?;
        }
    }
    let msg = match (dst, gw) {
        (IpAddr::V4(d), g) => {
            let mut b = RouteMessageBuilder::<Ipv4Addr>::new()
                .destination_prefix(d, plen)
                .output_interface(index);
            match g {
                Some(IpAddr::V4(g)) => b = b.gateway(g),
                Some(IpAddr::V6(_)) => {
                    return Err(CniError::new(
                        code::NETLINK,
                        format!("IPv6 gateway for IPv4 route {d}/{plen}"),
                    ))
                }
                None => b = b.scope(RouteScope::Link),
            }
            b.build()
        }
        (IpAddr::V6(d), g) => {
            let mut b = RouteMessageBuilder::<Ipv6Addr>::new()
                .destination_prefix(d, plen)
                .output_interface(index);
            match g {
                Some(IpAddr::V6(g)) => b = b.gateway(g),
                Some(IpAddr::V4(_)) => {
                    return Err(CniError::new(
                        code::NETLINK,
                        format!("IPv4 gateway for IPv6 route {d}/{plen}"),
                    ))
                }
                None => b = b.scope(RouteScope::Link),
            }
            b.build()
        }
    };
    let mut msg = msg;
    msg.header.table = table;
    let what = match gw {
        Some(g) => format!("failed to add route {dst}/{plen} via {g}"),
        None => format!("failed to add route {dst}/{plen}"),
    };
    h.route()
        .add(msg)
        .execute()
        .await
        .map_err(|e| nl_err(what, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnets() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(in_subnet(ip("10.32.0.5"), 12, ip("10.47.255.254")));
        assert!(!in_subnet(ip("10.32.0.5"), 12, ip("10.48.0.1")));
        assert!(!in_subnet(ip("10.32.0.5"), 32, ip("10.32.0.1")));
        assert!(in_subnet(ip("10.32.0.5"), 0, ip("1.2.3.4")));
        assert!(in_subnet(ip("fd00::5"), 64, ip("fd00::1")));
        assert!(!in_subnet(ip("fd00::5"), 128, ip("fd00::1")));
        assert!(!in_subnet(ip("fd00::5"), 64, ip("10.0.0.1")));
    }
}
