// SPDX-License-Identifier: GPL-2.0
//! Module parameters: declared by the glue from the generated `VR_PARAMS` (6.12's
//! `module!` has no `params`), defined in wire.rs `PARAMS`.

use crate::kapi::sys;
use crate::uapi::param;

/// Table sizes chosen at load time.
pub struct Params {
    /// `vr_interfaces`: size of the vif table.
    pub interfaces: u32,
    /// `vr_vrfs`: number of VRFs.
    pub vrfs: u32,
    /// `vr_nexthops`: size of the nexthop table.
    pub nexthops: u32,
    /// `vr_routes`: route entries of both families.
    pub routes: u32,
    /// `vr_rt_buckets`: route-table buckets (256 slots each).
    pub rt_buckets: u32,
    /// `vr_flow_entries`: flow table main area.
    pub flow_entries: u32,
    /// `vr_oflow_entries`: flow table overflow area (0 at load: about a fifth of the main).
    pub oflow_entries: u32,
    /// `vr_flow_hold_limit`: most Hold entries at a time.
    pub flow_hold_limit: u32,
    /// `vr_mpls_labels`: size of the MPLS input label table.
    pub mpls_labels: u32,
}

/// The value of parameter `i` of `uapi::PARAMS`.
pub fn value(i: usize) -> u32 {
    // SAFETY: reads a parameter that is only written at module load; the glue returns 0
    // for an index past its table.
    unsafe { sys::vrg_param(i as u32) }
}

pub fn get() -> Params {
    Params {
        interfaces: value(param::INTERFACES),
        vrfs: value(param::VRFS),
        nexthops: value(param::NEXTHOPS),
        routes: value(param::ROUTES),
        rt_buckets: value(param::RT_BUCKETS),
        flow_entries: value(param::FLOW_ENTRIES),
        oflow_entries: value(param::OFLOW_ENTRIES),
        flow_hold_limit: value(param::FLOW_HOLD_LIMIT),
        mpls_labels: value(param::MPLS_LABELS),
    }
}
