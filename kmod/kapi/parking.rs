// SPDX-License-Identifier: GPL-2.0
//! A parking lot for packets: fixed slots of a few skbs each, filled and emptied with
//! atomic pointer swaps, so the packet path can queue a packet for later (a flow waiting
//! for the agent's verdict) without a lock and without allocating.
//!
//! Each slot has an owner tag. A packet that saw its flow on hold may park after the
//! verdict already emptied the slot (or after the slot went to another flow); `park`
//! checks the tag after parking and takes the packet back when the owner changed. The
//! tag store and cell swap of `release`, and the cell swap and tag load of `park`, are
//! SeqCst so one of the two sides always sees the other.

use crate::kapi::kvvec_from_fn;
use crate::kapi::skb::Skb;
use crate::kapi::sys;
use core::ptr::{null_mut, NonNull};
use core::sync::atomic::{AtomicPtr, AtomicU64, Ordering::SeqCst};
use kernel::alloc::KVVec;
use kernel::error::{code::ENOMEM, Result};

/// Owner tag of a free slot.
pub const NO_OWNER: u64 = 0;

pub struct Parking {
    cells: KVVec<AtomicPtr<sys::SkBuff>>,
    owners: KVVec<AtomicU64>,
    per_slot: usize,
}

impl Parking {
    pub fn new(slots: u32, per_slot: usize) -> Result<Parking> {
        let n = (slots as usize).checked_mul(per_slot).ok_or(ENOMEM)?;
        let cells = kvvec_from_fn(n, || AtomicPtr::new(null_mut()))?;
        let owners = kvvec_from_fn(slots as usize, || AtomicU64::new(NO_OWNER))?;
        Ok(Parking {
            cells,
            owners,
            per_slot,
        })
    }

    fn cells(&self, slot: u32) -> &[AtomicPtr<sys::SkBuff>] {
        let start = (slot as usize).saturating_mul(self.per_slot);
        self.cells
            .get(start..start.saturating_add(self.per_slot))
            .unwrap_or(&[])
    }

    /// Gives `slot` to `owner` (not NO_OWNER) before anyone may park in it.
    pub fn claim(&self, slot: u32, owner: u64) {
        if let Some(o) = self.owners.get(slot as usize) {
            o.store(owner, SeqCst);
        }
    }

    /// Parks `skb` in `slot` for `owner`; gives it back when the slot is full or no longer
    /// `owner`'s.
    pub fn park(&self, slot: u32, owner: u64, skb: Skb) -> core::result::Result<(), Skb> {
        let Some(tag) = self.owners.get(slot as usize) else {
            return Err(skb);
        };
        if tag.load(SeqCst) != owner {
            return Err(skb);
        }
        let raw = skb.into_raw();
        let Some(cell) = self
            .cells(slot)
            .iter()
            .find(|c| c.compare_exchange(null_mut(), raw, SeqCst, SeqCst).is_ok())
        else {
            // SAFETY: `raw` came from `into_raw` above and was stored nowhere.
            return Err(unsafe { Skb::from_raw(NonNull::new_unchecked(raw)) });
        };
        if tag.load(SeqCst) == owner {
            return Ok(());
        }
        // Released meanwhile: take the packet back unless the releaser already took it.
        match cell.compare_exchange(raw, null_mut(), SeqCst, SeqCst) {
            // SAFETY: the cell held our packet and the exchange gave it back to us alone.
            Ok(_) => Err(unsafe { Skb::from_raw(NonNull::new_unchecked(raw)) }),
            Err(_) => Ok(()),
        }
    }

    /// Ends `slot`'s ownership and takes its packets, in cell order.
    pub fn release(&self, slot: u32) -> impl Iterator<Item = Skb> + '_ {
        if let Some(o) = self.owners.get(slot as usize) {
            o.store(NO_OWNER, SeqCst);
        }
        self.cells(slot).iter().filter_map(|cell| {
            let raw = cell.swap(null_mut(), SeqCst);
            // SAFETY: a non-null cell holds an skb parked by `park`, whose ownership the
            // swap just moved to us alone.
            NonNull::new(raw).map(|p| unsafe { Skb::from_raw(p) })
        })
    }

    /// Packets parked in `slot`.
    pub fn count(&self, slot: u32) -> u32 {
        self.cells(slot)
            .iter()
            .filter(|c| !c.load(SeqCst).is_null())
            .count() as u32
    }
}

impl Drop for Parking {
    /// Frees what is still parked (module unload with flows on hold).
    fn drop(&mut self) {
        for cell in self.cells.iter() {
            if let Some(p) = NonNull::new(cell.swap(null_mut(), SeqCst)) {
                // SAFETY: as in `release`.
                drop(unsafe { Skb::from_raw(p) });
            }
        }
    }
}
