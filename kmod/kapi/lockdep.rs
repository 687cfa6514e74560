// SPDX-License-Identifier: GPL-2.0
//! Lockdep annotations for the locks the core implements itself: the flow table's bucket
//! locks are atomics, so without these lockdep would not see them (nor a writer that
//! takes one with bottom halves on, which a packet on the same CPU would deadlock).
//! Compiled to nothing without CONFIG_DEBUG_LOCK_ALLOC.

use crate::kapi::sys;

/// A flow bucket lock is about to be taken (call before spinning).
pub fn flow_bucket_acquire() {
    // SAFETY: records the acquire in the static lockdep map; no preconditions.
    unsafe { sys::vrg_flow_bucket_acquire() };
}

/// A flow bucket lock is about to be released.
pub fn flow_bucket_release() {
    // SAFETY: as above; paired with `flow_bucket_acquire` by the core's guard.
    unsafe { sys::vrg_flow_bucket_release() };
}
