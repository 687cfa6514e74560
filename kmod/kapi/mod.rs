// SPDX-License-Identifier: GPL-2.0
//! Safe wrappers over the FFI layer (`sys`, private to this module: the compiler keeps
//! raw bindings out of `dp` and `ctl`). Every `unsafe` block of the module lives here,
//! each with its `// SAFETY:` argument; `dp` and `ctl` above are safe Rust.

pub mod entry;
pub mod genl;
pub mod global;
pub mod lockdep;
pub mod netdev;
pub mod params;
pub mod parking;
pub mod percpu;
pub mod rcu;
pub mod rtnl;
pub mod skb;
mod sys;

use kernel::alloc::{flags::GFP_KERNEL, KVVec};
use kernel::error::{Error, Result};

/// A table of `n` values made by `f`, allocated at once (GFP_KERNEL, so process context
/// only): ENOMEM when the memory is not there, never a panic.
pub fn kvvec_from_fn<T>(n: usize, mut f: impl FnMut() -> T) -> Result<KVVec<T>> {
    let mut v = KVVec::with_capacity(n, GFP_KERNEL)?;
    for _ in 0..n {
        v.push(f(), GFP_KERNEL)?;
    }
    Ok(v)
}

/// Errno values the 6.12 `kernel::error::code` table lacks.
pub fn emsgsize() -> Error {
    Error::from_errno(-(kernel::bindings::EMSGSIZE as i32))
}
