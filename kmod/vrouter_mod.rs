// SPDX-License-Identifier: GPL-2.0
//! vrouter.ko: a virtual router datapath for Kubernetes pod networks, programmed over the
//! `vrouter` generic netlink family.
//!
//! Layers, bottom up:
//! - `glue/vr_glue.c` + `kapi::sys`: the raw FFI (static C tables and inline-helper
//!   wrappers), private to `kapi`;
//! - `kapi`: safe wrappers; all `unsafe` of the crate is there;
//! - `dp`: the datapath (tables, packet handling), `ctl`: netlink command handlers.
//! `uapi` is the wire contract shared with userspace (kmod/uapi/src/wire.rs).

// `pub` marks what each layer offers the one above it; the crate is the whole module.
#![allow(unreachable_pub)]

use kernel::prelude::*;

#[path = "uapi/src/wire.rs"]
#[allow(dead_code, unreachable_pub)]
mod uapi;

/// The OS-independent datapath core (kmod/core, also built and tested as a host crate).
#[path = "core/src"]
#[allow(dead_code, unreachable_pub)]
mod vrcore {
    #![forbid(unsafe_code)]
    pub mod flow;
    pub mod nexthop;
    pub mod overlay;
    pub mod packet;
    pub mod route;
    pub mod tunnel;
    /// The core reaches the wire contract as `super::uapi`.
    pub mod uapi {
        pub use crate::uapi::*;
    }
}

mod ctl;
mod dp;
mod kapi;

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
        for (i, def) in uapi::PARAMS.iter().enumerate() {
            let value = kapi::params::value(i);
            if !(def.min..=def.max).contains(&value) {
                pr_err!(
                    "vr_{}={} is outside {}..{}\n",
                    def.name,
                    value,
                    def.min,
                    def.max
                );
                return Err(EINVAL);
            }
        }
        let mut p = kapi::params::get();
        if p.oflow_entries == 0 {
            // TF's sizing: a fifth of the main area, rounded up to 1024.
            p.oflow_entries = (p.flow_entries / 5 + 1023) & !1023;
        }
        if p.flow_entries % 4 != 0 {
            pr_err!(
                "vr_flow_entries={} is not a multiple of 4\n",
                p.flow_entries
            );
            return Err(EINVAL);
        }
        let (interfaces, vrfs, nexthops, routes) = (p.interfaces, p.vrfs, p.nexthops, p.routes);
        let (flows, oflows, labels) = (p.flow_entries, p.oflow_entries, p.mpls_labels);
        let router = dp::ROUTER.install(dp::Router::new(p)?);
        let notifier = kapi::netdev::NotifierRegistration::new()?;
        let genl = kapi::genl::Registration::new()?;
        pr_info!(
            "loaded: {} interfaces, {} vrfs, {} nexthops, {} routes, {}+{} flows, {} mpls labels\n",
            interfaces,
            vrfs,
            nexthops,
            routes,
            flows,
            oflows,
            labels
        );
        Ok(VrouterModule {
            _genl: genl,
            _notifier: notifier,
            _router: router,
        })
    }
}

impl Drop for VrouterModule {
    fn drop(&mut self) {
        pr_info!("unloading\n");
    }
}
