//! `vrctl flow` (TF `flow`): list, match and show flow entries, set verdicts, flush, the
//! table statistics, the `-p` performance run and the flow-miss monitor.

mod flowmatch;

use super::{json, usage};
use crate::{code_of, exit, Failure};
use clap::ArgGroup;
use flowmatch::FlowMatch;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};
use vrouter_client::{Client, Error, Flow, FlowKey, FlowSpec, FlowTableInfo};
use vrouter_uapi::{flow_action, flow_flag, flow_tcp, FLOW_FLAGS_SETTABLE};

#[derive(clap::Args)]
#[command(group(ArgGroup::new("op").args(["list", "get", "stats", "perf", "flush", "forward", "drop", "invalidate", "monitor"])))]
pub(crate) struct FlowArgs {
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

/// Most flows `-p` creates (TF's MAX_FLOWS).
const PERF_MAX: u32 = 4_000_000;

pub(crate) fn run(a: FlowArgs) -> Result<String, Failure> {
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
        return monitor();
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
        return Ok(flow_list(&table, &flows, filter.as_ref()));
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
        return Ok(if a.json { json(&v) } else { flow_get(&v) });
    }
    if a.stats {
        let first = c.flow_table()?;
        let t = Instant::now();
        std::thread::sleep(Duration::from_secs_f64(interval));
        let second = c.flow_table()?;
        let s = FlowStats::new(&first, &second, t.elapsed().as_secs_f64());
        return Ok(if a.json { json(&s) } else { flow_stats(&s) });
    }
    if let Some(n) = a.perf {
        return perf(&mut c, n, a.vrf.unwrap_or(0), a.keep, a.json);
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

fn monitor() -> Result<String, Failure> {
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

fn perf(c: &mut Client, n: u32, vrf: u32, keep: bool, as_json: bool) -> Result<String, Failure> {
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
    let mut report = FlowPerf {
        requested: specs.len(),
        vrf,
        created: made.len(),
        create_ms,
        create_rate: rate(made.len(), create_ms),
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
        report.delete_rate = Some(rate(ok, ms));
    }
    report.failures = failures
        .iter()
        .map(|(op, error, count, _)| FlowPerfFailure {
            op,
            error: error.clone(),
            count: *count,
        })
        .collect();
    let out = if as_json {
        json(&report)
    } else {
        flow_perf(&report)
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

// ---------------------------------------------------------------------------------------
// layouts: flow -l / flow --get / flow -s / flow -p

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
fn flow_list(t: &FlowTableInfo, flows: &[Flow], filter: Option<&FlowMatch>) -> String {
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
fn flow_get(flows: &[Flow]) -> String {
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
struct FlowStats {
    interval_s: f64,
    /// Main plus overflow entries.
    entries: u64,
    used: u32,
    used_new: i64,
    /// Entries with a verdict (not Hold).
    active: u32,
    active_new: i64,
    hold: u32,
    hold_new: i64,
    hold_limit: u32,
    oflow_entries: u32,
    oflow_used: u32,
    /// Entries made (on a miss or over netlink) per second.
    setup_rate: u64,
    /// Entries removed per second.
    teardown_rate: u64,
}

impl FlowStats {
    fn new(a: &FlowTableInfo, b: &FlowTableInfo, secs: f64) -> FlowStats {
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
fn flow_stats(s: &FlowStats) -> String {
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
struct FlowPerf {
    requested: usize,
    vrf: u32,
    created: usize,
    create_ms: f64,
    create_rate: u64,
    /// None with `--keep`.
    deleted: Option<usize>,
    delete_ms: Option<f64>,
    delete_rate: Option<u64>,
    failures: Vec<FlowPerfFailure>,
}

/// Failed requests of one phase with one error text.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
struct FlowPerfFailure {
    /// "create" or "delete".
    op: &'static str,
    error: String,
    count: usize,
}

/// Requests per second, rounded.
fn rate(n: usize, ms: f64) -> u64 {
    (n as f64 * 1000.0 / ms.max(1e-3)).round() as u64
}

/// TF prints `Created N HOLD entries in M msec`; here one line per phase.
fn flow_perf(p: &FlowPerf) -> String {
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
    use crate::cmd::{golden, ip};
    use vrouter_uapi::drop_reason;

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
        let m = flowmatch::parse("10.0.11.252 & proto tcp").unwrap();
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
        let m = flowmatch::parse("169.254.0.4:22").unwrap();
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
