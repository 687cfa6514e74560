// SPDX-License-Identifier: GPL-2.0
//! Per-VRF IPv4/IPv6 route tables: longest-prefix match with lock-free readers.
//!
//! # Structure
//!
//! One multibit trie per (VRF, family), in the manner of Tungsten Fabric's mtrie
//! (`dp-core/vr_ip_mtrie.c`): an 8-bit stride at every level (4 levels for IPv4, 16 for
//! IPv6), **leaf-pushed**: every slot of a bucket (256 slots) holds either a leaf, the best
//! route covering the whole slot, or a link to a child bucket. A lookup is one load per
//! address byte until it meets a leaf, then one read of a 64-byte, cache-line-aligned
//! route entry; no hashing, no comparisons, no backtracking.
//!
//! Beside the tries the table keeps an **exact-match store** of every route (a hash of
//! chains through the route entries). It serves `get`, replacement, and above all
//! `delete`: the kernel finds the route that takes over the deleted route's slots (the
//! longest route strictly covering it, TF's "parent") itself, by probing the store for the
//! lengths below the deleted one that are in use (the writer counts routes per length).
//!
//! A slot (`u32`) encodes `0` = no route, bit 31 set = child bucket `index`, otherwise
//! route entry `index + 1`. A root word (`roots[vrf * 2 + family]`) is `0` = no trie yet,
//! otherwise the root bucket `index + 1`. The root bucket is created by the first route of
//! the (VRF, family) and retired when its last route goes.
//!
//! A non-root bucket exists exactly while some route longer than its parent slot lies
//! below it: `delete` collapses buckets that became uniform (all 256 slots the same leaf)
//! into their parent slot and retires them, so after deleting every route all buckets are
//! back in the pools.
//!
//! Why 8 bits at every level, also for the IPv4 root: a 16-bit root would take 256 KiB
//! per VRF even for a VRF with one route (vRouter has thousands of VRFs), and it saves only
//! one load that hits in L1/L2 anyway (the 256 level-1 buckets of a full IPv4 table take
//! 256 KiB); what a random lookup in a large table pays for is the level-2 bucket and the
//! route entry coming from DRAM, which a wider root does not change. Route entries are
//! aligned to 64 bytes so that the entry read is a single cache line. A batched lookup
//! (walking 16 addresses level by level side by side) was tried and gained only ~20% on
//! the 1M-route table once the hot path was fully inlined, so it was left out.
//!
//! Measured (`benches/lpm.rs`, 2-vCPU EPYC VM): a tenant VRF of 4,000 VM /32s looks up
//! in ~4 ns (~15 ns as a dependent chain); 1M random IPv4 prefixes (60% /24) take 163 MiB
//! and ~55-65 ns per lookup (two DRAM misses: level-2 bucket, route entry); IPv6 walks up
//! to 16 dependent loads, ~30 ns for cached /128s, ~200 ns in a 200k-prefix table.
//!
//! # Memory
//!
//! A bucket is 256 `u32` = 1 KiB, plus 4 bytes of pool link in the tail of `nodes` (see
//! [`nodes_len`]): a retired bucket must keep all its slots for the readers still inside,
//! so its free/pending link cannot live in the bucket. A route entry ([`RouteSlot`]) is 64
//! bytes (its hash-chain link stays intact while retired, for the same reason; the pool
//! link is a separate field). A hash head is 4 bytes. The [`Writer`] is ~700 bytes (route
//! counts per prefix length, used to skip lengths when searching for a parent).
//!
//! # Concurrency (RCU) and the reclamation protocol
//!
//! Readers ([`RouteTable::lookup`], [`RouteTable::lookup_v4`], [`RouteTable::lookup_v6`],
//! [`RouteTable::lookup_prefix`]) take `&self` and no lock; in the kernel they run inside
//! an RCU read-side critical section (`rcu_read_lock()` or softirq context). Every other
//! operation needs `&mut Writer`: the owner serialises writers (a mutex around the
//! `Writer`). Writers initialise a new bucket or route entry completely, then publish it
//! with a `Release` store into a slot, root word or hash link; readers load those with
//! `Acquire`. Published route entries are never modified: replacing a route's data
//! allocates a new entry and re-points the slots and the hash chain to it. A reader
//! therefore sees, for each slot, either the old or the new value, and both are complete.
//!
//! A bucket or route entry that is unlinked is **retired**: it goes to a pending list and
//! keeps its contents, since readers that started before may still be inside it. Writer
//! operations that may need storage take `grace: &mut dyn FnMut()`. When an allocation
//! finds its free list empty and no never-used storage left, but retired items pending,
//! it calls `grace()` once and then moves **all** pending items (buckets and routes) to
//! the free lists. Pending items are never reused without a `grace()` call in between.
//!
//! What the owner must do:
//! 1. Zero the storage, hand it to [`RouteTable::new`], keep the [`Writer`] behind a
//!    sleeping lock (mutex); never use a `Writer` with another table.
//! 2. Readers: call the lookups inside `rcu_read_lock()` (or softirq/BH context). A
//!    [`Match`] is a copy: nothing returned points into the table.
//! 3. Writers: pass `grace` = `synchronize_rcu()`. It is called with the writer lock
//!    held, at most once per operation, only when storage is exhausted and something is
//!    pending; it must return only after every reader that started before the call has
//!    finished.
//! 4. Optionally call [`RouteTable::reclaim`] (e.g. from a work item after a burst of
//!    deletes) to run `grace` and free the pending storage early.
//! 5. Teardown: make the table unreachable for readers, `synchronize_rcu()` (or
//!    `call_rcu`), then free the storage.
//!
//! Failure atomicity: `add` counts the route entry and the buckets it needs before it
//! touches anything, so `NoRouteSpace` / `NoNodeSpace` leave the table exactly as it was;
//! `delete` never allocates.
//!
//! Impossible states are errors, not defaults: a writer that meets one (a link out of
//! range, a walk deeper than a trie: only corrupted storage gets there) refuses the
//! operation with [`RouteError::BadStorage`] before it changes anything and counts it in
//! [`Usage::corrupt`]; it never goes on with a made-up bucket or slot 0.
//!
//! Panics: none. Every storage access is `get`, all arithmetic is checked, wrapping or
//! saturating, and walks are iterative with fixed-size stacks (at most 17 frames).
//!
//! # Code
//!
//! This file holds the public API ([`RouteTable`]); the parts live in submodules: `trie`
//! (buckets, the readers' walk, leaf pushing, building and collapsing buckets), `exact`
//! (route entries, keys and the exact-match store), `pool` (the [`Writer`]: free and
//! pending lists, grace periods, counters) and `prefix` ([`Family`], [`Prefix`]).

