// SPDX-License-Identifier: GPL-2.0
//! Per-CPU counters. Each CPU writes only its own copy, from the packet path (BH off, so
//! no preemption between the load and the store); readers sum all copies.

use crate::sys;
use core::sync::atomic::{AtomicU64, Ordering};
use kernel::error::{code::ENOMEM, Result};

/// A counter slot. Plain load+store on the owning CPU (no locked instruction); the
/// atomic type only makes concurrent readers on other CPUs well-defined.
#[repr(transparent)]
pub struct Counter(AtomicU64);

impl Counter {
    #[inline]
    pub fn add(&self, n: u64, _ctx: &PacketCtx) {
        self.0.store(self.0.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
    }
    #[inline]
    pub fn read(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Types whose all-zero bit pattern is a valid value (per-CPU memory starts zeroed).
///
/// # Safety
/// Implementors must be valid when every byte is zero and need no drop.
pub unsafe trait Zeroable: Sync {}
// SAFETY: an array of zeroed AtomicU64 is valid; no drop glue.
unsafe impl<const N: usize> Zeroable for [Counter; N] {}

/// Proof that the caller runs in the packet path with bottom halves disabled (rx_handler,
/// ndo_start_xmit), so it stays on one CPU while it updates that CPU's counters.
pub struct PacketCtx {
    _private: (),
}

impl PacketCtx {
    /// # Safety
    /// Only for the packet-path entry points, which the kernel calls with BH disabled.
    pub(crate) unsafe fn assume() -> PacketCtx {
        PacketCtx { _private: () }
    }
}

pub struct PerCpu<T: Zeroable> {
    ptr: *mut T,
}

// SAFETY: the per-CPU area is shared by design; T: Sync makes the shared access sound.
unsafe impl<T: Zeroable> Sync for PerCpu<T> {}
// SAFETY: ownership of the allocation may move between threads.
unsafe impl<T: Zeroable> Send for PerCpu<T> {}

impl<T: Zeroable> PerCpu<T> {
    pub fn new() -> Result<Self> {
        // SAFETY: plain allocation; size/align describe T.
        let ptr = unsafe { sys::vrg_percpu_alloc(core::mem::size_of::<T>(), core::mem::align_of::<T>()) };
        if ptr.is_null() {
            return Err(ENOMEM);
        }
        Ok(PerCpu { ptr: ptr.cast() })
    }

    /// This CPU's copy.
    #[inline]
    pub fn local(&self, _ctx: &PacketCtx) -> &T {
        // SAFETY: `ptr` is a live zeroed per-CPU allocation of T (Zeroable); `_ctx` proves
        // we stay on this CPU while the reference is used for writes.
        unsafe { &*sys::vrg_this_cpu_ptr(self.ptr.cast()).cast::<T>() }
    }

    /// Every possible CPU's copy, with its CPU number.
    pub fn each(&self) -> impl Iterator<Item = (u32, &T)> + '_ {
        let mut cpu: i32 = -1;
        core::iter::from_fn(move || {
            // SAFETY: no preconditions; returns -1 after the last possible CPU.
            cpu = unsafe { sys::vrg_next_possible_cpu(cpu) };
            if cpu < 0 {
                return None;
            }
            // SAFETY: `cpu` is a possible CPU, so its copy exists for the allocation's life.
            let r = unsafe { &*sys::vrg_per_cpu_ptr(self.ptr.cast(), cpu).cast::<T>() };
            Some((cpu as u32, r))
        })
    }
}

impl<T: Zeroable> Drop for PerCpu<T> {
    fn drop(&mut self) {
        // SAFETY: allocated in `new`, freed once here; T has no drop glue (Zeroable).
        unsafe { sys::vrg_percpu_free(self.ptr.cast()) };
    }
}
