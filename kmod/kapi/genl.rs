// SPDX-License-Identifier: GPL-2.0
//! Generic netlink: the family registration, requests (attributes, extack errors),
//! replies and resumable dumps. Attribute types and lengths were already checked by the
//! family's strict policies (generated from uapi/src/wire.rs) before a handler runs;
//! the typed getters here re-check lengths anyway so a policy slip cannot become a
//! bad read.

use crate::kapi::emsgsize;
use crate::kapi::global::Entry;
use crate::kapi::percpu::PacketCtx;
use crate::kapi::sys;
use core::marker::PhantomData;
use core::ptr::NonNull;
use kernel::error::{code::*, Error, Result};
use kernel::ffi::{c_long, c_void};
use kernel::str::CStr;

/// Registers the `vrouter` family; unregistered on drop (which waits for running ops).
pub struct Registration {
    _private: (),
}

impl Registration {
    pub fn new() -> Result<Registration> {
        // SAFETY: called once from module init; the family table is static in the glue.
        let rc = unsafe { sys::vrg_genl_register() };
        if rc < 0 {
            return Err(Error::from_errno(rc));
        }
        Ok(Registration { _private: () })
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // SAFETY: registered in `new`; genl_unregister_family waits for in-flight ops.
        unsafe { sys::vrg_genl_unregister() };
    }
}

/// One attribute of a request.
///
/// # Invariants
/// `ptr` is a non-null attribute inside the request message, which outlives 'a, and its
/// length was checked against the family's policy before the handler ran.
#[derive(Clone, Copy)]
pub struct Attr<'a> {
    ptr: *const sys::NlAttr,
    _life: PhantomData<&'a sys::NlAttr>,
}

impl<'a> Attr<'a> {
    fn new(ptr: *const sys::NlAttr) -> Option<Attr<'a>> {
        if ptr.is_null() {
            None
        } else {
            Some(Attr {
                ptr,
                _life: PhantomData,
            })
        }
    }

    pub fn bytes(&self) -> &'a [u8] {
        // SAFETY: the attribute was validated by the netlink core: its header and
        // `nla_len` bytes of payload lie inside the request message, which outlives 'a.
        unsafe {
            let len = sys::vrg_attr_len(self.ptr).max(0) as usize;
            core::slice::from_raw_parts(sys::vrg_attr_data(self.ptr).cast::<u8>(), len)
        }
    }

    pub fn u32(&self) -> Result<u32> {
        let b: [u8; 4] = self.bytes().try_into().map_err(|_| EINVAL)?;
        Ok(u32::from_ne_bytes(b))
    }

    /// A packed array of host-order u32 values (length must be a multiple of 4).
    pub fn u32_array(&self) -> Result<impl Iterator<Item = u32> + 'a> {
        let b = self.bytes();
        if b.len() % 4 != 0 {
            return Err(EINVAL);
        }
        let mut at = 0;
        Ok(core::iter::from_fn(move || {
            let v = b.get(at..at + 4)?;
            at += 4;
            <[u8; 4]>::try_from(v).ok().map(u32::from_ne_bytes)
        }))
    }

    pub fn array<const N: usize>(&self) -> Result<[u8; N]> {
        self.bytes().try_into().map_err(|_| EINVAL)
    }

    /// A NUL-terminated string attribute, without its NUL.
    pub fn str_bytes(&self) -> Result<&'a [u8]> {
        let b = self.bytes();
        let end = b.iter().position(|&c| c == 0).ok_or(EINVAL)?;
        Ok(&b[..end])
    }

    /// The attribute as a C string (policy NLA_NUL_STRING guarantees the NUL).
    pub fn c_str(&self) -> Result<&'a CStr> {
        let b = self.bytes();
        let end = b.iter().position(|&c| c == 0).ok_or(EINVAL)?;
        CStr::from_bytes_with_nul(&b[..=end]).map_err(|_| EINVAL)
    }

    fn raw(&self) -> *const sys::NlAttr {
        self.ptr
    }
}

/// A doit request.
///
/// # Invariants
/// `info` is the genl_info of the doit call that is running for 'a.
pub struct Request<'a> {
    info: NonNull<sys::GenlInfo>,
    _life: PhantomData<&'a mut sys::GenlInfo>,
}

