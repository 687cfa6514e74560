// SPDX-License-Identifier: GPL-2.0
//! The module's one global object (the router), reachable from the C entry points.

use crate::kapi::rcu;
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::alloc::KBox;

/// Cleanup that must run while the object is still reachable (detaching devices, so
/// that no packet callback can arrive once the object is freed).
pub trait Teardown {
    fn teardown(&self);
}

/// # Invariants
/// `ptr` is null or came from `KBox::into_raw` in `install`, and stays valid until the
/// `Installed` owner's drop has unpublished it and waited for a grace period.
pub struct Global<T> {
    ptr: AtomicPtr<T>,
}

// SAFETY: only shared references leave the global, and T: Sync makes those sound.
unsafe impl<T: Sync + Send> Sync for Global<T> {}

impl<T: Teardown + Sync + Send + 'static> Global<T> {
    pub const fn new() -> Self {
        Global {
            ptr: AtomicPtr::new(core::ptr::null_mut()),
        }
    }

    /// The installed object, if any.
    ///
    /// Callers are the module's entry points: genetlink ops, packet hooks and the
    /// netdevice notifier. `Installed::drop` runs after the genetlink family and the
    /// notifier are unregistered (field order of the module struct) and tears the packet
    /// hooks down before it frees the object, so no caller can hold the reference past it.
    pub fn get(&'static self) -> Option<&'static T> {
        let p = self.ptr.load(Ordering::Acquire);
        // SAFETY: non-null only between `install` and the end of `Installed::drop`, and
        // no entry point runs after that (see above).
        unsafe { p.as_ref() }
    }

    pub fn install(&'static self, value: KBox<T>) -> Installed<T> {
        self.ptr.store(KBox::into_raw(value), Ordering::Release);
        Installed { global: self }
    }
}

/// Owner of the installed object: dropping it tears it down and frees it.
pub struct Installed<T: Teardown + Sync + Send + 'static> {
    global: &'static Global<T>,
}

impl<T: Teardown + Sync + Send + 'static> Drop for Installed<T> {
    fn drop(&mut self) {
        if let Some(obj) = self.global.get() {
            obj.teardown();
        }
        let p = self
            .global
            .ptr
            .swap(core::ptr::null_mut(), Ordering::AcqRel);
        rcu::synchronize();
        if !p.is_null() {
            // SAFETY: from KBox::into_raw in `install`; unpublished and a grace period has
            // passed, so the packet path (RCU readers) no longer sees it.
            drop(unsafe { KBox::from_raw(p) });
        }
        // Values retired by dropping free themselves in RCU callbacks (module code).
        rcu::barrier();
    }
}
