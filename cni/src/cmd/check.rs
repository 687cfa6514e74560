//! CHECK: what ADD did is still there (pod interface, addresses, routes, host end, agent
//! port, kernel vif).

use super::{ports_of, Ctx};
use crate::link::{self, Route};
use crate::netns::{run_rtnl, Netns};
use crate::spec::{code, parse_cidr, CniError, CniResult, CniResultT};
use std::net::IpAddr;
use vrouter_port_api::{PortRecord, PortState};

fn fail(msg: impl Into<String>) -> CniError {
    CniError::new(code::CHECK_FAILED, msg)
}

/// The container end's expectations taken from prevResult.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Expected {
    pub mac: Option<String>,
    pub addresses: Vec<(IpAddr, u8)>,
    pub routes: Vec<(IpAddr, u8, Option<IpAddr>)>,
    pub host_ends: Vec<String>,
}

/// Reads what CHECK verifies from prevResult.
pub(crate) fn expected(prev: &CniResult, ifname: &str, netns: &str) -> CniResultT<Expected> {
    let (idx, iface) = prev
        .interfaces
        .iter()
        .enumerate()
        .find(|(_, i)| i.name == ifname && i.sandbox.as_deref().is_some_and(|s| !s.is_empty()))
        .ok_or_else(|| {
            fail(format!(
                "prevResult has no interface {ifname} with a sandbox"
            ))
        })?;
    if let Some(sb) = &iface.sandbox {
        if sb != netns {
            return Err(fail(format!(
                "prevResult puts {ifname} in sandbox {sb}, not {netns}"
            )));
        }
    }
    let mut addresses = Vec::new();
    let mut gateways = Vec::new();
    for ip in &prev.ips {
        if ip.interface.is_some_and(|i| i != idx) {
            continue;
        }
        let cidr = ip.cidr().ok_or_else(|| {
            fail(format!(
                "prevResult has an invalid address {:?}",
                ip.address
            ))
        })?;
        addresses.push(cidr);
        if let Some(g) = ip.gateway.as_deref().and_then(|g| g.parse::<IpAddr>().ok()) {
            gateways.push(g);
        }
    }
    let mut routes = Vec::new();
    for r in &prev.routes {
        let (dst, plen) = parse_cidr(&r.dst)
            .ok_or_else(|| fail(format!("prevResult has an invalid route dst {:?}", r.dst)))?;
        let gw = match &r.gw {
            Some(g) if !g.is_empty() => Some(
                g.parse::<IpAddr>()
                    .map_err(|_| fail(format!("prevResult has an invalid route gw {g:?}")))?,
            ),
            _ => None,
        };
        // Ours are the routes via our interface's gateways; other plugins' may use
        // other interfaces.
        if gw.is_some_and(|g| gateways.contains(&g)) {
            // The network address of the destination, as the kernel stores it.
            routes.push((network(dst, plen), plen, gw));
        }
    }
    let host_ends = prev
        .interfaces
        .iter()
        .filter(|i| i.sandbox.as_deref().unwrap_or("").is_empty() && i.name.starts_with("tap"))
        .map(|i| i.name.clone())
        .collect();
    Ok(Expected {
        mac: iface.mac.clone(),
        addresses,
        routes,
        host_ends,
    })
}

fn network(ip: IpAddr, plen: u8) -> IpAddr {
    match ip {
        IpAddr::V4(a) => {
            let mask = if plen == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(plen.min(32)))
            };
            IpAddr::V4((u32::from(a) & mask).into())
        }
        IpAddr::V6(a) => {
            let mask = if plen == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(plen.min(128)))
            };
            IpAddr::V6((u128::from(a) & mask).into())
        }
    }
}

/// Does the routing table have `dst/plen [via gw]` (main table) out of `index`?
pub(crate) fn has_route(
    routes: &[Route],
    index: u32,
    dst: IpAddr,
    plen: u8,
    gw: Option<IpAddr>,
) -> bool {
    routes.iter().any(|r| {
        r.dst == dst
            && r.plen == plen
            && r.table == 254
            && (gw.is_none() || r.gw == gw)
            && r.oif.is_none_or(|o| o == index)
    })
}

pub fn check(ctx: &Ctx) -> CniResultT<()> {
    let want = expectations(ctx)?;
    check_pod(&ctx.env.netns, &ctx.env.ifname, &want)?;
    let ports = ctx.agent.ports()?;
    let port = agent_port(ctx, &ports)?;
    check_agent_addresses(ctx, port, &want)?;
    check_host_ends(port, &want)?;
    check_kernel_vif(port)
}

