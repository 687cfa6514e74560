// SPDX-License-Identifier: GPL-2.0
//! The datapath: the router's tables and what happens to a packet. Safe Rust only.
#![forbid(unsafe_code)]

pub mod vif;

use crate::kapi::global::{Global, Teardown};
use crate::kapi::netdev::{Cookie, DevId};
use crate::kapi::percpu::PacketCtx;
use crate::kapi::rcu;
use crate::kapi::rtnl::{Rtnl, RtnlGuard};
use crate::kapi::skb::Skb;
use kernel::alloc::KBox;
use kernel::error::Result;
use kernel::prelude::*;
use vif::{stat, Vif, VifTable};

/// Everything the datapath knows. One instance, installed at module load.
pub struct Router {
    pub vifs: VifTable,
}

pub static ROUTER: Global<Router> = Global::new();

pub fn router() -> Option<&'static Router> {
    ROUTER.get()
}

impl Router {
    pub fn new(interfaces: u32) -> Result<KBox<Router>> {
        Ok(KBox::new(Router { vifs: VifTable::new(interfaces)? }, GFP_KERNEL)?)
    }
}

impl Teardown for Router {
    /// Detaches every vif, so no packet hook can fire once the router is freed.
    fn teardown(&self) {
        let rtnl = RtnlGuard::lock();
        self.vifs.detach_all(&rtnl);
    }
}

/// A frame received on an attached device. Returns the skb when the datapath declines it
/// (the device is being detached) so the stack delivers it as usual.
pub fn vif_rx(cookie: Cookie, skb: Skb, ctx: &PacketCtx) -> Option<Skb> {
    let guard = rcu::Guard::new();
    let Some(vif) = router().and_then(|r| r.vifs.get(cookie.index(), &guard)) else {
        return Some(skb);
    };
    input(vif, skb, ctx);
    None
}

/// A frame the host sent on the vhost device.
pub fn vhost_xmit(cookie: Cookie, skb: Skb, ctx: &PacketCtx) {
    let guard = rcu::Guard::new();
    match router().and_then(|r| r.vifs.get(cookie.index(), &guard)) {
        Some(vif) => input(vif, skb, ctx),
        None => drop(skb),
    }
}

/// Packet entry from any vif. There is no forwarding state yet (nexthops, routes and
/// flows come with the L3 datapath), so every packet is counted and dropped.
fn input(vif: &Vif, skb: Skb, ctx: &PacketCtx) {
    let stats = vif.stats.local(ctx);
    stats[stat::RX_PACKETS].add(1, ctx);
    stats[stat::RX_BYTES].add(u64::from(skb.len()), ctx);
    stats[stat::DROPS].add(1, ctx);
    drop(skb);
}

/// A device we are attached to is being unregistered: let go of it.
pub fn device_gone(dev: DevId, rtnl: &Rtnl) {
    if let Some(r) = router() {
        if let Some(idx) = r.vifs.find_by_dev(dev, rtnl) {
            if let Some(retired) = r.vifs.detach(idx, rtnl) {
                pr_info!("vif0/{}: device unregistered, vif removed\n", idx);
                rcu::Retired::reclaim(retired);
            }
        }
    }
}
