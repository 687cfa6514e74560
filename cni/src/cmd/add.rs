//! ADD: the veth, the agent binding, the addresses and routes in the pod.

use super::Ctx;
use crate::agent::{extra_interfaces, pick_cfg};
use crate::args::{fnv32, host_ifname, temp_peer_name};
use crate::link::{self, Link};
use crate::netns::{self, run_rtnl, Netns};
use crate::spec::{
    code, CniError, CniResult, CniResultT, Dns, Interface, IpConfig, RouteCfg, DEFAULT_MTU,
};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::RawFd;
use tracing::{info, warn};
use vrouter_client::vif::parse_mac;
use vrouter_port_api::{PortAdd, PortInfo, PortRecord, VmCfg};

/// What this invocation created, undone when a later step fails.
#[derive(Default)]
struct Undo {
    /// The host ends we created, by name and index (deleting one deletes the pair; the
    /// index makes sure we never delete a namesake someone else made meanwhile).
    host_links: Vec<(String, u32)>,
    /// The (pod uuid, port) pairs to DELETE at the agent (we posted, or our vm-cfg made
    /// the reservation).
    release: Vec<(String, String)>,
}

impl Undo {
    fn run(&mut self, ctx: &Ctx) {
        for (host, index) in std::mem::take(&mut self.host_links) {
            let name = host.clone();
            match run_rtnl(|h| async move { link::delete_exact(&h, &name, index).await }) {
                Ok(true) => info!(%host, "rollback: deleted the host end"),
                Ok(false) => info!(%host, "rollback: the host end is gone already"),
                Err(e) => warn!(%host, error = %e, "rollback: failed to delete the host end"),
            }
        }
        for (uuid, vmi) in std::mem::take(&mut self.release) {
            match ctx.agent.delete_vmi(&uuid, &vmi, &ctx.env.container_id) {
                Ok(()) => info!(vm_uuid = %uuid, %vmi, "rollback: released the port at the agent"),
                Err(e) => {
                    warn!(vm_uuid = %uuid, %vmi, error = %e, "rollback: failed to release the port at the agent")
                }
            }
        }
    }
}

pub fn add(ctx: &Ctx) -> CniResultT<CniResult> {
    let env = &ctx.env;
    // Chaining: a broken prevResult is refused before anything changes.
    let prev = ctx
        .conf
        .prev_result
        .as_ref()
        .map(CniResult::from_value)
        .transpose()?;
    let ns = Netns::open(&env.netns)?;

    // Nothing may change before this check: an ADD of an existing interface fails clean.
    let ifname = env.ifname.clone();
    if ns
        .rtnl(|h| async move { link::get(&h, &ifname).await })?
        .is_some()
    {
        return Err(CniError::new(
            code::IF_EXISTS,
            format!(
                "interface {} already exists in netns {}",
                env.ifname, env.netns
            ),
        ));
    }

    let vm_name = ctx.vm_name();
    let ports = ctx.agent.ports()?;
    let had_ports = ports.iter().any(|p| p.vm_name == vm_name);
    let cfgs = ctx.agent.vm_cfg(&vm_name, env.args.pod_uid.as_deref())?;
    let mut undo = Undo::default();
    if !had_ports {
        // The reservation is ours: a failed ADD gives it back.
        undo.release = cfgs
            .iter()
            .filter(|c| !c.vm_uuid.is_empty())
            .map(|c| (c.vm_uuid.clone(), c.id.clone()))
            .collect();
    }
    let result = pick_cfg(&cfgs, &env.ifname)
        .ok_or_else(|| {
            CniError::new(
                code::AGENT,
                format!("the agent has no interface for {vm_name}"),
            )
        })
        .and_then(|cfg| {
            let r = add_port(ctx, &ns, &cfg, &env.ifname, 0, &vm_name, &ports, &mut undo)?;
            // The runtime's one ADD makes the pod's extra interfaces too (attachments:
            // net1, ...), so a multi-network pod needs no multus.
            extra_interfaces(&cfgs, &cfg)
                .into_iter()
                .try_fold(r, |r, (ifname, index, extra)| {
                    let more = add_port(
                        ctx, &ns, &extra, &ifname, index, &vm_name, &ports, &mut undo,
                    )?;
                    Ok(CniResult::chained(r, more))
                })
        });
    match result {
        Ok(ours) => Ok(match prev {
            Some(prev) => CniResult::chained(prev, ours),
            None => ours,
        }),
        Err(e) => {
            warn!(error = %e, "ADD failed, rolling back");
            undo.run(ctx);
            Err(e)
        }
    }
}

