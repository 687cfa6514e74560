//! `vrctl rt` (TF `rt`): dump a VRF's routes, look one up, add and delete routes, one at
//! a time or from a batch file, and monitor route changes.

mod batchfile;

use super::{family_arg, json, mac_arg, usage};
use crate::{code_of, exit, Failure};
use clap::ArgGroup;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::IpAddr;
use vrouter_client::rt::{
    family_of, family_str, flag_letters, mask, max_len, parse_prefix, parse_route_prefix,
};
use vrouter_client::{Client, Error, Route, DEFAULT_BATCH};
use vrouter_uapi::{addr_family, rt_flag};

/// Names for the `Flags:` legend of `rt --dump`.
const RT_FLAG_NAMES: &[(u32, &str)] = &[
    (rt_flag::LABEL_VALID, "Label Valid"),
    (rt_flag::PROXY_ARP, "Proxy ARP"),
    (rt_flag::TRAP_ARP, "Trap ARP"),
    (rt_flag::FLOOD_ARP, "Flood ARP"),
];

#[derive(clap::Args)]
#[command(group(ArgGroup::new("op").required(true).args(["dump", "get", "create", "delete", "batch", "monitor"])))]
pub(crate) struct RtArgs {
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

pub(crate) fn run(a: RtArgs) -> Result<String, Failure> {
    if let Some(vrf) = a.dump {
        let family = family_arg(a.family.as_deref())?.unwrap_or(addr_family::INET);
        let routes = Client::connect()?.rt_dump(vrf, family)?;
        return Ok(if a.json {
            json(&routes)
        } else {
            rt_dump(family, vrf, &routes)
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
        return Ok(if a2.json { json(&r) } else { rt_get(vrf, &r) });
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
        return batch(file, a.batch_size);
    }
    if a.monitor {
        return monitor();
    }
    Err(usage(
        "one of --dump, --get, --create, --delete, --batch, --monitor",
    ))
}

fn batch(file: &str, batch: usize) -> Result<String, Failure> {
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

fn monitor() -> Result<String, Failure> {
    let mut mon = Client::connect()?.rt_monitor()?;
    let mut out = std::io::stdout().lock();
    loop {
        match mon.next_event() {
            Ok(ev) => {
                let line = serde_json::to_string(&RouteEventJson {
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
// layouts: rt --dump / rt --get / rt --monitor

/// `ether_ntoa` (what TF's `rt` prints): hex without leading zeros.
fn ether_ntoa(m: &[u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn inet_char(family: u32) -> char {
    if family == addr_family::INET6 {
        '6'
    } else {
        '4'
    }
}

/// The legend, the table name and the column header (`vr_print_rtable_header`).
fn rt_header(out: &mut String, family: u32, vrf: u32) {
    out.push_str("Flags: ");
    for (i, (bit, name)) in RT_FLAG_NAMES.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let sym = rt_flag::DEF.by_value(*bit).map_or("?", |e| e.2);
        let _ = write!(out, "{sym}={name}");
    }
    let _ = writeln!(
        out,
        "\nvRouter inet{} routing table 0/{vrf}/unicast",
        inet_char(family)
    );
    out.push_str("Destination           PPL        Flags        Label         Nexthop    Stitched MAC(Index)\n");
}

/// One row: `%s/%-2d` padded to 21, `%4d` PPL, 8 spaces, `%5s` flags, 6 spaces, `%5d`
/// label or `%5c` '-', 8 spaces, `%7d` nexthop, 8 spaces, the stitched MAC or `-`.
/// There is no bridge table, hence no bridge index: a MAC prints alone, without `(index)`.
fn rt_row(out: &mut String, r: &Route) {
    let p = format!("{}/{:<2}", mask(r.prefix, r.prefix_len), r.prefix_len);
    let _ = write!(
        out,
        "{p:<21}{:>4}        {:>5}      ",
        r.parent_len,
        flag_letters(r.flags)
    );
    match r.label {
        Some(l) => {
            let _ = write!(out, "{l:>5}");
        }
        None => out.push_str("    -"),
    }
    let _ = write!(out, "        {:>7}        ", r.nh_id);
    match &r.mac {
        Some(m) => out.push_str(&ether_ntoa(m)),
        None => out.push('-'),
    }
    out.push('\n');
}

/// `rt --dump <vrf> [--family inet|inet6]`; `routes` in display order.
fn rt_dump(family: u32, vrf: u32, routes: &[Route]) -> String {
    let mut out = String::with_capacity(128 * (routes.len() + 3));
    rt_header(&mut out, family, vrf);
    for r in routes {
        rt_row(&mut out, r);
    }
    out
}

/// `rt --get`: `Match <matched prefix> in vRouter inet4 table 0/<vrf>/unicast`, a blank
/// line, the table header and the matched route.
fn rt_get(vrf: u32, r: &Route) -> String {
    let mut out = format!(
        "Match {}/{} in vRouter inet{} table 0/{vrf}/unicast\n\n",
        mask(r.prefix, r.prefix_len),
        r.prefix_len,
        inet_char(r.family)
    );
    rt_header(&mut out, r.family, vrf);
    rt_row(&mut out, r);
    out
}

/// One `rt --monitor` line: `{"op":"add",...the route's JSON...}`.
#[derive(serde::Serialize)]
struct RouteEventJson<'a> {
    op: &'a str,
    #[serde(flatten)]
    route: &'a Route,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::{golden, ip};

    fn route(
        prefix: &str,
        len: u8,
        ppl: u8,
        flags: u32,
        label: Option<u32>,
        nh: u32,
        mac: Option<[u8; 6]>,
    ) -> Route {
        let mut r = Route::new(0, ip(prefix), len, nh);
        r.parent_len = ppl;
        r.flags = flags
            | if label.is_some() {
                rt_flag::LABEL_VALID
            } else {
                0
            };
        r.label = label;
        r.mac = mac;
        r
    }

    #[test]
    fn rt_rows_match_tf_samples() {
        use rt_flag::{FLOOD_ARP as F, PROXY_ARP as P, TRAP_ARP as T};
        let mac = Some([2, 0xc7, 0x80, 0x7e, 0x22, 0xf2]);
        // (route, TF's line) from cli-formats.md and tf_vrouter.md section 3.2; TF's
        // "(index)" after a stitched MAC has no counterpart here (no bridge table).
        let samples = [
            (route("100.64.1.18", 32, 32, P, None, 90, mac), "100.64.1.18/32         32            P          -             90        2:c7:80:7e:22:f2"),
            (route("10.47.255.251", 32, 32, P, None, 21, mac), "10.47.255.251/32       32            P          -             21        2:c7:80:7e:22:f2"),
            (route("169.254.0.1", 32, 32, P | T, None, 5, None), "169.254.0.1/32         32           PT          -              5        -"),
            (route("100.34.34.3", 32, 32, P, Some(65), 29, None), "100.34.34.3/32         32           LP         65             29        -"),
            (route("0.0.0.0", 0, 0, P, Some(65), 29, None), "0.0.0.0/0               0           LP         65             29        -"),
            (route("0.1.0.0", 16, 0, 0, None, 0, None), "0.1.0.0/16              0                       -              0        -"),
            (route("192.168.10.0", 32, 24, T | F, None, 1, None), "192.168.10.0/32        24           TF          -              1        -"),
            (route("30.30.24.11", 32, 0, P | T, None, 54, None), "30.30.24.11/32          0           PT          -             54        -"),
        ];
        for (r, want) in samples {
            let mut got = String::new();
            rt_row(&mut got, &r);
            assert_eq!(got.trim_end_matches('\n'), want);
        }
    }

    fn routes_v4() -> Vec<Route> {
        use rt_flag::{FLOOD_ARP as F, PROXY_ARP as P, TRAP_ARP as T};
        let mut v = vec![
            route("10.1.0.3", 32, 24, P, None, 11, None),
            route("0.0.0.0", 0, 0, 0, None, 1, None),
            route("10.1.0.1", 32, 24, P, None, 1, Some([0, 0, 0x5e, 0, 1, 0])),
            route("10.1.0.0", 24, 0, T | F, Some(16777215), 20, None),
            route(
                "10.1.0.2",
                32,
                24,
                P | T | F,
                Some(42),
                10,
                Some([2, 0xc7, 0x80, 0x7e, 0x22, 0xf2]),
            ),
            route("192.168.100.0", 24, 0, 0, Some(0), 65535, None),
        ];
        for r in &mut v {
            r.vrf = 1;
        }
        vrouter_client::rt::sort_routes(&mut v);
        v
    }

    fn routes_v6() -> Vec<Route> {
        let mut v = vec![
            route("fd00:1::3", 128, 64, rt_flag::PROXY_ARP, None, 11, None),
            route("::", 0, 0, 0, None, 1, None),
            route("fd00:1::", 64, 0, 0, Some(7), 20, None),
            route(
                "2001:db8:1234:5678:9abc:def0:1234:5678",
                128,
                0,
                0,
                None,
                3,
                Some([2, 0, 0, 0, 0, 1]),
            ),
        ];
        for r in &mut v {
            r.vrf = 1;
        }
        vrouter_client::rt::sort_routes(&mut v);
        v
    }

    #[test]
    fn rt_dump_matches_golden() {
        golden(
            "rt_dump_inet.txt",
            &rt_dump(addr_family::INET, 1, &routes_v4()),
        );
        golden(
            "rt_dump_inet6.txt",
            &rt_dump(addr_family::INET6, 1, &routes_v6()),
        );
    }

    #[test]
    fn rt_get_matches_golden() {
        let mut out = rt_get(1, &routes_v4()[1]);
        out.push_str("----\n");
        out.push_str(&rt_get(1, &routes_v6()[2]));
        golden("rt_get.txt", &out);
    }

    #[test]
    fn rt_json_shapes() {
        let r = routes_v4()[2];
        let ev = serde_json::to_string(&RouteEventJson {
            op: "add",
            route: &r,
        })
        .unwrap();
        golden("rt_monitor.jsonl", &(ev + "\n"));
        golden(
            "rt_dump_inet.json",
            &(serde_json::to_string_pretty(&routes_v4()).unwrap() + "\n"),
        );
    }
}
