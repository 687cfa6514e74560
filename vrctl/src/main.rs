//! vrctl: the operator CLI. Argument parsing and TF-style text; the kernel talk is in
//! vrouter-client. Input is validated before anything is sent (exit 64 with one line);
//! kernel refusals print the kernel's extended-ACK text (exit 65, 77 for EPERM).

mod batchfile;
mod flowmatch;
mod format;

use clap::{ArgGroup, Parser, Subcommand};
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::process::ExitCode;
use std::time::{Duration, Instant};
use vrouter_client::nh::{eth_header, parse_hex_bytes, parse_type};
use vrouter_client::rt::{
    family_of, family_str, max_len, parse_family, parse_prefix, parse_route_prefix,
};
use vrouter_client::{
    vif::parse_mac, Client, Error, FlowKey, FlowSpec, NexthopAdd, Route, VifAdd, VifSelector,
    DEFAULT_BATCH,
};
use vrouter_uapi::{
    addr_family, flow_action, nh_flag, nh_type, rt_flag, vif_flag, vif_type, VROUTER_MAC,
};

#[derive(Parser)]
#[command(
    name = "vrctl",
    version,
    about = "Inspect and program the vrouter datapath"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Interfaces (TF `vif`)
    Vif(VifArgs),
    /// Nexthops (TF `nh`)
    Nh(NhArgs),
    /// Routes (TF `rt`)
    Rt(RtArgs),
    /// Drop counters (TF `dropstats`)
    Dropstats(DropArgs),
    /// Per-VRF counters (TF `vrfstats`)
    Vrfstats(VrfStatsArgs),
    /// Module version, limits and usage (TF `vrouter --info`)
    Vrouter(VrouterArgs),
    /// Flow table (TF `flow`)
    Flow(FlowArgs),
}

