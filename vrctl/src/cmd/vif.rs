//! `vrctl vif` (TF `vif`): list, show, attach, detach vifs and create the vhost device.

use super::{json, mac_arg, usage};
use crate::Failure;
use clap::ArgGroup;
use std::fmt::Write;
use std::net::{Ipv4Addr, Ipv6Addr};
use vrouter_client::{Client, Vif, VifAdd, VifSelector};
use vrouter_uapi::{vif_flag, vif_type};

/// Human names of the vif flags for the `Flags:` legend of `vif --list`.
const VIF_FLAG_NAMES: &[(u32, &str)] = &[
    (vif_flag::POLICY, "Policy"),
    (vif_flag::XCONNECT, "Cross Connect"),
    (vif_flag::SERVICE_IF, "Service Chain"),
    (vif_flag::MIRROR_RX, "Receive Mirror"),
    (vif_flag::MIRROR_TX, "Transmit Mirror"),
    (vif_flag::TX_CSUM_OFFLOAD, "Transmit Checksum Offload"),
    (vif_flag::L3_ENABLED, "Layer 3"),
    (vif_flag::L2_ENABLED, "Layer 2"),
    (vif_flag::DHCP_ENABLED, "DHCP"),
    (vif_flag::VHOST_PHYS, "Vhost Physical"),
    (vif_flag::PROMISCUOUS, "Promiscuous"),
    (vif_flag::NATIVE_VLAN_TAG, "Native Vlan Tagged"),
    (vif_flag::NO_ARP_PROXY, "No MAC Proxy"),
    (vif_flag::PMD, "DPDK PMD Interface"),
    (vif_flag::FILTERING_OFFLOAD, "Receive Filtering Offload"),
    (vif_flag::MONITORED, "Interface is Monitored"),
    (vif_flag::UNKNOWN_UC_FLOOD, "Unknown Unicast Flood"),
    (vif_flag::VLAN_OFFLOAD, "Vlan Offload"),
    (vif_flag::DROP_NEW_FLOWS, "Drop New Flows"),
    (vif_flag::MAC_LEARN, "MAC Learning Enabled"),
    (vif_flag::MAC_PROXY, "MAC Proxy"),
    (vif_flag::ETREE_ROOT, "Etree Root"),
];

