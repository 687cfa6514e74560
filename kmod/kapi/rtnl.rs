// SPDX-License-Identifier: GPL-2.0
//! The RTNL mutex. The vif table's writers are serialised by it (netdevice notifiers
//! already run under it), so it doubles as the vif writer lock.

use crate::sys;
use core::marker::PhantomData;

/// Proof that the RTNL is held. Only obtainable by locking it or from a callback that the
/// kernel calls with it held.
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
        RtnlGuard { token: Rtnl { _not_send: PhantomData } }
    }
}

impl core::ops::Deref for RtnlGuard {
    type Target = Rtnl;
    fn deref(&self) -> &Rtnl {
        &self.token
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
    /// The caller must be running with the RTNL held for the token's whole lifetime.
    pub unsafe fn assume_held() -> Rtnl {
        // SAFETY: reading the lock state has no preconditions.
        debug_assert!(unsafe { sys::vrg_rtnl_is_locked() });
        Rtnl { _not_send: PhantomData }
    }
}