impl<'a> Request<'a> {
    /// This doit call, as the entry point that reaches the module's global object.
    pub fn entry(&self) -> Entry<'a> {
        // SAFETY: a Request exists only inside its doit call, which runs for 'a (type
        // invariant).
        unsafe { Entry::assume() }
    }

    /// # Safety
    /// `info` must be the genl_info of the doit call that runs for 'a.
    pub(crate) unsafe fn new(info: NonNull<sys::GenlInfo>) -> Request<'a> {
        Request {
            info,
            _life: PhantomData,
        }
    }

    pub fn cmd(&self) -> u8 {
        // SAFETY: `info` is valid for the call.
        unsafe { sys::vrg_info_cmd(self.info.as_ptr()) }
    }

    pub fn attr(&self, id: u16) -> Option<Attr<'a>> {
        // SAFETY: `info` is valid; the glue bounds `id` by the op's maxattr.
        Attr::new(unsafe { sys::vrg_info_attr(self.info.as_ptr(), id as i32) })
    }

    /// Records `msg` (and the offending attribute, if any) in the extended ACK and
    /// returns `err` for the handler to propagate.
    pub fn fail(&self, err: Error, bad: Option<Attr<'_>>, msg: &'static CStr) -> Error {
        let bad = bad.map_or(core::ptr::null(), |a| a.raw());
        // SAFETY: `info` is valid; `msg` is 'static as extack keeps only the pointer.
        unsafe { sys::vrg_info_errmsg(self.info.as_ptr(), bad, msg.as_char_ptr()) };
        err
    }

    /// Like `fail` for a missing attribute.
    pub fn missing(&self, msg: &'static CStr) -> Error {
        self.fail(EINVAL, None, msg)
    }

    /// A reply to this request carrying command `cmd`.
    pub fn reply(&self, cmd: u8, payload: usize) -> Result<Reply<'a>> {
        let mut msg = Msg::alloc(payload, false)?;
        // SAFETY: `msg.skb` is a fresh message skb; `info` is valid.
        let hdr = unsafe { sys::vrg_reply_put(msg.skb.as_ptr(), self.info.as_ptr(), cmd) };
        if hdr.is_null() {
            return Err(emsgsize());
        }
        msg.hdr = hdr;
        Ok(Reply {
            msg,
            info: self.info,
            _life: PhantomData,
        })
    }
}

/// Attribute writer over a message under construction.
///
/// # Invariants
/// `skb` is a netlink message skb, owned by this value while `owned` (freed on drop), and
/// `hdr` is the genl header put in it (or null before one is).
pub struct Msg {
    skb: NonNull<sys::SkBuff>,
    hdr: *mut c_void,
    owned: bool,
}

impl Msg {
    fn alloc(payload: usize, atomic: bool) -> Result<Msg> {
        // SAFETY: plain allocation; GFP_ATOMIC when `atomic` (the packet path).
        let skb = NonNull::new(unsafe { sys::vrg_msg_new(payload, atomic) }).ok_or(ENOMEM)?;
        Ok(Msg {
            skb,
            hdr: core::ptr::null_mut(),
            owned: true,
        })
    }

    fn put_raw(&mut self, id: u16, data: &[u8]) -> Result {
        let len = i32::try_from(data.len()).map_err(|_| EINVAL)?;
        // SAFETY: `skb` is a message under construction; `data` is valid for `len` bytes.
        let rc = unsafe { sys::vrg_put(self.skb.as_ptr(), id as i32, len, data.as_ptr().cast()) };
        if rc < 0 {
            Err(emsgsize())
        } else {
            Ok(())
        }
    }

    pub fn put_u32(&mut self, id: u16, v: u32) -> Result {
        self.put_raw(id, &v.to_ne_bytes())
    }

    pub fn put_u64(&mut self, id: u16, v: u64, pad: u16) -> Result {
        // SAFETY: as in `put_raw`.
        let rc = unsafe { sys::vrg_put_u64(self.skb.as_ptr(), id as i32, v, pad as i32) };
        if rc < 0 {
            Err(emsgsize())
        } else {
            Ok(())
        }
    }

