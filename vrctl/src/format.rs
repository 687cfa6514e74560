//! TF vRouter utilities' text layouts (shared/reference/cli-formats.md) and the JSON views
//! that are not plain `Serialize` derives. Every formatter takes plain structs, so the
//! golden tests need no kernel.

use crate::flowmatch::FlowMatch;
use serde::ser::{Serialize, SerializeMap, Serializer};
use std::collections::HashMap;
use std::fmt::Write;
use std::net::IpAddr;
use vrouter_client::nh::{family_name, flag_names, hex_bytes};
use vrouter_client::rt::{flag_letters, mask};
use vrouter_client::{Flow, FlowTableInfo, Info, Nexthop, Route, Vif, VrfStats};
use vrouter_uapi::{
    addr_family, drop_reason, flow_action, flow_flag, flow_tcp, nh_type, rt_flag, vif_flag,
    vrf_stat, FLOW_FLAGS_SETTABLE, RT_FLAG_NAMES, VIF_FLAG_NAMES, VRF_STAT_LINES,
};

/// `vif --list` / `vif --get`: the header with the flag legend, then one block per vif.
pub fn vif_list(vifs: &[Vif]) -> String {
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

// ---------------------------------------------------------------------------------------
// nh --list / nh --get

/// TF's `nh_print_newline_header`: a newline and 14 spaces.
const NH_INDENT: &str = "\n              ";

/// `nh --list`: one record per nexthop, each followed by a blank line.
pub fn nh_list(nhs: &[Nexthop]) -> String {
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

// ---------------------------------------------------------------------------------------
// rt --dump / rt --get

/// `ether_ntoa` (what TF's `rt` prints): hex without leading zeros.
pub fn ether_ntoa(m: &[u8; 6]) -> String {
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
pub fn rt_dump(family: u32, vrf: u32, routes: &[Route]) -> String {
    let mut out = String::with_capacity(128 * (routes.len() + 3));
    rt_header(&mut out, family, vrf);
    for r in routes {
        rt_row(&mut out, r);
    }
    out
}

/// `rt --get`: `Match <matched prefix> in vRouter inet4 table 0/<vrf>/unicast`, a blank
/// line, the table header and the matched route.
pub fn rt_get(vrf: u32, r: &Route) -> String {
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
pub struct RouteEventJson<'a> {
    pub op: &'a str,
    #[serde(flatten)]
    pub route: &'a Route,
}

// ---------------------------------------------------------------------------------------
// dropstats / vrfstats

/// JSON key of a counter label: lower case, runs of other characters as one `_`
/// ("Flow Unusable (Eviction)" -> "flow_unusable_eviction").
pub fn counter_key(label: &str) -> String {
    let mut k = String::with_capacity(label.len());
    for c in label.chars() {
        if c.is_ascii_alphanumeric() {
            k.push(c.to_ascii_lowercase());
        } else if !k.is_empty() && !k.ends_with('_') {
            k.push('_');
        }
    }
    while k.ends_with('_') {
        k.pop();
    }
    k
}

/// An ordered JSON object of counters (optionally led by `"vrf"`).
pub struct CounterMap {
    pub vrf: Option<u32>,
    pub entries: Vec<(String, u64)>,
}

impl Serialize for CounterMap {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.entries.len() + usize::from(self.vrf.is_some())))?;
        if let Some(v) = self.vrf {
            m.serialize_entry("vrf", &v)?;
        }
        for (k, v) in &self.entries {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

fn at(counters: &[u64], i: u32) -> u64 {
    counters.get(i as usize).copied().unwrap_or(0)
}

fn core_line(out: &mut String, core: Option<u32>) {
    if let Some(c) = core {
        let _ = write!(out, "Statistics for core {c}\n\n");
    }
}

/// `dropstats`: the non-zero counters, `%-28s  %lu`, in drop-reason order.
pub fn dropstats(counters: &[u64], core: Option<u32>) -> String {
    let mut out = String::new();
    core_line(&mut out, core);
    for (_, i, label) in drop_reason::DEF.entries {
        let v = at(counters, *i);
        if v != 0 {
            let _ = writeln!(out, "{label:<28}  {v}");
        }
    }
    out
}

/// `dropstats --json`: every counter by key.
pub fn dropstats_json(counters: &[u64]) -> CounterMap {
    CounterMap {
        vrf: None,
        entries: drop_reason::DEF
            .entries
            .iter()
            .map(|(_, i, l)| (counter_key(l), at(counters, *i)))
            .collect(),
    }
}

/// `vrfstats`: per VRF `Vrf: N`, the counter lines of VRF_STAT_LINES, a blank line.
pub fn vrfstats(stats: &[VrfStats], core: Option<u32>) -> String {
    let mut out = String::new();
    core_line(&mut out, core);
    for s in stats {
        let _ = writeln!(out, "Vrf: {}", s.vrf);
        for line in VRF_STAT_LINES {
            for (j, i) in line.iter().enumerate() {
                let label = vrf_stat::DEF.by_value(*i).map_or("?", |e| e.2);
                let _ = write!(
                    out,
                    "{}{label} {}",
                    if j > 0 { ", " } else { "" },
                    s.get(*i)
                );
            }
            out.push('\n');
        }
        out.push('\n');
    }
    out
}

/// `vrfstats --json`: `{"vrf": N, "discards": ..., ...}`.
pub fn vrfstats_json(s: &VrfStats) -> CounterMap {
    CounterMap {
        vrf: Some(s.vrf),
        entries: vrf_stat::DEF
            .entries
            .iter()
            .map(|(_, i, l)| (counter_key(l), s.get(*i)))
            .collect(),
    }
}

// ---------------------------------------------------------------------------------------
// vrouter --info

/// `vrouter --info`: TF's layout (`print_vrouter_parameters`): 4-space indent, labels
/// padded to 37 columns.
pub fn vrouter_info(i: &Info) -> String {
    let mut out = format!("vRouter module version       {}\n\n", i.version);
    let mut section = |title: &str, rows: &[(&str, u32)]| {
        let _ = writeln!(out, "{title}");
        for (label, v) in rows {
            let _ = writeln!(out, "    {label:<37}{v}");
        }
        out.push('\n');
    };
    section(
        "Startup parameters",
        &[
            ("Interfaces limit", i.interfaces),
            ("VRF tables limit", i.vrfs),
            ("NextHops limit", i.nexthops),
            ("Route entries limit", i.routes),
            ("Route table buckets limit", i.rt_buckets),
        ],
    );
    section(
        "Runtime parameters",
        &[
            ("Possible CPUs", i.cpus),
            ("Used Interfaces", i.vifs_used),
            ("Used NextHops", i.nexthops_used),
            ("Used IPv4 routes", i.routes_v4),
            ("Used IPv6 routes", i.routes_v6),
            ("Used route table buckets", i.rt_buckets_used),
        ],
    );
    out
}

// ---------------------------------------------------------------------------------------
// flow -l / flow --get / flow -s / flow -p

/// `ip:port`; IPv6 as `[addr]:port`, unambiguous and what `--match` takes (TF's `-l`
/// prints `addr:port` for both families, its `--get` `[addr]:port`).
fn flow_endpoint(addr: &IpAddr, port: u16) -> String {
    match addr {
        IpAddr::V4(a) => format!("{a}:{port}"),
        IpAddr::V6(a) => format!("[{a}]:{port}"),
    }
}

/// TF's `flow_dump_legend`, for what this table has: no Link Local NAT (L), no key or RPF
/// nexthop (K(nh), S(nh): the key has the VRF), no Evicted/Modified/Delete Marked flags.
/// H (Hold) is printed by TF too, without a legend entry.
const FLOW_LEGEND: &str = concat!(
    "Action:F=Forward, D=Drop N=NAT(S=SNAT, D=DNAT, Ps=SPAT, Pd=DPAT), H=Hold\n",
    " Other:Age=seconds since the last packet, Vif/Queued=a Hold entry's vif and queued packets\n",
    " Flags:Ec=Evict Candidate, N=New Flow\n",
    "TCP(r=reverse):S=SYN, F=FIN, R=RST, C=HalfClose, E=Established, D=Dead\n\n",
);

const FLOW_COLUMNS: &str = concat!(
    "    Index                Source:Port/Destination:Port                      Proto(V)\n",
    "-----------------------------------------------------------------------------------\n",
);

/// `flow -l`: the table header, legend and column header, then the entries in `flows`
/// (a dump, by index) that `filter` lets through.
pub fn flow_list(t: &FlowTableInfo, flows: &[Flow], filter: Option<&FlowMatch>) -> String {
    let mut out = String::with_capacity(1024 + 256 * flows.len());
    let _ = write!(
        out,
        "Flow table(size {}, entries {})\n\n",
        t.size_bytes(),
        t.total_entries()
    );
    // TF's Processed is vfti_action_count, the Hold entries that no longer wait (created -
    // processed = Hold entries now); derived the same way. TF's printf lacks the space before
    // "Processed" (cli-formats.md has it).
    let _ = writeln!(
        out,
        "Entries: Created {} Added {} Deleted {} Changed {} Processed {} Used Overflow entries {}",
        t.created,
        t.added,
        t.deleted,
        t.changed,
        t.created.saturating_sub(u64::from(t.hold)),
        t.oflow_used
    );
    let per_cpu: Vec<String> = t.created_per_cpu.iter().map(u64::to_string).collect();
    // (oflows N) counts TF's 32-bit per-CPU hold counters wrapping; ours are 64-bit: 0
    let _ = write!(
        out,
        "(Created Flows/CPU: {})(oflows 0)\n\n",
        per_cpu.join(" ")
    );
    out.push_str(FLOW_LEGEND);
    if let Some(m) = filter {
        let _ = write!(out, "Listing flows matching ({})\n\n", m.describe());
    }
    out.push_str(FLOW_COLUMNS);
    flow_entries(&mut out, flows, |f| {
        filter.is_none_or(|m| m.matches(&f.key))
    });
    out
}

/// `flow --get`: the legend, the column header and the entries (one and its reverse).
pub fn flow_get(flows: &[Flow]) -> String {
    let mut out = String::from(FLOW_LEGEND);
    out.push_str(FLOW_COLUMNS);
    flow_entries(&mut out, flows, |_| true);
    out
}

/// The entries of `flows` that `show`, each with the TCP state of its reverse entry when
/// that is in `flows` too.
fn flow_entries(out: &mut String, flows: &[Flow], show: impl Fn(&Flow) -> bool) {
    let by_index: HashMap<u32, &Flow> = flows.iter().map(|f| (f.index, f)).collect();
    for f in flows.iter().filter(|f| show(f)) {
        flow_entry(out, f, f.rindex.and_then(|r| by_index.get(&r).copied()));
    }
}

/// One entry: `%9d<=>%-9d` (reverse blank when none), 4 spaces, the source padded to 46,
/// 4 spaces, `%3d (%d)` protocol and VRF; the destination after 25 spaces; the details in
/// parentheses; a blank line. TF pads the destination's port with `%-5d`; trailing
/// spaces are left out here.
fn flow_entry(out: &mut String, f: &Flow, rev: Option<&Flow>) {
    let k = &f.key;
    let _ = write!(out, "{:>9}", f.index);
    match f.rindex {
        Some(r) => {
            let _ = write!(out, "<=>{r:<9}");
        }
        None => out.push_str(&" ".repeat(12)),
    }
    let _ = writeln!(
        out,
        "    {:<46}    {:>3} ({})",
        flow_endpoint(&k.src, k.sport),
        k.proto,
        k.vrf
    );
    let _ = writeln!(out, "{:25}{}", "", flow_endpoint(&k.dst, k.dport));
    flow_details(out, f, rev);
    out.push_str("\n\n");
}

/// TF's details: `(Gen: g, K(nh):n, Action:F, Flags:, TCP:SSrEEr, QOS:-1, S(nh):n,  Stats:p/b,
/// SPort n, TTL n, Sinfo a)`, wrapped when a line reaches 70 columns. There is no key or RPF
/// nexthop, QoS, UDP source port, TTL or source info here, so those are left out; Age
/// (and a Hold entry's Vif and Queued packets) come after Stats instead.
fn flow_details(out: &mut String, f: &Flow, rev: Option<&Flow>) {
    let mut line = format!("(Gen: {}, Action:{}, Flags:", f.gen, action_text(f));
    for bit in [flow_flag::EVICT_CANDIDATE, flow_flag::NEW_FLOW] {
        if f.flags & bit != 0 {
            line.push_str(flow_flag::DEF.by_value(bit).map_or("?", |e| e.2));
        }
    }
    line.push_str(", ");
    if f.key.proto == 6 {
        let _ = write!(
            line,
            "TCP:{}, ",
            tcp_letters(f.tcp_flags, rev.map(|r| r.tcp_flags))
        );
    }
    let mut tail = vec![
        format!(" Stats:{}/{}", f.packets, f.bytes),
        format!(" Age {}", f.age),
    ];
    if f.is_hold() {
        if let Some(v) = f.vif {
            tail.push(format!(" Vif {v}"));
        }
        tail.push(format!(" Queued {}", f.queued));
    }
    let n = tail.len();
    for (i, seg) in tail.into_iter().enumerate() {
        // TF's print_new_line_if_required(printed, 70)
        if line.len() >= 70 {
            out.push_str(line.trim_end());
            out.push('\n');
            line.clear();
        }
        line.push_str(&seg);
        if i + 1 < n {
            line.push(',');
        }
    }
    out.push_str(&line);
    out.push(')');
}

/// `F`, `H`, `D(<drop reason>)`, `N(<S D Ps Pd>)`, `U` for an unknown action.
fn action_text(f: &Flow) -> String {
    match f.action {
        flow_action::NAT => {
            let nat: String = flow_flag::DEF
                .entries
                .iter()
                .filter(|e| e.1 & FLOW_FLAGS_SETTABLE != 0 && f.flags & e.1 != 0)
                .map(|e| e.2)
                .collect();
            format!("N({nat})")
        }
        flow_action::DROP => format!("D({})", f.drop_reason_name().unwrap_or("Unknown")),
        a => flow_action::DEF
            .by_value(a)
            .map_or("U", |e| e.2)
            .to_string(),
    }
}

/// TF's TCP letters in its order (S Sr E Er F Fr R C D): this entry's, and its reverse
/// entry's with an `r`. TF keeps both directions in each entry; here each entry has its own
/// direction, so the `r` letters come from the reverse entry (none when it is not listed).
fn tcp_letters(own: u32, rev: Option<u32>) -> String {
    let mut s = String::new();
    for bit in [
        flow_tcp::SYN,
        flow_tcp::ESTABLISHED,
        flow_tcp::FIN,
        flow_tcp::RST,
        flow_tcp::HALF_CLOSE,
        flow_tcp::DEAD,
    ] {
        let letter = flow_tcp::DEF.by_value(bit).map_or("?", |e| e.2);
        if own & bit != 0 {
            s.push_str(letter);
        }
        if rev.is_some_and(|r| r & bit != 0) {
            s.push_str(letter);
            s.push('r');
        }
    }
    s
}

/// `flow -s`: two FLOW_TABLE_GET samples `secs` apart.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FlowStats {
    pub interval_s: f64,
    /// Main plus overflow entries.
    pub entries: u64,
    pub used: u32,
    pub used_new: i64,
    /// Entries with a verdict (not Hold).
    pub active: u32,
    pub active_new: i64,
    pub hold: u32,
    pub hold_new: i64,
    pub hold_limit: u32,
    pub oflow_entries: u32,
    pub oflow_used: u32,
    /// Entries made (on a miss or over netlink) per second.
    pub setup_rate: u64,
    /// Entries removed per second.
    pub teardown_rate: u64,
}

impl FlowStats {
    pub fn new(a: &FlowTableInfo, b: &FlowTableInfo, secs: f64) -> FlowStats {
        let secs = secs.max(1e-3);
        let per_sec = |d: u64| (d as f64 / secs).round() as u64;
        let active = |t: &FlowTableInfo| t.used.saturating_sub(t.hold);
        let new = |x: u32, y: u32| i64::from(y) - i64::from(x);
        FlowStats {
            interval_s: secs,
            entries: b.total_entries(),
            used: b.used,
            used_new: new(a.used, b.used),
            active: active(b),
            active_new: new(active(a), active(b)),
            hold: b.hold,
            hold_new: new(a.hold, b.hold),
            hold_limit: b.hold_limit,
            oflow_entries: b.oflow_entries,
            oflow_used: b.oflow_used,
            setup_rate: per_sec((b.added + b.created).saturating_sub(a.added + a.created)),
            teardown_rate: per_sec(b.deleted.saturating_sub(a.deleted)),
        }
    }
}

/// TF's `flow -s` block (one sample pair rather than a screen refreshed every 500 ms; no
/// Fwd/Drop/NAT counts, which would need a walk of the whole table), plus the table usage.
pub fn flow_stats(s: &FlowStats) -> String {
    let mut out = String::from("Flow Statistics\n---------------\n");
    let _ = writeln!(
        out,
        "    Total  Entries  --- Total = {:>7}, new = {:>7}",
        s.used, s.used_new
    );
    let _ = writeln!(
        out,
        "    Active Entries  --- Total = {:>7}, new = {:>7}",
        s.active, s.active_new
    );
    let _ = writeln!(
        out,
        "    Hold   Entries  --- Total = {:>7}, new = {:>7}",
        s.hold, s.hold_new
    );
    let pct = if s.entries == 0 {
        0.0
    } else {
        100.0 * f64::from(s.used) / s.entries as f64
    };
    let _ = writeln!(
        out,
        "    Table usage     --- {} of {} entries ({pct:.1}%), overflow {} of {}, hold limit {}\n",
        s.used, s.entries, s.oflow_used, s.oflow_entries, s.hold_limit
    );
    let _ = writeln!(
        out,
        "    Rate of change of Flow Entries (over {:.1} s)",
        s.interval_s
    );
    out.push_str("    ------------------------------\n");
    let _ = writeln!(out, "        setup rate        = {:>8}", s.setup_rate);
    let _ = writeln!(out, "        teardown rate     = {:>8}", s.teardown_rate);
    out
}

/// `flow -p N`: what the run did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FlowPerf {
    pub requested: usize,
    pub vrf: u32,
    pub created: usize,
    pub create_ms: f64,
    pub create_rate: u64,
    /// None with `--keep`.
    pub deleted: Option<usize>,
    pub delete_ms: Option<f64>,
    pub delete_rate: Option<u64>,
    pub failures: Vec<FlowPerfFailure>,
}

/// Failed requests of one phase with one error text.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FlowPerfFailure {
    /// "create" or "delete".
    pub op: &'static str,
    pub error: String,
    pub count: usize,
}

