//! Routes: RT_NEW / RT_DEL / RT_GET (+dump), and the `config` group's route notifications.

use crate::error::{Error, Result};
use crate::message::{AttrSink, Attrs, VrMessage};
use crate::socket::Client;
use crate::vif::format_mac;
use serde::ser::{Serialize, SerializeStruct, Serializer};
use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use vrouter_uapi::{addr_family, cmd, rt_attr as A, rt_flag, MCGRP_CONFIG};

/// A route as the kernel reports it, or as RT_NEW installs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub vrf: u32,
    /// `addr-family` value; requests take it from `prefix`.
    pub family: u32,
    pub prefix: IpAddr,
    pub prefix_len: u8,
    pub nh_id: u32,
    /// MPLS label / VNI; `Some` exactly when the LABEL_VALID flag is set.
    pub label: Option<u32>,
    /// `rt-flags` bits (LABEL_VALID follows `label`).
    pub flags: u32,
    /// Stitched MAC (answered in proxied ARP replies).
    pub mac: Option<[u8; 6]>,
    /// Length of the covering route (PPL), read only.
    pub parent_len: u8,
}

/// One operation of a route batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteOp {
    Add(Route),
    Del { vrf: u32, prefix: IpAddr, len: u8 },
}

pub fn family_of(addr: &IpAddr) -> u32 {
    match addr {
        IpAddr::V4(_) => addr_family::INET,
        IpAddr::V6(_) => addr_family::INET6,
    }
}

/// "inet" / "inet6" (the `--family` words).
pub fn family_str(family: u32) -> &'static str {
    match family {
        addr_family::INET => "inet",
        addr_family::INET6 => "inet6",
        _ => "unknown",
    }
}

/// `--family` / `-f`: `inet`, `inet6`, or TF's numbers `0` (inet) and `2` (inet6).
pub fn parse_family(s: &str) -> Option<u32> {
    match s {
        "inet" | "inet4" | "0" | "ipv4" => Some(addr_family::INET),
        "inet6" | "2" | "ipv6" => Some(addr_family::INET6),
        _ => None,
    }
}

/// 32 or 128.
pub fn max_len(addr: &IpAddr) -> u8 {
    if addr.is_ipv4() {
        32
    } else {
        128
    }
}

/// The address with the bits past `len` cleared.
pub fn mask(addr: IpAddr, len: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let m = if len == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(len.min(32)))
            };
            IpAddr::V4(Ipv4Addr::from(u32::from(a) & m))
        }
        IpAddr::V6(a) => {
            let m = if len == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(len.min(128)))
            };
            IpAddr::V6(Ipv6Addr::from(u128::from(a) & m))
        }
    }
}

/// Parses `ADDR/LEN` (or a bare address, a host route). The error is a one-line message.
pub fn parse_prefix(s: &str) -> std::result::Result<(IpAddr, u8), String> {
    let (a, l) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (s, None),
    };
    let addr: IpAddr = a.parse().map_err(|_| format!("bad IP address {a:?}"))?;
    let len = match l {
        None => max_len(&addr),
        Some(l) => l
            .parse::<u8>()
            .map_err(|_| format!("bad prefix length {l:?}"))?,
    };
    if len > max_len(&addr) {
        return Err(format!("prefix length {len} beyond {}", max_len(&addr)));
    }
    Ok((addr, len))
}

/// Like [`parse_prefix`], and refuses host bits past the length (the kernel would too).
pub fn parse_route_prefix(s: &str) -> std::result::Result<(IpAddr, u8), String> {
    let (addr, len) = parse_prefix(s)?;
    let net = mask(addr, len);
    if net != addr {
        return Err(format!(
            "{addr}/{len} has host bits set (the network is {net}/{len})"
        ));
    }
    Ok((addr, len))
}

/// The `rt --dump` letters of the flags (L P T F).
pub fn flag_letters(flags: u32) -> String {
    rt_flag::DEF
        .entries
        .iter()
        .filter(|e| flags & e.1 != 0)
        .map(|e| e.2)
        .collect()
}

fn put_key(s: &mut impl AttrSink, vrf: u32, prefix: &IpAddr, len: u8) {
    s.put_u32(A::VRF, vrf);
    s.put_u32(A::FAMILY, family_of(prefix));
    match prefix {
        IpAddr::V4(a) => s.put(A::PREFIX, &a.octets()),
        IpAddr::V6(a) => s.put(A::PREFIX, &a.octets()),
    }
    s.put_u32(A::PREFIX_LEN, u32::from(len));
}

