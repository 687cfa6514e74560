// SPDX-License-Identifier: GPL-2.0
//! An owned packet buffer. Dropping it frees the skb as a drop (kfree_skb, visible to drop
//! monitors); sending it (`xmit`, `to_host`) passes ownership to the stack.

use crate::kapi::netdev::DevRef;
use crate::kapi::sys;
use core::ptr::NonNull;

/// # Invariants
/// `ptr` is a valid skb owned by this value alone: nothing else frees or sends it until
/// `into_raw` gives the ownership away.
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

    /// A new linear packet of `len` bytes (zeroed), or None without memory.
    pub fn alloc(len: u32) -> Option<Skb> {
        // SAFETY: GFP_ATOMIC allocation, callable from the packet path.
        let ptr = NonNull::new(unsafe { sys::vrg_skb_alloc(len) })?;
        let mut skb = Skb { ptr };
        skb.head_mut(len)?.fill(0);
        Some(skb)
    }

    pub(crate) fn into_raw(self) -> *mut sys::SkBuff {
        let p = self.ptr.as_ptr();
        core::mem::forget(self);
        p
    }

    pub fn len(&self) -> u32 {
        // SAFETY: `ptr` is a valid skb we own.
        unsafe { sys::vrg_skb_len(self.ptr.as_ptr()) }
    }

    /// The first `len` bytes (at most the packet length), made linear and private to us.
    pub fn head_mut(&mut self, len: u32) -> Option<&mut [u8]> {
        let len = len.min(self.len());
        // SAFETY: we own the skb; skb_ensure_writable makes `len` bytes at `data` linear
        // and unshared (or fails).
        if !unsafe { sys::vrg_skb_writable(self.ptr.as_ptr(), len) } {
            return None;
        }
        // SAFETY: the first `len` bytes at skb->data are linear and writable (above) and
        // stay valid while we hold `&mut self` (nothing else touches the skb).
        unsafe {
            let headlen = sys::vrg_skb_headlen(self.ptr.as_ptr());
            if headlen < len {
                return None;
            }
            Some(core::slice::from_raw_parts_mut(
                sys::vrg_skb_data(self.ptr.as_ptr()),
                len as usize,
            ))
        }
    }

    /// The first `len` bytes (at most the packet length), made linear for reading. Unlike
    /// `head_mut` it never copies a shared packet: for looking at frames that may be
    /// passed on untouched.
    pub fn head(&mut self, len: u32) -> Option<&[u8]> {
        let len = len.min(self.len());
        // SAFETY: we own the skb; pskb_may_pull makes `len` bytes at `data` linear (or
        // fails).
        if !unsafe { sys::vrg_skb_may_pull(self.ptr.as_ptr(), len) } {
            return None;
        }
        // SAFETY: the first `len` bytes at skb->data are linear (above) and stay valid
        // while the returned borrow of `self` lives (nothing else changes the skb); they
        // are only read, so a clone sharing them is not disturbed.
        unsafe {
            if sys::vrg_skb_headlen(self.ptr.as_ptr()) < len {
                return None;
            }
            Some(core::slice::from_raw_parts(
                sys::vrg_skb_data(self.ptr.as_ptr()),
                len as usize,
            ))
        }
    }

    /// Adds `delta` bytes of headroom to the front (delta > 0) or strips -delta bytes.
    pub fn adjust_head(&mut self, delta: i32) -> bool {
        // SAFETY: we own the skb; the glue checks headroom and length.
        unsafe { sys::vrg_skb_adjust_head(self.ptr.as_ptr(), delta) }
    }

    /// Whether the packet's device (skb->dev) is `dev`. Compares pointers only, so it is
    /// sound for a packet whose device went away while it waited.
    pub fn dev_is(&self, dev: &DevRef) -> bool {
        // SAFETY: `ptr` is a valid skb we own; skb->dev is read, never dereferenced.
        unsafe { sys::vrg_skb_dev_is(self.ptr.as_ptr(), dev.as_ptr()) }
    }

    /// Whether the L4 checksum is left to offload (CHECKSUM_PARTIAL).
    pub fn csum_partial(&self) -> bool {
        // SAFETY: `ptr` is a valid skb we own.
        unsafe { sys::vrg_skb_csum_partial(self.ptr.as_ptr()) }
    }

    /// Drops a receive checksum (CHECKSUM_COMPLETE) before headers are rewritten.
    pub fn csum_invalidate(&mut self) {
        // SAFETY: `ptr` is a valid skb we own.
        unsafe { sys::vrg_skb_csum_invalidate(self.ptr.as_ptr()) }
    }

    /// Whether this is a GSO super-packet (more than one frame's worth on the wire).
    pub fn is_gso(&self) -> bool {
        // SAFETY: `ptr` is a valid skb we own.
        unsafe { sys::vrg_skb_is_gso(self.ptr.as_ptr()) }
    }

    /// Cuts a GSO super-packet into whole frames in software, checksums filled in; the
    /// frame's Ethernet header is at the start and its network header at `l3_offset`.
    /// When it cannot (not GSO, a bad offset, no memory) the packet comes back as it was.
    pub fn segment(self, l3_offset: u32) -> Result<Segments, Skb> {
        let ptr = self.ptr;
        let raw = self.into_raw();
        // SAFETY: we own `raw`; the glue checks the packet and the offset, and either
        // frees it and returns the list of segments (ours now), or returns NULL and
        // leaves it to us.
        let segs = unsafe { sys::vrg_skb_segment(raw, l3_offset) };
        if segs.is_null() {
            // The glue gave the packet back untouched: ownership returns to a `Skb`.
            return Err(Skb { ptr });
        }
        Ok(Segments { head: segs })
    }

    /// After a tunnel's outer headers came off: the packet is no longer encapsulated
    /// (offload state and GSO type say so). False, with nothing changed, when a GSO
    /// packet's shared state cannot be made private.
    pub fn decapsulated(&mut self) -> bool {
        // SAFETY: `ptr` is a valid skb we own.
        unsafe { sys::vrg_skb_decapsulated(self.ptr.as_ptr()) }
    }

    /// Whether the packet carries a tunnel's offload state already (a pod's own tunnel):
    /// a GSO packet then cannot get another level of offloaded tunnel.
    pub fn is_encapsulated(&self) -> bool {
        // SAFETY: `ptr` is a valid skb we own.
        unsafe { sys::vrg_skb_is_encapsulated(self.ptr.as_ptr()) }
    }

    /// After a tunnel's outer headers went on (`hdrs`): marks the packet for the offloads
    /// of the kernel's tunnels, so that a GSO packet leaves whole and is cut late (by the
    /// device or in software at it) and an inner checksum left to offload stays so; then
    /// checks that each frame on the wire fits `mtu` (its outer IPv4 packet). A GSO
    /// packet the kernel cannot segment as a tunnel packet (MPLS, or already
    /// encapsulated) is refused: cut it first (`segment`).
    pub fn tunnelled(&mut self, hdrs: &TunnelHeaders, mtu: u32) -> Result<(), TunnelError> {
        let raw = sys::TunnelHdrs {
            kind: match hdrs.kind {
                TunnelKind::Vxlan => sys::VRG_TUNNEL_VXLAN,
                TunnelKind::MplsOverUdp => sys::VRG_TUNNEL_MPLS_UDP,
                TunnelKind::MplsOverGre => sys::VRG_TUNNEL_MPLS_GRE,
            },
            outer_l3: hdrs.outer_l3,
            outer_l4: hdrs.outer_l4,
            inner_mac: hdrs.inner_mac,
            inner_l3: hdrs.inner_l3,
            inner_l4: hdrs.inner_l4,
        };
        // SAFETY: `ptr` is a valid skb we own; `raw` lives across the call; the glue
        // checks every offset against the skb before it uses one.
        match unsafe { sys::vrg_skb_tunnelled(self.ptr.as_ptr(), &raw, mtu) } {
            sys::VRG_TUNNEL_OK => Ok(()),
            sys::VRG_TUNNEL_TOO_BIG => Err(TunnelError::TooBig),
            sys::VRG_TUNNEL_NO_MEMORY => Err(TunnelError::NoMemory),
            // VRG_TUNNEL_INVALID
            _ => Err(TunnelError::Invalid),
        }
    }

    /// Frees a packet that was used up, not dropped (it does not show as a drop).
    pub fn consume(self) {
        // SAFETY: we own the skb and give it up here.
        unsafe { sys::vrg_skb_consume(self.into_raw()) }
    }

    /// Transmits the frame (skb data at the Ethernet header, network header at
    /// `l3_offset`) on `dev`. The glue drops a frame whose `l3_offset` is not at least 2
    /// and within the linear data (it reads the EtherType just before it).
    pub fn xmit(self, dev: &DevRef, l3_offset: u32) {
        let dev = dev.as_ptr();
        // SAFETY: we pass our ownership to the glue, which checks `l3_offset` against the
        // skb and then hands it to dev_queue_xmit (or frees it); `dev` is held by the
        // `DevRef` borrowed for the whole call.
        unsafe { sys::vrg_skb_xmit(self.into_raw(), dev, l3_offset) }
    }

    /// Sends an IPv4 packet (data at its IPv4 header) by the host's routing in `dev`'s
    /// network namespace: route, neighbour, netfilter OUTPUT. A source address that is
    /// not the host's, or no route, drops it.
    pub fn ip_output(self, dev: &DevRef) {
        let dev = dev.as_ptr();
        // SAFETY: we pass our ownership to the glue, which checks the header is there and
        // sends or frees the packet; `dev` is held by the `DevRef` borrowed for the call.
        unsafe { sys::vrg_skb_ip_output(self.into_raw(), dev) }
    }

    /// Delivers the frame to the host stack as received on `dev`. Only the vhost device
    /// takes frames this way: for any other device, or a frame shorter than an Ethernet
    /// header, the glue drops it.
    pub fn to_host(self, dev: &DevRef) {
        let dev = dev.as_ptr();
        // SAFETY: as in `xmit`; the glue checks the device and the header, then netif_rx
        // takes ownership (or the glue frees it).
        unsafe { sys::vrg_skb_to_host(self.into_raw(), dev) }
    }
}

