// SPDX-License-Identifier: GPL-2.0
//! The functions the C glue calls (`vr_rs_*` in vr_glue.h): each turns raw pointers into
//! the safe types above and hands over to `ctl` (netlink) or `dp` (packets).

use crate::kapi::genl::{Dump, Request};
use crate::kapi::global::Entry;
use crate::kapi::netdev::{Cookie, DevId};
use crate::kapi::percpu::PacketCtx;
use crate::kapi::rtnl::Rtnl;
use crate::kapi::skb::Skb;
use crate::kapi::sys;
use core::ptr::NonNull;
use kernel::error::code::EINVAL;
use kernel::ffi::{c_int, c_void};

#[no_mangle]
pub extern "C" fn vr_rs_doit(_skb: *mut sys::SkBuff, info: *mut sys::GenlInfo) -> c_int {
    let Some(info) = NonNull::new(info) else {
        return EINVAL.to_errno();
    };
    // SAFETY: the genetlink core passes a valid genl_info for the duration of doit.
    let req = unsafe { Request::new(info) };
    match crate::ctl::doit(&req) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

#[no_mangle]
pub extern "C" fn vr_rs_dumpit(skb: *mut sys::SkBuff, cb: *mut sys::NetlinkCallback) -> c_int {
    let (Some(skb), Some(cb)) = (NonNull::new(skb), NonNull::new(cb)) else {
        return EINVAL.to_errno();
    };
    // SAFETY: the netlink core passes a valid skb and callback for the duration of dumpit.
    let dump = unsafe { Dump::new(skb, cb) };
    crate::ctl::dumpit(dump)
}

#[no_mangle]
pub extern "C" fn vr_rs_rx(cookie: *mut c_void, skb: *mut sys::SkBuff) -> bool {
    let (Some(cookie), Some(skb)) = (Cookie::from_raw(cookie), NonNull::new(skb)) else {
        return false;
    };
    // SAFETY: rx_handlers run in softirq context with BH disabled.
    let ctx = unsafe { PacketCtx::assume() };
    // SAFETY: the rx_handler owns the skb; consuming it is what returning true reports.
    // If the datapath declines (returns the skb), ownership goes back to the stack.
    let skb = unsafe { Skb::from_raw(skb) };
    match crate::dp::vif_rx(cookie, skb, &ctx) {
        None => true,
        Some(declined) => {
            core::mem::forget(declined);
            false
        }
    }
}

#[no_mangle]
pub extern "C" fn vr_rs_vhost_xmit(cookie: *mut c_void, skb: *mut sys::SkBuff) {
    let Some(skb) = NonNull::new(skb) else { return };
    // SAFETY: ndo_start_xmit runs with BH disabled.
    let ctx = unsafe { PacketCtx::assume() };
    // SAFETY: ndo_start_xmit hands us ownership of the skb.
    let skb = unsafe { Skb::from_raw(skb) };
    match Cookie::from_raw(cookie) {
        Some(cookie) => crate::dp::vhost_xmit(cookie, skb, &ctx),
        None => drop(skb),
    }
}

#[no_mangle]
pub extern "C" fn vr_rs_netdev_unregister(dev: *mut sys::NetDevice) {
    // SAFETY: netdevice notifiers run with the RTNL held, for the whole call.
    // Nothing up this stack holds a token (it starts in the kernel's notifier chain).
    let mut rtnl = unsafe { Rtnl::assume_held() };
    // SAFETY: this is the notifier entry point, running until we return.
    let entry = unsafe { Entry::assume() };
    crate::dp::device_gone(entry, DevId::from_raw(dev), &mut rtnl);
}
