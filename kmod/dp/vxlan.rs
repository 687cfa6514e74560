// SPDX-License-Identifier: GPL-2.0
//! The VXLAN table: VNI -> nexthop id for the 2^24 VNIs, as TF's sparse `vr_itable`.
//! The VNI space is cut into chunks of `VNI_CHUNK` entries; a chunk is allocated when its
//! first VNI is set and freed (after a grace period) when its last one is removed, so an
//! idle table costs one RCU slot per chunk. Each VNI holds a reference on its nexthop.
//! Writers hold the RTNL; readers find the chunk under an RCU guard and load the entry,
//! one atomic nexthop id (`vrcore::overlay::NhMap`), without a lock.

use super::nexthop::NhTable;
use crate::kapi::kvvec_from_fn;
use crate::kapi::rcu::{self, RcuBox, Retired, Slot};
use crate::kapi::rtnl::Rtnl;
use crate::vrcore::overlay::{vni_of, vni_split, NhMap, VNI_CHUNK, VNI_CHUNKS};
use core::sync::atomic::AtomicU32;
use kernel::alloc::KVVec;
use kernel::error::{code::*, Result};
use kernel::prelude::*;

/// `VNI_CHUNK` consecutive VNIs.
pub struct Chunk {
    map: NhMap<KVVec<AtomicU32>>,
}

pub struct VxlanTable {
    chunks: KVVec<Slot<Chunk>>,
}

impl VxlanTable {
    pub fn new() -> Result<VxlanTable> {
        Ok(VxlanTable {
            chunks: kvvec_from_fn(VNI_CHUNKS as usize, Slot::empty)?,
        })
    }

    fn chunk<'a>(&'a self, c: u32, guard: &'a rcu::Guard) -> Option<&'a Chunk> {
        self.chunks.get(c as usize)?.get(guard)
    }

    /// The nexthop of `vni`, if the VNI is in use.
    pub fn get(&self, vni: u32, guard: &rcu::Guard) -> Option<u32> {
        let (c, o) = vni_split(vni).ok()?;
        self.chunk(c, guard)?.map.get(o)
    }

    /// The first VNI in use at or after `from`: (VNI, nexthop).
    pub fn next_used(&self, from: u32, guard: &rcu::Guard) -> Option<(u32, u32)> {
        let (first, mut offset) = vni_split(from).ok()?;
        for c in first..VNI_CHUNKS {
            if let Some((o, nh)) = self.chunk(c, guard).and_then(|k| k.map.next_used(offset)) {
                return Some((vni_of(c, o), nh));
            }
            offset = 0;
        }
        None
    }

    pub fn used(&self, guard: &rcu::Guard) -> u32 {
        (0..VNI_CHUNKS)
            .filter_map(|c| self.chunk(c, guard))
            .map(|k| k.map.used())
            .fold(0u32, u32::saturating_add)
    }

    /// Points `vni` at nexthop `nh`, which the caller found in `nhs` under this same RTNL
    /// hold; the VNI's reference moves from its previous nexthop to `nh`. ERANGE for a
    /// VNI beyond 24 bits, ENOMEM when its chunk cannot be allocated: nothing changed.
    pub fn set(&self, vni: u32, nh: u32, nhs: &NhTable, rtnl: &mut Rtnl) -> Result<Option<u32>> {
        let (c, o) = vni_split(vni).map_err(|_| ERANGE)?;
        let slot = self.chunks.get(c as usize).ok_or(ERANGE)?;
        let old = match slot.get_locked(rtnl) {
            Some(chunk) => chunk.map.set(o, nh).ok_or(ERANGE)?,
            None => {
                // A new chunk is filled before it is published.
                let chunk = RcuBox::new(
                    Chunk {
                        map: NhMap::new(kvvec_from_fn(VNI_CHUNK as usize, AtomicU32::default)?),
                    },
                    GFP_KERNEL,
                )?;
                chunk.map.set(o, nh).ok_or(ERANGE)?;
                slot.publish(chunk, rtnl).map_err(|_| EBUSY)?;
                None
            }
        };
        nhs.hold(nh, rtnl);
        if let Some(old) = old {
            nhs.put(old, rtnl);
        }
        Ok(old)
    }

    /// Clears `vni` and drops its reference; returns the nexthop it led to (ENOENT when
    /// the VNI was not in use, ERANGE beyond 24 bits) and the chunk if that was its last
    /// VNI: unpublished, to be reclaimed once the RTNL is released.
    pub fn remove(
        &self,
        vni: u32,
        nhs: &NhTable,
        rtnl: &mut Rtnl,
    ) -> Result<(u32, Option<Retired<Chunk>>)> {
        let (c, o) = vni_split(vni).map_err(|_| ERANGE)?;
        let slot = self.chunks.get(c as usize).ok_or(ERANGE)?;
        let (old, empty) = {
            let chunk = slot.get_locked(rtnl).ok_or(ENOENT)?;
            let old = chunk.map.clear(o).ok_or(ENOENT)?;
            (old, chunk.map.used() == 0)
        };
        nhs.put(old, rtnl);
        let retired = if empty { slot.retire(rtnl) } else { None };
        Ok((old, retired))
    }
}
