// SPDX-License-Identifier: GPL-2.0
//! Raw FFI: the declarations of `glue/vr_glue.h`, nothing else. A private module of
//! `kapi`, so only `kapi` can use them.
//!
//! Kernel structs are opaque here on purpose: their layout is C's business, reached
//! through the glue's accessors, so the Rust side never depends on bindgen layouts.

use kernel::ffi::{c_char, c_int, c_long, c_void};

macro_rules! opaque {
    ($($name:ident),*) => {$(
        #[repr(C)]
        pub struct $name {
            _data: [u8; 0],
            _marker: core::marker::PhantomData<(*mut u8, core::marker::PhantomPinned)>,
        }
    )*};
}
opaque!(SkBuff, GenlInfo, NetlinkCallback, NlAttr, NetDevice);

/// `struct rcu_head` (`callback_head`): the one kernel struct embedded in Rust values,
/// because `call_rcu` needs it inside the object it frees. Two pointers; the glue
/// checks that size and alignment at build time.
#[repr(C)]
pub struct RcuHead {
    _next: *mut c_void,
    _func: *mut c_void,
}

impl RcuHead {
    pub const fn new() -> Self {
        RcuHead {
            _next: core::ptr::null_mut(),
            _func: core::ptr::null_mut(),
        }
    }
}

/// `struct vrg_tunnel_hdrs` of vr_glue.h (the glue checks its size): the encapsulation
/// (`VRG_TUNNEL_*`) and where the headers lie, from skb->data.
#[repr(C)]
pub struct TunnelHdrs {
    pub kind: u32,
    pub outer_l3: u32,
    pub outer_l4: u32,
    pub inner_mac: u32,
    pub inner_l3: u32,
    pub inner_l4: u32,
}

/// vr_glue.h's encapsulations for `vrg_skb_tunnelled`.
pub const VRG_TUNNEL_VXLAN: u32 = 0;
pub const VRG_TUNNEL_MPLS_UDP: u32 = 1;
pub const VRG_TUNNEL_MPLS_GRE: u32 = 2;
/// vr_glue.h's outcomes of `vrg_skb_tunnelled` (any other: VRG_TUNNEL_INVALID).
pub const VRG_TUNNEL_OK: c_int = 0;
pub const VRG_TUNNEL_TOO_BIG: c_int = 1;
pub const VRG_TUNNEL_NO_MEMORY: c_int = 3;