fn opt_ip<T: std::str::FromStr>(s: &str, what: &str) -> CniResultT<Option<T>> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    s.parse().map(Some).map_err(|_| {
        CniError::new(
            code::AGENT,
            format!("the agent gave an invalid {what} {s:?}"),
        )
    })
}

/// The addressing the agent gave the port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Addressing {
    pub v4: Option<(Ipv4Addr, u8)>,
    pub gw4: Option<Ipv4Addr>,
    pub v6: Option<(Ipv6Addr, u8)>,
    pub gw6: Option<Ipv6Addr>,
    pub dns: Vec<String>,
}

impl Addressing {
    pub(crate) fn from_info(info: &PortInfo) -> CniResultT<Addressing> {
        let v4 = opt_ip::<Ipv4Addr>(&info.ip_address, "ip-address")?;
        if v4.is_some() && info.plen > 32 {
            return Err(CniError::new(
                code::AGENT,
                format!("the agent gave an invalid plen {}", info.plen),
            ));
        }
        let v6 = opt_ip::<Ipv6Addr>(&info.v6_ip_address, "v6-ip-address")?;
        let v6_plen = info.v6_plen.unwrap_or(128);
        if v6_plen > 128 {
            return Err(CniError::new(
                code::AGENT,
                format!("the agent gave an invalid v6-plen {v6_plen}"),
            ));
        }
        if v4.is_none() && v6.is_none() {
            return Err(CniError::new(
                code::AGENT,
                "the agent gave the port no address",
            ));
        }
        let mut dns = Vec::new();
        for s in [&info.dns_server, &info.v6_dns_server] {
            let s = s.trim();
            if !s.is_empty() && s.parse::<IpAddr>().is_ok() && !dns.iter().any(|d| d == s) {
                dns.push(s.to_string());
            }
        }
        Ok(Addressing {
            v4: v4.map(|a| (a, info.plen)),
            gw4: if v4.is_some() {
                opt_ip(&info.gateway, "gateway")?
            } else {
                None
            },
            v6: v6.map(|a| (a, v6_plen)),
            gw6: if v6.is_some() {
                opt_ip(&info.v6_gateway, "v6-gateway")?
            } else {
                None
            },
            dns,
        })
    }

    /// An extra interface's addressing: host-length addresses (every network draws from
    /// the node's pod CIDR, so a subnet route would shadow eth0's), no default route in
    /// the result (its default route lives in the interface's own table), no DNS.
    pub(crate) fn host_only(&self) -> Addressing {
        Addressing {
            v4: self.v4.map(|(a, _)| (a, 32)),
            v6: self.v6.map(|(a, _)| (a, 128)),
            dns: Vec::new(),
            ..self.clone()
        }
    }

    /// The result's ips, routes and dns (interface index 1: the container end).
    pub(crate) fn fill(&self, r: &mut CniResult) {
        if let Some((a, l)) = self.v4 {
            r.ips.push(IpConfig {
                address: format!("{a}/{l}"),
                gateway: self.gw4.map(|g| g.to_string()),
                interface: Some(1),
            });
            if let Some(g) = self.gw4 {
                r.routes.push(route("0.0.0.0/0", g.to_string()));
            }
        }
        if let Some((a, l)) = self.v6 {
            r.ips.push(IpConfig {
                address: format!("{a}/{l}"),
                gateway: self.gw6.map(|g| g.to_string()),
                interface: Some(1),
            });
            if let Some(g) = self.gw6 {
                r.routes.push(route("::/0", g.to_string()));
            }
        }
        r.dns = Dns {
            nameservers: self.dns.clone(),
            ..Default::default()
        };
    }
}

/// The routing table of extra interface `index` (None: the main table, for eth0).
fn extra_table(index: usize) -> Option<u8> {
    (index > 0).then(|| u8::try_from(100 + index).unwrap_or(u8::MAX))
}