impl Route {
    /// A route to `nh_id` with no label, flags or MAC.
    pub fn new(vrf: u32, prefix: IpAddr, prefix_len: u8, nh_id: u32) -> Route {
        Route {
            vrf,
            family: family_of(&prefix),
            prefix,
            prefix_len,
            nh_id,
            label: None,
            flags: 0,
            mac: None,
            parent_len: 0,
        }
    }

    /// The RT_NEW attributes (FAMILY from the prefix; LABEL_VALID set exactly with a label).
    pub fn encode(&self, s: &mut impl AttrSink) {
        put_key(s, self.vrf, &self.prefix, self.prefix_len);
        s.put_u32(A::NH_ID, self.nh_id);
        let mut flags = self.flags & !rt_flag::LABEL_VALID;
        if let Some(l) = self.label {
            flags |= rt_flag::LABEL_VALID;
            s.put_u32(A::LABEL, l);
        }
        s.put_u32(A::FLAGS, flags);
        if let Some(mac) = &self.mac {
            s.put(A::MAC, mac);
        }
    }

    pub fn from_attrs(a: &Attrs) -> Result<Route> {
        let need = |id: u16, what: &str| {
            a.u32(id)
                .ok_or_else(|| Error::Decode(format!("route without {what}")))
        };
        let prefix = match a.get(A::PREFIX) {
            Some(p) if p.len() == 4 => {
                IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(p).unwrap_or_default()))
            }
            Some(p) if p.len() == 16 => {
                IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(p).unwrap_or_default()))
            }
            Some(p) => return Err(Error::Decode(format!("route prefix of {} bytes", p.len()))),
            None => return Err(Error::Decode("route without prefix".into())),
        };
        let flags = a.u32(A::FLAGS).unwrap_or(0);
        Ok(Route {
            vrf: need(A::VRF, "vrf")?,
            family: a.u32(A::FAMILY).unwrap_or(family_of(&prefix)),
            prefix,
            prefix_len: need(A::PREFIX_LEN, "prefix length")?.min(255) as u8,
            nh_id: a.u32(A::NH_ID).unwrap_or(0),
            label: (flags & rt_flag::LABEL_VALID != 0).then(|| a.u32(A::LABEL).unwrap_or(0)),
            flags,
            mac: a.array::<6>(A::MAC),
            parent_len: a.u32(A::PARENT_LEN).unwrap_or(0).min(255) as u8,
        })
    }

    /// The attributes the kernel sends for this route (tests, replays).
    pub fn encode_reply(&self, s: &mut impl AttrSink) {
        self.encode(s);
        s.put_u32(A::PARENT_LEN, u32::from(self.parent_len));
    }

    pub fn to_message(&self) -> VrMessage {
        let mut m = VrMessage::new(cmd::RT_NEW);
        self.encode(&mut m.attrs);
        m
    }
}

/// JSON: `{"vrf":1,"family":"inet","prefix":"10.1.0.3/32","nh":21,"label":null,"flags":"P",
/// "mac":null,"parent_len":0}` (the `rt --monitor` shape, without `op`).
impl Serialize for Route {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Route", 8)?;
        st.serialize_field("vrf", &self.vrf)?;
        st.serialize_field("family", family_str(self.family))?;
        st.serialize_field("prefix", &format!("{}/{}", self.prefix, self.prefix_len))?;
        st.serialize_field("nh", &self.nh_id)?;
        st.serialize_field("label", &self.label)?;
        st.serialize_field("flags", &flag_letters(self.flags))?;
        st.serialize_field("mac", &self.mac.as_ref().map(format_mac))?;
        st.serialize_field("parent_len", &self.parent_len)?;
        st.end()
    }
}

impl RouteOp {
    pub fn cmd(&self) -> u8 {
        match self {
            RouteOp::Add(_) => cmd::RT_NEW,
            RouteOp::Del { .. } => cmd::RT_DEL,
        }
    }

    pub fn encode(&self, s: &mut impl AttrSink) {
        match self {
            RouteOp::Add(r) => r.encode(s),
            RouteOp::Del { vrf, prefix, len } => put_key(s, *vrf, prefix, *len),
        }
    }

    pub fn to_message(&self) -> VrMessage {
        let mut m = VrMessage::new(self.cmd());
        self.encode(&mut m.attrs);
        m
    }
}

impl Client {
    pub fn rt_add(&mut self, route: &Route) -> Result<()> {
        self.request(route.to_message(), false).map(|_| ())
    }

    pub fn rt_del(&mut self, vrf: u32, prefix: IpAddr, len: u8) -> Result<()> {
        self.request(RouteOp::Del { vrf, prefix, len }.to_message(), false)
            .map(|_| ())
    }

