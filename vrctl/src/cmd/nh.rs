//! `vrctl nh` (TF `nh`): list, show, create and delete nexthops.

use super::{family_arg, json, mac_arg, usage};
use crate::Failure;
use clap::ArgGroup;
use std::fmt::Write;
use std::net::IpAddr;
use vrouter_client::nh::{
    eth_header, family_name, flag_names, hex_bytes, parse_hex_bytes, parse_type,
};
use vrouter_client::{Client, Nexthop, NexthopAdd};
use vrouter_uapi::{addr_family, nh_flag, nh_type, VROUTER_MAC};

#[derive(clap::Args)]
#[command(group(ArgGroup::new("op").required(true).args(["list", "get", "create", "delete"])))]
pub(crate) struct NhArgs {
    /// List all nexthops
    #[arg(long)]
    list: bool,
    /// Show one nexthop (and a composite's members)
    #[arg(long, value_name = "ID")]
    get: Option<u32>,
    /// Create (or replace) nexthop ID
    #[arg(long, value_name = "ID")]
    create: Option<u32>,
    /// Delete nexthop ID
    #[arg(long, value_name = "ID")]
    delete: Option<u32>,
    /// 1 rcv | 2 encap | 3 tunnel | 4 resolve | 5 discard | 6 composite | 7 vrf-translate | 8 l2rcv
    #[arg(long = "type", value_name = "TYPE")]
    kind: Option<String>,
    /// Outgoing vif index (rcv, encap, l2rcv; tunnel: the fabric vif)
    #[arg(long, value_name = "VIF")]
    oif: Option<u32>,
    /// Encap, tunnel: source MAC (default: the vRouter MAC 00:00:5e:00:01:00)
    #[arg(long, value_name = "MAC")]
    smac: Option<String>,
    /// Encap: destination MAC (tunnel: the underlay next hop's; without it a tunnel sends nothing)
    #[arg(long, value_name = "MAC")]
    dmac: Option<String>,
    /// Tunnel: source address (this node's fabric address), IPv4 or IPv6
    #[arg(long, value_name = "IP")]
    sip: Option<String>,
    /// Tunnel: destination address (the remote node)
    #[arg(long, value_name = "IP")]
    dip: Option<String>,
    /// Tunnel: MPLS over UDP (without --udp or --vxlan: MPLS over GRE, as TF)
    #[arg(long)]
    udp: bool,
    /// Tunnel: VXLAN
    #[arg(long)]
    vxlan: bool,
    /// Encap: 802.1Q VLAN id to push
    #[arg(long, value_name = "ID")]
    vlan: Option<u16>,
    /// Encap: the raw header to push, hex bytes ("02 c2 23 ..."), instead of --smac/--dmac
    #[arg(long = "encap-hex", value_name = "HEX")]
    encap_hex: Option<String>,
    /// Composite member nexthop (repeat)
    #[arg(long, value_name = "NH")]
    cni: Vec<u32>,
    /// Label of the member at the same position (repeat)
    #[arg(long, value_name = "LABEL")]
    lbl: Vec<u32>,
    /// Composite: ECMP
    #[arg(long)]
    ecmp: bool,
    /// Policy (flow lookup)
    #[arg(long)]
    pol: bool,
    /// VRF of the nexthop
    #[arg(long)]
    vrf: Option<u32>,
    /// inet (default; a tunnel: the family of --sip) or inet6
    #[arg(long)]
    family: Option<String>,
    /// JSON output
    #[arg(long)]
    json: bool,
}