fn route(dst: &str, gw: String) -> RouteCfg {
    RouteCfg {
        dst: dst.into(),
        gw: Some(gw),
        mtu: None,
        advmss: None,
        priority: None,
        table: None,
        scope: None,
    }
}

/// A timestamp for PortAdd.time (RFC 3339, UTC).
fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = ((secs / 86400) as i64, secs % 86400);
    // Civil from days (H. Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The host end's name: TF's `tap<ifname>-<uuid prefix>`, unless that name is taken, then
/// a hashed variant. Taken: the agent binds it to another pod (uuid prefixes can collide),
/// or a link of that name exists that the agent does not bind to this pod (another ADD in
/// flight made it: never delete what may be someone else's).
pub(crate) fn choose_host_ifname(
    ifname: &str,
    vm_uuid: &str,
    ports: &[PortRecord],
) -> CniResultT<String> {
    choose_host_devwith(ifname, vm_uuid, ports, |n| {
        std::path::Path::new("/sys/class/net").join(n).exists()
    })
}

fn choose_host_devwith(
    ifname: &str,
    vm_uuid: &str,
    ports: &[PortRecord],
    exists: impl Fn(&str) -> bool,
) -> CniResultT<String> {
    // This interface's own port (an earlier sandbox of the pod): by pod and interface, as
    // two long interface names of one pod can share their first characters.
    let this_port = |p: &PortRecord| p.vm_uuid == vm_uuid && p.vm_ifname == ifname;
    let ours = |name: &str| ports.iter().any(|p| p.host_ifname == name && this_port(p));
    let taken = |name: &str| {
        ports.iter().any(|p| p.host_ifname == name && !this_port(p))
            || (!ours(name) && exists(name))
    };
    let first = host_ifname(ifname, vm_uuid);
    if !taken(&first) {
        return Ok(first);
    }
    for salt in 1u32..=8 {
        // Enough hash to be unique whatever the length of the ifname: tap + 3 + 8 hex.
        let short: String = ifname.chars().take(3).collect();
        let alt = format!(
            "tap{short}{:08x}",
            fnv32(&[vm_uuid.as_bytes(), ifname.as_bytes(), &salt.to_le_bytes()])
        );
        if !taken(&alt) {
            warn!(%first, %alt, "the host end name is bound to another pod; using an alternative");
            return Ok(alt);
        }
    }
    Err(CniError::new(
        code::NETLINK,
        format!("no free host interface name for {ifname} of {vm_uuid}"),
    ))
}

/// Makes interface `ifname` of the pod for `cfg`: index 0 is the pod's main interface
/// (its subnet and default route); an extra interface gets host-length addresses and a
/// routing table of its own, chosen by source address, so what arrives on it is answered
/// through it.
#[allow(clippy::too_many_arguments)]
fn add_port(
    ctx: &Ctx,
    ns: &Netns,
    cfg: &VmCfg,
    ifname: &str,
    index: usize,
    vm_name: &str,
    ports: &[PortRecord],
    undo: &mut Undo,
) -> CniResultT<CniResult> {
    let env = &ctx.env;
    if cfg.vm_uuid.is_empty() || cfg.id.is_empty() {
        return Err(CniError::new(
            code::AGENT,
            "the agent's vm-cfg has no vm-uuid or id",
        ));
    }
    let host = choose_host_ifname(ifname, &cfg.vm_uuid, ports)?;
    let mac = parse_mac(&cfg.mac_address).ok_or_else(|| {
        CniError::new(
            code::AGENT,
            format!("the agent gave an invalid MAC {:?}", cfg.mac_address),
        )
    })?;
    let mtu = ctx.conf.mtu.unwrap_or(DEFAULT_MTU);
    let tmp = temp_peer_name(&env.container_id);

    make_veth(&host, &tmp, mtu, ns.fd(), undo)?;
    configure_container_end(ns, &tmp, ifname, mac, mtu)?;

    let info = bind_port(ctx, cfg, vm_name, &host, ifname, undo)?;
    let addr = Addressing::from_info(&info)?;
    info!(vm_name, %host, ip = %info.ip_address, v6 = %info.v6_ip_address, "agent bound the port");
    let mtu = adopt_agent_mtu(ctx, &info, &host, mtu)?;
    let info_mac = parse_mac(&info.mac_address).filter(|m| *m != mac);

    let addr = if index == 0 { addr } else { addr.host_only() };
    let container = address_container(ns, ifname, index, info_mac, mtu, &addr)?;
    port_result(&host, ifname, &env.netns, &container, &addr, index)
}

