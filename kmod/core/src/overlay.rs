// SPDX-License-Identifier: GPL-2.0
//! The overlay's decapsulation tables (TF's `vr_mpls.c` ILM and `vr_vxlan.c`): an
//! incoming MPLS label or VXLAN VNI names the nexthop that takes the inner packet.
//!
//! `NhMap` is one such table over storage its owner allocates (a slice of atomics):
//! readers on the packet path load an entry without a lock and see the old or the new
//! nexthop id, both valid; writers are serialised by the owner (the kernel's RTNL). The
//! MPLS table is one `NhMap` of `vr_mpls_labels` entries; the 2^24 VNIs are split into
//! chunks of `VNI_CHUNK` entries that the owner allocates when a VNI of the chunk is
//! first used (TF's sparse `vr_itable`), so an idle VNI space costs one pointer per chunk.

use super::uapi::{MPLS_LABEL_LIMIT, VXLAN_VNI_LIMIT};
use core::ops::Deref;
use core::sync::atomic::{AtomicU32, Ordering};

/// The value of an unused entry (no nexthop id is this large).
pub const NO_NH: u32 = u32::MAX;

/// VNIs per chunk of the VXLAN table (a power of two).
pub const VNI_CHUNK_BITS: u32 = 12;
pub const VNI_CHUNK: u32 = 1 << VNI_CHUNK_BITS;
/// Chunks that cover every VNI.
pub const VNI_CHUNKS: u32 = VXLAN_VNI_LIMIT >> VNI_CHUNK_BITS;

/// Why a label or VNI request is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OverlayError {
    /// The label is not below the table size (`vr_mpls_labels`).
    LabelRange,
    /// The VNI does not fit in 24 bits.
    VniRange,
}

/// Checks an MPLS label against a table of `capacity` labels.
pub fn check_label(label: u32, capacity: u32) -> Result<u32, OverlayError> {
    if label < capacity && label < MPLS_LABEL_LIMIT {
        Ok(label)
    } else {
        Err(OverlayError::LabelRange)
    }
}

/// The chunk of the VXLAN table that holds `vni`, and the VNI's position in it.
pub fn vni_split(vni: u32) -> Result<(u32, u32), OverlayError> {
    if vni >= VXLAN_VNI_LIMIT {
        return Err(OverlayError::VniRange);
    }
    Ok((vni >> VNI_CHUNK_BITS, vni & (VNI_CHUNK - 1)))
}

/// The first VNI of chunk `chunk`.
pub fn vni_of(chunk: u32, offset: u32) -> u32 {
    (chunk << VNI_CHUNK_BITS) | (offset & (VNI_CHUNK - 1))
}

/// Index -> nexthop id over the owner's storage.
pub struct NhMap<S> {
    slots: S,
}

impl<S: Deref<Target = [AtomicU32]>> NhMap<S> {
    /// A table over `slots`, every entry unused.
    pub fn new(slots: S) -> Self {
        for s in slots.iter() {
            s.store(NO_NH, Ordering::Relaxed);
        }
        NhMap { slots }
    }

    pub fn capacity(&self) -> u32 {
        u32::try_from(self.slots.len()).unwrap_or(u32::MAX)
    }

    /// The nexthop of entry `i` (None when unused or out of range). Lock-free.
    pub fn get(&self, i: u32) -> Option<u32> {
        let nh = self.slots.get(i as usize)?.load(Ordering::Acquire);
        (nh != NO_NH).then_some(nh)
    }

    /// Writer: points entry `i` at `nh` and returns the nexthop it had. None when `i` is
    /// out of range or `nh` is the unused marker (nothing changed).
    pub fn set(&self, i: u32, nh: u32) -> Option<Option<u32>> {
        if nh == NO_NH {
            return None;
        }
        let old = self.slots.get(i as usize)?.swap(nh, Ordering::AcqRel);
        Some((old != NO_NH).then_some(old))
    }

    /// Writer: clears entry `i` and returns the nexthop it had.
    pub fn clear(&self, i: u32) -> Option<u32> {
        let old = self.slots.get(i as usize)?.swap(NO_NH, Ordering::AcqRel);
        (old != NO_NH).then_some(old)
    }

