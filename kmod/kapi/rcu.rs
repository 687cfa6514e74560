// SPDX-License-Identifier: GPL-2.0
//! RCU: read-side guards and a published-pointer slot whose old values are freed only
//! after a grace period. Writers are serialised by the caller (see `Slot`).

use crate::kapi::sys;
use core::marker::PhantomData;
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::alloc::KBox;

/// An RCU read-side critical section; references obtained under it live as long as it.
pub struct Guard {
    _not_send: PhantomData<*mut ()>,
}

impl Guard {
    pub fn new() -> Self {
        // SAFETY: rcu_read_lock has no preconditions; it nests and is paired by Drop.
        unsafe { sys::vrg_rcu_read_lock() };
        Guard {
            _not_send: PhantomData,
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        // SAFETY: paired with the rcu_read_lock in `new` on this same CPU/task (!Send).
        unsafe { sys::vrg_rcu_read_unlock() };
    }
}

/// Waits until every RCU reader that started before the call has finished.
pub fn synchronize() {
    // SAFETY: may sleep; all callers are in process context (netlink ops, module
    // init/exit, netdevice notifier), never under a spinlock or RCU read lock.
    unsafe { sys::vrg_synchronize_rcu() };
}

/// A value unpublished from a `Slot`: readers may still see it until a grace period has
/// passed. `reclaim_all` frees many after one grace period; dropping one waits for its own.
pub struct Retired<T> {
    ptr: *mut T,
}

impl<T> Retired<T> {
    /// The retired value, for the writer's cleanup before the grace period.
    pub fn get(&self) -> &T {
        // SAFETY: `ptr` came from `KBox::into_raw` in `Slot::publish` and is freed only
        // by `reclaim_all`, which consumes `self`.
        unsafe { &*self.ptr }
    }

    /// Waits for one grace period, then frees every retired value.
    pub fn reclaim_all(retired: impl IntoIterator<Item = Retired<T>>) {
        synchronize();
        for r in retired {
            let p = r.ptr;
            core::mem::forget(r);
            // SAFETY: the pointer was unpublished before `synchronize`, so no reader
            // can still hold it; it came from `KBox::into_raw`, ownership is unique.
            drop(unsafe { KBox::from_raw(p) });
        }
    }

    /// Single-value form of `reclaim_all`.
    pub fn reclaim(self) {
        Self::reclaim_all(core::iter::once(self));
    }
}

impl<T> Drop for Retired<T> {
    fn drop(&mut self) {
        synchronize();
        // SAFETY: unpublished before the grace period above; unique owner.
        drop(unsafe { KBox::from_raw(self.ptr) });
    }
}

/// An RCU-published, heap-allocated value. Readers load it under a `Guard`; writers
/// must be serialised externally (`W` is the token of the lock that does it).
pub struct Slot<T> {
    ptr: AtomicPtr<T>,
}

impl<T> Slot<T> {
    pub const fn empty() -> Self {
        Slot {
            ptr: AtomicPtr::new(core::ptr::null_mut()),
        }
    }

    pub fn get<'g>(&self, _guard: &'g Guard) -> Option<&'g T> {
        let p = self.ptr.load(Ordering::Acquire);
        // SAFETY: a non-null pointer was published by `publish` (from KBox::into_raw)
        // and is only freed after `retire` plus a grace period; `_guard` keeps this
        // read-side section open for 'g, so the value outlives the reference.
        unsafe { p.as_ref() }
    }

    /// Access for the serialised writer: nothing can free the value while the writer
    /// lock (witnessed by `_w`) is held, since only that writer retires values.
    pub fn get_locked<'w, W>(&self, _w: &'w W) -> Option<&'w T> {
        let p = self.ptr.load(Ordering::Acquire);
        // SAFETY: as in `get`; values are retired only by the holder of the writer lock,
        // which `_w` borrows for 'w.
        unsafe { p.as_ref() }
    }

    pub fn is_empty(&self) -> bool {
        self.ptr.load(Ordering::Relaxed).is_null()
    }

    /// Publishes `value` into an empty slot; gives it back if the slot is occupied.
    pub fn publish<W>(&self, value: KBox<T>, _w: &W) -> Result<(), KBox<T>> {
        if !self.is_empty() {
            return Err(value);
        }
        self.ptr.store(KBox::into_raw(value), Ordering::Release);
        Ok(())
    }

    /// Publishes `value` in place of the current one (empty or not); readers see either.
    pub fn replace<W>(&self, value: KBox<T>, _w: &W) -> Option<Retired<T>> {
        let p = self.ptr.swap(KBox::into_raw(value), Ordering::AcqRel);
        if p.is_null() {
            None
        } else {
            Some(Retired { ptr: p })
        }
    }

    /// Unpublishes the current value, if any.
    pub fn retire<W>(&self, _w: &W) -> Option<Retired<T>> {
        let p = self.ptr.swap(core::ptr::null_mut(), Ordering::AcqRel);
        if p.is_null() {
            None
        } else {
            Some(Retired { ptr: p })
        }
    }
}

impl<T> Drop for Slot<T> {
    fn drop(&mut self) {
        let p = *self.ptr.get_mut();
        if !p.is_null() {
            // SAFETY: dropping the slot means the table is being torn down after all
            // readers are gone (module exit unregisters every entry point first).
            drop(unsafe { KBox::from_raw(p) });
        }
    }
}

// SAFETY: the slot hands out `&T` to readers on any CPU and moves `T` between threads.
unsafe impl<T: Send + Sync> Sync for Slot<T> {}
// SAFETY: as above.
unsafe impl<T: Send + Sync> Send for Slot<T> {}