/// The veth, in the host netns; the container end (`tmp`) moves into the pod's netns
/// `fd`. The host end is in `undo` as soon as it exists.
fn make_veth(host: &str, tmp: &str, mtu: u32, fd: RawFd, undo: &mut Undo) -> CniResultT<()> {
    let (host, tmp) = (host.to_string(), tmp.to_string());
    run_rtnl(|h| async move {
        // Only this pod's (see choose_host_ifname): an earlier sandbox of this pod
        // that was never DELeted.
        if link::delete(&h, &host).await? {
            warn!(%host, "deleted a stale host end left by an earlier sandbox");
        }
        link::create_veth(&h, &host, &tmp, mtu).await?;
        let host_link = link::get(&h, &host).await?.ok_or_else(|| {
            CniError::new(code::NETLINK, format!("the new host end {host} vanished"))
        })?;
        undo.host_links.push((host.clone(), host_link.index));
        let peer = link::get(&h, &tmp).await?.ok_or_else(|| {
            CniError::new(
                code::NETLINK,
                format!("the new container end {tmp} vanished"),
            )
        })?;
        link::set_up(&h, host_link.index).await?;
        link::move_to_netns(&h, peer.index, fd).await
    })
}

/// The container end, arrived in the pod's netns as `tmp`: renamed to `ifname`, given
/// `mac` and `mtu`, IPv6 settings, and brought up.
fn configure_container_end(
    ns: &Netns,
    tmp: &str,
    ifname: &str,
    mac: [u8; 6],
    mtu: u32,
) -> CniResultT<()> {
    let (tmp, ifname) = (tmp.to_string(), ifname.to_string());
    ns.rtnl(move |h| async move {
        let l = link::get(&h, &tmp).await?.ok_or_else(|| {
            CniError::new(code::NETLINK, format!("{tmp} did not arrive in the netns"))
        })?;
        link::configure(&h, l.index, &ifname, Some(mac), mtu).await?;
        // IPv6 usable at once: no DAD, no autoconfiguration from stray RAs.
        for (key, val) in [("accept_dad", "0"), ("accept_ra", "0")] {
            if let Err(e) = netns::write_sysctl(&format!("net/ipv6/conf/{ifname}/{key}"), val) {
                tracing::debug!(%ifname, key, error = %e, "sysctl not set (IPv6 disabled?)");
            }
        }
        link::set_up(&h, l.index).await
    })
}

/// Bind at the agent; it programs the kernel before it answers. Returns the port's
/// addressing as the agent serves it.
fn bind_port(
    ctx: &Ctx,
    cfg: &VmCfg,
    vm_name: &str,
    host: &str,
    ifname: &str,
    undo: &mut Undo,
) -> CniResultT<PortInfo> {
    let env = &ctx.env;
    let add = PortAdd {
        time: now_rfc3339(),
        vm_id: env.container_id.clone(),
        vm_uuid: cfg.vm_uuid.clone(),
        vm_name: vm_name.to_string(),
        host_ifname: host.to_string(),
        vm_ifname: ifname.to_string(),
        vm_namespace: env.netns.clone(),
        vn_uuid: cfg.vn_id.clone(),
        vmi_uuid: cfg.id.clone(),
    };
    let missing = add.missing_fields();
    if !missing.is_empty() {
        return Err(CniError::new(
            code::AGENT,
            format!("the agent's vm-cfg lacks {}", missing.join(", ")),
        ));
    }
    // A POST that timed out may still have been applied: release from here on.
    let mine = (cfg.vm_uuid.clone(), cfg.id.clone());
    if !undo.release.contains(&mine) {
        undo.release.push(mine);
    }
    ctx.agent.post_vm(&add)?;
    Ok(ctx.agent.wait_vm(&cfg.vm_uuid, &cfg.id)?)
}

