// SPDX-License-Identifier: GPL-2.0
//! The route tables: the core's lock-free LPM over memory the kernel allocates once.

use crate::kapi::{kvvec_from_fn, rcu};
use crate::vrcore::route::{nodes_len, RouteSlot, RouteTable, Writer};
use core::sync::atomic::AtomicU32;
use kernel::alloc::KVVec;
use kernel::error::Result;
use kernel::prelude::*;

pub type Routes = RouteTable<KVVec<AtomicU32>, KVVec<RouteSlot>>;

pub fn new(vrfs: u32, routes: u32, buckets: u32) -> Result<(Routes, Writer)> {
    let slots = kvvec_from_fn(routes as usize, RouteSlot::new)?;
    let roots = kvvec_from_fn(vrfs as usize * 2, AtomicU32::default)?;
    let nodes = kvvec_from_fn(nodes_len(buckets as usize), AtomicU32::default)?;
    let hash = kvvec_from_fn((routes as usize).next_power_of_two(), AtomicU32::default)?;
    RouteTable::new(roots, nodes, slots, hash).map_err(|_| EINVAL)
}

/// What the core calls before it reuses unlinked buckets or route entries.
pub fn grace() {
    rcu::synchronize();
}
