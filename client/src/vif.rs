//! Vifs: VIF_NEW / VIF_DEL / VIF_GET.

use crate::error::{Error, Result};
use crate::message::{Attrs, VrMessage};
use crate::socket::Client;
use serde::Serialize;
use std::net::{Ipv4Addr, Ipv6Addr};
use vrouter_uapi::{cmd, vif_attr as A, vif_stats_attr as S, vif_type};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VifCounters {
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub rx_errors: u64,
    pub tx_packets: u64,
    pub tx_bytes: u64,
    pub tx_errors: u64,
    pub drops: u64,
}

/// A vif as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Vif {
    pub idx: u32,
    pub rid: u32,
    #[serde(rename = "type")]
    pub kind: u32,
    pub type_name: String,
    pub os_idx: u32,
    pub name: String,
    pub vrf: u32,
    pub mcast_vrf: u32,
    pub mac: String,
    pub flags: u32,
    pub mtu: u32,
    pub ip: Ipv4Addr,
    pub ip6: Option<Ipv6Addr>,
    pub nh_id: u32,
    pub qos: i32,
    pub ref_cnt: u32,
    pub stats: VifCounters,
}

pub fn format_mac(m: &[u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() != 6 {
        return None;
    }
    let mut mac = [0u8; 6];
    for (m, p) in mac.iter_mut().zip(parts) {
        if p.is_empty() || p.len() > 2 {
            return None;
        }
        *m = u8::from_str_radix(p, 16).ok()?;
    }
    Some(mac)
}

pub fn type_name(kind: u32) -> &'static str {
    vif_type::DEF.by_value(kind).map_or("Invalid", |e| e.2)
}

impl Vif {
    pub fn from_attrs(a: &Attrs) -> Result<Vif> {
        let need = |id: u16, what: &str| {
            a.u32(id)
                .ok_or_else(|| Error::Decode(format!("vif without {what}")))
        };
        let kind = need(A::TYPE, "type")?;
        let st = a.nested(A::STATS).unwrap_or_default();
        let ip6 = a
            .array::<16>(A::IP6)
            .map(Ipv6Addr::from)
            .filter(|ip| !ip.is_unspecified());
        Ok(Vif {
            idx: need(A::IDX, "index")?,
            rid: a.u32(A::RID).unwrap_or(0),
            kind,
            type_name: type_name(kind).to_string(),
            os_idx: a.u32(A::OS_IDX).unwrap_or(0),
            name: a.string(A::NAME).unwrap_or_default(),
            vrf: a.u32(A::VRF).unwrap_or(0),
            mcast_vrf: a.u32(A::MCAST_VRF).unwrap_or(vrouter_uapi::VRF_UNSET),
            mac: format_mac(&a.array::<6>(A::MAC).unwrap_or_default()),
            flags: a.u32(A::FLAGS).unwrap_or(0),
            mtu: a.u32(A::MTU).unwrap_or(0),
            ip: Ipv4Addr::from(a.u32(A::IP).unwrap_or(0)),
            ip6,
            nh_id: a.u32(A::NH_ID).unwrap_or(0),
            qos: a.u32(A::QOS).unwrap_or(u32::MAX) as i32,
            ref_cnt: a.u32(A::REF_CNT).unwrap_or(0),
            stats: VifCounters {
                rx_packets: st.u64(S::RX_PACKETS).unwrap_or(0),
                rx_bytes: st.u64(S::RX_BYTES).unwrap_or(0),
                rx_errors: st.u64(S::RX_ERRORS).unwrap_or(0),
                tx_packets: st.u64(S::TX_PACKETS).unwrap_or(0),
                tx_bytes: st.u64(S::TX_BYTES).unwrap_or(0),
                tx_errors: st.u64(S::TX_ERRORS).unwrap_or(0),
                drops: st.u64(S::DROPS).unwrap_or(0),
            },
        })
    }
}

/// A VIF_NEW request.
#[derive(Debug, Clone, Default)]
pub struct VifAdd {
    pub idx: Option<u32>,
    pub kind: u32,
    pub name: Option<String>,
    pub os_idx: Option<u32>,
    pub vrf: u32,
    pub mac: Option<[u8; 6]>,
    pub flags: u32,
    pub ip: Option<Ipv4Addr>,
    pub ip6: Option<Ipv6Addr>,
    pub nh_id: Option<u32>,
}

