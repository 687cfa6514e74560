// SPDX-License-Identifier: GPL-2.0
//! RCU: read-side guards, and a published-pointer slot whose old values are freed only
//! after a grace period. Writers are serialised by the RTNL (see `Slot`).

use crate::kapi::rtnl::Rtnl;
use crate::kapi::sys;
use core::marker::PhantomData;
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::alloc::{Flags, KBox};
use kernel::error::Result;

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

/// Waits until every RCU reader that started before the call has finished. Sleeps:
/// process context only.
pub fn synchronize() {
    // SAFETY: may sleep; all callers are in process context (netlink ops, module
    // init/exit, netdevice notifier), never under a spinlock or RCU read lock.
    unsafe { sys::vrg_synchronize_rcu() };
}

/// Waits until every callback queued by dropping a `Retired` has run. Module exit calls
/// it last: those callbacks are module code.
pub fn barrier() {
    // SAFETY: may sleep; called from module exit (process context) only.
    unsafe { sys::vrg_rcu_barrier() };
}

/// A heap value with the `rcu_head` that defers its free, as `Slot` publishes it.
///
/// # Invariants
/// `head` is the first field (`repr(C)`), so a pointer to it is a pointer to the node.
#[repr(C)]
struct Node<T> {
    head: sys::RcuHead,
    value: T,
}

/// A value ready to be published in a `Slot` (allocated up front, so publishing cannot
/// fail for lack of memory).
pub struct RcuBox<T>(KBox<Node<T>>);

impl<T> RcuBox<T> {
    pub fn new(value: T, flags: Flags) -> Result<Self> {
        Ok(RcuBox(KBox::new(
            Node {
                head: sys::RcuHead::new(),
                value,
            },
            flags,
        )?))
    }
}

impl<T> core::ops::Deref for RcuBox<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0.value
    }
}

/// A value unpublished from a `Slot`: readers may still see it until a grace period has
/// passed. `reclaim_all` frees many after one grace period (sleeps); dropping one queues
/// its free behind a grace period (`call_rcu`) and never sleeps, so it is safe anywhere.
///
/// # Invariants
/// `node` came from `KBox::into_raw` (via `Slot`), is no longer published, and is owned
/// by this value alone.
#[must_use = "dropping defers the free to an RCU callback; reclaim it to free it now"]
pub struct Retired<T: Send> {
    node: *mut Node<T>,
}

impl<T: Send> Retired<T> {
    /// The retired value, for the writer's cleanup before the grace period.
    pub fn get(&self) -> &T {
        // SAFETY: by the type invariant the node is live until `self` is consumed.
        unsafe { &(*self.node).value }
    }

    /// Waits for one grace period, then frees every retired value. Sleeps.
    pub fn reclaim_all(retired: impl IntoIterator<Item = Retired<T>>) {
        synchronize();
        for r in retired {
            let node = r.node;
            core::mem::forget(r);
            // SAFETY: unpublished before `synchronize` (type invariant), so no reader can
            // still hold it; from `KBox::into_raw`, and `r` was its only owner.
            drop(unsafe { KBox::from_raw(node) });
        }
    }

    /// Single-value form of `reclaim_all`.
    pub fn reclaim(self) {
        Self::reclaim_all(core::iter::once(self));
    }

    /// The `call_rcu` callback: frees the node once the grace period is over.
    ///
    /// # Safety
    /// `head` is the `head` of a `Node<T>` queued by `Retired::drop`.
    unsafe extern "C" fn free_after_grace_period(head: *mut sys::RcuHead) {
        // SAFETY: `head` is the first field of a `Node<T>` (its invariant); the node came
        // from `KBox::into_raw` and the grace period that `call_rcu` waited for ended
        // every reader. T: Send, so dropping it on the callback's CPU is allowed.
        drop(unsafe { KBox::from_raw(head.cast::<Node<T>>()) });
    }
}

impl<T: Send> Drop for Retired<T> {
    fn drop(&mut self) {
        // SAFETY: the node is unpublished and ours (type invariant); `call_rcu` owns it
        // from here and the callback frees it after a grace period. `rcu::barrier` at
        // module exit waits for the callback.
        unsafe {
            sys::vrg_call_rcu(
                core::ptr::addr_of_mut!((*self.node).head),
                Self::free_after_grace_period,
            )
        };
    }
}