    /// Longest-prefix match of `addr/len` in `vrf` (host bits of `addr` are cleared first):
    /// the route that carries that traffic. ENOENT when nothing matches.
    pub fn rt_get(&mut self, vrf: u32, addr: IpAddr, len: u8) -> Result<Route> {
        let mut m = VrMessage::new(cmd::RT_GET);
        put_key(&mut m.attrs, vrf, &mask(addr, len), len);
        let r = self
            .request(m, false)?
            .pop()
            .ok_or_else(|| Error::Decode("no reply".into()))?;
        Route::from_attrs(&r.attrs)
    }

    /// Every route of one VRF and family, sorted by address then length (the kernel dumps
    /// in storage order).
    pub fn rt_dump(&mut self, vrf: u32, family: u32) -> Result<Vec<Route>> {
        let mut m = VrMessage::new(cmd::RT_GET);
        m.attrs.push_u32(A::VRF, vrf).push_u32(A::FAMILY, family);
        let mut v: Vec<Route> = self
            .request(m, true)?
            .iter()
            .map(|r| Route::from_attrs(&r.attrs))
            .collect::<Result<_>>()?;
        sort_routes(&mut v);
        Ok(v)
    }

    /// Turns this client into a listener of the `config` multicast group's route changes.
    pub fn rt_monitor(mut self) -> Result<RouteMonitor> {
        self.subscribe(MCGRP_CONFIG)?;
        Ok(RouteMonitor {
            client: self,
            pending: VecDeque::new(),
        })
    }
}

/// Address, then prefix length.
pub fn sort_routes(v: &mut [Route]) {
    v.sort_unstable_by_key(|r| (r.prefix, r.prefix_len));
}

/// Whether a notification announced an addition (RT_NEW) or a deletion (RT_DEL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteChange {
    Add,
    Del,
}

