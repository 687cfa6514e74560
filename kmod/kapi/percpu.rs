// SPDX-License-Identifier: GPL-2.0
//! Per-CPU counters. Each CPU writes only its own copy, from the packet path (BH off, so
//! no preemption between the load and the store); readers sum all copies.

use crate::kapi::sys;
use core::sync::atomic::{AtomicU64, Ordering};
use kernel::error::{code::ENOMEM, Result};

/// A counter slot. Plain load+store on the owning CPU (no locked instruction); the
/// atomic type only makes concurrent readers on other CPUs well-defined.
#[repr(transparent)]
pub struct Counter(AtomicU64);

impl Counter {
    #[inline]
    pub fn add(&self, n: u64, _ctx: &PacketCtx) {
        self.0.store(
            self.0.load(Ordering::Relaxed).wrapping_add(n),
            Ordering::Relaxed,
        );
    }
    #[inline]
    pub fn read(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
    /// Resets from another CPU: an increment racing with it may be lost (as in TF).
    pub fn reset(&self) {
        self.0.store(0, Ordering::Relaxed)
    }
    pub const fn new() -> Counter {
        Counter(AtomicU64::new(0))
    }
}

/// `n` counters per CPU in one allocation, each CPU's run contiguous (for tables too big
/// for the per-CPU allocator, such as the per-VRF statistics).
pub struct CounterArray {
    counters: kernel::alloc::KVVec<Counter>,
    per_cpu: usize,
    cpus: usize,
}

impl CounterArray {
    pub fn new(per_cpu: usize) -> Result<CounterArray> {
        // SAFETY: reads a boot-time constant.
        let cpus = unsafe { sys::vrg_nr_cpu_ids() } as usize;
        let total = per_cpu.checked_mul(cpus).ok_or(ENOMEM)?;
        let counters = crate::kapi::kvvec_from_fn(total, Counter::new)?;
        Ok(CounterArray {
            counters,
            per_cpu,
            cpus,
        })
    }

    /// This CPU's counters.
    #[inline]
    pub fn local(&self, _ctx: &PacketCtx) -> &[Counter] {
        // SAFETY: no preconditions; `_ctx` keeps us on this CPU while the slice is used.
        let cpu = unsafe { sys::vrg_cpu_id() } as usize;
        self.cpu(cpu).unwrap_or(&[])
    }

    pub fn cpu(&self, cpu: usize) -> Option<&[Counter]> {
        let start = cpu.checked_mul(self.per_cpu)?;
        self.counters.get(start..start.checked_add(self.per_cpu)?)
    }

    pub fn cpus(&self) -> usize {
        self.cpus
    }

    /// Counter `i` summed over CPUs, or of CPU `only`.
    pub fn sum(&self, i: usize, only: Option<u32>) -> u64 {
        (0..self.cpus)
            .filter(|&c| only.map_or(true, |o| o as usize == c))
            .filter_map(|c| self.cpu(c)?.get(i))
            .fold(0u64, |acc, c| acc.wrapping_add(c.read()))
    }

    pub fn reset_all(&self) {
        for c in self.counters.iter() {
            c.reset();
        }
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
///
/// # Invariants
/// Exists only while BH is disabled on the current CPU; `!Send`, so it cannot leave it.
pub struct PacketCtx {
    _not_send: core::marker::PhantomData<*mut ()>,
}

impl PacketCtx {
    /// # Safety
    /// Only for the packet-path entry points, which the kernel calls with BH disabled.
    pub(crate) unsafe fn assume() -> PacketCtx {
        PacketCtx {
            _not_send: core::marker::PhantomData,
        }
    }

    /// The packet hook this context belongs to, as the entry point that reaches the
    /// module's global object.
    pub fn entry(&self) -> crate::kapi::global::Entry<'_> {
        // SAFETY: a PacketCtx is made only by a packet hook (`assume`) or by
        // `with_bh_off` for the length of a closure run by a caller that is itself in an
        // entry point; the borrow ends with it.
        unsafe { crate::kapi::global::Entry::assume() }
    }

    /// Runs `f` from process context as the packet path runs: bottom halves off, so it
    /// stays on this CPU and no packet on this CPU can interrupt it (the flow table's
    /// writers rely on that), under an RCU read lock.
    pub fn with_bh_off<R>(f: impl FnOnce(&PacketCtx, &crate::kapi::rcu::Guard) -> R) -> R {
        // SAFETY: no preconditions in process context; paired below.
        unsafe { sys::vrg_local_bh_disable() };
        let ctx = PacketCtx {
            _not_send: core::marker::PhantomData,
        };
        let r = {
            let guard = crate::kapi::rcu::Guard::new();
            f(&ctx, &guard)
        };
        // SAFETY: paired with the disable above, on this task.
        unsafe { sys::vrg_local_bh_enable() };
        r
    }
}

/// Seconds since boot (coarse): flow ages.
pub fn seconds() -> u32 {
    // SAFETY: reads jiffies; no preconditions.
    unsafe { sys::vrg_seconds() }
}

/// A random value (the flow hash seed).
pub fn random_u32() -> u32 {
    // SAFETY: no preconditions.
    unsafe { sys::vrg_random_u32() }
}

/// A per-CPU value (alloc_percpu), zeroed, freed on drop.
///
/// # Invariants
/// `ptr` is a per-CPU allocation of `T` from `vrg_percpu_alloc`, owned by this value.
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
        let ptr =
            unsafe { sys::vrg_percpu_alloc(core::mem::size_of::<T>(), core::mem::align_of::<T>()) };
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
