// SPDX-License-Identifier: GPL-2.0
//! The route tables: the core's lock-free LPM over memory the kernel allocates once.

use crate::kapi::rcu;
use crate::vrcore::route::{nodes_len, RouteSlot, RouteTable, Writer};
use core::sync::atomic::AtomicU32;
use kernel::alloc::KVVec;
use kernel::error::Result;
use kernel::prelude::*;

pub type Routes = RouteTable<KVVec<AtomicU32>, KVVec<RouteSlot>>;

fn atomics(n: usize) -> Result<KVVec<AtomicU32>> {
    let mut v = KVVec::with_capacity(n, GFP_KERNEL)?;
    for _ in 0..n {
        v.push(AtomicU32::new(0), GFP_KERNEL)?;
    }
    Ok(v)
}

pub fn new(vrfs: u32, routes: u32, buckets: u32) -> Result<(Routes, Writer)> {
    let mut slots = KVVec::with_capacity(routes as usize, GFP_KERNEL)?;
    for _ in 0..routes {
        slots.push(RouteSlot::new(), GFP_KERNEL)?;
    }
    let roots = atomics(vrfs as usize * 2)?;
    let nodes = atomics(nodes_len(buckets as usize))?;
    let hash = atomics((routes as usize).next_power_of_two())?;
    RouteTable::new(roots, nodes, slots, hash).map_err(|_| EINVAL)
}

/// What the core calls before it reuses unlinked buckets or route entries.
pub fn grace() {
    rcu::synchronize();
}