/// Requests per second, rounded.
pub fn rate(n: usize, ms: f64) -> u64 {
    (n as f64 * 1000.0 / ms.max(1e-3)).round() as u64
}

/// TF prints `Created N HOLD entries in M msec`; here one line per phase.
pub fn flow_perf(p: &FlowPerf) -> String {
    let mut out = format!(
        "Created {} of {} flows in {:.1} ms ({} flows/s)\n",
        p.created, p.requested, p.create_ms, p.create_rate
    );
    if let (Some(d), Some(ms), Some(r)) = (p.deleted, p.delete_ms, p.delete_rate) {
        let _ = writeln!(
            out,
            "Deleted {d} of {} flows in {ms:.1} ms ({r} flows/s)",
            p.created
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;
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
        let golden = include_str!("../tests/golden/vif_list.txt");
        assert_eq!(vif_list(&sample()), golden);
    }

    /// Compares with tests/golden/<name>; `VRCTL_BLESS=1 cargo test` rewrites the file.
    fn golden(name: &str, got: &str) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/golden")
            .join(name);
        if std::env::var_os("VRCTL_BLESS").is_some() {
            std::fs::write(&path, got).unwrap();
        }
        let want =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            got == want,
            "{name} differs from the golden file:\n--- got\n{got}\n--- want\n{want}"
        );
    }

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
        }
    }

    fn nexthops() -> Vec<Nexthop> {
        use vrouter_client::nh::eth_header;
        use vrouter_uapi::nh_flag::{COMPOSITE_ECMP, POLICY, VALID};
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
                ..nh(23, nh_type::TUNNEL, VALID)
            },
        ]
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
        assert!(lines.iter().all(|l| !l.ends_with(' ')), "trailing spaces");
    }

    fn ip(s: &str) -> std::net::IpAddr {
        s.parse().unwrap()
    }

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

    fn drop_counters() -> Vec<u64> {
        let mut c = vec![0u64; vrouter_uapi::DROP_REASONS];
        c[drop_reason::INVALID_IF as usize] = 3;
        c[drop_reason::DISCARD as usize] = 1_234_567_890_123;
        c[drop_reason::TTL_EXCEEDED as usize] = 2;
        c[drop_reason::FLOW_EVICT as usize] = 9;
        c[drop_reason::INVALID_UNDERLAY_ECMP as usize] = 1;
        c
    }

    #[test]
    fn dropstats_matches_golden() {
        golden("dropstats.txt", &dropstats(&drop_counters(), None));
        golden("dropstats_core.txt", &dropstats(&drop_counters(), Some(1)));
        golden(
            "dropstats.json",
            &(serde_json::to_string_pretty(&dropstats_json(&drop_counters())).unwrap() + "\n"),
        );
        assert_eq!(dropstats(&[], None), "");
        assert!(dropstats(&drop_counters(), None)
            .lines()
            .any(|l| l == "TTL Exceeded                  2"));
    }

    fn vrf_stats() -> Vec<VrfStats> {
        vec![
            VrfStats {
                vrf: 0,
                counters: vec![0; vrouter_uapi::VRF_STATS],
            },
            VrfStats {
                vrf: 3,
                counters: (0..vrouter_uapi::VRF_STATS as u64)
                    .map(|i| i * 1000 + i)
                    .collect(),
            },
            VrfStats {
                vrf: 4095,
                counters: vec![7; 3],
            }, // a shorter reply: the rest print 0
        ]
    }

    #[test]
    fn vrfstats_matches_golden() {
        golden("vrfstats.txt", &vrfstats(&vrf_stats(), None));
        let one = vrfstats(&vrf_stats()[1..2], Some(0));
        assert!(
            one.starts_with("Statistics for core 0\n\nVrf: 3\nDiscards 0, Resolves 1001, "),
            "{one}"
        );
        let j: Vec<CounterMap> = vrf_stats().iter().map(vrfstats_json).collect();
        golden(
            "vrfstats.json",
            &(serde_json::to_string_pretty(&j[1]).unwrap() + "\n"),
        );
    }

    #[test]
    fn vrouter_info_matches_golden() {
        let i = Info {
            version: "0.1.0".into(),
            interfaces: 4352,
            vrfs: 4096,
            nexthops: 65536,
            routes: 262144,
            rt_buckets: 16384,
            vifs_used: 5,
            nexthops_used: 7,
            routes_v4: 20000,
            routes_v6: 1,
            rt_buckets_used: 93,
            cpus: 4,
        };
        golden("vrouter_info.txt", &vrouter_info(&i));
    }

    #[test]
    fn counter_keys() {
        assert_eq!(counter_key("TTL Exceeded"), "ttl_exceeded");
        assert_eq!(
            counter_key("Flow Unusable (Eviction)"),
            "flow_unusable_eviction"
        );
        assert_eq!(counter_key("Bmac/ISID Mismatch"), "bmac_isid_mismatch");
        assert_eq!(counter_key("Arp Virtual Proxys"), "arp_virtual_proxys");
        assert_eq!(counter_key("GROs"), "gros");
        // keys are unique within each object
        for def in [&drop_reason::DEF, &vrf_stat::DEF] {
            let mut k: Vec<String> = def.entries.iter().map(|e| counter_key(e.2)).collect();
            k.push("vrf".into());
            let n = k.len();
            k.sort();
            k.dedup();
            assert_eq!(k.len(), n, "{}", def.name);
        }
    }

    fn flow_table() -> FlowTableInfo {
        FlowTableInfo {
            entries: 524288,
            oflow_entries: 105472,
            entry_size: 256,
            hold_limit: 8192,
            used: 6,
            hold: 1,
            oflow_used: 0,
            created: 171,
            added: 171,
            deleted: 332,
            changed: 332,
            evicted: 0,
            misses: 171,
            created_per_cpu: vec![49, 49, 73, 0],
        }
    }

    fn fkey(
        vrf: u32,
        src: &str,
        sport: u16,
        dst: &str,
        dport: u16,
        proto: u8,
    ) -> vrouter_client::FlowKey {
        vrouter_client::FlowKey {
            vrf,
            src: ip(src),
            dst: ip(dst),
            proto,
            sport,
            dport,
        }
    }

    fn fl(index: u32, key: vrouter_client::FlowKey, action: u32) -> Flow {
        Flow {
            index,
            gen: 1,
            key,
            action,
            flags: flow_flag::ACTIVE,
            drop_reason: None,
            rindex: None,
            tcp_flags: 0,
            packets: 0,
            bytes: 0,
            age: 0,
            vif: None,
            queued: 0,
        }
    }

    /// A dump, by index: a NAT'ed TCP pair (forward DNAT+DPAT, reverse SNAT+SPAT), a Hold
    /// entry, a Drop with a reason, a Drop without one, an IPv6 UDP entry, ICMP.
    fn flows() -> Vec<Flow> {
        use flow_flag::{ACTIVE, DNAT, DPAT, EVICT_CANDIDATE, NEW_FLOW, RFLOW_VALID, SNAT, SPAT};
        let fwd = fkey(2, "10.0.11.252", 46338, "169.254.0.4", 22, 6);
        let rev = fkey(2, "10.0.11.3", 8022, "10.0.11.252", 46338, 6);
        vec![
            Flow {
                gen: 2,
                packets: 48,
                bytes: 4704,
                age: 12,
                ..fl(
                    7,
                    fkey(0, "10.0.11.252", 7, "10.0.11.251", 0, 1),
                    flow_action::FORWARD,
                )
            },
            Flow {
                flags: ACTIVE | RFLOW_VALID | DNAT | DPAT,
                rindex: Some(398064),
                tcp_flags: flow_tcp::SYN | flow_tcp::ESTABLISHED,
                packets: 429,
                bytes: 33993,
                age: 3,
                ..fl(292028, fwd, flow_action::NAT)
            },
            Flow {
                flags: ACTIVE | RFLOW_VALID | SNAT | SPAT,
                rindex: Some(292028),
                tcp_flags: flow_tcp::SYN | flow_tcp::ESTABLISHED | flow_tcp::FIN,
                packets: 380,
                bytes: 1_234_567_890,
                age: 3,
                ..fl(398064, rev, flow_action::NAT)
            },
            Flow {
                flags: ACTIVE | NEW_FLOW,
                gen: 5,
                packets: 1,
                bytes: 98,
                vif: Some(3),
                queued: 1,
                ..fl(
                    400001,
                    fkey(3, "10.1.0.3", 33000, "10.1.0.4", 53, 17),
                    flow_action::HOLD,
                )
            },
            Flow {
                drop_reason: Some(drop_reason::FLOW_QUEUE_LIMIT),
                packets: 3,
                bytes: 180,
                age: 140,
                tcp_flags: flow_tcp::SYN | flow_tcp::RST | flow_tcp::DEAD,
                flags: ACTIVE | EVICT_CANDIDATE,
                ..fl(
                    524290,
                    fkey(3, "10.1.0.3", 40000, "10.9.9.9", 443, 6),
                    flow_action::DROP,
                )
            },
            Flow {
                ..fl(
                    600000,
                    fkey(3, "10.1.0.5", 1, "10.1.0.6", 2, 132),
                    flow_action::DROP,
                )
            },
            Flow {
                packets: 10,
                bytes: 1500,
                age: 1,
                ..fl(
                    629759,
                    fkey(
                        5,
                        "fd00:1::3",
                        53,
                        "2001:db8:1234:5678:9abc:def0:1234:5678",
                        40000,
                        17,
                    ),
                    flow_action::FORWARD,
                )
            },
        ]
    }

    #[test]
    fn flow_list_matches_golden() {
        golden("flow_list.txt", &flow_list(&flow_table(), &flows(), None));
        let m = crate::flowmatch::parse("10.0.11.252 & proto tcp").unwrap();
        golden(
            "flow_list_match.txt",
            &flow_list(&flow_table(), &flows(), Some(&m)),
        );
        let v = flows();
        golden("flow_get.txt", &flow_get(&v[1..3]));
        golden(
            "flow_list.json",
            &(serde_json::to_string_pretty(&v[1..4]).unwrap() + "\n"),
        );
    }

    #[test]
    fn flow_rows_follow_tf_columns() {
        let out = flow_list(&flow_table(), &flows(), None);
        let lines: Vec<&str> = out.lines().collect();
        // cli-formats.md's header lines
        assert_eq!(lines[0], "Flow table(size 161218560, entries 629760)");
        assert_eq!(lines[2], "Entries: Created 171 Added 171 Deleted 332 Changed 332 Processed 170 Used Overflow entries 0");
        assert_eq!(lines[3], "(Created Flows/CPU: 49 49 73 0)(oflows 0)");
        assert!(lines.contains(
            &"    Index                Source:Port/Destination:Port                      Proto(V)"
        ));
        assert!(lines.contains(
            &"-----------------------------------------------------------------------------------"
        ));
        // its sample rows: index, reverse, source padded to 46, proto (vrf)
        assert!(lines.contains(
            &"        7                10.0.11.252:7                                       1 (0)"
        ));
        assert!(lines.contains(
            &"   292028<=>398064       10.0.11.252:46338                                   6 (2)"
        ));
        assert!(lines.contains(&"                         169.254.0.4:22"));
        assert!(lines
            .contains(&"(Gen: 1, Action:N(DPd), Flags:, TCP:SSrEErFr,  Stats:429/33993, Age 3)"));
        assert!(lines.contains(
            &"(Gen: 1, Action:N(SPs), Flags:, TCP:SSrEErF,  Stats:380/1234567890, Age 3)"
        ));
        assert!(lines.contains(&"(Gen: 5, Action:H, Flags:N,  Stats:1/98, Age 0, Vif 3, Queued 1)"));
        assert!(lines.contains(
            &"(Gen: 1, Action:D(Flow Queue Limit Exceeded), Flags:Ec, TCP:SRD,  Stats:3/180,"
        ));
        assert!(
            lines.contains(&" Age 140)"),
            "wrapped once a line reaches 70 columns, as TF"
        );
        assert!(lines.contains(&"(Gen: 1, Action:D(Flow Action Drop), Flags:,  Stats:0/0, Age 0)"));
        assert!(lines.contains(
            &"   629759                [fd00:1::3]:53                                     17 (5)"
        ));
        assert!(lines
            .contains(&"                         [2001:db8:1234:5678:9abc:def0:1234:5678]:40000"));
        assert!(lines.iter().all(|l| !l.ends_with(' ')), "trailing spaces");
        assert!(out.ends_with(")\n\n"), "each entry ends with a blank line");
        // an empty table still has its headers
        let empty = flow_list(&FlowTableInfo::default(), &[], None);
        assert!(empty.starts_with("Flow table(size 0, entries 0)\n"));
        assert!(empty.ends_with("-----\n"));
    }

    #[test]
    fn flow_match_listing_keeps_reverse_tcp_state() {
        // the reverse entry is filtered out of the listing but its TCP state still shows
        let m = crate::flowmatch::parse("169.254.0.4:22").unwrap();
        let out = flow_list(&flow_table(), &flows(), Some(&m));
        assert!(out.contains("Listing flows matching ([169.254.0.4]:22)\n\n    Index"));
        assert!(out.contains("TCP:SSrEErFr,"));
        assert_eq!(out.matches("<=>").count(), 1);
        // without the reverse entry in the dump there are no r letters
        let v = flows();
        assert!(flow_get(&v[1..2]).contains("TCP:SE,"));
    }

    #[test]
    fn flow_stats_and_perf_match_golden() {
        let a = flow_table();
        let b = FlowTableInfo {
            used: 1006,
            hold: 3,
            added: 1171,
            created: 271,
            deleted: 432,
            ..flow_table()
        };
        let s = FlowStats::new(&a, &b, 2.0);
        assert_eq!(
            (
                s.setup_rate,
                s.teardown_rate,
                s.active,
                s.active_new,
                s.hold_new
            ),
            (550, 50, 1003, 998, 2)
        );
        let mut out = flow_stats(&s);
        out.push_str("----\n");
        out.push_str(&serde_json::to_string_pretty(&s).unwrap());
        out.push_str("\n----\n");
        let p = FlowPerf {
            requested: 1000,
            vrf: 0,
            created: 998,
            create_ms: 12.34,
            create_rate: rate(998, 12.34),
            deleted: Some(998),
            delete_ms: Some(8.0),
            delete_rate: Some(rate(998, 8.0)),
            failures: vec![FlowPerfFailure {
                op: "create",
                error: "flow exists (EEXIST)".into(),
                count: 2,
            }],
        };
        out.push_str(&flow_perf(&p));
        out.push_str(&flow_perf(&FlowPerf {
            deleted: None,
            delete_ms: None,
            delete_rate: None,
            ..p.clone()
        }));
        out.push_str(&serde_json::to_string_pretty(&p).unwrap());
        out.push('\n');
        golden("flow_stats_perf.txt", &out);
    }

    #[test]
    fn empty_flags_print_null() {
        assert_eq!(flag_symbols(0), "NULL");
        assert_eq!(flag_symbols(0x1 | 0x40 | 0x80 | 0x100), "PL3L2D");
    }
}
