// SPDX-License-Identifier: GPL-2.0
//! Drop counters per reason and per-VRF counters, per CPU.

use crate::kapi::percpu::{CounterArray, PacketCtx};
use crate::uapi::{DROP_REASONS, VRF_STATS};
use kernel::error::Result;

pub struct Stats {
    /// `drop_reason` counters.
    pub drops: CounterArray,
    /// `vrf_stat` counters, VRF_STATS per VRF.
    pub vrf: CounterArray,
    vrfs: u32,
}

impl Stats {
    pub fn new(vrfs: u32) -> Result<Stats> {
        Ok(Stats {
            drops: CounterArray::new(DROP_REASONS)?,
            vrf: CounterArray::new(VRF_STATS * vrfs as usize)?,
            vrfs,
        })
    }

    #[inline]
    pub fn drop(&self, reason: u32, ctx: &PacketCtx) {
        if let Some(c) = self.drops.local(ctx).get(reason as usize) {
            c.add(1, ctx);
        }
    }

    #[inline]
    pub fn vrf(&self, vrf: u32, stat: u32, ctx: &PacketCtx) {
        if vrf >= self.vrfs {
            return;
        }
        let i = vrf as usize * VRF_STATS + stat as usize;
        if let Some(c) = self.vrf.local(ctx).get(i) {
            c.add(1, ctx);
        }
    }

    /// The counters of one VRF, summed or of one CPU.
    pub fn vrf_counters(&self, vrf: u32, cpu: Option<u32>) -> [u64; VRF_STATS] {
        let mut out = [0u64; VRF_STATS];
        if vrf < self.vrfs {
            for (i, o) in out.iter_mut().enumerate() {
                *o = self.vrf.sum(vrf as usize * VRF_STATS + i, cpu);
            }
        }
        out
    }

    pub fn drop_counters(&self, cpu: Option<u32>) -> [u64; DROP_REASONS] {
        let mut out = [0u64; DROP_REASONS];
        for (i, o) in out.iter_mut().enumerate() {
            *o = self.drops.sum(i, cpu);
        }
        out
    }
}
