//! Nexthops: NH_NEW / NH_DEL / NH_GET (+dump).

use crate::error::{Error, Result};
use crate::message::{AttrSink, Attrs, VrMessage};
use crate::socket::Client;
use serde::ser::{Serialize, SerializeStruct, Serializer};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use vrouter_uapi::{addr_family, cmd, nh_attr as A, nh_flag, nh_type};

/// A nexthop as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nexthop {
    pub id: u32,
    /// `nh-type` value.
    pub kind: u32,
    /// `addr-family` value (AF_INET, AF_INET6).
    pub family: u32,
    /// `nh-flags` bits.
    pub flags: u32,
    pub vrf: u32,
    /// Outgoing vif (Encap, Tunnel, Receive, L2 Receive).
    pub oif: Option<u32>,
    /// Encap: the Ethernet header pushed on transmit; Tunnel: the underlay's.
    pub encap: Vec<u8>,
    /// Composite: member nexthop ids.
    pub members: Vec<u32>,
    /// Composite: one label per member (may be shorter than `members` or empty).
    pub labels: Vec<u32>,
    pub ref_cnt: u32,
    pub rid: u32,
    /// Tunnel: outer source address (this node's vhost address).
    pub tun_sip: Option<IpAddr>,
    /// Tunnel: outer destination address (the remote node).
    pub tun_dip: Option<IpAddr>,
}

/// An address attribute: 4 bytes IPv4, 16 bytes IPv6, network byte order.
fn ip_attr(a: &Attrs, id: u16) -> Result<Option<IpAddr>> {
    match a.get(id) {
        None => Ok(None),
        Some(b) => ip_from_bytes(b)
            .map(Some)
            .ok_or_else(|| Error::Decode(format!("address of {} bytes", b.len()))),
    }
}

pub fn ip_from_bytes(b: &[u8]) -> Option<IpAddr> {
    match b.len() {
        4 => Some(IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(b).ok()?))),
        16 => Some(IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(b).ok()?))),
        _ => None,
    }
}

pub fn ip_bytes(ip: IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

/// The `nh --list` name of a nexthop type (TF's names).
pub fn type_name(kind: u32) -> &'static str {
    nh_type::DEF.by_value(kind).map_or("Invalid", |e| e.2)
}

/// A `--type` argument: TF's number (1..8) or its name (`rcv`, `encap`, `tunnel`,
/// `resolve`, `discard`, `composite`, `vrf-translate`, `l2rcv`).
pub fn parse_type(s: &str) -> Option<u32> {
    if let Ok(n) = s.parse::<u32>() {
        return (1..=8).contains(&n).then_some(n);
    }
    Some(match s.to_ascii_lowercase().as_str() {
        "rcv" | "receive" => nh_type::RECEIVE,
        "encap" => nh_type::ENCAP,
        "tunnel" => nh_type::TUNNEL,
        "resolve" => nh_type::RESOLVE,
        "discard" | "drop" => nh_type::DISCARD,
        "composite" => nh_type::COMPOSITE,
        "vrf-translate" | "vrf_translate" => nh_type::VRF_TRANSLATE,
        "l2rcv" | "l2-receive" | "l2_receive" => nh_type::L2_RECEIVE,
        _ => return None,
    })
}

/// The `Fmly:` column of `nh --list` (AF_INET, AF_INET6, ...).
pub fn family_name(family: u32) -> &'static str {
    match family {
        0 => "AF_UNSPEC",
        7 => "AF_BRIDGE",
        f => addr_family::DEF.by_value(f).map_or("N/A", |e| e.2),
    }
}

/// The flag names `nh --list` prints, in bit order; `Ecmp` only on composites and
/// `MPLSoGRE`/`MPLSoUDP` only on tunnels (as TF).
pub fn flag_names(flags: u32, kind: u32) -> Vec<&'static str> {
    nh_flag::DEF
        .entries
        .iter()
        .filter(|e| flags & e.1 != 0)
        .filter(|e| e.1 != nh_flag::COMPOSITE_ECMP || kind == nh_type::COMPOSITE)
        .filter(|e| {
            !matches!(e.1, nh_flag::TUNNEL_GRE | nh_flag::TUNNEL_UDP_MPLS)
                || kind == nh_type::TUNNEL
        })
        .map(|e| e.2)
        .collect()
}