/// The NH_NEW request of `nh --create`, checked before anything is sent.
fn nh_request(a: &NhArgs, id: u32) -> Result<NexthopAdd, Failure> {
    let t = a
        .kind
        .as_deref()
        .ok_or_else(|| usage("--create needs --type"))?;
    let kind = parse_type(t).ok_or_else(|| {
        usage(format!("unknown nexthop type {t:?} (rcv, encap, tunnel, resolve, discard, composite, vrf-translate, l2rcv or 1..8)"))
    })?;
    let mut flags = 0;
    if a.pol {
        flags |= nh_flag::POLICY;
    }
    if a.ecmp {
        flags |= nh_flag::COMPOSITE_ECMP;
    }
    let smac = mac_arg(a.smac.as_deref())?;
    let dmac = mac_arg(a.dmac.as_deref())?;
    if a.vlan.is_some_and(|v| v > 4095) {
        return Err(usage(format!(
            "bad VLAN id {} (0..4095)",
            a.vlan.unwrap_or(0)
        )));
    }
    let encap = match &a.encap_hex {
        Some(h) => parse_hex_bytes(h).ok_or_else(|| usage(format!("bad hex bytes {h:?}")))?,
        None => match dmac {
            Some(d) => eth_header(d, smac.unwrap_or(VROUTER_MAC), a.vlan),
            None if kind == nh_type::ENCAP => {
                return Err(usage("an encap nexthop needs --dmac (or --encap-hex)"))
            }
            None => Vec::new(),
        },
    };
    if a.lbl.len() > a.cni.len() {
        return Err(usage("more --lbl than --cni"));
    }
    let ip = |s: &Option<String>| {
        s.as_deref()
            .map(|s| {
                s.parse::<IpAddr>()
                    .map_err(|_| usage(format!("bad IP address {s:?}")))
            })
            .transpose()
    };
    let (sip, dip) = (ip(&a.sip)?, ip(&a.dip)?);
    if kind == nh_type::TUNNEL {
        if sip.is_none() || dip.is_none() {
            return Err(usage("a tunnel nexthop needs --sip and --dip"));
        }
        // TF's nh: --udp is MPLSoUDP, --vxlan VXLAN, neither MPLSoGRE
        flags |= match (a.udp, a.vxlan) {
            (true, true) => return Err(usage("--udp and --vxlan exclude each other")),
            (true, false) => nh_flag::TUNNEL_UDP_MPLS,
            (false, true) => nh_flag::TUNNEL_VXLAN,
            (false, false) => nh_flag::TUNNEL_GRE,
        };
    } else if sip.is_some() || dip.is_some() || a.udp || a.vxlan {
        return Err(usage(
            "--sip, --dip, --udp and --vxlan go with --type tunnel",
        ));
    }
    // A tunnel's family is its addresses' unless --family says otherwise (the kernel
    // refuses addresses of another family).
    let family = match (family_arg(a.family.as_deref())?, sip) {
        (Some(f), _) => f,
        (None, Some(IpAddr::V6(_))) => addr_family::INET6,
        (None, _) => addr_family::INET,
    };
    Ok(NexthopAdd {
        id,
        kind,
        family,
        flags,
        vrf: a.vrf.unwrap_or(0),
        oif: a.oif,
        encap,
        members: a.cni.clone(),
        labels: a.lbl.clone(),
        tun_sip: sip,
        tun_dip: dip,
    })
}

pub(crate) fn run(a: NhArgs) -> Result<String, Failure> {
    let req = a.create.map(|id| nh_request(&a, id)).transpose()?;
    let mut c = Client::connect()?;
    if a.list {
        let v = c.nh_dump()?;
        return Ok(if a.json { json(&v) } else { nh_list(&v) });
    }
    if let Some(id) = a.get {
        let n = c.nh_get(id)?;
        if a.json {
            return Ok(json(&n));
        }
        // as TF: a composite's members follow it
        let mut all = vec![n];
        for m in all[0].members.clone() {
            if let Ok(x) = c.nh_get(m) {
                all.push(x);
            }
        }
        return Ok(nh_list(&all));
    }
    if let Some(id) = a.delete {
        c.nh_del(id)?;
        return Ok(String::new());
    }
    let Some(req) = req else {
        return Err(usage("one of --list, --get, --create, --delete"));
    };
    let n = c.nh_add(&req)?;
    Ok(if a.json { json(&n) } else { String::new() })
}

/// TF's `nh_print_newline_header`: a newline and 14 spaces.
const NH_INDENT: &str = "\n              ";

/// `nh --list`: one record per nexthop, each followed by a blank line.
fn nh_list(nhs: &[Nexthop]) -> String {
    let mut out = String::new();
    for nh in nhs {
        nh_record(&mut out, nh);
    }
    out
}

