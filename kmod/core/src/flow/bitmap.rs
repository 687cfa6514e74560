// SPDX-License-Identifier: GPL-2.0
//! A lock-free slot allocator: one bit per slot, claimed with compare-and-swap. Serves
//! the flow table's overflow area and the kernel's Hold queues.

use core::ops::Deref;
use core::sync::atomic::Ordering::{AcqRel, Relaxed};
use core::sync::atomic::{AtomicU32, AtomicU64};

pub struct SlotBitmap<M: Deref<Target = [AtomicU64]>> {
    words: M,
    capacity: u32,
    used: AtomicU32,
    /// Where the next search starts, so allocations spread instead of piling on word 0.
    hint: AtomicU32,
}

impl<M: Deref<Target = [AtomicU64]>> SlotBitmap<M> {
    /// Words needed for `slots` bits.
    pub const fn words_for(slots: u32) -> usize {
        (slots as usize).div_ceil(64)
    }

    /// None when `words` is too short for `capacity`.
    pub fn new(words: M, capacity: u32) -> Option<Self> {
        if words.len() < Self::words_for(capacity) {
            return None;
        }
        for w in words.iter() {
            w.store(0, Relaxed);
        }
        Some(SlotBitmap {
            words,
            capacity,
            used: AtomicU32::new(0),
            hint: AtomicU32::new(0),
        })
    }

    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    pub fn used(&self) -> u32 {
        self.used.load(Relaxed)
    }

    /// Claims a free slot.
    pub fn alloc(&self) -> Option<u32> {
        let n = Self::words_for(self.capacity);
        if n == 0 || self.used() >= self.capacity {
            return None;
        }
        let start = self.hint.load(Relaxed) as usize % n;
        for step in 0..n {
            let wi = (start + step) % n;
            let word = self.words.get(wi)?;
            let mut cur = word.load(Relaxed);
            loop {
                let free = !cur & self.valid_bits(wi);
                if free == 0 {
                    break;
                }
                let bit = free.trailing_zeros();
                match word.compare_exchange_weak(cur, cur | (1 << bit), AcqRel, Relaxed) {
                    Ok(_) => {
                        self.used.fetch_add(1, Relaxed);
                        self.hint.store(wi as u32, Relaxed);
                        return Some(wi as u32 * 64 + bit);
                    }
                    Err(now) => cur = now,
                }
            }
        }
        None
    }

    /// Frees `slot`; false when it was not allocated.
    pub fn free(&self, slot: u32) -> bool {
        let Some(word) = self.words.get(slot as usize / 64) else {
            return false;
        };
        let bit = 1u64 << (slot % 64);
        let was = word.fetch_and(!bit, AcqRel);
        if was & bit == 0 {
            return false;
        }
        self.used.fetch_sub(1, Relaxed);
        true
    }

    /// Bits of word `wi` that are slots (the last word may be partial).
    fn valid_bits(&self, wi: usize) -> u64 {
        let first = wi as u64 * 64;
        let left = u64::from(self.capacity).saturating_sub(first);
        if left >= 64 {
            u64::MAX
        } else {
            (1u64 << left) - 1
        }
    }
}
