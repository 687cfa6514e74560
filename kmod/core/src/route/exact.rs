// SPDX-License-Identifier: GPL-2.0
//! Route entries and the exact-match store (see the [module documentation](super)): the
//! 64-byte [`RouteSlot`], the key of a route, and the hash of chains through the entries
//! that serves `get`, replacement and the search for a deleted route's parent.

use core::ops::Deref;
use core::sync::atomic::AtomicU32;
use core::sync::atomic::Ordering::{Acquire, Relaxed, Release};

use super::pool::{Kind, Reserved, Writer};
use super::prefix::{self, Family, Prefix};
use super::{Match, RouteData, RouteTable};

/// Largest number of route entries (index + 1 must leave bit 31 clear).
pub(super) const MAX_ROUTES: usize = 0x7fff_fffe;
/// `RouteSlot::state` of a published route.
pub(super) const LIVE: u32 = 1;

/// One route entry of the storage (64 bytes, one cache line). Zero it with
/// [`RouteSlot::new`]; only the table reads or writes the fields.
#[repr(C, align(64))]
#[derive(Debug)]
pub struct RouteSlot {
    /// Bits 0..8 prefix length, bit 8 family (1 = IPv6).
    pub(super) meta: AtomicU32,
    pub(super) vrf: AtomicU32,
    /// Prefix as big-endian words (IPv4 uses the first).
    pub(super) addr: [AtomicU32; 4],
    pub(super) nh: AtomicU32,
    pub(super) label: AtomicU32,
    pub(super) flags: AtomicU32,
    /// MAC bytes 0..4, big-endian.
    pub(super) mac_hi: AtomicU32,
    /// MAC bytes 4..6 in the high half.
    pub(super) mac_lo: AtomicU32,
    /// Exact-match hash chain: next entry index + 1 (read by readers, kept while pending).
    pub(super) next: AtomicU32,
    /// Writer-only: free / pending list link (entry index + 1).
    pub(super) link: AtomicU32,
    /// Writer-only: `LIVE` while installed.
    pub(super) state: AtomicU32,
}

impl RouteSlot {
    /// An unused entry.
    pub const fn new() -> RouteSlot {
        RouteSlot {
            meta: AtomicU32::new(0),
            vrf: AtomicU32::new(0),
            addr: [
                AtomicU32::new(0),
                AtomicU32::new(0),
                AtomicU32::new(0),
                AtomicU32::new(0),
            ],
            nh: AtomicU32::new(0),
            label: AtomicU32::new(0),
            flags: AtomicU32::new(0),
            mac_hi: AtomicU32::new(0),
            mac_lo: AtomicU32::new(0),
            next: AtomicU32::new(0),
            link: AtomicU32::new(0),
            state: AtomicU32::new(0),
        }
    }

    #[inline]
    pub(super) fn data(&self) -> RouteData {
        let [m0, m1, m2, m3] = self.mac_hi.load(Relaxed).to_be_bytes();
        let [m4, m5, _, _] = self.mac_lo.load(Relaxed).to_be_bytes();
        RouteData {
            nh: self.nh.load(Relaxed),
            label: self.label.load(Relaxed),
            flags: self.flags.load(Relaxed),
            mac: [m0, m1, m2, m3, m4, m5],
        }
    }

    #[inline]
    pub(super) fn len(&self) -> u8 {
        (self.meta.load(Relaxed) & 0xff) as u8
    }

    fn matches(&self, k: &Key) -> bool {
        self.meta.load(Relaxed) == k.meta()
            && self.vrf.load(Relaxed) == k.vrf
            && self
                .addr
                .iter()
                .zip(k.words.iter())
                .take(k.family.addr_len() / 4)
                .all(|(a, w)| a.load(Relaxed) == *w)
    }

    /// Writes route `k` → `data` with the hash chain link `next` into this unpublished
    /// entry (it becomes `LIVE` when [`RouteTable::link_exact`] publishes it).
    pub(super) fn write(&self, k: &Key, data: RouteData, next: u32) {
        self.meta.store(k.meta(), Relaxed);
        self.vrf.store(k.vrf, Relaxed);
        for (a, v) in self.addr.iter().zip(k.words) {
            a.store(v, Relaxed);
        }
        self.nh.store(data.nh, Relaxed);
        self.label.store(data.label, Relaxed);
        self.flags.store(data.flags, Relaxed);
        let [m0, m1, m2, m3, m4, m5] = data.mac;
        self.mac_hi
            .store(u32::from_be_bytes([m0, m1, m2, m3]), Relaxed);
        self.mac_lo
            .store(u32::from_be_bytes([m4, m5, 0, 0]), Relaxed);
        self.next.store(next, Relaxed);
    }
}

impl Default for RouteSlot {
    fn default() -> Self {
        Self::new()
    }
}

/// A route key: a validated prefix in a VRF.
#[derive(Clone, Copy, Debug)]
pub(super) struct Key {
    pub(super) vrf: u32,
    pub(super) family: Family,
    pub(super) len: u8,
    bytes: [u8; 16],
    words: [u32; 4],
}

