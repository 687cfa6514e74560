// SPDX-License-Identifier: GPL-2.0
//! The RTNL mutex. The vif table's writers are serialised by it (netdevice notifiers
//! already run under it), so it doubles as the vif writer lock.

use crate::kapi::sys;
use core::marker::PhantomData;

/// Proof that the RTNL is held. Only obtainable by locking it or from a callback that the
/// kernel calls with it held.
///
/// # Invariants
/// While a token exists the RTNL is held by this thread, and it is the only token for
/// that hold: so `&mut Rtnl` is exclusive access to everything the RTNL serialises
/// (RCU writers use it to unpublish, see `rcu::Slot`), and `&Rtnl` a shared one.
pub struct Rtnl {
    _not_send: PhantomData<*mut ()>,
}

/// An owned RTNL lock; releases it on drop.
pub struct RtnlGuard {
    token: Rtnl,
}

impl RtnlGuard {
    pub fn lock() -> Self {
        // SAFETY: process context (netlink ops and module init/exit); RTNL is not held by
        // the caller (our genl family has parallel_ops, so no genl_mutex ordering issue).
        unsafe { sys::vrg_rtnl_lock() };
        RtnlGuard {
            token: Rtnl {
                _not_send: PhantomData,
            },
        }
    }
}

impl core::ops::Deref for RtnlGuard {
    type Target = Rtnl;
    fn deref(&self) -> &Rtnl {
        &self.token
    }
}

impl core::ops::DerefMut for RtnlGuard {
    fn deref_mut(&mut self) -> &mut Rtnl {
        &mut self.token
    }
}

impl Drop for RtnlGuard {
    fn drop(&mut self) {
        // SAFETY: paired with rtnl_lock in `lock`.
        unsafe { sys::vrg_rtnl_unlock() };
    }
}

impl Rtnl {
    /// # Safety
    /// The caller must be running with the RTNL held for the token's whole lifetime, and
    /// no other token may exist for that hold (the kernel called us with it held and
    /// nothing up the stack made one).
    pub unsafe fn assume_held() -> Rtnl {
        // SAFETY: reading the lock state has no preconditions.
        debug_assert!(unsafe { sys::vrg_rtnl_is_locked() });
        Rtnl {
            _not_send: PhantomData,
        }
    }
}

/// State that only RTNL holders touch (the configuration writers' side of the tables:
/// route-table free lists, nexthop reference counts). A borrow flag stops a holder from
/// borrowing it twice at once, so the `&mut` it hands out is unique.
pub struct RtnlCell<T> {
    value: core::cell::UnsafeCell<T>,
    busy: core::cell::Cell<bool>,
}

// SAFETY: the value is only reached through `with`, which requires the RTNL (one thread at
// a time) and refuses re-entry; T: Send because successive holders run on any thread.
unsafe impl<T: Send> Sync for RtnlCell<T> {}
// SAFETY: plain ownership transfer.
unsafe impl<T: Send> Send for RtnlCell<T> {}

impl<T> RtnlCell<T> {
    pub fn new(value: T) -> Self {
        RtnlCell {
            value: core::cell::UnsafeCell::new(value),
            busy: core::cell::Cell::new(false),
        }
    }

    /// Runs `f` with exclusive access; `None` if the cell is already borrowed (a bug in the
    /// caller, reported instead of aliasing).
    pub fn with<R>(&self, _rtnl: &Rtnl, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        if self.busy.replace(true) {
            return None;
        }
        // SAFETY: the RTNL (witnessed by `_rtnl`) serialises every caller of `with`, and
        // `busy` rules out a nested borrow by the same holder, so this is the only reference.
        let r = f(unsafe { &mut *self.value.get() });
        self.busy.set(false);
        Some(r)
    }
}
