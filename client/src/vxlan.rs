//! The VXLAN table: VXLAN_NEW / VXLAN_DEL / VXLAN_GET (+dump).

use crate::error::{Error, Result};
use crate::message::{AttrSink, Attrs, VrMessage};
use crate::socket::Client;
use serde::Serialize;
use vrouter_uapi::{cmd, vxlan_attr as A};

/// One VNI of the table: a VXLAN network identifier and the nexthop it leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct VxlanVni {
    pub vni: u32,
    pub nh: u32,
    pub rid: u32,
}

impl VxlanVni {
    pub fn from_attrs(a: &Attrs) -> Result<VxlanVni> {
        let need = |id: u16, what: &str| {
            a.u32(id)
                .ok_or_else(|| Error::Decode(format!("vxlan vni without {what}")))
        };
        Ok(VxlanVni {
            vni: need(A::VNI, "vni")?,
            nh: need(A::NH_ID, "nexthop")?,
            rid: a.u32(A::RID).unwrap_or(0),
        })
    }

    /// The attributes as the kernel sends them (for tests and tools that replay them).
    pub fn encode(&self, s: &mut impl AttrSink) {
        s.put_u32(A::VNI, self.vni);
        s.put_u32(A::NH_ID, self.nh);
        s.put_u32(A::RID, self.rid);
    }
}

fn vni_message(cmd: u8, vni: u32) -> VrMessage {
    let mut m = VrMessage::new(cmd);
    m.attrs.push_u32(A::VNI, vni);
    m
}

impl Client {
    /// Maps `vni` to nexthop `nh` (replacing its nexthop if the VNI is in use).
    pub fn vxlan_add(&mut self, vni: u32, nh: u32) -> Result<VxlanVni> {
        let mut m = vni_message(cmd::VXLAN_NEW, vni);
        m.attrs.push_u32(A::NH_ID, nh);
        match self.request(m, false)?.pop() {
            Some(r) => VxlanVni::from_attrs(&r.attrs),
            None => self.vxlan_get(vni),
        }
    }

    pub fn vxlan_del(&mut self, vni: u32) -> Result<()> {
        self.request(vni_message(cmd::VXLAN_DEL, vni), false)
            .map(|_| ())
    }

    pub fn vxlan_get(&mut self, vni: u32) -> Result<VxlanVni> {
        let m = self
            .request(vni_message(cmd::VXLAN_GET, vni), false)?
            .pop()
            .ok_or_else(|| Error::Decode("no reply".into()))?;
        VxlanVni::from_attrs(&m.attrs)
    }

    /// Every VNI in use, by VNI.
    pub fn vxlan_dump(&mut self) -> Result<Vec<VxlanVni>> {
        let mut v: Vec<VxlanVni> = self
            .request(VrMessage::new(cmd::VXLAN_GET), true)?
            .iter()
            .map(|m| VxlanVni::from_attrs(&m.attrs))
            .collect::<Result<_>>()?;
        v.sort_by_key(|e| e.vni);
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vni_round_trips_and_needs_its_fields() {
        let v = VxlanVni {
            vni: 42,
            nh: 44,
            rid: 0,
        };
        let mut a = Attrs::default();
        v.encode(&mut a);
        assert_eq!(VxlanVni::from_attrs(&a).unwrap(), v);
        let mut no_nh = Attrs::default();
        no_nh.push_u32(A::VNI, 42);
        assert!(VxlanVni::from_attrs(&no_nh).is_err());
    }

    #[test]
    fn requests_carry_vni_and_nexthop() {
        let m = vni_message(cmd::VXLAN_DEL, 7);
        assert_eq!(m.cmd, cmd::VXLAN_DEL);
        assert_eq!(m.attrs.u32(A::VNI), Some(7));
        assert_eq!(m.attrs.get(A::NH_ID), None);
    }
}
