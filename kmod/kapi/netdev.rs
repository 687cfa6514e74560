// SPDX-License-Identifier: GPL-2.0
//! `net_device` handles: a counted reference, lookups in the initial namespace, the
//! rx_handler hook for attached devices and the vhost device the module creates.
//!
//! Devices are told apart from Rust only by a `Cookie` (the vif index plus one); no Rust
//! pointer is ever stored in a device, so a device outliving its vif cannot dangle.

use crate::kapi::rtnl::Rtnl;
use crate::kapi::sys;
use core::ptr::NonNull;
use kernel::error::{code::*, Error, Result};
use kernel::ffi::c_void;
use kernel::str::CStr;

/// What the module stores in a device to find its vif again (never zero).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Cookie(usize);

impl Cookie {
    pub fn from_index(idx: u32) -> Cookie {
        Cookie(idx as usize + 1)
    }
    pub fn index(self) -> u32 {
        (self.0 - 1) as u32
    }
    pub(crate) fn from_raw(p: *mut c_void) -> Option<Cookie> {
        let v = p as usize;
        if v == 0 {
            None
        } else {
            Some(Cookie(v))
        }
    }
    fn as_raw(self) -> *mut c_void {
        self.0 as *mut c_void
    }
}

/// Identity of a device, for comparison only (never dereferenced).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct DevId(*const sys::NetDevice);

impl DevId {
    pub(crate) fn from_raw(p: *const sys::NetDevice) -> DevId {
        DevId(p)
    }
}

/// A counted reference to a net_device (dev_hold / dev_put).
///
/// # Invariants
/// `ptr` is a net_device on which this value holds one reference, released by `Drop`; so
/// the device's memory stays valid (though it may be unregistered) while it lives.
pub struct DevRef {
    ptr: NonNull<sys::NetDevice>,
}

// SAFETY: a held net_device reference may be used and released from any context.
unsafe impl Send for DevRef {}
// SAFETY: the accessors only read fields the kernel keeps valid for a held device.
unsafe impl Sync for DevRef {}

impl DevRef {
    fn from_held(ptr: *mut sys::NetDevice) -> Option<DevRef> {
        NonNull::new(ptr).map(|ptr| DevRef { ptr })
    }

    pub fn by_name(name: &CStr) -> Option<DevRef> {
        // SAFETY: `name` is NUL-terminated; dev_get_by_name returns a held device or NULL.
        Self::from_held(unsafe { sys::vrg_dev_get_by_name(name.as_char_ptr()) })
    }

    pub fn by_index(ifindex: i32) -> Option<DevRef> {
        // SAFETY: dev_get_by_index returns a held device or NULL.
        Self::from_held(unsafe { sys::vrg_dev_get_by_index(ifindex) })
    }

    pub fn ifindex(&self) -> i32 {
        // SAFETY: the device is held.
        unsafe { sys::vrg_dev_ifindex(self.ptr.as_ptr()) }
    }

    /// Copies the interface name (it can change under rename).
    pub fn name(&self) -> [u8; 16] {
        let mut out = [0u8; 16];
        // SAFETY: the device is held; dev->name is a NUL-terminated IFNAMSIZ array.
        let name = unsafe { CStr::from_char_ptr(sys::vrg_dev_name(self.ptr.as_ptr())) };
        for (o, b) in out.iter_mut().zip(name.as_bytes().iter().take(15)) {
            *o = *b;
        }
        out
    }

    pub fn mac(&self) -> [u8; 6] {
        let mut mac = [0u8; 6];
        // SAFETY: the device is held and `vrg_dev_is_ether` devices have 6-byte addresses;
        // non-Ethernet devices are refused before this is called, and dev_addr always has
        // at least MAX_ADDR_LEN (32) bytes.
        let addr = unsafe { core::slice::from_raw_parts(sys::vrg_dev_addr(self.ptr.as_ptr()), 6) };
        mac.copy_from_slice(addr);
        mac
    }

