// SPDX-License-Identifier: GPL-2.0
//! The datapath core of vrouter.ko, free of any OS: packet parsing and header builders,
//! the per-VRF route tables (longest-prefix match), nexthop resolution, the flow table and
//! the overlay's MPLS label and VXLAN VNI tables.
//!
//! The kernel module compiles these same files (`#[path = "core/src"] mod vrcore { .. }`
//! in kmod/vrouter_mod.rs), so the rules of kernel code hold here: no `std`, no `alloc`
//! (the owner hands in fixed-size tables), no panics (no indexing that can fail, no
//! overflowing arithmetic: the kernel builds with overflow checks), no floats, no
//! `crate::` paths (siblings are reached with `super::`).
#![no_std]
#![forbid(unsafe_code)]

#[cfg(test)]
extern crate std;

pub mod flow;
pub mod nexthop;
pub mod overlay;
pub mod packet;
pub mod route;
pub mod tunnel;

/// The wire contract (enums, limits). The kernel maps this module to its own `uapi`.
#[path = "../../uapi/src/wire.rs"]
#[allow(dead_code)]
pub mod uapi;
