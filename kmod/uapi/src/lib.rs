//! The wire contract of the `vrouter` generic netlink family, for userspace.
//!
//! The definitions live in `wire.rs`, which the kernel module compiles too; this crate
//! only re-exports them and adds the generators for the C header and the YNL spec.
#![no_std]

extern crate alloc;

#[path = "wire.rs"]
mod wire;
pub use wire::*;

pub mod gen;