/// An RCU-published, heap-allocated value. Readers load it under a `Guard`; writers hold
/// the RTNL, and must hold it exclusively (`&mut Rtnl`) to unpublish, so that no
/// reference taken under the same hold (`get_locked`) can outlive the value.
///
/// # Invariants
/// A non-null `ptr` came from `KBox::into_raw` of an `RcuBox`; it is freed only after it
/// was swapped out (by a writer holding the RTNL) and a grace period passed, or when the
/// slot itself is dropped.
pub struct Slot<T> {
    ptr: AtomicPtr<Node<T>>,
}

impl<T: Send + Sync> Slot<T> {
    pub const fn empty() -> Self {
        Slot {
            ptr: AtomicPtr::new(core::ptr::null_mut()),
        }
    }

    /// The published value, for a reader inside the RCU read-side section `_guard`.
    pub fn get<'a>(&'a self, _guard: &'a Guard) -> Option<&'a T> {
        let p = self.ptr.load(Ordering::Acquire);
        // SAFETY: a non-null node is live until unpublished and a grace period passes
        // (type invariant); `_guard` keeps this read-side section open for 'a, and the
        // slot itself is borrowed for 'a, so the value outlives the reference.
        unsafe { p.as_ref().map(|n| &n.value) }
    }

    /// The published value, for a writer holding the RTNL: nothing unpublishes it while
    /// `_rtnl` is borrowed, since unpublishing needs `&mut Rtnl`.
    pub fn get_locked<'a>(&'a self, _rtnl: &'a Rtnl) -> Option<&'a T> {
        let p = self.ptr.load(Ordering::Acquire);
        // SAFETY: values are unpublished only through `&mut Rtnl`, which cannot exist while
        // `_rtnl` is borrowed for 'a (one token per RTNL hold, see `Rtnl`), and a value
        // still published is live (type invariant).
        unsafe { p.as_ref().map(|n| &n.value) }
    }

    pub fn is_empty(&self) -> bool {
        self.ptr.load(Ordering::Relaxed).is_null()
    }

    /// Publishes `value` into an empty slot; gives it back if the slot is occupied.
    pub fn publish(&self, value: RcuBox<T>, _rtnl: &mut Rtnl) -> Result<(), RcuBox<T>> {
        if !self.is_empty() {
            return Err(value);
        }
        self.ptr.store(KBox::into_raw(value.0), Ordering::Release);
        Ok(())
    }

    /// Publishes `value` in place of the current one (empty or not); readers see either.
    pub fn replace(&self, value: RcuBox<T>, _rtnl: &mut Rtnl) -> Option<Retired<T>> {
        let old = self.ptr.swap(KBox::into_raw(value.0), Ordering::AcqRel);
        // The old node is unpublished and now ours alone: the Retired invariant.
        (!old.is_null()).then(|| Retired { node: old }) // lazily: a Retired drops by call_rcu
    }

    /// Unpublishes the current value, if any.
    pub fn retire(&self, _rtnl: &mut Rtnl) -> Option<Retired<T>> {
        let old = self.ptr.swap(core::ptr::null_mut(), Ordering::AcqRel);
        (!old.is_null()).then(|| Retired { node: old }) // lazily: a Retired drops by call_rcu
    }
}

impl<T> Drop for Slot<T> {
    fn drop(&mut self) {
        let p = *self.ptr.get_mut();
        if !p.is_null() {
            // SAFETY: from `KBox::into_raw` (type invariant). Dropping the slot needs it
            // owned, so no `get`/`get_locked` borrow is alive; the tables that own slots
            // are freed only after a grace period that follows the unpublishing of the
            // router itself (`global::Installed::drop`), so no reader holds it either.
            drop(unsafe { KBox::from_raw(p) });
        }
    }
}

// SAFETY: the slot hands out `&T` to readers on any CPU (T: Sync) and moves `T` between
// threads when a writer on another CPU retires it (T: Send).
unsafe impl<T: Send + Sync> Sync for Slot<T> {}
// SAFETY: as above.
unsafe impl<T: Send + Sync> Send for Slot<T> {}