impl Drop for Skb {
    fn drop(&mut self) {
        // SAFETY: we own the skb; freeing it as a drop.
        unsafe { sys::vrg_skb_drop(self.ptr.as_ptr()) };
    }
}

/// A tunnel's encapsulation, as far as offloads care.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TunnelKind {
    /// VXLAN: UDP, an Ethernet frame inside (ETH_P_TEB).
    Vxlan,
    /// MPLS over UDP: an MPLS label stack inside.
    MplsOverUdp,
    /// MPLS over GRE.
    MplsOverGre,
}

/// Where a tunnel packet's headers lie, in bytes from the start of the packet (the
/// outer L2 header, or the outer IPv4 header when there is none).
#[derive(Clone, Copy, Debug)]
pub struct TunnelHeaders {
    pub kind: TunnelKind,
    /// The outer IPv4 header.
    pub outer_l3: u32,
    /// The outer UDP or GRE header.
    pub outer_l4: u32,
    /// What the tunnel carries: VXLAN's inner Ethernet header, the MPLS label.
    pub inner_mac: u32,
    /// The inner IP header.
    pub inner_l3: u32,
    /// The inner transport header (the inner IP header's offset when there is none).
    pub inner_l4: u32,
}

/// Why [`Skb::tunnelled`] refused a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TunnelError {
    /// A frame on the wire would exceed the MTU.
    TooBig,
    /// The offsets do not describe the packet, or its GSO cannot be done late.
    Invalid,
    /// A GSO packet's shared state could not be made private.
    NoMemory,
}

/// The frames a GSO packet was cut into, handed out one at a time; those not taken are
/// freed as drops with the list.
///
/// # Invariants
/// `head` is null or the first of a NULL-terminated list of skbs owned by this value alone.
pub struct Segments {
    head: *mut sys::SkBuff,
}

impl Iterator for Segments {
    type Item = Skb;

    fn next(&mut self) -> Option<Skb> {
        // SAFETY: `head` is null or a list we own (type invariant); the glue unlinks the
        // first skb, whose ownership passes to the returned `Skb`, and moves `head` on.
        let skb = unsafe { sys::vrg_skb_list_pop(&mut self.head) };
        // SAFETY: a non-null skb just taken off our list is ours alone.
        NonNull::new(skb).map(|ptr| unsafe { Skb::from_raw(ptr) })
    }
}

impl Drop for Segments {
    fn drop(&mut self) {
        // SAFETY: `head` is null or a list we own (type invariant); nothing uses it after.
        unsafe { sys::vrg_skb_list_drop(self.head) };
    }
}

// SAFETY: the segments are skbs we own, which may be handed to any CPU (as `Skb`).
unsafe impl Send for Segments {}