use core::fmt;
use core::ops::Deref;
use core::sync::atomic::AtomicU32;
use core::sync::atomic::Ordering::{Relaxed, Release};

mod exact;
mod pool;
mod prefix;
mod trie;

pub use self::exact::RouteSlot;
pub use self::pool::Writer;
pub use self::prefix::{Family, Prefix};
pub use self::trie::nodes_len;

use self::exact::{Key, LIVE, MAX_ROUTES};
use self::pool::Kind;
use self::trie::{MAX_BUCKETS, SLOTS};

#[cfg(test)]
mod tests;

/// Errors of the route table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouteError {
    /// The VRF id is not below [`RouteTable::vrfs`].
    VrfOutOfRange,
    /// Not an address family the table knows (AF_INET / AF_INET6).
    BadFamily,
    /// Prefix length beyond 32 / 128, or an address of the wrong length.
    BadLength,
    /// The address has bits set past the prefix length.
    HostBitsSet,
    /// No such route.
    NotFound,
    /// All route entries are in use.
    NoRouteSpace,
    /// All trie buckets are in use.
    NoNodeSpace,
    /// Storage handed to [`RouteTable::new`] has an unusable size, or a writer met an
    /// impossible state in it (corrupted storage; counted in [`Usage::corrupt`]).
    BadStorage,
}

impl fmt::Display for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RouteError::VrfOutOfRange => "VRF out of range",
            RouteError::BadFamily => "bad address family",
            RouteError::BadLength => "bad prefix or address length",
            RouteError::HostBitsSet => "host bits set",
            RouteError::NotFound => "no such route",
            RouteError::NoRouteSpace => "route table full",
            RouteError::NoNodeSpace => "trie buckets exhausted",
            RouteError::BadStorage => "bad route table storage",
        })
    }
}

