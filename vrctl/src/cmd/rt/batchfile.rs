//! `rt --batch` input: one operation per line,
//!
//! ```text
//! add <vrf> <prefix>/<len> <nh> [label L] [proxy] [trap] [flood] [mac M]
//! del <vrf> <prefix>/<len>
//! ```
//!
//! `#` starts a comment; blank lines are skipped. The whole input is parsed before anything
//! is sent; a bad line is reported with its number and the other lines still go out.

use vrouter_client::rt::parse_route_prefix;
use vrouter_client::vif::parse_mac;
use vrouter_client::{Route, RouteOp};
use vrouter_uapi::rt_flag;

#[derive(Debug, Default)]
pub(crate) struct Parsed {
    /// Operations to send, in file order.
    pub(crate) ops: Vec<RouteOp>,
    /// Line number (1-based) of each operation.
    pub(crate) lines: Vec<u32>,
    /// Lines that could not be parsed: (line number, message).
    pub(crate) errors: Vec<(u32, String)>,
}

pub(crate) fn parse(text: &str) -> Parsed {
    let mut p = Parsed::default();
    // ~40 bytes per line is typical; avoids regrowing for big files
    let guess = text.len() / 32;
    p.ops.reserve(guess);
    p.lines.reserve(guess);
    for (n, line) in text.lines().enumerate() {
        let n = (n + 1) as u32;
        match parse_line(line) {
            Ok(Some(op)) => {
                p.ops.push(op);
                p.lines.push(n);
            }
            Ok(None) => {}
            Err(e) => p.errors.push((n, e)),
        }
    }
    p
}

fn number(what: &str, tok: Option<&str>) -> Result<u32, String> {
    let t = tok.ok_or_else(|| format!("missing {what}"))?;
    t.parse().map_err(|_| format!("bad {what} {t:?}"))
}

/// One line: Ok(None) for blank lines and comments.
fn parse_line(line: &str) -> Result<Option<RouteOp>, String> {
    let line = line.split('#').next().unwrap_or("");
    let mut t = line.split_ascii_whitespace();
    let Some(op) = t.next() else { return Ok(None) };
    let add = match op {
        "add" => true,
        "del" | "delete" => false,
        _ => return Err(format!("unknown operation {op:?} (add or del)")),
    };
    let vrf = number("vrf", t.next())?;
    let (prefix, len) = parse_route_prefix(t.next().ok_or("missing prefix")?)?;
    if !add {
        if let Some(extra) = t.next() {
            return Err(format!("unexpected {extra:?} after a del"));
        }
        return Ok(Some(RouteOp::Del { vrf, prefix, len }));
    }
    let mut r = Route::new(vrf, prefix, len, number("nexthop", t.next())?);
    while let Some(word) = t.next() {
        match word {
            "label" => {
                r.label = Some(number("label", t.next())?);
                r.flags |= rt_flag::LABEL_VALID;
            }
            "proxy" => r.flags |= rt_flag::PROXY_ARP,
            "trap" => r.flags |= rt_flag::TRAP_ARP,
            "flood" => r.flags |= rt_flag::FLOOD_ARP,
            "mac" => {
                let m = t.next().ok_or("missing mac")?;
                r.mac = Some(parse_mac(m).ok_or_else(|| format!("bad MAC address {m:?}"))?);
            }
            w => {
                return Err(format!(
                    "unknown option {w:?} (label L, proxy, trap, flood, mac M)"
                ))
            }
        }
    }
    Ok(Some(RouteOp::Add(r)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::ip;

    #[test]
    fn good_lines() {
        let text = "# routes for vrf 5\n\
                    add 5 10.1.0.0/24 1\n\
                    \n\
                    add 5 10.1.1.3/32 21 label 42 proxy trap flood mac 02:00:00:00:00:01   # a host\n\
                    \tdel 5 10.1.0.0/24\n\
                    add 6 fd00:3::/48 7 proxy\n\
                    add 6 10.9.9.9 7\n";
        let p = parse(text);
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        assert_eq!(p.lines, [2, 4, 5, 6, 7]);
        assert_eq!(p.ops[0], RouteOp::Add(Route::new(5, ip("10.1.0.0"), 24, 1)));
        let RouteOp::Add(r) = p.ops[1] else { panic!() };
        assert_eq!(r.label, Some(42));
        assert_eq!(
            r.flags,
            rt_flag::LABEL_VALID | rt_flag::PROXY_ARP | rt_flag::TRAP_ARP | rt_flag::FLOOD_ARP
        );
        assert_eq!(r.mac, Some([2, 0, 0, 0, 0, 1]));
        assert_eq!(
            p.ops[2],
            RouteOp::Del {
                vrf: 5,
                prefix: ip("10.1.0.0"),
                len: 24
            }
        );
        let RouteOp::Add(r) = p.ops[3] else { panic!() };
        assert_eq!(
            (r.prefix, r.prefix_len, r.flags, r.family),
            (ip("fd00:3::"), 48, rt_flag::PROXY_ARP, 10)
        );
        let RouteOp::Add(r) = p.ops[4] else { panic!() };
        assert_eq!(r.prefix_len, 32);
    }

    #[test]
    fn bad_lines_are_reported_with_their_numbers() {
        let text = "add 5 10.0.0.0/24 1\n\
                    add 5 10.0.0.0/33 1\n\
                    ad 5 10.0.0.0/24 1\n\
                    add x 10.0.0.0/24 1\n\
                    add 5 10.0.0.5/24 1\n\
                    add 5 10.0.0.0/24\n\
                    add 5 10.0.0.0/24 1 label\n\
                    add 5 10.0.0.0/24 1 mac 00:11\n\
                    add 5 10.0.0.0/24 1 bogus\n\
                    del 5 10.0.0.0/24 1\n\
                    del 5\n\
                    add 5 10.0.0/24 1\n\
                    del 5 10.200.0.0/24\n";
        let p = parse(text);
        assert_eq!(p.lines, [1, 13]);
        let e: Vec<(u32, &str)> = p.errors.iter().map(|(n, m)| (*n, m.as_str())).collect();
        assert_eq!(
            e,
            [
                (2, "prefix length 33 beyond 32"),
                (3, "unknown operation \"ad\" (add or del)"),
                (4, "bad vrf \"x\""),
                (
                    5,
                    "10.0.0.5/24 has host bits set (the network is 10.0.0.0/24)"
                ),
                (6, "missing nexthop"),
                (7, "missing label"),
                (8, "bad MAC address \"00:11\""),
                (
                    9,
                    "unknown option \"bogus\" (label L, proxy, trap, flood, mac M)"
                ),
                (10, "unexpected \"1\" after a del"),
                (11, "missing prefix"),
                (12, "bad IP address \"10.0.0\""),
            ]
        );
    }

    #[test]
    fn a_large_file_parses_quickly() {
        let mut text = String::new();
        for i in 0..100_000u32 {
            text.push_str(&format!("add 5 10.{}.{}.0/24 1\n", (i >> 8) & 255, i & 255));
        }
        let t = std::time::Instant::now();
        let p = parse(&text);
        assert_eq!(p.ops.len(), 100_000);
        assert!(t.elapsed().as_secs() < 5);
    }
}
