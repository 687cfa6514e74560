//! `flow --match` expressions, TF's syntax: clauses joined by `&`, each one of
//! `ip[:port][,ip[:port]]` (IPv6 as `[addr]:port` or a bare address; `*` for any address
//! or port), `vrf N`, `proto tcp|udp|icmp|icmp6|sctp|N`. One endpoint matches either end
//! of a flow; two match its two ends in either direction. Applied to the dump client side.

use std::fmt::Write;
use std::net::IpAddr;
use vrouter_client::flow::parse_proto;
use vrouter_client::FlowKey;

/// One `ip[:port]`; None is `*` (any).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Endpoint {
    addr: Option<IpAddr>,
    port: Option<u16>,
}

impl Endpoint {
    fn matches(&self, addr: IpAddr, port: u16) -> bool {
        self.addr.is_none_or(|a| a == addr) && self.port.is_none_or(|p| p == port)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FlowMatch {
    /// None, one or two endpoints.
    endpoints: Vec<Endpoint>,
    vrf: Option<u32>,
    proto: Option<u8>,
}

/// Parses an expression; the error is one line without the option's name.
pub(crate) fn parse(expr: &str) -> Result<FlowMatch, String> {
    let mut m = FlowMatch::default();
    if expr.trim().is_empty() {
        return Err("empty expression".into());
    }
    for clause in expr.split('&').map(str::trim) {
        if clause.is_empty() {
            return Err(format!("empty clause in {expr:?}"));
        }
        let (word, rest) = clause
            .split_once(char::is_whitespace)
            .map_or((clause, ""), |(w, r)| (w, r.trim()));
        match word {
            "vrf" => {
                let v = rest
                    .parse::<u32>()
                    .map_err(|_| format!("bad VRF {rest:?} in \"vrf N\""))?;
                if m.vrf.replace(v).is_some() {
                    return Err("vrf given twice".into());
                }
            }
            "proto" => {
                let p = parse_proto(rest).ok_or_else(|| {
                    format!("unknown protocol {rest:?} (tcp, udp, icmp, icmp6, sctp or a number)")
                })?;
                if m.proto.replace(p).is_some() {
                    return Err("proto given twice".into());
                }
            }
            _ => {
                for ep in clause.split(',').map(str::trim) {
                    if m.endpoints.len() == 2 {
                        return Err(format!(
                            "{ep:?}: both ends of the flow are already given (ip:port[,ip:port])"
                        ));
                    }
                    m.endpoints.push(endpoint(ep)?);
                }
            }
        }
    }
    if let [Endpoint { addr: Some(a), .. }, Endpoint { addr: Some(b), .. }] = m.endpoints[..] {
        if a.is_ipv4() != b.is_ipv4() {
            return Err(format!("{a} and {b} are of different families"));
        }
    }
    Ok(m)
}

/// `a.b.c.d[:port]`, `[v6][:port]`, a bare IPv6 address (more than one ':'), `*[:port]`.
fn endpoint(s: &str) -> Result<Endpoint, String> {
    if s.is_empty() {
        return Err("empty endpoint (ip[:port])".into());
    }
    let (addr, port) = if let Some(inner) = s.strip_prefix('[') {
        let (a, rest) = inner
            .split_once(']')
            .ok_or_else(|| format!("{s:?}: no closing ']'"))?;
        match rest {
            "" => (a, None),
            _ => match rest.strip_prefix(':') {
                Some(p) => (a, Some(p)),
                None => return Err(format!("{s:?}: expected [addr]:port")),
            },
        }
    } else if s.matches(':').count() > 1 {
        (s, None) // a bare IPv6 address: no port
    } else {
        match s.split_once(':') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        }
    };
    let addr = match addr {
        "*" => None,
        a => Some(
            a.parse::<IpAddr>()
                .map_err(|_| format!("bad IP address {a:?}"))?,
        ),
    };
    let port = match port {
        None | Some("*") => None,
        Some(p) => Some(
            p.parse::<u16>()
                .map_err(|_| format!("bad port {p:?} in {s:?}"))?,
        ),
    };
    Ok(Endpoint { addr, port })
}

impl FlowMatch {
    pub(crate) fn matches(&self, k: &FlowKey) -> bool {
        if self.vrf.is_some_and(|v| v != k.vrf) || self.proto.is_some_and(|p| p != k.proto) {
            return false;
        }
        let src = |e: &Endpoint| e.matches(k.src, k.sport);
        let dst = |e: &Endpoint| e.matches(k.dst, k.dport);
        match &self.endpoints[..] {
            [] => true,
            [e] => src(e) || dst(e),
            [a, b, ..] => (src(a) && dst(b)) || (dst(a) && src(b)),
        }
    }