/// What a route resolves to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash)]
pub struct RouteData {
    /// Nexthop id.
    pub nh: u32,
    /// MPLS label (or VXLAN VNI), as the control plane gave it.
    pub label: u32,
    /// Route flags (label valid, proxy ARP, ...).
    pub flags: u32,
    /// Stitched MAC (bridge / proxy ARP answers).
    pub mac: [u8; 6],
}

/// A route found by a lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Match {
    /// The route's prefix.
    pub prefix: Prefix,
    /// The route's data.
    pub data: RouteData,
}

/// Occupancy of a table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Usage {
    /// Installed IPv4 routes (all VRFs).
    pub routes_v4: u32,
    /// Installed IPv6 routes (all VRFs).
    pub routes_v6: u32,
    /// Route entries retired and waiting for a grace period.
    pub routes_pending: u32,
    /// Route entries in the storage.
    pub routes_max: u32,
    /// Buckets linked into tries.
    pub buckets_used: u32,
    /// Buckets retired and waiting for a grace period.
    pub buckets_pending: u32,
    /// Buckets in the storage.
    pub buckets_max: u32,
    /// How many times `grace` was called.
    pub graces: u32,
    /// Writer operations refused with [`RouteError::BadStorage`] because they met an
    /// impossible state (corrupted storage). Always 0 unless something wrote into it.
    pub corrupt: u32,
}

/// Per-VRF IPv4 and IPv6 route tables over storage handed in by the owner.
///
/// - `roots`: `vrfs * 2` words, the root of (vrf, family) at `vrf * 2 + family`
///   (0 = IPv4, 1 = IPv6);
/// - `nodes`: [`nodes_len`]`(buckets)` words;
/// - `routes`: route entries;
/// - `hash`: exact-match hash heads, a power of two (about one per expected route).
///
/// All zero-initialised (`AtomicU32::new(0)`, [`RouteSlot::new`]).
pub struct RouteTable<W, S>
where
    W: Deref<Target = [AtomicU32]>,
    S: Deref<Target = [RouteSlot]>,
{
    roots: W,
    nodes: W,
    routes: S,
    hash: W,
    vrfs: u32,
    buckets: u32,
    hash_mask: u32,
    link_base: usize,
}

