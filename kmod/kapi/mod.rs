// SPDX-License-Identifier: GPL-2.0
//! Safe wrappers over the FFI layer (`crate::sys`). Every `unsafe` block of the module
//! lives here, each with its `// SAFETY:` argument; `dp` and `ctl` above are safe Rust.

pub mod entry;
pub mod genl;
pub mod global;
pub mod netdev;
pub mod params;
pub mod parking;
pub mod percpu;
pub mod rcu;
pub mod rtnl;
pub mod skb;

use kernel::error::Error;

/// Errno values the 6.12 `kernel::error::code` table lacks.
pub fn emsgsize() -> Error {
    Error::from_errno(-(kernel::bindings::EMSGSIZE as i32))
}

pub fn eopnotsupp() -> Error {
    Error::from_errno(-(kernel::bindings::EOPNOTSUPP as i32))
}