extern "C" {
    pub fn vrg_param(i: u32) -> u32;

    pub fn vrg_genl_register() -> c_int;
    pub fn vrg_genl_unregister();
    pub fn vrg_info_cmd(info: *const GenlInfo) -> u8;
    pub fn vrg_info_attr(info: *const GenlInfo, ty: c_int) -> *const NlAttr;
    pub fn vrg_info_errmsg(info: *mut GenlInfo, bad: *const NlAttr, msg: *const c_char);
    pub fn vrg_msg_new(payload: usize, atomic: bool) -> *mut SkBuff;
    pub fn vrg_msg_free(skb: *mut SkBuff);
    pub fn vrg_reply_put(skb: *mut SkBuff, info: *mut GenlInfo, cmd: u8) -> *mut c_void;
    pub fn vrg_reply_send(skb: *mut SkBuff, hdr: *mut c_void, info: *mut GenlInfo) -> c_int;
    pub fn vrg_notify_put(skb: *mut SkBuff, cmd: u8) -> *mut c_void;
    pub fn vrg_notify_send(skb: *mut SkBuff, hdr: *mut c_void, group: u32, atomic: bool);
    pub fn vrg_has_listeners(group: u32) -> bool;
    pub fn vrg_dump_put(skb: *mut SkBuff, cb: *mut NetlinkCallback, cmd: u8) -> *mut c_void;
    pub fn vrg_dump_cmd(cb: *mut NetlinkCallback) -> u8;
    pub fn vrg_dump_args(cb: *mut NetlinkCallback) -> *mut c_long;
    pub fn vrg_dump_attr(cb: *mut NetlinkCallback, ty: c_int) -> *const NlAttr;
    pub fn vrg_msg_end(skb: *mut SkBuff, hdr: *mut c_void);
    pub fn vrg_msg_cancel(skb: *mut SkBuff, hdr: *mut c_void);
    pub fn vrg_put(skb: *mut SkBuff, ty: c_int, len: c_int, data: *const c_void) -> c_int;
    pub fn vrg_put_u64(skb: *mut SkBuff, ty: c_int, value: u64, padtype: c_int) -> c_int;
    pub fn vrg_nest_start(skb: *mut SkBuff, ty: c_int) -> *mut NlAttr;
    pub fn vrg_nest_end(skb: *mut SkBuff, nest: *mut NlAttr);
    pub fn vrg_nest_cancel(skb: *mut SkBuff, nest: *mut NlAttr);
    pub fn vrg_skb_len(skb: *const SkBuff) -> u32;
    pub fn vrg_attr_data(attr: *const NlAttr) -> *const c_void;
    pub fn vrg_attr_len(attr: *const NlAttr) -> c_int;

    pub fn vrg_skb_drop(skb: *mut SkBuff);
    pub fn vrg_skb_consume(skb: *mut SkBuff);
    pub fn vrg_skb_writable(skb: *mut SkBuff, len: u32) -> bool;
    pub fn vrg_skb_may_pull(skb: *mut SkBuff, len: u32) -> bool;
    pub fn vrg_skb_data(skb: *const SkBuff) -> *mut u8;
    pub fn vrg_skb_headlen(skb: *const SkBuff) -> u32;
    pub fn vrg_skb_adjust_head(skb: *mut SkBuff, delta: c_int) -> bool;
    pub fn vrg_skb_xmit(skb: *mut SkBuff, dev: *mut NetDevice, l3_offset: u32);
    pub fn vrg_skb_to_host(skb: *mut SkBuff, dev: *mut NetDevice);
    pub fn vrg_skb_alloc(len: u32) -> *mut SkBuff;
    pub fn vrg_skb_dev_is(skb: *const SkBuff, dev: *const NetDevice) -> bool;
    pub fn vrg_skb_csum_partial(skb: *const SkBuff) -> bool;
    pub fn vrg_skb_csum_invalidate(skb: *mut SkBuff);
    pub fn vrg_skb_is_gso(skb: *const SkBuff) -> bool;
    pub fn vrg_skb_segment(skb: *mut SkBuff, l3_offset: u32) -> *mut SkBuff;
    pub fn vrg_skb_decapsulated(skb: *mut SkBuff) -> bool;
    pub fn vrg_skb_ip_output(skb: *mut SkBuff, dev: *mut NetDevice);
    pub fn vrg_skb_is_encapsulated(skb: *const SkBuff) -> bool;
    pub fn vrg_skb_tunnelled(skb: *mut SkBuff, t: *const TunnelHdrs, mtu: u32) -> c_int;
    pub fn vrg_skb_list_pop(list: *mut *mut SkBuff) -> *mut SkBuff;
    pub fn vrg_skb_list_drop(list: *mut SkBuff);
    pub fn vrg_seconds() -> u32;
    pub fn vrg_random_u32() -> u32;
    pub fn vrg_local_bh_disable();
    pub fn vrg_local_bh_enable();
    pub fn vrg_cpu_id() -> u32;
    pub fn vrg_nr_cpu_ids() -> u32;

    pub fn vrg_dev_get_by_name(name: *const c_char) -> *mut NetDevice;
    pub fn vrg_dev_get_by_index(ifindex: c_int) -> *mut NetDevice;
    pub fn vrg_dev_hold(dev: *mut NetDevice);
    pub fn vrg_dev_put(dev: *mut NetDevice);
    pub fn vrg_dev_ifindex(dev: *const NetDevice) -> c_int;
    pub fn vrg_dev_name(dev: *const NetDevice) -> *const c_char;
    pub fn vrg_dev_addr(dev: *const NetDevice) -> *const u8;
    pub fn vrg_dev_mtu(dev: *const NetDevice) -> u32;
    pub fn vrg_dev_is_ether(dev: *const NetDevice) -> bool;
    pub fn vrg_dev_has_rx_handler(dev: *const NetDevice) -> bool;
    pub fn vrg_rx_handler_register(dev: *mut NetDevice, cookie: *mut c_void) -> c_int;
    pub fn vrg_rx_handler_unregister(dev: *mut NetDevice);
    pub fn vrg_vhost_create(
        name: *const c_char,
        mac: *const u8,
        cookie: *mut c_void,
        err: *mut c_int,
    ) -> *mut NetDevice;
    pub fn vrg_vhost_destroy(dev: *mut NetDevice);
    pub fn vrg_rtnl_lock();
    pub fn vrg_rtnl_unlock();
    pub fn vrg_rtnl_is_locked() -> bool;
    pub fn vrg_notifier_register() -> c_int;
    pub fn vrg_notifier_unregister();

    pub fn vrg_rcu_read_lock();
    pub fn vrg_rcu_read_unlock();
    pub fn vrg_synchronize_rcu();
    pub fn vrg_call_rcu(head: *mut RcuHead, func: unsafe extern "C" fn(*mut RcuHead));
    pub fn vrg_rcu_barrier();
    pub fn vrg_flow_bucket_acquire();
    pub fn vrg_flow_bucket_release();

    pub fn vrg_percpu_alloc(size: usize, align: usize) -> *mut c_void;
    pub fn vrg_percpu_free(ptr: *mut c_void);
    pub fn vrg_this_cpu_ptr(ptr: *mut c_void) -> *mut c_void;
    pub fn vrg_per_cpu_ptr(ptr: *mut c_void, cpu: c_int) -> *mut c_void;
    pub fn vrg_next_possible_cpu(prev: c_int) -> c_int;
}