#[derive(clap::Args)]
#[command(group(ArgGroup::new("op").required(true).args(["list", "get", "add", "delete", "create"])))]
pub(crate) struct VifArgs {
    /// List all vifs
    #[arg(long, short = 'l')]
    list: bool,
    /// Show one vif by index
    #[arg(long, value_name = "IDX")]
    get: Option<u32>,
    /// Attach a net_device as a vif
    #[arg(long, value_name = "IFNAME")]
    add: Option<String>,
    /// Detach a vif, by index or interface name
    #[arg(long, value_name = "IDX|IFNAME")]
    delete: Option<String>,
    /// Create the vhost device (a host vif) with --mac
    #[arg(long, value_name = "NAME")]
    create: Option<String>,
    /// Vif type for --add
    #[arg(long = "type", value_parser = ["virtual", "physical", "agent", "vhost"])]
    kind: Option<String>,
    /// VRF for --add
    #[arg(long)]
    vrf: Option<u32>,
    /// MAC address for --add/--create
    #[arg(long)]
    mac: Option<String>,
    /// IPv4 address of the vif (--add/--create)
    #[arg(long, value_name = "ADDR")]
    ip: Option<String>,
    /// IPv6 address of the vif (--add/--create)
    #[arg(long, value_name = "ADDR")]
    ip6: Option<String>,
    /// Enable policy (flow lookup) on the vif
    #[arg(long)]
    policy: bool,
    /// Vif index to use for --add/--create (default: first free)
    #[arg(long = "vif", value_name = "IDX")]
    idx: Option<u32>,
    /// Show one CPU's counters
    #[arg(long)]
    core: Option<u32>,
    /// JSON output
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(a: VifArgs) -> Result<String, Failure> {
    let mac = mac_arg(a.mac.as_deref())?;
    let ip =
        a.ip.as_deref()
            .map(|s| {
                s.parse::<Ipv4Addr>()
                    .map_err(|_| usage(format!("bad IPv4 address {s:?}")))
            })
            .transpose()?;
    let ip6 = a
        .ip6
        .as_deref()
        .map(|s| {
            s.parse::<Ipv6Addr>()
                .map_err(|_| usage(format!("bad IPv6 address {s:?}")))
        })
        .transpose()?;
    let mut c = Client::connect()?;
    if a.list {
        let vifs = c.vif_list(a.core)?;
        return Ok(if a.json { json(&vifs) } else { vif_list(&vifs) });
    }
    if let Some(idx) = a.get {
        let v = c.vif_get(&VifSelector::Index(idx), a.core)?;
        return Ok(if a.json {
            json(&v)
        } else {
            vif_list(std::slice::from_ref(&v))
        });
    }
    if let Some(which) = a.delete {
        c.vif_del(&VifSelector::parse(&which))?;
        return Ok(String::new());
    }
    let (name, kind) = match (a.add, a.create) {
        (Some(n), None) => {
            let kind = match a.kind.as_deref() {
                Some("virtual") => vif_type::VIRTUAL,
                Some("physical") => vif_type::PHYSICAL,
                Some("agent") => vif_type::AGENT,
                Some("vhost") => vif_type::HOST,
                _ => return Err(usage("--add needs --type virtual|physical|agent|vhost")),
            };
            (n, kind)
        }
        (None, Some(n)) => {
            if mac.is_none() {
                return Err(usage("--create needs --mac"));
            }
            (n, vif_type::HOST)
        }
        _ => return Err(usage("one of --list, --get, --add, --delete, --create")),
    };
    let mut flags = vif_flag::L3_ENABLED | vif_flag::L2_ENABLED;
    if a.policy {
        flags |= vif_flag::POLICY;
    }
    let req = VifAdd {
        idx: a.idx,
        kind,
        name: Some(name),
        vrf: a.vrf.unwrap_or(0),
        mac,
        flags,
        ip,
        ip6,
        ..Default::default()
    };
    let v = c.vif_add(&req)?;
    Ok(if a.json {
        json(&v)
    } else {
        format!("vif0/{} {}\n", v.idx, v.name)
    })
}

/// `vif --list` / `vif --get`: the header with the flag legend, then one block per vif.
fn vif_list(vifs: &[Vif]) -> String {
    let mut out = String::from("Vrouter Interface Table\n\nFlags: ");
    for (i, (bit, name)) in VIF_FLAG_NAMES.iter().enumerate() {
        let sym = vif_flag::DEF.by_value(*bit).map_or("?", |e| e.2);
        if i > 0 {
            out.push_str(if i % 4 == 0 { "\n       " } else { ", " });
        }
        let _ = write!(out, "{sym}={name}");
    }
    out.push_str("\n\n");
    for v in vifs {
        vif_block(&mut out, v);
    }
    out
}

fn flag_symbols(flags: u32) -> String {
    let s: String = vif_flag::DEF
        .entries
        .iter()
        .filter(|e| flags & e.1 != 0)
        .map(|e| e.2)
        .collect();
    if s.is_empty() {
        "NULL".into()
    } else {
        s
    }
}

fn vif_block(out: &mut String, v: &Vif) {
    let head = format!("vif{}/{}", v.rid, v.idx);
    let _ = write!(out, "{head:<12}OS: {}", v.name);
    if v.nh_id != 0 {
        let _ = write!(out, " NH: {}", v.nh_id);
    }
    out.push('\n');
    let _ = writeln!(
        out,
        "            Type:{} HWaddr:{} IPaddr:{}",
        v.type_name, v.mac, v.ip
    );
    if let Some(ip6) = v.ip6 {
        let _ = writeln!(out, "            IP6addr:{ip6}");
    }
    let _ = writeln!(
        out,
        "            Vrf:{} Mcast Vrf:{} Flags:{} QOS:{} Ref:{}",
        v.vrf,
        v.mcast_vrf,
        flag_symbols(v.flags),
        v.qos,
        v.ref_cnt
    );
    let s = &v.stats;
    let _ = writeln!(
        out,
        "            RX packets:{}  bytes:{} errors:{}",
        s.rx_packets, s.rx_bytes, s.rx_errors
    );
    let _ = writeln!(
        out,
        "            TX packets:{}  bytes:{} errors:{}",
        s.tx_packets, s.tx_bytes, s.tx_errors
    );
    let _ = writeln!(out, "            Drops:{}", s.drops);
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use vrouter_client::VifCounters;

    fn sample() -> Vec<Vif> {
        vec![
            Vif {
                idx: 0,
                rid: 0,
                kind: 2,
                type_name: "Physical".into(),
                os_idx: 2,
                name: "eth0".into(),
                vrf: 0,
                mcast_vrf: 65535,
                mac: "50:6b:8d:9c:df:bb".into(),
                flags: 0x20 | 0x40 | 0x80 | 0x200 | 0x200000,
                mtu: 1500,
                ip: Ipv4Addr::UNSPECIFIED,
                ip6: None,
                nh_id: 4,
                qos: -1,
                ref_cnt: 4,
                stats: VifCounters {
                    rx_packets: 91040837,
                    rx_bytes: 29732460214,
                    rx_errors: 46004,
                    tx_packets: 106475,
                    tx_bytes: 15589023,
                    tx_errors: 0,
                    drops: 46004,
                },
            },
            Vif {
                idx: 3,
                rid: 0,
                kind: 3,
                type_name: "Virtual".into(),
                os_idx: 7,
                name: "tapeth0-8a2b3c".into(),
                vrf: 2,
                mcast_vrf: 65535,
                mac: "00:00:5e:00:01:00".into(),
                flags: 0x1 | 0x40 | 0x80 | 0x100,
                mtu: 1500,
                ip: Ipv4Addr::new(10, 47, 255, 251),
                ip6: None,
                nh_id: 21,
                qos: -1,
                ref_cnt: 6,
                stats: VifCounters {
                    rx_packets: 1042,
                    rx_bytes: 98340,
                    rx_errors: 0,
                    tx_packets: 1011,
                    tx_bytes: 95014,
                    tx_errors: 0,
                    drops: 3,
                },
            },
        ]
    }

    #[test]
    fn vif_list_matches_golden() {
        let golden = include_str!("../../tests/golden/vif_list.txt");
        assert_eq!(vif_list(&sample()), golden);
    }

    #[test]
    fn empty_flags_print_null() {
        assert_eq!(flag_symbols(0), "NULL");
        assert_eq!(flag_symbols(0x1 | 0x40 | 0x80 | 0x100), "PL3L2D");
    }
}