fn nh_record(out: &mut String, nh: &Nexthop) {
    let _ = write!(
        out,
        "Id:{:<9}  Type:{:<13}  Fmly:{:>8}  Rid:{}  Ref_cnt:{:<10} Vrf:{}",
        nh.id,
        nh.type_name(),
        family_name(nh.family),
        nh.rid,
        nh.ref_cnt,
        nh.vrf
    );
    out.push_str(NH_INDENT);
    out.push_str("Flags:");
    if nh.flags == 0 {
        out.push_str("None");
    } else {
        // TF appends "Name, " per flag; the trailing space is dropped here
        for name in flag_names(nh.flags, nh.kind) {
            let _ = write!(out, "{name}, ");
        }
        truncate_trailing_space(out);
    }
    let oif = nh.oif.unwrap_or(0);
    match nh.kind {
        nh_type::RECEIVE | nh_type::L2_RECEIVE => {
            let _ = write!(out, "{NH_INDENT}Oif:{oif}");
        }
        nh_type::ENCAP => {
            let _ = write!(
                out,
                "{NH_INDENT}EncapFmly:{:04x} Oif:{oif} Len:{}",
                0,
                nh.encap.len()
            );
            let _ = write!(out, "{NH_INDENT}Encap Data: {}", hex_bytes(&nh.encap));
            truncate_trailing_space(out);
        }
        nh_type::TUNNEL => {
            let _ = write!(
                out,
                "{NH_INDENT}Oif:{oif} Len:{} Data:{}",
                nh.encap.len(),
                hex_bytes(&nh.encap)
            );
            // TF: `Sip:%s Dip:%s` for AF_INET, `Sip: %s Dip: %s` for AF_INET6
            match (nh.tun_sip, nh.tun_dip) {
                (Some(s @ IpAddr::V4(_)), Some(d)) => {
                    let _ = write!(out, "{NH_INDENT}Sip:{s} Dip:{d}");
                }
                (Some(s), Some(d)) => {
                    let _ = write!(out, "{NH_INDENT}Sip: {s} Dip: {d}");
                }
                _ => {}
            }
        }
        nh_type::VRF_TRANSLATE => {
            let _ = write!(out, "{NH_INDENT}Vrf:{}", nh.vrf);
        }
        nh_type::COMPOSITE => {
            let _ = write!(out, "{NH_INDENT}Sub NH(label):");
            let mut printed = 0;
            for (i, m) in nh.members.iter().enumerate() {
                if printed > 60 {
                    // TF: a newline header, then 14 more spaces
                    let _ = write!(out, "{NH_INDENT}{:14}", "");
                    printed = 0;
                }
                let item = format!(" {m}({})", nh.labels.get(i).copied().unwrap_or(0));
                printed += item.len();
                out.push_str(&item);
            }
        }
        _ => {}
    }
    out.push_str("\n\n");
}

