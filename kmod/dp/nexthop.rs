// SPDX-License-Identifier: GPL-2.0
//! The nexthop table: RCU-published `Nexthop`s (from the core) by id, plus the reference
//! counts that keep a nexthop alive while routes or composites use it. Writers hold the
//! RTNL (the one configuration lock); the packet path reads under RCU.

use super::table::RcuTable;
use crate::kapi::kvvec_from_fn;
use crate::kapi::rcu::{self, RcuBox, Retired};
use crate::kapi::rtnl::Rtnl;
use crate::vrcore::nexthop::{Nexthop, Nexthops};
use core::sync::atomic::{AtomicU32, Ordering};
use kernel::alloc::KVVec;
use kernel::error::Result;
use kernel::prelude::*;

pub struct NhTable {
    entries: RcuTable<Nexthop>,
    /// References held on each nexthop by routes and composites (written under the RTNL,
    /// read by GET/dump without it).
    refs: KVVec<AtomicU32>,
    /// How many composites list each nexthop as a member.
    in_composite: KVVec<AtomicU32>,
}

fn bump(v: &KVVec<AtomicU32>, id: u32, up: bool) {
    if let Some(r) = v.get(id as usize) {
        let n = r.load(Ordering::Relaxed);
        r.store(
            if up {
                n.saturating_add(1)
            } else {
                n.saturating_sub(1)
            },
            Ordering::Relaxed,
        );
    }
}

impl NhTable {
    pub fn new(size: u32) -> Result<NhTable> {
        let n = size as usize;
        Ok(NhTable {
            entries: RcuTable::new(size)?,
            refs: kvvec_from_fn(n, AtomicU32::default)?,
            in_composite: kvvec_from_fn(n, AtomicU32::default)?,
        })
    }

    /// Installs the discard nexthop (id 0); it stays until the table is freed.
    pub fn install_discard(&self, rtnl: &mut Rtnl) -> Result {
        let slot = self.entries.slot(0).ok_or(EINVAL)?;
        slot.publish(RcuBox::new(Nexthop::discard(), GFP_KERNEL)?, rtnl)
            .map_err(|_| EEXIST)
    }

    // Reads go to the generic table; writes go through `publish`/`remove` below, which
    // keep the reference counts in step.
    pub fn capacity(&self) -> u32 {
        self.entries.capacity()
    }

    pub fn get<'a>(&'a self, id: u32, guard: &'a rcu::Guard) -> Option<&'a Nexthop> {
        self.entries.get(id, guard)
    }

    pub fn get_locked<'a>(&'a self, id: u32, rtnl: &'a Rtnl) -> Option<&'a Nexthop> {
        self.entries.get_locked(id, rtnl)
    }

    pub fn used(&self, guard: &rcu::Guard) -> u32 {
        self.entries.used(guard)
    }

    /// References held on nexthop `id` (routes, composites).
    pub fn ref_count(&self, id: u32) -> u32 {
        self.refs
            .get(id as usize)
            .map_or(0, |r| r.load(Ordering::Relaxed))
    }

    pub fn hold(&self, id: u32, _rtnl: &Rtnl) {
        bump(&self.refs, id, true);
    }

    pub fn put(&self, id: u32, _rtnl: &Rtnl) {
        bump(&self.refs, id, false);
    }

    /// Publishes `nh` at its id (replacing any previous one) and moves the member
    /// references from the old value to the new one. The caller validated `nh`.
    pub fn publish(
        &self,
        nh: RcuBox<Nexthop>,
        rtnl: &mut Rtnl,
    ) -> Result<Option<Retired<Nexthop>>> {
        let slot = self.entries.slot(nh.id).ok_or(ERANGE)?;
        for &m in nh.references() {
            bump(&self.refs, m, true);
            bump(&self.in_composite, m, true);
        }
        let old = slot.replace(nh, rtnl);
        if let Some(old) = &old {
            for &m in old.get().references() {
                bump(&self.refs, m, false);
                bump(&self.in_composite, m, false);
            }
        }
        Ok(old)
    }

    /// Unpublishes nexthop `id` if nothing references it.
    pub fn remove(&self, id: u32, rtnl: &mut Rtnl) -> Result<Retired<Nexthop>> {
        let slot = self.entries.slot(id).ok_or(ERANGE)?;
        if slot.get_locked(rtnl).is_none() {
            return Err(ENOENT);
        }
        if self.ref_count(id) > 0 {
            return Err(EBUSY);
        }
        let old = slot.retire(rtnl).ok_or(ENOENT)?;
        for &m in old.get().references() {
            bump(&self.refs, m, false);
            bump(&self.in_composite, m, false);
        }
        Ok(old)
    }

    /// A view for the core's validation under the RTNL.
    pub fn locked<'r>(&'r self, rtnl: &'r Rtnl) -> LockedView<'r> {
        LockedView { table: self, rtnl }
    }

    /// A view for the packet path.
    pub fn rcu<'g>(&'g self, guard: &'g rcu::Guard) -> RcuView<'g> {
        RcuView { table: self, guard }
    }
}

pub struct LockedView<'r> {
    table: &'r NhTable,
    rtnl: &'r Rtnl,
}

impl Nexthops for LockedView<'_> {
    fn nexthop(&self, id: u32) -> Option<&Nexthop> {
        self.table.get_locked(id, self.rtnl)
    }
    fn in_composite(&self, id: u32) -> bool {
        self.table
            .in_composite
            .get(id as usize)
            .is_some_and(|n| n.load(Ordering::Relaxed) > 0)
    }
}

pub struct RcuView<'g> {
    table: &'g NhTable,
    guard: &'g rcu::Guard,
}

impl Nexthops for RcuView<'_> {
    fn nexthop(&self, id: u32) -> Option<&Nexthop> {
        self.table.get(id, self.guard)
    }
    fn in_composite(&self, id: u32) -> bool {
        self.table
            .in_composite
            .get(id as usize)
            .is_some_and(|n| n.load(Ordering::Relaxed) > 0)
    }
}
