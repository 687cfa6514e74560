// SPDX-License-Identifier: GPL-2.0
//! The datapath: the router's tables and what happens to a packet. Safe Rust only.
#![forbid(unsafe_code)]

pub mod flow;
mod forward;
pub mod mpls;
pub mod nexthop;
pub mod route;
pub mod stats;
mod table;
mod tunnel;
pub mod vif;
pub mod vxlan;

use crate::kapi::global::{Entry, Global, Teardown};
use crate::kapi::kvvec_from_fn;
use crate::kapi::netdev::{Cookie, DevId};
use crate::kapi::params::Params;
use crate::kapi::percpu::PacketCtx;
use crate::kapi::rcu;
use crate::kapi::rtnl::{Rtnl, RtnlCell, RtnlGuard};
use crate::kapi::skb::Skb;
use core::sync::atomic::{AtomicU32, Ordering};
use kernel::alloc::{KBox, KVVec};
use kernel::error::Result;
use kernel::prelude::*;
use nexthop::NhTable;
use route::Routes;
use stats::Stats;
use vif::{Vif, VifTable};
use vxlan::VxlanTable;

/// Everything the datapath knows. One instance, installed at module load.
///
/// Configuration writers (netlink NEW/DEL, the netdevice notifier) hold the RTNL; the
/// packet path and GET/dump read under RCU.
pub struct Router {
    pub params: Params,
    pub vifs: VifTable,
    pub nhs: NhTable,
    pub routes: Routes,
    /// The route tables' writer-side state (free lists), RTNL holders only.
    pub route_writer: RtnlCell<crate::vrcore::route::Writer>,
    pub stats: Stats,
    pub flows: flow::Flows,
    /// MPLS label -> nexthop (decapsulation).
    pub mpls: mpls::MplsTable,
    /// VXLAN VNI -> nexthop (decapsulation).
    pub vxlan: VxlanTable,
    /// Routes per VRF (both families), kept by the route writers: which VRFs are in use.
    vrf_routes: KVVec<AtomicU32>,
    /// Index of the host vif (vhost0), u32::MAX when there is none: the source of the
    /// ICMP errors the datapath sends.
    host_vif: AtomicU32,
}

pub static ROUTER: Global<Router> = Global::new();

/// The router, for the entry point that runs.
pub fn router(entry: Entry<'_>) -> Option<&Router> {
    ROUTER.get(entry)
}

impl Router {
    pub fn new(params: Params) -> Result<KBox<Router>> {
        let (routes, writer) = route::new(params.vrfs, params.routes, params.rt_buckets)?;
        let router = KBox::new(
            Router {
                vifs: VifTable::new(params.interfaces)?,
                nhs: NhTable::new(params.nexthops)?,
                routes,
                route_writer: RtnlCell::new(writer),
                stats: Stats::new(params.vrfs)?,
                flows: flow::Flows::new(
                    params.flow_entries,
                    params.oflow_entries,
                    params.flow_hold_limit,
                )?,
                mpls: mpls::MplsTable::new(params.mpls_labels)?,
                vxlan: VxlanTable::new()?,
                vrf_routes: kvvec_from_fn(params.vrfs as usize, AtomicU32::default)?,
                host_vif: AtomicU32::new(u32::MAX),
                params,
            },
            GFP_KERNEL,
        )?;
        router.nhs.install_discard(&mut RtnlGuard::lock())?;
        Ok(router)
    }

    /// Whether VRF `vrf` has any route.
    pub fn vrf_in_use(&self, vrf: u32) -> bool {
        self.vrf_routes
            .get(vrf as usize)
            .is_some_and(|n| n.load(Ordering::Relaxed) > 0)
    }

    /// Route writers account each route added to (+1) or removed from (-1) a VRF.
    pub fn count_vrf_route(&self, vrf: u32, added: bool, _rtnl: &Rtnl) {
        if let Some(n) = self.vrf_routes.get(vrf as usize) {
            let v = n.load(Ordering::Relaxed);
            n.store(
                if added {
                    v.saturating_add(1)
                } else {
                    v.saturating_sub(1)
                },
                Ordering::Relaxed,
            );
        }
    }

    pub fn host_vif(&self) -> Option<u32> {
        let idx = self.host_vif.load(Ordering::Relaxed);
        (idx != u32::MAX).then_some(idx)
    }

    /// Called by the vif table's writers when the host vif comes or goes.
    pub fn set_host_vif(&self, idx: Option<u32>, _rtnl: &Rtnl) {
        self.host_vif
            .store(idx.unwrap_or(u32::MAX), Ordering::Relaxed);
    }
}

impl Teardown for Router {
    /// Detaches every vif, so no packet hook can fire once the router is freed.
    fn teardown(&self) {
        let mut rtnl = RtnlGuard::lock();
        self.vifs.detach_all(&mut rtnl);
    }
}

/// A frame received on an attached device. Returns the skb when the datapath declines it
/// (the device is being detached, or the fabric vif's frame is the host's) so the stack
/// delivers it as usual.
pub fn vif_rx(cookie: Cookie, skb: Skb, ctx: &PacketCtx) -> Option<Skb> {
    let guard = rcu::Guard::new();
    let Some(r) = router(ctx.entry()) else {
        return Some(skb);
    };
    let Some(vif) = r.vifs.get(cookie.index(), &guard) else {
        return Some(skb);
    };
    if vif.cfg.kind == crate::uapi::vif_type::PHYSICAL {
        return tunnel::fabric_input(r, vif, skb, ctx, &guard);
    }
    forward::input(r, vif, skb, ctx, &guard);
    None
}

/// A frame the host sent on the vhost device.
pub fn vhost_xmit(cookie: Cookie, skb: Skb, ctx: &PacketCtx) {
    let guard = rcu::Guard::new();
    match router(ctx.entry()).and_then(|r| r.vifs.get(cookie.index(), &guard)) {
        Some(vif) => input(vif, skb, ctx, &guard),
        None => drop(skb),
    }
}

/// Packet entry from any vif.
fn input(vif: &Vif, skb: Skb, ctx: &PacketCtx, guard: &rcu::Guard) {
    if let Some(r) = router(ctx.entry()) {
        forward::input(r, vif, skb, ctx, guard);
    }
}

/// A device we are attached to is being unregistered: let go of it.
pub fn device_gone(entry: Entry<'_>, dev: DevId, rtnl: &mut Rtnl) {
    if let Some(r) = router(entry) {
        if let Some(idx) = r.vifs.find_by_dev(dev, rtnl) {
            if r.host_vif() == Some(idx) {
                r.set_host_vif(None, rtnl);
            }
            if let Some(retired) = r.vifs.detach(idx, rtnl) {
                pr_info!("vif0/{}: device unregistered, vif removed\n", idx);
                rcu::Retired::reclaim(retired);
            }
        }
    }
}
