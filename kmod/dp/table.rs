// SPDX-License-Identifier: GPL-2.0
//! A fixed-size table of RCU-published values by index: the vif and nexthop tables.
//! Readers (packet path, GET/dump) look entries up under an RCU guard; writers hold the
//! RTNL (the one configuration lock).

use crate::kapi::kvvec_from_fn;
use crate::kapi::rcu::{self, Retired, Slot};
use crate::kapi::rtnl::Rtnl;
use kernel::alloc::KVVec;
use kernel::error::Result;

pub struct RcuTable<T> {
    slots: KVVec<Slot<T>>,
}

impl<T: Send + Sync> RcuTable<T> {
    /// A table of `size` empty entries.
    pub fn new(size: u32) -> Result<RcuTable<T>> {
        Ok(RcuTable {
            slots: kvvec_from_fn(size as usize, Slot::empty)?,
        })
    }

    pub fn capacity(&self) -> u32 {
        self.slots.len() as u32
    }

    pub fn get<'a>(&'a self, idx: u32, guard: &'a rcu::Guard) -> Option<&'a T> {
        self.slots.get(idx as usize)?.get(guard)
    }

    pub fn get_locked<'a>(&'a self, idx: u32, rtnl: &'a Rtnl) -> Option<&'a T> {
        self.slots.get(idx as usize)?.get_locked(rtnl)
    }

    /// How many entries are published.
    pub fn used(&self, guard: &rcu::Guard) -> u32 {
        self.slots.iter().filter(|s| s.get(guard).is_some()).count() as u32
    }

    /// The lowest index whose entry satisfies `pred`.
    pub fn position_locked(&self, rtnl: &Rtnl, mut pred: impl FnMut(&T) -> bool) -> Option<u32> {
        self.slots
            .iter()
            .position(|s| s.get_locked(rtnl).is_some_and(&mut pred))
            .map(|i| i as u32)
    }

    /// The lowest empty index.
    pub fn first_free(&self, rtnl: &Rtnl) -> Option<u32> {
        let _ = rtnl;
        self.slots
            .iter()
            .position(|s| s.is_empty())
            .map(|i| i as u32)
    }

    pub fn is_free(&self, idx: u32) -> bool {
        self.slots.get(idx as usize).is_some_and(|s| s.is_empty())
    }

    /// The slot at `idx`, for the writers of the datapath's tables (which keep their
    /// own bookkeeping in step with what they publish or retire).
    pub(super) fn slot(&self, idx: u32) -> Option<&Slot<T>> {
        self.slots.get(idx as usize)
    }

    /// Unpublishes the entry at `idx`, if any.
    pub(super) fn retire(&self, idx: u32, rtnl: &mut Rtnl) -> Option<Retired<T>> {
        self.slot(idx)?.retire(rtnl)
    }
}