    pub fn mtu(&self) -> u32 {
        // SAFETY: the device is held.
        unsafe { sys::vrg_dev_mtu(self.ptr.as_ptr()) }
    }

    pub fn is_ether(&self) -> bool {
        // SAFETY: the device is held.
        unsafe { sys::vrg_dev_is_ether(self.ptr.as_ptr()) }
    }

    pub fn has_rx_handler(&self) -> bool {
        // SAFETY: the device is held.
        unsafe { sys::vrg_dev_has_rx_handler(self.ptr.as_ptr()) }
    }

    pub(crate) fn as_ptr(&self) -> *mut sys::NetDevice {
        self.ptr.as_ptr()
    }

    pub fn id(&self) -> DevId {
        DevId(self.ptr.as_ptr())
    }

    /// Hooks the device's receive path to the datapath; packets arrive at
    /// `entry::vr_rs_rx` with `cookie`.
    pub fn attach_rx(&self, cookie: Cookie, _rtnl: &Rtnl) -> Result {
        // SAFETY: RTNL is held (`_rtnl`); the device is held; the cookie is an integer.
        let rc = unsafe { sys::vrg_rx_handler_register(self.ptr.as_ptr(), cookie.as_raw()) };
        if rc < 0 {
            Err(Error::from_errno(rc))
        } else {
            Ok(())
        }
    }

    /// Unhooks the receive path; returns after in-flight receives have finished.
    pub fn detach_rx(&self, _rtnl: &Rtnl) {
        // SAFETY: RTNL is held; we hold the device. The glue removes the handler only if
        // it is ours, so any device is a valid argument.
        unsafe { sys::vrg_rx_handler_unregister(self.ptr.as_ptr()) };
    }

    /// Creates and registers the vhost device; transmits on it reach `entry::vr_rs_vhost_xmit`.
    pub fn create_vhost(
        name: &CStr,
        mac: &[u8; 6],
        cookie: Cookie,
        _rtnl: &Rtnl,
    ) -> Result<DevRef> {
        let mut err: i32 = 0;
        // SAFETY: RTNL is held; `name` is NUL-terminated; `mac` has 6 bytes.
        let dev = unsafe {
            sys::vrg_vhost_create(name.as_char_ptr(), mac.as_ptr(), cookie.as_raw(), &mut err)
        };
        let dev = NonNull::new(dev).ok_or_else(|| {
            if err < 0 {
                Error::from_errno(err)
            } else {
                ENOMEM
            }
        })?;
        // SAFETY: the device was just registered; we take our own reference.
        unsafe { sys::vrg_dev_hold(dev.as_ptr()) };
        Ok(DevRef { ptr: dev })
    }

    /// Unregisters a vhost device made by `create_vhost`. The device stays allocated
    /// until our reference is dropped; drop it before releasing the RTNL.
    pub fn destroy_vhost(&self, _rtnl: &Rtnl) {
        // SAFETY: RTNL held; we hold the device. The glue unregisters only a registered
        // vhost device of ours, so any device (and a second call) is a valid argument.
        unsafe { sys::vrg_vhost_destroy(self.ptr.as_ptr()) };
    }
}

impl Drop for DevRef {
    fn drop(&mut self) {
        // SAFETY: we hold one reference, released once here.
        unsafe { sys::vrg_dev_put(self.ptr.as_ptr()) };
    }
}

/// The netdevice notifier (NETDEV_UNREGISTER of attached devices reaches
/// `entry::vr_rs_netdev_unregister`); unregistered on drop.
pub struct NotifierRegistration {
    _private: (),
}

impl NotifierRegistration {
    pub fn new() -> Result<NotifierRegistration> {
        // SAFETY: the notifier block is static in the glue; registered once.
        let rc = unsafe { sys::vrg_notifier_register() };
        if rc < 0 {
            return Err(Error::from_errno(rc));
        }
        Ok(NotifierRegistration { _private: () })
    }
}

impl Drop for NotifierRegistration {
    fn drop(&mut self) {
        // SAFETY: registered in `new`.
        unsafe { sys::vrg_notifier_unregister() };
    }
}