#[derive(clap::Args)]
#[command(group(ArgGroup::new("op").required(true).args(["list", "get", "add", "delete", "create"])))]
struct VifArgs {
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

#[derive(clap::Args)]
#[command(group(ArgGroup::new("op").required(true).args(["list", "get", "create", "delete"])))]
struct NhArgs {
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
    /// Outgoing vif index (rcv, encap, l2rcv)
    #[arg(long, value_name = "VIF")]
    oif: Option<u32>,
    /// Encap: source MAC (default: the vRouter MAC 00:00:5e:00:01:00)
    #[arg(long, value_name = "MAC")]
    smac: Option<String>,
    /// Encap: destination MAC
    #[arg(long, value_name = "MAC")]
    dmac: Option<String>,
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
    /// inet (default) or inet6
    #[arg(long)]
    family: Option<String>,
    /// JSON output
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
#[command(group(ArgGroup::new("op").required(true).args(["dump", "get", "create", "delete", "batch", "monitor"])))]
struct RtArgs {
    /// Print the routes of a VRF
    #[arg(long, value_name = "VRF")]
    dump: Option<u32>,
    /// Longest-prefix match of ADDR[/PLEN] in --vrf
    #[arg(long, value_name = "ADDR/PLEN")]
    get: Option<String>,
    /// Add (or replace) a route: -v VRF -p PREFIX[/LEN] [-l PLEN] -n NH
    #[arg(short = 'c', long)]
    create: bool,
    /// Delete a route: -v VRF -p PREFIX[/LEN] [-l PLEN]
    #[arg(short = 'd', long)]
    delete: bool,
    /// Add/delete routes listed in FILE ('-' for stdin), in batches
    #[arg(long, value_name = "FILE|-")]
    batch: Option<String>,
    /// Requests per batch
    #[arg(long = "batch-size", value_name = "N", default_value_t = DEFAULT_BATCH)]
    batch_size: usize,
    /// Print route additions and deletions as JSON lines as they happen
    #[arg(long)]
    monitor: bool,
    /// VRF
    #[arg(short = 'v', long, value_name = "VRF")]
    vrf: Option<u32>,
    /// Prefix address, optionally with /LEN
    #[arg(short = 'p', long, value_name = "PREFIX[/LEN]")]
    prefix: Option<String>,
    /// Prefix length
    #[arg(short = 'l', long = "plen", value_name = "PLEN")]
    plen: Option<u32>,
    /// Nexthop id
    #[arg(short = 'n', long = "nh", value_name = "NH")]
    nh: Option<u32>,
    /// Label (MPLS label or VNI)
    #[arg(short = 't', long = "label", value_name = "LABEL")]
    label: Option<u32>,
    /// Proxy ARP for the route
    #[arg(short = 'P', long = "proxy")]
    proxy: bool,
    /// Trap ARP requests to the agent
    #[arg(short = 'T', long = "trap")]
    trap: bool,
    /// Flood ARP requests
    #[arg(short = 'F', long = "flood")]
    flood: bool,
    /// Stitched MAC
    #[arg(short = 'e', long = "mac", value_name = "MAC")]
    mac: Option<String>,
    /// inet|inet6 (or TF's 0|2)
    #[arg(short = 'f', long = "family", value_name = "FAMILY")]
    family: Option<String>,
    /// TF's replacement prefix length; the kernel works it out, so it is ignored
    #[arg(short = 'r', hide = true)]
    replace_plen: Option<u32>,
    /// JSON output
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct DropArgs {
    /// One CPU's counters (0-based)
    #[arg(long, short = 'c', value_name = "N")]
    core: Option<u32>,
    /// Reset the counters of every CPU
    #[arg(long, conflicts_with_all = ["core", "json"])]
    clear: bool,
    /// JSON output (every counter)
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
#[command(group(ArgGroup::new("op").required(true).args(["dump", "get"])))]
struct VrfStatsArgs {
    /// Every VRF with routes or counters
    #[arg(long)]
    dump: bool,
    /// One VRF
    #[arg(long, value_name = "VRF")]
    get: Option<u32>,
    /// One CPU's counters (0-based)
    #[arg(long, value_name = "N")]
    core: Option<u32>,
    /// JSON output
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct VrouterArgs {
    /// Module version, limits and usage
    #[arg(long, required = true)]
    info: bool,
    /// JSON output
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
#[command(group(ArgGroup::new("op").args(["list", "get", "stats", "perf", "flush", "forward", "drop", "invalidate", "monitor"])))]
struct FlowArgs {
    /// Print every flow miss (FLOW_MISS on the flows group) as a JSON line; needs
    /// CAP_NET_ADMIN like the agent that answers them
    #[arg(long)]
    monitor: bool,
    /// List the flows
    #[arg(short = 'l', long)]
    list: bool,
    /// List the flows matching EXPR: "ip[:port][,ip[:port]] & vrf N & proto tcp|udp|icmp|icmp6|sctp"
    /// (IPv6 as [addr]:port, * for any address or port)
    #[arg(long = "match", value_name = "EXPR", conflicts_with_all = ["get", "stats", "perf", "flush", "forward", "drop", "invalidate"])]
    match_expr: Option<String>,
    /// Show the entry at INDEX and its reverse entry
    #[arg(long, value_name = "INDEX")]
    get: Option<u32>,
    /// Statistics: table usage, active and hold entries, setup and teardown rate
    #[arg(short = 's', long)]
    stats: bool,
    /// Seconds between the two readings of -s (default 1)
    #[arg(long, value_name = "SECS")]
    interval: Option<f64>,
    /// Performance: create N Forward flows through netlink (pipelined), time it, delete them
    #[arg(short = 'p', long = "perf", value_name = "N")]
    perf: Option<u32>,
    /// VRF of the -p flows (default 0)
    #[arg(long)]
    vrf: Option<u32>,
    /// Keep the -p flows instead of deleting them
    #[arg(long)]
    keep: bool,
    /// Delete every flow
    #[arg(short = 'F', long)]
    flush: bool,
    /// Set Forward on the entry at INDEX
    #[arg(short = 'f', value_name = "INDEX")]
    forward: Option<u32>,
    /// Set Drop on the entry at INDEX
    #[arg(short = 'd', value_name = "INDEX")]
    drop: Option<u32>,
    /// Delete the entry at INDEX
    #[arg(short = 'i', value_name = "INDEX")]
    invalidate: Option<u32>,
    /// JSON output
    #[arg(long)]
    json: bool,
}

/// sysexits(3) codes.
mod exit {
    pub const USAGE: u8 = 64;
    pub const DATAERR: u8 = 65;
    pub const NOINPUT: u8 = 66;
    pub const UNAVAILABLE: u8 = 69;
    pub const IOERR: u8 = 74;
    pub const NOPERM: u8 = 77;
}

struct Failure {
    code: u8,
    /// One line for stderr; empty when the command already said everything.
    text: String,
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure {
            code: code_of(&e),
            text: e.to_string(),
        }
    }
}

fn code_of(e: &Error) -> u8 {
    match e {
        Error::NotLoaded => exit::UNAVAILABLE,
        Error::Kernel { errno: 1 | 13, .. } => exit::NOPERM,
        Error::Kernel { .. } => exit::DATAERR,
        Error::Io(_)
        | Error::Decode(_)
        | Error::AckLost { .. }
        | Error::NotSent
        | Error::Overrun => exit::IOERR,
    }
}

fn usage(text: impl Into<String>) -> Failure {
    Failure {
        code: exit::USAGE,
        text: text.into(),
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { exit::USAGE } else { 0 });
        }
    };
    let (what, result) = match cli.cmd {
        Cmd::Vif(a) => ("vif", vif(a)),
        Cmd::Nh(a) => ("nh", nh(a)),
        Cmd::Rt(a) => ("rt", rt(a)),
        Cmd::Dropstats(a) => ("dropstats", dropstats(a)),
        Cmd::Vrfstats(a) => ("vrfstats", vrfstats(a)),
        Cmd::Vrouter(a) => ("vrouter", vrouter(a)),
        Cmd::Flow(a) => ("flow", flow(a)),
    };
    match result {
        Ok(out) => {
            let mut o = std::io::stdout().lock();
            let _ = o.write_all(out.as_bytes()).and_then(|_| o.flush());
            ExitCode::SUCCESS
        }
        Err(f) => {
            if !f.text.is_empty() {
                eprintln!("vrctl {what}: {}", f.text);
            }
            ExitCode::from(f.code)
        }
    }
}

fn json<T: serde::Serialize + ?Sized>(v: &T) -> String {
    serde_json::to_string_pretty(v)
        .map(|s| s + "\n")
        .unwrap_or_default()
}

fn mac_arg(m: Option<&str>) -> Result<Option<[u8; 6]>, Failure> {
    m.map(|m| parse_mac(m).ok_or_else(|| usage(format!("bad MAC address {m:?}"))))
        .transpose()
}

// ---------------------------------------------------------------------------------------
// vif

fn vif(a: VifArgs) -> Result<String, Failure> {
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
        return Ok(if a.json {
            json(&vifs)
        } else {
            format::vif_list(&vifs)
        });
    }
    if let Some(idx) = a.get {
        let v = c.vif_get(&VifSelector::Index(idx), a.core)?;
        return Ok(if a.json {
            json(&v)
        } else {
            format::vif_list(std::slice::from_ref(&v))
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

// ---------------------------------------------------------------------------------------
// nh

fn family_arg(f: Option<&str>) -> Result<Option<u32>, Failure> {
    f.map(|s| match parse_family(s) {
        Some(f) => Ok(f),
        None if matches!(s, "bridge" | "1") => Err(usage(
            "the bridge family is not supported (no bridge table)",
        )),
        None => Err(usage(format!("bad family {s:?} (inet or inet6)"))),
    })
    .transpose()
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
    Ok(NexthopAdd {
        id,
        kind,
        family: family_arg(a.family.as_deref())?.unwrap_or(addr_family::INET),
        flags,
        vrf: a.vrf.unwrap_or(0),
        oif: a.oif,
        encap,
        members: a.cni.clone(),
        labels: a.lbl.clone(),
    })
}

fn nh(a: NhArgs) -> Result<String, Failure> {
    let req = a.create.map(|id| nh_request(&a, id)).transpose()?;
    let mut c = Client::connect()?;
    if a.list {
        let v = c.nh_dump()?;
        return Ok(if a.json {
            json(&v)
        } else {
            format::nh_list(&v)
        });
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
        return Ok(format::nh_list(&all));
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

// ---------------------------------------------------------------------------------------
// rt

/// `-p PREFIX[/LEN]` with `-l PLEN` and `-f FAMILY`, checked (host bits refused unless
/// `lookup`, where they are cleared).
fn prefix_args(a: &RtArgs, lookup: bool) -> Result<(IpAddr, u8), Failure> {
    let p = a
        .prefix
        .as_deref()
        .ok_or_else(|| usage("missing -p PREFIX"))?;
    let (addr, mut len) = (if lookup {
        parse_prefix(p)
    } else {
        parse_route_prefix(p)
    })
    .map_err(usage)?;
    if let Some(l) = a.plen {
        if l > u32::from(max_len(&addr)) {
            return Err(usage(format!(
                "prefix length {l} beyond {}",
                max_len(&addr)
            )));
        }
        if p.contains('/') && l != u32::from(len) {
            return Err(usage(format!("-p {p} and -l {l} disagree")));
        }
        len = l as u8;
        if !lookup {
            let s = format!("{addr}/{len}");
            parse_route_prefix(&s).map_err(usage)?;
        }
    }
    if let Some(f) = family_arg(a.family.as_deref())? {
        if f != family_of(&addr) {
            return Err(usage(format!("{addr} is not an {} address", family_str(f))));
        }
    }
    Ok((addr, len))
}

fn rt(a: RtArgs) -> Result<String, Failure> {
    if let Some(vrf) = a.dump {
        let family = family_arg(a.family.as_deref())?.unwrap_or(addr_family::INET);
        let routes = Client::connect()?.rt_dump(vrf, family)?;
        return Ok(if a.json {
            json(&routes)
        } else {
            format::rt_dump(family, vrf, &routes)
        });
    }
    if let Some(q) = a.get.clone() {
        let vrf = a.vrf.ok_or_else(|| usage("--get needs --vrf"))?;
        let a2 = RtArgs {
            prefix: Some(q),
            plen: None,
            ..a
        };
        let (addr, len) = prefix_args(&a2, true)?;
        let r = Client::connect()?.rt_get(vrf, addr, len)?;
        return Ok(if a2.json {
            json(&r)
        } else {
            format::rt_get(vrf, &r)
        });
    }
    if a.create || a.delete {
        let vrf = a.vrf.ok_or_else(|| usage("missing -v VRF"))?;
        let (prefix, len) = prefix_args(&a, false)?;
        if a.delete {
            Client::connect()?.rt_del(vrf, prefix, len)?;
            return Ok(String::new());
        }
        let nh = a.nh.ok_or_else(|| usage("missing -n NH"))?;
        let mut r = Route::new(vrf, prefix, len, nh);
        r.mac = mac_arg(a.mac.as_deref())?;
        r.label = a.label;
        for (set, bit) in [
            (a.proxy, rt_flag::PROXY_ARP),
            (a.trap, rt_flag::TRAP_ARP),
            (a.flood, rt_flag::FLOOD_ARP),
        ] {
            if set {
                r.flags |= bit;
            }
        }
        Client::connect()?.rt_add(&r)?;
        return Ok(String::new());
    }
    if let Some(file) = &a.batch {
        return rt_batch(file, a.batch_size);
    }
    if a.monitor {
        return rt_monitor();
    }
    Err(usage(
        "one of --dump, --get, --create, --delete, --batch, --monitor",
    ))
}

fn rt_batch(file: &str, batch: usize) -> Result<String, Failure> {
    if batch == 0 {
        return Err(usage("--batch-size must be at least 1"));
    }
    let mut text = String::new();
    let read = if file == "-" {
        std::io::stdin().read_to_string(&mut text).map(|_| ())
    } else {
        std::fs::File::open(file)
            .and_then(|mut f| f.read_to_string(&mut text))
            .map(|_| ())
    };
    read.map_err(|e| Failure {
        code: exit::NOINPUT,
        text: format!("{file}: {e}"),
    })?;
    let parsed = batchfile::parse(&text);
    drop(text);
    let total = parsed.ops.len() + parsed.errors.len();
    // (line, message, exit code), sorted by line at the end
    let mut failures: Vec<(u32, String, u8)> = parsed
        .errors
        .into_iter()
        .map(|(n, m)| (n, m, exit::DATAERR))
        .collect();
    let mut ok = 0;
    if !parsed.ops.is_empty() {
        let lines = parsed.lines;
        let n_ops = parsed.ops.len();
        let report = Client::connect()?.rt_batch(parsed.ops, batch)?;
        ok = report.ok;
        for f in report.failed {
            failures.push((lines[f.index], f.error.to_string(), code_of(&f.error)));
        }
        if let Some((first, e)) = report.aborted {
            let unsent = n_ops - first;
            // unsent requests count as failed in the summary (total - ok)
            failures.push((
                lines[first],
                format!(
                    "{e}; this and the {} requests after it were not sent",
                    unsent - 1
                ),
                code_of(&e),
            ));
        }
    }
    failures.sort_by_key(|f| f.0);
    let mut err = std::io::stderr().lock();
    for (line, msg, _) in &failures {
        let _ = writeln!(err, "vrctl rt: line {line}: {msg}");
    }
    let summary = format!("{ok} ok, {} failed\n", total - ok);
    match failures.first() {
        None => Ok(summary),
        Some(&(_, _, code)) => {
            print!("{summary}");
            Err(Failure {
                code,
                text: String::new(),
            })
        }
    }
}

fn rt_monitor() -> Result<String, Failure> {
    let mut mon = Client::connect()?.rt_monitor()?;
    let mut out = std::io::stdout().lock();
    loop {
        match mon.next_event() {
            Ok(ev) => {
                let line = serde_json::to_string(&format::RouteEventJson {
                    op: ev.op.as_str(),
                    route: &ev.route,
                })
                .map_err(|e| Failure {
                    code: exit::IOERR,
                    text: e.to_string(),
                })?;
                if writeln!(out, "{line}").and_then(|_| out.flush()).is_err() {
                    return Ok(String::new()); // the reader went away
                }
            }
            Err(Error::Io(e)) if e.raw_os_error() == Some(vrouter_client::errno::ENOBUFS) => {
                eprintln!("vrctl rt: route events were lost: the monitor fell behind (ENOBUFS)");
            }
            Err(e) => return Err(e.into()),
        }
    }
}

// ---------------------------------------------------------------------------------------
// dropstats, vrfstats, vrouter

fn dropstats(a: DropArgs) -> Result<String, Failure> {
    let mut c = Client::connect()?;
    if a.clear {
        c.drop_stats_clear()?;
        return Ok(String::new());
    }
    let counters = c.drop_stats(a.core)?;
    Ok(if a.json {
        json(&format::dropstats_json(&counters))
    } else {
        format::dropstats(&counters, a.core)
    })
}

fn vrfstats(a: VrfStatsArgs) -> Result<String, Failure> {
    let mut c = Client::connect()?;
    if let Some(vrf) = a.get {
        let s = c.vrf_stats(vrf, a.core)?;
        return Ok(if a.json {
            json(&format::vrfstats_json(&s))
        } else {
            format::vrfstats(&[s], a.core)
        });
    }
    let all = c.vrf_stats_dump(a.core)?;
    Ok(if a.json {
        json(&all.iter().map(format::vrfstats_json).collect::<Vec<_>>())
    } else {
        format::vrfstats(&all, a.core)
    })
}

fn vrouter(a: VrouterArgs) -> Result<String, Failure> {
    let info = Client::connect()?.info()?;
    Ok(if a.json {
        json(&info)
    } else {
        format::vrouter_info(&info)
    })
}

// ---------------------------------------------------------------------------------------
// flow

/// Most flows `-p` creates (TF's MAX_FLOWS).
const PERF_MAX: u32 = 4_000_000;

fn flow(a: FlowArgs) -> Result<String, Failure> {
    let filter = a
        .match_expr
        .as_deref()
        .map(|m| flowmatch::parse(m).map_err(|e| usage(format!("bad --match: {e}"))))
        .transpose()?;
    if a.perf.is_some_and(|n| n == 0 || n > PERF_MAX) {
        return Err(usage(format!("-p needs a count of 1..{PERF_MAX}")));
    }
    if a.perf.is_none() && (a.keep || a.vrf.is_some()) {
        return Err(usage("--vrf and --keep go with -p"));
    }
    let interval = match (a.stats, a.interval) {
        (false, Some(_)) => return Err(usage("--interval goes with -s")),
        (_, Some(i)) if !(i > 0.0 && i <= 3600.0) => {
            return Err(usage(
                "--interval must be more than 0 and at most 3600 seconds",
            ))
        }
        (_, i) => i.unwrap_or(1.0),
    };
    if !(a.list || filter.is_some() || a.stats || a.flush || a.monitor)
        && [a.get, a.perf, a.forward, a.drop, a.invalidate]
            .iter()
            .all(Option::is_none)
    {
        return Err(usage(
            "one of -l, --match, --get, -s, -p, -F, -f, -d, -i, --monitor",
        ));
    }
    if a.monitor {
        return flow_monitor();
    }
    let mut c = Client::connect()?;
    if a.list || filter.is_some() {
        let table = c.flow_table()?;
        let flows = c.flow_dump()?;
        if a.json {
            let shown: Vec<_> = flows
                .iter()
                .filter(|f| filter.as_ref().is_none_or(|m| m.matches(&f.key)))
                .collect();
            return Ok(json(&serde_json::json!({ "table": table, "flows": shown })));
        }
        return Ok(format::flow_list(&table, &flows, filter.as_ref()));
    }
    if let Some(index) = a.get {
        let mut v = vec![c.flow_get(index)?];
        if let Some(r) = v[0].rindex {
            match c.flow_get(r) {
                Ok(rev) => v.push(rev),
                Err(e) if e.errno() == Some(vrouter_client::errno::ENOENT) => {} // gone meanwhile
                Err(e) => return Err(e.into()),
            }
        }
        return Ok(if a.json {
            json(&v)
        } else {
            format::flow_get(&v)
        });
    }
    if a.stats {
        let first = c.flow_table()?;
        let t = Instant::now();
        std::thread::sleep(Duration::from_secs_f64(interval));
        let second = c.flow_table()?;
        let s = format::FlowStats::new(&first, &second, t.elapsed().as_secs_f64());
        return Ok(if a.json {
            json(&s)
        } else {
            format::flow_stats(&s)
        });
    }
    if let Some(n) = a.perf {
        return flow_perf(&mut c, n, a.vrf.unwrap_or(0), a.keep, a.json);
    }
    if a.flush {
        c.flow_flush()?;
        return Ok(String::new());
    }
    if let Some(index) = a.invalidate {
        c.flow_del(index, None)?;
        return Ok(String::new());
    }
    let (index, action) = match (a.forward, a.drop) {
        (Some(i), _) => (i, flow_action::FORWARD),
        (_, Some(i)) => (i, flow_action::DROP),
        _ => return Err(usage("one of -l, --match, --get, -s, -p, -F, -f, -d, -i")),
    };
    // the generation makes sure the verdict is for the entry just read; the reverse link
    // is kept (the kernel takes rindex from the request)
    let cur = c.flow_get(index)?;
    let f = c.flow_new(&FlowSpec {
        rindex: cur.rindex,
        ..FlowSpec::verdict(index, cur.gen, action)
    })?;
    Ok(if a.json { json(&f) } else { String::new() })
}

/// The `i`th synthetic key of `-p`: UDP 169.254.1.(1 + i / 65536):1000 -> 169.254.0.1:(i %
/// 65536), distinct for every i up to PERF_MAX.
fn perf_key(vrf: u32, i: u32) -> FlowKey {
    let src = Ipv4Addr::from(u32::from(Ipv4Addr::new(169, 254, 1, 1)) + (i >> 16));
    FlowKey {
        vrf,
        src: IpAddr::V4(src),
        dst: IpAddr::V4(Ipv4Addr::new(169, 254, 0, 1)),
        proto: 17,
        sport: 1000,
        dport: i as u16,
    }
}

fn flow_monitor() -> Result<String, Failure> {
    let mut misses = Client::connect()?.flow_misses()?;
    // Tells a script the subscription is in place before it makes traffic.
    eprintln!("vrctl flow: listening for flow misses");
    let mut out = std::io::stdout().lock();
    loop {
        match misses.next_miss() {
            Ok(f) => {
                let line = serde_json::to_string(&f).map_err(|e| Failure {
                    code: exit::IOERR,
                    text: e.to_string(),
                })?;
                if writeln!(out, "{line}").and_then(|_| out.flush()).is_err() {
                    return Ok(String::new()); // the reader went away
                }
            }
            Err(Error::Overrun) => {
                eprintln!("vrctl flow: flow misses were lost: the monitor fell behind (ENOBUFS)")
            }
            Err(e) => return Err(e.into()),
        }
    }
}

fn flow_perf(
    c: &mut Client,
    n: u32,
    vrf: u32,
    keep: bool,
    as_json: bool,
) -> Result<String, Failure> {
    let specs: Vec<FlowSpec> = (0..n)
        .map(|i| FlowSpec::add(perf_key(vrf, i), flow_action::FORWARD))
        .collect();
    // (op, error text) -> (count, exit code), in first-seen order
    let mut failures: Vec<(&'static str, String, usize, u8)> = Vec::new();
    let mut note = |op: &'static str, e: &Error| match failures
        .iter_mut()
        .find(|f| f.0 == op && f.1 == e.to_string())
    {
        Some(f) => f.2 += 1,
        None => failures.push((op, e.to_string(), 1, code_of(e))),
    };
    let t = Instant::now();
    let results = c.flow_new_batch(&specs)?;
    let create_ms = t.elapsed().as_secs_f64() * 1000.0;
    let mut made = Vec::with_capacity(results.len());
    for r in &results {
        match r {
            Ok(f) => made.push((f.index, Some(f.gen))),
            Err(e) => note("create", e),
        }
    }
    let mut report = format::FlowPerf {
        requested: specs.len(),
        vrf,
        created: made.len(),
        create_ms,
        create_rate: format::rate(made.len(), create_ms),
        deleted: None,
        delete_ms: None,
        delete_rate: None,
        failures: Vec::new(),
    };
    if !keep {
        let t = Instant::now();
        let results = c.flow_del_batch(&made)?;
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        let mut ok = 0;
        for r in &results {
            match r {
                Ok(()) => ok += 1,
                Err(e) => note("delete", e),
            }
        }
        report.deleted = Some(ok);
        report.delete_ms = Some(ms);
        report.delete_rate = Some(format::rate(ok, ms));
    }
    report.failures = failures
        .iter()
        .map(|(op, error, count, _)| format::FlowPerfFailure {
            op,
            error: error.clone(),
            count: *count,
        })
        .collect();
    let out = if as_json {
        json(&report)
    } else {
        format::flow_perf(&report)
    };
    let Some(&(_, _, _, code)) = failures.first() else {
        return Ok(out);
    };
    let mut err = std::io::stderr().lock();
    for (op, msg, count, _) in &failures {
        let _ = writeln!(err, "vrctl flow: {count} {op} requests failed: {msg}");
    }
    print!("{out}");
    Err(Failure {
        code,
        text: String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perf_keys_are_distinct() {
        let indexes: std::collections::BTreeSet<u32> = (0..PERF_MAX)
            .step_by(997)
            .chain([1, 65535, 65536, PERF_MAX - 1])
            .collect();
        let mut seen = std::collections::HashSet::new();
        for &i in &indexes {
            let k = perf_key(3, i);
            assert_eq!(k.vrf, 3);
            assert!(seen.insert((k.src, k.sport, k.dport)), "key {i} repeats");
        }
        assert_eq!(
            perf_key(0, 65536).src,
            "169.254.1.2".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            perf_key(0, PERF_MAX - 1).src,
            "169.254.1.62".parse::<IpAddr>().unwrap()
        );
    }
}
