// SPDX-License-Identifier: GPL-2.0
//! Module parameters (declared in the glue: 6.12's `module!` has no `params`).

use crate::sys;

/// `vr_interfaces`: size of the vif table.
pub fn interfaces() -> u32 {
    // SAFETY: reads a parameter that is only written at module load.
    unsafe { sys::vrg_param_interfaces() }
}