/// What ADD made, from the config's prevResult (CHECK needs config version 0.4.0+).
fn expectations(ctx: &Ctx) -> CniResultT<Expected> {
    let env = &ctx.env;
    let conf = &ctx.conf;
    if !conf.version.has_check() {
        return Err(CniError::new(
            code::INCOMPATIBLE_VERSION,
            format!(
                "config version {} does not allow CHECK (needs 0.4.0 or later)",
                conf.version
            ),
        ));
    }
    let prev = conf.prev_result.as_ref().ok_or_else(|| {
        CniError::new(code::INVALID_CONFIG, "CHECK needs prevResult in the config")
    })?;
    let prev = CniResult::from_value(prev)?;
    expected(&prev, &env.ifname, &env.netns)
}

/// Inside the pod: interface `ifname` of `netns` with its MAC, up, with its addresses
/// and routes.
fn check_pod(netns: &str, ifname: &str, want: &Expected) -> CniResultT<()> {
    let ns = Netns::open(netns)?;
    let (ifname, w) = (ifname.to_string(), want.clone());
    ns.rtnl(move |h| async move {
        let l = link::get(&h, &ifname)
            .await?
            .ok_or_else(|| fail(format!("interface {ifname} not found in the netns")))?;
        if let Some(m) = &w.mac {
            let have = l.mac_string().unwrap_or_default();
            if !have.eq_ignore_ascii_case(m) {
                return Err(fail(format!(
                    "interface {ifname} has MAC {have}, prevResult says {m}"
                )));
            }
        }
        if !l.up {
            return Err(fail(format!("interface {ifname} is down")));
        }
        let have = link::addresses(&h, l.index).await?;
        for (ip, plen) in &w.addresses {
            if !have.iter().any(|(a, p)| a == ip && p == plen) {
                return Err(fail(format!(
                    "interface {ifname} lacks address {ip}/{plen}"
                )));
            }
        }
        let (mut v4, mut v6) = (None, None);
        for (dst, plen, gw) in &w.routes {
            let table = if dst.is_ipv4() { &mut v4 } else { &mut v6 };
            if table.is_none() {
                *table = Some(link::routes(&h, dst.is_ipv6()).await?);
            }
            let routes = table.as_deref().unwrap_or(&[]);
            if !has_route(routes, l.index, *dst, *plen, *gw) {
                let via = gw.map(|g| format!(" via {g}")).unwrap_or_default();
                return Err(fail(format!(
                    "route {dst}/{plen}{via} dev {ifname} is missing"
                )));
            }
        }
        Ok(())
    })
}

/// The agent: its port for this pod's interface, of this sandbox, active.
fn agent_port<'p>(ctx: &Ctx, ports: &'p [PortRecord]) -> CniResultT<&'p PortRecord> {
    let env = &ctx.env;
    let vm_name = ctx.vm_name();
    let mine = ports_of(ports, &vm_name, &env.container_id, &env.ifname);
    let port = mine
        .iter()
        .find(|p| p.vm_ifname == env.ifname)
        .ok_or_else(|| {
            fail(format!(
                "the agent has no port for {vm_name} {}",
                env.ifname
            ))
        })?;
    if port.vm_id != env.container_id {
        return Err(fail(format!(
            "the agent's port for {vm_name} belongs to sandbox {:?}",
            port.vm_id
        )));
    }
    if port.state != PortState::Active {
        return Err(fail(format!(
            "the agent's port {} is {:?}, not active",
            port.vmi_uuid, port.state
        )));
    }
    Ok(port)
}

/// The agent gives `port` the addresses the pod has.
fn check_agent_addresses(ctx: &Ctx, port: &PortRecord, want: &Expected) -> CniResultT<()> {
    let infos = ctx
        .agent
        .vm(&port.vm_uuid)?
        .ok_or_else(|| fail(format!("the agent does not serve GET /vm/{}", port.vm_uuid)))?;
    let info = infos
        .iter()
        .find(|i| i.id == port.vmi_uuid)
        .or(infos.first())
        .ok_or_else(|| {
            fail(format!(
                "the agent has no interface for vm {}",
                port.vm_uuid
            ))
        })?;
    for (ip, _) in &want.addresses {
        let agent_ip = if ip.is_ipv4() {
            &info.ip_address
        } else {
            &info.v6_ip_address
        };
        if agent_ip.parse::<IpAddr>().ok() != Some(*ip) {
            return Err(fail(format!(
                "the agent gives the port address {agent_ip:?}, the pod has {ip}"
            )));
        }
    }
    Ok(())
}

