//! Typed client for the `vrouter` generic netlink family.
//!
//! Synchronous on purpose: vrctl and the CNI plugin are short-lived processes where a
//! blocking socket is the fastest path. Message types come from netlink-packet-core /
//! netlink-packet-generic; attribute numbers from `vrouter-uapi` (the same file the kernel
//! module compiles). Each object (vif, nexthop, route, flow, counters) has one module that
//! encodes its requests and decodes its replies.

mod batch;
pub mod decap;
mod error;
pub mod flow;
mod message;
pub mod nh;
pub mod rt;
mod socket;
pub mod stats;
pub mod vif;

pub use batch::{BatchReport, OpFailure, DEFAULT_BATCH};
pub use decap::{DecapTable, MplsLabel, VxlanVni};
pub use error::{errno_name, libc_consts as errno, Error, Result};
pub use flow::{Flow, FlowKey, FlowMissListener, FlowSpec, FlowTableInfo};
pub use message::{AttrSink, Attrs, RawAttrs, VrMessage};
pub use nh::{Nexthop, NexthopAdd};
pub use rt::{Route, RouteChange, RouteEvent, RouteMonitor, RouteOp};
pub use socket::Client;
pub use stats::{Info, VrfStats};
pub use vif::{Vif, VifAdd, VifCounters, VifSelector};
