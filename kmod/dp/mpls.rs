// SPDX-License-Identifier: GPL-2.0
//! The MPLS input label table (TF's ILM): label -> nexthop id, `vr_mpls_labels` entries
//! allocated at load. Each label holds a reference on its nexthop, so NH_DEL refuses a
//! nexthop that a label leads to. Writers hold the RTNL (the configuration lock); readers
//! (the packet path, GET, dump) take no lock: an entry is one atomic nexthop id
//! (`vrcore::overlay::NhMap`), and the nexthop itself is then looked up under RCU.

use super::nexthop::NhTable;
use crate::kapi::kvvec_from_fn;
use crate::kapi::rtnl::Rtnl;
use crate::vrcore::overlay::NhMap;
use core::sync::atomic::AtomicU32;
use kernel::alloc::KVVec;
use kernel::error::{code::*, Result};

pub struct MplsTable {
    map: NhMap<KVVec<AtomicU32>>,
}

impl MplsTable {
    pub fn new(size: u32) -> Result<MplsTable> {
        Ok(MplsTable {
            map: NhMap::new(kvvec_from_fn(size as usize, AtomicU32::default)?),
        })
    }

    pub fn capacity(&self) -> u32 {
        self.map.capacity()
    }

    /// The nexthop of `label`, if the label is in use.
    pub fn get(&self, label: u32) -> Option<u32> {
        self.map.get(label)
    }

    /// The first label in use at or after `from`: (label, nexthop).
    pub fn next_used(&self, from: u32) -> Option<(u32, u32)> {
        self.map.next_used(from)
    }

    pub fn used(&self) -> u32 {
        self.map.used()
    }

    /// Points `label` at nexthop `nh`, which the caller found in `nhs` under this same
    /// RTNL hold; the label's reference moves from its previous nexthop to `nh`.
    /// ERANGE (nothing changed) when the label is beyond the table.
    pub fn set(&self, label: u32, nh: u32, nhs: &NhTable, rtnl: &Rtnl) -> Result<Option<u32>> {
        let old = self.map.set(label, nh).ok_or(ERANGE)?;
        nhs.hold(nh, rtnl);
        if let Some(old) = old {
            nhs.put(old, rtnl);
        }
        Ok(old)
    }

    /// Clears `label` and drops its reference; returns the nexthop it led to (ENOENT when
    /// the label was not in use).
    pub fn remove(&self, label: u32, nhs: &NhTable, rtnl: &Rtnl) -> Result<u32> {
        let old = self.map.clear(label).ok_or(ENOENT)?;
        nhs.put(old, rtnl);
        Ok(old)
    }
}
