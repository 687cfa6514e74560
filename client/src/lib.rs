//! Typed client for the `vrouter` generic netlink family.
//!
//! Synchronous on purpose: vrctl and the CNI plugin are short-lived processes where a
//! blocking socket is the fastest path. Message types come from netlink-packet-core /
//! netlink-packet-generic; attribute numbers from `vrouter-uapi` (the same file the kernel
//! module compiles).

mod error;
mod message;
mod socket;
pub mod vif;

pub use error::{Error, Result};
pub use message::{Attrs, VrMessage};
pub use socket::Client;
pub use vif::{Vif, VifAdd, VifCounters, VifSelector};
