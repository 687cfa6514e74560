// SPDX-License-Identifier: GPL-2.0
//! vrouter.ko: a virtual router datapath for Kubernetes pod networks, programmed over the
//! `vrouter` generic netlink family.
//!
//! Layers, bottom up:
//! - `glue/vr_glue.c` + `sys`: the raw FFI (static C tables and inline-helper wrappers);
//! - `kapi`: safe wrappers; all `unsafe` of the crate is there;
//! - `dp`: the datapath (tables, packet handling), `ctl`: netlink command handlers.
//! `uapi` is the wire contract shared with userspace (kmod/uapi/src/wire.rs).

// `pub` marks what each layer offers the one above it; the crate is the whole module.
#![allow(unreachable_pub)]

use kernel::prelude::*;

#[path = "uapi/src/wire.rs"]
#[allow(dead_code, unreachable_pub)]
mod uapi;

mod ctl;
mod dp;
mod kapi;
mod sys;

module! {
    type: VrouterModule,
    name: "vrouter",
    author: "vrouter developers",
    description: "vRouter datapath for Kubernetes pod networks",
    license: "GPL",
}

/// Field order is teardown order: the netlink family goes first (no more requests),
/// then the netdevice notifier, then the router (which detaches every device).
struct VrouterModule {
    _genl: kapi::genl::Registration,
    _notifier: kapi::netdev::NotifierRegistration,
    _router: kapi::global::Installed<dp::Router>,
}

impl kernel::Module for VrouterModule {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let interfaces = kapi::params::interfaces();
        if !(16..=65536).contains(&interfaces) {
            pr_err!("vr_interfaces={} is outside 16..65536\n", interfaces);
            return Err(EINVAL);
        }
        let router = dp::ROUTER.install(dp::Router::new(interfaces)?);
        let notifier = kapi::netdev::NotifierRegistration::new()?;
        let genl = kapi::genl::Registration::new()?;
        pr_info!("loaded, {} interfaces\n", interfaces);
        Ok(VrouterModule { _genl: genl, _notifier: notifier, _router: router })
    }
}

impl Drop for VrouterModule {
    fn drop(&mut self) {
        pr_info!("unloading\n");
    }
}
