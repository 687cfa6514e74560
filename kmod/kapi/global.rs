// SPDX-License-Identifier: GPL-2.0
//! The module's one global object (the router), reachable from the C entry points.

use crate::kapi::rcu;
use core::marker::PhantomData;
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::alloc::KBox;

/// Cleanup that must run while the object is still reachable (detaching devices, so
/// that no packet callback can arrive once the object is freed).
pub trait Teardown {
    fn teardown(&self);
}

/// Proof that the caller runs inside one of the module's entry points (a genetlink
/// operation, a packet hook, the netdevice notifier) for all of 'a. The global object is
/// freed only once every entry point is closed (see `Installed::drop`), so a reference
/// that lives no longer than an `Entry` cannot dangle.
#[derive(Clone, Copy)]
pub struct Entry<'a> {
    _life: PhantomData<&'a ()>,
    _not_send: PhantomData<*mut ()>,
}

impl Entry<'_> {
    /// # Safety
    /// The caller runs inside an entry point of the module (or its init) for all of 'a.
    pub(crate) unsafe fn assume<'a>() -> Entry<'a> {
        Entry {
            _life: PhantomData,
            _not_send: PhantomData,
        }
    }
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

    /// The installed object, if any, for as long as the entry point `_entry` runs.
    ///
    /// `Installed::drop` runs after the genetlink family and the notifier are
    /// unregistered (field order of the module struct; both wait for running calls) and
    /// tears the packet hooks down, then waits for a grace period, before it frees the
    /// object: so no entry point still runs when it is freed.
    pub fn get<'a>(&'static self, _entry: Entry<'a>) -> Option<&'a T> {
        let p = self.ptr.load(Ordering::Acquire);
        // SAFETY: non-null only between `install` and the end of `Installed::drop`
        // (type invariant), and the reference lives no longer than an entry point, all
        // of which have ended before that drop frees the object (see above).
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
        let p = self.global.ptr.load(Ordering::Acquire);
        // SAFETY: from `install` (type invariant); only this owner frees it, below.
        if let Some(obj) = unsafe { p.as_ref() } {
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