/// The Ethernet header an Encap nexthop pushes: destination MAC, source MAC, an optional
/// 802.1Q tag (0x8100 + VLAN id), ethertype 0x0800. 14 bytes, or 18 with a VLAN.
pub fn eth_header(dmac: [u8; 6], smac: [u8; 6], vlan: Option<u16>) -> Vec<u8> {
    let mut h = Vec::with_capacity(18);
    h.extend_from_slice(&dmac);
    h.extend_from_slice(&smac);
    if let Some(vid) = vlan {
        h.extend_from_slice(&[0x81, 0x00]);
        h.extend_from_slice(&(vid & 0x0fff).to_be_bytes());
    }
    h.extend_from_slice(&[0x08, 0x00]);
    h
}

/// Hex bytes as `nh --list` prints them: "02 c2 23".
pub fn hex_bytes(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 3);
    for (i, x) in b.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(&format!("{x:02x}"));
    }
    s
}

/// Parses hex bytes separated by spaces, colons or commas ("02 c2 23", "02:c2:23");
/// a token longer than two digits is read as consecutive bytes ("02c223").
pub fn parse_hex_bytes(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    for tok in s
        .split(|c: char| c.is_ascii_whitespace() || c == ':' || c == ',')
        .filter(|t| !t.is_empty())
    {
        let tok = tok.strip_prefix("0x").unwrap_or(tok);
        if !tok.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        if tok.len() <= 2 {
            out.push(u8::from_str_radix(tok, 16).ok()?);
        } else if tok.len() % 2 == 0 {
            for pair in tok.as_bytes().chunks(2) {
                out.push(u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?);
            }
        } else {
            return None;
        }
    }
    Some(out)
}

impl Nexthop {
    pub fn type_name(&self) -> &'static str {
        type_name(self.kind)
    }

    pub fn from_attrs(a: &Attrs) -> Result<Nexthop> {
        let need = |id: u16, what: &str| {
            a.u32(id)
                .ok_or_else(|| Error::Decode(format!("nexthop without {what}")))
        };
        Ok(Nexthop {
            id: need(A::ID, "id")?,
            kind: need(A::TYPE, "type")?,
            family: a.u32(A::FAMILY).unwrap_or(addr_family::INET),
            flags: a.u32(A::FLAGS).unwrap_or(0),
            vrf: a.u32(A::VRF).unwrap_or(0),
            oif: a.u32(A::OIF),
            encap: a.get(A::ENCAP).map(<[u8]>::to_vec).unwrap_or_default(),
            members: array(a, A::MEMBERS, "members")?,
            labels: array(a, A::LABELS, "labels")?,
            ref_cnt: a.u32(A::REF_CNT).unwrap_or(0),
            rid: a.u32(A::RID).unwrap_or(0),
            tun_sip: ip_attr(a, A::TUN_SIP)?,
            tun_dip: ip_attr(a, A::TUN_DIP)?,
        })
    }

    /// The attributes of this nexthop as the kernel sends them (for tests and tools that
    /// replay a listing).
    pub fn encode(&self, s: &mut impl AttrSink) {
        s.put_u32(A::ID, self.id);
        s.put_u32(A::TYPE, self.kind);
        s.put_u32(A::FAMILY, self.family);
        s.put_u32(A::FLAGS, self.flags);
        s.put_u32(A::VRF, self.vrf);
        s.put_u32(A::RID, self.rid);
        s.put_u32(A::REF_CNT, self.ref_cnt);
        if let Some(oif) = self.oif {
            s.put_u32(A::OIF, oif);
        }
        if !self.encap.is_empty() {
            s.put(A::ENCAP, &self.encap);
        }
        if !self.members.is_empty() {
            s.put_u32_array(A::MEMBERS, &self.members);
            s.put_u32_array(A::LABELS, &self.labels);
        }
        if let Some(ip) = self.tun_sip {
            s.put(A::TUN_SIP, &ip_bytes(ip));
        }
        if let Some(ip) = self.tun_dip {
            s.put(A::TUN_DIP, &ip_bytes(ip));
        }
    }
}