    /// TF's `Listing flows matching (...)` text: `[10.0.0.10]:*, Protocol TCP, VRF 2`.
    pub(crate) fn describe(&self) -> String {
        let mut parts: Vec<String> = self
            .endpoints
            .iter()
            .map(|e| {
                let mut s = String::from("[");
                match e.addr {
                    Some(a) => {
                        let _ = write!(s, "{a}");
                    }
                    None => s.push('*'),
                }
                match e.port {
                    Some(p) => {
                        let _ = write!(s, "]:{p}");
                    }
                    None => s.push_str("]:*"),
                }
                s
            })
            .collect();
        if let Some(p) = self.proto {
            parts.push(format!("Protocol {}", tf_proto_string(p)));
        }
        if let Some(v) = self.vrf {
            parts.push(format!("VRF {v}"));
        }
        parts.join(", ")
    }
}

/// TF's `vr_proto_string` (upper case), the number for others.
fn tf_proto_string(p: u8) -> String {
    match p {
        6 => "TCP".into(),
        17 => "UDP".into(),
        1 => "ICMP".into(),
        132 => "SCTP".into(),
        58 => "ICMPv6".into(),
        n => n.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    fn ep(a: &str, p: Option<u16>) -> Endpoint {
        Endpoint {
            addr: if a == "*" { None } else { ip(a) },
            port: p,
        }
    }

    #[test]
    fn tf_usage_examples_parse() {
        // the examples of TF's `flow --help`
        let cases: &[(&str, FlowMatch)] = &[
            (
                "1.1.1.1:20",
                FlowMatch {
                    endpoints: vec![ep("1.1.1.1", Some(20))],
                    ..Default::default()
                },
            ),
            (
                "1.1.1.1:20,2.2.2.2:22",
                FlowMatch {
                    endpoints: vec![ep("1.1.1.1", Some(20)), ep("2.2.2.2", Some(22))],
                    ..Default::default()
                },
            ),
            (
                "[fe80::225:90ff:fec3:afa]:22",
                FlowMatch {
                    endpoints: vec![ep("fe80::225:90ff:fec3:afa", Some(22))],
                    ..Default::default()
                },
            ),
            (
                "10.204.217.10:56910 & vrf 0 & proto tcp",
                FlowMatch {
                    endpoints: vec![ep("10.204.217.10", Some(56910))],
                    vrf: Some(0),
                    proto: Some(6),
                },
            ),
            (
                "10.204.217.10:56910,169.254.0.3:22 & vrf 0 & proto tcp",
                FlowMatch {
                    endpoints: vec![
                        ep("10.204.217.10", Some(56910)),
                        ep("169.254.0.3", Some(22)),
                    ],
                    vrf: Some(0),
                    proto: Some(6),
                },
            ),
            // and the other shapes
            (
                "10.0.0.10",
                FlowMatch {
                    endpoints: vec![ep("10.0.0.10", None)],
                    ..Default::default()
                },
            ),
            (
                "fd00::1",
                FlowMatch {
                    endpoints: vec![ep("fd00::1", None)],
                    ..Default::default()
                },
            ),
            (
                "[fd00::1]",
                FlowMatch {
                    endpoints: vec![ep("fd00::1", None)],
                    ..Default::default()
                },
            ),
            (
                "*:22 , 10.0.0.1:*",
                FlowMatch {
                    endpoints: vec![ep("*", Some(22)), ep("10.0.0.1", None)],
                    ..Default::default()
                },
            ),
            (
                "proto udp&vrf 7",
                FlowMatch {
                    vrf: Some(7),
                    proto: Some(17),
                    ..Default::default()
                },
            ),
            (
                "proto 47",
                FlowMatch {
                    proto: Some(47),
                    ..Default::default()
                },
            ),
            (
                "1.1.1.1 & 2.2.2.2",
                FlowMatch {
                    endpoints: vec![ep("1.1.1.1", None), ep("2.2.2.2", None)],
                    ..Default::default()
                },
            ),
        ];
        for (s, want) in cases {
            assert_eq!(
                &parse(s).unwrap_or_else(|e| panic!("{s}: {e}")),
                want,
                "{s}"
            );
        }
    }

    #[test]
    fn bad_expressions_say_why() {
        let cases = [
            ("", "empty expression"),
            ("1.1.1.1 &", "empty clause in \"1.1.1.1 &\""),
            (
                "1.1.1.1:20,2.2.2.2:22,3.3.3.3",
                "\"3.3.3.3\": both ends of the flow are already given (ip:port[,ip:port])",
            ),
            (
                "1.1.1.1,2.2.2.2 & 3.3.3.3",
                "\"3.3.3.3\": both ends of the flow are already given (ip:port[,ip:port])",
            ),
            ("1.1.1.1:99999", "bad port \"99999\" in \"1.1.1.1:99999\""),
            ("1.1.1.1:x", "bad port \"x\" in \"1.1.1.1:x\""),
            ("1.1.1:20", "bad IP address \"1.1.1\""),
            ("[fd00::1:22", "\"[fd00::1:22\": no closing ']'"),
            ("[fd00::1]22", "\"[fd00::1]22\": expected [addr]:port"),
            ("fd00::zz", "bad IP address \"fd00::zz\""),
            (
                "1.1.1.1,fd00::1",
                "1.1.1.1 and fd00::1 are of different families",
            ),
            ("vrf x", "bad VRF \"x\" in \"vrf N\""),
            ("vrf", "bad VRF \"\" in \"vrf N\""),
            ("vrf 1 & vrf 2", "vrf given twice"),
            (
                "proto gre",
                "unknown protocol \"gre\" (tcp, udp, icmp, icmp6, sctp or a number)",
            ),
            ("1.1.1.1,", "empty endpoint (ip[:port])"),
        ];
        for (s, want) in cases {
            assert_eq!(parse(s).unwrap_err(), want, "{s:?}");
        }
    }

    fn key(src: &str, sport: u16, dst: &str, dport: u16) -> FlowKey {
        FlowKey {
            vrf: 2,
            src: ip(src).unwrap(),
            dst: ip(dst).unwrap(),
            proto: 6,
            sport,
            dport,
        }
    }

    #[test]
    fn endpoints_match_either_direction() {
        let k = key("10.0.0.1", 1000, "10.0.0.2", 80);
        let yes = |s: &str| parse(s).unwrap().matches(&k);
        assert!(yes("10.0.0.1"));
        assert!(yes("10.0.0.2:80"));
        assert!(yes("10.0.0.1:1000,10.0.0.2:80"));
        assert!(
            yes("10.0.0.2:80,10.0.0.1:1000"),
            "the reverse order matches too"
        );
        assert!(yes("*:80"));
        assert!(yes("10.0.0.1 & vrf 2 & proto tcp"));
        assert!(yes("vrf 2"));
        assert!(!yes("10.0.0.1:80"), "the port belongs to the other end");
        assert!(!yes("10.0.0.1,10.0.0.1"), "both ends must match");
        assert!(!yes("10.0.0.3"));
        assert!(!yes("10.0.0.1 & vrf 3"));
        assert!(!yes("10.0.0.1 & proto udp"));
        assert!(!yes("fd00::1"));
        let k6 = key("fd00::1", 53, "fd00::2", 4000);
        assert!(parse("[fd00::1]:53,fd00::2").unwrap().matches(&k6));
        assert!(!parse("[fd00::1]:54").unwrap().matches(&k6));
    }

    #[test]
    fn descriptions_look_like_tf() {
        assert_eq!(parse("10.0.0.10").unwrap().describe(), "[10.0.0.10]:*");
        assert_eq!(
            parse("10.204.217.10:56910,169.254.0.3:22 & vrf 0 & proto tcp")
                .unwrap()
                .describe(),
            "[10.204.217.10]:56910, [169.254.0.3]:22, Protocol TCP, VRF 0"
        );
        assert_eq!(
            parse("*:22 & proto icmp6").unwrap().describe(),
            "[*]:22, Protocol ICMPv6"
        );
    }
}
