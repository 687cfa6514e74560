//! The MPLS input label table: MPLS_NEW / MPLS_DEL / MPLS_GET (+dump).

use crate::error::{Error, Result};
use crate::message::{AttrSink, Attrs, VrMessage};
use crate::socket::Client;
use serde::Serialize;
use vrouter_uapi::{cmd, mpls_attr as A};

/// One label of the table: an incoming MPLS label and the nexthop it leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MplsLabel {
    pub label: u32,
    pub nh: u32,
    pub rid: u32,
}

impl MplsLabel {
    pub fn from_attrs(a: &Attrs) -> Result<MplsLabel> {
        let need = |id: u16, what: &str| {
            a.u32(id)
                .ok_or_else(|| Error::Decode(format!("mpls label without {what}")))
        };
        Ok(MplsLabel {
            label: need(A::LABEL, "label")?,
            nh: need(A::NH_ID, "nexthop")?,
            rid: a.u32(A::RID).unwrap_or(0),
        })
    }

    /// The attributes as the kernel sends them (for tests and tools that replay them).
    pub fn encode(&self, s: &mut impl AttrSink) {
        s.put_u32(A::LABEL, self.label);
        s.put_u32(A::NH_ID, self.nh);
        s.put_u32(A::RID, self.rid);
    }
}

fn label_message(cmd: u8, label: u32) -> VrMessage {
    let mut m = VrMessage::new(cmd);
    m.attrs.push_u32(A::LABEL, label);
    m
}

impl Client {
    /// Maps `label` to nexthop `nh` (replacing its nexthop if the label is in use).
    pub fn mpls_add(&mut self, label: u32, nh: u32) -> Result<MplsLabel> {
        let mut m = label_message(cmd::MPLS_NEW, label);
        m.attrs.push_u32(A::NH_ID, nh);
        match self.request(m, false)?.pop() {
            Some(r) => MplsLabel::from_attrs(&r.attrs),
            None => self.mpls_get(label),
        }
    }

    pub fn mpls_del(&mut self, label: u32) -> Result<()> {
        self.request(label_message(cmd::MPLS_DEL, label), false)
            .map(|_| ())
    }

    pub fn mpls_get(&mut self, label: u32) -> Result<MplsLabel> {
        let m = self
            .request(label_message(cmd::MPLS_GET, label), false)?
            .pop()
            .ok_or_else(|| Error::Decode("no reply".into()))?;
        MplsLabel::from_attrs(&m.attrs)
    }

    /// Every label in use, by label.
    pub fn mpls_dump(&mut self) -> Result<Vec<MplsLabel>> {
        let mut v: Vec<MplsLabel> = self
            .request(VrMessage::new(cmd::MPLS_GET), true)?
            .iter()
            .map(|m| MplsLabel::from_attrs(&m.attrs))
            .collect::<Result<_>>()?;
        v.sort_by_key(|l| l.label);
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_round_trips_and_needs_its_fields() {
        let l = MplsLabel {
            label: 42,
            nh: 44,
            rid: 0,
        };
        let mut a = Attrs::default();
        l.encode(&mut a);
        assert_eq!(MplsLabel::from_attrs(&a).unwrap(), l);
        let mut no_nh = Attrs::default();
        no_nh.push_u32(A::LABEL, 42);
        assert!(MplsLabel::from_attrs(&no_nh).is_err());
    }

    #[test]
    fn requests_carry_label_and_nexthop() {
        let m = label_message(cmd::MPLS_DEL, 7);
        assert_eq!(m.cmd, cmd::MPLS_DEL);
        assert_eq!(m.attrs.u32(A::LABEL), Some(7));
        assert_eq!(m.attrs.get(A::NH_ID), None);
    }
}