fn array(a: &Attrs, id: u16, what: &str) -> Result<Vec<u32>> {
    match a.get(id) {
        None => Ok(Vec::new()),
        Some(_) => a
            .u32_array(id)
            .ok_or_else(|| Error::Decode(format!("nexthop {what} not a u32 array"))),
    }
}

impl Serialize for Nexthop {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Nexthop", 15)?;
        st.serialize_field("id", &self.id)?;
        st.serialize_field("type", &self.kind)?;
        st.serialize_field("type_name", self.type_name())?;
        st.serialize_field("family", crate::rt::family_str(self.family))?;
        st.serialize_field("flags", &self.flags)?;
        st.serialize_field("flag_names", &flag_names(self.flags, self.kind))?;
        st.serialize_field("vrf", &self.vrf)?;
        st.serialize_field("oif", &self.oif)?;
        st.serialize_field(
            "encap",
            &(!self.encap.is_empty()).then(|| hex_bytes(&self.encap)),
        )?;
        st.serialize_field("members", &self.members)?;
        st.serialize_field("labels", &self.labels)?;
        st.serialize_field("ref_cnt", &self.ref_cnt)?;
        st.serialize_field("rid", &self.rid)?;
        st.serialize_field("sip", &self.tun_sip)?;
        st.serialize_field("dip", &self.tun_dip)?;
        st.end()
    }
}

/// An NH_NEW request (creates the nexthop, or replaces the one with that id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NexthopAdd {
    pub id: u32,
    pub kind: u32,
    pub family: u32,
    /// Settable flags only (POLICY, COMPOSITE_ECMP, one tunnel flag); VALID is the
    /// kernel's.
    pub flags: u32,
    pub vrf: u32,
    pub oif: Option<u32>,
    pub encap: Vec<u8>,
    pub members: Vec<u32>,
    /// Labels of the members, in order; empty for none.
    pub labels: Vec<u32>,
    /// Tunnel: outer source and destination addresses (of the nexthop's family).
    pub tun_sip: Option<IpAddr>,
    pub tun_dip: Option<IpAddr>,
}

impl Default for NexthopAdd {
    fn default() -> Self {
        NexthopAdd {
            id: 0,
            kind: nh_type::DISCARD,
            family: addr_family::INET,
            flags: 0,
            vrf: 0,
            oif: None,
            encap: Vec::new(),
            members: Vec::new(),
            labels: Vec::new(),
            tun_sip: None,
            tun_dip: None,
        }
    }
}

impl NexthopAdd {
    pub fn encode(&self, s: &mut impl AttrSink) {
        s.put_u32(A::ID, self.id);
        s.put_u32(A::TYPE, self.kind);
        s.put_u32(A::FAMILY, self.family);
        s.put_u32(A::FLAGS, self.flags);
        s.put_u32(A::VRF, self.vrf);
        if let Some(oif) = self.oif {
            s.put_u32(A::OIF, oif);
        }
        if !self.encap.is_empty() {
            s.put(A::ENCAP, &self.encap);
        }
        if !self.members.is_empty() {
            s.put_u32_array(A::MEMBERS, &self.members);
        }
        if !self.labels.is_empty() {
            s.put_u32_array(A::LABELS, &self.labels);
        }
        if let Some(ip) = self.tun_sip {
            s.put(A::TUN_SIP, &ip_bytes(ip));
        }
        if let Some(ip) = self.tun_dip {
            s.put(A::TUN_DIP, &ip_bytes(ip));
        }
    }

    pub fn to_message(&self) -> VrMessage {
        let mut m = VrMessage::new(cmd::NH_NEW);
        self.encode(&mut m.attrs);
        m
    }
}

fn id_message(cmd: u8, id: u32) -> VrMessage {
    let mut m = VrMessage::new(cmd);
    m.attrs.push_u32(A::ID, id);
    m
}