fn truncate_trailing_space(s: &mut String) {
    let n = s.trim_end_matches(' ').len();
    s.truncate(n);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::golden;

    fn nh(id: u32, kind: u32, flags: u32) -> Nexthop {
        Nexthop {
            id,
            kind,
            family: addr_family::INET,
            flags,
            vrf: 0,
            oif: None,
            encap: vec![],
            members: vec![],
            labels: vec![],
            ref_cnt: 1,
            rid: 0,
            tun_sip: None,
            tun_dip: None,
        }
    }

    fn nexthops() -> Vec<Nexthop> {
        use crate::cmd::ip;
        use vrouter_client::nh::eth_header;
        use vrouter_uapi::nh_flag::{
            COMPOSITE_ECMP, POLICY, TUNNEL_GRE, TUNNEL_UDP_MPLS, TUNNEL_VXLAN, VALID,
        };
        let pod = [2, 0xc2, 0x23, 0x4c, 0xd0, 0x55];
        vec![
            Nexthop {
                ref_cnt: 1021,
                ..nh(0, nh_type::DISCARD, VALID)
            },
            Nexthop {
                oif: Some(0),
                ref_cnt: 4,
                ..nh(1, nh_type::RECEIVE, VALID)
            },
            Nexthop {
                ref_cnt: 0,
                ..nh(2, nh_type::RESOLVE, 0)
            },
            Nexthop {
                vrf: 2,
                oif: Some(0),
                ..nh(3, nh_type::L2_RECEIVE, VALID)
            },
            Nexthop {
                vrf: 5,
                oif: Some(5),
                encap: eth_header(pod, vrouter_uapi::VROUTER_MAC, None),
                ..nh(38, nh_type::ENCAP, VALID | POLICY)
            },
            Nexthop {
                family: addr_family::INET6,
                vrf: 5,
                oif: Some(6),
                encap: eth_header(pod, vrouter_uapi::VROUTER_MAC, Some(100)),
                ref_cnt: 12345,
                ..nh(39, nh_type::ENCAP, VALID | COMPOSITE_ECMP)
            },
            Nexthop {
                members: vec![61, 51],
                labels: vec![34, 34],
                ref_cnt: 2,
                ..nh(40, nh_type::COMPOSITE, VALID | COMPOSITE_ECMP)
            },
            Nexthop {
                vrf: 1,
                members: vec![11, 13],
                ..nh(41, nh_type::COMPOSITE, VALID | COMPOSITE_ECMP)
            },
            Nexthop {
                members: (100..124).collect(),
                labels: (0..24).map(|i| 1000 + i).collect(),
                ..nh(42, nh_type::COMPOSITE, VALID)
            },
            Nexthop {
                vrf: 7,
                ..nh(43, nh_type::VRF_TRANSLATE, VALID)
            },
            Nexthop {
                family: addr_family::INET6,
                ref_cnt: 2,
                oif: Some(1),
                encap: vec![0x52, 0x54, 0, 0x60, 0x8b, 0x33],
                tun_sip: Some(ip("fd00:ff::1")),
                tun_dip: Some(ip("fd00:ff::2")),
                ..nh(23, nh_type::TUNNEL, VALID | TUNNEL_VXLAN)
            },
            // cli-formats.md's Tunnel sample
            Nexthop {
                oif: Some(0),
                encap: eth_header(
                    [0x00, 0x1b, 0x21, 0xbb, 0xf9, 0x46],
                    [0x00, 0x1b, 0x21, 0xbb, 0xf9, 0x48],
                    None,
                ),
                tun_sip: Some(ip("8.0.0.2")),
                tun_dip: Some(ip("8.0.0.3")),
                ..nh(21, nh_type::TUNNEL, VALID | TUNNEL_UDP_MPLS)
            },
            Nexthop {
                oif: Some(2),
                tun_sip: Some(ip("10.0.0.1")),
                tun_dip: Some(ip("10.0.0.2")),
                ..nh(24, nh_type::TUNNEL, VALID | TUNNEL_GRE | POLICY)
            },
        ]
    }

    fn args(extra: &[&str]) -> NhArgs {
        use clap::{FromArgMatches, Parser};
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            nh: NhArgs,
        }
        let argv = ["nh", "--create", "30"].iter().chain(extra);
        let m = <Cli as clap::CommandFactory>::command().get_matches_from(argv);
        Cli::from_arg_matches(&m).unwrap().nh
    }

    #[test]
    fn tunnel_create_options_follow_tf() {
        let base = [
            "--type", "3", "--oif", "0", "--sip", "8.0.0.2", "--dip", "8.0.0.3",
        ];
        let req = |extra: &[&str]| {
            let all: Vec<&str> = base.iter().chain(extra).copied().collect();
            nh_request(&args(&all), 30)
        };
        let gre = req(&[]).ok().unwrap();
        assert_eq!(gre.kind, nh_type::TUNNEL);
        assert_eq!(gre.flags, nh_flag::TUNNEL_GRE, "TF's default");
        assert_eq!(gre.family, addr_family::INET);
        assert_eq!(gre.tun_sip, Some(crate::cmd::ip("8.0.0.2")));
        assert!(gre.encap.is_empty());
        assert_eq!(
            req(&["--udp"]).ok().unwrap().flags,
            nh_flag::TUNNEL_UDP_MPLS
        );
        let vx = req(&["--vxlan", "--pol", "--dmac", "02:00:00:00:00:02"])
            .ok()
            .unwrap();
        assert_eq!(vx.flags, nh_flag::TUNNEL_VXLAN | nh_flag::POLICY);
        assert_eq!(vx.encap.len(), 14);
        let v6 = nh_request(
            &args(&[
                "--type", "tunnel", "--oif", "0", "--sip", "fd00::1", "--dip", "fd00::2",
            ]),
            30,
        )
        .ok()
        .unwrap();
        assert_eq!(v6.family, addr_family::INET6, "the family of --sip");
        // --family wins, so the kernel can say what is wrong with the addresses
        let forced = req(&["--family", "inet6"]).ok().unwrap();
        assert_eq!(forced.family, addr_family::INET6);
        let err = |r: Result<NexthopAdd, Failure>| r.err().map(|f| (f.code, f.text));
        assert_eq!(
            err(req(&["--udp", "--vxlan"])),
            Some((64, "--udp and --vxlan exclude each other".into()))
        );
        assert_eq!(
            err(nh_request(
                &args(&["--type", "3", "--oif", "0", "--sip", "8.0.0.2"]),
                30
            )),
            Some((64, "a tunnel nexthop needs --sip and --dip".into()))
        );
        assert_eq!(
            err(nh_request(
                &args(&["--type", "3", "--sip", "8.0.0.300", "--dip", "1.1.1.1"]),
                30
            )),
            Some((64, "bad IP address \"8.0.0.300\"".into()))
        );
        assert_eq!(
            err(nh_request(
                &args(&["--type", "rcv", "--oif", "0", "--udp"]),
                30
            )),
            Some((
                64,
                "--sip, --dip, --udp and --vxlan go with --type tunnel".into()
            ))
        );
    }

    #[test]
    fn nh_list_matches_golden() {
        golden("nh_list.txt", &nh_list(&nexthops()));
    }

    #[test]
    fn nh_header_widths_match_tf() {
        let out = nh_list(&nexthops());
        let lines: Vec<&str> = out.lines().collect();
        // from current TF output (`Ref_cnt:%-10d`)
        assert!(lines.contains(
            &"Id:23         Type:Tunnel         Fmly:AF_INET6  Rid:0  Ref_cnt:2          Vrf:0"
        ));
        // cli-formats.md's Encap sample (its Ref_cnt column is from an older %-5d release)
        assert!(lines.contains(
            &"Id:38         Type:Encap          Fmly: AF_INET  Rid:0  Ref_cnt:1          Vrf:5"
        ));
        assert!(lines.contains(&"              Flags:Valid, Policy,"));
        assert!(lines.contains(&"              EncapFmly:0000 Oif:5 Len:14"));
        assert!(
            lines.contains(&"              Encap Data: 02 c2 23 4c d0 55 00 00 5e 00 01 00 08 00")
        );
        assert!(lines.contains(
            &"Id:0          Type:Drop           Fmly: AF_INET  Rid:0  Ref_cnt:1021       Vrf:0"
        ));
        assert!(lines.contains(&"              Sub NH(label): 61(34) 51(34)"));
        assert!(lines.contains(&"              Sub NH(label): 11(0) 13(0)"));
        assert!(lines.contains(&"              Flags:None"));
        // cli-formats.md's Tunnel sample, with today's Ref_cnt width
        let tunnel = "Id:21         Type:Tunnel         Fmly: AF_INET  Rid:0  Ref_cnt:1          Vrf:0\n\
                      \x20             Flags:Valid, MPLSoUDP,\n\
                      \x20             Oif:0 Len:14 Data:00 1b 21 bb f9 46 00 1b 21 bb f9 48 08 00\n\
                      \x20             Sip:8.0.0.2 Dip:8.0.0.3\n\n";
        assert!(out.contains(tunnel), "{out}");
        assert!(lines.contains(&"              Sip: fd00:ff::1 Dip: fd00:ff::2"));
        assert!(lines.contains(&"              Flags:Valid, Policy, MPLSoGRE,"));
        assert!(lines.contains(&"              Oif:2 Len:0 Data:"));
        assert!(lines.iter().all(|l| !l.ends_with(' ')), "trailing spaces");
    }
}