impl VifAdd {
    pub fn to_message(&self) -> VrMessage {
        let mut m = VrMessage::new(cmd::VIF_NEW);
        let a = &mut m.attrs;
        a.push_u32(A::TYPE, self.kind)
            .push_u32(A::VRF, self.vrf)
            .push_u32(A::FLAGS, self.flags);
        if let Some(i) = self.idx {
            a.push_u32(A::IDX, i);
        }
        if let Some(n) = &self.name {
            a.push_str(A::NAME, n);
        }
        if let Some(i) = self.os_idx {
            a.push_u32(A::OS_IDX, i);
        }
        if let Some(mac) = &self.mac {
            a.push_bytes(A::MAC, mac);
        }
        if let Some(ip) = self.ip {
            a.push_u32(A::IP, u32::from(ip));
        }
        if let Some(ip6) = self.ip6 {
            a.push_bytes(A::IP6, &ip6.octets());
        }
        if let Some(nh) = self.nh_id {
            a.push_u32(A::NH_ID, nh);
        }
        m
    }
}

/// How DEL and GET name a vif.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VifSelector {
    Index(u32),
    Name(String),
}

impl VifSelector {
    /// A number is an index, anything else an interface name (as TF's `vif --delete`).
    pub fn parse(s: &str) -> VifSelector {
        s.parse()
            .map(VifSelector::Index)
            .unwrap_or_else(|_| VifSelector::Name(s.to_string()))
    }

    fn push(&self, a: &mut Attrs) {
        match self {
            VifSelector::Index(i) => a.push_u32(A::IDX, *i),
            VifSelector::Name(n) => a.push_str(A::NAME, n),
        };
    }
}

fn single(mut replies: Vec<VrMessage>) -> Result<Vif> {
    let m = replies
        .pop()
        .ok_or_else(|| Error::Decode("no reply".into()))?;
    Vif::from_attrs(&m.attrs)
}

impl Client {
    pub fn vif_add(&mut self, req: &VifAdd) -> Result<Vif> {
        single(self.request(req.to_message(), false)?)
    }

    pub fn vif_del(&mut self, which: &VifSelector) -> Result<()> {
        let mut m = VrMessage::new(cmd::VIF_DEL);
        which.push(&mut m.attrs);
        self.request(m, false).map(|_| ())
    }

    /// `core`: a CPU number for that CPU's counters, None for the sum.
    pub fn vif_get(&mut self, which: &VifSelector, core: Option<u32>) -> Result<Vif> {
        let mut m = VrMessage::new(cmd::VIF_GET);
        which.push(&mut m.attrs);
        if let Some(c) = core {
            m.attrs.push_u32(A::CORE, c + 1);
        }
        single(self.request(m, false)?)
    }

    pub fn vif_list(&mut self, core: Option<u32>) -> Result<Vec<Vif>> {
        let mut m = VrMessage::new(cmd::VIF_GET);
        if let Some(c) = core {
            m.attrs.push_u32(A::CORE, c + 1);
        }
        self.request(m, true)?
            .iter()
            .map(|r| Vif::from_attrs(&r.attrs))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_parse_and_format() {
        assert_eq!(parse_mac("00:00:5e:00:01:00"), Some([0, 0, 0x5e, 0, 1, 0]));
        assert_eq!(parse_mac("0:0:5e:0:1:0"), Some([0, 0, 0x5e, 0, 1, 0]));
        assert_eq!(parse_mac("00:00:5e:00:01"), None);
        assert_eq!(parse_mac("00:00:5e:00:01:zz"), None);
        assert_eq!(parse_mac("000:00:5e:00:01:00"), None);
        assert_eq!(
            format_mac(&[2, 0xc2, 0x23, 0x4c, 0xd0, 0x55]),
            "02:c2:23:4c:d0:55"
        );
    }

    #[test]
    fn vif_add_encodes_and_decodes() {
        let req = VifAdd {
            kind: vif_type::VIRTUAL,
            name: Some("veth1".into()),
            vrf: 3,
            mac: Some([0, 0, 0x5e, 0, 1, 0]),
            ip: Some(Ipv4Addr::new(10, 1, 2, 3)),
            ..Default::default()
        };
        let mut m = req.to_message();
        m.attrs.push_u32(A::IDX, 9);
        let v = Vif::from_attrs(&m.attrs).unwrap();
        assert_eq!(
            (v.idx, v.kind, v.vrf, v.name.as_str()),
            (9, vif_type::VIRTUAL, 3, "veth1")
        );
        assert_eq!(v.ip, Ipv4Addr::new(10, 1, 2, 3));
        assert_eq!(v.mac, "00:00:5e:00:01:00");
        assert_eq!(v.type_name, "Virtual");
    }

    #[test]
    fn selector_parses_numbers_as_indexes() {
        assert_eq!(VifSelector::parse("12"), VifSelector::Index(12));
        assert_eq!(
            VifSelector::parse("veth0"),
            VifSelector::Name("veth0".into())
        );
    }
}