/// An MTU from the agent applies when the config sets none: the host end takes it here.
/// Returns the MTU for the container end.
fn adopt_agent_mtu(ctx: &Ctx, info: &PortInfo, host: &str, mtu: u32) -> CniResultT<u32> {
    if let (None, Some(m)) = (ctx.conf.mtu, info.mtu) {
        if m != mtu && (68..=65535).contains(&m) {
            let host = host.to_string();
            run_rtnl(|h| async move {
                let l = link::get(&h, &host).await?.ok_or_else(|| {
                    CniError::new(code::NETLINK, format!("the host end {host} vanished"))
                })?;
                link::set_mtu(&h, l.index, m).await
            })?;
            return Ok(m);
        }
    }
    Ok(mtu)
}

/// The container end's MAC (when the agent's differs from vm-cfg's) and MTU, its
/// addresses and its default routes (in table [`extra_table`] for an extra interface,
/// chosen by source address). Returns the link as it is then.
fn address_container(
    ns: &Netns,
    ifname: &str,
    index: usize,
    info_mac: Option<[u8; 6]>,
    mtu: u32,
    addr: &Addressing,
) -> CniResultT<Link> {
    let (dev, a) = (ifname.to_string(), addr.clone());
    ns.rtnl(move |h| async move {
        let l = link::get(&h, &dev).await?.ok_or_else(|| {
            CniError::new(code::NETLINK, format!("{dev} vanished from the netns"))
        })?;
        if let Some(m) = info_mac {
            link::set_mac(&h, l.index, m).await?;
        }
        if l.mtu != Some(mtu) {
            link::set_mtu(&h, l.index, mtu).await?;
        }
        let table = extra_table(index);
        let gws = [(
            a.v4.map(|(ip, l)| (IpAddr::V4(ip), l)),
            a.gw4.map(IpAddr::V4),
            IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        )];
        let gws6 = [(
            a.v6.map(|(ip, l)| (IpAddr::V6(ip), l)),
            a.gw6.map(IpAddr::V6),
            IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        )];
        for (local, gw, any) in gws.into_iter().chain(gws6) {
            let Some((ip, plen)) = local else { continue };
            link::add_address(&h, l.index, ip, plen).await?;
            let Some(g) = gw else { continue };
            match table {
                None => link::add_route(&h, l.index, any, 0, Some(g), Some((ip, plen))).await?,
                Some(t) => {
                    link::add_route_in(&h, t, l.index, any, 0, Some(g), Some((ip, plen))).await?;
                    link::add_source_rule(&h, ip, t, u32::from(t)).await?;
                }
            }
        }
        link::get(&h, &dev)
            .await?
            .ok_or_else(|| CniError::new(code::NETLINK, format!("{dev} vanished from the netns")))
    })
}