    pub fn put_bytes(&mut self, id: u16, v: &[u8]) -> Result {
        self.put_raw(id, v)
    }

    /// A string attribute: `v` up to its first NUL, then one NUL.
    pub fn put_str(&mut self, id: u16, v: &[u8]) -> Result {
        let end = v.iter().position(|&c| c == 0).unwrap_or(v.len());
        let mut buf = [0u8; 64];
        let s = v.get(..end).filter(|s| s.len() < buf.len()).ok_or(EINVAL)?;
        buf[..s.len()].copy_from_slice(s);
        self.put_raw(id, &buf[..=s.len()])
    }

    /// A nested attribute filled by `f`; cancelled if `f` fails.
    pub fn nest(&mut self, id: u16, f: impl FnOnce(&mut Msg) -> Result) -> Result {
        // SAFETY: as in `put_raw`.
        let nest = unsafe { sys::vrg_nest_start(self.skb.as_ptr(), id as i32) };
        if nest.is_null() {
            return Err(emsgsize());
        }
        match f(self) {
            Ok(()) => {
                // SAFETY: `nest` was started on this skb and is the innermost open nest.
                unsafe { sys::vrg_nest_end(self.skb.as_ptr(), nest) };
                Ok(())
            }
            Err(e) => {
                // SAFETY: as above.
                unsafe { sys::vrg_nest_cancel(self.skb.as_ptr(), nest) };
                Err(e)
            }
        }
    }
}

impl Drop for Msg {
    fn drop(&mut self) {
        if self.owned {
            // SAFETY: we still own the message skb (it was never sent).
            unsafe { sys::vrg_msg_free(self.skb.as_ptr()) };
        }
    }
}

/// A reply under construction; freed if dropped unsent.
///
/// # Invariants
/// `info` is the genl_info of the doit call running for 'a (the reply's destination).
pub struct Reply<'a> {
    msg: Msg,
    info: NonNull<sys::GenlInfo>,
    _life: PhantomData<&'a mut sys::GenlInfo>,
}

impl Reply<'_> {
    pub fn msg(&mut self) -> &mut Msg {
        &mut self.msg
    }

    /// Sends the reply to a request whose change is already made. A reply that cannot be
    /// delivered is logged, not returned: the change stands, and an error would tell the
    /// requester that it did not happen.
    pub fn send_after_change(self) -> Result {
        if let Err(e) = self.send() {
            kernel::pr_warn!("reply to a completed change lost: {:?}\n", e);
        }
        Ok(())
    }

    pub fn send(mut self) -> Result {
        self.msg.owned = false;
        // SAFETY: the skb holds one finished genl message; genlmsg_reply takes ownership.
        let rc =
            unsafe { sys::vrg_reply_send(self.msg.skb.as_ptr(), self.msg.hdr, self.info.as_ptr()) };
        if rc < 0 {
            Err(Error::from_errno(rc))
        } else {
            Ok(())
        }
    }
}

/// A multicast notification under construction; freed if dropped unsent.
pub struct Notification {
    msg: Msg,
    group: u32,
    atomic: bool,
}

/// Whether anyone listens on `group`.
pub fn has_listeners(group: u32) -> bool {
    // SAFETY: reads the family's listener state; no preconditions.
    unsafe { sys::vrg_has_listeners(group) }
}

impl Notification {
    /// None when nobody listens on `group` (nothing to build) or without memory.
    pub fn new(group: u32, cmd: u8, payload: usize) -> Option<Notification> {
        Self::build(group, cmd, payload, false)
    }

    /// Like `new`, from the packet path: allocates without sleeping.
    pub fn from_packet_path(
        group: u32,
        cmd: u8,
        payload: usize,
        _ctx: &PacketCtx,
    ) -> Option<Notification> {
        Self::build(group, cmd, payload, true)
    }

    fn build(group: u32, cmd: u8, payload: usize, atomic: bool) -> Option<Notification> {
        if !has_listeners(group) {
            return None;
        }
        let mut msg = Msg::alloc(payload, atomic).ok()?;
        // SAFETY: `msg.skb` is a fresh message skb.
        let hdr = unsafe { sys::vrg_notify_put(msg.skb.as_ptr(), cmd) };
        if hdr.is_null() {
            return None;
        }
        msg.hdr = hdr;
        Some(Notification { msg, group, atomic })
    }