impl<W, S> RouteTable<W, S>
where
    W: Deref<Target = [AtomicU32]>,
    S: Deref<Target = [RouteSlot]>,
{
    /// Takes the storage (see [`RouteTable`]) and returns the table and its writer state.
    ///
    /// Errors with [`RouteError::BadStorage`] when `roots` is empty or odd, `nodes` is not a
    /// whole number of buckets or holds fewer than 2 (one usable plus links), `routes` is
    /// empty, or `hash` is not a power of two; or when a count does not fit in 31 bits.
    pub fn new(roots: W, nodes: W, routes: S, hash: W) -> Result<(Self, Writer), RouteError> {
        let vrfs = roots.len() / 2;
        if vrfs == 0 || roots.len() & 1 != 0 || u32::try_from(vrfs).is_err() {
            return Err(RouteError::BadStorage);
        }
        if nodes.len() & (SLOTS - 1) != 0 {
            return Err(RouteError::BadStorage);
        }
        let total = nodes.len() / SLOTS;
        let buckets = total.saturating_sub(total.div_ceil(SLOTS + 1));
        if buckets == 0 || buckets > MAX_BUCKETS {
            return Err(RouteError::BadStorage);
        }
        if routes.is_empty() || routes.len() > MAX_ROUTES {
            return Err(RouteError::BadStorage);
        }
        if !hash.len().is_power_of_two() || hash.len() > 1 << 31 {
            return Err(RouteError::BadStorage);
        }
        let link_base = buckets.saturating_mul(SLOTS);
        for a in roots.iter().chain(hash.iter()) {
            a.store(0, Relaxed);
        }
        let hash_mask = (hash.len() - 1) as u32;
        let w = Writer::new(routes.len() as u32, buckets as u32);
        let t = RouteTable {
            roots,
            nodes,
            routes,
            hash,
            vrfs: vrfs as u32,
            buckets: buckets as u32,
            hash_mask,
            link_base,
        };
        Ok((t, w))
    }

    /// Number of VRFs.
    #[inline]
    pub fn vrfs(&self) -> u32 {
        self.vrfs
    }

    // ---------------------------------------------------------------- readers

    /// Lock-free longest-prefix match of `addr` (4 bytes for [`Family::Inet`], 16 for
    /// [`Family::Inet6`]) in `vrf`. `None`: no route, unknown VRF or wrong address length.
    #[inline]
    pub fn lookup(&self, vrf: u32, family: Family, addr: &[u8]) -> Option<Match> {
        match family {
            Family::Inet => self.lookup_v4(vrf, addr.try_into().ok()?),
            Family::Inet6 => self.lookup_v6(vrf, addr.try_into().ok()?),
        }
    }

    /// [`RouteTable::lookup`] of an IPv4 address.
    #[inline]
    pub fn lookup_v4(&self, vrf: u32, addr: [u8; 4]) -> Option<Match> {
        let root = self.root(vrf, Family::Inet)?;
        let leaf = self.walk(root, &addr);
        self.read_match(leaf, Family::Inet)
    }

    /// [`RouteTable::lookup`] of an IPv6 address.
    #[inline]
    pub fn lookup_v6(&self, vrf: u32, addr: &[u8; 16]) -> Option<Match> {
        let root = self.root(vrf, Family::Inet6)?;
        let leaf = self.walk(root, addr);
        self.read_match(leaf, Family::Inet6)
    }

    /// The longest route of length `<= prefix.len` covering `prefix` (what `rt --get`
    /// shows for a prefix). Reader-safe (lock-free); `None` also for a bad VRF or prefix.
    pub fn lookup_prefix(&self, vrf: u32, prefix: &Prefix) -> Option<Match> {
        let k = self.key(vrf, prefix).ok()?;
        // The trie's answer is right whenever it is not more specific than asked.
        if let Some(m) = self.lookup(vrf, k.family, prefix.addr_bytes()) {
            if m.prefix.len <= k.len {
                return Some(m);
            }
        }
        let mut len = k.len;
        loop {
            if let Some(e) = self.find_exact(&k.with_len(len)) {
                return self.read_match(e.leaf(), k.family);
            }
            len = len.checked_sub(1)?;
        }
    }

    fn key(&self, vrf: u32, p: &Prefix) -> Result<Key, RouteError> {
        if vrf >= self.vrfs {
            return Err(RouteError::VrfOutOfRange);
        }
        p.validate()?;
        Ok(Key::new(vrf, p.family, &p.addr, p.len))
    }

    // ---------------------------------------------------------------- writer

    /// Adds the route `prefix` → `data` to `vrf`, or replaces the data of an existing one.
    /// Returns the data it replaced. May call `grace` (see the module documentation).
    ///
    /// Errors: [`RouteError::VrfOutOfRange`], prefix errors ([`RouteError::BadLength`],
    /// [`RouteError::HostBitsSet`]), [`RouteError::NoRouteSpace`],
    /// [`RouteError::NoNodeSpace`], [`RouteError::BadStorage`] (an impossible state); on
    /// error nothing changed.
    pub fn add(
        &self,
        w: &mut Writer,
        vrf: u32,
        prefix: &Prefix,
        data: RouteData,
        grace: &mut dyn FnMut(),
    ) -> Result<Option<RouteData>, RouteError> {
        let k = self.key(vrf, prefix)?;
        let root_word = self.root_word(vrf, k.family)?;
        let old = self.find_exact(&k);
        let old_data = old.map(|o| o.entry.data());
        if old_data == Some(data) {
            return Ok(old_data);
        }
        let head = self.hash_head(&k).ok_or_else(|| w.corrupt())?;
        let target = self.target(root_word, &k).ok_or_else(|| w.corrupt())?;
        let new = self.reserve(w, target.buckets_needed(), grace)?;
        // The new entry, complete before anything points to it.
        let next = old.map_or(head, |o| &o.entry.next).load(Relaxed);
        new.entry.write(&k, data, next);
        if self.insert_leaf(&k, &target, &new).is_none() {
            self.release(w, &new);
            return Err(w.corrupt());
        }
        self.link_exact(w, &k, head, old, &new);
        Ok(old_data)
    }

    /// Deletes the route `prefix` of `vrf` and returns its data. Its slots fall back to the
    /// longest route strictly covering it; buckets left uniform are collapsed and retired.
    /// Never allocates, so `grace` is not called (it is taken for symmetry with `add`).
    ///
    /// Errors: [`RouteError::VrfOutOfRange`], prefix errors, [`RouteError::NotFound`],
    /// [`RouteError::BadStorage`] (an impossible state; nothing changed).
    pub fn delete(
        &self,
        w: &mut Writer,
        vrf: u32,
        prefix: &Prefix,
        grace: &mut dyn FnMut(),
    ) -> Result<RouteData, RouteError> {
        let _ = grace;
        let k = self.key(vrf, prefix)?;
        let root_word = self.root_word(vrf, k.family)?;
        let old = self.find_exact(&k).ok_or(RouteError::NotFound)?;
        let data = old.entry.data();
        // No covering route: the slots become empty (0).
        let fallback = self.find_parent(w, &k).map_or(0, |p| p.leaf());
        self.remove_leaf(w, root_word, &k, old.leaf(), fallback)
            .ok_or_else(|| w.corrupt())?;
        self.unlink_exact(w, &k, old);
        Ok(data)
    }

    /// The data of exactly `prefix` in `vrf`.
    pub fn get(&self, w: &Writer, vrf: u32, prefix: &Prefix) -> Option<RouteData> {
        let _ = w;
        let k = self.key(vrf, prefix).ok()?;
        Some(self.find_exact(&k)?.entry.data())
    }

    /// Length of the longest route strictly covering `prefix` in `vrf` (the route that
    /// takes over when `prefix` is deleted; TF's replacement prefix length).
    pub fn parent_len(&self, w: &Writer, vrf: u32, prefix: &Prefix) -> Option<u8> {
        let k = self.key(vrf, prefix).ok()?;
        Some(self.find_parent(w, &k)?.entry.len())
    }

    /// Dump: the first route of (`vrf`, `family`) at storage index `>= cursor`, with the
    /// cursor to continue from. Start with 0; `None` ends the dump. Routes added or deleted
    /// between calls may or may not be seen.
    pub fn next_route(
        &self,
        w: &Writer,
        vrf: u32,
        family: Family,
        cursor: u32,
    ) -> Option<(u32, Match)> {
        let fam = family.index() as u32;
        let mut i = cursor;
        while i < w.routes.fresh {
            let e = self.routes.get(i as usize)?;
            let next = i.checked_add(1)?;
            if e.state.load(Relaxed) == LIVE
                && e.vrf.load(Relaxed) == vrf
                && (e.meta.load(Relaxed) >> 8) & 1 == fam
            {
                return Some((next, self.read_match(next, family)?));
            }
            i = next;
        }
        None
    }

    /// Occupancy counters.
    pub fn usage(&self, w: &Writer) -> Usage {
        Usage {
            routes_v4: w.v4,
            routes_v6: w.v6,
            routes_pending: w.routes.pend_n,
            routes_max: w.routes.max,
            buckets_used: w.buckets.used,
            buckets_pending: w.buckets.pend_n,
            buckets_max: w.buckets.max,
            graces: w.graces,
            corrupt: w.corrupt,
        }
    }

    /// If anything is pending, calls `grace` and makes all pending storage free.
    pub fn reclaim(&self, w: &mut Writer, grace: &mut dyn FnMut()) {
        if w.routes.pend != 0 || w.buckets.pend != 0 {
            self.run_grace(w, grace);
        }
    }

    /// Removes every route of every VRF (the storage goes to the pending lists).
    pub fn clear(&self, w: &mut Writer) {
        for r in self.roots.iter() {
            if let Some(b) = r.load(Relaxed).checked_sub(1) {
                r.store(0, Release);
                self.retire_tree(w, b);
            }
        }
        for h in self.hash.iter() {
            h.store(0, Release);
        }
        for i in 0..w.routes.fresh {
            if let Some(e) = self.routes.get(i as usize) {
                if e.state.load(Relaxed) == LIVE {
                    e.state.store(0, Relaxed);
                    self.retire(w, Kind::Route, i);
                }
            }
        }
        w.count_none();
    }
}
