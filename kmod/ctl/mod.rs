// SPDX-License-Identifier: GPL-2.0
//! Generic netlink command handlers. Safe Rust only: requests arrive as `kapi::genl`
//! types with their attributes already checked against the generated policies.
#![forbid(unsafe_code)]

mod vif;

use crate::kapi::genl::{Dump, Request};
use crate::uapi::cmd;
use kernel::error::{code::*, Result};
use kernel::c_str;

pub fn doit(req: &Request<'_>) -> Result {
    match req.cmd() {
        cmd::VIF_NEW => vif::new(req),
        cmd::VIF_DEL => vif::del(req),
        cmd::VIF_GET => vif::get(req),
        _ => Err(req.fail(EINVAL, None, c_str!("unknown command"))),
    }
}

pub fn dumpit(dump: Dump<'_>) -> i32 {
    match dump.cmd() {
        cmd::VIF_GET => vif::dump(dump),
        _ => EINVAL.to_errno(),
    }
}
