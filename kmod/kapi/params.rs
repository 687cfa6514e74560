// SPDX-License-Identifier: GPL-2.0
//! Module parameters (declared in the glue: 6.12's `module!` has no `params`).

use crate::kapi::sys;

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
}

pub fn get() -> Params {
    // SAFETY: these read parameters that are only written at module load.
    unsafe {
        Params {
            interfaces: sys::vrg_param_interfaces(),
            vrfs: sys::vrg_param_vrfs(),
            nexthops: sys::vrg_param_nexthops(),
            routes: sys::vrg_param_routes(),
            rt_buckets: sys::vrg_param_rt_buckets(),
            flow_entries: sys::vrg_param_flow_entries(),
            oflow_entries: sys::vrg_param_oflow_entries(),
            flow_hold_limit: sys::vrg_param_flow_hold_limit(),
        }
    }
}