/// The host end: the one the agent binds is prevResult's, and every host end listed
/// there exists.
fn check_host_ends(port: &PortRecord, want: &Expected) -> CniResultT<()> {
    let mut host_ends = want.host_ends.clone();
    if host_ends.is_empty() {
        host_ends.push(port.host_ifname.clone());
    }
    if !host_ends.contains(&port.host_ifname) {
        return Err(fail(format!(
            "the agent binds {}, prevResult lists {}",
            port.host_ifname,
            host_ends.join(", ")
        )));
    }
    for name in &host_ends {
        let n = name.clone();
        if run_rtnl(|h| async move { link::get(&h, &n).await })?.is_none() {
            return Err(fail(format!("host interface {name} not found")));
        }
    }
    Ok(())
}

/// The kernel: it has a vif for the port's host end.
fn check_kernel_vif(port: &PortRecord) -> CniResultT<()> {
    let mut client = vrouter_client::Client::connect().map_err(|e| {
        CniError::new(code::KERNEL, "cannot read the vrouter kernel module's vifs")
            .with_details(e.to_string())
    })?;
    let vifs = client.vif_list(None).map_err(|e| {
        CniError::new(code::KERNEL, "failed to list vifs").with_details(e.to_string())
    })?;
    if !vifs.iter().any(|v| v.name == port.host_ifname) {
        return Err(CniError::new(
            code::KERNEL,
            format!("the kernel has no vif for {}", port.host_ifname),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn prev() -> CniResult {
        CniResult::from_value(&json!({
            "cniVersion":"0.4.0",
            "interfaces":[{"name":"tapeth0-8a2b3c","mac":"02:00:00:00:00:02"},
                          {"name":"eth0","mac":"02:00:00:00:00:01","sandbox":"/var/run/netns/x"}],
            "ips":[{"version":"4","address":"10.32.0.5/12","gateway":"10.47.255.254","interface":1},
                   {"version":"6","address":"fd00::5/64","gateway":"fd00::1","interface":1}],
            "routes":[{"dst":"0.0.0.0/0","gw":"10.47.255.254"},{"dst":"10.1.2.3/16","gw":"10.47.255.254"},
                      {"dst":"10.9.0.0/16","gw":"192.168.1.1"},{"dst":"10.8.0.0/16"}],
            "dns":{}
        }))
        .unwrap()
    }

    #[test]
    fn expectations_from_prev_result() {
        let e = expected(&prev(), "eth0", "/var/run/netns/x").unwrap();
        assert_eq!(e.mac.as_deref(), Some("02:00:00:00:00:01"));
        assert_eq!(e.addresses.len(), 2);
        assert_eq!(
            e.routes[0],
            (
                "0.0.0.0".parse().unwrap(),
                0,
                Some("10.47.255.254".parse().unwrap())
            )
        );
        assert_eq!(
            e.routes[1],
            (
                "10.1.0.0".parse().unwrap(),
                16,
                Some("10.47.255.254".parse().unwrap())
            )
        );
        assert_eq!(
            e.routes.len(),
            2,
            "routes of other interfaces are not ours to check"
        );
        assert_eq!(e.host_ends, vec!["tapeth0-8a2b3c".to_string()]);
        assert_eq!(
            expected(&prev(), "eth1", "/var/run/netns/x")
                .unwrap_err()
                .code,
            code::CHECK_FAILED
        );
        assert_eq!(
            expected(&prev(), "eth0", "/var/run/netns/y")
                .unwrap_err()
                .code,
            code::CHECK_FAILED
        );
    }

    #[test]
    fn route_matching() {
        let r = |dst: &str, plen, gw: Option<&str>, table| Route {
            dst: dst.parse().unwrap(),
            plen,
            gw: gw.map(|g| g.parse().unwrap()),
            oif: Some(2),
            table,
        };
        let routes = vec![
            r("0.0.0.0", 0, Some("10.0.0.1"), 254),
            r("10.0.0.0", 24, None, 254),
            r("0.0.0.0", 0, Some("10.0.0.9"), 100),
        ];
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(has_route(
            &routes,
            2,
            ip("0.0.0.0"),
            0,
            Some(ip("10.0.0.1"))
        ));
        assert!(!has_route(
            &routes,
            3,
            ip("0.0.0.0"),
            0,
            Some(ip("10.0.0.1"))
        ));
        assert!(!has_route(
            &routes,
            2,
            ip("0.0.0.0"),
            0,
            Some(ip("10.0.0.9"))
        ));
        assert!(has_route(&routes, 2, ip("10.0.0.0"), 24, None));
    }
}