    /// The first used entry at or after `from`: (index, nexthop).
    pub fn next_used(&self, from: u32) -> Option<(u32, u32)> {
        let start = from as usize;
        let rest = self.slots.get(start..)?;
        rest.iter().enumerate().find_map(|(i, s)| {
            let nh = s.load(Ordering::Acquire);
            let at = u32::try_from(start.checked_add(i)?).ok()?;
            (nh != NO_NH).then_some((at, nh))
        })
    }

    /// Entries in use.
    pub fn used(&self) -> u32 {
        let n = self
            .slots
            .iter()
            .filter(|s| s.load(Ordering::Relaxed) != NO_NH)
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::boxed::Box;
    use std::vec::Vec;

    fn map(n: usize) -> NhMap<Box<[AtomicU32]>> {
        NhMap::new((0..n).map(|_| AtomicU32::new(0)).collect())
    }

    #[test]
    fn new_tables_are_empty() {
        let m = map(16);
        assert_eq!(m.capacity(), 16);
        assert_eq!(m.used(), 0);
        assert!((0..16).all(|i| m.get(i).is_none()));
        assert_eq!(m.next_used(0), None);
    }

    #[test]
    fn set_replace_clear() {
        let m = map(16);
        assert_eq!(m.set(3, 7), Some(None));
        assert_eq!(m.get(3), Some(7));
        assert_eq!(
            m.set(3, 0),
            Some(Some(7)),
            "nexthop 0 (discard) is a valid target"
        );
        assert_eq!(m.get(3), Some(0));
        assert_eq!(m.used(), 1);
        assert_eq!(m.clear(3), Some(0));
        assert_eq!(m.clear(3), None);
        assert_eq!(m.get(3), None);
        assert_eq!(m.used(), 0);
    }

    #[test]
    fn out_of_range_changes_nothing() {
        let m = map(4);
        assert_eq!(m.set(4, 1), None);
        assert_eq!(m.set(u32::MAX, 1), None);
        assert_eq!(m.set(1, NO_NH), None);
        assert_eq!(m.get(1), None);
        assert_eq!(m.clear(9), None);
        assert_eq!(m.get(9), None);
        assert_eq!(m.next_used(5), None);
        assert_eq!(m.used(), 0);
    }

    #[test]
    fn next_used_walks_in_order() {
        let m = map(100);
        for (i, nh) in [(5, 50), (6, 60), (99, 1), (0, 2)] {
            m.set(i, nh).unwrap();
        }
        let mut at = 0;
        let mut seen = Vec::new();
        while let Some((i, nh)) = m.next_used(at) {
            seen.push((i, nh));
            at = i + 1;
        }
        assert_eq!(seen, [(0, 2), (5, 50), (6, 60), (99, 1)]);
    }

    #[test]
    fn labels_and_vnis_are_range_checked() {
        assert_eq!(check_label(0, 5120), Ok(0));
        assert_eq!(check_label(5119, 5120), Ok(5119));
        assert_eq!(check_label(5120, 5120), Err(OverlayError::LabelRange));
        assert_eq!(
            check_label(MPLS_LABEL_LIMIT, u32::MAX),
            Err(OverlayError::LabelRange),
            "labels are 20 bits whatever the table"
        );
        assert_eq!(vni_split(0), Ok((0, 0)));
        assert_eq!(vni_split(4095), Ok((0, 4095)));
        assert_eq!(vni_split(4096), Ok((1, 0)));
        assert_eq!(
            vni_split((1 << 24) - 1),
            Ok((VNI_CHUNKS - 1, VNI_CHUNK - 1))
        );
        assert_eq!(vni_split(1 << 24), Err(OverlayError::VniRange));
        assert_eq!(vni_split(u32::MAX), Err(OverlayError::VniRange));
        for vni in [0, 1, 4095, 4096, 70000, (1 << 24) - 1] {
            let (c, o) = vni_split(vni).unwrap();
            assert_eq!(vni_of(c, o), vni);
        }
    }
}