impl Client {
    /// Creates (or replaces) a nexthop; returns it as the kernel stored it.
    pub fn nh_add(&mut self, req: &NexthopAdd) -> Result<Nexthop> {
        match self.request(req.to_message(), false)?.pop() {
            Some(m) => Nexthop::from_attrs(&m.attrs),
            None => self.nh_get(req.id),
        }
    }

    pub fn nh_del(&mut self, id: u32) -> Result<()> {
        self.request(id_message(cmd::NH_DEL, id), false).map(|_| ())
    }

    pub fn nh_get(&mut self, id: u32) -> Result<Nexthop> {
        let m = self
            .request(id_message(cmd::NH_GET, id), false)?
            .pop()
            .ok_or_else(|| Error::Decode("no reply".into()))?;
        Nexthop::from_attrs(&m.attrs)
    }

    /// Every nexthop, by id.
    pub fn nh_dump(&mut self) -> Result<Vec<Nexthop>> {
        let mut v: Vec<Nexthop> = self
            .request(VrMessage::new(cmd::NH_GET), true)?
            .iter()
            .map(|m| Nexthop::from_attrs(&m.attrs))
            .collect::<Result<_>>()?;
        v.sort_by_key(|n| n.id);
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::RawAttrs;

    fn encap_nh() -> Nexthop {
        Nexthop {
            id: 38,
            kind: nh_type::ENCAP,
            family: addr_family::INET,
            flags: nh_flag::VALID | nh_flag::POLICY,
            vrf: 5,
            oif: Some(5),
            encap: eth_header(
                [2, 0xc2, 0x23, 0x4c, 0xd0, 0x55],
                vrouter_uapi::VROUTER_MAC,
                None,
            ),
            members: vec![],
            labels: vec![],
            ref_cnt: 1,
            rid: 0,
            tun_sip: None,
            tun_dip: None,
        }
    }

    #[test]
    fn nexthop_round_trips_through_kernel_attributes() {
        // What the kernel sends: a raw attribute buffer, parsed as a reply would be.
        for nh in [
            encap_nh(),
            Nexthop {
                id: 20,
                kind: nh_type::COMPOSITE,
                flags: nh_flag::VALID | nh_flag::COMPOSITE_ECMP,
                oif: None,
                encap: vec![],
                members: vec![61, 51],
                labels: vec![34, 0],
                ..encap_nh()
            },
            Nexthop {
                id: 0,
                kind: nh_type::DISCARD,
                oif: None,
                encap: vec![],
                ref_cnt: 1021,
                ..encap_nh()
            },
            Nexthop {
                id: 21,
                kind: nh_type::TUNNEL,
                flags: nh_flag::VALID | nh_flag::TUNNEL_UDP_MPLS,
                oif: Some(0),
                tun_sip: Some("8.0.0.2".parse().unwrap()),
                tun_dip: Some("8.0.0.3".parse().unwrap()),
                ..encap_nh()
            },
            Nexthop {
                id: 22,
                kind: nh_type::TUNNEL,
                family: addr_family::INET6,
                flags: nh_flag::VALID | nh_flag::TUNNEL_VXLAN,
                oif: Some(0),
                encap: vec![],
                tun_sip: Some("fd00::2".parse().unwrap()),
                tun_dip: Some("fd00::3".parse().unwrap()),
                ..encap_nh()
            },
        ] {
            let mut buf = Vec::new();
            nh.encode(&mut RawAttrs(&mut buf));
            let back = Nexthop::from_attrs(&Attrs::parse(&buf).unwrap()).unwrap();
            assert_eq!(back, nh);
        }
    }

    #[test]
    fn nexthop_add_encodes_members_and_labels_as_packed_u32() {
        let req = NexthopAdd {
            id: 20,
            kind: nh_type::COMPOSITE,
            flags: nh_flag::COMPOSITE_ECMP,
            members: vec![11, 13],
            ..Default::default()
        };
        let m = req.to_message();
        assert_eq!(
            m.attrs.get(A::MEMBERS),
            Some(&[11u32.to_ne_bytes(), 13u32.to_ne_bytes()].concat()[..])
        );
        assert_eq!(m.attrs.get(A::LABELS), None);
        assert_eq!(m.attrs.u32(A::TYPE), Some(nh_type::COMPOSITE));
        assert_eq!(m.attrs.get(A::OIF), None);
    }

    #[test]
    fn tunnel_add_sends_addresses_in_network_order() {
        let req = NexthopAdd {
            id: 21,
            kind: nh_type::TUNNEL,
            flags: nh_flag::TUNNEL_GRE,
            oif: Some(0),
            tun_sip: Some("8.0.0.2".parse().unwrap()),
            tun_dip: Some("fd00::3".parse().unwrap()),
            ..Default::default()
        };
        let m = req.to_message();
        assert_eq!(m.attrs.get(A::TUN_SIP), Some(&[8, 0, 0, 2][..]));
        assert_eq!(m.attrs.get(A::TUN_DIP).map(<[u8]>::len), Some(16));
        assert_eq!(m.attrs.u32(A::FLAGS), Some(nh_flag::TUNNEL_GRE));
        // a reply with an address of another length is a decode error, not a guess
        let mut bad = Attrs::default();
        bad.push_u32(A::ID, 1).push_u32(A::TYPE, nh_type::TUNNEL);
        bad.push_bytes(A::TUN_SIP, &[1, 2, 3]);
        assert!(Nexthop::from_attrs(&bad).is_err());
    }

    #[test]
    fn eth_header_with_and_without_vlan() {
        let d = [2, 0, 0, 0, 0, 1];
        let s = vrouter_uapi::VROUTER_MAC;
        assert_eq!(
            hex_bytes(&eth_header(d, s, None)),
            "02 00 00 00 00 01 00 00 5e 00 01 00 08 00"
        );
        assert_eq!(
            hex_bytes(&eth_header(d, s, Some(100))),
            "02 00 00 00 00 01 00 00 5e 00 01 00 81 00 00 64 08 00"
        );
    }

    #[test]
    fn type_names_and_numbers() {
        assert_eq!(parse_type("encap"), Some(nh_type::ENCAP));
        assert_eq!(parse_type("2"), Some(nh_type::ENCAP));
        assert_eq!(parse_type("l2rcv"), Some(nh_type::L2_RECEIVE));
        assert_eq!(parse_type("vrf-translate"), Some(nh_type::VRF_TRANSLATE));
        assert_eq!(parse_type("0"), None);
        assert_eq!(parse_type("9"), None);
        assert_eq!(parse_type("bogus"), None);
        assert_eq!(family_name(2), "AF_INET");
        assert_eq!(family_name(10), "AF_INET6");
        assert_eq!(flag_names(0x403, nh_type::ENCAP), ["Valid", "Policy"]);
        assert_eq!(
            flag_names(0x403, nh_type::COMPOSITE),
            ["Valid", "Policy", "Ecmp"]
        );
        assert_eq!(flag_names(0x41, nh_type::TUNNEL), ["Valid", "MPLSoUDP"]);
        assert_eq!(flag_names(0x9, nh_type::TUNNEL), ["Valid", "MPLSoGRE"]);
        assert_eq!(flag_names(0x81, nh_type::TUNNEL), ["Valid", "Vxlan"]);
        assert_eq!(flag_names(0x49, nh_type::ENCAP), ["Valid"]);
    }

    #[test]
    fn hex_parsing() {
        assert_eq!(parse_hex_bytes("02 c2 23 "), Some(vec![2, 0xc2, 0x23]));
        assert_eq!(parse_hex_bytes("02:c2:23"), Some(vec![2, 0xc2, 0x23]));
        assert_eq!(parse_hex_bytes("02c223"), Some(vec![2, 0xc2, 0x23]));
        assert_eq!(parse_hex_bytes("0x02 3"), Some(vec![2, 3]));
        assert_eq!(parse_hex_bytes("zz"), None);
        assert_eq!(parse_hex_bytes("123"), None);
        assert_eq!(parse_hex_bytes(""), Some(vec![]));
    }
}
