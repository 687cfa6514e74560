// SPDX-License-Identifier: GPL-2.0
//! The vif table: interfaces the router forwards between. Writers hold the RTNL;
//! readers (packet path, GET/dump) use RCU.

use super::table::RcuTable;
use crate::kapi::netdev::{Cookie, DevId, DevRef};
use crate::kapi::percpu::{Counter, PerCpu};
use crate::kapi::rcu::{RcuBox, Retired};
use crate::kapi::rtnl::Rtnl;
use crate::uapi::vif_type;
use kernel::error::{code::*, Result};
use kernel::prelude::*;

/// Indexes of the per-CPU counters of a vif.
pub mod stat {
    pub const RX_PACKETS: usize = 0;
    pub const RX_BYTES: usize = 1;
    pub const RX_ERRORS: usize = 2;
    pub const TX_PACKETS: usize = 3;
    pub const TX_BYTES: usize = 4;
    pub const TX_ERRORS: usize = 5;
    pub const DROPS: usize = 6;
    pub const COUNT: usize = 7;
}

pub type VifStats = [Counter; stat::COUNT];

/// Configuration of a vif, as requested (validated by `ctl::vif`).
pub struct VifConfig {
    pub kind: u32,
    pub vrf: u32,
    pub mcast_vrf: u32,
    pub mac: [u8; 6],
    /// Interface flags; VIF_NEW on the attached device changes them in place (turning
    /// policy on for a running pod must not detach it).
    pub flags: core::sync::atomic::AtomicU32,
    pub ip: u32,
    pub ip6: [u8; 16],
    pub nh_id: u32,
    pub qos: u32,
}

pub struct Vif {
    pub idx: u32,
    pub cfg: VifConfig,
    pub dev: DevRef,
    pub stats: PerCpu<VifStats>,
}

impl Vif {
    /// Counters summed over CPUs, or of one CPU.
    pub fn counters(&self, cpu: Option<u32>) -> [u64; stat::COUNT] {
        let mut sum = [0u64; stat::COUNT];
        for (c, counters) in self.stats.each() {
            if cpu.is_some_and(|want| want != c) {
                continue;
            }
            for (s, v) in sum.iter_mut().zip(counters.iter()) {
                *s = s.wrapping_add(v.read());
            }
        }
        sum
    }

    pub fn flags(&self) -> u32 {
        self.cfg.flags.load(core::sync::atomic::Ordering::Relaxed)
    }

    pub fn is_host(&self) -> bool {
        self.cfg.kind == vif_type::HOST
    }
}

/// The vif table: vifs by index.
pub type VifTable = RcuTable<Vif>;

impl RcuTable<Vif> {
    pub fn find_by_dev(&self, dev: DevId, rtnl: &Rtnl) -> Option<u32> {
        self.position_locked(rtnl, |v| v.dev.id() == dev)
    }

    pub fn find_by_name(&self, name: &[u8], rtnl: &Rtnl) -> Option<u32> {
        self.position_locked(rtnl, |v| name_eq(&v.dev.name(), name))
    }

    /// Publishes a vif at its index and hooks its device; undone if hooking fails.
    pub fn attach(&self, vif: RcuBox<Vif>, rtnl: &mut Rtnl) -> Result {
        let idx = vif.idx;
        let slot = self.slot(idx).ok_or(ERANGE)?;
        if vif.is_host() {
            // The vhost device already carries our cookie; it goes if the vif cannot.
            return slot.publish(vif, rtnl).map_err(|vif| {
                vif.dev.destroy_vhost(rtnl);
                EEXIST
            });
        }
        if !slot.is_empty() {
            return Err(EEXIST);
        }
        // Hooked before it is published: a frame that arrives in between finds no vif
        // at the cookie's index and goes to the stack as usual.
        vif.dev.attach_rx(Cookie::from_index(idx), rtnl)?;
        if let Err(vif) = slot.publish(vif, rtnl) {
            vif.dev.detach_rx(rtnl);
            return Err(EEXIST);
        }
        Ok(())
    }

    /// Unpublishes a vif and unhooks its device. The caller reclaims the result (one
    /// RCU grace period) before it releases the RTNL, so the device reference is dropped
    /// before an unregistering device waits for it.
    pub fn detach(&self, idx: u32, rtnl: &mut Rtnl) -> Option<Retired<Vif>> {
        let retired = self.retire(idx, rtnl)?;
        let vif = retired.get();
        if vif.is_host() {
            vif.dev.destroy_vhost(rtnl);
        } else {
            vif.dev.detach_rx(rtnl);
        }
        Some(retired)
    }

    pub fn detach_all(&self, rtnl: &mut Rtnl) {
        let mut retired = KVec::new();
        for idx in 0..self.capacity() {
            if let Some(r) = self.detach(idx, rtnl) {
                if retired.reserve(1, GFP_KERNEL).is_ok() {
                    let _ = retired.push(r, GFP_KERNEL);
                } else {
                    r.reclaim(); // no memory to batch: its own grace period
                }
            }
        }
        Retired::reclaim_all(retired);
    }
}

fn name_eq(stored: &[u8; 16], name: &[u8]) -> bool {
    let len = stored.iter().position(|&c| c == 0).unwrap_or(stored.len());
    stored.get(..len) == Some(name)
}