/// The CNI result of one interface: the host end (read back for its MAC), the container
/// end in `netns`, and `addr`.
fn port_result(
    host: &str,
    ifname: &str,
    netns: &str,
    container: &Link,
    addr: &Addressing,
    index: usize,
) -> CniResultT<CniResult> {
    let host_name = host.to_string();
    let host_link = run_rtnl(|h| async move { link::get(&h, &host_name).await })?
        .ok_or_else(|| CniError::new(code::NETLINK, format!("the host end {host} vanished")))?;

    let mut r = CniResult {
        interfaces: vec![
            Interface {
                name: host.to_string(),
                mac: host_link.mac_string(),
                ..Default::default()
            },
            Interface {
                name: ifname.to_string(),
                mac: container.mac_string(),
                mtu: container.mtu,
                sandbox: Some(netns.to_string()),
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    addr.fill(&mut r);
    if index > 0 {
        r.routes.clear(); // in the interface's own table, not the main one the result means
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Version;
    use serde_json::json;

    fn info() -> PortInfo {
        PortInfo {
            id: "vmi".into(),
            instance_id: "u".into(),
            vn_id: "vn".into(),
            vm_project_id: String::new(),
            mac_address: "02:00:00:00:00:01".into(),
            system_name: "tapeth0-u".into(),
            rx_vlan_id: -1,
            tx_vlan_id: -1,
            ip_address: "10.32.0.5".into(),
            plen: 12,
            dns_server: "10.47.255.253".into(),
            gateway: "10.47.255.254".into(),
            v6_ip_address: "fd00::5".into(),
            v6_plen: Some(64),
            v6_dns_server: "fd00::3".into(),
            v6_gateway: "fd00::1".into(),
            mtu: None,
        }
    }

    #[test]
    fn addressing_into_result() {
        let a = Addressing::from_info(&info()).unwrap();
        let mut r = CniResult::default();
        a.fill(&mut r);
        let v = r.to_value(Version::V110);
        assert_eq!(
            v["ips"],
            json!([{"address":"10.32.0.5/12","gateway":"10.47.255.254","interface":1},
                   {"address":"fd00::5/64","gateway":"fd00::1","interface":1}])
        );
        assert_eq!(
            v["routes"],
            json!([{"dst":"0.0.0.0/0","gw":"10.47.255.254"},{"dst":"::/0","gw":"fd00::1"}])
        );
        assert_eq!(v["dns"], json!({"nameservers":["10.47.255.253","fd00::3"]}));
    }

    #[test]
    fn addressing_v4_only_and_errors() {
        let mut i = info();
        i.v6_ip_address.clear();
        i.v6_gateway.clear();
        i.v6_dns_server.clear();
        let a = Addressing::from_info(&i).unwrap();
        assert!(a.v6.is_none() && a.gw6.is_none());
        assert_eq!(a.dns, vec!["10.47.255.253".to_string()]);
        i.ip_address = "nope".into();
        assert_eq!(Addressing::from_info(&i).unwrap_err().code, code::AGENT);
        i.ip_address.clear();
        assert_eq!(Addressing::from_info(&i).unwrap_err().code, code::AGENT);
        let mut i = info();
        i.plen = 40;
        assert!(Addressing::from_info(&i).is_err());
    }

    #[test]
    fn host_devavoids_other_pods() {
        let mut other = crate::cmd::tests::record("k8s__a__other", "c9", "eth0");
        other.host_ifname = "tapeth0-8a2b3c".into();
        other.vm_uuid = "8a2b3c99-0000".into();
        // Free, or held by this pod's own earlier sandbox: TF's name.
        assert_eq!(
            choose_host_ifname("eth0", "8a2b3c4d-1111", &[]).unwrap(),
            "tapeth0-8a2b3c"
        );
        let mut mine = other.clone();
        mine.vm_uuid = "8a2b3c4d-1111".into();
        assert_eq!(
            choose_host_ifname("eth0", "8a2b3c4d-1111", &[mine]).unwrap(),
            "tapeth0-8a2b3c"
        );
        // Held by another pod: a different, valid, stable name.
        let alt =
            choose_host_ifname("eth0", "8a2b3c4d-1111", std::slice::from_ref(&other)).unwrap();
        assert_ne!(alt, "tapeth0-8a2b3c");
        assert!(alt.starts_with("tapeth") && alt.len() == 14, "{alt}");
        assert_eq!(
            alt,
            choose_host_ifname("eth0", "8a2b3c4d-1111", &[other]).unwrap()
        );
        // Another interface of this pod whose name starts the same: not ours either.
        let mut sibling = crate::cmd::tests::record("k8s__a__web", "c1", "net1longname");
        sibling.vm_uuid = "8a2b".into();
        sibling.host_ifname = host_ifname("net1longname", "8a2b");
        let second = choose_host_ifname("net1longnamf", "8a2b", &[sibling]).unwrap();
        assert_ne!(second, host_ifname("net1longname", "8a2b"));
        // A link of that name that no port of this pod holds (an ADD in flight): not ours.
        let exists = |n: &str| n == "tapeth0-8a2b3c";
        assert_ne!(
            choose_host_devwith("eth0", "8a2b3c4d-1111", &[], exists).unwrap(),
            "tapeth0-8a2b3c"
        );
    }

    #[test]
    fn timestamps() {
        let t = now_rfc3339();
        assert_eq!(t.len(), 20, "{t}");
        assert!(t.starts_with("20") && t.ends_with('Z'));
    }
}
