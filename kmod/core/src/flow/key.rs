// SPDX-License-Identifier: GPL-2.0
//! The flow key: VRF, family, protocol, addresses and ports, as a packet carries them.

use super::super::packet::{lookup3, Headers, L3, L4};
use super::super::uapi::addr_family;

/// 32-bit words of a packed key: vrf, family/proto, ports, 4 source, 4 destination.
pub const KEY_WORDS: usize = 11;

const ICMP_ECHO_REQUEST: u8 = 8;
const ICMP_ECHO_REPLY: u8 = 0;
const ICMP6_ECHO_REQUEST: u8 = 128;
const ICMP6_ECHO_REPLY: u8 = 129;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct FlowKey {
    pub vrf: u32,
    /// `addr_family::INET` or `INET6`.
    pub family: u8,
    pub proto: u8,
    pub sport: u16,
    pub dport: u16,
    /// IPv4 addresses use the first 4 bytes; the rest stays zero.
    pub src: [u8; 16],
    pub dst: [u8; 16],
}

impl FlowKey {
    /// The key of an IPv4/IPv6 packet received in `vrf`. ICMP echo requests carry their
    /// identifier as the source port and replies as the destination port, so a reply's
    /// key is its request's reversed; other ICMP and non-first fragments have ports 0.
    pub fn from_headers(vrf: u32, h: &Headers) -> Option<FlowKey> {
        let t = h.five_tuple()?;
        let mut key = FlowKey {
            vrf,
            proto: t.proto,
            sport: t.sport,
            dport: t.dport,
            ..FlowKey::default()
        };
        match &h.l3 {
            L3::Ipv4(ip) => {
                key.family = addr_family::INET as u8;
                key.src[..4].copy_from_slice(&ip.src);
                key.dst[..4].copy_from_slice(&ip.dst);
            }
            L3::Ipv6(ip) => {
                key.family = addr_family::INET6 as u8;
                key.src = ip.src;
                key.dst = ip.dst;
            }
            _ => return None,
        }
        match h.l4 {
            L4::Icmp { ty, id, .. } | L4::Icmp6 { ty, id, .. } => {
                (key.sport, key.dport) = match ty {
                    ICMP_ECHO_REQUEST | ICMP6_ECHO_REQUEST => (id, 0),
                    ICMP_ECHO_REPLY | ICMP6_ECHO_REPLY => (0, id),
                    _ => (0, 0),
                };
            }
            _ => {}
        }
        Some(key)
    }

    /// The key of the other direction.
    pub fn reverse(&self) -> FlowKey {
        FlowKey {
            src: self.dst,
            dst: self.src,
            sport: self.dport,
            dport: self.sport,
            ..*self
        }
    }

    /// Address length of the family (4 or 16).
    pub fn addr_len(&self) -> usize {
        if u32::from(self.family) == addr_family::INET6 {
            16
        } else {
            4
        }
    }

    pub fn words(&self) -> [u32; KEY_WORDS] {
        let mut w = [0u32; KEY_WORDS];
        let [w0, w1, w2, rest @ ..] = &mut w;
        *w0 = self.vrf;
        *w1 = (u32::from(self.family) << 24) | (u32::from(self.proto) << 16);
        *w2 = (u32::from(self.sport) << 16) | u32::from(self.dport);
        for (i, slot) in rest.iter_mut().enumerate() {
            let (addr, at) = if i < 4 {
                (&self.src, i * 4)
            } else {
                (&self.dst, (i - 4) * 4)
            };
            if let Some(b) = addr
                .get(at..at + 4)
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
            {
                *slot = u32::from_le_bytes(b);
            }
        }
        w
    }

    pub fn from_words(w: &[u32; KEY_WORDS]) -> FlowKey {
        let [w0, w1, w2, rest @ ..] = w;
        let mut key = FlowKey {
            vrf: *w0,
            family: (w1 >> 24) as u8,
            proto: (w1 >> 16) as u8,
            sport: (w2 >> 16) as u16,
            dport: *w2 as u16,
            ..FlowKey::default()
        };
        for (i, v) in rest.iter().enumerate() {
            let (addr, at) = if i < 4 {
                (&mut key.src, i * 4)
            } else {
                (&mut key.dst, (i - 4) * 4)
            };
            if let Some(b) = addr.get_mut(at..at + 4) {
                b.copy_from_slice(&v.to_le_bytes());
            }
        }
        key
    }

    /// lookup3 over the packed key, keyed by `seed`.
    pub fn hash(&self, seed: u32) -> u32 {
        let mut bytes = [0u8; KEY_WORDS * 4];
        for (i, w) in self.words().iter().enumerate() {
            if let Some(b) = bytes.get_mut(i * 4..i * 4 + 4) {
                b.copy_from_slice(&w.to_le_bytes());
            }
        }
        lookup3(&bytes, seed)
    }
}