impl Key {
    pub(super) fn new(vrf: u32, family: Family, bytes: &[u8; 16], len: u8) -> Key {
        let mut b = [0u8; 16];
        for (i, (d, s)) in b.iter_mut().zip(bytes.iter()).enumerate() {
            *d = *s & prefix::net_mask_byte(len, i);
        }
        let mut words = [0u32; 4];
        // Index loops, not `zip(chunks_exact)`: the latter leaves a divide-by-zero panic
        // path that objtool (6.12) flags in the module build.
        for (i, w) in words.iter_mut().enumerate() {
            if let Some(c) = b.get(i * 4..i * 4 + 4) {
                *w = c.iter().fold(0u32, |a, x| (a << 8) | u32::from(*x));
            }
        }
        Key {
            vrf,
            family,
            len,
            bytes: b,
            words,
        }
    }

    pub(super) fn with_len(&self, len: u8) -> Key {
        Key::new(self.vrf, self.family, &self.bytes, len)
    }

    fn meta(&self) -> u32 {
        u32::from(self.len) | ((self.family.index() as u32) << 8)
    }

    /// The address byte that indexes the bucket of trie level `level` (`None` beyond the
    /// deepest level, 15).
    pub(super) fn byte(&self, level: usize) -> Option<usize> {
        self.bytes.get(level).copied().map(usize::from)
    }

    fn hash(&self) -> u32 {
        let mut h = self.vrf.wrapping_mul(0x9e37_79b9) ^ self.meta();
        for w in self.words.iter().take(self.family.addr_len() / 4) {
            h = (h ^ *w).wrapping_mul(0x85eb_ca6b);
            h ^= h >> 15;
        }
        h = h.wrapping_mul(0xc2b2_ae35);
        h ^ (h >> 16)
    }
}

/// A route found in the exact-match store.
#[derive(Clone, Copy)]
pub(super) struct Exact<'a> {
    /// Its storage index.
    pub(super) index: u32,
    pub(super) entry: &'a RouteSlot,
    /// The hash head or previous entry's `next` that points to it.
    link: &'a AtomicU32,
}

impl Exact<'_> {
    /// The trie leaf of the route (index + 1).
    pub(super) fn leaf(&self) -> u32 {
        self.index.wrapping_add(1)
    }
}

impl<W, S> RouteTable<W, S>
where
    W: Deref<Target = [AtomicU32]>,
    S: Deref<Target = [RouteSlot]>,
{
    /// The route behind trie leaf `leaf`, as a [`Match`] of `family`.
    #[inline(always)]
    pub(super) fn read_match(&self, leaf: u32, family: Family) -> Option<Match> {
        let e = self.routes.get(leaf.checked_sub(1)? as usize)?;
        let len = e.len().min(family.max_len());
        let mut addr = [0u8; 16];
        for (i, s) in e.addr.iter().take(family.addr_len() / 4).enumerate() {
            if let Some(d) = addr.get_mut(i * 4..i * 4 + 4) {
                d.copy_from_slice(&s.load(Relaxed).to_be_bytes());
            }
        }
        Some(Match {
            prefix: Prefix { family, addr, len },
            data: e.data(),
        })
    }

    /// The hash head of `k`'s chain.
    pub(super) fn hash_head(&self, k: &Key) -> Option<&AtomicU32> {
        self.hash.get((k.hash() & self.hash_mask) as usize)
    }

    /// The exact route of `k`. Reader-safe.
    pub(super) fn find_exact(&self, k: &Key) -> Option<Exact<'_>> {
        let mut link = self.hash_head(k)?;
        let mut guard = self.routes.len();
        loop {
            let v = link.load(Acquire);
            let index = v.checked_sub(1)?;
            let entry = self.routes.get(index as usize)?;
            if entry.matches(k) {
                return Some(Exact { index, entry, link });
            }
            link = &entry.next;
            guard = guard.checked_sub(1)?;
        }
    }

    /// The longest route strictly covering `k`, by probing the used lengths.
    pub(super) fn find_parent(&self, w: &Writer, k: &Key) -> Option<Exact<'_>> {
        let mut len = k.len;
        loop {
            len = len.checked_sub(1)?;
            if w.len_used(k.family, len) {
                if let Some(e) = self.find_exact(&k.with_len(len)) {
                    return Some(e);
                }
            }
        }
    }

    /// Publishes the written entry `new` of route `k` in the exact-match store: in place of
    /// `old` (which is retired), or at the head of `k`'s chain `head` (then counted).
    pub(super) fn link_exact(
        &self,
        w: &mut Writer,
        k: &Key,
        head: &AtomicU32,
        old: Option<Exact<'_>>,
        new: &Reserved<'_>,
    ) {
        new.entry.state.store(LIVE, Relaxed);
        match old {
            Some(old) => {
                old.link.store(new.leaf(), Release);
                old.entry.state.store(0, Relaxed);
                self.retire(w, Kind::Route, old.index);
            }
            None => {
                head.store(new.leaf(), Release);
                w.count(k.family, k.len, true);
            }
        }
    }

    /// Unlinks the route `old` (of key `k`) from the exact-match store and retires it.
    pub(super) fn unlink_exact(&self, w: &mut Writer, k: &Key, old: Exact<'_>) {
        old.link.store(old.entry.next.load(Relaxed), Release);
        old.entry.state.store(0, Relaxed);
        self.retire(w, Kind::Route, old.index);
        w.count(k.family, k.len, false);
    }
}