    pub fn msg(&mut self) -> &mut Msg {
        &mut self.msg
    }

    pub fn send(mut self) {
        self.msg.owned = false;
        // SAFETY: the skb holds one finished genl message; genlmsg_multicast takes it.
        unsafe {
            sys::vrg_notify_send(self.msg.skb.as_ptr(), self.msg.hdr, self.group, self.atomic)
        };
    }
}

/// A dump in progress: one call fills one skb; `cursor` persists between calls.
///
/// # Invariants
/// `skb` and `cb` are the dump call's message and callback, valid for 'a.
pub struct Dump<'a> {
    skb: NonNull<sys::SkBuff>,
    cb: NonNull<sys::NetlinkCallback>,
    written: bool,
    _life: PhantomData<&'a mut sys::NetlinkCallback>,
}

impl<'a> Dump<'a> {
    /// This dump call, as the entry point that reaches the module's global object.
    pub fn entry(&self) -> Entry<'a> {
        // SAFETY: a Dump exists only inside its dumpit call, which runs for 'a (type
        // invariant).
        unsafe { Entry::assume() }
    }

    /// # Safety
    /// `skb` and `cb` must be the arguments of the dumpit call that runs for 'a.
    pub(crate) unsafe fn new(
        skb: NonNull<sys::SkBuff>,
        cb: NonNull<sys::NetlinkCallback>,
    ) -> Dump<'a> {
        Dump {
            skb,
            cb,
            written: false,
            _life: PhantomData,
        }
    }

    pub fn cmd(&self) -> u8 {
        // SAFETY: `cb` is valid for the call.
        unsafe { sys::vrg_dump_cmd(self.cb.as_ptr()) }
    }

    pub fn attr(&self, id: u16) -> Option<Attr<'a>> {
        // SAFETY: `cb` is valid; the glue bounds `id` by the op's maxattr.
        Attr::new(unsafe { sys::vrg_dump_attr(self.cb.as_ptr(), id as i32) })
    }

    /// The resumable cursor (netlink_callback::args[0]).
    pub fn cursor(&mut self) -> &mut c_long {
        // SAFETY: `cb->args` is an array of 6 longs owned by the dump for its whole life;
        // `&mut self` makes this the only reference.
        unsafe { &mut *sys::vrg_dump_args(self.cb.as_ptr()) }
    }

    /// Writes one record. Ok(false) when the skb is full (the record is rolled back and
    /// the caller should stop and resume at the same position next time).
    pub fn record(&mut self, cmd: u8, f: impl FnOnce(&mut Msg) -> Result) -> Result<bool> {
        // SAFETY: `skb`/`cb` are valid for the call.
        let hdr = unsafe { sys::vrg_dump_put(self.skb.as_ptr(), self.cb.as_ptr(), cmd) };
        if hdr.is_null() {
            return self.full();
        }
        let mut msg = Msg {
            skb: self.skb,
            hdr,
            owned: false,
        };
        match f(&mut msg) {
            Ok(()) => {
                // SAFETY: `hdr` was put on this skb just above.
                unsafe { sys::vrg_msg_end(self.skb.as_ptr(), hdr) };
                self.written = true;
                Ok(true)
            }
            Err(e) => {
                // SAFETY: as above; removes the partial record.
                unsafe { sys::vrg_msg_cancel(self.skb.as_ptr(), hdr) };
                if e == emsgsize() {
                    self.full()
                } else {
                    Err(e)
                }
            }
        }
    }

    fn full(&self) -> Result<bool> {
        // A record that does not fit an empty skb never will.
        if self.written {
            Ok(false)
        } else {
            Err(emsgsize())
        }
    }

    /// The value dumpit returns: the skb length while records are coming, 0 at the end.
    pub fn finish(self, done: bool) -> i32 {
        if done && !self.written {
            return 0;
        }
        // SAFETY: `skb` is valid for the call.
        unsafe { sys::vrg_skb_len(self.skb.as_ptr()) as i32 }
    }
}