impl RouteChange {
    pub fn as_str(&self) -> &'static str {
        match self {
            RouteChange::Add => "add",
            RouteChange::Del => "del",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteEvent {
    pub op: RouteChange,
    pub route: Route,
}

impl RouteEvent {
    /// Decodes a notification; None for messages that are not route changes.
    pub fn from_message(m: &VrMessage) -> Option<Result<RouteEvent>> {
        let op = match m.cmd {
            cmd::RT_NEW => RouteChange::Add,
            cmd::RT_DEL => RouteChange::Del,
            _ => return None,
        };
        Some(Route::from_attrs(&m.attrs).map(|route| RouteEvent { op, route }))
    }
}

/// Route changes as they happen (`rt --monitor`). Blocking; an `Err` item with ENOBUFS
/// means events were lost because the reader fell behind; later items are fine.
pub struct RouteMonitor {
    client: Client,
    pending: VecDeque<RouteEvent>,
}

impl RouteMonitor {
    pub fn next_event(&mut self) -> Result<RouteEvent> {
        loop {
            if let Some(e) = self.pending.pop_front() {
                return Ok(e);
            }
            for m in self.client.recv_notifications()? {
                if let Some(e) = RouteEvent::from_message(&m) {
                    self.pending.push_back(e?);
                }
            }
        }
    }
}

impl Iterator for RouteMonitor {
    type Item = Result<RouteEvent>;
    fn next(&mut self) -> Option<Self::Item> {
        Some(self.next_event())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::RawAttrs;

    fn v4(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn route_round_trips_through_kernel_attributes() {
        let routes = [
            Route {
                flags: rt_flag::PROXY_ARP,
                parent_len: 16,
                ..Route::new(1, v4("10.47.255.251"), 32, 21)
            },
            Route {
                label: Some(65),
                flags: rt_flag::LABEL_VALID | rt_flag::PROXY_ARP,
                mac: Some([2, 0xc7, 0x80, 0x7e, 0x22, 0xf2]),
                ..Route::new(4095, v4("0.0.0.0"), 0, 29)
            },
            Route {
                flags: rt_flag::TRAP_ARP | rt_flag::FLOOD_ARP,
                ..Route::new(2, v4("fd00:1::"), 64, 7)
            },
        ];
        for r in routes {
            let mut buf = Vec::new();
            r.encode_reply(&mut RawAttrs(&mut buf));
            let back = Route::from_attrs(&Attrs::parse(&buf).unwrap()).unwrap();
            assert_eq!(back, r);
        }
        // the family comes from the prefix, and v6 prefixes are 16 bytes
        let m = routes[2].to_message();
        assert_eq!(m.attrs.u32(A::FAMILY), Some(addr_family::INET6));
        assert_eq!(m.attrs.get(A::PREFIX).map(<[u8]>::len), Some(16));
        assert_eq!(
            routes[0].to_message().attrs.get(A::PREFIX),
            Some(&[10, 47, 255, 251][..])
        );
    }

    #[test]
    fn label_valid_follows_the_label() {
        let r = Route {
            flags: rt_flag::LABEL_VALID | rt_flag::PROXY_ARP,
            ..Route::new(1, v4("10.0.0.0"), 8, 1)
        };
        let m = r.to_message();
        assert_eq!(m.attrs.u32(A::FLAGS), Some(rt_flag::PROXY_ARP));
        assert_eq!(m.attrs.get(A::LABEL), None);
        let m = Route {
            label: Some(0),
            ..r
        }
        .to_message();
        assert_eq!(
            m.attrs.u32(A::FLAGS),
            Some(rt_flag::PROXY_ARP | rt_flag::LABEL_VALID)
        );
        assert_eq!(m.attrs.u32(A::LABEL), Some(0));
    }

    #[test]
    fn delete_carries_only_the_key() {
        let m = RouteOp::Del {
            vrf: 3,
            prefix: v4("10.3.1.0"),
            len: 24,
        }
        .to_message();
        assert_eq!(m.cmd, cmd::RT_DEL);
        let kinds: Vec<u16> = m.attrs.0.iter().map(|a| a.kind).collect();
        assert_eq!(kinds, [A::VRF, A::FAMILY, A::PREFIX, A::PREFIX_LEN]);
    }

    #[test]
    fn prefix_parsing() {
        assert_eq!(parse_prefix("10.1.0.0/24"), Ok((v4("10.1.0.0"), 24)));
        assert_eq!(parse_prefix("10.1.0.3"), Ok((v4("10.1.0.3"), 32)));
        assert_eq!(parse_prefix("fd00::1"), Ok((v4("fd00::1"), 128)));
        assert_eq!(parse_prefix("::/0"), Ok((v4("::"), 0)));
        assert_eq!(
            parse_prefix("10.0.0.0/33").unwrap_err(),
            "prefix length 33 beyond 32"
        );
        assert_eq!(
            parse_prefix("fd00::/129").unwrap_err(),
            "prefix length 129 beyond 128"
        );
        assert_eq!(
            parse_prefix("10.0.0/8").unwrap_err(),
            "bad IP address \"10.0.0\""
        );
        assert_eq!(
            parse_prefix("10.0.0.0/x").unwrap_err(),
            "bad prefix length \"x\""
        );
        assert_eq!(
            parse_prefix("10.0.0.0/-1").unwrap_err(),
            "bad prefix length \"-1\""
        );
        assert_eq!(
            parse_route_prefix("10.1.0.5/24").unwrap_err(),
            "10.1.0.5/24 has host bits set (the network is 10.1.0.0/24)"
        );
        assert!(parse_route_prefix("10.1.0.0/24").is_ok());
    }

    #[test]
    fn masking() {
        assert_eq!(mask(v4("10.3.7.7"), 16), v4("10.3.0.0"));
        assert_eq!(mask(v4("10.3.7.7"), 0), v4("0.0.0.0"));
        assert_eq!(mask(v4("10.3.7.7"), 32), v4("10.3.7.7"));
        assert_eq!(mask(v4("fd00:3:1::5"), 48), v4("fd00:3:1::"));
        assert_eq!(mask(v4("fd00:3:1::5"), 128), v4("fd00:3:1::5"));
    }

    #[test]
    fn routes_sort_by_address_then_length() {
        let mut v = vec![
            Route::new(1, v4("10.1.0.0"), 24, 1),
            Route::new(1, v4("0.0.0.0"), 0, 1),
            Route::new(1, v4("10.1.0.0"), 16, 1),
            Route::new(1, v4("9.255.0.0"), 16, 1),
        ];
        sort_routes(&mut v);
        let s: Vec<String> = v
            .iter()
            .map(|r| format!("{}/{}", r.prefix, r.prefix_len))
            .collect();
        assert_eq!(
            s,
            ["0.0.0.0/0", "9.255.0.0/16", "10.1.0.0/16", "10.1.0.0/24"]
        );
    }

    #[test]
    fn notifications_decode_by_command() {
        let r = Route::new(3, v4("10.3.0.0"), 16, 1);
        let mut m = r.to_message();
        assert_eq!(
            RouteEvent::from_message(&m).unwrap().unwrap(),
            RouteEvent {
                op: RouteChange::Add,
                route: r
            }
        );
        m.cmd = cmd::RT_DEL;
        assert_eq!(
            RouteEvent::from_message(&m).unwrap().unwrap().op,
            RouteChange::Del
        );
        m.cmd = cmd::NH_NEW;
        assert!(RouteEvent::from_message(&m).is_none());
    }
}
