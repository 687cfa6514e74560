//! The overlay's decapsulation tables: the MPLS input label table (MPLS_NEW / MPLS_DEL /
//! MPLS_GET) and the VXLAN VNI table (VXLAN_NEW / VXLAN_DEL / VXLAN_GET). Both map an
//! index (the label, the VNI) to a nexthop and share one wire shape (wire.rs: the index is
//! attribute 1, the nexthop 2, the router id 3), so one piece of code serves both; the
//! two entry types differ only in their names (TF's `mpls` says label, `vxlan` VNI).

use crate::error::{Error, Result};
use crate::message::{AttrSink, Attrs, VrMessage};
use crate::socket::Client;
use serde::Serialize;
use vrouter_uapi::{cmd, mpls_attr, vxlan_attr};

/// One table's commands and attribute ids, and its entries.
pub trait DecapTable: Sized + Serialize {
    /// "mpls label", "vxlan vni": how errors name an entry.
    const WHAT: &'static str;
    const NEW: u8;
    const DEL: u8;
    const GET: u8;
    const INDEX: u16;
    const NH_ID: u16;
    const RID: u16;

    fn new(index: u32, nh: u32, rid: u32) -> Self;
    /// The label or VNI.
    fn index(&self) -> u32;
    fn nh(&self) -> u32;
    fn rid(&self) -> u32;

    fn from_attrs(a: &Attrs) -> Result<Self> {
        let need = |id: u16, what: &str| {
            a.u32(id)
                .ok_or_else(|| Error::Decode(format!("{} without {what}", Self::WHAT)))
        };
        Ok(Self::new(
            need(Self::INDEX, "its index")?,
            need(Self::NH_ID, "nexthop")?,
            a.u32(Self::RID).unwrap_or(0),
        ))
    }

    /// The attributes as the kernel sends them (for tests and tools that replay them).
    fn encode(&self, s: &mut impl AttrSink) {
        s.put_u32(Self::INDEX, self.index());
        s.put_u32(Self::NH_ID, self.nh());
        s.put_u32(Self::RID, self.rid());
    }

    fn message(cmd: u8, index: u32) -> VrMessage {
        let mut m = VrMessage::new(cmd);
        m.attrs.push_u32(Self::INDEX, index);
        m
    }
}

/// One label of the MPLS table: an incoming MPLS label and the nexthop it leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MplsLabel {
    pub label: u32,
    pub nh: u32,
    pub rid: u32,
}

/// One VNI of the VXLAN table: a VXLAN network identifier and the nexthop it leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct VxlanVni {
    pub vni: u32,
    pub nh: u32,
    pub rid: u32,
}

impl DecapTable for MplsLabel {
    const WHAT: &'static str = "mpls label";
    const NEW: u8 = cmd::MPLS_NEW;
    const DEL: u8 = cmd::MPLS_DEL;
    const GET: u8 = cmd::MPLS_GET;
    const INDEX: u16 = mpls_attr::LABEL;
    const NH_ID: u16 = mpls_attr::NH_ID;
    const RID: u16 = mpls_attr::RID;

    fn new(label: u32, nh: u32, rid: u32) -> Self {
        MplsLabel { label, nh, rid }
    }
    fn index(&self) -> u32 {
        self.label
    }
    fn nh(&self) -> u32 {
        self.nh
    }
    fn rid(&self) -> u32 {
        self.rid
    }
}

impl DecapTable for VxlanVni {
    const WHAT: &'static str = "vxlan vni";
    const NEW: u8 = cmd::VXLAN_NEW;
    const DEL: u8 = cmd::VXLAN_DEL;
    const GET: u8 = cmd::VXLAN_GET;
    const INDEX: u16 = vxlan_attr::VNI;
    const NH_ID: u16 = vxlan_attr::NH_ID;
    const RID: u16 = vxlan_attr::RID;

    fn new(vni: u32, nh: u32, rid: u32) -> Self {
        VxlanVni { vni, nh, rid }
    }
    fn index(&self) -> u32 {
        self.vni
    }
    fn nh(&self) -> u32 {
        self.nh
    }
    fn rid(&self) -> u32 {
        self.rid
    }
}

impl Client {
    /// Maps `index` of table `T` to nexthop `nh` (replacing its nexthop if it has one).
    pub fn decap_add<T: DecapTable>(&mut self, index: u32, nh: u32) -> Result<T> {
        let mut m = T::message(T::NEW, index);
        m.attrs.push_u32(T::NH_ID, nh);
        match self.request(m, false)?.pop() {
            Some(r) => T::from_attrs(&r.attrs),
            None => self.decap_get(index),
        }
    }

    pub fn decap_del<T: DecapTable>(&mut self, index: u32) -> Result<()> {
        self.request(T::message(T::DEL, index), false).map(|_| ())
    }

    pub fn decap_get<T: DecapTable>(&mut self, index: u32) -> Result<T> {
        let m = self
            .request(T::message(T::GET, index), false)?
            .pop()
            .ok_or_else(|| Error::Decode("no reply".into()))?;
        T::from_attrs(&m.attrs)
    }

    /// Every entry in use, by index.
    pub fn decap_dump<T: DecapTable>(&mut self) -> Result<Vec<T>> {
        let mut v: Vec<T> = self
            .request(VrMessage::new(T::GET), true)?
            .iter()
            .map(|m| T::from_attrs(&m.attrs))
            .collect::<Result<_>>()?;
        v.sort_by_key(|e| e.index());
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trips<T: DecapTable + PartialEq + std::fmt::Debug>() {
        let e = T::new(42, 44, 0);
        let mut a = Attrs::default();
        e.encode(&mut a);
        assert_eq!(T::from_attrs(&a).unwrap(), e);
        let mut no_nh = Attrs::default();
        no_nh.push_u32(T::INDEX, 42);
        let err = T::from_attrs(&no_nh).unwrap_err().to_string();
        assert!(err.contains(T::WHAT), "{err}");
    }

    #[test]
    fn entries_round_trip_and_need_their_fields() {
        round_trips::<MplsLabel>();
        round_trips::<VxlanVni>();
    }

    #[test]
    fn requests_carry_the_index_and_no_nexthop() {
        let m = MplsLabel::message(MplsLabel::DEL, 7);
        assert_eq!(m.cmd, cmd::MPLS_DEL);
        assert_eq!(m.attrs.u32(mpls_attr::LABEL), Some(7));
        assert_eq!(m.attrs.get(mpls_attr::NH_ID), None);
        let m = VxlanVni::message(VxlanVni::GET, 9);
        assert_eq!(m.cmd, cmd::VXLAN_GET);
        assert_eq!(m.attrs.u32(vxlan_attr::VNI), Some(9));
    }
}
