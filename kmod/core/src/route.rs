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
//! Panics: none. Every storage access is `get`, all arithmetic is checked, wrapping or
//! saturating, and walks are iterative with fixed-size stacks (at most 17 frames).

use core::fmt;
use core::ops::Deref;
use core::sync::atomic::AtomicU32;
use core::sync::atomic::Ordering::{Acquire, Relaxed, Release};

mod prefix;

pub use self::prefix::{Family, Prefix};

#[cfg(test)]
mod tests;

/// Slots per bucket (8-bit stride).
const SLOTS: usize = 256;
/// Slot flag: the rest is a child bucket index.
const BUCKET: u32 = 0x8000_0000;
/// Trie levels of IPv6 (16 bytes); IPv4 uses 4.
const MAX_LEVELS: usize = 16;
/// Largest number of route entries (index + 1 must leave bit 31 clear).
const MAX_ROUTES: usize = 0x7fff_fffe;
/// Largest number of buckets (index must fit in 31 bits).
const MAX_BUCKETS: usize = 0x7fff_ffff;
/// `RouteSlot::state` of a published route.
const LIVE: u32 = 1;

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
    /// Storage handed to [`RouteTable::new`] has an unusable size (or was corrupted).
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
}

/// One route entry of the storage (64 bytes, one cache line). Zero it with
/// [`RouteSlot::new`]; only the table reads or writes the fields.
#[repr(C, align(64))]
#[derive(Debug)]
pub struct RouteSlot {
    /// Bits 0..8 prefix length, bit 8 family (1 = IPv6).
    meta: AtomicU32,
    vrf: AtomicU32,
    /// Prefix as big-endian words (IPv4 uses the first).
    addr: [AtomicU32; 4],
    nh: AtomicU32,
    label: AtomicU32,
    flags: AtomicU32,
    /// MAC bytes 0..4, big-endian.
    mac_hi: AtomicU32,
    /// MAC bytes 4..6 in the high half.
    mac_lo: AtomicU32,
    /// Exact-match hash chain: next entry index + 1 (read by readers, kept while pending).
    next: AtomicU32,
    /// Writer-only: free / pending list link (entry index + 1).
    link: AtomicU32,
    /// Writer-only: `LIVE` while installed.
    state: AtomicU32,
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
    fn data(&self) -> RouteData {
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
    fn len(&self) -> u8 {
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
}

impl Default for RouteSlot {
    fn default() -> Self {
        Self::new()
    }
}

/// Length of the `nodes` storage for `buckets` usable buckets: 256 words per bucket plus
/// the writer's pool links (one word per bucket, in whole buckets at the tail).
pub const fn nodes_len(buckets: usize) -> usize {
    buckets
        .saturating_add(buckets.div_ceil(SLOTS))
        .saturating_mul(SLOTS)
}

/// A route key: a validated prefix in a VRF.
#[derive(Clone, Copy, Debug)]
struct Key {
    vrf: u32,
    family: Family,
    len: u8,
    bytes: [u8; 16],
    words: [u32; 4],
}

impl Key {
    fn new(vrf: u32, family: Family, bytes: &[u8; 16], len: u8) -> Key {
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

    fn with_len(&self, len: u8) -> Key {
        Key::new(self.vrf, self.family, &self.bytes, len)
    }

    fn meta(&self) -> u32 {
        u32::from(self.len) | ((self.family.index() as u32) << 8)
    }

    fn byte(&self, level: usize) -> usize {
        usize::from(self.bytes.get(level).copied().unwrap_or(0))
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

/// The trie level holding a route of length `len` (0..=15).
fn level_of(len: u8) -> usize {
    usize::from(len.saturating_sub(1) / 8)
}

/// The slots `start..end` a route of length `len` covers in its level's bucket.
fn span(len: u8, level: usize, byte: usize) -> (usize, usize) {
    let shift = level
        .saturating_add(1)
        .saturating_mul(8)
        .saturating_sub(usize::from(len))
        .min(8);
    let count = 1usize << shift;
    let start = byte & !(count.saturating_sub(1));
    (start, start.saturating_add(count).min(SLOTS))
}

/// Free and pending lists of one kind of storage.
#[derive(Clone, Copy, Debug, Default)]
struct Pool {
    /// Items in the storage.
    max: u32,
    /// Items below this were handed out at some time; above, never used.
    fresh: u32,
    /// Free list head (index + 1), its length.
    free: u32,
    free_n: u32,
    /// Pending list head and tail (index + 1), its length.
    pend: u32,
    pend_tail: u32,
    pend_n: u32,
    /// Items in use.
    used: u32,
}

impl Pool {
    fn new(max: u32) -> Pool {
        Pool {
            max,
            ..Pool::default()
        }
    }

    fn available(&self) -> u32 {
        self.max
            .saturating_sub(self.fresh)
            .saturating_add(self.free_n)
            .saturating_add(self.pend_n)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Route,
    Bucket,
}

/// Writer-only state: allocation pools and counters. Obtained from [`RouteTable::new`]
/// and passed as `&mut` to every modifying operation of that same table; the owner keeps
/// it behind its writer lock. Not `Clone`: there is exactly one per table.
#[derive(Debug)]
pub struct Writer {
    routes: Pool,
    buckets: Pool,
    v4: u32,
    v6: u32,
    graces: u32,
    /// Installed routes per prefix length (all VRFs), to skip lengths when probing.
    lens4: [u32; 33],
    lens6: [u32; 129],
}

impl Writer {
    fn len_count(&mut self, family: Family, len: u8) -> Option<&mut u32> {
        match family {
            Family::Inet => self.lens4.get_mut(usize::from(len)),
            Family::Inet6 => self.lens6.get_mut(usize::from(len)),
        }
    }

    fn len_used(&self, family: Family, len: u8) -> bool {
        match family {
            Family::Inet => self.lens4.get(usize::from(len)),
            Family::Inet6 => self.lens6.get(usize::from(len)),
        }
        .is_some_and(|n| *n != 0)
    }

    fn pool(&mut self, kind: Kind) -> &mut Pool {
        match kind {
            Kind::Route => &mut self.routes,
            Kind::Bucket => &mut self.buckets,
        }
    }

    fn count(&mut self, family: Family, len: u8, add: bool) {
        let total = match family {
            Family::Inet => &mut self.v4,
            Family::Inet6 => &mut self.v6,
        };
        *total = if add {
            total.saturating_add(1)
        } else {
            total.saturating_sub(1)
        };
        if let Some(n) = self.len_count(family, len) {
            *n = if add {
                n.saturating_add(1)
            } else {
                n.saturating_sub(1)
            };
        }
    }
}

/// Where `add` / `delete` stand in a trie.
enum Walk<'a> {
    /// Buckets exist down to the route's level; `path[l]` is the bucket of level `l`.
    Found([u32; MAX_LEVELS]),
    /// The buckets of levels `level..=depth` are missing: the new chain hangs from
    /// `attach` (a root word when `at_root`, else a slot holding the leaf `fill`).
    Missing {
        attach: &'a AtomicU32,
        at_root: bool,
        fill: u32,
        level: usize,
    },
}

/// Which leaves a rewrite replaces.
#[derive(Clone, Copy)]
enum Pred {
    /// Empty slots and routes of this length or shorter (add).
    AtMost(u8),
    /// Exactly this leaf (delete).
    Is(u32),
}

/// A frame of the iterative walks.
#[derive(Clone, Copy, Default)]
struct Frame {
    bucket: u32,
    pos: u16,
    end: u16,
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
        let w = Writer {
            routes: Pool::new(routes.len() as u32),
            buckets: Pool::new(buckets as u32),
            v4: 0,
            v6: 0,
            graces: 0,
            lens4: [0; 33],
            lens6: [0; 129],
        };
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
            if let Some((i, _)) = self.find_exact(&k.with_len(len)) {
                return self.read_match(i.wrapping_add(1), k.family);
            }
            len = len.checked_sub(1)?;
        }
    }

    #[inline(always)]
    fn root(&self, vrf: u32, family: Family) -> Option<u32> {
        let i = (vrf as usize).checked_mul(2)?.checked_add(family.index())?;
        let r = self.roots.get(i)?.load(Acquire);
        r.checked_sub(1)
    }

    /// The leaf for `addr` below root bucket `root` (0 = none).
    #[inline(always)]
    fn walk<const N: usize>(&self, root: u32, addr: &[u8; N]) -> u32 {
        let mut b = root;
        for byte in addr {
            let i = (b as usize)
                .wrapping_mul(SLOTS)
                .wrapping_add(usize::from(*byte));
            let v = match self.nodes.get(i) {
                Some(s) => s.load(Acquire),
                None => return 0,
            };
            if v & BUCKET == 0 {
                return v;
            }
            b = v & !BUCKET;
        }
        0
    }

    #[inline(always)]
    fn read_match(&self, leaf: u32, family: Family) -> Option<Match> {
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

    /// The exact route of `k` and the link (hash head or previous entry's `next`) that
    /// points to it. Reader-safe.
    fn find_exact(&self, k: &Key) -> Option<(u32, &AtomicU32)> {
        let mut link = self.hash.get((k.hash() & self.hash_mask) as usize)?;
        let mut guard = self.routes.len();
        loop {
            let v = link.load(Acquire);
            let i = v.checked_sub(1)?;
            let e = self.routes.get(i as usize)?;
            if e.matches(k) {
                return Some((i, link));
            }
            link = &e.next;
            guard = guard.checked_sub(1)?;
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
    /// [`RouteError::NoNodeSpace`]; on error nothing changed.
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
        let old_data = match old {
            Some((o, _)) => Some(self.entry(o)?.data()),
            None => None,
        };
        if old_data == Some(data) {
            return Ok(old_data);
        }
        let depth = level_of(k.len);
        let walk = self.walk_path(root_word, &k, depth)?;
        let need = match walk {
            Walk::Found(_) => 0,
            Walk::Missing { level, .. } => depth.saturating_add(1).saturating_sub(level),
        };
        if w.routes.available() < 1 {
            return Err(RouteError::NoRouteSpace);
        }
        if (w.buckets.available() as usize) < need {
            return Err(RouteError::NoNodeSpace);
        }

        // Allocate everything first.
        let n = self
            .alloc(w, Kind::Route, grace)
            .ok_or(RouteError::NoRouteSpace)?;
        let mut chain = [0u32; MAX_LEVELS];
        for j in 0..need {
            match self.alloc(w, Kind::Bucket, grace) {
                Some(b) => {
                    if let Some(c) = chain.get_mut(j) {
                        *c = b;
                    }
                }
                None => {
                    // Cannot happen after the count above; undo anyway.
                    for b in chain.iter().take(j) {
                        self.unalloc(w, Kind::Bucket, *b);
                    }
                    self.unalloc(w, Kind::Route, n);
                    return Err(RouteError::NoNodeSpace);
                }
            }
        }

        // The new entry, complete before anything points to it.
        let e = self.entry(n)?;
        e.meta.store(k.meta(), Relaxed);
        e.vrf.store(vrf, Relaxed);
        for (a, v) in e.addr.iter().zip(k.words) {
            a.store(v, Relaxed);
        }
        e.nh.store(data.nh, Relaxed);
        e.label.store(data.label, Relaxed);
        e.flags.store(data.flags, Relaxed);
        let [m0, m1, m2, m3, m4, m5] = data.mac;
        e.mac_hi
            .store(u32::from_be_bytes([m0, m1, m2, m3]), Relaxed);
        e.mac_lo.store(u32::from_be_bytes([m4, m5, 0, 0]), Relaxed);
        let head = self
            .hash
            .get((k.hash() & self.hash_mask) as usize)
            .ok_or(RouteError::BadStorage)?;
        let next = match old {
            Some((o, _)) => self.entry(o)?.next.load(Relaxed),
            None => head.load(Relaxed),
        };
        e.next.store(next, Relaxed);
        e.state.store(LIVE, Relaxed);
        let leaf = n.wrapping_add(1);
        let (start, end) = span(k.len, depth, k.byte(depth));

        // Into the trie.
        match walk {
            Walk::Found(path) => {
                let b = path.get(depth).copied().unwrap_or(0);
                self.rewrite(b, start, end, Pred::AtMost(k.len), leaf);
            }
            Walk::Missing {
                attach,
                at_root,
                fill,
                level,
            } => {
                // Build the chain of new buckets for levels level..=depth, then publish it
                // with one store.
                for j in 0..need {
                    let b = chain.get(j).copied().unwrap_or(0);
                    if let Some(slots) = self.bucket(b) {
                        for s in slots {
                            s.store(fill, Relaxed);
                        }
                    }
                    if j.saturating_add(1) < need {
                        let child = chain.get(j.saturating_add(1)).copied().unwrap_or(0);
                        if let Some(s) = self.wslot(b, k.byte(level.saturating_add(j))) {
                            s.store(BUCKET | child, Relaxed);
                        }
                    }
                }
                let last = chain.get(need.saturating_sub(1)).copied().unwrap_or(0);
                self.rewrite(last, start, end, Pred::AtMost(k.len), leaf);
                let first = chain.first().copied().unwrap_or(0);
                attach.store(
                    if at_root {
                        first.wrapping_add(1)
                    } else {
                        BUCKET | first
                    },
                    Release,
                );
            }
        }

        // Into the exact-match store.
        match old {
            Some((o, link)) => {
                link.store(leaf, Release);
                if let Some(oe) = self.routes.get(o as usize) {
                    oe.state.store(0, Relaxed);
                }
                self.retire(w, Kind::Route, o);
            }
            None => {
                head.store(leaf, Release);
                w.count(k.family, k.len, true);
            }
        }
        Ok(old_data)
    }

    /// Deletes the route `prefix` of `vrf` and returns its data. Its slots fall back to the
    /// longest route strictly covering it; buckets left uniform are collapsed and retired.
    /// Never allocates, so `grace` is not called (it is taken for symmetry with `add`).
    ///
    /// Errors: [`RouteError::VrfOutOfRange`], prefix errors, [`RouteError::NotFound`].
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
        let (o, link) = self.find_exact(&k).ok_or(RouteError::NotFound)?;
        let e = self.entry(o)?;
        let data = e.data();
        let parent = self.find_parent(w, &k);
        let fallback = parent.map_or(0, |p| p.wrapping_add(1));
        let depth = level_of(k.len);
        if let Ok(Walk::Found(path)) = self.walk_path(root_word, &k, depth) {
            let (start, end) = span(k.len, depth, k.byte(depth));
            let b = path.get(depth).copied().unwrap_or(0);
            self.rewrite(b, start, end, Pred::Is(o.wrapping_add(1)), fallback);
            self.collapse(w, root_word, &k, &path, depth);
        }
        link.store(e.next.load(Relaxed), Release);
        e.state.store(0, Relaxed);
        self.retire(w, Kind::Route, o);
        w.count(k.family, k.len, false);
        Ok(data)
    }

    /// The data of exactly `prefix` in `vrf`.
    pub fn get(&self, w: &Writer, vrf: u32, prefix: &Prefix) -> Option<RouteData> {
        let _ = w;
        let k = self.key(vrf, prefix).ok()?;
        let (i, _) = self.find_exact(&k)?;
        Some(self.entry(i).ok()?.data())
    }

    /// Length of the longest route strictly covering `prefix` in `vrf` (the route that
    /// takes over when `prefix` is deleted; TF's replacement prefix length).
    pub fn parent_len(&self, w: &Writer, vrf: u32, prefix: &Prefix) -> Option<u8> {
        let k = self.key(vrf, prefix).ok()?;
        let p = self.find_parent(w, &k)?;
        Some(self.entry(p).ok()?.len())
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
        w.v4 = 0;
        w.v6 = 0;
        w.lens4 = [0; 33];
        w.lens6 = [0; 129];
    }

    // ---------------------------------------------------------------- internals

    fn root_word(&self, vrf: u32, family: Family) -> Result<&AtomicU32, RouteError> {
        (vrf as usize)
            .checked_mul(2)
            .and_then(|i| i.checked_add(family.index()))
            .and_then(|i| self.roots.get(i))
            .ok_or(RouteError::VrfOutOfRange)
    }

    fn entry(&self, i: u32) -> Result<&RouteSlot, RouteError> {
        self.routes.get(i as usize).ok_or(RouteError::BadStorage)
    }

    /// Slot `i` of bucket `b` (writer side: `b` is checked against the bucket count).
    fn wslot(&self, b: u32, i: usize) -> Option<&AtomicU32> {
        if b >= self.buckets || i >= SLOTS {
            return None;
        }
        self.nodes
            .get((b as usize).checked_mul(SLOTS)?.checked_add(i)?)
    }

    fn bucket(&self, b: u32) -> Option<&[AtomicU32]> {
        if b >= self.buckets {
            return None;
        }
        let start = (b as usize).checked_mul(SLOTS)?;
        self.nodes.get(start..start.checked_add(SLOTS)?)
    }

    /// The leaf all slots of bucket `b` hold, if they are all the same leaf.
    fn uniform_leaf(&self, b: u32) -> Option<u32> {
        let slots = self.bucket(b)?;
        let first = slots.first()?.load(Relaxed);
        if first & BUCKET != 0 {
            return None;
        }
        slots
            .iter()
            .all(|s| s.load(Relaxed) == first)
            .then_some(first)
    }

    fn link(&self, kind: Kind, i: u32) -> Option<&AtomicU32> {
        match kind {
            Kind::Route => self.routes.get(i as usize).map(|e| &e.link),
            Kind::Bucket => {
                if i >= self.buckets {
                    return None;
                }
                self.nodes.get(self.link_base.checked_add(i as usize)?)
            }
        }
    }

    fn alloc(&self, w: &mut Writer, kind: Kind, grace: &mut dyn FnMut()) -> Option<u32> {
        for _ in 0..2 {
            let p = w.pool(kind);
            if let Some(i) = p.free.checked_sub(1) {
                let next = self.link(kind, i)?.load(Relaxed);
                p.free = next;
                p.free_n = p.free_n.saturating_sub(1);
                p.used = p.used.saturating_add(1);
                return Some(i);
            }
            if p.fresh < p.max {
                let i = p.fresh;
                p.fresh = i.saturating_add(1);
                p.used = p.used.saturating_add(1);
                return Some(i);
            }
            if p.pend == 0 {
                return None;
            }
            self.run_grace(w, grace);
        }
        None
    }

    /// Gives back an item that was allocated but never published.
    fn unalloc(&self, w: &mut Writer, kind: Kind, i: u32) {
        let p = w.pool(kind);
        if let Some(l) = self.link(kind, i) {
            l.store(p.free, Relaxed);
            p.free = i.wrapping_add(1);
            p.free_n = p.free_n.saturating_add(1);
            p.used = p.used.saturating_sub(1);
        }
    }

    /// Puts an unlinked item on the pending list (contents untouched: readers may be
    /// inside it until the next grace period).
    fn retire(&self, w: &mut Writer, kind: Kind, i: u32) {
        let p = w.pool(kind);
        if let Some(l) = self.link(kind, i) {
            l.store(p.pend, Relaxed);
            if p.pend == 0 {
                p.pend_tail = i.wrapping_add(1);
            }
            p.pend = i.wrapping_add(1);
            p.pend_n = p.pend_n.saturating_add(1);
            p.used = p.used.saturating_sub(1);
        }
    }

    /// Waits for readers (`grace`), then moves everything pending to the free lists.
    fn run_grace(&self, w: &mut Writer, grace: &mut dyn FnMut()) {
        grace();
        w.graces = w.graces.wrapping_add(1);
        for kind in [Kind::Route, Kind::Bucket] {
            let p = w.pool(kind);
            if let Some(tail) = p.pend_tail.checked_sub(1) {
                if let Some(l) = self.link(kind, tail) {
                    l.store(p.free, Relaxed);
                    p.free = p.pend;
                    p.free_n = p.free_n.saturating_add(p.pend_n);
                }
                p.pend = 0;
                p.pend_tail = 0;
                p.pend_n = 0;
            }
        }
    }

    /// The longest route strictly covering `k`, by probing the used lengths.
    fn find_parent(&self, w: &Writer, k: &Key) -> Option<u32> {
        let mut len = k.len;
        loop {
            len = len.checked_sub(1)?;
            if w.len_used(k.family, len) {
                if let Some((i, _)) = self.find_exact(&k.with_len(len)) {
                    return Some(i);
                }
            }
        }
    }

    /// Walks from the root word towards the bucket of level `depth` on `k`'s path.
    fn walk_path<'a>(
        &'a self,
        root_word: &'a AtomicU32,
        k: &Key,
        depth: usize,
    ) -> Result<Walk<'a>, RouteError> {
        let mut path = [0u32; MAX_LEVELS];
        let Some(mut b) = root_word.load(Relaxed).checked_sub(1) else {
            return Ok(Walk::Missing {
                attach: root_word,
                at_root: true,
                fill: 0,
                level: 0,
            });
        };
        let mut level = 0usize;
        loop {
            *path.get_mut(level).ok_or(RouteError::BadStorage)? = b;
            if level >= depth {
                return Ok(Walk::Found(path));
            }
            let s = self.wslot(b, k.byte(level)).ok_or(RouteError::BadStorage)?;
            let v = s.load(Relaxed);
            level = level.saturating_add(1);
            if v & BUCKET == 0 {
                return Ok(Walk::Missing {
                    attach: s,
                    at_root: false,
                    fill: v,
                    level,
                });
            }
            b = v & !BUCKET;
        }
    }

    /// Replaces the leaves matching `pred` with `new` in slots `start..end` of bucket `b`
    /// and everywhere below them (leaf pushing). Iterative, at most 17 frames.
    fn rewrite(&self, b: u32, start: usize, end: usize, pred: Pred, new: u32) {
        let mut stack = [Frame::default(); MAX_LEVELS + 1];
        if let Some(f) = stack.first_mut() {
            *f = Frame {
                bucket: b,
                pos: start.min(SLOTS) as u16,
                end: end.min(SLOTS) as u16,
            };
        }
        let mut sp = 1usize;
        let mut cache = (0u32, 0u8);
        while let Some(top) = sp.checked_sub(1).and_then(|t| stack.get_mut(t)) {
            if top.pos >= top.end {
                sp -= 1;
                continue;
            }
            let (bk, pos) = (top.bucket, usize::from(top.pos));
            top.pos = top.pos.saturating_add(1);
            let Some(s) = self.wslot(bk, pos) else {
                continue;
            };
            let v = s.load(Relaxed);
            if v & BUCKET != 0 {
                if let Some(f) = stack.get_mut(sp) {
                    *f = Frame {
                        bucket: v & !BUCKET,
                        pos: 0,
                        end: SLOTS as u16,
                    };
                    sp += 1;
                }
                continue;
            }
            let hit = match pred {
                Pred::Is(x) => v == x,
                Pred::AtMost(len) => {
                    v == 0 || {
                        if cache.0 != v {
                            let l = self
                                .routes
                                .get(v.wrapping_sub(1) as usize)
                                .map_or(u8::MAX, |e| e.len());
                            cache = (v, l);
                        }
                        cache.1 <= len
                    }
                }
            };
            if hit {
                s.store(new, Release);
            }
        }
    }

    /// After a delete: folds the buckets on `k`'s path that became uniform into their
    /// parent slots, deepest first, and retires them; an empty root goes too.
    fn collapse(
        &self,
        w: &mut Writer,
        root_word: &AtomicU32,
        k: &Key,
        path: &[u32; MAX_LEVELS],
        depth: usize,
    ) {
        let mut level = depth;
        while let Some(up) = level.checked_sub(1) {
            let b = path.get(level).copied().unwrap_or(0);
            let Some(v) = self.uniform_leaf(b) else {
                return;
            };
            let parent = path.get(up).copied().unwrap_or(0);
            let Some(s) = self.wslot(parent, k.byte(up)) else {
                return;
            };
            s.store(v, Release);
            self.retire(w, Kind::Bucket, b);
            level = up;
        }
        let root = path.first().copied().unwrap_or(0);
        if self.uniform_leaf(root) == Some(0) {
            root_word.store(0, Release);
            self.retire(w, Kind::Bucket, root);
        }
    }

    /// Retires every bucket of an unlinked trie.
    fn retire_tree(&self, w: &mut Writer, root: u32) {
        let mut stack = [Frame::default(); MAX_LEVELS + 1];
        if let Some(f) = stack.first_mut() {
            *f = Frame {
                bucket: root,
                pos: 0,
                end: SLOTS as u16,
            };
        }
        let mut sp = 1usize;
        while let Some(top) = sp.checked_sub(1).and_then(|t| stack.get_mut(t)) {
            if top.pos >= top.end {
                let b = top.bucket;
                sp -= 1;
                self.retire(w, Kind::Bucket, b);
                continue;
            }
            let (bk, pos) = (top.bucket, usize::from(top.pos));
            top.pos = top.pos.saturating_add(1);
            let v = self.wslot(bk, pos).map_or(0, |s| s.load(Relaxed));
            if v & BUCKET != 0 {
                if let Some(f) = stack.get_mut(sp) {
                    *f = Frame {
                        bucket: v & !BUCKET,
                        pos: 0,
                        end: SLOTS as u16,
                    };
                    sp += 1;
                }
            }
        }
    }
}
