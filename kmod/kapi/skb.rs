// SPDX-License-Identifier: GPL-2.0
//! An owned packet buffer. Dropping it frees the skb as a drop (kfree_skb, visible to drop
//! monitors).

use crate::sys;
use core::ptr::NonNull;

pub struct Skb {
    ptr: NonNull<sys::SkBuff>,
}

// SAFETY: an skb we own may be handed to any CPU.
unsafe impl Send for Skb {}

impl Skb {
    /// # Safety
    /// `ptr` must be a valid skb whose ownership passes to the returned value.
    pub(crate) unsafe fn from_raw(ptr: NonNull<sys::SkBuff>) -> Skb {
        Skb { ptr }
    }

    pub fn len(&self) -> u32 {
        // SAFETY: `ptr` is a valid skb we own.
        unsafe { sys::vrg_skb_len(self.ptr.as_ptr()) }
    }
}

impl Drop for Skb {
    fn drop(&mut self) {
        // SAFETY: we own the skb; freeing it as a drop.
        unsafe { sys::vrg_skb_drop(self.ptr.as_ptr()) };
    }
}
